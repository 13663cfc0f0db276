//! The customer's side of selling credits in the console: sign-up, email links, password
//! reset, redeeming codes, online top-up.

use super::session::Done;
use super::views::Me;
use super::{ConsoleTags, SessionAuth, session_set_cookie};
use crate::app::AppState;
use crate::domain::payments::{Choice, Payment};
use crate::domain::signup::Registration;
use crate::error::AppError;
use crate::http::client_addr::client_addr;
use crate::http::failures::*;
use crate::http::money::{RedeemRequest, Redeemed};
use crate::service::signup::RegisterInput;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// What the login page needs to know about signing up.
#[derive(Debug, Clone, Object)]
pub struct RegistrationInfo {
    /// `closed`, `invite` or `open`.
    pub registration: String,
    /// Whether sign-up needs an email address that is then verified.
    pub email_verification: bool,
    /// Whether "forgot password" can send mail.
    pub password_reset: bool,
    /// Credits a new account starts with.
    pub signup_credits: i64,
}

#[derive(Debug, Clone, Object)]
pub struct RegisterRequest {
    /// 3-32 letters, digits, `_`, `-`, `.`; unique regardless of case.
    pub username: String,
    /// At least 10 characters, not a well-known password.
    pub password: String,
    /// Required when email verification is on; unique regardless of case.
    pub email: Option<String>,
    /// Required when registration is `invite`.
    pub invite_code: Option<String>,
}

/// Signed up; the account must open the emailed link before it can log in.
#[derive(Debug, Clone, Object)]
pub struct VerificationSent {
    pub username: String,
    /// Always true.
    pub verification_sent: bool,
}

#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// Signed up and logged in: the session cookie is set.
    #[oai(status = 200)]
    LoggedIn(Json<Me>, #[oai(header = "Set-Cookie")] String),
    /// Signed up; a verification link was emailed (no session yet).
    #[oai(status = 202)]
    Verify(Json<VerificationSent>),
}

#[derive(Debug, Clone, Object)]
pub struct TokenRequest {
    /// The token from the emailed link.
    pub token: String,
}

#[derive(Debug, Clone, Object)]
pub struct ForgotPassword {
    pub email: String,
}

#[derive(Debug, Clone, Object)]
pub struct ResetPassword {
    pub token: String,
    /// At least 10 characters, not a well-known password.
    pub new_password: String,
}

#[derive(ApiResponse)]
pub enum Accepted {
    /// Accepted: if the address belongs to an account, a link is on its way.
    #[oai(status = 202)]
    Accepted,
}

/// A fixed offer on the top-up page.
#[derive(Debug, Clone, Object)]
pub struct PackageView {
    /// Pass as `package` to buy it.
    pub index: u32,
    pub credits: i64,
    /// Price in the currency's smallest unit (cents).
    pub amount: i64,
}

/// A free amount, when the operator allows one.
#[derive(Debug, Clone, Object)]
pub struct FreeAmount {
    pub credits_per_unit: i64,
    pub min_amount: i64,
    pub max_amount: i64,
}

/// One online payment.
#[derive(Debug, Clone, Object)]
pub struct PaymentView {
    /// The processor's checkout session id.
    pub id: String,
    pub processor: String,
    pub user_id: u64,
    pub credits: i64,
    pub amount: i64,
    pub currency: String,
    /// `pending`, `paid` or `expired`.
    pub status: String,
    pub created_at_ms: i64,
    #[oai(nullable)]
    pub paid_at_ms: Option<i64>,
    #[oai(nullable)]
    pub ledger_entry_id: Option<u64>,
    /// Refunds and disputes reported by the processor (`charge.refunded`, ...): the
    /// operator decides what to do; nothing is debited automatically.
    pub notices: Vec<String>,
}

