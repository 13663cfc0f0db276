//! One integration binary (fast linking): every public endpoint over real HTTP.

mod common;

mod callbacks;
mod console;
mod errors;
mod examples;
mod generations;
mod ledger;
mod models;
mod openai;
mod openapi;
mod ops;
mod process;
mod providers;
mod restart;
mod simulators;
mod strict_input;
mod uploads;
