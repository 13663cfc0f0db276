//! The operator guard: an extractor that only an admin's console session yields.

use super::SessionAuth;
use crate::error::AppError;
use crate::http::errors::ApiError;
use crate::service::accounts::Principal;
use poem::{Request, RequestBody};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

/// An operator's console session. The extractor is the only way to obtain one: it answers
/// 401 without a session and 403 for a customer's, before any other parameter or the body
/// is read. Operator handlers take it as a parameter, so a new operator route cannot be
/// written without the check (a convention like calling `auth.admin()?` can be forgotten).
/// In the spec it is the same `ConsoleSession` cookie scheme as [`SessionAuth`].
pub struct AdminSession(SessionAuth);

impl AdminSession {
    /// The operator making the call.
    pub fn who(&self) -> &Principal {
        &self.0.who
    }

    /// How operator actions are recorded in the ledger.
    pub fn admin_actor(&self) -> String {
        format!("admin:{}", self.0.who.user.username)
    }
}

impl<'a> ApiExtractor<'a> for AdminSession {
    const TYPES: &'static [ApiExtractorType] = SessionAuth::TYPES;
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        SessionAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        SessionAuth::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let session = SessionAuth::from_request(req, body, opts).await?;
        if !session.who.user.is_admin {
            return Err(ApiError(AppError::forbidden(
                "this page is for operators (admin accounts) only",
            ))
            .into());
        }
        Ok(AdminSession(session))
    }
}
