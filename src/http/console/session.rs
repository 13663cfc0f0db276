//! Console login, logout, the current account and password changes.

use super::views::{ChangePassword, LoginRequest, Me};
use super::{ConsoleTags, SessionAuth, session_cookie, session_set_cookie};
use crate::app::AppState;
use crate::http::client_addr::client_addr;
use crate::http::failures::*;
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in: the session cookie is set (HttpOnly, SameSite=Strict, 7 days).
    #[oai(status = 200)]
    Ok(Json<Me>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Logged out: the session ended and the cookie is cleared.
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
pub enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(Clone)]
pub struct SessionApi;

#[OpenApi(prefix_path = "/console/api", tag = "ConsoleTags::Console")]
impl SessionApi {
    /// Log in
    ///
    /// Checks the password and sets the session cookie. After a few failed attempts for a
    /// user name from one address, the next try must wait (1 s, 2 s, 4 s ... up to 60 s):
    /// 429 `login_throttled` with `Retry-After`. The account is never locked. 429
    /// `login_busy` (also with `Retry-After`) means the server is checking too many
    /// passwords at once.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Result<LoginResponse, Failure<{ BODY | S401 | E403 | E429 }>> {
        let done = state
            .sessions
            .login(&body.username, &body.password, client_addr(req))
            .await?;
        let cookie = session_set_cookie(state.0, req, Some(&done.token));
        Ok(LoginResponse::Ok(Json(Me::from_user(&done.user)), cookie))
    }

    /// Log out
    ///
    /// Ends the session of the cookie sent (if any) and clears the cookie.
    #[oai(path = "/logout", method = "post")]
    async fn logout(
        &self,
        state: Data<&AppState>,
        req: &Request,
    ) -> Result<LogoutResponse, Failure<CONSOLE_WRITE>> {
        if let Some(token) = session_cookie(req) {
            state.sessions.logout(&token).await?;
        }
        Ok(LogoutResponse::Done(session_set_cookie(state.0, req, None)))
    }

    /// The logged-in account
    #[oai(path = "/me", method = "get")]
    async fn me(&self, auth: SessionAuth) -> Result<Json<Me>, Failure<SESSION>> {
        Ok(Json(Me::from_user(&auth.who.user)))
    }

    /// Change password
    ///
    /// Needs the current password; every other session of the account ends.
    #[oai(path = "/password", method = "post")]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SessionAuth,
        body: Json<ChangePassword>,
    ) -> Result<Done, Failure<{ SESSION | BODY | CONSOLE_WRITE | E429 }>> {
        state
            .sessions
            .change_password(
                &auth.who.user,
                &auth.session_hash,
                &body.current_password,
                &body.new_password,
                client_addr(req),
            )
            .await?;
        Ok(Done::Done)
    }
}
