//! A real SMTP server on loopback for the email tests: `aiosmtpd` (PyPI, installed by
//! `.ci/run` from tests/api/requirements.txt) with its Maildir handler; the tests read
//! what it delivered from the Maildir. Stopped by PID when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpSink {
    pub port: u16,
    pub maildir: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One delivered message, decoded enough to read.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: String,
    pub body: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The token of the first console link (`#/verify?token=` / `#/reset?token=`).
    pub fn token(&self) -> String {
        let at = self.body.find("token=").expect("a link with a token") + 6;
        self.body[at..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect()
    }
}

fn decode(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (headers, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let enc = headers.to_ascii_lowercase();
    let body = if enc.contains("content-transfer-encoding: base64") {
        use base64::Engine;
        let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .unwrap(),
        )
        .unwrap()
    } else if enc.contains("content-transfer-encoding: quoted-printable") {
        let joined = body.replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    } else {
        body.to_string()
    };
    Mail {
        headers: headers.to_string(),
        body,
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd: pip install -r tests/api/requirements.txt");
        let mut sink = SmtpSink {
            port,
            maildir,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = sink.child.try_wait() {
                panic!("aiosmtpd exited ({status}): pip install -r tests/api/requirements.txt");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sink
    }

    pub fn config(&self) -> videoapi::config::SmtpConfig {
        videoapi::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(self.port),
            security: "none".into(),
            username: None,
            password: None,
            password_file: None,
            from: "VideoApi <noreply@videoapi.test>".into(),
        }
    }

    /// Every message delivered so far.
    pub fn messages(&self) -> Vec<Mail> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(rd) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
            for f in files {
                out.push(decode(&std::fs::read_to_string(f).unwrap()));
            }
        }
        out
    }

    /// Wait (bounded) until `n` messages arrived; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} mails arrived",
                m.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
