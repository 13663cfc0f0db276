//! The README's Quick start block, run as written (so it cannot rot).
//!
//! The block is taken from README.md (the first ```sh block under "## Quick start") and
//! run by bash in a fresh directory, as if pasted at the root of a fresh clone: `./data`
//! is created by it, `assets/` is the repository's. It calls `cargo build --release` and
//! `cargo run --release`; a release build does not belong in the test suite, so a small
//! `cargo` shim comes first on PATH: `cargo build ...` does nothing and
//! `cargo run [--release] [-q] [-- ARGS]` runs this build's (debug) binary with ARGS.
//! Everything else (curl, python3, the shell functions, the polling) is the block's own.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_videoapi");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn quick_start_block() -> String {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let section = readme
        .split_once("\n## Quick start\n")
        .expect("README has a Quick start section")
        .1;
    let block = section
        .split_once("```sh\n")
        .expect("a sh block in Quick start")
        .1;
    block
        .split_once("\n```")
        .expect("the block ends")
        .0
        .to_string()
        + "\n"
}

const CARGO_SHIM: &str = r#"#!/bin/sh
# cargo for the README test: `build` is a no-op, `run [flags] [-- ARGS]` runs the binary.
echo "cargo $*" >> "$SHIM_LOG"
cmd=$1; shift
case $cmd in
  build) exit 0 ;;
  run)
    while [ $# -gt 0 ]; do
      case $1 in --) shift; break ;; *) shift ;; esac
    done
    echo $$ >> "$SHIM_PIDS"
    exec "$SHIM_BIN" "$@" ;;
  *) echo "cargo shim: unexpected command $cmd" >&2; exit 1 ;;
esac
"#;

#[test]
fn readme_quick_start_runs_as_pasted() {
    let block = quick_start_block();
    let work = tempfile::tempdir().unwrap();
    let clone = work.path().join("clone");
    std::fs::create_dir(&clone).unwrap();
    std::os::unix::fs::symlink(format!("{ROOT}/assets"), clone.join("assets")).unwrap();
    let shim_dir = work.path().join("shim");
    std::fs::create_dir(&shim_dir).unwrap();
    let shim = shim_dir.join("cargo");
    std::fs::write(&shim, CARGO_SHIM).unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pids = work.path().join("pids");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = format!("{}:{}", shim_dir.display(), std::env::var("PATH").unwrap());

    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&block)
        .current_dir(&clone)
        .env_clear()
        .env("PATH", path)
        .env("HOME", work.path())
        .env("SHIM_BIN", BIN)
        .env("SHIM_LOG", work.path().join("cargo.log"))
        .env("SHIM_PIDS", &pids)
        .env("VIDEOAPI_LISTEN", format!("127.0.0.1:{port}"))
        // A shorter demo: the block still polls at the model's poll_interval_seconds.
        .env("VIDEOAPI_DEMO_DELAY_MS", "300")
        .env("VIDEOAPI_POLL_INTERVAL_MS", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Stop the server the block left running (only the processes the shim started).
    for pid in std::fs::read_to_string(&pids).unwrap_or_default().lines() {
        let _ = Command::new("kill").args(["-TERM", pid.trim()]).status();
    }
    let out = reader.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let log = std::fs::read_to_string(clone.join("data/videoapi.log")).unwrap_or_default();
    let context = format!("--- stdout\n{out}\n--- stderr\n{err}\n--- server log\n{log}");
    assert!(
        status.is_some(),
        "the block did not finish in 120 s\n{context}"
    );
    assert!(status.unwrap().success(), "{context}");

    let base = format!("http://127.0.0.1:{port}");
    assert!(
        out.contains(r#"{"status":"ok""#),
        "healthz answered\n{context}"
    );
    assert!(
        out.contains(&format!("uploaded: {base}/uploads/")),
        "{context}"
    );
    assert!(out.contains(r#"created: {"#), "{context}");
    let finished = out
        .lines()
        .find_map(|l| l.strip_prefix("finished: "))
        .unwrap_or_else(|| panic!("no finished task\n{context}"));
    let finished: serde_json::Value = serde_json::from_str(finished).unwrap();
    assert_eq!(finished["status"], "completed", "{context}");
    assert_eq!(finished["credits_reserved"], 180, "{context}");
    let video = std::fs::read(clone.join("data/quickstart.mp4")).unwrap();
    assert_eq!(&video[4..8], b"ftyp", "an MP4 was downloaded");
    let failed = out
        .lines()
        .find_map(|l| l.strip_prefix("status: failed, credits_reserved: "))
        .unwrap_or_else(|| panic!("no failed task\n{context}"));
    assert!(failed.ends_with(", credits_refunded: true"), "{context}");
    let balances: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("balance: "))
        .collect();
    assert_eq!(balances, ["820", "820"], "refunded in full\n{context}");
    assert!(out.contains("Stop the server: kill "), "{context}");
}
