//! One integration binary (fast linking): every public endpoint over real HTTP.

mod common;

mod admin;
mod admin_cli;
mod backup;
mod callbacks;
mod connections;
mod console;
mod demo_switch;
mod email;
mod engine;
mod errors;
mod examples;
mod generations;
mod keys;
mod leaks;
mod ledger;
mod login_security;
mod media;
mod models;
mod openai;
mod openapi;
mod ops;
mod payments;
mod pricing;
mod process;
mod providers;
mod quickstart;
mod redeem;
mod restart;
mod signup;
mod simulators;
mod smtp_sink;
mod strict_input;
mod uploads;
mod writer;
