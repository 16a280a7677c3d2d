//! The client's address: the TCP peer, or for a trusted proxy the address it appended to `X-Forwarded-For`.

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// The resolved client address, as a request extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The peers whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug)]
pub struct TrustedProxies(pub Arc<[IpNet]>);

/// Walks `X-Forwarded-For` from the right while the hop that added the entry is a trusted proxy.
///
/// Entries left of the first untrusted hop are whatever the client wrote, so they are never believed.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    let mut client = canonical(peer);
    if !is_trusted(&client) {
        return client;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(&client) {
                    break;
                }
            }
            // A trusted proxy passed something unparsable: stop at the last address we can stand behind.
            Err(_) => break,
        }
    }
    client
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The request's client, from its TCP peer and, behind `trusted` proxies, their `X-Forwarded-For`.
pub fn of(req: &Request, trusted: &TrustedProxies) -> ClientIp {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    ClientIp(resolve(peer, req.headers(), &trusted.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_are_taken_as_they_are() {
        assert_eq!(resolve(ip("203.0.113.9"), &xff("1.2.3.4"), &[]), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_it_appended() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // The client forged "6.6.6.6"; the proxy appended the real peer, 198.51.100.7.
        assert_eq!(resolve(ip("10.1.2.3"), &xff("6.6.6.6, 198.51.100.7"), &trusted), ip("198.51.100.7"));
        // Chained trusted proxies are skipped.
        assert_eq!(resolve(ip("10.1.2.3"), &xff("198.51.100.7, 10.9.9.9"), &trusted), ip("198.51.100.7"));
        // No header: the proxy itself.
        assert_eq!(resolve(ip("10.1.2.3"), &HeaderMap::new(), &trusted), ip("10.1.2.3"));
        // Garbage from the proxy: stop at the proxy.
        assert_eq!(resolve(ip("10.1.2.3"), &xff("nonsense"), &trusted), ip("10.1.2.3"));
    }

    #[test]
    fn mapped_ipv6_peers_match_ipv4_proxies() {
        let trusted = ["127.0.0.1/32".parse().unwrap()];
        assert_eq!(resolve(ip("::ffff:127.0.0.1"), &xff("192.0.2.1"), &trusted), ip("192.0.2.1"));
    }
}
