//! Settings: defaults, then `talk.toml` (or `--config`), then `TALK_*` environment variables.

use crate::client_ip::TrustedProxies;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use talk_protocol::IceServer;

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
    /// STUN/TURN servers handed to the widget for voice.
    pub ice_servers: Vec<IceServer>,
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
            ice_servers: Vec::new(),
            browser_requests_per_minute: 300,
            login_attempts_per_minute: 10,
            socket_messages_per_window: 20,
            socket_message_window_secs: 10,
            heartbeat_secs: 30,
            sse_keep_alive_secs: 15,
            trusted_proxies: TrustedProxies::default(),
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
        Ok(settings)
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
}
