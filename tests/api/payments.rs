//! Online top-up through Stripe Checkout, against the loopback Stripe simulator: one
//! credit per paid session whatever the webhooks do (duplicates, retries, out of order).

use crate::common::*;
use crate::console::Console;
use crate::simulators::stripe::{self, StripeSim};
use serde_json::{Value, json};
use videoapi::config::StripeConfig;
use videoapi::domain::payments::Package;

pub fn stripe_config(sim: &StripeSim) -> StripeConfig {
    StripeConfig {
        secret_key: Some(stripe::SECRET_KEY.into()),
        secret_key_file: None,
        webhook_secret: Some(stripe::WEBHOOK_SECRET.into()),
        webhook_secret_file: None,
        api_base: sim.url.clone(),
        currency: "usd".into(),
        packages: vec![
            Package {
                credits: 1000,
                amount: 500,
            },
            Package {
                credits: 2500,
                amount: 1000,
            },
        ],
        credits_per_unit: Some(2),
        min_amount: Some(100),
        max_amount: Some(50_000),
        // The simulator is on loopback: the outbound guard admits exactly that.
        allow_private_cidrs: vec!["127.0.0.1/32".into()],
    }
}

/// A server with Stripe pointed at a fresh simulator, and a customer "payer".
pub async fn app_with_stripe() -> (TestApp, StripeSim) {
    let sim = StripeSim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.stripe = Some(stripe_config(&sim));
    let app = TestApp::with_config(dir, config).await;
    sim.set_webhook_url(&app.path("/payments/stripe/webhook"));
    app.user_with_key("payer", 0).await;
    (app, sim)
}

async fn checkout(c: &mut Console<'_>, body: Value) -> Value {
    let (s, v) = c.post("/console/api/topup/checkout", body).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn balance(c: &mut Console<'_>) -> i64 {
    let (s, v) = c.get("/console/api/me").await;
    assert_eq!(s, 200, "{v}");
    v["credits"].as_i64().unwrap()
}

fn payment_entries(app: &TestApp) -> Vec<videoapi::domain::ledger::LedgerEntry> {
    app.state()
        .store
        .read_now(|txn| videoapi::store::ledger::list(txn, None, None, 1000))
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == videoapi::domain::ledger::EntryKind::Payment)
        .collect()
}

#[tokio::test]
async fn a_paid_checkout_is_credited_once_whatever_the_webhooks_do() {
    let (app, sim) = app_with_stripe().await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let v = checkout(&mut c, json!({"package": 0})).await;
    let id = v["payment"]["id"].as_str().unwrap().to_string();
    assert!(v["url"].as_str().unwrap().starts_with(&sim.url), "{v}");
    assert_eq!(v["payment"]["status"], "pending");
    // What Stripe was asked for: the account, the price, an idempotency key.
    let create = sim.state.creates.lock().unwrap()[0].clone();
    assert_eq!(
        create["client_reference_id"],
        v["payment"]["user_id"].to_string()
    );
    assert_eq!(create["line_items[0][price_data][unit_amount]"], "500");
    assert_eq!(create["metadata[credits]"], "1000");
    assert_eq!(create["mode"], "payment");

    // A "completed" event before the money is there: the server asks Stripe and waits.
    let early = sim.event("checkout.session.completed", sim.session(&id));
    let (s, _) = sim.deliver(&early, None).await;
    assert_eq!(s, 200);
    assert_eq!(balance(&mut c).await, 0);

    let paid = sim.pay(&id);
    let ev = sim.event("checkout.session.completed", paid.clone());
    assert_eq!(sim.deliver(&ev, None).await.0, 200);
    assert_eq!(balance(&mut c).await, 1000);
    // The same event again (Stripe retries), a new event for the same session, an
    // async-success event and a late "expired": nothing more.
    assert_eq!(sim.deliver(&ev, None).await.0, 200);
    let again = sim.event("checkout.session.completed", paid.clone());
    assert_eq!(sim.deliver(&again, None).await.0, 200);
    let late = sim.event("checkout.session.async_payment_succeeded", paid.clone());
    assert_eq!(sim.deliver(&late, None).await.0, 200);
    let expired = sim.event("checkout.session.expired", paid);
    assert_eq!(sim.deliver(&expired, None).await.0, 200);
    assert_eq!(balance(&mut c).await, 1000);

    let entries = payment_entries(&app);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].source.as_deref(),
        Some(format!("stripe:{id}").as_str())
    );
    assert_eq!(entries[0].amount, 1000);
    let (s, page) = c.get("/console/api/topup").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["enabled"], true);
    assert_eq!(page["packages"].as_array().unwrap().len(), 2);
    assert_eq!(page["payments"][0]["status"], "paid");
    assert_eq!(page["payments"][0]["ledger_entry_id"], json!(entries[0].id));
    assert!(app.audit().is_empty(), "{:?}", app.audit());
}

