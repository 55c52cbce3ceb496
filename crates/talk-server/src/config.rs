//! Settings: defaults, then `talk.toml` (or `--config`), then `TALK_*` environment variables.

use crate::client_ip::TrustedProxies;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address the HTTP server binds, e.g. `127.0.0.1:8787`.
    pub listen: String,
    /// `sqlite://talk.db`; the file is created if missing.
    pub database_url: String,
    /// Base URL browsers and the snippet use, without a trailing slash.
    pub public_url: String,
    /// Directory of the Trunk-built widget, served beneath `/widget/`.
    pub widget_dir: PathBuf,
    /// Directory of the Trunk-built inbox, served at `/inbox/` (relative to the working
    /// directory: the default fits a server started from the repository root).
    pub inbox_dir: PathBuf,
    /// Serve the demo host page at `/demo`.
    pub demo_page: bool,
    /// Lifetime of the short-lived browser session token.
    pub socket_token_ttl_secs: u64,
    /// STUN servers for calls (`stun:host:port`): a list in `talk.toml`, comma-separated in
    /// `TALK_STUN_URLS`.
    pub stun_urls: UrlList,
    /// TURN servers for calls (`turn:host:port?transport=udp`, `turns:…`), which share
    /// `turn_secret` (coturn's `use-auth-secret`/`static-auth-secret`).
    pub turn_urls: UrlList,
    /// The secret the TURN servers check credentials with. Never sent to a browser: each
    /// session gets a credential minted from it (`ice::servers_for`).
    #[serde(skip_serializing)]
    pub turn_secret: Option<String>,
    /// How long a minted TURN credential works. A session renews its credential with its
    /// token (every 12 minutes in the widget); a call keeps the one it started with.
    pub turn_credential_ttl_secs: u64,
    /// `relay`: calls go only through TURN, so visitor and agent never learn each other's
    /// IP address (needs `turn_urls`); `all` (the default): direct where possible.
    pub ice_transport_policy: talk_protocol::IceTransportPolicy,
    /// Requests per minute per client IP to the public browser endpoints (widget session,
    /// identify, widget config, socket upgrade). 0: unlimited.
    pub browser_requests_per_minute: u32,
    /// Agent sign-in attempts per minute per client IP. 0: unlimited.
    pub login_attempts_per_minute: u32,
    /// Messages one socket, or one widget session over HTTP, may send per
    /// `socket_message_window_secs`. 0: unlimited.
    pub socket_messages_per_window: u32,
    pub socket_message_window_secs: u64,
    /// Seconds between WebSocket pings to an idle socket.
    pub heartbeat_secs: u64,
    /// Seconds between keep-alive comments on an idle SSE stream.
    pub sse_keep_alive_secs: u64,
    /// The reverse proxies (load balancers) in front of this server, as networks or
    /// addresses: from these peers the client's IP for the rate limits is read from
    /// `X-Forwarded-For`. A list in `talk.toml`, comma-separated in `TALK_TRUSTED_PROXIES`.
    pub trusted_proxies: TrustedProxies,
    /// Agent bots' webhooks may go to loopback, private, link-local and other non-public
    /// addresses, and over plain http: for development and tests only (SSRF otherwise).
    pub bot_allow_private_targets: bool,
    /// The wait after a webhook's first failed attempt; it doubles with each further one
    /// (with jitter), up to `bot_retry_max_ms`.
    pub bot_retry_base_ms: u64,
    pub bot_retry_max_ms: u64,
    /// Attempts at one webhook event before it is given up (failed in the delivery log).
    pub bot_max_attempts: u32,
    /// The longest one webhook request may take, connecting (3 s at most) included.
    pub bot_delivery_timeout_secs: u64,
    /// Previews' fair use (`usage::preview`), per workspace per UTC day: text messages of
    /// every author in the inbox's live preview and test mode. 0 stops preview messages.
    pub preview_messages_per_day: i64,
    /// Previews' voice minutes per workspace per UTC day. 0 stops preview calls.
    pub preview_voice_minutes_per_day: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8787".into(),
            database_url: "sqlite://talk.db".into(),
            public_url: "http://127.0.0.1:8787".into(),
            widget_dir: PathBuf::from("dist"),
            inbox_dir: PathBuf::from("crates/talk-inbox/dist"),
            demo_page: false,
            socket_token_ttl_secs: 900,
            stun_urls: UrlList::default(),
            turn_urls: UrlList::default(),
            turn_secret: None,
            turn_credential_ttl_secs: 3600,
            ice_transport_policy: talk_protocol::IceTransportPolicy::All,
            browser_requests_per_minute: 300,
            login_attempts_per_minute: 10,
            socket_messages_per_window: 20,
            socket_message_window_secs: 10,
            heartbeat_secs: 30,
            sse_keep_alive_secs: 15,
            trusted_proxies: TrustedProxies::default(),
            bot_allow_private_targets: false,
            bot_retry_base_ms: 1_000,
            bot_retry_max_ms: 300_000,
            bot_max_attempts: 10,
            bot_delivery_timeout_secs: 10,
            preview_messages_per_day: 200,
            preview_voice_minutes_per_day: 30,
        }
    }
}

