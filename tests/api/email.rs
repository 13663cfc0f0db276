//! Email against a real SMTP server on loopback (aiosmtpd): the operator's test mail,
//! verification on sign-up, forgotten passwords with single-use expiring links.

use crate::common::*;
use crate::console::Console;
use crate::signup::{app_with, register};
use crate::smtp_sink::SmtpSink;
use serde_json::json;
use videoapi::domain::signup::Registration;

#[tokio::test]
async fn the_test_mail_button_sends_through_the_configured_server() {
    let sink = SmtpSink::start().await;
    let smtp = sink.config();
    let (app, _) = app_with(Registration::Closed, |c| c.smtp = Some(smtp)).await;
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let (s, v) = admin
        .post(
            "/console/api/admin/test-mail",
            json!({"to": "ops@example.com"}),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].header("To").as_deref(), Some("ops@example.com"));
    assert!(
        mails[0]
            .header("From")
            .unwrap()
            .contains("noreply@videoapi.test")
    );
    assert!(mails[0].body.contains("test mail"), "{:?}", mails[0]);

    // No [smtp]: 409; a mail server that is down: 502 with the reason.
    let plain = TestApp::new().await;
    let mut a = Console::login(&plain, "admin", "admin-password").await;
    let (s, v) = a
        .post(
            "/console/api/admin/test-mail",
            json!({"to": "ops@example.com"}),
        )
        .await;
    assert_eq!((s, error_code(&v).as_str()), (409, "email_not_configured"));
    let mut down = sink.config();
    down.port = Some(
        crate::simulators::dead_url()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap(),
    );
    let (app2, _) = app_with(Registration::Closed, |c| c.smtp = Some(down)).await;
    let mut a = Console::login(&app2, "admin", "admin-password").await;
    let (s, v) = a
        .post(
            "/console/api/admin/test-mail",
            json!({"to": "ops@example.com"}),
        )
        .await;
    assert_eq!((s, error_code(&v).as_str()), (502, "email_failed"), "{v}");
}

#[tokio::test]
async fn sign_up_with_verification_waits_for_the_emailed_link() {
    let sink = SmtpSink::start().await;
    let smtp = sink.config();
    let (app, clock) = app_with(Registration::Open, |c| {
        c.smtp = Some(smtp);
        c.email_verification = true;
    })
    .await;
    let body = json!({"username": "verity", "password": "a long enough secret", "email": "Verity@Example.com"});
    let (s, v, _) = register(
        &app,
        json!({"username": "noemail", "password": "a long enough secret"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (422, Some("email")),
        "{v}"
    );
    let (s, v, c) = register(&app, body).await;
    assert_eq!(
        (s, v["verification_sent"].as_bool()),
        (202, Some(true)),
        "{v}"
    );
    assert!(c.cookie.is_none(), "no session before verification");
    let mut c = Console::new(&app);
    let (s, v) = c
        .post(
            "/console/api/login",
            json!({"username": "verity", "password": "a long enough secret"}),
        )
        .await;
    assert_eq!((s, error_code(&v).as_str()), (403, "email_not_verified"));
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].header("To").as_deref(), Some("verity@example.com"));
    assert!(
        mails[0]
            .body
            .contains(&format!("{}/#/verify?token=", app.url))
    );
    let token = mails[0].token();
    assert_eq!(token.len(), 64);
    let (s, v) = c
        .post("/console/api/verify-email", json!({"token": token}))
        .await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = c
        .post("/console/api/verify-email", json!({"token": token}))
        .await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (400, "token_invalid"),
        "single use"
    );
    let (s, _) = c
        .post(
            "/console/api/login",
            json!({"username": "verity", "password": "a long enough secret"}),
        )
        .await;
    assert_eq!(s, 200);
    // The address is taken whatever its case.
    clock.advance_ms(120_000);
    let (s, v, _) = register(
        &app,
        json!({"username": "copycat", "password": "a long enough secret", "email": "VERITY@example.com"}),
    )
    .await;
    assert_eq!((s, error_code(&v).as_str()), (409, "email_taken"));
}

#[tokio::test]
async fn forgot_password_mails_a_single_use_link_that_expires() {
    let sink = SmtpSink::start().await;
    let smtp = sink.config();
    let (app, clock) = app_with(Registration::Open, |c| c.smtp = Some(smtp)).await;
    let (s, _, mut old) = register(
        &app,
        json!({"username": "forgetful", "password": "the first secret", "email": "f@example.com"}),
    )
    .await;
    assert_eq!(s, 200);
    let mut c = Console::new(&app);
    // Unknown addresses get the same answer and no mail.
    let (s, _) = c
        .post(
            "/console/api/forgot-password",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(s, 202);
    let (s, _) = c
        .post(
            "/console/api/forgot-password",
            json!({"email": "F@example.com"}),
        )
        .await;
    assert_eq!(s, 202);
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1, "only the real account got mail");
    assert!(mails[0].body.contains("forgetful"));
    let token = mails[0].token();
    // A weak password is refused without spending the link.
    let (s, v) = c
        .post(
            "/console/api/reset-password",
            json!({"token": token, "new_password": "password1"}),
        )
        .await;
    assert_eq!((s, error_code(&v).as_str()), (422, "weak_password"));
    let (s, v) = c
        .post(
            "/console/api/reset-password",
            json!({"token": token, "new_password": "the second secret"}),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = c
        .post(
            "/console/api/reset-password",
            json!({"token": token, "new_password": "the third secret"}),
        )
        .await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (400, "token_invalid"),
        "single use"
    );
    let (s, _) = old.get("/console/api/me").await;
    assert_eq!(s, 401, "old sessions end");
    Console::login(&app, "forgetful", "the second secret").await;
    // A link older than an hour is dead.
    clock.advance_ms(120_000);
    let (s, _) = c
        .post(
            "/console/api/forgot-password",
            json!({"email": "f@example.com"}),
        )
        .await;
    assert_eq!(s, 202);
    let mails = sink.wait_for(2).await;
    let token = mails[1].token();
    clock.advance_ms(61 * 60 * 1000);
    let (s, v) = c
        .post(
            "/console/api/reset-password",
            json!({"token": token, "new_password": "the fourth secret"}),
        )
        .await;
    assert_eq!((s, error_code(&v).as_str()), (400, "token_invalid"));
    assert!(app.audit().is_empty());
}
