//! Group commit for messages. One writer task takes every message waiting in its queue and
//! commits them in a single transaction; a message refused by a constraint (a resend) fails
//! alone, as its one failing statement leaves nothing behind. Concurrent messages then share
//! one fsync instead of queueing on SQLite's write lock (whose busy handler sleeps up to
//! 100 ms at a time), and every sender is answered only after the commit that made its
//! message durable.

use crate::conversations::{self, InsertError, NewMessage};
use crate::db::Db;
use talk_protocol::Message;
use tokio::sync::{mpsc, oneshot};

/// Most messages in one transaction: bounds how long the first of them waits for its commit.
const MAX_BATCH: usize = 256;
/// Senders wait (back-pressure) when this many messages are queued.
const QUEUE_CAPACITY: usize = 4096;

/// A committed message and whether it reopened its conversation.
pub type Committed = (Message, bool);

struct Job {
    conversation_id: String,
    message: NewMessage,
    done: oneshot::Sender<Result<Committed, sqlx::Error>>,
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
    ) -> Result<Committed, sqlx::Error> {
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

fn writer_gone() -> sqlx::Error {
    sqlx::Error::WorkerCrashed
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
    match write_all(db, work).await {
        Ok(outcomes) => {
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                // The sender may have gone (socket closed); the message is stored regardless.
                let _ = answer.send(outcome);
            }
        }
        Err(error) => {
            tracing::error!(%error, messages = answers.len(), "group commit failed");
            for answer in answers {
                let _ = answer.send(Err(sqlx::Error::Protocol(format!(
                    "the commit failed: {error}"
                ))));
            }
        }
    }
}

/// One transaction for the whole batch; `Err` means nothing of it was committed.
async fn write_all(
    db: &Db,
    work: Vec<(String, NewMessage)>,
) -> Result<Vec<Result<Committed, sqlx::Error>>, sqlx::Error> {
    let mut outcomes = Vec::with_capacity(work.len());
    let mut tx = db.begin().await?;
    for (conversation_id, message) in work {
        match conversations::insert_message(&mut tx, &conversation_id, message).await {
            Ok(committed) => outcomes.push(Ok(committed)),
            Err(InsertError::Refused(error)) => outcomes.push(Err(error)),
            // Dropping `tx` rolls the batch back; every sender hears the error and resends.
            Err(InsertError::Transaction(error)) => return Err(error),
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}
