//! The SQLite store's message writer: one connection on its own thread that commits a whole
//! group-commit batch in one call. Through sqlx's pool every statement was a round trip to
//! a worker thread (two per message, plus BEGIN and COMMIT), and the pool's connections took
//! turns writing, so each began with a cold page cache (SQLite drops a connection's cache
//! when another connection has written since). Here a batch crosses threads once, its
//! statements stay prepared, and the cache stays warm from one batch to the next.

use super::{author_kind_text, constraint_name};
use crate::conversations::NewMessage;
use crate::store::{Committed, StoreError, StoreResult};
use rusqlite::{ffi, params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use rusqlite::{Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use talk_protocol::Message;
use tokio::sync::oneshot;

type Batch = Vec<(String, NewMessage)>;
type Outcomes = StoreResult<Vec<StoreResult<Committed>>>;

struct Job {
    batch: Batch,
    done: oneshot::Sender<Outcomes>,
}

/// The handle; the thread ends (and closes its connection) when the handle is dropped.
pub struct MessageConnection {
    // Unbounded, yet never long: the group commit sends one batch and waits for its answer.
    jobs: mpsc::Sender<Job>,
}

/// Why a message was not inserted (as `InsertError` in the parent module).
enum InsertError {
    /// This message alone: the statement failed and wrote nothing; the transaction is intact.
    Refused(StoreError),
    /// The transaction may be half-done or rolled back: it must not commit.
    Transaction(rusqlite::Error),
}

const INSERT_MESSAGE: &str = "INSERT INTO messages
       (id, conversation_id, seq, author_kind, author_name, body, client_msg_id, created_at)
     SELECT ?1, id, last_seq + 1, ?2, ?3, ?4, ?5, ?6 FROM conversations WHERE id = ?7
     RETURNING seq, (SELECT status FROM conversations WHERE id = conversation_id)";

const MOVE_LAST_SEQ: &str = "UPDATE conversations
     SET last_seq = ?1, updated_at = ?2, status = CASE WHEN ?3 THEN 'open' ELSE status END
     WHERE id = ?4";

impl MessageConnection {
    /// Opens the (already migrated, WAL) database file with the pool's settings.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(StoreError::other)?;
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(StoreError::other)?;
        // As the pool's connections: acknowledged only once durable, and no checkpoint
        // inside a commit (the store checkpoints in the background).
        connection
            .execute_batch(
                "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
                 PRAGMA wal_autocheckpoint = 0;",
            )
            .map_err(StoreError::other)?;
        connection.set_prepared_statement_cache_capacity(4);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut connection = connection;
                while let Ok(job) = queue.recv() {
                    // The sender may have gone; the batch is committed regardless.
                    let _ = job.done.send(commit(&mut connection, job.batch));
                }
            })
            .map_err(StoreError::other)?;
        Ok(MessageConnection { jobs })
    }

    /// Commits `batch` in one transaction; a refused message fails alone.
    pub async fn append(&self, batch: Batch) -> Outcomes {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { batch, done })
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> StoreError {
    StoreError::other("the SQLite message writer has stopped")
}

fn commit(connection: &mut Connection, batch: Batch) -> Outcomes {
    // IMMEDIATE takes the write lock at BEGIN, so the batch never fails half-way on a lock
    // another connection took first.
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::other)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for (conversation_id, message) in batch {
        match insert_message(&tx, &conversation_id, message) {
            Ok(committed) => outcomes.push(Ok(committed)),
            Err(InsertError::Refused(error)) => outcomes.push(Err(error)),
            // Dropping `tx` rolls the batch back; every sender hears the error and resends.
            Err(InsertError::Transaction(error)) => return Err(StoreError::other(error)),
        }
    }
    tx.commit().map_err(StoreError::other)?;
    Ok(outcomes)
}

/// The parent module's `insert_message`, on this connection: the conversation's next seq,
/// `last_seq` moved, a closed conversation reopened by a visitor's message.
fn insert_message(
    tx: &Transaction<'_>,
    conversation_id: &str,
    message: NewMessage,
) -> Result<Committed, InsertError> {
    let now = crate::db::now_ms();
    let id = crate::db::new_message_id();
    let inserted: Option<(i64, String)> = tx
        .prepare_cached(INSERT_MESSAGE)
        .and_then(|mut insert| {
            insert
                .query_row(
                    params![
                        id,
                        author_kind_text(message.author.kind),
                        message.author.name,
                        message.body,
                        message.client_msg_id,
                        now,
                        conversation_id,
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
        })
        .map_err(classify)?;
    let (seq, status_before) = inserted.ok_or(InsertError::Refused(StoreError::NotFound))?;
    tx.prepare_cached(MOVE_LAST_SEQ)
        .and_then(|mut update| update.execute(params![seq, now, message.reopens, conversation_id]))
        .map_err(InsertError::Transaction)?;
    let reopened = message.reopens && status_before == "closed";
    let message = Message {
        id,
        conversation_id: conversation_id.to_string(),
        seq,
        author: message.author,
        body: message.body,
        client_msg_id: message.client_msg_id,
        created_at: now,
    };
    Ok((message, reopened))
}

/// A constraint ends its statement only; I/O, full-disk or busy errors may have rolled the
/// whole transaction back (SQLite's "automatic rollback").
fn classify(error: rusqlite::Error) -> InsertError {
    let rusqlite::Error::SqliteFailure(failure, text) = &error else {
        return InsertError::Transaction(error);
    };
    if failure.code != ErrorCode::ConstraintViolation {
        return InsertError::Transaction(error);
    }
    let unique = matches!(
        failure.extended_code,
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    );
    InsertError::Refused(if unique {
        StoreError::Conflict {
            constraint: constraint_name(text.as_deref().unwrap_or_default()),
        }
    } else {
        StoreError::other(error)
    })
}
