//! The STUN/TURN servers a browser's calls use, handed out when a widget or agent session
//! starts (never from page code). TURN credentials follow the TURN REST API scheme that
//! coturn's `use-auth-secret` checks: the username is `<expiry>:<who>`, the password
//! base64(HMAC-SHA1(shared secret, username)). The shared secret stays on the server; a
//! credential works until its expiry and names whom it was minted for.

use crate::config::Settings;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use talk_protocol::IceServer;

/// The ICE servers for one session, with TURN credentials valid for
/// `turn_credential_ttl_secs` from `now` (Unix seconds). `who` is the widget session id or the
/// agent's id: coturn logs it with each allocation.
pub fn servers_for(settings: &Settings, who: &str, now: i64) -> Vec<IceServer> {
    let mut servers = Vec::new();
    if !settings.stun_urls.is_empty() {
        servers.push(IceServer {
            urls: settings.stun_urls.0.clone(),
            username: None,
            credential: None,
        });
    }
    if let (false, Some(secret)) = (settings.turn_urls.is_empty(), &settings.turn_secret) {
        let expires = now
            .saturating_add(i64::try_from(settings.turn_credential_ttl_secs).unwrap_or(i64::MAX));
        let (username, credential) = turn_credential(secret, expires, who);
        servers.push(IceServer {
            urls: settings.turn_urls.0.clone(),
            username: Some(username),
            credential: Some(credential),
        });
    }
    servers
}

/// `(username, password)` for coturn's `use-auth-secret`.
pub fn turn_credential(secret: &str, expires: i64, who: &str) -> (String, String) {
    // A colon in `who` would move where coturn reads the expiry's end.
    let who: String = who.chars().filter(|c| *c != ':').collect();
    let username = format!("{expires}:{who}");
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UrlList;

    #[test]
    fn the_credential_is_coturns_hmac_of_the_username() {
        // printf '%s' '1700000000:sess-1' | openssl dgst -sha1 -hmac 'north-wind' -binary | base64
        let (username, password) = turn_credential("north-wind", 1_700_000_000, "sess-1");
        assert_eq!(username, "1700000000:sess-1");
        assert_eq!(password, "Z2CMFmjoXafmaIITtQURlPO6Xe8=");
        // A colon in the id can't move the expiry's end.
        assert_eq!(turn_credential("k", 5, "a:b").0, "5:ab");
    }

    #[test]
    fn stun_and_turn_come_from_the_settings_and_the_secret_stays_home() {
        let mut settings = Settings::default();
        assert!(servers_for(&settings, "s", 100).is_empty());
        settings.stun_urls = UrlList(vec!["stun:stun.example.com:3478".into()]);
        settings.turn_urls = UrlList(vec!["turn:turn.example.com:3478?transport=udp".into()]);
        // TURN without a secret is refused when the settings load; here it is left out.
        assert_eq!(servers_for(&settings, "s", 100).len(), 1);
        settings.turn_secret = Some("top-secret".into());
        settings.turn_credential_ttl_secs = 600;
        let servers = servers_for(&settings, "s", 100);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].username.as_deref(), Some("700:s"));
        let text = serde_json::to_string(&servers).unwrap();
        assert!(!text.contains("top-secret"), "{text}");
    }
}
