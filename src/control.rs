//! The local control socket (`<data dir>/control.sock`, owner-only): how `videoapi
//! backup` reaches a running server, which holds the database's lock. One JSON line in,
//! one JSON line out; only the data directory's owner can connect.

use crate::app::AppState;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SOCKET: &str = "control.sock";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    Backup { dir: PathBuf, media: bool },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<crate::service::backup::BackupReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Accept commands until `stop` flips. A socket that cannot be bound only disables
/// online backups (logged), it never stops the server.
#[cfg(unix)]
pub async fn serve(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let path = state.config.data_dir.join(SOCKET);
    // A leftover of a previous run (the database lock proves none is running now).
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no control socket: online backups disabled");
            return;
        }
    };
    crate::storage::tighten(&path, 0o600);
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok((stream, _)) = conn else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            // One command per connection, a bounded line.
            let mut reader = BufReader::new(read).take(64 * 1024);
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let reply = handle(&state, &line).await;
            let mut out = serde_json::to_vec(&reply).unwrap_or_default();
            out.push(b'\n');
            let _ = write.write_all(&out).await;
        });
    }
    let _ = std::fs::remove_file(&path);
}

#[cfg(not(unix))]
pub async fn serve(_state: AppState, _stop: tokio::sync::watch::Receiver<bool>) {}

async fn handle(state: &AppState, line: &str) -> Reply {
    let req: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return fail(format!("bad command: {e}")),
    };
    match req {
        Request::Backup { dir, media } => {
            let store = state.store.clone();
            let data = state.config.data_dir.clone();
            let done = tokio::task::spawn_blocking(move || {
                crate::service::backup::backup(&store, &data, &dir, media)
            })
            .await;
            match done {
                Ok(Ok(report)) => {
                    tracing::info!(dir = %report.dir.display(), rows = report.rows, files = report.files, "backup written");
                    Reply {
                        ok: true,
                        backup: Some(report),
                        error: None,
                    }
                }
                Ok(Err(e)) => fail(e.to_string()),
                Err(e) => fail(e.to_string()),
            }
        }
    }
}

fn fail(error: String) -> Reply {
    Reply {
        ok: false,
        backup: None,
        error: Some(error),
    }
}

/// Send one command to the server running on `data_dir` (the CLI side).
#[cfg(unix)]
pub fn send(data_dir: &Path, req: &Request) -> anyhow::Result<Reply> {
    use std::io::{BufRead, BufReader, Write};
    let path = data_dir.join(SOCKET);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        anyhow::anyhow!("cannot reach the running server at {}: {e}", path.display())
    })?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    Ok(serde_json::from_str(&reply)?)
}

#[cfg(not(unix))]
pub fn send(_data_dir: &Path, _req: &Request) -> anyhow::Result<Reply> {
    anyhow::bail!("online backups need a Unix socket; stop the server and run backup again")
}
