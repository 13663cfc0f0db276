//! Pure rules with no I/O: ids, credits, pricing, the task state machine, validation.

pub mod catalog;
pub mod client_addr;
pub mod codes;
pub mod credits;
pub mod ids;
pub mod ledger;
pub mod limits;
pub mod margins;
pub mod media;
pub mod mp4;
pub mod network;
pub mod openai;
pub mod paging;
pub mod payments;
pub mod pricing;
pub mod references;
pub mod request;
pub mod session;
pub mod settlement;
pub mod signup;
pub mod task;
pub mod user;

/// Milliseconds since the Unix epoch, the one clock every record uses.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