impl PaymentView {
    pub fn from_payment(p: &Payment) -> PaymentView {
        PaymentView {
            id: p.id.clone(),
            processor: p.processor.clone(),
            user_id: p.user_id.get(),
            credits: p.credits,
            amount: p.amount,
            currency: p.currency.clone(),
            status: p.status.as_str().into(),
            created_at_ms: p.created_at_ms,
            paid_at_ms: p.paid_at_ms,
            ledger_entry_id: p.ledger_id,
            notices: p
                .notices
                .iter()
                .map(|n| format!("{} ({})", n.kind, n.amount))
                .collect(),
        }
    }
}

/// The top-up page: what is on sale and the caller's payments.
#[derive(Debug, Clone, Object)]
pub struct TopUpPage {
    /// False when the server has no payment processor configured.
    pub enabled: bool,
    pub currency: String,
    pub packages: Vec<PackageView>,
    #[oai(nullable)]
    pub free_amount: Option<FreeAmount>,
    /// Newest first.
    pub payments: Vec<PaymentView>,
}

#[derive(Debug, Clone, Object)]
pub struct CheckoutRequestBody {
    /// Index of a package (see `GET /console/api/topup`).
    pub package: Option<u32>,
    /// A free amount in the smallest currency unit, when allowed.
    pub amount: Option<i64>,
}

#[derive(Debug, Clone, Object)]
pub struct CheckoutView {
    /// Send the customer here to pay.
    pub url: String,
    pub payment: PaymentView,
}

#[derive(Clone)]
pub struct MoneyConsoleApi;

#[OpenApi(prefix_path = "/console/api", tag = "ConsoleTags::Console")]
impl MoneyConsoleApi {
    /// Sign-up settings for the login page
    #[oai(path = "/registration", method = "get")]
    async fn registration(
        &self,
        state: Data<&AppState>,
    ) -> Result<Json<RegistrationInfo>, Failure<E503>> {
        let s = state.signup.settings().await?;
        Ok(Json(RegistrationInfo {
            registration: s.registration.as_str().into(),
            email_verification: s.email_verification && state.signup.email_configured(),
            password_reset: state.signup.email_configured(),
            signup_credits: if s.registration == Registration::Closed {
                0
            } else {
                s.signup_credits
            },
        }))
    }

    /// Sign up
    ///
    /// Creates a customer account and logs it in (200 with the session cookie), or, when
    /// email verification is on, emails a link and answers 202. 403
    /// `registration_closed` / `invite_invalid`, 409 `username_taken` / `email_taken`,
    /// 422 `weak_password`; throttled per address like logins (429 `too_many_attempts`).
    #[oai(path = "/register", method = "post")]
    async fn register(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<RegisterRequest>,
    ) -> Result<RegisterResponse, Failure<{ BODY | CONSOLE_WRITE | E409 | E429 | E502 }>> {
        let b = body.0;
        let done = state
            .signup
            .register(
                &state.sessions,
                RegisterInput {
                    username: b.username,
                    password: b.password,
                    email: b.email,
                    invite_code: b.invite_code,
                },
                client_addr(req),
            )
            .await?;
        Ok(match done.session {
            Some(s) => RegisterResponse::LoggedIn(
                Json(Me::from_user(&s.user)),
                session_set_cookie(state.0, req, Some(&s.token)),
            ),
            None => RegisterResponse::Verify(Json(VerificationSent {
                username: done.user.username,
                verification_sent: done.verification_sent,
            })),
        })
    }

    /// Verify an email address
    ///
    /// With the token from the emailed link; the account can log in afterwards. 400
    /// `token_invalid` when the link is unknown, used or expired.
    #[oai(path = "/verify-email", method = "post")]
    async fn verify_email(
        &self,
        state: Data<&AppState>,
        body: Json<TokenRequest>,
    ) -> Result<Done, Failure<{ BODY | CONSOLE_WRITE }>> {
        state.signup.verify_email(&body.0.token).await?;
        Ok(Done::Done)
    }

    /// Forgot password
    ///
    /// Emails a single-use reset link (valid for an hour) when the address belongs to an
    /// account; the answer (and its timing: the mail goes out in the background) is the
    /// same either way. Needs `[smtp]` (409
    /// `email_not_configured`). Throttled per address and per email address.
    #[oai(path = "/forgot-password", method = "post")]
    async fn forgot_password(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<ForgotPassword>,
    ) -> Result<Accepted, Failure<{ BODY | CONSOLE_WRITE | E429 | E409 | E502 }>> {
        state
            .signup
            .forgot_password(&body.0.email, client_addr(req))
            .await?;
        Ok(Accepted::Accepted)
    }

