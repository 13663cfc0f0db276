//! Which addresses a server-side request may reach: callbacks, asset fetches, result
//! mirroring and channel calls must not be turned against the gateway's own network (SSRF).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host part of an http(s) URL (brackets removed from IPv6 literals).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    // `\` ends the authority too: URL parsers treat it as `/` in http(s) URLs.
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
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

/// IPv4 special-purpose ranges (IANA registry) that are not the public internet.
const V4_SPECIAL: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared address space (CGN)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local (cloud metadata lives here)
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, includes 255.255.255.255
];

/// IPv6 special-purpose ranges (IANA registry) that are not the public internet.
/// `::ffff:0:0/96` (IPv4-mapped) is handled apart: the embedded IPv4 address decides.
const V6_SPECIAL: &[(Ipv6Addr, u8)] = &[
    // ::/96 holds ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d.
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96),
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96), // NAT64
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),     // discard-only
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),    // IETF protocol assignments
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),    // 6to4 (embeds any IPv4)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),    // documentation
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16),    // segment routing SIDs
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),     // unique local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),    // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),    // site-local (deprecated)
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),     // multicast
];

fn in_v4(ip: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, (net, len): (Ipv6Addr, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// True for addresses on the public internet; false for every IANA special-purpose range
/// that is not globally reachable (loopback, private, link-local, shared, documentation,
/// benchmarking, multicast, reserved, NAT64, 6to4, ...). IPv4-mapped IPv6 addresses are
/// judged by the IPv4 address they carry.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !V4_SPECIAL.iter().any(|r| in_v4(v4, *r)),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            !V6_SPECIAL.iter().any(|r| in_v6(v6, *r))
        }
    }
}

/// A URL host as the system resolver will read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A literal address, in any spelling `inet_aton` accepts (`2130706433`, `127.1`,
    /// `0177.0.0.1`, `0x7f.1`, `0`, trailing dot) or a bracketed/plain IPv6 literal.
    Ip(IpAddr),
    /// A name that needs DNS (lower-cased, one trailing dot removed).
    Name(String),
    /// Numeric, but not an address (a part out of range): never valid.
    Invalid,
}

/// Read `host` the way the resolver will, so that a check at create time sees the
/// address a delivery would connect to.
pub fn parse_host(host: &str) -> Host {
    let h = host.trim();
    if let Some(inner) = h.strip_prefix('[') {
        return match inner
            .strip_suffix(']')
            .and_then(|v| v.parse::<Ipv6Addr>().ok())
        {
            Some(v6) => Host::Ip(IpAddr::V6(v6)),
            None => Host::Invalid,
        };
    }
    if let Ok(v6) = h.parse::<Ipv6Addr>() {
        return Host::Ip(IpAddr::V6(v6));
    }
    let lower = h.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name.is_empty() {
        return Host::Invalid;
    }
    match numeric_ipv4(name) {
        Some(Some(v4)) => Host::Ip(IpAddr::V4(v4)),
        Some(None) => Host::Invalid,
        None => Host::Name(name.to_string()),
    }
}

/// `inet_aton` numbers-and-dots: 1 to 4 parts, each decimal, octal (leading `0`) or hex
/// (`0x`); the last part fills the remaining bytes. `None`: not numeric (a name);
/// `Some(None)`: numeric but out of range.
fn numeric_ipv4(s: &str) -> Option<Option<Ipv4Addr>> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let n = if let Some(hex) = p.strip_prefix("0x") {
            if hex.is_empty() {
                0
            } else if hex.chars().all(|c| c.is_ascii_hexdigit()) {
                match u64::from_str_radix(hex, 16) {
                    Ok(n) => n,
                    Err(_) => return Some(None),
                }
            } else {
                return None;
            }
        } else if p.len() > 1 && p.starts_with('0') {
            if !p.chars().all(|c| ('0'..='7').contains(&c)) {
                return None;
            }
            match u64::from_str_radix(p, 8) {
                Ok(n) => n,
                Err(_) => return Some(None),
            }
        } else if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) {
            match p.parse::<u64>() {
                Ok(n) => n,
                Err(_) => return Some(None),
            }
        } else {
            return None;
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&n| n > 255) {
        return Some(None);
    }
    let last_bits = 8 * (4 - head.len() as u32);
    if *last >= 1u64 << last_bits {
        return Some(None);
    }
    let mut v: u32 = 0;
    for (i, &n) in head.iter().enumerate() {
        v |= (n as u32) << (24 - 8 * i as u32);
    }
    v |= *last as u32;
    Some(Some(Ipv4Addr::from(v)))
}

