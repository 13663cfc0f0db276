//! A loopback Stripe for the top-up tests, written from Stripe's public API reference:
//! `POST /v1/checkout/sessions` (form-encoded, `Authorization: Bearer sk_...`,
//! `Idempotency-Key`), `GET /v1/checkout/sessions/{id}`, and signed webhook delivery
//! (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`). The hosted
//! checkout page is replaced by `GET /pay/{id}`: it marks the session paid, delivers
//! `checkout.session.completed`, and redirects to the session's `success_url`.

use hmac::{Hmac, Mac};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{EndpointExt, Request, Response, Route, handler};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const SECRET_KEY: &str = "sk_test_simulator_key";
pub const WEBHOOK_SECRET: &str = "whsec_simulator_secret";

#[derive(Default)]
pub struct State {
    pub base: String,
    /// Where webhooks go (the gateway's `/payments/stripe/webhook`).
    pub webhook_url: Mutex<Option<String>>,
    pub sessions: Mutex<HashMap<String, Value>>,
    /// Idempotency-Key -> (request fingerprint, session id).
    idempotency: Mutex<HashMap<String, (String, String)>>,
    /// Every create request's form fields, in order.
    pub creates: Mutex<Vec<HashMap<String, String>>>,
    pub retrieves: Mutex<u32>,
    seq: Mutex<u64>,
    /// Fail the next N creates with a 500 (after creating: the client never hears).
    pub fail_creates_after: Mutex<u32>,
    /// Unix seconds the simulator signs with (moves with the gateway's test clock).
    pub now_secs: Mutex<Option<i64>>,
}

pub struct StripeSim {
    pub url: String,
    pub state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for StripeSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn stripe_error(status: u16, kind: &str, message: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(json!({"error": {"type": kind, "message": message}}).to_string())
}

fn ok(v: &Value) -> Response {
    Response::builder()
        .content_type("application/json")
        .body(v.to_string())
}

fn authorised(req: &Request) -> bool {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SECRET_KEY}"))
}

impl State {
    fn next(&self, prefix: &str) -> String {
        let mut s = self.seq.lock().unwrap();
        *s += 1;
        format!("{prefix}_test_{:06}{}", *s, "a1b2c3")
    }

    fn now(&self) -> i64 {
        self.now_secs
            .lock()
            .unwrap()
            .unwrap_or_else(|| videoapi::domain::now_ms() / 1000)
    }
}

#[handler]
async fn create(req: &Request, body: String, st: Data<&Arc<State>>) -> Response {
    if !authorised(req) {
        return stripe_error(401, "invalid_request_error", "Invalid API Key provided");
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    st.creates.lock().unwrap().push(form.clone());
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut fields: Vec<_> = form.iter().collect();
    fields.sort();
    let fingerprint = format!("{fields:?}");
    if let Some(k) = &key
        && let Some((fp, id)) = st.idempotency.lock().unwrap().get(k).cloned()
    {
        if fp != fingerprint {
            return stripe_error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
        }
        let s = st.sessions.lock().unwrap()[&id].clone();
        return ok(&s);
    }
    for required in [
        "mode",
        "success_url",
        "line_items[0][price_data][currency]",
        "line_items[0][price_data][unit_amount]",
        "line_items[0][quantity]",
    ] {
        if !form.contains_key(required) {
            return stripe_error(
                400,
                "invalid_request_error",
                &format!("Missing required param: {required}."),
            );
        }
    }
    let amount: i64 = form["line_items[0][price_data][unit_amount]"]
        .parse()
        .unwrap_or(0);
    let qty: i64 = form["line_items[0][quantity]"].parse().unwrap_or(0);
    let id = st.next("cs");
    let now = st.now();
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_string(), json!(v)))
        })
        .collect();
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "mode": form["mode"],
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": amount * qty,
        "amount_subtotal": amount * qty,
        "currency": form["line_items[0][price_data][currency]"],
        "client_reference_id": form.get("client_reference_id"),
        "metadata": metadata,
        "success_url": form["success_url"],
        "cancel_url": form.get("cancel_url"),
        "payment_intent": null,
        "url": format!("{}/pay/{id}", st.base),
        "created": now,
        "expires_at": now + 86_400,
        "livemode": false,
    });
    st.sessions
        .lock()
        .unwrap()
        .insert(id.clone(), session.clone());
    if let Some(k) = key {
        st.idempotency
            .lock()
            .unwrap()
            .insert(k, (fingerprint, id.clone()));
    }
    {
        let mut fail = st.fail_creates_after.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return stripe_error(500, "api_error", "Something went wrong on Stripe's end.");
        }
    }
    ok(&session)
}

