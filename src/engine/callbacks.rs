//! Completion callbacks from upstreams: each task gets an unguessable URL on this gateway,
//! `POST /callbacks/tasks/{task_id}/{token}` with `token = HMAC-SHA256(key, task_id)`.
//! A verified call only makes the engine poll that task at once: what arrives is never
//! trusted, the result is always re-fetched from upstream.

use crate::domain::ids::TaskId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

use crate::config::CALLBACK_KEY_FILE as KEY_FILE;

pub struct Signer {
    /// `<public_url>/callbacks/tasks`
    base: String,
    key: Vec<u8>,
}

impl Signer {
    /// Read (or make) the key under `data_dir`.
    pub fn load(data_dir: &Path, public_url: &str) -> std::io::Result<Signer> {
        let path = data_dir.join(KEY_FILE);
        let key = match std::fs::read(&path) {
            Ok(k) if k.len() >= 32 => k,
            _ => {
                let key: [u8; 32] = rand::random();
                write_private(&path, &key)?;
                key.to_vec()
            }
        };
        Ok(Signer::new(public_url, key))
    }

    pub fn new(public_url: &str, key: Vec<u8>) -> Signer {
        Signer {
            base: format!("{}/callbacks/tasks", public_url.trim_end_matches('/')),
            key,
        }
    }

    fn mac(&self, task_id: &TaskId) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(b"videoapi-task-callback\0");
        mac.update(task_id.as_bytes());
        mac
    }

    /// The URL handed to the upstream for this task.
    pub fn url(&self, task_id: &TaskId) -> String {
        let token = hex::encode(self.mac(task_id).finalize().into_bytes());
        format!("{}/{task_id}/{token}", self.base)
    }

    /// Whether `token` was made for `task_id` (compared in constant time).
    pub fn verify(&self, task_id: &TaskId, token: &str) -> bool {
        let Ok(raw) = hex::decode(token) else {
            return false;
        };
        self.mac(task_id).verify_slice(&raw).is_ok()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TaskId {
        TaskId::parse(s).unwrap()
    }

    #[test]
    fn a_token_opens_only_its_own_task() {
        let s = Signer::new("https://gw.example/", vec![7; 32]);
        let (aa, ab) = (id("vidgen_1_000000aa"), id("vidgen_1_000000ab"));
        let url = s.url(&aa);
        let token = url.rsplit('/').next().unwrap();
        assert!(url.starts_with("https://gw.example/callbacks/tasks/vidgen_1_000000aa/"));
        assert!(s.verify(&aa, token));
        assert!(!s.verify(&ab, token));
        assert!(!s.verify(&aa, &token[..10]));
        assert!(!s.verify(&aa, "not-hex"));
        let other = Signer::new("https://gw.example", vec![8; 32]);
        assert!(!other.verify(&aa, token));
    }

    #[test]
    fn the_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let a = Signer::load(dir.path(), "http://x").unwrap();
        let b = Signer::load(dir.path(), "http://x").unwrap();
        let t = id("vidgen_1_00000000");
        assert_eq!(a.url(&t), b.url(&t));
    }
}
