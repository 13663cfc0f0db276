//! Who the client is: the peer address, or the hop a trusted reverse proxy reports in
//! `X-Forwarded-For` / `Forwarded` (pure: headers and the trusted list are passed in).

use ipnet::IpNet;
use std::net::IpAddr;

/// Parse one `trusted_proxies` entry: a CIDR (`10.0.0.0/8`, `::1/128`) or a bare address
/// (taken as a single host).
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{s}` is not an IP address or CIDR range"))
}

/// Whether `ip` lies in one of the trusted ranges.
pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client's address for a request that arrived from `peer`.
///
/// Headers count only when `peer` is a trusted proxy; otherwise anyone could claim any
/// address. The hops of `X-Forwarded-For` (or, when that header is absent, the `for=`
/// parameters of `Forwarded`) are walked from the right: each trusted hop is skipped, the
/// first untrusted one is the client. Hops to its left were written by the client itself
/// and are never believed. A hop that is not an address (`unknown`, an obfuscated name)
/// ends the walk at the last address known.
pub fn client_addr(
    peer: IpAddr,
    x_forwarded_for: &[&str],
    forwarded: &[&str],
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    if trusted.is_empty() || !is_trusted(peer, trusted) {
        return peer;
    }
    // Prefer X-Forwarded-For: the common proxies (nginx, Caddy, Traefik) append to it, and
    // a `Forwarded` header they do not manage is entirely the client's invention.
    let hops = if x_forwarded_for.iter().any(|v| !v.trim().is_empty()) {
        xff_hops(x_forwarded_for)
    } else {
        forwarded_hops(forwarded)
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                client = *ip;
                if !is_trusted(*ip, trusted) {
                    return client;
                }
            }
            None => return client,
        }
    }
    client
}

/// The hops of `X-Forwarded-For` headers, left to right (`None`: not an address).
pub fn xff_hops(values: &[&str]) -> Vec<Option<IpAddr>> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(parse_node)
        .collect()
}

/// The `for=` nodes of `Forwarded` headers (RFC 7239), left to right.
pub fn forwarded_hops(values: &[&str]) -> Vec<Option<IpAddr>> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(value.trim()))
            })
        })
        .collect()
}

/// One node: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:443`, quoted or not.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (inner, _) = rest.split_once(']')?;
        return inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The unit a rate limit counts per address: the IPv4 address, or the IPv6 /64 (one
/// subscriber usually holds a whole /64 and could rotate through it).
pub fn rate_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| parse_cidr(s).unwrap()).collect()
    }

    #[test]
    fn cidrs_and_bare_addresses_parse() {
        assert_eq!(
            parse_cidr("127.0.0.1/32").unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_cidr(" ::1 ").unwrap().to_string(), "::1/128");
        assert_eq!(parse_cidr("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("proxy.local").is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_its_headers_say() {
        let t = nets(&["10.0.0.0/8"]);
        let peer = ip("203.0.113.9");
        assert_eq!(client_addr(peer, &["1.1.1.1"], &[], &t), peer);
        assert_eq!(client_addr(peer, &[], &["for=1.1.1.1"], &t), peer);
        assert_eq!(
            client_addr(ip("10.0.0.1"), &["1.1.1.1"], &[], &[]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let t = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let proxy = ip("127.0.0.1");
        // The client forged the first hop; nginx appended the real address.
        assert_eq!(
            client_addr(proxy, &["6.6.6.6, 198.51.100.4"], &[], &t),
            ip("198.51.100.4")
        );
        // Two proxies: the inner one is trusted too and skipped.
        assert_eq!(
            client_addr(proxy, &["6.6.6.6", "198.51.100.4, 10.1.1.1"], &[], &t),
            ip("198.51.100.4")
        );
        // Ports and brackets are tolerated.
        assert_eq!(
            client_addr(proxy, &["[2001:db8::5]:4711"], &[], &t),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_addr(proxy, &["198.51.100.4:5555"], &[], &t),
            ip("198.51.100.4")
        );
        // A trusted proxy that sent no header: the proxy itself.
        assert_eq!(client_addr(proxy, &[], &[], &t), proxy);
        // Every hop trusted: the leftmost.
        assert_eq!(client_addr(proxy, &["10.2.2.2"], &[], &t), ip("10.2.2.2"));
        // Garbage stops the walk at the last known address.
        assert_eq!(
            client_addr(proxy, &["198.51.100.4, unknown"], &[], &t),
            proxy
        );
    }

    #[test]
    fn forwarded_is_read_only_without_x_forwarded_for() {
        let t = nets(&["127.0.0.1/32"]);
        let proxy = ip("127.0.0.1");
        assert_eq!(
            client_addr(
                proxy,
                &[],
                &["for=6.6.6.6;proto=https, For=\"[2001:db8:cafe::17]:4711\";by=x"],
                &t
            ),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client_addr(proxy, &["198.51.100.4"], &["for=6.6.6.6"], &t),
            ip("198.51.100.4")
        );
        assert_eq!(client_addr(proxy, &[], &["for=_hidden"], &t), proxy);
    }

    #[test]
    fn mapped_ipv4_is_treated_as_ipv4() {
        let t = nets(&["127.0.0.1/32"]);
        assert_eq!(
            client_addr(ip("::ffff:127.0.0.1"), &["198.51.100.4"], &[], &t),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn ipv6_rate_keys_cover_a_slash_64() {
        assert_eq!(rate_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(
            rate_key(ip("2001:db8:1:2:aaaa::1")),
            rate_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:3::1"))
        );
    }
}
