//! Who is on the other end of a request: the shopper's address and whether they came over TLS.
//! Behind a reverse proxy both come from `X-Forwarded-For` / `X-Forwarded-Proto`, but only when
//! the peer is one of `TRUSTED_PROXIES`: anyone else could write those headers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use jishi_app::platform_client::ShopperSession;

use crate::{session, AppState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// `None` when the server was reached without a socket (in-process tests).
    pub ip: Option<IpAddr>,
    pub secure: bool,
}

fn trusted(ip: &IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(ip))
}

impl ClientInfo {
    pub fn from_parts(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[IpNet]) -> Self {
        let Some(peer) = peer.filter(|p| trusted(p, proxies)) else {
            return ClientInfo {
                ip: peer,
                secure: false,
            };
        };
        // The nearest hop that is not one of ours is the client; further left is what the
        // client itself wrote, which anyone can forge.
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let ip = forwarded
            .iter()
            .rev()
            .find(|ip| !trusted(ip, proxies))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer);
        let secure = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        ClientInfo {
            ip: Some(ip),
            secure,
        }
    }
}

/// Puts `ClientInfo` and the shopper's session token (from the cookie that counts for this
/// scheme) into the request's extensions, for the proxy and for page rendering alike.
pub async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let info = ClientInfo::from_parts(peer, request.headers(), &state.edge.trusted_proxies);
    if let Some(token) = session::token(request.headers(), info.secure) {
        request.extensions_mut().insert(ShopperSession(token));
    }
    request.extensions_mut().insert(info);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &str, proto: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h.insert("x-forwarded-proto", HeaderValue::from_str(proto).unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies = crate::settings::parse_trusted_proxies("10.0.0.0/8").unwrap();
        let h = headers("6.6.6.6, 203.0.113.7, 10.0.0.2", "https");
        // A stranger's headers are ignored: the peer is the client, and not over TLS.
        let direct = ClientInfo::from_parts(Some(ip("198.51.100.1")), &h, &proxies);
        assert_eq!(direct.ip, Some(ip("198.51.100.1")));
        assert!(!direct.secure);
        // Through our proxy: the nearest untrusted hop, not the forgeable leftmost entry.
        let proxied = ClientInfo::from_parts(Some(ip("10.0.0.1")), &h, &proxies);
        assert_eq!(proxied.ip, Some(ip("203.0.113.7")));
        assert!(proxied.secure);
        // No proxies configured: nothing is believed.
        let none = ClientInfo::from_parts(Some(ip("10.0.0.1")), &h, &[]);
        assert_eq!(none.ip, Some(ip("10.0.0.1")));
        assert!(!none.secure);
    }
}
