//! VideoApi: a self-hosted, single-binary video-generation gateway.
//!
//! Layers: `domain` (pure rules) ← `service` (use cases) ← `http` (poem handlers);
//! `store` is the only place that names redb, `providers` adapt upstreams, `engine`
//! drives tasks to completion.

pub mod app;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod domain;
pub mod engine;
pub mod error;
pub mod http;
pub mod login_flood;
pub mod metrics;
pub mod outbound;
pub mod providers;
pub mod service;
pub mod storage;
pub mod store;
pub mod tls;
