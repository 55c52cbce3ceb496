//! The webhook delivery worker: one per node, started by `serve` and stopped with it.
//!
//! A visitor's message in a conversation a bot holds enqueues its delivery in the message's
//! own transaction (a database trigger: `migrations/*/…_bots.sql`), so a crash or restart
//! loses none. The worker leases due deliveries (a conditional `UPDATE`, with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so two nodes never take the same one), builds each event from the
//! stored rows, signs it and POSTs it. A 2xx answer delivers it; anything else is retried
//! with backoff ([`super::retry_delay_ms`]) until `bot_max_attempts`, then it is failed. Only
//! a conversation's oldest pending delivery is ever leased, so a bot gets a conversation's
//! events in order, and a retried one holds back those after it.
//!
//! The worker wakes at once when this node commits a visitor's message ([`Webhooks::wake`]),
//! when a retry falls due, and at least every [`POLL`] for other nodes' work (a lease that
//! ended with its node). From an event's first attempt, the conversation shows the bot
//! typing until it answers, or for [`TYPING_FOR`] at most (until the attempt fails, if it
//! does; retries show none, or a bot that is down would make it flash at each).

use super::client::{bounded_body, webhook_client};
use super::{parse_webhook_url, retry_delay_ms, signature};
use crate::db::{self, Db};
use crate::people;
use crate::realtime::hub::Except;
use crate::realtime::publish;
use crate::store::StoreResult;
use crate::AppState;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use talk_protocol::{
    Author, AuthorKind, Conversation, DeliveryStatus, PersonSummary, ServerEvent, WebhookDelivery,
    WebhookEvent, DELIVERY_ID_HEADER, EVENT_MESSAGE_CREATED, SIGNATURE_HEADER,
};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Deliveries one node has with bots at once.
const MAX_IN_FLIGHT: usize = 16;
/// The longest the worker sleeps without looking (other nodes' leases that ran out).
const POLL: Duration = Duration::from_secs(2);
/// After a wake, how long the worker waits for more: a burst of visitor messages costs one
/// look, not one per message.
const WAKE_COALESCE: Duration = Duration::from_millis(10);
/// A lease outlives the request it covers by this much; a node that dies mid-delivery
/// holds its deliveries this long past their timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How long the bot shows as typing after an event reached it, unless it answers first.
pub const TYPING_FOR: Duration = Duration::from_secs(20);
/// How often the typing is said again: the widget drops an indicator after 6 s of silence.
const TYPING_REFRESH: Duration = Duration::from_secs(4);
/// Delivered and failed deliveries are kept this long for the admin's log.
const KEEP_LOG: Duration = Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The part of a failed answer's body kept in the log.
const MAX_ERROR_CHARS: usize = 300;

/// A delivery this node leased: what the event is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryJob {
    pub id: String,
    pub workspace_id: String,
    pub bot_id: String,
    pub conversation_id: String,
    pub message_id: String,
    pub message_seq: i64,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at: i64,
    /// The lease, which also tells this attempt from a later node's.
    pub leased_until: i64,
}

/// An attempt's outcome as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub status: DeliveryStatus,
    pub next_attempt_at: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

pub(crate) fn status_text(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    }
}

fn parse_status(text: &str) -> DeliveryStatus {
    match text {
        "delivered" => DeliveryStatus::Delivered,
        "failed" => DeliveryStatus::Failed,
        _ => DeliveryStatus::Pending,
    }
}

/// `webhook_deliveries` as the admin's log reads it: id, bot, conversation, event type,
/// status, attempts, last status, last error, created, next attempt, delivered.
pub(crate) type DeliveryRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

pub(crate) fn delivery_from_row(row: DeliveryRow) -> WebhookDelivery {
    let (
        id,
        bot_id,
        conversation_id,
        event_type,
        status,
        attempts,
        last_status,
        last_error,
        created_at,
        next_attempt_at,
        delivered_at,
    ) = row;
    let status = parse_status(&status);
    WebhookDelivery {
        id,
        bot_id,
        conversation_id,
        event_type,
        status,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_status: last_status.and_then(|code| u16::try_from(code).ok()),
        last_error,
        created_at,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(next_attempt_at),
        delivered_at,
    }
}

/// A leased delivery as claimed: id, workspace, bot, conversation, message id and seq,
/// attempts, created.
pub(crate) type JobRow = (String, String, String, String, String, i64, i64, i64);

