//! Sign-up: closed by default, open or by invite, case-insensitive names, weak passwords
//! refused, starting credits as a sign-up bonus, throttled per address.

use crate::common::*;
use crate::console::Console;
use serde_json::{Value, json};
use videoapi::clock::{Clock, ManualClock, SharedClock};
use videoapi::domain::signup::Registration;

pub async fn app_with(
    registration: Registration,
    f: impl FnOnce(&mut videoapi::config::Config),
) -> (TestApp, ManualClock) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let mut config = test_config(dir.path());
    config.clock = SharedClock::new(clock.clone());
    config.registration = registration;
    f(&mut config);
    (TestApp::with_config(dir, config).await, clock)
}

pub async fn register<'a>(app: &'a TestApp, body: Value) -> (u16, Value, Console<'a>) {
    let mut c = Console::new(app);
    let (s, v) = c.post("/console/api/register", body).await;
    (s, v, c)
}

#[tokio::test]
async fn registration_is_closed_by_default() {
    let app = TestApp::new().await;
    let mut c = Console::new(&app);
    let (s, info) = c.get("/console/api/registration").await;
    assert_eq!((s, info["registration"].as_str()), (200, Some("closed")));
    let (s, v, _) = register(
        &app,
        json!({"username": "newbie", "password": "a long enough secret"}),
    )
    .await;
    assert_eq!((s, error_code(&v).as_str()), (403, "registration_closed"));
}

#[tokio::test]
async fn open_sign_up_logs_in_with_a_bonus_and_the_operators_group() {
    let (app, clock) = app_with(Registration::Open, |c| {
        c.signup_credits = 300;
        c.pricing_groups = vec![videoapi::domain::catalog::PricingGroup {
            name: "retail".into(),
            percent: 120,
            overrides: Default::default(),
        }];
        c.signup_pricing_group = Some("retail".into());
    })
    .await;
    let (s, v, mut c) = register(
        &app,
        json!({"username": "Newbie", "password": "a long enough secret"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["credits"].as_i64(), v["pricing_group"].as_str()),
        (Some(300), Some("retail"))
    );
    let (s, me) = c.get("/console/api/me").await;
    assert_eq!(
        (s, me["username"].as_str()),
        (200, Some("Newbie")),
        "logged in"
    );
    let (s, info) = c.get("/console/api/registration").await;
    assert_eq!((s, info["signup_credits"].as_i64()), (200, Some(300)));
    let entries = app
        .state()
        .store
        .read_now(|txn| videoapi::store::ledger::list(txn, None, None, 10))
        .unwrap();
    assert_eq!(
        entries[0].kind,
        videoapi::domain::ledger::EntryKind::SignupBonus
    );
    assert_eq!(entries[0].source.as_deref(), Some("signup"));
    // Names are unique whatever their case, including operator-made ones.
    for name in ["newbie", "NEWBIE", "ADMIN"] {
        clock.advance_ms(60_000); // past the sign-up throttle
        let (s, v, _) = register(
            &app,
            json!({"username": name, "password": "another long secret"}),
        )
        .await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (409, "username_taken"),
            "{name}"
        );
        assert_eq!(v["error"]["param"], "username");
    }
    clock.advance_ms(60_000);
    // Refused passwords and names do not count against the throttle.
    for (pw, why) in [
        ("short", "too short"),
        ("password123", "common"),
        ("Qwertyuiop", "common, other case"),
        ("zed-the-great-zed", "contains the name"),
    ] {
        let (s, v, _) = register(&app, json!({"username": "zed", "password": pw})).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "weak_password"),
            "{why}"
        );
    }
    let (s, v, _) = register(
        &app,
        json!({"username": "no spaces allowed", "password": "a long enough secret"}),
    )
    .await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"));
    assert!(app.audit().is_empty(), "{:?}", app.audit());
}

