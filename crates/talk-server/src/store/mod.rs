//! Storage: every SQL statement of the server is below this module, behind one trait,
//! [`Store`], with one implementation per engine ([`sqlite`], [`postgres`]), each with its
//! own migrations (`migrations/sqlite`, `migrations/postgres`). [`connect`] picks the engine
//! by the scheme of the database URL. The rest of the server holds an `Arc<dyn Store>`
//! (`crate::db::Db` is `dyn Store`) and never sees an engine's types.
//!
//! The trait is object-safe through `async_trait` (boxed futures): handlers and the realtime
//! code take `&dyn Store`, so nothing is generic over the backend and nothing is compiled
//! twice. A boxed future per call is noise next to a database round trip.
//!
//! Store methods answer [`StoreError`], never an HTTP error; `crate::error` maps it.

mod numbering;
pub mod postgres;
pub(crate) mod rows;
pub mod sqlite;

use crate::conversations::{InboxFilter, InboxRowPage, NewConversation, NewMessage, Viewer};
use crate::people::{Claim, Person, VisitorIdentity};
use crate::tokens::SigningKey;
use crate::workspaces::Workspace;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use talk_protocol::{
    AgentProfile, AgentRole, ApiKeyInfo, Conversation, InboxConversation, Message, OnlineAgent,
    PageView, Presence,
};

/// What a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the call needs does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness constraint refused the write; `constraint` is one of [`constraint`]'s
    /// names (the same on every engine), or the engine's own name for one not listed there.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// Anything else: I/O, the engine, a lost connection, a bug.
    #[error("{0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Other(error.into())
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Counts the changes that may alter a visitor's author line (a person saved, a visitor
/// linked or its claim recorded): this node's own, and other nodes' as the bus reports them.
/// A session keeps the author it read while the count stays put, instead of reading it again
/// for every message (`realtime::session`).
#[derive(Debug, Default)]
pub struct IdentityVersion(AtomicU64);

impl IdentityVersion {
    /// Read before reading an author: a change committed after the read moves it.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// After such a change has committed (or may have, unheard, on another node).
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// The names conflicts are reported under, whatever the engine.
pub mod constraint {
    pub const MESSAGE_CLIENT_ID: &str = "messages_client_msg_id";
    pub const MESSAGE_SEQ: &str = "messages_seq";
    pub const PERSON_EMAIL: &str = "people_email";
    pub const AGENT_EMAIL: &str = "agents_email";
    pub const WORKSPACE_CAPTURE_KEY: &str = "workspaces_capture_key";
    pub const API_KEY_HASH: &str = "api_keys_key_hash";
}

/// A committed message and whether it reopened its conversation.
pub type Committed = (Message, bool);

/// An API key as stored: only its hash.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: String,
    pub key_hash: String,
    pub prefix: Option<String>,
    pub created_at: i64,
}

/// An agent as stored; the email is normalised.
#[derive(Debug, Clone)]
pub struct AgentRecord {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: AgentRole,
    pub photo_url: Option<String>,
    pub password_hash: String,
    pub created_at: i64,
}

/// Everything a new workspace starts with, written in one transaction.
#[derive(Debug, Clone)]
pub struct WorkspaceRecord {
    pub id: String,
    pub name: String,
    pub capture_key: String,
    pub created_at: i64,
    pub signing_kid: String,
    pub signing_secret: String,
    pub api_key: ApiKeyRecord,
    pub admin: AgentRecord,
}

/// A widget or API session.
#[derive(Debug, Clone)]
pub struct SessionRecord<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub visitor_id: Option<&'a str>,
    pub person_id: Option<&'a str>,
    pub verified: bool,
    /// `"api"` or `"widget"`.
    pub kind: &'a str,
    pub created_at: i64,
    /// Started with a preview token (`crate::usage::preview`).
    pub preview: bool,
}

