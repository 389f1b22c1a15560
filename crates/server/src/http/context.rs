//! The [`RequestContext`] of an HTTP request: its request id and the address of the client
//! it comes from — the socket's peer, or, when that peer is one of the `trusted_proxies`,
//! the client the proxy names in `Forwarded` (RFC 7239) or `X-Forwarded-For`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::AppState;
use crate::context::RequestContext;

/// The header carrying the request id; set by the server if the caller sent none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest request id taken from a caller; a longer one is replaced by the server's own.
const MAX_REQUEST_ID_LEN: usize = 64;

/// The client address a request was resolved to (by [`resolve_client_address`]).
#[derive(Debug, Clone, Copy)]
struct ClientAddress(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let source = parts
            .extensions
            .get::<ClientAddress>()
            .map(|ClientAddress(ip)| *ip)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip())
            })
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(Self { request_id, source })
    }
}

/// Middleware: works out once which client a request comes from (see [`client_address`]).
pub async fn resolve_client_address(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(peer) = peer {
        let client = client_address(peer, request.headers(), &app.settings.trusted_proxies);
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

/// Middleware: a caller's `x-request-id` is kept only in a short, safe form (letters, digits
/// and `-_.:`, at most 64 characters), because it goes into logs and the audit log; any other
/// is dropped, and the server then gives the request an id of its own.
pub async fn drop_unsafe_request_id(mut request: Request, next: Next) -> Response {
    let unsafe_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .is_some_and(|v| !is_safe_request_id(v));
    if unsafe_id || request.headers().get_all(REQUEST_ID_HEADER).iter().count() > 1 {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

fn is_safe_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// The client a request comes from. The socket's `peer` unless it is a trusted proxy; then
/// the hops the proxies recorded (`Forwarded: for=…` if present, else `X-Forwarded-For`)
/// are read from the right, each one appended by the hop before it, and the first address
/// that is not itself a trusted proxy is the client. Anything to its left was written by the
/// client and proves nothing. A hop that cannot be read stops the walk at the last address
/// known to be true.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop else { break };
        client = *ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The hops of `Forwarded` (its `for=` parameters), or of `X-Forwarded-For` when there is no
/// `Forwarded` header, in order; `None` for a hop that names no IP address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (key, value) = pair.split_once('=')?;
                        key.trim().eq_ignore_ascii_case("for").then_some(value)
                    })
                    .and_then(parse_node)
            })
            .collect();
    }
    values("x-forwarded-for")
        .iter()
        .flat_map(|v| v.split(','))
        .map(parse_node)
        .collect()
}

/// An address as a hop writes it: `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`,
/// `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.parse::<SocketAddr>().ok().map(|addr| addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_claims() {
        let forged = headers(&[
            ("x-forwarded-for", "10.9.9.9"),
            ("forwarded", "for=10.9.9.9"),
        ]);
        assert_eq!(
            client_address(ip("203.0.113.7"), &forged, &nets(&["127.0.0.1/32"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &forged, &[]),
            ip("127.0.0.1"),
            "no trusted proxies: headers are never read"
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        // The client forged a first hop; the proxy chain appended the real one.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.4, 10.0.0.2")]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &chain, &trusted),
            ip("198.51.100.4")
        );
        let split = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &split, &trusted),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for_with_ports_and_ipv6() {
        let trusted = nets(&["::1/128"]);
        let both = headers(&[
            ("x-forwarded-for", "198.51.100.9"),
            (
                "forwarded",
                r#"for=192.0.2.60;proto=https;by=203.0.113.43, for="[2001:db8:cafe::17]:4711""#,
            ),
        ]);
        assert_eq!(
            client_address(ip("::1"), &both, &trusted),
            ip("2001:db8:cafe::17")
        );
        let with_port = headers(&[("forwarded", "For=192.0.2.60:8080")]);
        assert_eq!(
            client_address(ip("::1"), &with_port, &trusted),
            ip("192.0.2.60")
        );
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_last_address_known_to_be_true() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let obfuscated = headers(&[("forwarded", "for=_hidden, for=10.0.0.5")]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &obfuscated, &trusted),
            ip("10.0.0.5")
        );
        let none = headers(&[]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &none, &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        let ok = |s: &str| is_safe_request_id(&HeaderValue::from_str(s).unwrap());
        assert!(ok("0190a8f2-7c1e-7b3a-9e1d-1f2a3b4c5d6e"));
        assert!(ok("site-12:run.3_a"));
        assert!(!ok(""));
        assert!(!ok(&"a".repeat(65)));
        assert!(!ok("id with spaces"));
        assert!(!ok("<script>"));
    }
}