impl Settings {
    /// Defaults → `config_path` (or `talk.toml` in the working directory, if present) →
    /// `TALK_*` environment variables. An explicitly given config file must exist.
    pub fn load(config_path: Option<&Path>) -> Result<Settings, Box<figment::Error>> {
        let file = match config_path {
            Some(path) => Toml::file_exact(path),
            None => Toml::file("talk.toml"),
        };
        let mut settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(file)
            .merge(Env::prefixed("TALK_"))
            .extract()
            .map_err(Box::new)?;
        settings.normalize();
        settings
            .check()
            .map_err(|problem| Box::new(figment::Error::from(problem)))?;
        Ok(settings)
    }

    /// What figment's types can't say: TURN needs its secret, and STUN/TURN URLs their scheme.
    pub fn check(&self) -> Result<(), String> {
        for url in &self.stun_urls.0 {
            if !(url.starts_with("stun:") || url.starts_with("stuns:")) {
                return Err(format!(
                    "stun_urls: {url:?} does not start with stun: or stuns:"
                ));
            }
        }
        for url in &self.turn_urls.0 {
            if !(url.starts_with("turn:") || url.starts_with("turns:")) {
                return Err(format!(
                    "turn_urls: {url:?} does not start with turn: or turns:"
                ));
            }
        }
        let secret_set = self
            .turn_secret
            .as_deref()
            .is_some_and(|secret| !secret.is_empty());
        if self.ice_transport_policy == talk_protocol::IceTransportPolicy::Relay
            && self.turn_urls.is_empty()
        {
            return Err("ice_transport_policy = \"relay\" needs turn_urls".into());
        }
        if !self.turn_urls.is_empty() && !secret_set {
            return Err(
                "turn_urls needs turn_secret (TALK_TURN_SECRET): the TURN servers' shared secret"
                    .into(),
            );
        }
        if self.bot_retry_base_ms == 0 || self.bot_retry_max_ms < self.bot_retry_base_ms {
            return Err(
                "bot_retry_base_ms must be at least 1 and bot_retry_max_ms at least it".into(),
            );
        }
        if self.bot_max_attempts == 0 || self.bot_delivery_timeout_secs == 0 {
            return Err("bot_max_attempts and bot_delivery_timeout_secs must be at least 1".into());
        }
        if self.preview_messages_per_day < 0 || self.preview_voice_minutes_per_day < 0 {
            return Err(
                "preview_messages_per_day and preview_voice_minutes_per_day must be 0 or more"
                    .into(),
            );
        }
        Ok(())
    }

    /// URLs are built by appending paths, so a trailing slash would double up.
    pub fn normalize(&mut self) {
        let trimmed = self.public_url.trim().trim_end_matches('/').to_string();
        self.public_url = trimmed;
    }

    /// The origin (`scheme://host[:port]`) of `public_url`: what browsers send as `Origin`
    /// from the server's own pages.
    pub fn public_origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_else(|_| self.public_url.clone())
    }

    /// `public_url` with http→ws, https→wss.
    pub fn public_ws_url(&self) -> String {
        if let Some(rest) = self.public_url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.public_url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.public_url.clone()
        }
    }

    /// The browser session's WebSocket (token in the first frame, never in the URL).
    pub fn socket_url(&self) -> String {
        format!("{}/v1/talk/socket", self.public_ws_url())
    }

    /// The browser session's HTTP + SSE endpoint (`/stream` appended for SSE); token-free.
    pub fn messages_url(&self) -> String {
        format!("{}/v1/talk/messages", self.public_url)
    }

    /// When a browser session's socket token issued at `issued_at` (Unix seconds) expires.
    pub fn socket_token_expires_at(&self, issued_at: i64) -> i64 {
        issued_at.saturating_add(i64::try_from(self.socket_token_ttl_secs).unwrap_or(i64::MAX))
    }
}