    /// Reset the password with an emailed link
    ///
    /// Every session of the account ends; log in with the new password.
    #[oai(path = "/reset-password", method = "post")]
    async fn reset_password(
        &self,
        state: Data<&AppState>,
        body: Json<ResetPassword>,
    ) -> Result<Done, Failure<{ BODY | CONSOLE_WRITE | E429 }>> {
        state
            .signup
            .reset_password(&state.sessions, &body.0.token, &body.0.new_password)
            .await?;
        Ok(Done::Done)
    }

    /// Redeem a code
    ///
    /// The same as `POST /v1/account/redeem`, with the session.
    #[oai(path = "/redeem", method = "post")]
    async fn redeem(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SessionAuth,
        body: Json<RedeemRequest>,
    ) -> Result<
        Json<Redeemed>,
        Failure<{ SESSION | BODY | CONSOLE_WRITE | E404 | E409 | E410 | E429 }>,
    > {
        let (entry, _) = state
            .codes
            .redeem(&auth.who, &body.0.code, client_addr(req))
            .await?;
        Ok(Json(Redeemed::from_entry(&entry)))
    }

    /// The top-up page
    ///
    /// Packages, the free amount (if any) and the caller's payments.
    #[oai(path = "/topup", method = "get")]
    async fn topup(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
    ) -> Result<Json<TopUpPage>, Failure<SESSION>> {
        let payments = state.payments.history(auth.who.user.id).await?;
        let payments = payments.iter().map(PaymentView::from_payment).collect();
        Ok(Json(match state.payments.offer() {
            None => TopUpPage {
                enabled: false,
                currency: String::new(),
                packages: Vec::new(),
                free_amount: None,
                payments,
            },
            Some(o) => TopUpPage {
                enabled: true,
                currency: o.currency.clone(),
                packages: o
                    .packages
                    .iter()
                    .enumerate()
                    .map(|(i, p)| PackageView {
                        index: i as u32,
                        credits: p.credits,
                        amount: p.amount,
                    })
                    .collect(),
                free_amount: o.credits_per_unit.map(|r| FreeAmount {
                    credits_per_unit: r,
                    min_amount: o.min_amount,
                    max_amount: o.max_amount,
                }),
                payments,
            },
        }))
    }

    /// Start an online top-up
    ///
    /// Opens a checkout for a package or a free amount and returns its `url`; the credits
    /// arrive when the processor confirms the payment (webhook), exactly once.
    #[oai(path = "/topup/checkout", method = "post")]
    async fn checkout(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        body: Json<CheckoutRequestBody>,
    ) -> Result<Json<CheckoutView>, Failure<{ SESSION | BODY | CONSOLE_WRITE | E409 | E502 }>> {
        let choice = match (body.0.package, body.0.amount) {
            (Some(i), None) => Choice::Package(i as usize),
            (None, Some(a)) => Choice::Amount(a),
            _ => {
                return Err(
                    AppError::invalid("package", "send either `package` or `amount`").into(),
                );
            }
        };
        let (payment, url) = state.payments.checkout(&auth.who, choice).await?;
        Ok(Json(CheckoutView {
            url,
            payment: PaymentView::from_payment(&payment),
        }))
    }

    /// One of your payments
    ///
    /// Asks the processor for news when it is still pending (the return from the checkout
    /// page), so the credits arrive even if a webhook is late.
    #[oai(path = "/topup/payments/:session_id", method = "get")]
    async fn payment(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        session_id: Path<String>,
    ) -> Result<Json<PaymentView>, Failure<{ SESSION | PARAMS | E404 | E409 | E502 }>> {
        let p = state.payments.refresh(&auth.who, &session_id.0).await?;
        Ok(Json(PaymentView::from_payment(&p)))
    }
}