#[handler]
async fn retrieve(req: &Request, Path(id): Path<String>, st: Data<&Arc<State>>) -> Response {
    if !authorised(req) {
        return stripe_error(401, "invalid_request_error", "Invalid API Key provided");
    }
    *st.retrieves.lock().unwrap() += 1;
    match st.sessions.lock().unwrap().get(&id) {
        Some(s) => ok(s),
        None => stripe_error(
            404,
            "invalid_request_error",
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}

/// The hosted page, replaced by a test redirect: pay, deliver the event, go back.
#[handler]
async fn pay(Path(id): Path<String>, st: Data<&Arc<State>>) -> Response {
    let Some(session) = mark_paid(&st, &id) else {
        return stripe_error(404, "invalid_request_error", "No such session");
    };
    let event = event(&st, "checkout.session.completed", session.clone());
    let _ = deliver_with(&st, &reqwest::Client::new(), &event, None).await;
    let back = session["success_url"]
        .as_str()
        .unwrap_or("/")
        .replace("{CHECKOUT_SESSION_ID}", &id);
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("Location", back)
        .finish()
}

fn mark_paid(st: &State, id: &str) -> Option<Value> {
    let pi = st.next("pi");
    let mut sessions = st.sessions.lock().unwrap();
    let s = sessions.get_mut(id)?;
    s["status"] = json!("complete");
    s["payment_status"] = json!("paid");
    s["payment_intent"] = json!(pi);
    Some(s.clone())
}

/// A Stripe event wrapping `object`.
pub fn event(st: &State, kind: &str, object: Value) -> Value {
    json!({
        "id": st.next("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": st.now(),
        "type": kind,
        "livemode": false,
        "pending_webhooks": 1,
        "data": {"object": object},
    })
}

pub fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver_with(
    st: &State,
    http: &reqwest::Client,
    event: &Value,
    signature: Option<String>,
) -> (u16, Value) {
    let url = st
        .webhook_url
        .lock()
        .unwrap()
        .clone()
        .expect("set the webhook URL first");
    let payload = event.to_string();
    let sig = signature.unwrap_or_else(|| sign(WEBHOOK_SECRET, st.now(), payload.as_bytes()));
    let resp = http
        .post(url)
        .header("Stripe-Signature", sig)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(payload)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(json!({"raw": text})),
    )
}

impl StripeSim {
    pub async fn start() -> StripeSim {
        videoapi::tls::ensure_crypto_provider();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            base: url.clone(),
            ..State::default()
        });
        let app = Route::new()
            .at("/v1/checkout/sessions", poem::post(create))
            .at("/v1/checkout/sessions/:id", poem::get(retrieve))
            .at("/pay/:id", poem::get(pay))
            .data(state.clone());
        let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
        let server = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        StripeSim {
            url,
            state,
            server,
            http: reqwest::Client::new(),
        }
    }

    pub fn set_webhook_url(&self, url: &str) {
        *self.state.webhook_url.lock().unwrap() = Some(url.to_string());
    }

    pub fn session(&self, id: &str) -> Value {
        self.state.sessions.lock().unwrap()[id].clone()
    }

    /// The customer pays (without the redirect); returns the session.
    pub fn pay(&self, id: &str) -> Value {
        mark_paid(&self.state, id).expect("session exists")
    }

    pub fn expire(&self, id: &str) -> Value {
        let mut sessions = self.state.sessions.lock().unwrap();
        let s = sessions.get_mut(id).expect("session exists");
        s["status"] = json!("expired");
        s.clone()
    }

    pub fn event(&self, kind: &str, object: Value) -> Value {
        event(&self.state, kind, object)
    }

    /// Deliver an event, correctly signed now (or with the given header).
    pub async fn deliver(&self, event: &Value, signature: Option<String>) -> (u16, Value) {
        deliver_with(&self.state, &self.http, event, signature).await
    }

    /// The customer's browser on the hosted page: pay, webhook, redirect (not followed).
    pub async fn hosted_page(&self, checkout_url: &str) -> (u16, String) {
        let resp = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(checkout_url)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location)
    }
}
