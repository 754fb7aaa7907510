//! Who is on the other end of a request, for the audit trail and the throttles.

use std::convert::Infallible;
use std::net::SocketAddr;

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::AppState;
use super::observe::current_request_id;
use crate::audit::RequestContext;

/// The peer address, user agent and request id of this request.
#[derive(Debug, Clone)]
pub struct Client(pub RequestContext);

impl FromRequestParts<AppState> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = peer
            .map(|peer| client_ip(peer, &parts.headers, &state.config.trusted_proxies))
            .map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        Ok(Self(RequestContext::new(
            ip.as_deref(),
            user_agent,
            current_request_id().as_deref(),
        )))
    }
}

/// The address a request came from: the TCP peer, unless the peer is one of our own load
/// balancers, in which case the nearest address in `X-Forwarded-For` that is not ours. A
/// client can put anything in that header, so only the hops our proxies appended count.
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut nearest = peer;
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => nearest = ip,
            Ok(ip) => return ip,
            Err(_) => return nearest,
        }
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(value));
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_our_own_proxies() {
        let lb = [ip("10.0.0.5")];
        // Straight from the internet: the header is the client's own invention.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &xff("198.51.100.1"), &lb),
            ip("203.0.113.9")
        );
        // Through our balancer: the hop it appended.
        assert_eq!(
            client_ip(ip("10.0.0.5"), &xff("198.51.100.1"), &lb),
            ip("198.51.100.1")
        );
        // A client-forged entry before the real hop is ignored.
        assert_eq!(
            client_ip(ip("10.0.0.5"), &xff("1.2.3.4, 198.51.100.1"), &lb),
            ip("198.51.100.1")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            client_ip(ip("10.0.0.5"), &xff("not-an-ip"), &lb),
            ip("10.0.0.5")
        );
        assert_eq!(
            client_ip(ip("10.0.0.5"), &HeaderMap::new(), &lb),
            ip("10.0.0.5")
        );
    }
}
