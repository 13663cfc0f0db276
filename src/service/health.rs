//! The health check: can the server read its database and write to it right now.

use crate::error::{AppError, AppResult};
use crate::store::{self, Store};

/// `Ok` when the writer is alive and its last commit held and a read succeeds;
/// `Unavailable` with the reason otherwise.
pub async fn check(store: &Store) -> AppResult<()> {
    // Cheap enough to poll: the writer's state is a few atomics, the read a snapshot.
    if let Some(reason) = store.writer_problem() {
        return Err(AppError::Unavailable { reason });
    }
    store.read(store::users::count).await?;
    Ok(())
}
