//! Ending live connections from elsewhere, at once: an agent removed or its password reset,
//! a signing key retired; and when a widget connection's token runs out. Each live connection registers under what its right to stay open
//! rests on (its agent, or the key that signed its token) and the transport listens for an
//! [`End`]. The registry is per process: with PostgreSQL the store NOTIFYs removals, resets
//! and retired keys and every other node's sequencer ends its own connections at once; the
//! agent socket's heartbeat and the retired-key poll remain as the fallback.

use super::hub::SocketId;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// The close frame a connection is ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub code: u16,
    pub reason: &'static str,
}

/// What a live connection's right to stay open rests on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    /// An inbox socket: its agent.
    Agent(String),
    /// A widget connection: the key id that signed its session token.
    SigningKey(String),
}

/// A connection's end of the registry: where an [`End`] is sent. Capacity 1: the first
/// reason wins.
pub type Ender = mpsc::Sender<End>;

pub fn ender() -> (Ender, mpsc::Receiver<End>) {
    mpsc::channel(1)
}

#[derive(Debug, Default)]
pub struct Endings {
    holders: Mutex<HashMap<Credential, HashMap<SocketId, Ender>>>,
}

impl Endings {
    fn holders(&self) -> std::sync::MutexGuard<'_, HashMap<Credential, HashMap<SocketId, Ender>>> {
        self.holders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn register(&self, credential: &Credential, id: SocketId, ender: &Ender) {
        self.holders()
            .entry(credential.clone())
            .or_default()
            .insert(id, ender.clone());
    }

    pub fn unregister(&self, credential: &Credential, id: SocketId) {
        let mut holders = self.holders();
        if let Some(connections) = holders.get_mut(credential) {
            connections.remove(&id);
            if connections.is_empty() {
                holders.remove(credential);
            }
        }
    }

    /// Ends every connection resting on `credential`; answers how many there were.
    pub fn end(&self, credential: &Credential, end: End) -> usize {
        let connections = self.holders().remove(credential).unwrap_or_default();
        for ender in connections.values() {
            // Full: it is ending already. Closed: it is gone.
            let _ = ender.try_send(end);
        }
        connections.len()
    }

    /// The signing keys live connections rest on.
    pub fn signing_keys(&self) -> Vec<String> {
        self.holders()
            .keys()
            .filter_map(|credential| match credential {
                Credential::SigningKey(kid) => Some(kid.clone()),
                Credential::Agent(_) => None,
            })
            .collect()
    }
}

/// Resolves when a token expiring at `exp` (Unix seconds; valid through that second, as
/// `tokens::verify` has no leeway) has run out; never without one.
pub async fn token_expiry(exp: Option<i64>) {
    let Some(exp) = exp else {
        return std::future::pending().await;
    };
    let left_ms = (exp + 1) * 1000 - crate::db::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(
        u64::try_from(left_ms).unwrap_or(0),
    ))
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_reaches_each_registered_connection_once() {
        let endings = Endings::default();
        let agent = Credential::Agent("a".into());
        let key = Credential::SigningKey("k".into());
        let (first, mut first_rx) = ender();
        let (second, mut second_rx) = ender();
        endings.register(&agent, 1, &first);
        endings.register(&key, 2, &second);
        assert_eq!(endings.signing_keys(), ["k"]);
        let end = End {
            code: 4003,
            reason: "gone",
        };
        assert_eq!(endings.end(&agent, end), 1);
        assert_eq!(first_rx.try_recv().unwrap(), end);
        assert!(second_rx.try_recv().is_err());
        assert_eq!(endings.end(&agent, end), 0);
        endings.unregister(&key, 2);
        assert!(endings.signing_keys().is_empty());
    }
}
