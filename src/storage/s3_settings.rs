//! The `[storage]` keys of the S3 backend: read from the TOML file and `VIDEOAPI_STORAGE_*`,
//! checked (a bad or missing key stops the start, named), secrets from `*_file`.

use std::path::{Path, PathBuf};

/// How a stored file is answered: a 302 to a presigned URL, or streamed through us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Serve {
    #[default]
    Redirect,
    Proxy,
}

/// A resolved, checked `[storage]` S3 section.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// `http(s)://host:port` of an S3-compatible service; `None` = AWS.
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Key prefix inside the bucket: empty or ending with `/`.
    pub prefix: String,
    pub serve: Serve,
    pub presign_seconds: u64,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log line.
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            .field("prefix", &self.prefix)
            .field("serve", &self.serve)
            .field("presign_seconds", &self.presign_seconds)
            .finish_non_exhaustive()
    }
}

/// Which backend stores media, and the S3 settings when given (also with `local`, for
/// `videoapi storage migrate --to s3`).
#[derive(Debug, Clone, Default)]
pub struct BackendChoice {
    pub use_s3: bool,
    pub s3: Option<S3Settings>,
}

impl BackendChoice {
    /// The S3 settings when the active backend is S3.
    pub fn active_s3(&self) -> Option<&S3Settings> {
        self.s3.as_ref().filter(|_| self.use_s3)
    }
}

/// The `[storage]` backend keys as written (TOML, then `VIDEOAPI_STORAGE_*` env on top).
#[derive(Debug, Clone, Default)]
pub struct BackendOptions {
    pub backend: Option<String>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub path_style: Option<bool>,
    pub access_key_id: Option<String>,
    pub access_key_id_file: Option<PathBuf>,
    pub secret_access_key: Option<String>,
    pub secret_access_key_file: Option<PathBuf>,
    pub prefix: Option<String>,
    pub serve: Option<String>,
    pub presign_seconds: Option<u64>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn secret_file(key: &str, path: &Path) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("storage.{key}_file: cannot read {}: {e}", path.display()))?;
    Ok(s.trim().to_string())
}

impl BackendOptions {
    /// `VIDEOAPI_STORAGE_<KEY>` over the file's values (`*_FILE` for the two secrets).
    pub fn apply_env(&mut self) -> anyhow::Result<()> {
        let text = |name: &str, slot: &mut Option<String>| {
            if let Some(v) = env(&format!("VIDEOAPI_STORAGE_{name}")) {
                *slot = Some(v);
            }
        };
        text("BACKEND", &mut self.backend);
        text("BUCKET", &mut self.bucket);
        text("REGION", &mut self.region);
        text("ENDPOINT", &mut self.endpoint);
        text("PREFIX", &mut self.prefix);
        text("SERVE", &mut self.serve);
        if let Some(v) = env("VIDEOAPI_STORAGE_PATH_STYLE") {
            self.path_style = Some(v.trim().parse().map_err(|_| {
                anyhow::anyhow!("VIDEOAPI_STORAGE_PATH_STYLE={v} is not true or false")
            })?);
        }
        if let Some(v) = env("VIDEOAPI_STORAGE_PRESIGN_SECONDS") {
            self.presign_seconds = Some(v.trim().parse().map_err(|_| {
                anyhow::anyhow!("VIDEOAPI_STORAGE_PRESIGN_SECONDS={v} is not a number of seconds")
            })?);
        }
        for (name, value, file) in [
            (
                "ACCESS_KEY_ID",
                &mut self.access_key_id,
                &mut self.access_key_id_file,
            ),
            (
                "SECRET_ACCESS_KEY",
                &mut self.secret_access_key,
                &mut self.secret_access_key_file,
            ),
        ] {
            if let Some(v) = env(&format!("VIDEOAPI_STORAGE_{name}")) {
                *value = Some(v);
            } else if let Some(f) = env(&format!("VIDEOAPI_STORAGE_{name}_FILE")) {
                *value = None;
                *file = Some(PathBuf::from(f));
            }
        }
        Ok(())
    }

