//! `POST /callbacks/tasks/{task_id}/{token}`: an upstream says a task ended. The token is
//! checked, the engine polls the task at once, and the answer comes back at once (the body
//! is never read: the result is fetched from upstream, not taken from the caller).

use super::errors::ApiError;
use crate::app::AppState;
use crate::error::AppError;
use poem::web::{Data, Path};
use poem::{Response, handler, http::StatusCode};

#[handler]
pub fn receive(
    Path((task_id, token)): Path<(String, String)>,
    state: Data<&AppState>,
) -> Result<Response, ApiError> {
    let known = crate::domain::ids::TaskId::parse(&task_id)
        .is_some_and(|id| state.engine.callback(&id, &token));
    if !known {
        // Same answer for an unknown task and a wrong token: nothing to probe with.
        return Err(AppError::not_found("task").into());
    }
    Ok(Response::builder().status(StatusCode::NO_CONTENT).finish())
}
