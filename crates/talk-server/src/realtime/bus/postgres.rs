//! The PostgreSQL bus: `NOTIFY talk` and a `PgListener` per node. Messages, new
//! conversations and revocations are NOTIFYed by the store inside the writing transaction (a
//! NOTIFY is delivered iff its transaction commits); the rest through [`Bus::notify`] after
//! the write, by one task per node.

use super::{Bus, Envelope, Heard, Signal, CHANNEL};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Signals waiting for their NOTIFY before new ones are dropped.
const OUTBOX: usize = 4096;

pub struct PgBus {
    node: Arc<str>,
    pool: PgPool,
    outbox: mpsc::Sender<String>,
    listener_pid: Arc<AtomicI32>,
}

impl PgBus {
    /// Starts the task that sends this node's signals.
    pub fn new(pool: PgPool, node: Arc<str>) -> Self {
        let (outbox, queued) = mpsc::channel(OUTBOX);
        tokio::spawn(send_all(pool.clone(), queued));
        PgBus {
            node,
            pool,
            outbox,
            listener_pid: Arc::default(),
        }
    }
}

async fn send_all(pool: PgPool, mut queued: mpsc::Receiver<String>) {
    while let Some(payload) = queued.recv().await {
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&pool)
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, "bus: notify");
        }
    }
}

impl Bus for PgBus {
    fn node_id(&self) -> &str {
        &self.node
    }

    fn notify(&self, signal: Signal) {
        let _ = self.outbox.try_send(Envelope::payload(&self.node, signal));
    }

    fn start(&self, heard: mpsc::Sender<Heard>) {
        tokio::spawn(listen(
            self.pool.clone(),
            Arc::clone(&self.node),
            Arc::clone(&self.listener_pid),
            heard,
        ));
    }

    fn listener_pid(&self) -> Option<i32> {
        Some(self.listener_pid.load(Ordering::Relaxed)).filter(|pid| *pid != 0)
    }
}

/// A listening connection, its backend id recorded.
async fn connect(pool: &PgPool, pid: &AtomicI32) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut listener)
        .await?;
    pid.store(backend, Ordering::Relaxed);
    Ok(listener)
}

/// Listens until the receiving side is gone. A lost connection is replaced by a new one
/// (not `PgListener`'s silent reconnect), and then the node hears [`Heard::Reconnected`]:
/// whatever was NOTIFYed in between must be loaded from the database.
async fn listen(pool: PgPool, node: Arc<str>, pid: Arc<AtomicI32>, heard: mpsc::Sender<Heard>) {
    let mut first = true;
    loop {
        let mut listener = match connect(&pool, &pid).await {
            Ok(listener) => listener,
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(%error, "bus: listen");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if !first && heard.send(Heard::Reconnected).await.is_err() {
            return;
        }
        first = false;
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    let Ok(envelope) = serde_json::from_str::<Envelope>(notification.payload())
                    else {
                        tracing::warn!(payload = notification.payload(), "bus: unreadable");
                        continue;
                    };
                    if *envelope.node == *node {
                        continue;
                    }
                    if heard
                        .send(Heard::Signal(Box::new(envelope.signal)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(%error, "bus: listener lost");
                    break;
                }
            }
        }
        pid.store(0, Ordering::Relaxed);
    }
}
