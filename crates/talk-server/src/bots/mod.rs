//! Agent bots (seed 003's AI agent, plugged in by webhook): the rules, as plain functions.
//!
//! - [`signature`] and [`verify_signature`]: `Talk-Signature: t=<unix secs>,v1=<hex
//!   HMAC-SHA256(secret, "<t>.<body>")>`, what a bot checks (and how).
//! - [`retry_delay_ms`]: exponential backoff with jitter between a delivery's attempts.
//! - [`is_refused_address`], [`parse_webhook_url`], [`check_addresses`]: which webhook targets
//!   are refused (SSRF), unless the server allows private targets.
//! - [`taker`]: which bot takes a new conversation.
//!
//! The glue: [`registry`] (bots in the store, the key and secret handed out once),
//! [`delivery`] (the worker that POSTs the events, retries and keeps order) and
//! [`client`] (the HTTP client whose resolver checks every address it connects to).

pub mod client;
pub mod delivery;
pub mod registry;

use hmac::{Hmac, Mac};
use ipnet::{Ipv4Net, Ipv6Net};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use talk_protocol::{BotTakes, MAX_WEBHOOK_URL_BYTES, SIGNATURE_TOLERANCE_SECS};
use url::{Host, Url};

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Talk-Signature` header's value for `body` sent at `timestamp` (Unix seconds): the
/// HMAC-SHA256 keyed by the bot's signing secret (its UTF-8 bytes) over `"<t>.<body>"`.
/// The timestamp is signed too, so a replayed request can't be given a fresh one.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// Not `t=<integer>,v1=<hex>`.
    Malformed,
    /// `t` is further than [`SIGNATURE_TOLERANCE_SECS`] from `now`: a replay, or a clock off.
    Stale,
    /// No `v1` matches the body.
    Mismatch,
}

/// What a receiver checks: the header parses, its time is within the tolerance of `now`
/// (Unix seconds), and one of its `v1` values (several may come, e.g. while a secret
/// rotates) is the body's HMAC, compared in constant time. A receiver also remembers the
/// delivery ids it handled: within the tolerance a replay has a valid signature.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureProblem> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureProblem::Malformed)?,
                )
            }
            Some(("v1", value)) => {
                candidates.push(hex::decode(value).map_err(|_| SignatureProblem::Malformed)?)
            }
            // Other schemes may come later; a receiver skips what it doesn't know.
            Some(_) => {}
            None => return Err(SignatureProblem::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureProblem::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureProblem::Malformed);
    }
    if now.abs_diff(timestamp) > SIGNATURE_TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureProblem::Stale);
    }
    let expected = mac(secret, timestamp, body);
    // `verify_slice` compares in constant time.
    if candidates
        .iter()
        .any(|candidate| expected.clone().verify_slice(candidate).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureProblem::Mismatch)
    }
}

/// How long to wait after a delivery's `attempts`-th failed attempt (1 for the first):
/// `base_ms · 2^(attempts−1)`, at most `max_ms`, of which the upper half is scaled by
/// `jitter` (0 ≤ jitter < 1, random per call) so that the retries of many deliveries that
/// failed together (a bot that was down) spread out instead of arriving together.
pub fn retry_delay_ms(attempts: u32, base_ms: u64, max_ms: u64, jitter: f64) -> u64 {
    let exponent = attempts.saturating_sub(1).min(62);
    let full = base_ms.saturating_mul(1u64 << exponent).min(max_ms).max(1);
    let half = full / 2;
    let spread = ((full - half) as f64 * jitter.clamp(0.0, 1.0)) as u64;
    (half + spread).min(full)
}

/// IPv4 networks no webhook may reach: this host, the private and shared (CGNAT) ranges,
/// link-local (cloud metadata services live at 169.254.169.254), the IETF, documentation
/// and benchmarking ranges, multicast, reserved and broadcast.
const REFUSED_V4: [(Ipv4Addr, u8); 14] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    // Multicast (224/4) and reserved (240/4, with the broadcast address): all of 224/3.
    (Ipv4Addr::new(224, 0, 0, 0), 3),
];

/// IPv6 networks no webhook may reach (besides `::`, `::1` and the forms that embed an IPv4
/// address, which [`is_refused_address`] unwraps): discard-only, IETF protocol assignments
/// (with Teredo, whose addresses hide an IPv4 one), documentation, site-local, unique-local,
/// link-local and multicast.
const REFUSED_V6: [(Ipv6Addr, u8); 8] = [
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
];

/// Whether a webhook may not be sent to `ip` while private targets are not allowed: anything
/// but a public unicast address. IPv6 forms that carry an IPv4 address (mapped
/// `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:ab:cd::`)
/// are judged by that address.
pub fn is_refused_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => REFUSED_V4.iter().any(|&(network, prefix)| {
            Ipv4Net::new(network, prefix).is_ok_and(|network| network.contains(&ip))
        }),
        IpAddr::V6(ip) => {
            if let Some(embedded) = embedded_ipv4(ip) {
                return is_refused_address(IpAddr::V4(embedded));
            }
            ip.is_unspecified()
                || ip.is_loopback()
                || REFUSED_V6.iter().any(|&(network, prefix)| {
                    Ipv6Net::new(network, prefix).is_ok_and(|network| network.contains(&ip))
                })
        }
    }
}

/// The IPv4 address an IPv6 address stands for, in the forms that carry one.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let last_two = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match segments {
        // IPv4-mapped ::ffff:a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, high, low] => Some(last_two(high, low)),
        // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks); not :: or ::1.
        [0, 0, 0, 0, 0, 0, high, low] if high != 0 => Some(last_two(high, low)),
        // NAT64's well-known prefix 64:ff9b::/96.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => Some(last_two(high, low)),
        // 6to4 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
        [0x2002, high, low, ..] => Some(last_two(high, low)),
        _ => None,
    }
}

/// Why a webhook URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetProblem {
    /// Not a URL a webhook can go to (`invalid_webhook_url`).
    Invalid(String),
    /// It points at an address the server doesn't send to (`webhook_target_refused`).
    Refused(String),
}

impl TargetProblem {
    pub fn code(&self) -> &'static str {
        match self {
            TargetProblem::Invalid(_) => "invalid_webhook_url",
            TargetProblem::Refused(_) => talk_protocol::error_code::WEBHOOK_TARGET_REFUSED,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            TargetProblem::Invalid(message) | TargetProblem::Refused(message) => message,
        }
    }
}

/// A webhook URL as far as it can be judged without DNS: absolute, `https` (or `http` where
/// private targets are allowed, for development), a host, at most
/// [`MAX_WEBHOOK_URL_BYTES`], and an IP address host (which no resolver sees) not refused.
/// A name host is checked by [`check_addresses`] once resolved, at registration and again
/// at every delivery (`client`), because what a name resolves to can change.
pub fn parse_webhook_url(text: &str, allow_private: bool) -> Result<Url, TargetProblem> {
    let text = text.trim();
    if text.len() > MAX_WEBHOOK_URL_BYTES {
        return Err(TargetProblem::Invalid(format!(
            "webhook_url is longer than {MAX_WEBHOOK_URL_BYTES} bytes"
        )));
    }
    let url = Url::parse(text).map_err(|_| {
        TargetProblem::Invalid("webhook_url must be an absolute https:// URL".into())
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(TargetProblem::Invalid(
                "webhook_url must be https:// (http:// is for development servers that allow \
                 private targets)"
                    .into(),
            ))
        }
        _ => {
            return Err(TargetProblem::Invalid(
                "webhook_url must be an absolute https:// URL".into(),
            ))
        }
    }
    let ip = match url.host() {
        None => return Err(TargetProblem::Invalid("webhook_url has no host".into())),
        Some(Host::Domain("")) => {
            return Err(TargetProblem::Invalid("webhook_url has no host".into()))
        }
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    if let Some(ip) = ip {
        check_addresses(&[ip], allow_private)?;
    }
    Ok(url)
}

/// Refuses the target when any address it resolved to is refused (a name that answers with
/// a private address among public ones is not trusted with either), or when it resolved to
/// none.
pub fn check_addresses(addresses: &[IpAddr], allow_private: bool) -> Result<(), TargetProblem> {
    if addresses.is_empty() {
        return Err(TargetProblem::Refused(
            "the webhook's host resolves to no address".into(),
        ));
    }
    if allow_private {
        return Ok(());
    }
    match addresses.iter().find(|ip| is_refused_address(**ip)) {
        Some(ip) => Err(TargetProblem::Refused(format!(
            "the webhook's host is (or resolves to) {ip}, a loopback, private, link-local or \
             reserved address: webhooks go to public addresses only"
        ))),
        None => Ok(()),
    }
}

/// A bot as [`taker`] weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub takes: BotTakes,
    pub enabled: bool,
}

/// Which bot takes a conversation that starts now, among a workspace's bots listed oldest
/// first: the oldest enabled one that takes every new conversation; else, while no agent is
/// online ("office hours" are the hours an agent is online: the widget's away status), the
/// oldest enabled one that takes conversations outside office hours. A new conversation is
/// never assigned yet, so "unassigned" holds by itself.
pub fn taker<'a>(bots: &[Candidate<'a>], agents_online: bool) -> Option<&'a str> {
    let first = |takes: BotTakes| {
        bots.iter()
            .find(|bot| bot.enabled && bot.takes == takes)
            .map(|bot| bot.id)
    };
    first(BotTakes::AllNew).or_else(|| {
        if agents_online {
            None
        } else {
            first(BotTakes::OutsideOfficeHours)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_secret_body_and_time_only() {
        let body = br#"{"id":"d1","type":"message.created"}"#;
        let header = signature("whsec_a", 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(
            verify_signature("whsec_a", &header, body, 1_700_000_000),
            Ok(())
        );
        // Within the tolerance either way.
        assert_eq!(
            verify_signature("whsec_a", &header, body, 1_700_000_000 + 300),
            Ok(())
        );
        assert_eq!(
            verify_signature("whsec_a", &header, body, 1_700_000_000 - 300),
            Ok(())
        );
        assert_eq!(
            verify_signature("whsec_a", &header, body, 1_700_000_000 + 301),
            Err(SignatureProblem::Stale)
        );
        assert_eq!(
            verify_signature("whsec_b", &header, body, 1_700_000_000),
            Err(SignatureProblem::Mismatch)
        );
        assert_eq!(
            verify_signature("whsec_a", &header, b"{}", 1_700_000_000),
            Err(SignatureProblem::Mismatch)
        );
        // A fresh time on an old MAC: the time is signed too.
        let replayed = header.replace("t=1700000000", "t=1700000999");
        assert_eq!(
            verify_signature("whsec_a", &replayed, body, 1_700_000_999),
            Err(SignatureProblem::Mismatch)
        );
    }

    #[test]
    fn a_signature_is_the_hmac_of_time_dot_body() {
        // What a receiver computes from the raw body, without this module.
        let header = signature("k", 0, b"x");
        let mut mac = HmacSha256::new_from_slice(b"k").unwrap();
        mac.update(b"0.x");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(header, format!("t=0,v1={expected}"));
    }

    #[test]
    fn malformed_headers_and_extra_schemes() {
        let body = b"{}";
        for bad in [
            "",
            "t=1",
            "v1=00",
            "t=x,v1=00",
            "t=1,v1=zz",
            "garbage",
            "t=1;v1=00",
        ] {
            assert_eq!(
                verify_signature("s", bad, body, 1),
                Err(SignatureProblem::Malformed),
                "{bad:?}"
            );
        }
        // An unknown scheme is skipped; one good v1 among others passes.
        let good = signature("s", 5, body);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=5, v0=abc, v1={}, v1={v1}", "00".repeat(32));
        assert_eq!(verify_signature("s", &header, body, 5), Ok(()));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let (base, max) = (1_000, 60_000);
        assert_eq!(retry_delay_ms(1, base, max, 0.0), 500);
        assert_eq!(retry_delay_ms(1, base, max, 0.999_999), 999);
        assert_eq!(retry_delay_ms(2, base, max, 0.0), 1_000);
        assert_eq!(retry_delay_ms(3, base, max, 0.5), 3_000);
        for attempts in 1..=100 {
            let full = (base << (attempts - 1).min(20)).min(max);
            for jitter in [0.0, 0.25, 0.5, 0.99] {
                let delay = retry_delay_ms(attempts, base, max, jitter);
                assert!(delay >= full / 2 && delay <= full, "{attempts} {jitter}");
                assert!(delay <= max);
            }
        }
        // Huge settings neither overflow nor reach zero.
        assert_eq!(retry_delay_ms(u32::MAX, u64::MAX, u64::MAX, 1.0), u64::MAX);
        assert_eq!(retry_delay_ms(1, 0, 0, 0.0), 0);
        assert_eq!(retry_delay_ms(1, 0, 0, 1.0), 1);
    }

    fn refused(text: &str) -> bool {
        is_refused_address(text.parse().unwrap())
    }

    #[test]
    fn private_loopback_link_local_and_reserved_addresses_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
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
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
            "2001::1",
            "fec0::1",
            // IPv4 inside IPv6.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "2002:7f00:1::",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "192.167.255.255",
            "198.17.255.255",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert!(!refused(ip), "{ip} should pass");
        }
    }

    #[test]
    fn webhook_urls_are_https_with_a_public_ip_host_unless_private_targets_are_allowed() {
        assert_eq!(
            parse_webhook_url(" https://bot.example.com/hook?x=1 ", false)
                .unwrap()
                .as_str(),
            "https://bot.example.com/hook?x=1"
        );
        assert!(parse_webhook_url("https://8.8.8.8/hook", false).is_ok());
        for (url, code) in [
            ("http://bot.example.com/hook", "invalid_webhook_url"),
            ("ftp://bot.example.com/", "invalid_webhook_url"),
            ("bot.example.com/hook", "invalid_webhook_url"),
            ("", "invalid_webhook_url"),
            ("https://", "invalid_webhook_url"),
            ("https://127.0.0.1/hook", "webhook_target_refused"),
            ("https://10.0.0.1/hook", "webhook_target_refused"),
            (
                "https://169.254.169.254/latest/meta-data",
                "webhook_target_refused",
            ),
            ("https://[::1]:8443/hook", "webhook_target_refused"),
            ("https://[::ffff:127.0.0.1]/hook", "webhook_target_refused"),
            // WHATWG URL parsing reads these hosts as IPv4 addresses.
            ("https://0x7f.1/hook", "webhook_target_refused"),
            ("https://2130706433/hook", "webhook_target_refused"),
        ] {
            let problem = parse_webhook_url(url, false).unwrap_err();
            assert_eq!(problem.code(), code, "{url}: {problem:?}");
        }
        let long = format!(
            "https://a.example.com/{}",
            "x".repeat(MAX_WEBHOOK_URL_BYTES)
        );
        assert_eq!(
            parse_webhook_url(&long, false).unwrap_err().code(),
            "invalid_webhook_url"
        );
        // Allowed for development: loopback, and plain http.
        assert!(parse_webhook_url("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(parse_webhook_url("http://localhost:8080/hook", true).is_ok());
        assert_eq!(
            parse_webhook_url("ftp://127.0.0.1/", true)
                .unwrap_err()
                .code(),
            "invalid_webhook_url"
        );
    }

    #[test]
    fn resolved_addresses_are_refused_when_any_is_refused() {
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        let private: IpAddr = "192.168.0.10".parse().unwrap();
        assert!(check_addresses(&[public], false).is_ok());
        assert_eq!(
            check_addresses(&[public, private], false)
                .unwrap_err()
                .code(),
            "webhook_target_refused"
        );
        assert!(check_addresses(&[public, private], true).is_ok());
        assert!(check_addresses(&[], true).is_err());
    }

    #[test]
    fn the_oldest_enabled_bot_for_all_new_wins_then_outside_office_hours_when_nobody_is_online() {
        let bot = |id, takes, enabled| Candidate { id, takes, enabled };
        let bots = [
            bot("off", BotTakes::AllNew, false),
            bot("night", BotTakes::OutsideOfficeHours, true),
            bot("all", BotTakes::AllNew, true),
            bot("all2", BotTakes::AllNew, true),
        ];
        assert_eq!(taker(&bots, true), Some("all"));
        assert_eq!(taker(&bots, false), Some("all"));
        let night_only = [
            bot("night_off", BotTakes::OutsideOfficeHours, false),
            bot("night", BotTakes::OutsideOfficeHours, true),
        ];
        assert_eq!(taker(&night_only, true), None);
        assert_eq!(taker(&night_only, false), Some("night"));
        assert_eq!(taker(&[], false), None);
    }
}
