//! Use cases: what handlers and the engine call (domain + store + providers).

pub mod accounts;
pub mod backup;
pub mod catalog;
pub mod limits;
pub mod overview;
pub mod passwords;
pub mod sessions;
pub mod tasks;
pub mod uploads;
