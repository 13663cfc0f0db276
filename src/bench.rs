//! `videoapi bench`: drive a running server on loopback and print throughput and latency.

use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Base URL of a running server (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key with enough credits for the create phase.
    #[arg(long, env = "VIDEOAPI_KEY")]
    pub key: String,
}

pub fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("bench is not built yet")
}
