//! `videoapi bench`: drive a running server on loopback at a fixed concurrency and print
//! throughput and latency for task creates and task reads, plus the server's memory.

use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Base URL of a running server (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key whose user has enough credits for the create phase.
    #[arg(long, env = "VIDEOAPI_KEY")]
    pub key: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Task creates to send.
    #[arg(long, default_value_t = 20_000)]
    pub creates: usize,
    /// Task reads to send.
    #[arg(long, default_value_t = 100_000)]
    pub gets: usize,
    /// Model to create tasks on.
    #[arg(long, default_value = "video-2.0-mini-text-to-video")]
    pub model: String,
    /// PID of the server, to report its resident memory (VmRSS / VmHWM).
    #[arg(long)]
    pub server_pid: Option<u32>,
}

struct Phase {
    name: &'static str,
    ok: usize,
    failed: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn print(&self) {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        println!(
            "{:<8} {:>8} ok {:>5} failed  {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            self.name,
            self.ok,
            self.failed,
            self.ok as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            l.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if !is_loopback(&args.url) {
        anyhow::bail!("bench only targets loopback addresses (got {})", args.url);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        crate::tls::ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(args.concurrency * 2)
            .build()?;
        let args = Arc::new(args);
        print_memory("idle", args.server_pid);
        let body = serde_json::json!({"model": args.model, "prompt": "bench"}).to_string();
        let create_url = format!("{}/v1/video/generations", args.url);
        let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
        let ids2 = ids.clone();
        let creates = drive(
            "create",
            &args,
            args.creates,
            move |c: reqwest::Client, key: String| {
                let (url, body, ids) = (create_url.clone(), body.clone(), ids2.clone());
                async move {
                    let resp = c
                        .post(url)
                        .bearer_auth(key)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .ok()?;
                    if !resp.status().is_success() {
                        return None;
                    }
                    let v: serde_json::Value = resp.json().await.ok()?;
                    ids.lock().ok()?.push(v["task_id"].as_str()?.to_string());
                    Some(())
                }
            },
            client.clone(),
        )
        .await;
        creates.print();
        print_memory("after creates", args.server_pid);
        let ids: Arc<Vec<String>> = Arc::new(std::mem::take(&mut *ids.lock().expect("ids")));
        if ids.is_empty() {
            anyhow::bail!("no task was created; check the key and its credits");
        }
        if args.gets == 0 {
            // Only creating: `scripts/hold-bench.sh` holds these tasks unfinished.
            return Ok(ExitCode::SUCCESS);
        }
        let base = args.url.clone();
        let n = Arc::new(AtomicUsize::new(0));
        let gets = drive(
            "get",
            &args,
            args.gets,
            move |c: reqwest::Client, key: String| {
                let (ids, n, base) = (ids.clone(), n.clone(), base.clone());
                async move {
                    let i = n.fetch_add(1, Ordering::Relaxed) % ids.len();
                    let resp = c
                        .get(format!("{base}/v1/video/generations/{}", ids[i]))
                        .bearer_auth(key)
                        .send()
                        .await
                        .ok()?;
                    if !resp.status().is_success() {
                        return None;
                    }
                    resp.bytes().await.ok()?;
                    Some(())
                }
            },
            client,
        )
        .await;
        gets.print();
        print_memory("after gets", args.server_pid);
        Ok(ExitCode::SUCCESS)
    })
}

async fn drive<F, Fut>(
    name: &'static str,
    args: &BenchArgs,
    total: usize,
    op: F,
    client: reqwest::Client,
) -> Phase
where
    F: Fn(reqwest::Client, String) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = Option<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (next, op, client, key) = (next.clone(), op.clone(), client.clone(), args.key.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                match tokio::time::timeout(Duration::from_secs(30), op(client.clone(), key.clone()))
                    .await
                {
                    Ok(Some(())) => lat.push(t.elapsed()),
                    _ => failed += 1,
                }
            }
            (lat, failed)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for w in workers {
        if let Ok((l, f)) = w.await {
            latencies.extend(l);
            failed += f;
        }
    }
    Phase {
        name,
        ok: latencies.len(),
        failed,
        elapsed: started.elapsed(),
        latencies,
    }
}

fn print_memory(when: &str, pid: Option<u32>) {
    let Some(pid) = pid else { return };
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        println!("memory ({when}): cannot read /proc/{pid}/status");
        return;
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
            .unwrap_or_else(|| "?".into())
    };
    println!(
        "memory ({when}): rss {} KiB, peak rss {} KiB",
        field("VmRSS:"),
        field("VmHWM:")
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_is_a_target() {
        assert!(super::is_loopback("http://127.0.0.1:8080"));
        assert!(super::is_loopback("http://localhost:1/x"));
        assert!(super::is_loopback("http://[::1]:8080"));
        assert!(!super::is_loopback("http://10.0.0.1:8080"));
        assert!(!super::is_loopback("https://example.com"));
    }
}