/// A list of URLs: a TOML list or, as environment variables are strings, one comma-separated
/// string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UrlList(pub Vec<String>);

impl UrlList {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for UrlList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            One(String),
            List(Vec<String>),
        }
        let items = match Given::deserialize(deserializer)? {
            Given::One(list) => list.split(',').map(str::to_string).collect(),
            Given::List(items) => items,
        };
        Ok(UrlList(
            items
                .iter()
                .map(|item| item.trim())
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_is_removed_and_ws_url_follows_scheme() {
        let mut settings = Settings {
            public_url: "https://talk.example.com/".into(),
            ..Settings::default()
        };
        settings.normalize();
        assert_eq!(settings.public_url, "https://talk.example.com");
        assert_eq!(settings.public_ws_url(), "wss://talk.example.com");
        settings.public_url = "https://Talk.Example.com:443/chat".into();
        assert_eq!(settings.public_origin(), "https://talk.example.com");
    }

    #[test]
    fn ice_settings_read_lists_or_comma_strings_and_turn_needs_its_secret() {
        let from = |toml: &str| -> Result<Settings, String> {
            let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
                .merge(Toml::string(toml))
                .extract()
                .map_err(|error| error.to_string())?;
            settings.check().map(|()| settings)
        };
        let settings = from(
            r#"stun_urls = "stun:a:3478, stun:b:3478"
               turn_urls = ["turn:a:3478?transport=udp"]
               turn_secret = "s""#,
        )
        .unwrap();
        assert_eq!(settings.stun_urls.0, ["stun:a:3478", "stun:b:3478"]);
        assert_eq!(settings.turn_urls.0, ["turn:a:3478?transport=udp"]);
        let no_secret = from(r#"turn_urls = "turn:a:3478""#).unwrap_err();
        assert!(no_secret.contains("turn_secret"), "{no_secret}");
        let relay_alone = from(r#"ice_transport_policy = "relay""#).unwrap_err();
        assert!(relay_alone.contains("turn_urls"), "{relay_alone}");
        let wrong_scheme = from(r#"stun_urls = "http://a""#).unwrap_err();
        assert!(wrong_scheme.contains("stun:"), "{wrong_scheme}");
        // The secret never leaves in a serialization of the settings.
        assert!(!serde_json::to_string(&settings)
            .unwrap()
            .contains("turn_secret"));
    }

    #[test]
    fn bot_settings_default_to_refusing_private_targets_and_must_make_sense() {
        let defaults = Settings::default();
        assert!(!defaults.bot_allow_private_targets);
        assert!(defaults.check().is_ok());
        let from = |toml: &str| -> Result<Settings, String> {
            let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
                .merge(Toml::string(toml))
                .extract()
                .map_err(|error| error.to_string())?;
            settings.check().map(|()| settings)
        };
        let settings = from(
            "bot_allow_private_targets = true\nbot_retry_base_ms = 50\nbot_retry_max_ms = 200",
        )
        .unwrap();
        assert!(settings.bot_allow_private_targets);
        assert_eq!(
            (settings.bot_retry_base_ms, settings.bot_retry_max_ms),
            (50, 200)
        );
        for bad in [
            "bot_retry_base_ms = 0",
            "bot_retry_base_ms = 500\nbot_retry_max_ms = 100",
            "bot_max_attempts = 0",
            "bot_delivery_timeout_secs = 0",
        ] {
            assert!(from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn preview_limits_default_to_the_issues_and_may_be_zero_not_negative() {
        let defaults = Settings::default();
        assert_eq!(
            (
                defaults.preview_messages_per_day,
                defaults.preview_voice_minutes_per_day
            ),
            (200, 30)
        );
        let zero = Settings {
            preview_messages_per_day: 0,
            preview_voice_minutes_per_day: 0,
            ..Settings::default()
        };
        assert!(zero.check().is_ok());
        let negative = Settings {
            preview_voice_minutes_per_day: -1,
            ..Settings::default()
        };
        assert!(negative.check().unwrap_err().contains("preview_"));
    }
}
