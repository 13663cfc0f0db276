//! One integration binary (fast linking): every public endpoint over real HTTP.

mod common;

mod callbacks;
mod connections;
mod console;
mod errors;
mod examples;
mod generations;
mod leaks;
mod ledger;
mod login_security;
mod models;
mod openapi;
mod ops;
mod process;
mod providers;
mod restart;
mod simulators;
mod strict_input;
mod uploads;
mod writer;