/// A host name or literal that is internal (or not a usable host at all), caught before a
/// task is created.
pub fn is_internal_host(host: &str) -> bool {
    match parse_host(host) {
        Host::Ip(ip) => !is_public_ip(ip),
        Host::Invalid => true,
        Host::Name(h) => {
            h == "localhost"
                || h.ends_with(".localhost")
                || h.ends_with(".internal")
                || h.ends_with(".local")
        }
    }
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
        assert_eq!(url_host("http://a\\@127.0.0.1/"), Some("a"));
        assert_eq!(url_host("nope"), None);
    }

    #[test]
    fn hosts_are_read_as_the_resolver_reads_them() {
        let v4 = |s: &str| Host::Ip(IpAddr::V4(s.parse().unwrap()));
        let v6 = |s: &str| Host::Ip(IpAddr::V6(s.parse().unwrap()));
        for (input, want) in [
            ("127.0.0.1", v4("127.0.0.1")),
            ("2130706433", v4("127.0.0.1")),
            ("127.1", v4("127.0.0.1")),
            ("127.0.1", v4("127.0.0.1")),
            ("0177.0.0.1", v4("127.0.0.1")),
            ("0x7f.1", v4("127.0.0.1")),
            ("0X7F.0.0.1", v4("127.0.0.1")),
            ("0x7f000001", v4("127.0.0.1")),
            ("017700000001", v4("127.0.0.1")),
            ("0", v4("0.0.0.0")),
            ("127.0.0.1.", v4("127.0.0.1")),
            ("169.254.43518", v4("169.254.169.254")),
            ("10.0x10.1", v4("10.16.0.1")),
            ("8.8.8.8", v4("8.8.8.8")),
            ("[::1]", v6("::1")),
            ("::1", v6("::1")),
            ("[::ffff:127.0.0.1]", v6("::ffff:7f00:1")),
            ("Hooks.Example.COM.", Host::Name("hooks.example.com".into())),
            ("1.2.3.4.5", Host::Name("1.2.3.4.5".into())),
            ("0x7g.1", Host::Name("0x7g.1".into())),
            ("08.1", Host::Name("08.1".into())),
            ("1e3", Host::Name("1e3".into())),
            ("256.0.0.1", Host::Invalid),
            ("4294967296", Host::Invalid),
            ("1.16777216", Host::Invalid),
            ("[not-v6]", Host::Invalid),
            (".", Host::Invalid),
        ] {
            assert_eq!(parse_host(input), want, "{input}");
        }
    }

    #[test]
    fn internal_hosts_are_recognised_in_every_spelling() {
        for h in [
            "localhost",
            "api.localhost",
            "metadata.google.internal",
            "printer.local",
            "127.0.0.1",
            "2130706433",
            "127.1",
            "0177.0.0.1",
            "0x7f.1",
            "0",
            "127.0.0.1.",
            "[::1]",
            "::1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "fd00::1",
            "100.64.0.1",
            "0.0.0.0",
            "999.1.1.1",
        ] {
            assert!(is_internal_host(h), "{h}");
        }
        for h in ["hooks.example.com", "8.8.8.8", "2606:4700::1111", "1.1"] {
            assert!(!is_internal_host(h), "{h}");
        }
    }

    #[test]
    fn special_purpose_ranges_are_not_public() {
        for ip in [
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:1ff::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "::127.0.0.1",
            "::8.8.8.8",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.88.98.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "2001:200::1",
            "2606:4700::1111",
            "2a00:1450::1",
            "64:ff9b:2::1",
        ] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }
}
