//! The client address of a request, honouring `trusted_proxies` (one function for every
//! per-client rule: login throttles today, API-key address allow-lists later).

use crate::app::AppState;
use crate::domain::client_addr;
use poem::Request;
use std::net::IpAddr;

/// The client's address: the TCP peer, or what a trusted reverse proxy says it forwarded
/// for. `None` only when the connection has no IP peer (e.g. a Unix socket).
pub fn client_addr(req: &Request) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr()?.ip();
    let trusted = req
        .data::<AppState>()
        .map(|s| s.config.trusted_proxies.as_slice())
        .unwrap_or(&[]);
    Some(resolve(req, peer, trusted))
}

fn resolve(req: &Request, peer: IpAddr, trusted: &[ipnet::IpNet]) -> IpAddr {
    if trusted.is_empty() {
        return peer.to_canonical();
    }
    let values = |name: &str| -> Vec<&str> {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    client_addr::client_addr(
        peer,
        &values("x-forwarded-for"),
        &values("forwarded"),
        trusted,
    )
}