pub(crate) fn job_from_row(row: JobRow, leased_until: i64) -> DeliveryJob {
    DeliveryJob {
        id: row.0,
        workspace_id: row.1,
        bot_id: row.2,
        conversation_id: row.3,
        message_id: row.4,
        message_seq: row.5,
        attempts: u32::try_from(row.6).unwrap_or(0),
        created_at: row.7,
        leased_until,
    }
}

/// A conversation the bot shows as typing in (on this node).
#[derive(Debug, Clone)]
struct Typing {
    workspace_id: String,
    author: Author,
    /// The delivered message: an answer after it ends the typing.
    after_seq: i64,
    until: Instant,
}

/// What the rest of the server tells the worker; on `AppState`.
#[derive(Debug, Default)]
pub struct Webhooks {
    wake: Notify,
    typing: Mutex<HashMap<String, Typing>>,
}

impl Webhooks {
    /// A visitor's message was committed on this node: it may have enqueued a delivery.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The bot answered in the conversation (on this node): its typing ends with the message.
    pub fn answered(&self, conversation_id: &str) {
        self.typings().remove(conversation_id);
    }

    /// The bot let go of the conversation: its typing, if shown, ends now.
    pub fn let_go(&self, state: &AppState, conversation_id: &str) {
        if let Some(typing) = self.typings().remove(conversation_id) {
            publish_typing(state, conversation_id, &typing, false);
        }
    }

    fn typings(&self) -> std::sync::MutexGuard<'_, HashMap<String, Typing>> {
        self.typing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start_typing(&self, state: &AppState, conversation_id: &str, typing: Typing) {
        publish_typing(state, conversation_id, &typing, true);
        self.typings().insert(conversation_id.to_string(), typing);
    }

    /// Ends the typing the event `after_seq` started (a later event's stays), saying so.
    fn stop_typing(&self, state: &AppState, conversation_id: &str, after_seq: i64) {
        if let Some(typing) = self.take_typing(conversation_id, after_seq) {
            publish_typing(state, conversation_id, &typing, false);
        }
    }

    fn take_typing(&self, conversation_id: &str, after_seq: i64) -> Option<Typing> {
        let mut typings = self.typings();
        if typings
            .get(conversation_id)
            .is_some_and(|typing| typing.after_seq == after_seq)
        {
            typings.remove(conversation_id)
        } else {
            None
        }
    }
}

fn publish_typing(state: &AppState, conversation_id: &str, typing: &Typing, is_typing: bool) {
    publish::in_conversation(
        &state.hub,
        &typing.workspace_id,
        conversation_id,
        ServerEvent::Typing {
            conversation_id: conversation_id.to_string(),
            author: typing.author.clone(),
            typing: is_typing,
        },
        Except::Nobody,
    );
}

/// Says the typing again where it still holds, and ends it where the bot answered (on any
/// node) or the time is up.
async fn refresh_typing(state: &AppState) {
    let typings: Vec<(String, Typing)> = state
        .webhooks
        .typings()
        .iter()
        .map(|(id, typing)| (id.clone(), typing.clone()))
        .collect();
    let now = Instant::now();
    for (conversation_id, typing) in typings {
        let answered = if typing.until <= now {
            None
        } else {
            match state
                .db
                .answered_after(&conversation_id, typing.after_seq)
                .await
            {
                Ok(answered) => Some(answered),
                Err(error) => {
                    tracing::warn!(%error, "bot typing: was it answered?");
                    Some(false)
                }
            }
        };
        match answered {
            // The answer ended it on every screen already.
            Some(true) => {
                state
                    .webhooks
                    .take_typing(&conversation_id, typing.after_seq);
            }
            Some(false) => publish_typing(state, &conversation_id, &typing, true),
            None => state
                .webhooks
                .stop_typing(state, &conversation_id, typing.after_seq),
        }
    }
}

