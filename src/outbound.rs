//! The one guard for every request the gateway sends out (channel calls and test calls,
//! asset fetches, result mirroring, task callbacks): no proxy from the environment, every
//! host resolved by us and refused when any address is not public (unless a channel's
//! allow-list admits it), the connection made to exactly the checked addresses, and no
//! redirect followed by the client — whoever follows one re-checks each hop.

use crate::domain::network::{Host, is_public_ip, parse_host};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Channel setting that admits private ranges for that channel's requests.
pub const ALLOW_SETTING: &str = "allow_private_cidrs";

#[derive(Debug, Clone)]
pub enum OutboundError {
    /// The host did not resolve (may be passing).
    Unresolvable(String),
    /// The host is, or resolves to, an address the policy refuses.
    Private(String),
    /// The URL is unusable.
    Invalid(String),
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboundError::Unresolvable(m)
            | OutboundError::Private(m)
            | OutboundError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for OutboundError {}

/// Which addresses requests may reach: public ones, plus what an operator admitted.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow: Vec<IpNet>,
    any: bool,
}

impl Policy {
    /// Public addresses only (the default for everything).
    pub fn public_only() -> Policy {
        Policy::default()
    }

    /// Every address (`allow_private_callbacks`: local setups).
    pub fn any_address() -> Policy {
        Policy {
            allow: Vec::new(),
            any: true,
        }
    }

