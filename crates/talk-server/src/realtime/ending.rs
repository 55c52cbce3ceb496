//! Ending live connections from elsewhere, at once: an agent removed or its password reset,
//! a signing key retired; and when a widget connection's token runs out. Each live connection registers under what its right to stay open
//! rests on (its agent, or the key that signed its token) and the transport listens for an
//! [`End`]. The registry is per process: with PostgreSQL the store NOTIFYs removals, resets
//! and retired keys and every other node's sequencer ends its own connections at once; the
//! agent socket's heartbeat and the retired-key poll remain as the fallback.

use super::hub::SocketId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Notify;

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

/// Where an [`End`] is sent to one connection; the first reason wins. A slot set once and a
/// wake-up rather than a channel: every live connection holds one, and a tokio channel
/// allocated ~1.3 KB (a block of 32 slots) for the one event it would ever carry
/// (`socket::footprint`).
#[derive(Debug, Clone)]
pub struct Ender(Arc<EndSignal>);

/// The connection's side: what it listens on.
#[derive(Debug)]
pub struct Ends(Arc<EndSignal>);

#[derive(Debug, Default)]
struct EndSignal {
    end: OnceLock<End>,
    woken: Notify,
}

pub fn ender() -> (Ender, Ends) {
    let signal = Arc::new(EndSignal::default());
    (Ender(Arc::clone(&signal)), Ends(signal))
}

impl Ender {
    /// Ends the connection, unless an earlier reason did.
    pub fn send(&self, end: End) {
        if self.0.end.set(end).is_ok() {
            // Stored as a permit when the connection is not waiting right now.
            self.0.woken.notify_one();
        }
    }
}

impl Ends {
    /// The `End` sent so far, without waiting.
    pub fn ended(&self) -> Option<End> {
        self.0.end.get().copied()
    }

    /// The first `End` sent; pending until one is. Cancel-safe: the end stays in its slot.
    pub async fn recv(&mut self) -> End {
        loop {
            if let Some(end) = self.ended() {
                return end;
            }
            self.0.woken.notified().await;
        }
    }
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
            ender.send(end);
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
    use futures_util::FutureExt;

    #[test]
    fn the_first_end_wins_and_stays_until_read() {
        let (ender, mut ends) = ender();
        let first = End {
            code: 4002,
            reason: "first",
        };
        ender.send(first);
        ender.send(End {
            code: 4003,
            reason: "second",
        });
        assert_eq!(ends.recv().now_or_never(), Some(first));
        assert_eq!(ends.recv().now_or_never(), Some(first));
    }

    #[tokio::test]
    async fn an_end_wakes_a_connection_already_waiting() {
        let (ender, mut ends) = ender();
        let waiting = tokio::spawn(async move { ends.recv().await });
        tokio::task::yield_now().await;
        let end = End {
            code: 4003,
            reason: "gone",
        };
        ender.send(end);
        assert_eq!(waiting.await.unwrap(), end);
    }

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
        assert_eq!(first_rx.recv().now_or_never(), Some(end));
        assert_eq!(second_rx.recv().now_or_never(), None);
        assert_eq!(endings.end(&agent, end), 0);
        endings.unregister(&key, 2);
        assert!(endings.signing_keys().is_empty());
    }
}
