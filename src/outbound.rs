//! Requests to addresses that callers chose (task callbacks, asset URLs): resolve once,
//! refuse non-public addresses, then connect to exactly what was checked and follow no
//! redirect, so neither DNS rebinding nor a redirect can reach the gateway's own network.

use crate::domain::network::is_public_ip;
use std::time::Duration;

#[derive(Debug)]
pub enum OutboundError {
    /// The host did not resolve (may be passing).
    Unresolvable(String),
    /// The host is, or resolves to, a loopback/private/link-local address.
    Private(String),
    /// The URL is unusable or the client could not be built.
    Invalid(String),
}

/// A one-off client pinned to the checked address of `url`'s host. With
/// `allow_private` (local setups, tests) private addresses are accepted too.
pub async fn pinned_client(
    url: &str,
    allow_private: bool,
    timeout: Duration,
) -> Result<reqwest::Client, OutboundError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| OutboundError::Invalid(format!("not a URL: {url}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| OutboundError::Invalid(format!("no host in {url}")))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| OutboundError::Unresolvable(format!("cannot resolve {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(OutboundError::Unresolvable(format!(
            "{host} has no address"
        )));
    }
    if !allow_private && addrs.iter().any(|a| !is_public_ip(a.ip())) {
        return Err(OutboundError::Private(format!(
            "{host} resolves to a non-public address"
        )));
    }
    crate::tls::ensure_crypto_provider();
    reqwest::Client::builder()
        .resolve(&host, addrs[0])
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| OutboundError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        let t = Duration::from_secs(1);
        assert!(matches!(
            pinned_client("http://127.0.0.1:9/x", false, t).await,
            Err(OutboundError::Private(_))
        ));
        assert!(matches!(
            pinned_client("http://[::1]:9/x", false, t).await,
            Err(OutboundError::Private(_))
        ));
        assert!(pinned_client("http://127.0.0.1:9/x", true, t).await.is_ok());
        assert!(matches!(
            pinned_client("not a url", true, t).await,
            Err(OutboundError::Invalid(_))
        ));
    }
}
