//! One integration binary (fast linking): every public endpoint over real HTTP.

mod common;

mod console;
mod errors;
mod generations;
mod ledger;
mod models;
mod openapi;
mod restart;
mod uploads;
