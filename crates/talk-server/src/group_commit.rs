//! Group commit for messages. One writer task per node takes every message waiting in its
//! queue and hands them to the store as one batch, committed in a single transaction
//! ([`crate::store::Store::append_messages`]); a message refused (a resend, a conversation
//! that is gone) fails alone. Concurrent messages then share one fsync instead of queueing on
//! the database's write lock (SQLite's busy handler sleeps up to 100 ms at a time), and every
//! sender is answered only after the commit that made its message durable. How each engine
//! keeps a refused message from failing the rest is in its store module.

use crate::conversations::NewMessage;
use crate::db::Db;
use crate::store::{StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

pub use crate::store::Committed;

/// Most messages in one transaction: bounds how long the first of them waits for its commit.
const MAX_BATCH: usize = 256;
/// Senders wait (back-pressure) when this many messages are queued.
const QUEUE_CAPACITY: usize = 4096;

struct Job {
    conversation_id: String,
    message: NewMessage,
    done: oneshot::Sender<StoreResult<Committed>>,
}

/// The handle the rest of the server appends messages through; cheap to clone.
#[derive(Clone)]
pub struct MessageWriter {
    db: Db,
    jobs: mpsc::Sender<Job>,
}

impl MessageWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub fn start(db: Db) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(db.clone(), queue));
        MessageWriter { db, jobs }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Appends `message` and returns once it is committed.
    pub async fn commit(
        &self,
        conversation_id: &str,
        message: NewMessage,
    ) -> StoreResult<Committed> {
        let (done, answer) = oneshot::channel();
        let job = Job {
            conversation_id: conversation_id.to_string(),
            message,
            done,
        };
        self.jobs.send(job).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> StoreError {
    StoreError::other("the message writer has stopped")
}

async fn run(db: Db, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit_batch(&db, std::mem::take(&mut batch)).await;
    }
}

async fn commit_batch(db: &Db, batch: Vec<Job>) {
    let (work, answers): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|job| ((job.conversation_id, job.message), job.done))
        .unzip();
    match db.append_messages(work).await {
        Ok(outcomes) => {
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                // The sender may have gone (socket closed); the message is stored regardless.
                let _ = answer.send(outcome);
            }
        }
        Err(error) => {
            // Nothing of the batch was committed; every sender hears the error and resends.
            tracing::error!(%error, messages = answers.len(), "group commit failed");
            for answer in answers {
                let _ = answer.send(Err(StoreError::other(format!(
                    "the commit failed: {error}"
                ))));
            }
        }
    }
}
