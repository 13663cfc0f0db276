//! Use cases: what handlers and the engine call (domain + store + providers).

pub mod accounts;
pub mod attempts;
pub mod backup;
pub mod catalog;
pub mod codes;
pub mod health;
pub mod limits;
pub mod mail;
pub mod overview;
pub mod passwords;
pub mod payments;
pub mod reports;
pub mod sessions;
pub mod settlement;
pub mod signup;
pub mod tasks;
pub mod uploads;
