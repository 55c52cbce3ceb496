//! The client's IP address, for the per-IP rate limits. Behind a load balancer every TCP
//! peer is the balancer, so all visitors would share one budget; for peers the operator
//! lists in `trusted_proxies`, the client is read from `X-Forwarded-For` instead. Only
//! listed peers are believed: anyone else could write that header.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// The networks of the reverse proxies in front of this server (none by default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// `::ffff:10.0.0.1` (a dual-stack listener's IPv4 peer) is `10.0.0.1`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// `"10.0.0.0/8, 127.0.0.1"`: networks or single addresses, comma-separated.
    fn from_str(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(parse_net)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

fn parse_net(item: &str) -> Result<IpNet, String> {
    item.parse::<IpNet>()
        .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("trusted_proxies: {item:?} is not an IP address or network"))
}

/// A TOML list or, as environment variables are strings, one comma-separated string.
impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            One(String),
            List(Vec<String>),
        }
        let list = match Given::deserialize(deserializer)? {
            Given::One(list) => list,
            Given::List(items) => items.join(","),
        };
        list.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

/// The client as the rate limits see it: the peer, unless the peer is a trusted proxy; then
/// the nearest address in `X-Forwarded-For` (read from the right, as each proxy appends the
/// address it saw) that is not a trusted proxy itself. Anything left of that was written by
/// the client and proves nothing.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        // A malformed hop: stop at the last address a trusted proxy vouched for.
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// The client's address, as an extension for the rate limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientIp(pub IpAddr);

/// Middleware: records `ClientIp` for every request. Without connection info (the app
/// embedded elsewhere) every client is the unspecified address, sharing one budget.
pub async fn record(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let ip = client_ip(peer, request.headers(), &trusted);
    request.extensions_mut().insert(ClientIp(ip));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let forged = headers(&["1.2.3.4"]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &forged, &trusted),
            ip("203.0.113.9")
        );
        // Nothing trusted (the default): the header is never read.
        let none = TrustedProxies::default();
        assert_eq!(client_ip(ip("10.0.0.2"), &forged, &none), ip("10.0.0.2"));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        // The client forged the first entry; the balancer appended what it saw, then an
        // inner proxy appended the balancer.
        let chain = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &chain, &trusted),
            ip("198.51.100.7")
        );
        // A dual-stack listener reports IPv4 peers as mapped IPv6 addresses.
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &chain, &trusted),
            ip("198.51.100.7")
        );
        // No header: the proxy itself (all such requests share its budget).
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        // Garbage stops the walk at the last hop a trusted proxy vouched for.
        let garbage = headers(&["198.51.100.7, not-an-ip, 10.9.9.9"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &garbage, &trusted),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn the_setting_reads_a_list_or_a_comma_separated_string_and_rejects_nonsense() {
        let from_env: TrustedProxies =
            serde_json::from_value(serde_json::json!("10.0.0.0/8,::1")).unwrap();
        let from_toml: TrustedProxies =
            serde_json::from_value(serde_json::json!(["10.0.0.0/8", "::1"])).unwrap();
        assert_eq!(from_env, from_toml);
        assert_eq!(from_env.0.len(), 2);
        let error = serde_json::from_value::<TrustedProxies>(serde_json::json!("10.0.0.0/33"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("10.0.0.0/33"), "{error}");
    }
}