#[tokio::test]
async fn invite_mode_needs_a_valid_unused_unexpired_invite() {
    let (app, clock) = app_with(Registration::Invite, |_| {}).await;
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let expires = clock.now_ms() + 3_600_000;
    let (s, inv) = admin
        .post(
            "/console/api/admin/invites",
            json!({"max_uses": 2, "expires_at": expires, "note": "beta testers"}),
        )
        .await;
    assert_eq!(s, 200, "{inv}");
    let code = inv["code"].as_str().unwrap().to_string();
    let body = |name: &str, code: Option<&str>| json!({"username": name, "password": "a long enough secret", "invite_code": code});
    let (s, v, _) = register(&app, body("nocode", None)).await;
    assert_eq!((s, error_code(&v).as_str()), (403, "invite_invalid"));
    let (s, v, _) = register(&app, body("wrongcode", Some("inv_nope"))).await;
    assert_eq!((s, error_code(&v).as_str()), (403, "invite_invalid"));
    clock.advance_ms(60_000); // the sign-up throttle: a few attempts, then waits
    let (s, v, _) = register(&app, body("first", Some(&code))).await;
    assert_eq!(s, 200, "{v}");
    clock.advance_ms(60_000);
    let (s, v, _) = register(&app, body("second", Some(&code))).await;
    assert_eq!(s, 200, "{v}");
    clock.advance_ms(60_000);
    let (s, v, _) = register(&app, body("third", Some(&code))).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (403, "invite_invalid"),
        "used up"
    );
    let (_, list) = admin.get("/console/api/admin/invites").await;
    assert_eq!(
        (list[0]["uses"].as_u64(), list[0]["usable"].as_bool()),
        (Some(2), Some(false))
    );
    assert_eq!(list[0]["used_by"].as_array().unwrap().len(), 2);
    // Another invite that expires, and one the operator disables.
    let (_, inv2) = admin
        .post(
            "/console/api/admin/invites",
            json!({"expires_at": clock.now_ms() + 1_000}),
        )
        .await;
    let (_, inv3) = admin.post("/console/api/admin/invites", json!({})).await;
    clock.advance_ms(60_000);
    let (s, _, _) = register(&app, body("late", inv2["code"].as_str())).await;
    assert_eq!(s, 403, "expired");
    let id3 = inv3["info"]["id"].as_u64().unwrap();
    let (s, _) = admin
        .post(
            &format!("/console/api/admin/invites/{id3}/disable"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    clock.advance_ms(60_000);
    let (s, _, _) = register(&app, body("blocked", inv3["code"].as_str())).await;
    assert_eq!(s, 403, "disabled");
}

#[tokio::test]
async fn sign_ups_are_throttled_per_address_and_settings_change_from_the_console() {
    let (app, clock) = app_with(Registration::Closed, |_| {}).await;
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let (s, v) = admin
        .put(
            "/console/api/admin/signup-settings",
            json!({"registration": "open", "signup_credits": 50, "email_verification": false}),
        )
        .await;
    assert_eq!((s, v["registration"].as_str()), (200, Some("open")), "{v}");
    let (s, v) = admin
        .put(
            "/console/api/admin/signup-settings",
            json!({"registration": "open", "signup_credits": 50, "email_verification": true}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (422, Some("email_verification")),
        "{v}"
    );
    let (s, v) = admin
        .put(
            "/console/api/admin/signup-settings",
            json!({"registration": "sometimes", "signup_credits": 0, "email_verification": false}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (s, v, _) = register(
            &app,
            json!({"username": format!("bot{i}"), "password": "a long enough secret"}),
        )
        .await;
        if s == 429 {
            assert_eq!(error_code(&v), "too_many_attempts");
        }
        statuses.push(s);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "{statuses:?}");
    clock.advance_ms(1_500);
    let (s, v, _) = register(
        &app,
        json!({"username": "patient", "password": "a long enough secret"}),
    )
    .await;
    assert_eq!((s, v["credits"].as_i64()), (200, Some(50)), "{v}");
    // The settings survive a restart (stored, not only in memory).
    let mut app = app;
    app.restart().await;
    let mut c = Console::new(&app);
    let (_, info) = c.get("/console/api/registration").await;
    assert_eq!(info["registration"], "open");
}
