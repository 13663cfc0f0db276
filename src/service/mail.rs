//! Outgoing mail over SMTP (lettre, rustls): verification links, password resets, the
//! operator's test mail.

use crate::config::SmtpConfig;
use crate::error::{AppError, AppResult};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

/// How long one delivery may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

impl Mailer {
    pub fn new(c: &SmtpConfig) -> anyhow::Result<Mailer> {
        crate::tls::ensure_crypto_provider();
        let mut b = match c.security.as_str() {
            "tls" => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)?.port(c.port.unwrap_or(465))
            }
            "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
                .port(c.port.unwrap_or(25)),
            _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)?
                .port(c.port.unwrap_or(587)),
        };
        if let Some(user) = &c.username {
            b = b.credentials(Credentials::new(
                user.clone(),
                c.password.clone().unwrap_or_default(),
            ));
        }
        let from = c
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp.from `{}`: {e}", c.from))?;
        Ok(Mailer {
            transport: b.timeout(Some(SEND_TIMEOUT)).build(),
            from,
        })
    }

    /// Send a plain-text mail; `email_failed` (502) with the server's answer otherwise.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> AppResult<()> {
        let failed = |m: String| AppError::EmailFailed { message: m };
        let to = to
            .parse()
            .map_err(|_| AppError::invalid("email", "not an email address"))?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| failed(e.to_string()))?;
        self.transport.send(msg).await.map_err(|e| {
            tracing::warn!(error = %e, "sending mail failed");
            failed(e.to_string())
        })?;
        Ok(())
    }
}