    /// Check every key and read the secret files. An incomplete S3 section is refused
    /// only when it is the active backend (or half written: a bucket without keys).
    pub fn resolve(&self) -> anyhow::Result<BackendChoice> {
        let use_s3 = match self.backend.as_deref().map(str::trim) {
            None | Some("local") => false,
            Some("s3") => true,
            Some(other) => {
                anyhow::bail!("storage.backend must be \"local\" or \"s3\" (got \"{other}\")")
            }
        };
        if !use_s3 && self.bucket.is_none() {
            return Ok(BackendChoice { use_s3, s3: None });
        }
        let bucket = self.bucket.clone().unwrap_or_default();
        if bucket.trim().is_empty() {
            anyhow::bail!(
                "storage.bucket (VIDEOAPI_STORAGE_BUCKET) is required with storage.backend = \"s3\""
            );
        }
        let bucket = bucket.trim().to_string();
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid {
            anyhow::bail!(
                "storage.bucket \"{bucket}\" is not a bucket name (3-63 lower-case letters, digits, '-' or '.')"
            );
        }
        let secret = |key: &str, value: &Option<String>, file: &Option<PathBuf>| {
            let v = match (value, file) {
                (Some(v), _) => v.trim().to_string(),
                (None, Some(f)) => secret_file(key, f)?,
                (None, None) => String::new(),
            };
            if v.is_empty() {
                let env = key.to_ascii_uppercase();
                anyhow::bail!(
                    "storage.{key} (or storage.{key}_file, VIDEOAPI_STORAGE_{env}, VIDEOAPI_STORAGE_{env}_FILE) is required with an S3 bucket"
                );
            }
            Ok(v)
        };
        let access_key_id = secret(
            "access_key_id",
            &self.access_key_id,
            &self.access_key_id_file,
        )?;
        let secret_access_key = secret(
            "secret_access_key",
            &self.secret_access_key,
            &self.secret_access_key_file,
        )?;
        let endpoint = match self.endpoint.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(e) if e.starts_with("http://") || e.starts_with("https://") => {
                Some(e.trim_end_matches('/').to_string())
            }
            Some(e) => {
                anyhow::bail!("storage.endpoint must start with http:// or https:// (got \"{e}\")")
            }
        };
        let region = self
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("us-east-1")
            .to_string();
        let prefix = self
            .prefix
            .as_deref()
            .unwrap_or("")
            .trim()
            .trim_matches('/');
        if prefix
            .split('/')
            .any(|s| s == "." || s == ".." || (s.is_empty() && !prefix.is_empty()))
        {
            anyhow::bail!(
                "storage.prefix \"{prefix}\" must be path segments like \"media/videoapi\""
            );
        }
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let serve = match self.serve.as_deref().map(str::trim) {
            None | Some("redirect") => Serve::Redirect,
            Some("proxy") => Serve::Proxy,
            Some(other) => {
                anyhow::bail!("storage.serve must be \"redirect\" or \"proxy\" (got \"{other}\")")
            }
        };
        let presign_seconds = self.presign_seconds.unwrap_or(300);
        if !(1..=604_800).contains(&presign_seconds) {
            anyhow::bail!(
                "storage.presign_seconds must be between 1 and 604800 (7 days, the S3 maximum)"
            );
        }
        Ok(BackendChoice {
            use_s3,
            s3: Some(S3Settings {
                bucket,
                region,
                path_style: self.path_style.unwrap_or(endpoint.is_some()),
                endpoint,
                access_key_id,
                secret_access_key,
                prefix,
                serve,
                presign_seconds,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> BackendOptions {
        BackendOptions {
            backend: Some("s3".into()),
            bucket: Some("media".into()),
            access_key_id: Some("AK".into()),
            secret_access_key: Some("SK".into()),
            ..Default::default()
        }
    }

    #[test]
    fn an_incomplete_s3_section_names_the_missing_key() {
        let mut o = opts();
        o.bucket = None;
        assert!(
            o.resolve()
                .unwrap_err()
                .to_string()
                .contains("storage.bucket")
        );
        let mut o = opts();
        o.secret_access_key = None;
        let err = o.resolve().unwrap_err().to_string();
        assert!(err.contains("storage.secret_access_key"), "{err}");
        let mut o = opts();
        o.serve = Some("copy".into());
        assert!(
            o.resolve()
                .unwrap_err()
                .to_string()
                .contains("storage.serve")
        );
        let mut o = opts();
        o.backend = Some("ftp".into());
        assert!(
            o.resolve()
                .unwrap_err()
                .to_string()
                .contains("storage.backend")
        );
        let mut o = opts();
        o.endpoint = Some("minio:9000".into());
        assert!(
            o.resolve()
                .unwrap_err()
                .to_string()
                .contains("storage.endpoint")
        );
        let mut o = opts();
        o.presign_seconds = Some(0);
        assert!(
            o.resolve()
                .unwrap_err()
                .to_string()
                .contains("presign_seconds")
        );
        let mut o = opts();
        o.bucket = Some("Bad_Bucket".into());
        assert!(
            o.resolve()
                .unwrap_err()
                .to_string()
                .contains("storage.bucket")
        );
    }

    #[test]
    fn defaults_and_prefix_are_normalised() {
        let mut o = opts();
        o.prefix = Some("/media/videoapi/".into());
        o.endpoint = Some("http://127.0.0.1:9000/".into());
        let c = o.resolve().unwrap();
        let s = c.active_s3().unwrap();
        assert_eq!(s.prefix, "media/videoapi/");
        assert_eq!(s.region, "us-east-1");
        assert_eq!(s.serve, Serve::Redirect);
        assert_eq!(s.presign_seconds, 300);
        assert!(s.path_style, "a custom endpoint defaults to path style");
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(!format!("{s:?}").contains("SK"));
        let local = BackendOptions::default().resolve().unwrap();
        assert!(!local.use_s3 && local.s3.is_none());
    }
}