/// The worker: runs until `stop`, then gives up its leases so that the next run (or
/// another node) takes them over at once.
pub async fn run(state: AppState, stop: CancellationToken) {
    let settings = &state.settings;
    let timeout = Duration::from_secs(settings.bot_delivery_timeout_secs.max(1));
    let client = match webhook_client(settings.bot_allow_private_targets, timeout) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhooks: no HTTP client, no deliveries");
            return;
        }
    };
    let lease = timeout + LEASE_MARGIN;
    if state.bus().is_none() {
        // The only node: a lease left behind is its previous run's, which is gone.
        if let Err(error) = state.db.release_leases(None).await {
            tracing::warn!(%error, "webhooks: releasing the previous run's leases");
        }
    }
    let mut in_flight = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut typing = tokio::time::interval(TYPING_REFRESH);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        let now = db::now_ms();
        let mut next_look = now + POLL.as_millis() as i64;
        let room = MAX_IN_FLIGHT - in_flight.len();
        if room > 0 {
            let leased_until = now + lease.as_millis() as i64;
            match state
                .db
                .claim_deliveries(now, leased_until, room as i64)
                .await
            {
                Ok(jobs) => {
                    let claimed_all_room = jobs.len() == room;
                    for job in jobs {
                        let id = job.id.clone();
                        let task = in_flight.spawn(deliver(state.clone(), client.clone(), job));
                        running.insert(task.id(), id);
                    }
                    if !claimed_all_room {
                        match state.db.next_delivery_due().await {
                            Ok(Some(due)) => next_look = next_look.min(due),
                            Ok(None) => {}
                            Err(error) => tracing::warn!(%error, "webhooks: next due"),
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "webhooks: claiming deliveries"),
            }
        }
        let wait = Duration::from_millis(u64::try_from(next_look - now).unwrap_or(0));
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(error) => error.id(),
                };
                running.remove(&id);
            }
            _ = state.webhooks.wake.notified() => tokio::time::sleep(WAKE_COALESCE).await,
            _ = tokio::time::sleep(wait) => {}
            _ = typing.tick() => refresh_typing(&state).await,
            _ = prune.tick() => prune_log(&state.db).await,
        }
    }
    in_flight.abort_all();
    while in_flight.join_next().await.is_some() {}
    let unfinished: Vec<String> = running.into_values().collect();
    if !unfinished.is_empty() {
        if let Err(error) = state.db.release_leases(Some(&unfinished)).await {
            tracing::warn!(%error, "webhooks: releasing leases at shutdown");
        }
    }
}

async fn prune_log(db: &Db) {
    let before = db::now_ms() - KEEP_LOG.as_millis() as i64;
    if let Err(error) = db.prune_deliveries(before).await {
        tracing::warn!(%error, "webhooks: pruning the delivery log");
    }
}

/// One attempt's result.
#[derive(Debug)]
enum Attempt {
    Delivered {
        status: u16,
    },
    Failed {
        status: Option<u16>,
        error: String,
        /// False when no retry can help (the bot is switched off, the message is gone).
        retry: bool,
    },
}

/// Attempts one delivery and records the outcome, if the lease is still this attempt's.
async fn deliver(state: AppState, client: reqwest::Client, job: DeliveryJob) {
    let attempt = attempt(&state, &client, &job).await;
    let record = outcome(&state, &job, attempt);
    match state
        .db
        .record_attempt(&job.id, job.leased_until, &record)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::info!(delivery = %job.id, "webhooks: the lease ran out first"),
        Err(error) => tracing::error!(%error, delivery = %job.id, "webhooks: recording"),
    }
}

fn outcome(state: &AppState, job: &DeliveryJob, attempt: Attempt) -> AttemptRecord {
    let now = db::now_ms();
    let attempts = job.attempts + 1;
    match attempt {
        Attempt::Delivered { status } => AttemptRecord {
            status: DeliveryStatus::Delivered,
            next_attempt_at: now,
            last_status: Some(status),
            last_error: None,
            delivered_at: Some(now),
        },
        Attempt::Failed {
            status,
            error,
            retry,
        } => {
            let settings = &state.settings;
            let again = retry && attempts < settings.bot_max_attempts;
            let delay = retry_delay_ms(
                attempts,
                settings.bot_retry_base_ms,
                settings.bot_retry_max_ms,
                rand::random::<f64>(),
            );
            tracing::info!(
                delivery = %job.id, attempts, again, %error, "webhooks: the bot did not take it"
            );
            AttemptRecord {
                status: if again {
                    DeliveryStatus::Pending
                } else {
                    DeliveryStatus::Failed
                },
                next_attempt_at: now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX)),
                last_status: status,
                last_error: Some(error),
                delivered_at: None,
            }
        }
    }
}

