//! Redemption codes: made by operators, redeemed once per use over the console and the
//! API, stored hashed, guessing throttled.

use crate::common::*;
use crate::console::Console;
use serde_json::{Value, json};
use std::sync::Arc;
use videoapi::clock::{ManualClock, SharedClock};

async fn make_codes(admin: &mut Console<'_>, body: Value) -> Value {
    let (s, v) = admin
        .post("/console/api/admin/redemption-codes", body)
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

fn code_of(batch: &Value, i: usize) -> String {
    batch["codes"][i]["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn operators_make_codes_shown_once_and_stored_only_as_hashes() {
    let app = TestApp::new().await;
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let v = make_codes(
        &mut admin,
        json!({"count": 3, "credits": 500, "prefix": "shop1", "note": "Taobao March"}),
    )
    .await;
    let codes: Vec<String> = (0..3).map(|i| code_of(&v, i)).collect();
    assert!(
        codes
            .iter()
            .all(|c| c.starts_with("SHOP1-") && c.len() >= 29),
        "{codes:?}"
    );
    let csv = v["csv"].as_str().unwrap();
    assert!(csv.starts_with("code,credits,max_uses,expires_at,batch\n"));
    assert_eq!(csv.lines().count(), 4);
    assert!(codes.iter().all(|c| csv.contains(c.as_str())));
    // The database holds hashes and hints only.
    let db = std::fs::read(app.data_dir().join("videoapi.redb")).unwrap();
    for c in &codes {
        assert!(
            !db.windows(c.len()).any(|w| w == c.as_bytes()),
            "{c} stored in clear"
        );
    }
    let (s, list) = admin
        .get("/console/api/admin/redemption-codes?note=taobao")
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(
        list.to_string().find(&codes[0]).is_none(),
        "lists never show the code"
    );
    assert_eq!(list[0]["status"], "unused");
    assert_eq!(list[0]["max_uses"], 1);
    for bad in [
        json!({"count": 0, "credits": 5}),
        json!({"count": 1001, "credits": 5}),
        json!({"count": 1, "credits": 0}),
        json!({"count": 1, "credits": 5, "prefix": "has space"}),
        json!({"count": 1, "credits": 5, "expires_at": 1000}),
        json!({"count": 1, "credits": 5, "max_uses": 0}),
    ] {
        let (s, e) = admin
            .post("/console/api/admin/redemption-codes", bad.clone())
            .await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (422, "invalid_field"),
            "{bad}"
        );
    }
    // Customers cannot make codes.
    let _ = app.user_with_key("cust", 0).await;
    let mut cust = Console::login(&app, "cust", "password-123").await;
    let (s, _) = cust
        .post(
            "/console/api/admin/redemption-codes",
            json!({"count": 1, "credits": 5}),
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn redeeming_adds_one_ledger_entry_naming_the_code_over_console_and_api() {
    let app = TestApp::new().await;
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let v = make_codes(
        &mut admin,
        json!({"count": 2, "credits": 250, "max_uses": 2}),
    )
    .await;
    let (a, b) = (code_of(&v, 0), code_of(&v, 1));
    let key = app.user_with_key("bob", 10).await;
    // API key, typed loosely: lower case, spaces instead of dashes.
    let loose = a.to_lowercase().replace('-', " ");
    let (s, r) = app
        .post(&key, "/v1/account/redeem", json!({"code": loose}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["credits_added"].as_i64(), r["credits"].as_i64()),
        (Some(250), Some(260))
    );
    assert_eq!(r["object"], "redemption");
    // Console session, same code's second use.
    let mut bob = Console::login(&app, "bob", "password-123").await;
    let (s, r) = bob.post("/console/api/redeem", json!({"code": a})).await;
    assert_eq!((s, r["credits"].as_i64()), (200, Some(510)), "{r}");
    let (s, r) = bob.post("/console/api/redeem", json!({"code": a})).await;
    assert_eq!((s, error_code(&r).as_str()), (409, "code_used_up"));
    assert_eq!(r["error"]["param"], "code");
    assert_eq!(app.balance(&key).await, 510);
    // Who redeemed it and when; the ledger names the code and filters by source.
    let (_, list) = admin
        .get("/console/api/admin/redemption-codes?status=used")
        .await;
    let id = list[0]["id"].as_u64().unwrap();
    let (s, uses) = admin
        .get(&format!("/console/api/admin/redemption-codes/{id}/uses"))
        .await;
    assert_eq!(s, 200, "{uses}");
    assert_eq!(uses.as_array().unwrap().len(), 2);
    assert_eq!(uses[0]["username"], "bob");
    let (_, led) = admin.get("/console/api/admin/ledger?kind=redeem").await;
    let rows = led["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|e| e["source"] == format!("code:{id}")));
    assert!(rows.iter().all(|e| e["reason"] == "code_redeemed"));
    assert_eq!(rows[0]["actor"], "user:bob");
    // Disable the rest of the batch: the unused code is refused with its own code.
    let batch = v["batch"].as_str().unwrap();
    let (s, d) = admin
        .post(
            &format!("/console/api/admin/redemption-batches/{batch}/disable"),
            json!({}),
        )
        .await;
    assert_eq!((s, d["disabled"].as_u64()), (200, Some(2)), "{d}");
    let (s, r) = app
        .post(&key, "/v1/account/redeem", json!({"code": b}))
        .await;
    assert_eq!((s, error_code(&r).as_str()), (403, "code_disabled"));
    assert!(app.audit().is_empty(), "{:?}", app.audit());
}

#[tokio::test]
async fn one_single_use_code_redeemed_by_fifty_parallel_requests_credits_once() {
    let app = TestApp::new().await;
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let v = make_codes(&mut admin, json!({"count": 1, "credits": 1000})).await;
    let code = code_of(&v, 0);
    // Five accounts, ten requests each, all at once.
    let mut keys = Vec::new();
    for i in 0..5 {
        keys.push(app.user_with_key(&format!("racer{i}"), 0).await);
    }
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (app, key, code) = (app.clone(), keys[i % 5].clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            app.post(&key, "/v1/account/redeem", json!({"code": code}))
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            200 => ok += 1,
            409 => assert_eq!(error_code(&v), "code_used_up"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(ok, 1, "credited exactly once");
    let mut total = 0;
    for k in &keys {
        total += app.balance(k).await;
    }
    assert_eq!(total, 1000);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
}

#[tokio::test]
async fn expired_and_unknown_codes_are_refused_and_guessing_is_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let mut config = test_config(dir.path());
    config.clock = SharedClock::new(clock.clone());
    let app = TestApp::with_config(dir, config).await;
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let expires = clock_now(&clock) + 60_000;
    let v = make_codes(
        &mut admin,
        json!({"count": 1, "credits": 5, "expires_at": expires}),
    )
    .await;
    let code = code_of(&v, 0);
    clock.advance_ms(61_000);
    let key = app.user_with_key("guesser", 0).await;
    let (s, r) = app
        .post(&key, "/v1/account/redeem", json!({"code": code}))
        .await;
    assert_eq!((s, error_code(&r).as_str()), (410, "code_expired"));
    let (_, list) = admin
        .get("/console/api/admin/redemption-codes?status=expired")
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Wrong codes: three free, then a growing wait with Retry-After.
    let guess = json!({"code": "AAAAA-BBBBB-CCCCC-DDDDD"});
    for _ in 0..3 {
        let (s, r) = app.post(&key, "/v1/account/redeem", guess.clone()).await;
        assert_eq!((s, error_code(&r).as_str()), (404, "code_not_found"));
    }
    let (s, _) = app.post(&key, "/v1/account/redeem", guess.clone()).await;
    assert_eq!(s, 404, "the fourth is still checked, then the wait starts");
    let resp = app
        .http
        .post(app.path("/v1/account/redeem"))
        .bearer_auth(&key)
        .json(&guess)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let (_, r) = status_json(resp).await;
    assert_eq!(error_code(&r), "too_many_attempts");
    // The same address is throttled for another account too (per address).
    let other = app.user_with_key("other", 0).await;
    let (s, _) = app.post(&other, "/v1/account/redeem", guess.clone()).await;
    assert_eq!(s, 429);
    // Time passes (the test clock): allowed again.
    clock.advance_ms(2_000);
    let (s, _) = app.post(&key, "/v1/account/redeem", guess).await;
    assert_eq!(s, 404);
    let (s, r) = app
        .post(&key, "/v1/account/redeem", json!({"code": ""}))
        .await;
    assert_eq!(s, 429, "{r}");
}

fn clock_now(c: &ManualClock) -> i64 {
    use videoapi::clock::Clock;
    c.now_ms()
}

#[tokio::test]
async fn the_audit_flags_credits_whose_source_does_not_match() {
    use videoapi::domain::ledger::EntryKind;
    use videoapi::store::ledger::{Reason, apply_from};
    let app = TestApp::new().await;
    app.user_with_key("mallory", 0).await;
    assert!(app.audit().is_empty());
    // Entries written around the use cases: a redeem naming no code, a payment naming no
    // checkout, a second sign-up bonus.
    app.state()
        .store
        .write(|txn| {
            let uid = videoapi::store::users::get_by_name(txn, "mallory")?.id;
            let why = |kind| Reason {
                kind,
                task_id: None,
                actor: "user:mallory",
                note: None,
            };
            apply_from(
                txn,
                uid,
                100.into(),
                why(EntryKind::Redeem),
                Some("code:999"),
            )?;
            apply_from(
                txn,
                uid,
                100.into(),
                why(EntryKind::Payment),
                Some("stripe:cs_nope"),
            )?;
            apply_from(
                txn,
                uid,
                5.into(),
                why(EntryKind::SignupBonus),
                Some("signup"),
            )?;
            apply_from(
                txn,
                uid,
                5.into(),
                why(EntryKind::SignupBonus),
                Some("signup"),
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let v = app.audit();
    assert!(
        v.iter()
            .any(|m| m.contains("redeem from unknown source `code:999`")),
        "{v:?}"
    );
    assert!(
        v.iter().any(|m| m.contains("payment from unknown source")),
        "{v:?}"
    );
    assert!(v.iter().any(|m| m.contains("sign-up bonus")), "{v:?}");
}