    /// Public addresses plus the given CIDRs (`"127.0.0.1/32"`, `"10.0.0.0/8"`; a bare
    /// address means just that address).
    pub fn with_cidrs<S: AsRef<str>>(cidrs: &[S]) -> Result<Policy, String> {
        let mut allow = Vec::with_capacity(cidrs.len());
        for c in cidrs {
            let c = c.as_ref().trim();
            let net = c
                .parse::<IpNet>()
                .or_else(|_| c.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{c}` is not a CIDR such as 10.0.0.0/8 or ::1/128"))?;
            allow.push(net.trunc());
        }
        Ok(Policy { allow, any: false })
    }

    /// A channel's policy from its settings (`allow_private_cidrs = ["127.0.0.1/32"]`).
    pub fn from_settings(settings: &serde_json::Value) -> Result<Policy, String> {
        match settings.get(ALLOW_SETTING) {
            None | Some(serde_json::Value::Null) => Ok(Policy::public_only()),
            Some(serde_json::Value::Array(items)) => {
                let cidrs = items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{ALLOW_SETTING} must be a list of strings"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Policy::with_cidrs(&cidrs)
            }
            Some(_) => Err(format!(
                "{ALLOW_SETTING} must be a list of CIDRs such as [\"10.0.0.0/8\"]"
            )),
        }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.any || is_public_ip(ip) || self.allow.iter().any(|n| n.contains(&ip))
    }

    /// Check what can be checked without DNS: the scheme and a literal address (the
    /// connector uses literals as they are, without asking the resolver).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Invalid(format!(
                "only http(s) URLs are fetched, not {}",
                url.scheme()
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| OutboundError::Invalid("a URL without a host".into()))?;
        let ip = match parse_host(host) {
            Host::Ip(ip) => ip,
            Host::Name(_) => return Ok(()),
            Host::Invalid => return Err(OutboundError::Invalid(format!("bad host {host}"))),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(OutboundError::Private(format!(
                "{ip} is not a public address"
            )))
        }
    }
}

/// Resolves names for a guarded client; refuses the whole name when any address is
/// refused (a name that mixes public and private addresses is not trusted).
struct GuardedResolver {
    policy: Arc<Policy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(&policy, &host).await?;
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// Resolve `host` and apply the policy: the addresses a connection may use.
pub async fn resolve(policy: &Policy, host: &str) -> Result<Vec<SocketAddr>, OutboundError> {
    let addrs: Vec<SocketAddr> = match parse_host(host) {
        Host::Ip(ip) => vec![SocketAddr::new(ip, 0)],
        Host::Invalid => return Err(OutboundError::Invalid(format!("bad host {host}"))),
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), 0))
            .await
            .map_err(|e| OutboundError::Unresolvable(format!("cannot resolve {host}: {e}")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(OutboundError::Unresolvable(format!(
            "{host} has no address"
        )));
    }
    if let Some(bad) = addrs.iter().find(|a| !policy.permits(a.ip())) {
        return Err(OutboundError::Private(format!(
            "{host} resolves to {}, which is not a public address",
            bad.ip()
        )));
    }
    Ok(addrs)
}

/// How long a guarded client waits.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// Whole request, body included (`None` for streamed downloads).
    pub total: Option<Duration>,
    /// Longest silence while reading.
    pub read: Option<Duration>,
}

/// A client that only reaches what `policy` admits, ignores `HTTP(S)_PROXY`, follows no
/// redirect and connects only to addresses its resolver checked.
pub fn client(policy: Arc<Policy>, t: Timeouts) -> reqwest::Client {
    crate::tls::ensure_crypto_provider();
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(t.connect)
        .user_agent(concat!("videoapi/", env!("CARGO_PKG_VERSION")));
    if let Some(total) = t.total {
        b = b.timeout(total);
    }
    if let Some(read) = t.read {
        b = b.read_timeout(read);
    }
    b.build().expect("static client settings are valid")
}

/// The guard's refusal inside a request error, if that is why it failed.
pub fn refusal(e: &reqwest::Error) -> Option<&OutboundError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(o) = err.downcast_ref::<OutboundError>() {
            return Some(o);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[test]
    fn literal_targets_are_checked_in_every_spelling() {
        let public = Policy::public_only();
        for u in [
            "http://127.0.0.1:9/x",
            "http://[::1]:9/x",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://0/",
            "http://127.0.0.1./",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert!(
                matches!(public.check_url(&url(u)), Err(OutboundError::Private(_))),
                "{u}"
            );
        }
        assert!(public.check_url(&url("https://8.8.8.8/")).is_ok());
        assert!(public.check_url(&url("https://example.com/")).is_ok());
        assert!(matches!(
            public.check_url(&url("ftp://8.8.8.8/")),
            Err(OutboundError::Invalid(_))
        ));
        let lo = Policy::with_cidrs(&["127.0.0.1/32"]).unwrap();
        assert!(lo.check_url(&url("http://127.0.0.1:9/x")).is_ok());
        assert!(lo.check_url(&url("http://127.0.0.2:9/x")).is_err());
        assert!(lo.check_url(&url("http://10.0.0.1/")).is_err());
        assert!(
            Policy::any_address()
                .check_url(&url("http://10.0.0.1/"))
                .is_ok()
        );
    }

    #[test]
    fn allow_lists_come_from_channel_settings() {
        use serde_json::json;
        let p =
            Policy::from_settings(&json!({"allow_private_cidrs": ["10.0.0.0/8", "::1"]})).unwrap();
        assert!(p.permits("10.9.8.7".parse().unwrap()));
        assert!(p.permits("::1".parse().unwrap()));
        assert!(p.permits("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!p.permits("192.168.0.1".parse().unwrap()));
        assert!(Policy::from_settings(&json!({})).is_ok());
        assert!(Policy::from_settings(&json!({"allow_private_cidrs": "10.0.0.0/8"})).is_err());
        assert!(Policy::from_settings(&json!({"allow_private_cidrs": ["10.0.0.0/33"]})).is_err());
        assert!(Policy::from_settings(&json!({"allow_private_cidrs": [1]})).is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        assert!(matches!(
            resolve(&Policy::public_only(), "localhost").await,
            Err(OutboundError::Private(_))
        ));
        assert!(
            resolve(
                &Policy::with_cidrs(&["127.0.0.0/8", "::1/128"]).unwrap(),
                "localhost"
            )
            .await
            .is_ok()
        );
    }

    #[tokio::test]
    async fn a_guarded_client_refuses_before_connecting() {
        let c = client(
            Arc::new(Policy::public_only()),
            Timeouts {
                connect: Duration::from_secs(1),
                total: Some(Duration::from_secs(2)),
                read: None,
            },
        );
        let err = c.get("http://localhost:9/").send().await.unwrap_err();
        assert!(
            matches!(refusal(&err), Some(OutboundError::Private(_))),
            "{err:?}"
        );
    }
}
