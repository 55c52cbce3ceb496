//! Rate limits (GCRA, the `governor` crate): per client IP for the public browser endpoints
//! and agent sign-in; for sent messages per socket, and per widget session over HTTP (each
//! request is a new connection, so only the session can carry the budget). A limit of 0
//! turns one off.

use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::Settings;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Tracked IPs (or sessions) beyond which idle entries are dropped.
const MAX_TRACKED_KEYS: usize = 100_000;

/// `n` per `period`, in a burst of up to `n`; `None` when `n` is 0 (unlimited).
fn quota(n: u32, period: Duration) -> Option<Quota> {
    let burst = NonZeroU32::new(n)?;
    let replenish = (period / n).max(Duration::from_nanos(1));
    Quota::with_period(replenish).map(|quota| quota.allow_burst(burst))
}

/// A per-client-IP limit, used as a middleware's state.
#[derive(Clone)]
pub struct IpLimiter(Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>);

impl IpLimiter {
    pub fn per_minute(n: u32) -> Self {
        IpLimiter(
            quota(n, Duration::from_secs(60)).map(|quota| Arc::new(RateLimiter::keyed(quota))),
        )
    }

    /// How long to wait, if `ip` is over its limit.
    fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED_KEYS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

/// The limiters the router and sockets share.
#[derive(Clone)]
pub struct Limits {
    pub browser: IpLimiter,
    pub login: IpLimiter,
    socket_messages: Option<Quota>,
    /// The same budget as a socket's, keyed by widget session, for `POST /v1/talk/messages`.
    http_messages: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

impl Limits {
    pub fn new(settings: &Settings) -> Self {
        let messages = quota(
            settings.socket_messages_per_window,
            Duration::from_secs(settings.socket_message_window_secs.max(1)),
        );
        Limits {
            browser: IpLimiter::per_minute(settings.browser_requests_per_minute),
            login: IpLimiter::per_minute(settings.login_attempts_per_minute),
            socket_messages: messages,
            http_messages: messages.map(|quota| Arc::new(RateLimiter::keyed(quota))),
        }
    }

    /// A fresh message budget for one socket.
    pub fn socket_limiter(&self) -> Option<DefaultDirectRateLimiter> {
        self.socket_messages.map(RateLimiter::direct)
    }

    /// Takes one HTTP send from the widget session's budget; how long to wait when spent.
    pub fn check_http_message(&self, session_id: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.http_messages else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED_KEYS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&session_id.to_string())
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

/// The refusal of an event over its budget: 429 with a whole number of seconds to wait.
pub fn rate_limited(wait: Duration) -> ApiError {
    ApiError::RateLimited {
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// Middleware: 429 `rate_limited` with `Retry-After` once the client IP is over the limit.
/// The IP is `client_ip::record`'s: the TCP peer's, or behind a trusted proxy the client's.
pub async fn limit_by_ip(
    State(limiter): State<IpLimiter>,
    request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ClientIp(ip)| *ip);
    match limiter.check(ip) {
        Ok(()) => next.run(request).await,
        Err(wait) => rate_limited(wait).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_n_passes_then_the_next_waits() {
        let limiter = IpLimiter::per_minute(3);
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for _ in 0..3 {
            assert!(limiter.check(ip).is_ok());
        }
        let wait = limiter.check(ip).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Another client has its own budget.
        assert!(limiter
            .check(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
            .is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = IpLimiter::per_minute(0);
        for _ in 0..1000 {
            assert!(limiter.check(IpAddr::V4(Ipv4Addr::LOCALHOST)).is_ok());
        }
    }
}
