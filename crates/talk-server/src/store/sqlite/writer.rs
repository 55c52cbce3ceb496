//! The SQLite store's writer: one connection on its own thread that commits a whole
//! group-commit batch in one call, and the frequent small writes (sessions, visitors, page
//! views) with whatever else is waiting. Through sqlx's pool every statement was a round trip to
//! a worker thread (two per message, plus BEGIN and COMMIT), and the pool's connections took
//! turns writing, so each began with a cold page cache (SQLite drops a connection's cache
//! when another connection has written since). Here a batch crosses threads once, its
//! statements stay prepared, and the cache stays warm from one batch to the next.

use super::{author_kind_text, constraint_name};
use crate::conversations::{NewConversation, NewMessage};
use crate::store::{Committed, StoreError, StoreResult};
use rusqlite::types::Value;
use rusqlite::TransactionBehavior;
use rusqlite::{
    ffi, params, params_from_iter, Connection, ErrorCode, OpenFlags, OptionalExtension,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use talk_protocol::Message;
use tokio::sync::oneshot;

type Batch = Vec<(String, NewMessage)>;
type Outcomes = StoreResult<Vec<StoreResult<Committed>>>;

/// Jobs taken into one transaction at most: bounds how long the first waits for its commit.
const MAX_JOBS: usize = 512;

/// What a job asks for.
enum Work {
    /// A group-commit batch: each message numbered, a refused one failing alone.
    Messages(Batch),
    /// One statement (a session, a visitor, a page view), committed with whatever else is
    /// waiting: concurrent writers share one fsync instead of queueing on SQLite's write lock,
    /// whose busy handler sleeps up to 100 ms at a time.
    Statement {
        sql: &'static str,
        params: Vec<Value>,
    },
    /// A conversation with its first message, both or neither; `None` when the visitor has
    /// `max_open` open conversations already.
    Start {
        id: String,
        // Boxed: the other jobs, far more frequent, need not be its size.
        conversation: Box<NewConversation>,
        message: NewMessage,
        max_open: i64,
        now: i64,
    },
}

/// What the job gets back, once committed.
enum Done {
    Messages(oneshot::Sender<Outcomes>),
    Statement(oneshot::Sender<StoreResult<()>>),
    Start(oneshot::Sender<StoreResult<Option<Message>>>),
}

enum Outcome {
    Messages(Vec<StoreResult<Committed>>),
    Statement(StoreResult<()>),
    Start(StoreResult<Option<Message>>),
}

/// The handle; the thread ends (and closes its connection) when the handle is dropped.
pub struct Writer {
    // Unbounded, yet short: the group commit sends one batch and waits for its answer, and
    // each statement's sender waits for its own (an HTTP request each).
    jobs: mpsc::Sender<(Work, Done)>,
}

/// Why a message (or a new conversation) was not inserted.
enum InsertError {
    /// This message alone: the statement failed and wrote nothing; the transaction is intact.
    Refused(StoreError),
    /// The transaction may be half-done or rolled back: it must not commit.
    Transaction(rusqlite::Error),
}

const INSERT_MESSAGE: &str = "INSERT INTO messages
       (id, conversation_id, seq, author_kind, author_name, body, client_msg_id, created_at,
        auto_reply)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

const CONVERSATION_TAIL: &str =
    "SELECT last_seq, status = 'closed' FROM conversations WHERE id = ?1";

// Counted in the insert itself, so concurrent starts of one visitor can't pass the cap
// together (the writer holds the write lock while it counts). The bot is taken only if it
// is still there and enabled.
const INSERT_CONVERSATION: &str = "INSERT INTO conversations
       (id, workspace_id, visitor_id, person_id, session_id, verified, status, last_seq,
        created_at, updated_at, bot_id, preview)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'open', 0, ?7, ?7,
            (SELECT id FROM bots WHERE id = ?9 AND workspace_id = ?2 AND enabled), ?10
     WHERE (SELECT COUNT(*) FROM conversations
            WHERE workspace_id = ?2 AND visitor_id = ?3 AND status = 'open') < ?8";

const MOVE_LAST_SEQ: &str = "UPDATE conversations
     SET last_seq = ?1, updated_at = ?2, status = CASE WHEN ?3 THEN 'open' ELSE status END
     WHERE id = ?4";

impl Writer {
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
        connection.set_prepared_statement_cache_capacity(16);
        let (jobs, queue) = mpsc::channel::<(Work, Done)>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut connection = connection;
                while let Ok(first) = queue.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < MAX_JOBS {
                        match queue.try_recv() {
                            Ok(job) => jobs.push(job),
                            Err(_) => break,
                        }
                    }
                    run(&mut connection, jobs);
                }
            })
            .map_err(StoreError::other)?;
        Ok(Writer { jobs })
    }

    /// Commits `batch` in one transaction; a refused message fails alone.
    pub async fn append(&self, batch: Batch) -> Outcomes {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send((Work::Messages(batch), Done::Messages(done)))
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Runs one statement and returns once it is committed; a constraint it breaks fails it
    /// alone, as [`StoreError::Conflict`] for a uniqueness one.
    pub async fn execute(&self, sql: &'static str, params: Vec<Value>) -> StoreResult<()> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send((Work::Statement { sql, params }, Done::Statement(done)))
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

impl Writer {
    /// Starts a conversation with its first message, committed together.
    pub async fn start(
        &self,
        id: String,
        conversation: NewConversation,
        message: NewMessage,
        max_open: i64,
        now: i64,
    ) -> StoreResult<Option<Message>> {
        let (done, answer) = oneshot::channel();
        let work = Work::Start {
            id,
            conversation: Box::new(conversation),
            message,
            max_open,
            now,
        };
        self.jobs
            .send((work, Done::Start(done)))
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> StoreError {
    StoreError::other("the SQLite writer has stopped")
}

/// Commits the jobs in one transaction, then answers each; when the transaction fails,
/// nothing of it was committed and every job hears so.
fn run(connection: &mut Connection, jobs: Vec<(Work, Done)>) {
    let (works, dones): (Vec<Work>, Vec<Done>) = jobs.into_iter().unzip();
    match commit(connection, works) {
        Ok(outcomes) => {
            for (done, outcome) in dones.into_iter().zip(outcomes) {
                // A sender may have gone (socket closed); what it asked is committed anyway.
                let _ = match (done, outcome) {
                    (Done::Messages(done), Outcome::Messages(outcome)) => {
                        done.send(Ok(outcome)).is_ok()
                    }
                    (Done::Statement(done), Outcome::Statement(outcome)) => {
                        done.send(outcome).is_ok()
                    }
                    (Done::Start(done), Outcome::Start(outcome)) => done.send(outcome).is_ok(),
                    _ => unreachable!("outcomes come in the jobs' order and kinds"),
                };
            }
        }
        Err(error) => {
            tracing::error!(%error, jobs = dones.len(), "SQLite writer: the commit failed");
            for done in dones {
                let failed = || StoreError::other(format!("the commit failed: {error}"));
                let _ = match done {
                    Done::Messages(done) => done.send(Err(failed())).is_ok(),
                    Done::Statement(done) => done.send(Err(failed())).is_ok(),
                    Done::Start(done) => done.send(Err(failed())).is_ok(),
                };
            }
        }
    }
}

fn commit(connection: &mut Connection, works: Vec<Work>) -> rusqlite::Result<Vec<Outcome>> {
    // IMMEDIATE takes the write lock at BEGIN, so the transaction never fails half-way on a
    // lock another connection took first.
    let mut tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(works.len());
    for work in works {
        // An error that is not a refusal returns, and dropping `tx` rolls everything back.
        outcomes.push(match work {
            Work::Messages(batch) => {
                let mut committed = Vec::with_capacity(batch.len());
                let mut tails = Tails::default();
                for (conversation_id, message) in batch {
                    match insert_message(&tx, &mut tails, &conversation_id, message) {
                        Ok(message) => committed.push(Ok(message)),
                        Err(InsertError::Refused(error)) => committed.push(Err(error)),
                        Err(InsertError::Transaction(error)) => return Err(error),
                    }
                }
                tails.store(&tx)?;
                Outcome::Messages(committed)
            }
            Work::Statement { sql, params } => {
                let executed = tx
                    .prepare_cached(sql)
                    .and_then(|mut statement| statement.execute(params_from_iter(params)));
                match executed.map_err(classify) {
                    Ok(_) => Outcome::Statement(Ok(())),
                    Err(InsertError::Refused(error)) => Outcome::Statement(Err(error)),
                    Err(InsertError::Transaction(error)) => return Err(error),
                }
            }
            Work::Start {
                id,
                conversation,
                message,
                max_open,
                now,
            } => {
                // Both rows or neither: a refused first message undoes its conversation
                // (dropping the savepoint rolls back to it), and nothing else.
                let savepoint = tx.savepoint()?;
                match start(&savepoint, &id, &conversation, message, max_open, now) {
                    Ok(started) => {
                        savepoint.commit()?;
                        Outcome::Start(Ok(started))
                    }
                    Err(InsertError::Refused(error)) => Outcome::Start(Err(error)),
                    Err(InsertError::Transaction(error)) => return Err(error),
                }
            }
        });
    }
    tx.commit()?;
    Ok(outcomes)
}

fn start(
    connection: &Connection,
    id: &str,
    conversation: &NewConversation,
    message: NewMessage,
    max_open: i64,
    now: i64,
) -> Result<Option<Message>, InsertError> {
    let inserted = connection
        .prepare_cached(INSERT_CONVERSATION)
        .and_then(|mut insert| {
            insert.execute(params![
                id,
                conversation.workspace_id,
                conversation.visitor_id,
                conversation.person_id,
                conversation.session_id,
                conversation.verified,
                now,
                max_open,
                conversation.bot_id,
                conversation.preview,
            ])
        })
        .map_err(classify)?;
    if inserted == 0 {
        return Ok(None);
    }
    let mut tails = Tails::default();
    let (message, _) = insert_message(connection, &mut tails, id, message)?;
    tails.store(connection).map_err(InsertError::Transaction)?;
    Ok(Some(message))
}

/// The conversations a transaction appends to: each one's row is read once, its messages
/// numbered from it, and its `last_seq` moved once at the end (`store`), instead of two
/// statements on its row per message.
#[derive(Default)]
struct Tails(HashMap<String, Tail>);

struct Tail {
    last_seq: i64,
    /// Closed when read, until a visitor's message reopens it.
    closed: bool,
    /// When a message was last appended; `None` while none was.
    updated_at: Option<i64>,
}

impl Tails {
    /// The conversation's tail, read on first use; `None` when it does not exist.
    fn of(
        &mut self,
        tx: &Connection,
        conversation_id: &str,
    ) -> rusqlite::Result<Option<&mut Tail>> {
        if !self.0.contains_key(conversation_id) {
            let read = tx
                .prepare_cached(CONVERSATION_TAIL)?
                .query_row(params![conversation_id], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            let Some((last_seq, closed)) = read else {
                return Ok(None);
            };
            let tail = Tail {
                last_seq,
                closed,
                updated_at: None,
            };
            self.0.insert(conversation_id.to_string(), tail);
        }
        Ok(self.0.get_mut(conversation_id))
    }

    /// Moves each appended conversation's `last_seq`, and reopens it when it is no longer
    /// closed (an open one stays open either way).
    fn store(self, tx: &Connection) -> rusqlite::Result<()> {
        for (conversation_id, tail) in self.0 {
            if let Some(updated_at) = tail.updated_at {
                tx.prepare_cached(MOVE_LAST_SEQ)?.execute(params![
                    tail.last_seq,
                    updated_at,
                    !tail.closed,
                    conversation_id
                ])?;
            }
        }
        Ok(())
    }
}

/// Inserts the conversation's next message in the caller's transaction; a visitor's message
/// (`reopens`) reopens a closed conversation. The insert is the only statement bad input can
/// fail (a resent client_msg_id), and a failed statement leaves nothing behind and takes no
/// seq: no savepoint needed. The caller stores `tails` before it commits.
fn insert_message(
    tx: &Connection,
    tails: &mut Tails,
    conversation_id: &str,
    message: NewMessage,
) -> Result<Committed, InsertError> {
    let now = crate::db::now_ms();
    let id = crate::db::new_message_id();
    let tail = tails
        .of(tx, conversation_id)
        .map_err(InsertError::Transaction)?
        .ok_or(InsertError::Refused(StoreError::NotFound))?;
    let seq = tail.last_seq + 1;
    tx.prepare_cached(INSERT_MESSAGE)
        .and_then(|mut insert| {
            insert.execute(params![
                id,
                conversation_id,
                seq,
                author_kind_text(message.author.kind),
                message.author.name,
                message.body,
                message.client_msg_id,
                now,
                message.auto_reply,
            ])
        })
        .map_err(classify)?;
    let reopened = message.reopens && tail.closed;
    tail.last_seq = seq;
    tail.closed &= !message.reopens;
    tail.updated_at = Some(now);
    Ok((message.committed(id, conversation_id, seq, now), reopened))
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
