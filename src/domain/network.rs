//! Which addresses a server-side request may reach: callbacks must not be turned against
//! the gateway's own network (SSRF).

use std::net::IpAddr;

/// The host part of an http(s) URL (brackets removed from IPv6 literals).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    let host = host_port.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

/// True for addresses on the public internet; false for loopback, private, link-local,
/// shared, documentation, multicast and unspecified ranges.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// A host name or literal that is obviously internal, caught before a task is created.
pub fn is_internal_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    if h == "localhost"
        || h.ends_with(".localhost")
        || h.ends_with(".internal")
        || h.ends_with(".local")
    {
        return true;
    }
    h.parse::<IpAddr>().is_ok_and(|ip| !is_public_ip(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_extracted_from_urls() {
        assert_eq!(
            url_host("https://hooks.example.com/x?y"),
            Some("hooks.example.com")
        );
        assert_eq!(url_host("http://user:pw@10.0.0.1:8080/a"), Some("10.0.0.1"));
        assert_eq!(url_host("http://[::1]:9/a"), Some("::1"));
        assert_eq!(url_host("nope"), None);
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for h in [
            "localhost",
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            assert!(is_internal_host(h), "{h}");
        }
        for h in ["hooks.example.com", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_internal_host(h), "{h}");
        }
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fc00::1",
            "100.64.0.1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public_ip("8.8.8.8".parse().unwrap()));
    }
}