fn failed(error: impl Into<String>, retry: bool) -> Attempt {
    Attempt::Failed {
        status: None,
        error: error.into(),
        retry,
    }
}

async fn attempt(state: &AppState, client: &reqwest::Client, job: &DeliveryJob) -> Attempt {
    let bot = match state.db.bot_by_id(&job.workspace_id, &job.bot_id).await {
        Ok(Some(bot)) => bot,
        Ok(None) => return failed("the bot was deleted", false),
        Err(error) => return failed(format!("store: {error}"), true),
    };
    if !bot.input.enabled {
        return failed("the bot is switched off", false);
    }
    let event = match event_for(&state.db, job).await {
        Ok(Some(event)) => event,
        Ok(None) => return failed("the conversation or its message is gone", false),
        Err(error) => return failed(format!("store: {error}"), true),
    };
    // Checked again at every attempt: the admin may have changed it, or the server's setting.
    let url = match parse_webhook_url(
        &bot.input.webhook_url,
        state.settings.bot_allow_private_targets,
    ) {
        Ok(url) => url,
        Err(problem) => return failed(problem.message(), true),
    };
    let body = match serde_json::to_vec(&event) {
        Ok(body) => body,
        Err(error) => return failed(format!("encoding: {error}"), false),
    };
    let signed = signature(&bot.signing_secret, db::now_ms() / 1000, &body);
    let webhooks = &state.webhooks;
    // The first attempt only: a bot that is down would make the typing flash at every retry.
    let shows_typing = job.attempts == 0;
    if shows_typing {
        let typing = Typing {
            workspace_id: job.workspace_id.clone(),
            author: Author {
                kind: AuthorKind::Bot,
                name: Some(bot.input.name.clone()),
            },
            after_seq: job.message_seq,
            until: Instant::now() + TYPING_FOR,
        };
        webhooks.start_typing(state, &job.conversation_id, typing);
    }
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signed)
        .header(DELIVERY_ID_HEADER, &job.id)
        .body(body)
        .send()
        .await;
    let attempt = match sent {
        Ok(response) => {
            let status = response.status();
            let answer = bounded_body(response).await;
            if status.is_success() {
                Attempt::Delivered {
                    status: status.as_u16(),
                }
            } else {
                let text = String::from_utf8_lossy(&answer);
                Attempt::Failed {
                    status: Some(status.as_u16()),
                    error: format!("HTTP {status}: {}", shortened(text.trim())),
                    retry: true,
                }
            }
        }
        Err(error) => failed(describe(error), true),
    };
    if shows_typing && !matches!(attempt, Attempt::Delivered { .. }) {
        webhooks.stop_typing(state, &job.conversation_id, job.message_seq);
    }
    attempt
}

fn shortened(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The error and its causes, without the URL (the admin knows it; logs need not).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    shortened(&text)
}

/// The event as of now, from the stored rows: the conversation as it is, the message, and
/// whom the visitor said it is. `None` when the conversation or message is gone.
async fn event_for(db: &Db, job: &DeliveryJob) -> StoreResult<Option<WebhookEvent>> {
    let Some(conversation) = db
        .find_conversation(&job.workspace_id, &job.conversation_id)
        .await?
    else {
        return Ok(None);
    };
    let message = db
        .messages_after(&job.conversation_id, job.message_seq - 1, 1)
        .await?
        .into_iter()
        .find(|message| message.id == job.message_id);
    let Some(message) = message else {
        return Ok(None);
    };
    let contact = contact_of(db, &job.workspace_id, &conversation).await?;
    Ok(Some(WebhookEvent {
        id: job.id.clone(),
        event_type: EVENT_MESSAGE_CREATED.to_string(),
        created_at: job.created_at,
        bot_id: job.bot_id.clone(),
        conversation,
        message,
        contact,
    }))
}

/// A verified conversation's person; else what its visitor typed in the email form.
async fn contact_of(
    db: &Db,
    workspace_id: &str,
    conversation: &Conversation,
) -> StoreResult<Option<PersonSummary>> {
    if let (true, Some(person_id)) = (conversation.verified, &conversation.person_id) {
        let person = people::by_id(db, workspace_id, person_id).await?;
        return Ok(person.map(|person| person.summary()));
    }
    let known = people::visitor_identity(db, workspace_id, &conversation.visitor_id).await?;
    Ok(known.claim.as_ref().map(people::Claim::summary))
}
