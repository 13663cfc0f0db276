//! A channel's credentials: one or several keys (one per line or comma-separated in
//! `api_key`, with matching secrets in `api_secret` where the upstream needs a pair).
//! Tasks remember a key by its fingerprint, never by the key itself, so a task is always
//! polled with the key that submitted it.

use super::{ProviderError, ProviderResult};
use crate::domain::catalog::ProviderConfig;
use crate::error::AppError;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct Credential {
    /// Short, stable, non-reversible id of the key (what tasks record).
    pub id: String,
    pub key: String,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("id", &self.id).finish()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Keyring {
    creds: Vec<Credential>,
}

fn split(s: &str) -> Vec<String> {
    let keys = s.split(['\n', ',']).map(str::trim);
    keys.filter(|k| !k.is_empty()).map(str::to_string).collect()
}

pub fn fingerprint(key: &str) -> String {
    hex::encode(&Sha256::digest(format!("videoapi-credential:{key}").as_bytes())[..6])
}

impl Keyring {
    /// Parse the channel's keys; `needs_secret` adapters require one secret per key.
    pub fn from_config(
        cfg: &ProviderConfig,
        needs_key: bool,
        needs_secret: bool,
    ) -> Result<Keyring, AppError> {
        let (keys, secrets, kind) = (split(&cfg.api_key), split(&cfg.api_secret), &cfg.kind);
        if needs_key && keys.is_empty() {
            let msg = format!("a `{kind}` channel needs an api_key");
            return Err(AppError::invalid("api_key", msg));
        }
        if needs_secret && secrets.len() != keys.len() {
            let counts = format!("{} keys, {} secrets", keys.len(), secrets.len());
            let msg = format!("a `{kind}` channel needs one api_secret per api_key ({counts})");
            return Err(AppError::invalid("api_secret", msg));
        }
        let creds = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| Credential {
                id: fingerprint(&key),
                secret: secrets.get(i).cloned().unwrap_or_default(),
                key,
            })
            .collect();
        Ok(Keyring { creds })
    }

    pub fn ids(&self) -> Vec<String> {
        self.creds.iter().map(|c| c.id.clone()).collect()
    }

    pub fn all(&self) -> &[Credential] {
        &self.creds
    }

    /// The credential a task recorded (or the first one for tasks from before keys were
    /// recorded). A key that was removed from the channel is a channel problem: the task
    /// backs off until the key returns or its deadline refunds it.
    pub fn get(&self, id: Option<&str>) -> ProviderResult<&Credential> {
        let Some(id) = id else {
            let msg = "the channel has no API key configured";
            let first = self.creds.first();
            return first.ok_or_else(|| ProviderError::channel("no_credentials", msg));
        };
        let msg = "the key this task was submitted with is no longer configured on the channel";
        let found = self.creds.iter().find(|c| c.id == id);
        found.ok_or_else(|| ProviderError::channel("credential_removed", msg))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An enabled channel with these keys, for tests.
    pub(in crate::providers) fn channel(key: &str, secret: &str) -> ProviderConfig {
        ProviderConfig {
            name: "c".into(),
            kind: "kling".into(),
            base_url: String::new(),
            api_key: key.into(),
            api_secret: secret.into(),
            enabled: true,
            priority: 0,
            weight: 1,
            settings: serde_json::Value::Null,
        }
    }

    #[test]
    fn several_keys_pair_with_their_secrets_and_are_found_by_fingerprint() {
        let k = Keyring::from_config(&channel("ak1\nak2", "sk1, sk2"), true, true).unwrap();
        let ids = k.ids();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        assert!(!ids[0].contains("ak1"));
        let c = k.get(Some(&ids[1])).unwrap();
        assert_eq!((c.key.as_str(), c.secret.as_str()), ("ak2", "sk2"));
        assert_eq!(k.get(None).unwrap().key, "ak1");
        assert!(matches!(
            k.get(Some("gone")),
            Err(ProviderError::Channel { .. })
        ));
    }

    #[test]
    fn missing_keys_or_unpaired_secrets_are_refused() {
        assert!(Keyring::from_config(&channel("", ""), true, false).is_err());
        let e = Keyring::from_config(&channel("a\nb", "s"), true, true).unwrap_err();
        assert_eq!(e.param().as_deref(), Some("api_secret"));
        assert!(Keyring::from_config(&channel("", ""), false, false).is_ok());
    }
}