#[tokio::test]
async fn parallel_deliveries_for_one_session_credit_it_once() {
    let (app, sim) = app_with_stripe().await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let v = checkout(&mut c, json!({"amount": 700})).await;
    assert_eq!(v["payment"]["credits"], 1400);
    let id = v["payment"]["id"].as_str().unwrap().to_string();
    let paid = sim.pay(&id);
    let events: Vec<Value> = (0..20)
        .map(|_| sim.event("checkout.session.completed", paid.clone()))
        .collect();
    let results = futures_util::future::join_all(events.iter().map(|e| sim.deliver(e, None))).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    assert_eq!(balance(&mut c).await, 1400);
    assert_eq!(payment_entries(&app).len(), 1);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
}

#[tokio::test]
async fn webhooks_with_a_bad_or_stale_signature_are_refused() {
    let (app, sim) = app_with_stripe().await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let v = checkout(&mut c, json!({"package": 1})).await;
    let id = v["payment"]["id"].as_str().unwrap().to_string();
    let ev = sim.event("checkout.session.completed", sim.pay(&id));
    let payload = ev.to_string();
    let now = videoapi::domain::now_ms() / 1000;
    for sig in [
        stripe::sign("whsec_wrong", now, payload.as_bytes()),
        stripe::sign(stripe::WEBHOOK_SECRET, now - 301, payload.as_bytes()),
        stripe::sign(stripe::WEBHOOK_SECRET, now, b"{\"id\":\"evt_other\"}"),
        format!("t={now}"),
        String::new(),
    ] {
        let (s, body) = sim.deliver(&ev, Some(sig.clone())).await;
        assert_eq!(
            (s, error_code(&body).as_str()),
            (400, "invalid_signature"),
            "{sig}"
        );
    }
    assert_eq!(balance(&mut c).await, 0);
    // Within the 5-minute tolerance it works.
    let sig = stripe::sign(stripe::WEBHOOK_SECRET, now - 240, payload.as_bytes());
    assert_eq!(sim.deliver(&ev, Some(sig)).await.0, 200);
    assert_eq!(balance(&mut c).await, 2500);
    // Unknown processors are 404, not a crash.
    let r = app
        .http
        .post(app.path("/payments/paypal/webhook"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn refunds_are_recorded_for_the_operator_even_when_they_arrive_first() {
    let (app, sim) = app_with_stripe().await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let v = checkout(&mut c, json!({"package": 0})).await;
    let id = v["payment"]["id"].as_str().unwrap().to_string();
    let paid = sim.pay(&id);
    let pi = paid["payment_intent"].as_str().unwrap().to_string();
    let refund = sim.event(
        "charge.refunded",
        json!({"id": "ch_1", "object": "charge", "payment_intent": pi, "amount_refunded": 500}),
    );
    // Out of order: the refund comes before the payment is known as paid. Refused with
    // a retryable status, so Stripe delivers it again later.
    let (s, body) = sim.deliver(&refund, None).await;
    assert_eq!(s, 409, "{body}");
    let ev = sim.event("checkout.session.completed", paid);
    assert_eq!(sim.deliver(&ev, None).await.0, 200);
    assert_eq!(sim.deliver(&refund, None).await.0, 200);
    assert_eq!(sim.deliver(&refund, None).await.0, 200, "redelivery");
    // Recorded, not debited.
    assert_eq!(balance(&mut c).await, 1000);
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let (s, list) = admin.get("/console/api/admin/payments").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["notices"], json!(["charge.refunded (500)"]));
    let (s, led) = admin.get("/console/api/admin/ledger?kind=payment").await;
    assert_eq!(s, 200, "{led}");
    assert_eq!(led["data"].as_array().unwrap().len(), 1);
    assert_eq!(led["data"][0]["source"], format!("stripe:{id}"));
    assert_eq!(led["data"][0]["reason"], "payment_received");
    let (s, bad) = admin.get("/console/api/admin/ledger?kind=gift").await;
    assert_eq!((s, error_code(&bad).as_str()), (422, "invalid_field"));
}

#[tokio::test]
async fn an_expired_checkout_then_a_late_payment_still_credits_once() {
    let (app, sim) = app_with_stripe().await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let v = checkout(&mut c, json!({"package": 0})).await;
    let id = v["payment"]["id"].as_str().unwrap().to_string();
    let ev = sim.event("checkout.session.expired", sim.expire(&id));
    assert_eq!(sim.deliver(&ev, None).await.0, 200);
    let (_, page) = c.get("/console/api/topup").await;
    assert_eq!(page["payments"][0]["status"], "expired");
    let ev = sim.event("checkout.session.async_payment_succeeded", sim.pay(&id));
    assert_eq!(sim.deliver(&ev, None).await.0, 200);
    assert_eq!(balance(&mut c).await, 1000);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
}

#[tokio::test]
async fn the_return_from_checkout_credits_even_when_the_webhook_is_lost() {
    let (app, sim) = app_with_stripe().await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let v = checkout(&mut c, json!({"package": 0})).await;
    let id = v["payment"]["id"].as_str().unwrap().to_string();
    sim.pay(&id);
    let (s, p) = c.get(&format!("/console/api/topup/payments/{id}")).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["status"], "paid");
    let (s, p) = c.get(&format!("/console/api/topup/payments/{id}")).await;
    assert_eq!((s, p["status"].as_str()), (200, Some("paid")));
    assert_eq!(balance(&mut c).await, 1000);
    // Another customer cannot look at it.
    app.user_with_key("other", 0).await;
    let mut o = Console::login(&app, "other", "password-123").await;
    let (s, _) = o.get(&format!("/console/api/topup/payments/{id}")).await;
    assert_eq!(s, 404);
    // The hosted page (test redirect) pays, delivers the webhook and sends the customer
    // back to the console with the session id.
    let v = checkout(&mut c, json!({"package": 1})).await;
    let (s, location) = sim.hosted_page(v["url"].as_str().unwrap()).await;
    assert_eq!(s, 303);
    let id2 = v["payment"]["id"].as_str().unwrap();
    assert_eq!(location, format!("{}/#/topup?session_id={id2}", app.url));
    assert_eq!(balance(&mut c).await, 3500);
}

#[tokio::test]
async fn a_lost_create_answer_is_retried_with_the_same_idempotency_key() {
    let (app, sim) = app_with_stripe().await;
    *sim.state.fail_creates_after.lock().unwrap() = 1;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let v = checkout(&mut c, json!({"package": 0})).await;
    let creates = sim.state.creates.lock().unwrap().len();
    assert_eq!(creates, 2, "one retry");
    assert_eq!(sim.state.sessions.lock().unwrap().len(), 1, "one session");
    assert!(v["payment"]["id"].as_str().unwrap().starts_with("cs_test_"));
    let _ = app;
}

#[tokio::test]
async fn checkout_choices_are_validated_and_unconfigured_servers_say_so() {
    let (app, _sim) = app_with_stripe().await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    for body in [
        json!({"package": 9}),
        json!({"amount": 50}),
        json!({"amount": 60_000}),
        json!({"package": 0, "amount": 500}),
        json!({}),
    ] {
        let (s, v) = c.post("/console/api/topup/checkout", body.clone()).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "invalid_field"),
            "{body}: {v}"
        );
    }
    let plain = TestApp::new().await;
    plain.user_with_key("payer", 0).await;
    let mut c = Console::login(&plain, "payer", "password-123").await;
    let (s, v) = c
        .post("/console/api/topup/checkout", json!({"package": 0}))
        .await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (409, "payments_not_configured")
    );
    let (s, v) = c.get("/console/api/topup").await;
    assert_eq!((s, v["enabled"].as_bool()), (200, Some(false)));
    let r = plain
        .http
        .post(plain.path("/payments/stripe/webhook"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
}

#[tokio::test]
async fn the_outbound_guard_keeps_stripe_off_private_addresses_unless_allowed() {
    let sim = StripeSim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    let mut st = stripe_config(&sim);
    st.allow_private_cidrs.clear();
    config.stripe = Some(st);
    let app = TestApp::with_config(dir, config).await;
    app.user_with_key("payer", 0).await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let (s, v) = c
        .post("/console/api/topup/checkout", json!({"package": 0}))
        .await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (502, "payment_provider_error"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outbound guard"),
        "{v}"
    );
    assert!(sim.state.creates.lock().unwrap().is_empty());
}

/// Open a checkout at the simulator directly, as this server would have, but without the
/// server's local record (as if its write had failed after Stripe made the session).
async fn orphan_session(sim: &StripeSim, user_id: &str, credits: Option<&str>) -> String {
    let mut form = vec![
        ("mode", "payment".to_string()),
        ("success_url", "http://127.0.0.1/x".to_string()),
        ("client_reference_id", user_id.to_string()),
        ("line_items[0][quantity]", "1".to_string()),
        ("line_items[0][price_data][currency]", "usd".to_string()),
        ("line_items[0][price_data][unit_amount]", "500".to_string()),
    ];
    if let Some(c) = credits {
        form.push(("metadata[credits]", c.to_string()));
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let v: Value = reqwest::Client::new()
        .post(format!("{}/v1/checkout/sessions", sim.url))
        .bearer_auth(stripe::SECRET_KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_paid_checkout_whose_record_was_lost_is_still_credited_once() {
    let (app, sim) = app_with_stripe().await;
    let mut c = Console::login(&app, "payer", "password-123").await;
    let (_, me) = c.get("/console/api/me").await;
    let uid = me["id"].to_string();
    let id = orphan_session(&sim, &uid, Some("1000")).await;
    let ev = sim.event("checkout.session.completed", sim.pay(&id));
    assert_eq!(sim.deliver(&ev, None).await.0, 200);
    let again = sim.event("checkout.session.completed", sim.session(&id));
    assert_eq!(sim.deliver(&again, None).await.0, 200);
    assert_eq!(balance(&mut c).await, 1000);
    // Another application's checkout on the same Stripe account (no credits of ours in
    // its metadata) is acknowledged and ignored.
    let foreign = orphan_session(&sim, &uid, None).await;
    let ev = sim.event("checkout.session.completed", sim.pay(&foreign));
    assert_eq!(sim.deliver(&ev, None).await.0, 200);
    assert_eq!(balance(&mut c).await, 1000);
    assert_eq!(payment_entries(&app).len(), 1);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
}
