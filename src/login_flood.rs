//! `videoapi login-flood`: hammer a server on loopback with bad console logins while
//! timing `/healthz`, trying a real login and watching the server's memory.

use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct LoginFloodArgs {
    /// Base URL of a running server (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Bad logins in flight at once (random user names, wrong passwords).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// How long the flood lasts, in seconds.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// The account that must still get in during the flood.
    #[arg(long, default_value = "admin")]
    pub user: String,
    #[arg(long, env = "VIDEOAPI_FLOOD_PASSWORD")]
    pub password: String,
    /// PID of the server, to report its memory (VmHWM / VmRSS).
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// What a flood measured.
#[derive(Debug, Clone, Default)]
pub struct FloodReport {
    pub bad_logins: usize,
    pub answered_401: usize,
    pub answered_429: usize,
    pub answered_other: usize,
    pub transport_errors: usize,
    pub healthz_samples: usize,
    pub healthz_p50: Duration,
    pub healthz_p99: Duration,
    pub healthz_max: Duration,
    /// Status and latency of each legitimate login tried during the flood.
    pub legit: Vec<(u16, Duration)>,
    /// Peak and current resident memory of the server, in KiB, when its PID was given.
    pub vm_hwm_kib: Option<u64>,
    pub vm_rss_kib: Option<u64>,
    pub max_rss_seen_kib: Option<u64>,
}

impl FloodReport {
    /// Every legitimate login during the flood was let in.
    pub fn legit_ok(&self) -> bool {
        !self.legit.is_empty() && self.legit.iter().all(|(s, _)| *s == 200)
    }

    pub fn print(&self) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "bad logins: {} sent ({} x 401, {} x 429, {} other, {} transport errors)",
            self.bad_logins,
            self.answered_401,
            self.answered_429,
            self.answered_other,
            self.transport_errors
        );
        println!(
            "healthz: {} samples, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.healthz_samples,
            ms(self.healthz_p50),
            ms(self.healthz_p99),
            ms(self.healthz_max)
        );
        for (status, took) in &self.legit {
            println!("legit login: HTTP {status} in {:.0} ms", ms(*took));
        }
        println!(
            "legit login during the flood: {}",
            if self.legit_ok() {
                "succeeded"
            } else {
                "FAILED"
            }
        );
        let mib = |k: Option<u64>| {
            k.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "n/a".into())
        };
        println!(
            "server memory: VmHWM {} · VmRSS {} · highest VmRSS sampled {}",
            mib(self.vm_hwm_kib),
            mib(self.vm_rss_kib),
            mib(self.max_rss_seen_kib)
        );
    }
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`); Linux only.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or("");
    host.starts_with("127.") || host.starts_with("[::1]") || host.starts_with("localhost")
}

fn login_request(
    client: &reqwest::Client,
    url: &str,
    user: &str,
    pw: &str,
) -> reqwest::RequestBuilder {
    client
        .post(format!("{url}/console/api/login"))
        .header("X-Requested-With", "videoapi")
        .json(&serde_json::json!({"username": user, "password": pw}))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Flood `url` for `duration` and measure; every loop is bounded by the deadline.
pub async fn flood(args: &LoginFloodArgs, duration: Duration) -> anyhow::Result<FloodReport> {
    if !is_loopback(&args.url) {
        anyhow::bail!(
            "login-flood only targets loopback addresses (got {})",
            args.url
        );
    }
    let deadline = Instant::now() + duration;
    let attackers = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency + 8)
        .timeout(Duration::from_secs(30))
        .build()?;
    let counts: Arc<[AtomicUsize; 5]> = Arc::new(Default::default());
    let mut workers = Vec::new();
    for w in 0..args.concurrency.max(1) {
        let (client, url, counts) = (attackers.clone(), args.url.clone(), counts.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let name = format!("flood-{w}-{n}-{:08x}", rand::random::<u32>());
                counts[0].fetch_add(1, Ordering::Relaxed);
                let slot = match login_request(&client, &url, &name, "wrong-password-1")
                    .send()
                    .await
                {
                    Ok(r) => match r.status().as_u16() {
                        401 => 1,
                        429 => 2,
                        _ => 3,
                    },
                    Err(_) => 4,
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // /healthz on its own connection, every 20 ms.
    let health = {
        let url = args.url.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client");
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = client
                    .get(format!("{url}/healthz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                lat.push(if ok {
                    t.elapsed()
                } else {
                    Duration::from_secs(10)
                });
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            lat
        })
    };
    // Memory, sampled every 250 ms.
    let max_rss = Arc::new(AtomicU64::new(0));
    let sampler = args.server_pid.map(|pid| {
        let max_rss = max_rss.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                if let Some(k) = proc_status_kib(pid, "VmRSS") {
                    max_rss.fetch_max(k, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    });
    // The real operator logs in at a quarter, half and three quarters of the flood.
    let mut legit = Vec::new();
    let start = Instant::now();
    for quarter in 1..=3u32 {
        let at = start + duration * quarter / 4;
        tokio::time::sleep_until(at.into()).await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let t = Instant::now();
        let status = login_request(&client, &args.url, &args.user, &args.password)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        legit.push((status, t.elapsed()));
    }
    for w in workers {
        let _ = w.await;
    }
    let mut lat = health.await.unwrap_or_default();
    if let Some(s) = sampler {
        let _ = s.await;
    }
    lat.sort();
    let c = |i: usize| counts[i].load(Ordering::Relaxed);
    Ok(FloodReport {
        bad_logins: c(0),
        answered_401: c(1),
        answered_429: c(2),
        answered_other: c(3),
        transport_errors: c(4),
        healthz_samples: lat.len(),
        healthz_p50: percentile(&lat, 0.50),
        healthz_p99: percentile(&lat, 0.99),
        healthz_max: lat.last().copied().unwrap_or_default(),
        legit,
        vm_hwm_kib: args.server_pid.and_then(|p| proc_status_kib(p, "VmHWM")),
        vm_rss_kib: args.server_pid.and_then(|p| proc_status_kib(p, "VmRSS")),
        max_rss_seen_kib: args
            .server_pid
            .map(|_| max_rss.load(Ordering::Relaxed))
            .filter(|k| *k > 0),
    })
}

/// The command: flood, print, and exit 1 when a goal of the issue was missed.
pub fn run(args: LoginFloodArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        crate::tls::ensure_crypto_provider();
        println!(
            "login flood: {} concurrent bad logins for {} s against {}",
            args.concurrency, args.seconds, args.url
        );
        flood(&args, Duration::from_secs(args.seconds)).await
    })?;
    report.print();
    let rss_ok = report.vm_hwm_kib.is_none_or(|k| k < 200 * 1024);
    let fast = report.healthz_p99 < Duration::from_millis(100);
    println!(
        "goals: RSS < 200 MiB {} · healthz p99 < 100 ms {} · legit login {}",
        if rss_ok { "met" } else { "MISSED" },
        if fast { "met" } else { "MISSED" },
        if report.legit_ok() { "met" } else { "MISSED" }
    );
    Ok(if rss_ok && fast && report.legit_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
