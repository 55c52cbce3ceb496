//! The HTTP client webhooks go out with, and the target check at registration.
//!
//! A webhook URL names a host an admin typed, so the server must not become a way into its
//! own network (SSRF). The URL is checked when the bot is registered, and every delivery
//! connects only through [`CheckedResolver`], which resolves the name itself and refuses it
//! when any address is refused ([`super::check_addresses`]): a name that pointed at a public
//! address at registration and at `127.0.0.1` later (DNS rebinding) reaches nothing. IP
//! literal hosts, which no resolver sees, are checked on the URL ([`super::parse_webhook_url`])
//! before each delivery. Redirects are not followed and no proxy is used, so the address
//! connected to is the one checked.

use super::{check_addresses, parse_webhook_url, TargetProblem};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// The longest a lookup may take, at registration and per delivery.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest a connection may take to open; the whole request has the delivery timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How much of a bot's answer is read (it is only logged, in part, on failure).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Resolves a host name and checks every address it answers.
async fn resolve_checked(host: &str, allow_private: bool) -> Result<Vec<IpAddr>, TargetProblem> {
    let lookup = tokio::net::lookup_host((host, 0));
    let addresses: Vec<IpAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
        .await
        .map_err(|_| TargetProblem::Refused(format!("resolving {host} timed out")))?
        .map_err(|error| TargetProblem::Refused(format!("{host} does not resolve: {error}")))?
        .map(|address| address.ip())
        .collect();
    check_addresses(&addresses, allow_private)?;
    Ok(addresses)
}

/// The registration check: the URL ([`parse_webhook_url`]) and, for a host name, every
/// address it resolves to now.
pub async fn checked_target(text: &str, allow_private: bool) -> Result<Url, TargetProblem> {
    let url = parse_webhook_url(text, allow_private)?;
    if let Some(Host::Domain(name)) = url.host() {
        resolve_checked(name, allow_private).await?;
    }
    Ok(url)
}

/// The webhook client's resolver: [`resolve_checked`] at every connection.
#[derive(Debug, Clone, Copy)]
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addresses = resolve_checked(name.as_str(), allow_private)
                .await
                .map_err(|problem| problem.message().to_string())?;
            let addrs: Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// The client every delivery of this server goes through: checked resolution, no redirects,
/// no proxy, short timeouts.
pub fn webhook_client(allow_private: bool, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver { allow_private }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .user_agent(concat!("Talk-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of a response's body; the rest is never read (the
/// connection is dropped with the response).
pub async fn bounded_body(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}
