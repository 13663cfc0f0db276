//! One integration binary (fast linking): every public endpoint over real HTTP.

mod common;

mod errors;
mod generations;
mod ledger;
mod models;
mod openapi;
mod providers;
mod restart;
mod simulators;
mod uploads;