/// One condition of a person lookup by merge fields.
#[derive(Debug, Clone)]
pub enum PersonKey {
    /// `str::email`, normalised: compared with the column people are matched by.
    Email(String),
    /// A text field, compared trimmed.
    Text { name: String, value: String },
    /// An integer or boolean field, compared exactly (`json` is the value's JSON).
    Exact { name: String, json: String },
}

/// A page view to record.
#[derive(Debug, Clone)]
pub struct PageViewRecord<'a> {
    pub url: &'a str,
    pub title: Option<&'a str>,
    pub referrer: Option<&'a str>,
    pub created_at: i64,
}

/// A change to a conversation; applied only when it changes something.
#[derive(Debug, Clone)]
pub enum ConversationChange {
    Status(talk_protocol::ConversationStatus),
    Assignee(Option<String>),
    /// Moves a read position forward, never back.
    VisitorRead(i64),
    AgentRead(i64),
}

/// All the SQL of the server. One implementation per engine; see the module's doc.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which engine this is (`"sqlite"`, `"postgres"`), for logs and tests.
    fn backend(&self) -> &'static str;
    /// The bus between nodes sharing this database, if the engine has one; called once per
    /// server. SQLite: none (one node).
    fn bus(&self) -> Option<Arc<dyn crate::realtime::Bus>> {
        None
    }
    /// Moves after every write of `save_person`, `link_visitor` and `record_claim`.
    fn identity_version(&self) -> &IdentityVersion;

    // Workspaces, API keys, widget settings.
    async fn create_workspace(&self, workspace: &WorkspaceRecord) -> StoreResult<()>;
    async fn count_workspaces(&self) -> StoreResult<i64>;
    async fn workspace_by_id(&self, id: &str) -> StoreResult<Option<Workspace>>;
    async fn workspace_by_capture_key(&self, capture_key: &str) -> StoreResult<Option<Workspace>>;
    async fn oldest_workspace(&self) -> StoreResult<Option<Workspace>>;
    async fn set_allowed_origins(&self, workspace_id: &str, origins_json: &str) -> StoreResult<()>;
    async fn set_names_required(&self, workspace_id: &str, names_required: bool)
        -> StoreResult<()>;
    async fn insert_api_key(&self, workspace_id: &str, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn revoke_api_key(&self, key_hash: &str, now: i64) -> StoreResult<()>;
    async fn list_api_keys(&self, workspace_id: &str) -> StoreResult<Vec<ApiKeyInfo>>;
    /// Keeps the first revocation time; false if the workspace has no such key.
    async fn revoke_api_key_by_id(
        &self,
        workspace_id: &str,
        key_id: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// The stored settings JSON (`None`: defaults) and names_required; `None` if there is no
    /// such workspace.
    async fn widget_settings(
        &self,
        workspace_id: &str,
    ) -> StoreResult<Option<(Option<String>, bool)>>;
    async fn save_widget_settings(
        &self,
        workspace_id: &str,
        settings_json: &str,
        names_required: bool,
    ) -> StoreResult<()>;

    // Signing keys.
    /// The newest key not retired.
    async fn active_signing_key(&self, workspace_id: &str) -> StoreResult<Option<SigningKey>>;
    async fn signing_key(&self, kid: &str) -> StoreResult<Option<SigningKey>>;
    /// Adds a key created strictly after every other key of the workspace (so it is the
    /// active one even within a millisecond); false if there is no such workspace.
    async fn add_signing_key(
        &self,
        workspace_id: &str,
        kid: &str,
        secret: &str,
        now: i64,
    ) -> StoreResult<bool>;
    async fn retire_signing_key(&self, kid: &str, now: i64) -> StoreResult<()>;
    /// Which of these keys are retired.
    async fn retired_signing_keys(&self, kids: &[String]) -> StoreResult<Vec<String>>;

    // Agents and their sign-in sessions.
    /// Conflict [`constraint::AGENT_EMAIL`] when the email is taken in the workspace.
    async fn insert_agent(&self, workspace_id: &str, agent: &AgentRecord) -> StoreResult<()>;
    async fn agent_by_id(
        &self,
        workspace_id: &str,
        agent_id: &str,
    ) -> StoreResult<Option<AgentProfile>>;
    async fn agent_anywhere(&self, agent_id: &str) -> StoreResult<Option<AgentProfile>>;
    async fn list_agents(&self, workspace_id: &str) -> StoreResult<Vec<AgentProfile>>;
    async fn delete_agent(&self, workspace_id: &str, agent_id: &str) -> StoreResult<bool>;
    /// Sets the hash and ends the agent's sessions, together; false if no such agent.
    async fn reset_agent_password(
        &self,
        workspace_id: &str,
        agent_id: &str,
        hash: &str,
    ) -> StoreResult<bool>;
    async fn set_presence(&self, agent_id: &str, presence: Presence) -> StoreResult<()>;
    async fn online_agents(&self, workspace_id: &str) -> StoreResult<Vec<OnlineAgent>>;
    async fn any_agent_online(&self, workspace_id: &str) -> StoreResult<bool>;
    /// `(agent id, workspace id, password hash)` of the accounts with this email, oldest first.
    async fn login_candidates(
        &self,
        email: &str,
        workspace_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String, String)>>;
    async fn insert_agent_session(
        &self,
        id_hash: &str,
        agent_id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// `(agent id, expires at)`.
    async fn agent_session(&self, id_hash: &str) -> StoreResult<Option<(String, i64)>>;
    async fn extend_agent_session(&self, id_hash: &str, expires_at: i64) -> StoreResult<()>;
    async fn delete_agent_session(&self, id_hash: &str) -> StoreResult<()>;

    // People, visitors, sessions, page views.
    async fn person_by_id(&self, workspace_id: &str, id: &str) -> StoreResult<Option<Person>>;
    async fn person_by_email(
        &self,
        workspace_id: &str,
        email_norm: &str,
    ) -> StoreResult<Option<Person>>;
    /// The oldest person matching every key; `None` for no keys.
    async fn find_person(
        &self,
        workspace_id: &str,
        keys: &[PersonKey],
    ) -> StoreResult<Option<Person>>;
    /// False when the email is taken.
    async fn insert_person(
        &self,
        workspace_id: &str,
        person: &Person,
        email_norm: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Conflict [`constraint::PERSON_EMAIL`] when another person has the email.
    async fn save_person(
        &self,
        workspace_id: &str,
        person: &Person,
        email_norm: &str,
        now: i64,
    ) -> StoreResult<()>;
    async fn record_source_ip(
        &self,
        workspace_id: &str,
        person_id: &str,
        ip: &str,
        now: i64,
    ) -> StoreResult<()>;
    async fn link_visitor(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        person_id: &str,
    ) -> StoreResult<()>;
    async fn record_claim(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        person_id: &str,
        claim: &Claim,
    ) -> StoreResult<()>;
    async fn visitor_identity(
        &self,
        workspace_id: &str,
        visitor_id: &str,
    ) -> StoreResult<Option<VisitorIdentity>>;
    async fn upsert_visitor(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        now: i64,
    ) -> StoreResult<()>;
    async fn insert_session(&self, session: &SessionRecord<'_>) -> StoreResult<()>;
    async fn record_page_view(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        view: &PageViewRecord<'_>,
    ) -> StoreResult<()>;
    async fn page_views_for_conversation(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        verified_person_id: Option<&str>,
    ) -> StoreResult<Vec<PageView>>;
    async fn page_views_for_person(
        &self,
        workspace_id: &str,
        person_id: &str,
    ) -> StoreResult<Vec<PageView>>;

    // Conversations and messages.
    async fn visible_conversations(&self, viewer: &Viewer) -> StoreResult<Vec<Conversation>>;
    async fn find_visible_conversation(
        &self,
        viewer: &Viewer,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>>;
    /// The workspace's conversations, previews left out.
    async fn list_conversations(&self, workspace_id: &str) -> StoreResult<Vec<Conversation>>;
    async fn find_conversation(
        &self,
        workspace_id: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>>;
    /// Up to `page.limit` rows in the inbox's order after `page.after`, previews left out.
    async fn inbox_rows(
        &self,
        workspace_id: &str,
        filter: InboxFilter<'_>,
        page: &InboxRowPage,
    ) -> StoreResult<Vec<InboxConversation>>;
    /// The newest `limit` messages with `seq < before_seq`, newest first.
    async fn messages_before(
        &self,
        conversation_id: &str,
        before_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    /// The first `limit` messages with `seq > after_seq`, oldest first.
    async fn messages_after(
        &self,
        conversation_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    async fn message_by_client_id(
        &self,
        conversation_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<Option<Message>>;
    async fn visitor_message_by_client_id(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<Option<Message>>;
    /// The group commit: appends every message in one transaction, each with its
    /// conversation's next seq, and answers one outcome per message, in order, once committed.
    /// A message refused (a resent `client_msg_id`: conflict [`constraint::MESSAGE_CLIENT_ID`];
    /// no such conversation: not found) fails alone and uses no seq. `Err`: nothing was
    /// committed.
    async fn append_messages(
        &self,
        batch: Vec<(String, NewMessage)>,
    ) -> StoreResult<Vec<StoreResult<Committed>>>;
    /// Starts a conversation with its first message in one transaction; `None` when the
    /// visitor already has `max_open` open conversations.
    async fn create_conversation(
        &self,
        id: &str,
        conversation: &NewConversation,
        message: NewMessage,
        max_open: i64,
        now: i64,
    ) -> StoreResult<Option<Message>>;
    /// Applies the change unless it changes nothing; whether it changed something.
    async fn update_conversation(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        change: &ConversationChange,
        now: i64,
    ) -> StoreResult<bool>;

    // Calls (`crate::calls`).
    /// Conflict: the id is taken, or the conversation has a live call already.
    async fn insert_call(&self, call: &crate::calls::CallRecord) -> StoreResult<()>;
    async fn call_by_id(&self, id: &str) -> StoreResult<Option<crate::calls::CallRecord>>;
    /// Saves `call` (its `version` already moved on) if the stored row is still at
    /// `expected_version`; whether it was.
    async fn save_call(
        &self,
        call: &crate::calls::CallRecord,
        expected_version: i64,
    ) -> StoreResult<bool>;
    /// The calls not yet ended that `party` (a widget session id, an agent's connection)
    /// takes part in; every one when `party` is `None`.
    async fn live_calls(&self, party: Option<&str>) -> StoreResult<Vec<crate::calls::CallRecord>>;

    // Capture widgets (`crate::captures`).
    /// Appends a capture widget at the end of the workspace's order; false when the
    /// workspace has `max` already. Every write below keeps `workspaces.captures_enabled`
    /// (any enabled capture widget) in its transaction.
    async fn insert_capture_widget(
        &self,
        record: &crate::captures::stored::CaptureWidgetRecord<'_>,
        max: i64,
    ) -> StoreResult<bool>;
    /// Replaces its input (not its position); false if the workspace has no such widget.
    async fn update_capture_widget(
        &self,
        record: &crate::captures::stored::CaptureWidgetRecord<'_>,
    ) -> StoreResult<bool>;
    async fn delete_capture_widget(&self, workspace_id: &str, id: &str) -> StoreResult<bool>;
    /// The workspace's capture widgets in order, with their counts; only `id`'s when given.
    async fn capture_widgets(
        &self,
        workspace_id: &str,
        id: Option<&str>,
    ) -> StoreResult<Vec<crate::captures::stored::CaptureWidgetRow>>;
    /// Gives the widgets the positions of `ids`; false (and nothing changed) unless `ids` is
    /// exactly the workspace's widgets.
    async fn order_capture_widgets(&self, workspace_id: &str, ids: &[String]) -> StoreResult<bool>;
    /// The widget settings and enabled capture widgets a page view's offer is chosen from.
    async fn capture_offer_source(
        &self,
        workspace_id: &str,
    ) -> StoreResult<crate::captures::stored::OfferSource>;
    /// The visitor's newest `max_views` page view times and its latest event per capture and
    /// kind, in one query.
    async fn capture_history(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        max_views: i64,
    ) -> StoreResult<Vec<crate::captures::stored::HistoryRow>>;
    /// Records `shown` (once per session) or `dismissed` (once per visitor); a repeat is a
    /// no-op. False when the workspace has no such capture widget.
    async fn record_capture_event(
        &self,
        workspace_id: &str,
        capture_id: &str,
        event: crate::captures::stored::CaptureEvent,
        visitor_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// A visitor's reply to a capture, all or nothing (see `CaptureStart`).
    async fn start_capture_conversation(
        &self,
        start: &crate::captures::stored::CaptureStart,
    ) -> StoreResult<crate::captures::stored::CaptureStarted>;
    /// The conversations a capture widget started, newest first, at most `limit`.
    async fn capture_conversations(
        &self,
        workspace_id: &str,
        capture_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<Conversation>>;

    // Bots and their webhook deliveries (`crate::bots`).
    /// Adds the bot and its key (marked as the bot's) together, unless the workspace has
    /// `max_bots` bots already: then false, and nothing is written.
    async fn insert_bot(
        &self,
        bot: &crate::bots::registry::BotRecord,
        key: &ApiKeyRecord,
        max_bots: i64,
    ) -> StoreResult<bool>;
    /// A workspace's bots, oldest first.
    async fn list_bots(
        &self,
        workspace_id: &str,
    ) -> StoreResult<Vec<crate::bots::registry::BotRecord>>;
    async fn bot_by_id(
        &self,
        workspace_id: &str,
        bot_id: &str,
    ) -> StoreResult<Option<crate::bots::registry::BotRecord>>;
    /// Saves what an admin may change; false if there is no such bot.
    async fn update_bot(
        &self,
        workspace_id: &str,
        bot_id: &str,
        input: &talk_protocol::BotInput,
        now: i64,
    ) -> StoreResult<bool>;
    /// Revokes the bot's key, lets go of its conversations and deletes it with its
    /// deliveries, together; false if there is no such bot.
    async fn delete_bot(&self, workspace_id: &str, bot_id: &str, now: i64) -> StoreResult<bool>;
    /// Whose an active (not revoked) API key is: its workspace, and the bot of a bot's key.
    async fn api_key_holder(
        &self,
        key_hash: &str,
    ) -> StoreResult<Option<crate::bots::registry::KeyHolder>>;
    /// The bot holding a conversation of the workspace: `(id, name)`.
    async fn conversation_bot(
        &self,
        workspace_id: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<(String, String)>>;
    /// Lets go of the conversation if `bot_id` holds it; whether it did.
    async fn release_conversation(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        bot_id: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Leases up to `limit` pending deliveries due at `now` until `leased_until`, oldest due
    /// first: of each conversation only its oldest pending one (order), and none that holds
    /// an unexpired lease (another node's, or this one's in flight).
    async fn claim_deliveries(
        &self,
        now: i64,
        leased_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<crate::bots::delivery::DeliveryJob>>;
    /// When the next delivery [`Store::claim_deliveries`] could take falls due: its next
    /// attempt, or the end of its lease if that is later.
    async fn next_delivery_due(&self) -> StoreResult<Option<i64>>;
    /// Records an attempt and ends the lease, if the lease is still `leased_until` (else it
    /// ran out and another attempt took over); whether it was.
    async fn record_attempt(
        &self,
        delivery_id: &str,
        leased_until: i64,
        attempt: &crate::bots::delivery::AttemptRecord,
    ) -> StoreResult<bool>;
    /// Ends the leases of these deliveries, or every lease with `None` (a lone node's
    /// previous run).
    async fn release_leases(&self, delivery_ids: Option<&[String]>) -> StoreResult<()>;
    /// A bot's newest `limit` deliveries, newest first.
    async fn list_deliveries(
        &self,
        workspace_id: &str,
        bot_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<talk_protocol::WebhookDelivery>>;
    /// Deletes the delivered and failed deliveries created before `before`.
    async fn prune_deliveries(&self, before: i64) -> StoreResult<u64>;
    /// Whether anyone but the visitor wrote in the conversation after `seq`.
    async fn answered_after(&self, conversation_id: &str, seq: i64) -> StoreResult<bool>;

    // Conversations agents start (`crate::outbound`).
    /// Where the person was seen: among the visitors still linked to the person, the one
    /// with the person's newest verified widget session, and the one with the newest widget
    /// session of any kind (each with that session). Preview sessions are never either.
    async fn outbound_sightings(
        &self,
        workspace_id: &str,
        person_id: &str,
    ) -> StoreResult<crate::outbound::Sightings>;
    /// Starts the conversation with its first message (seq 1) in one transaction, unless the
    /// person got one under the message's `client_msg_id` before, or the recipient's widget
    /// lists `max_open` open conversations already (its visitor's, and the person's verified
    /// ones when the new one is verified). Atomic against concurrent starts of either kind.
    async fn start_outbound(
        &self,
        start: &crate::outbound::OutboundStart,
    ) -> StoreResult<crate::outbound::OutboundOutcome>;

    // Usage metering and quotas (`crate::usage`).
    /// The workspace's `usage_days` rows from `from_day` to `to_day` (both included, both
    /// preview flags), oldest first; days without activity have none.
    async fn usage_days(
        &self,
        workspace_id: &str,
        from_day: i64,
        to_day: i64,
    ) -> StoreResult<Vec<crate::usage::stored::UsageRow>>;
    /// The sums of those rows of one preview flag.
    async fn usage_total(
        &self,
        workspace_id: &str,
        from_day: i64,
        to_day: i64,
        preview: bool,
    ) -> StoreResult<talk_protocol::UsageCounts>;
    /// Saves the workspace's quota (read back with the workspace); false if there is no such
    /// workspace.
    async fn set_quota(
        &self,
        workspace_id: &str,
        quota: &talk_protocol::QuotaSettings,
    ) -> StoreResult<bool>;
    /// Records that a threshold was crossed in a month; true only for the call that recorded
    /// it (so of every node, one warns).
    async fn record_quota_warning(
        &self,
        workspace_id: &str,
        warning: &talk_protocol::QuotaWarning,
        now: i64,
    ) -> StoreResult<bool>;

    // Previews (`crate::usage::preview`).
    /// Deletes up to `limit` preview conversations created before `before`, their messages,
    /// calls and webhook deliveries with them; how many. `usage_days` keeps its counts.
    async fn delete_preview_conversations(&self, before: i64, limit: i64) -> StoreResult<u64>;
    /// Deletes up to `limit` preview sessions created before `before` that no conversation
    /// rests on any more; how many.
    async fn delete_preview_sessions(&self, before: i64, limit: i64) -> StoreResult<u64>;
}

/// Opens (creating if missing, for SQLite) and migrates the database `url` names: `sqlite:…`
/// is SQLite, `postgres://…` or `postgresql://…` PostgreSQL.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::other(format!(
            "unsupported database URL {url:?}: use sqlite://FILE or postgres://…"
        )))
    }
}

pub(crate) fn author_kind_text(kind: talk_protocol::AuthorKind) -> &'static str {
    use talk_protocol::AuthorKind;
    match kind {
        AuthorKind::Visitor => "visitor",
        AuthorKind::Agent => "agent",
        AuthorKind::Bot => "bot",
    }
}

pub(crate) fn status_text(status: talk_protocol::ConversationStatus) -> &'static str {
    use talk_protocol::ConversationStatus;
    match status {
        ConversationStatus::Open => "open",
        ConversationStatus::Closed => "closed",
    }
}

pub(crate) fn role_text(role: AgentRole) -> &'static str {
    match role {
        AgentRole::Admin => "admin",
        AgentRole::Agent => "agent",
    }
}

pub(crate) fn presence_text(presence: Presence) -> &'static str {
    match presence {
        Presence::Online => "online",
        Presence::Away => "away",
    }
}
