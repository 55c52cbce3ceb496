//! One authenticated session handling `ClientEvent`s: the core that the widget's WebSocket
//! (`socket.rs`), its HTTP + SSE transport (`http::talk_messages`) and the inbox's agent
//! socket share. A transport feeds it events and writes out what it answers and what the hub
//! queues for it.

use super::calls;
use super::ending::{self, Credential, Ender, Ends};
use super::hub::{Except, Queue, Subscriber, Topic};
use super::publish;
use crate::actions;
use crate::agents::{self, SessionLookup};
use crate::auto_reply;
use crate::bots;
use crate::calls::{Actor, CallRecord};
use crate::captures::service::{self as captures, Replied, Started};
use crate::conversations::{self, Appended, NewConversation, NewMessage, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::history;
use crate::people;
use crate::rate_limit::rate_limited;
use crate::tokens::{self, SocketClaims};
use crate::usage;
use crate::AppState;
use governor::clock::Clock;
use governor::DefaultDirectRateLimiter;
use talk_protocol::{
    call_error, error_code, AgentProfile, AgentRole, Author, AuthorKind, ClientEvent, Conversation,
    ConversationStatus, Message, ServerEvent, MAX_OPEN_CONVERSATIONS_PER_VISITOR,
};
use tokio_util::sync::CancellationToken;

/// Who the session speaks for.
enum Participant {
    /// A widget session: sees only what the Security rule lets its viewer see.
    Visitor {
        claims: SocketClaims,
        viewer: Viewer,
    },
    /// A signed-in agent: sees every conversation of its workspace and writes as itself.
    Agent {
        agent: AgentProfile,
        /// The `talk_agent` cookie's session, checked again while the socket lives.
        cookie_session: String,
    },
}

pub struct Session {
    participant: Participant,
    /// What `Except::Session` and the typing limiter know this session by: the widget
    /// session's id, or `agent:{agent id}` (all of an agent's inbox tabs alike).
    session_key: String,
    /// This session's side in a call (`crate::calls`): the widget session's id (all its
    /// connections, so a call survives a switch to HTTP + SSE), or for an agent this one
    /// inbox connection.
    party: String,
    state: AppState,
    /// The live connection's end of the hub; `None` for a single HTTP request, which has
    /// nothing to subscribe.
    live: Option<Subscriber>,
    /// A list: a visitor has a few topics (its own, its conversations'), and a set of one
    /// allocated ~250 B more per idle socket (`socket::footprint`).
    subscribed: Vec<Topic>,
    /// Messages a live connection may still send; `None`: unlimited, or a single HTTP
    /// request, whose sends draw on the widget session's budget (`Limits`).
    message_budget: Option<DefaultDirectRateLimiter>,
    /// Where [`Endings`](super::Endings) ends this connection, once its transport listens
    /// (see [`Session::ends`]), and what it is registered under.
    ender: Option<(Ender, Credential)>,
    /// A send failed on the server's side (see `handle_or_error_event`): the connection
    /// must end before it reads another frame.
    unstored_send: bool,
    /// A visitor's author as last read, kept while no identity changed (boxed: an idle
    /// socket that never sends keeps one pointer).
    known_author: Option<Box<KnownAuthor>>,
}

/// What [`Session::author`] read, and the [`IdentityVersion`](crate::store::IdentityVersion)
/// it read it at.
struct KnownAuthor {
    version: u64,
    person_id: String,
    author: Author,
}

/// The `error` event a live connection answers a failed event with.
pub fn error_event(error: &ApiError, client_msg_id: Option<String>) -> ServerEvent {
    ServerEvent::Error {
        code: error.code().to_string(),
        message: error.public_message(),
        client_msg_id,
    }
}

impl Session {
    /// A widget session for one HTTP request.
    pub fn new(state: AppState, claims: SocketClaims) -> Self {
        let participant = Participant::Visitor {
            viewer: Viewer {
                workspace_id: claims.ws.clone(),
                visitor_id: claims.vid.clone(),
                verified_person_id: if claims.ver { claims.pid.clone() } else { None },
            },
            claims,
        };
        Session::with(state, participant)
    }

    fn with(state: AppState, participant: Participant) -> Self {
        let session_key = match &participant {
            Participant::Visitor { claims, .. } => claims.sid.clone(),
            Participant::Agent { agent, .. } => format!("agent:{}", agent.id),
        };
        Session {
            participant,
            party: session_key.clone(),
            session_key,
            state,
            live: None,
            subscribed: Vec::new(),
            message_budget: None,
            ender: None,
            unstored_send: false,
            known_author: None,
        }
    }

    /// A widget session for a live connection: the hub queues events for it on `queue` and
    /// cancels `too_slow` when that queue is full (in events or bytes).
    pub fn live(
        state: AppState,
        claims: SocketClaims,
        queue: Queue,
        too_slow: CancellationToken,
    ) -> Self {
        Session::new(state, claims).connected(queue, too_slow)
    }

    /// A signed-in agent's live connection (the inbox's socket).
    pub fn live_agent(
        state: AppState,
        agent: AgentProfile,
        cookie_session: String,
        queue: Queue,
        too_slow: CancellationToken,
    ) -> Self {
        let participant = Participant::Agent {
            agent,
            cookie_session,
        };
        Session::with(state, participant).connected(queue, too_slow)
    }

    fn connected(mut self, queue: Queue, too_slow: CancellationToken) -> Self {
        let id = self.state.hub.next_socket_id();
        self.live = Some(Subscriber::new(id, &self.session_key, queue, too_slow));
        if let Participant::Agent { .. } = self.participant {
            let node = self.state.bus().map_or("local", |bus| bus.node_id());
            self.party = format!("{node}/{id}");
        }
        self.message_budget = self.state.limits.socket_limiter();
        self
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Registers this live connection so that removing its agent, resetting the agent's
    /// password or retiring its token's signing key ends it at once; the transport closes
    /// the connection with the `End` it receives.
    pub fn ends(&mut self) -> Ends {
        let (ender, ends) = ending::ender();
        self.register(ender);
        ends
    }

    /// (Re-)registers under what the connection rests on now.
    fn register(&mut self, ender: Ender) {
        self.unregister();
        let Some(subscriber) = &self.live else {
            return;
        };
        let credential = match &self.participant {
            Participant::Visitor { claims, .. } => Credential::SigningKey(claims.kid.clone()),
            Participant::Agent { agent, .. } => Credential::Agent(agent.id.clone()),
        };
        self.state
            .endings
            .register(&credential, subscriber.id, &ender);
        self.ender = Some((ender, credential));
    }

    fn unregister(&mut self) {
        if let (Some((_, credential)), Some(subscriber)) = (self.ender.take(), &self.live) {
            self.state.endings.unregister(&credential, subscriber.id);
        }
    }

    /// When the widget session's token runs out (Unix seconds); `None` for an agent, whose
    /// cookie session is checked on every heartbeat instead.
    pub fn token_expires_at(&self) -> Option<i64> {
        match &self.participant {
            Participant::Visitor { claims, .. } => Some(claims.exp),
            Participant::Agent { .. } => None,
        }
    }

    /// A later `auth` on a live widget connection: a fresh token of the same visitor, person
    /// and verified state replaces the one the connection rests on (its expiry and key).
    /// What the session may see rests on those, so nothing else changes; the connection
    /// keeps its session id.
    async fn renew(&mut self, token: &str) -> ApiResult<()> {
        let Participant::Visitor { claims, .. } = &self.participant else {
            return Err(ApiError::bad_request(
                "invalid_event",
                "the inbox's socket is authenticated by the session cookie, not auth",
            ));
        };
        if self.live.is_none() {
            return Err(ApiError::bad_request(
                "invalid_event",
                "auth is for the WebSocket: here the token goes in the Authorization header",
            ));
        }
        let fresh = tokens::verify_socket_token(&self.state.db, token).await?;
        let same = fresh.ws == claims.ws
            && fresh.vid == claims.vid
            && fresh.pid == claims.pid
            && fresh.ver == claims.ver
            && fresh.pre == claims.pre;
        if !same {
            return Err(ApiError::bad_request(
                error_code::TOKEN_MISMATCH,
                "the token is for another visitor, person, verified state or preview: reconnect \
                 with it",
            ));
        }
        let moved_key = fresh.kid != claims.kid;
        if let Participant::Visitor { claims, .. } = &mut self.participant {
            claims.exp = fresh.exp;
            claims.kid = fresh.kid;
        }
        if moved_key {
            // The transport keeps its receiver; only the registration moves to the new key.
            if let Some((ender, _)) = self.ender.clone() {
                self.register(ender);
            }
        }
        Ok(())
    }

    /// A preview session's (`crate::usage::preview`): counted apart, under its own limits.
    /// An agent's session never is.
    fn preview(&self) -> bool {
        matches!(&self.participant, Participant::Visitor { claims, .. } if claims.pre)
    }

    fn workspace_id(&self) -> &str {
        match &self.participant {
            Participant::Visitor { viewer, .. } => &viewer.workspace_id,
            Participant::Agent { agent, .. } => &agent.workspace_id,
        }
    }

    /// Whether the agent's cookie session still holds (signed out or expired: no). A widget
    /// session's token was checked when it connected.
    pub async fn still_signed_in(&self) -> ApiResult<bool> {
        match &self.participant {
            Participant::Visitor { .. } => Ok(true),
            Participant::Agent { cookie_session, .. } => Ok(matches!(
                agents::session_agent(&self.state.db, cookie_session).await?,
                SessionLookup::Valid(_)
            )),
        }
    }

    fn subscribe(&mut self, topic: Topic) {
        if let Some(subscriber) = &self.live {
            if !self.subscribed.contains(&topic) {
                self.state.hub.subscribe(&topic, subscriber);
                self.subscribed.push(topic);
            }
        }
    }

    /// Leaves out this connection from what it caused: it learns of that from its answer.
    fn except_self(&self) -> Except<'static> {
        match &self.live {
            Some(subscriber) => Except::Socket(subscriber.id),
            None => Except::Nobody,
        }
    }

    /// Subscribes to this viewer's topics and every visible conversation; returns those
    /// conversations, newest first. An agent subscribes to its workspace's topic and gets no
    /// list: the inbox lists with `GET /v1/agent/conversations` after `ready`.
    pub async fn start(&mut self) -> ApiResult<Vec<Conversation>> {
        let viewer = match &self.participant {
            Participant::Visitor { viewer, .. } => viewer.clone(),
            Participant::Agent { agent, .. } => {
                let workspace_id = agent.workspace_id.clone();
                if agent.role == AgentRole::Admin {
                    self.subscribe(Topic::Admins(workspace_id.clone()));
                }
                self.subscribe(Topic::Workspace(workspace_id));
                return Ok(Vec::new());
            }
        };
        // Viewer topics first: a conversation started after this is announced there, one
        // started before is in the list below.
        self.subscribe(Topic::Visitor {
            workspace_id: viewer.workspace_id.clone(),
            visitor_id: viewer.visitor_id.clone(),
        });
        if let Some(person_id) = viewer.verified_person_id.clone() {
            self.subscribe(Topic::Person {
                workspace_id: viewer.workspace_id.clone(),
                person_id,
            });
        }
        let visible = conversations::visible(&self.state.db, &viewer).await?;
        for conversation in &visible {
            self.subscribe(Topic::conversation(&conversation.id));
        }
        // With other nodes: this node delivers these conversations from what was just read,
        // whichever node's message it hears of first.
        if let (Some(sequencer), Some(_)) = (self.state.hub.sequencer(), &self.live) {
            for conversation in &visible {
                sequencer.watch(
                    &self.state.hub,
                    &viewer.workspace_id,
                    &conversation.id,
                    conversation.last_seq,
                );
            }
        }
        Ok(visible)
    }

    pub fn ready(&self, conversations: Vec<Conversation>) -> ServerEvent {
        ServerEvent::Ready {
            session_id: self.session_key.clone(),
            conversations,
        }
    }

    /// Called for each event the hub delivered: a conversation announced on a viewer topic
    /// (started in another tab) gets subscribed, so its later events arrive too. An agent
    /// hears everything on its workspace's topic already.
    pub fn on_delivered(&mut self, event: &ServerEvent) {
        if let ServerEvent::Call { .. } = event {
            // A call this session may answer or take part in: its signals come here.
            self.subscribe(Topic::Party(self.party.clone()));
            return;
        }
        if matches!(self.participant, Participant::Agent { .. }) {
            return;
        }
        let conversation_id = match event {
            ServerEvent::ConversationUpdated { conversation } => &conversation.id,
            ServerEvent::Message { message } => &message.conversation_id,
            _ => return,
        };
        self.subscribe(Topic::conversation(conversation_id));
    }

    /// A live connection's text frame: answers with events, errors included.
    pub async fn handle_text(&mut self, text: &str) -> Vec<ServerEvent> {
        match serde_json::from_str::<ClientEvent>(text) {
            Ok(event) => self.handle_or_error_event(event).await,
            Err(error) => vec![error_event(
                &ApiError::bad_request("invalid_event", error.to_string()),
                None,
            )],
        }
    }

    async fn handle_or_error_event(&mut self, event: ClientEvent) -> Vec<ServerEvent> {
        let client_msg_id = match &event {
            ClientEvent::Send { client_msg_id, .. }
            | ClientEvent::CaptureReply { client_msg_id, .. } => Some(client_msg_id.clone()),
            _ => None,
        };
        match self.handle(event).await {
            Ok(replies) => replies,
            // Not a refusal: the store failed (PostgreSQL restarting, a lost connection,
            // perhaps mid-commit), so whether the message is stored is unknown. An `error`
            // would make the client give the message up while it goes on sending the ones
            // typed after it. Instead the socket ends unread (`take_unstored_send`), and the
            // widget or the inbox resends this message and every later one, in order, under
            // their ids (both keep an outbox).
            Err(error) if client_msg_id.is_some() && error.status().is_server_error() => {
                tracing::warn!(%error, "a send failed: ending the socket");
                self.unstored_send = true;
                Vec::new()
            }
            Err(error) => vec![error_event(&error, client_msg_id)],
        }
    }

    /// Whether the last frame was a send the server failed to store; the socket then closes
    /// (1011) before reading the next frame, so nothing sent after it is stored ahead of it.
    pub fn take_unstored_send(&mut self) -> bool {
        std::mem::take(&mut self.unstored_send)
    }

    /// Handles one event; returns the direct answers (others hear through the hub).
    pub async fn handle(&mut self, event: ClientEvent) -> ApiResult<Vec<ServerEvent>> {
        match event {
            ClientEvent::Ping => Ok(vec![ServerEvent::Pong]),
            ClientEvent::CaptureReply {
                capture_id,
                client_msg_id,
                body,
            } => {
                // A reply is a send: it draws on the same budget.
                self.take_from_budget()?;
                Ok(vec![
                    self.capture_reply(&capture_id, &client_msg_id, &body)
                        .await?,
                ])
            }
            ClientEvent::Auth { token } => {
                self.renew(&token).await?;
                Ok(Vec::new())
            }
            ClientEvent::Resume {
                conversation_id,
                after_seq,
            } => Ok(vec![self.resume(&conversation_id, after_seq).await?]),
            ClientEvent::LoadBefore {
                conversation_id,
                before_seq,
                limit,
            } => {
                let (before_seq, limit) = conversations::checked_page(before_seq, limit)?;
                let conversation = self.visible_conversation(&conversation_id).await?;
                let messages =
                    history::before(&self.state.db, &conversation.id, before_seq, limit).await?;
                Ok(vec![ServerEvent::History {
                    conversation_id: conversation.id,
                    messages,
                    more: false,
                }])
            }
            ClientEvent::Send {
                conversation_id,
                client_msg_id,
                body,
            } => {
                // Only sends count: resuming after a reconnect must never be refused.
                self.take_from_budget()?;
                Ok(vec![
                    self.send(conversation_id, &client_msg_id, &body).await?,
                ])
            }
            ClientEvent::Typing {
                conversation_id,
                typing,
            } => {
                self.typing(&conversation_id, typing).await?;
                Ok(Vec::new())
            }
            ClientEvent::Read {
                conversation_id,
                up_to_seq,
            } => {
                self.read(&conversation_id, up_to_seq).await?;
                Ok(Vec::new())
            }
            ClientEvent::CallStart {
                conversation_id,
                call_id,
            } => Ok(vec![self.call_start(&conversation_id, &call_id).await?]),
            ClientEvent::CallAnswer { call_id, accept } => {
                let call = self.visible_call(&call_id).await?;
                self.subscribe(Topic::Party(self.party.clone()));
                calls::answer(&self.state, &call.call.id, self.actor(), accept).await?;
                Ok(Vec::new())
            }
            ClientEvent::CallSignal { call_id, signal } => {
                let call = self.visible_call(&call_id).await?;
                calls::signal(&self.state, &call, self.actor(), signal).await?;
                Ok(Vec::new())
            }
            ClientEvent::CallConnected { call_id } => {
                let call = self.visible_call(&call_id).await?;
                calls::connected(&self.state, &call.call.id, self.actor()).await?;
                Ok(Vec::new())
            }
            ClientEvent::CallHangup { call_id, failed } => {
                let call = self.visible_call(&call_id).await?;
                calls::hang_up(&self.state, &call.call.id, self.actor(), failed).await?;
                Ok(Vec::new())
            }
        }
    }

    /// Who this session is in a call.
    fn actor(&self) -> Actor<'_> {
        match &self.participant {
            Participant::Visitor { .. } => Actor::Visitor { party: &self.party },
            Participant::Agent { agent, .. } => Actor::Agent {
                party: &self.party,
                agent_id: &agent.id,
                agent_name: &agent.name,
            },
        }
    }

    /// A call in a conversation this session sees; any other is `call_not_found`, exactly
    /// as if it didn't exist.
    async fn visible_call(&self, call_id: &str) -> ApiResult<CallRecord> {
        let call = calls::find(&self.state, call_id).await?;
        if call.workspace_id != self.workspace_id() {
            return Err(calls::call_not_found());
        }
        match self.visible_conversation(&call.call.conversation_id).await {
            Ok(_) => Ok(call),
            // Not visible is not found (`conversation_not_found`): the call is as unknown.
            Err(ApiError::NotFound { .. }) => Err(calls::call_not_found()),
            Err(error) => Err(error),
        }
    }

    /// Rings the other side of an open conversation whose workspace has voice on; a visitor
    /// rings the agents only while one is online.
    async fn call_start(&mut self, conversation_id: &str, call_id: &str) -> ApiResult<ServerEvent> {
        if uuid::Uuid::parse_str(call_id).is_err() {
            return Err(ApiError::bad_request(
                "invalid_call_id",
                "call_id must be a UUID",
            ));
        }
        let conversation = self.visible_conversation(conversation_id).await?;
        if conversation.status != ConversationStatus::Open {
            return Err(ApiError::conflict(
                call_error::CALL_STATE,
                "the conversation is closed: calls are made in open conversations",
            ));
        }
        let workspace_id = self.workspace_id().to_string();
        let voice = crate::widget_settings::load(&self.state.db, &workspace_id)
            .await?
            .is_some_and(|settings| settings.voice);
        if !voice {
            return Err(ApiError::forbidden(
                call_error::VOICE_OFF,
                "voice calls are switched off for this workspace",
            ));
        }
        if matches!(self.participant, Participant::Visitor { .. })
            && !self.state.db.any_agent_online(&workspace_id).await?
        {
            return Err(ApiError::conflict(
                call_error::NO_AGENT_ONLINE,
                "no agent is online to take the call: write a message instead",
            ));
        }
        usage::admit_call(&self.state, &workspace_id, self.preview()).await?;
        let (_, author) = self.author().await?;
        let record = CallRecord::ringing(
            call_id,
            &workspace_id,
            &conversation.id,
            self.actor(),
            author.name,
            crate::db::now_ms(),
        );
        self.subscribe(Topic::Party(self.party.clone()));
        let call = calls::start(&self.state, &self.session_key, record, self.except_self()).await?;
        Ok(ServerEvent::Call { call: call.call })
    }

    /// One send from the connection's budget, or over HTTP from the widget session's.
    fn take_from_budget(&self) -> ApiResult<()> {
        if self.live.is_some() {
            let Some(budget) = &self.message_budget else {
                return Ok(());
            };
            return budget
                .check()
                .map_err(|not_until| rate_limited(not_until.wait_time_from(budget.clock().now())));
        }
        match &self.participant {
            Participant::Visitor { claims, .. } => self
                .state
                .limits
                .check_http_message(&claims.sid)
                .map_err(rate_limited),
            // Agents reply over HTTP through the agent API, not this session.
            Participant::Agent { .. } => Ok(()),
        }
    }

    async fn visible_conversation(&self, conversation_id: &str) -> ApiResult<Conversation> {
        match &self.participant {
            Participant::Visitor { viewer, .. } => {
                conversations::find_visible(&self.state.db, viewer, conversation_id)
                    .await?
                    .ok_or_else(actions::conversation_not_found)
            }
            Participant::Agent { agent, .. } => {
                actions::own_conversation(&self.state, &agent.workspace_id, conversation_id).await
            }
        }
    }

    async fn resume(&mut self, conversation_id: &str, after_seq: i64) -> ApiResult<ServerEvent> {
        let conversation = self.visible_conversation(conversation_id).await?;
        // Subscribe before reading history so nothing committed in between is missed;
        // clients dedupe by seq.
        self.subscribe(Topic::conversation(&conversation.id));
        let page = history::after(&self.state.db, &conversation.id, after_seq).await?;
        Ok(ServerEvent::History {
            conversation_id: conversation.id,
            messages: page.messages,
            more: page.more,
        })
    }

    /// Who writes: for a visitor, the person it writes as (verified, or linked by identify)
    /// and its author line; for an agent, its name. An unverified visitor writes under the
    /// name it typed, never the linked person's stored name, which would vouch for the claim.
    /// A visitor's is read once and kept until an identity changes anywhere (rare next to
    /// messages); one with no person yet is read every time, so its identify counts at once.
    async fn author(&mut self) -> ApiResult<(Option<String>, Author)> {
        let (claims, viewer) = match &self.participant {
            Participant::Visitor { claims, viewer } => (claims, viewer),
            Participant::Agent { agent, .. } => {
                let author = Author {
                    kind: AuthorKind::Agent,
                    name: Some(agent.name.clone()),
                };
                return Ok((None, author));
            }
        };
        let db = &self.state.db;
        // Before the read: a change committed after it moves the version.
        let version = db.identity_version().current();
        if let Some(known) = self.known_author.as_deref() {
            if known.version == version {
                return Ok((Some(known.person_id.clone()), known.author.clone()));
            }
        }
        let (person_id, name) = match (&viewer.verified_person_id, claims.ver) {
            (Some(person_id), true) => {
                let person = people::by_id(db, &viewer.workspace_id, person_id).await?;
                (
                    Some(person_id.clone()),
                    person.and_then(|person| person.display_name()),
                )
            }
            _ => {
                let known =
                    people::visitor_identity(db, &viewer.workspace_id, &viewer.visitor_id).await?;
                (known.person_id, known.claim.and_then(|claim| claim.name()))
            }
        };
        let author = Author {
            kind: AuthorKind::Visitor,
            name,
        };
        self.known_author = person_id.as_ref().map(|person_id| {
            Box::new(KnownAuthor {
                version,
                person_id: person_id.clone(),
                author: author.clone(),
            })
        });
        Ok((person_id, author))
    }

    async fn send(
        &mut self,
        conversation_id: Option<String>,
        client_msg_id: &str,
        body: &str,
    ) -> ApiResult<ServerEvent> {
        actions::check_client_msg_id(client_msg_id)?;
        let message = match &self.participant {
            Participant::Visitor { claims, viewer } => {
                let starts = NewConversation {
                    workspace_id: viewer.workspace_id.clone(),
                    visitor_id: viewer.visitor_id.clone(),
                    person_id: None,
                    session_id: claims.sid.clone(),
                    verified: claims.ver,
                    bot_id: None,
                    preview: claims.pre,
                };
                self.visitor_send(conversation_id, starts, client_msg_id, body)
                    .await?
            }
            Participant::Agent { agent, .. } => {
                let conversation_id = conversation_id.ok_or_else(|| {
                    ApiError::bad_request(
                        "conversation_required",
                        "agents answer in a conversation: name its conversation_id",
                    )
                })?;
                let conversation = self.visible_conversation(&conversation_id).await?;
                actions::agent_reply(
                    &self.state,
                    &agent.workspace_id,
                    &conversation,
                    agent.name.clone(),
                    body,
                    Some(client_msg_id.to_string()),
                    self.except_self(),
                )
                .await?
            }
        };
        self.on_delivered(&ServerEvent::Message {
            message: message.clone(),
        });
        Ok(ServerEvent::Ack {
            client_msg_id: client_msg_id.to_string(),
            message,
        })
    }

    /// A visitor's message: into one of its conversations, or starting a new one as `starts`
    /// (then the bot answers).
    async fn visitor_send(
        &mut self,
        conversation_id: Option<String>,
        starts: NewConversation,
        client_msg_id: &str,
        body: &str,
    ) -> ApiResult<Message> {
        let body = conversations::checked_body(body)
            .map_err(|problem| ApiError::bad_request(problem.code(), problem.message()))?;
        let (person_id, author) = self.author().await?;
        let Some(person_id) = person_id else {
            return Err(ApiError::bad_request(
                "identify_first",
                "identify with an email before sending",
            ));
        };
        let new_message = NewMessage {
            author,
            body,
            client_msg_id: Some(client_msg_id.to_string()),
            reopens: true,
            auto_reply: false,
        };
        let db = &self.state.db;
        let workspace_id = self.workspace_id().to_string();
        let except = self.except_self();

        match conversation_id {
            Some(conversation_id) => {
                // Subscribed means checked visible, and visibility rests on the token's
                // visitor and person, which a session keeps: no query per message.
                if !self
                    .subscribed
                    .contains(&Topic::conversation(&conversation_id))
                {
                    self.visible_conversation(&conversation_id).await?;
                }
                usage::admit_visitor_message(&self.state, &workspace_id, self.preview()).await?;
                match conversations::append(&self.state.messages, &conversation_id, new_message)
                    .await?
                {
                    Appended::Duplicate(message) => Ok(message),
                    Appended::New { message, reopened } => {
                        // Its delivery to a bot holding the conversation is committed.
                        self.state.webhooks.wake();
                        publish::in_conversation(
                            &self.state.hub,
                            &workspace_id,
                            &conversation_id,
                            ServerEvent::Message {
                                message: message.clone(),
                            },
                            except,
                        );
                        if reopened {
                            let reopened = self.visible_conversation(&conversation_id).await?;
                            // The sender too: its answer is only the ack.
                            publish::conversation_updated(
                                &self.state.hub,
                                &workspace_id,
                                &reopened,
                                Except::Nobody,
                            );
                        }
                        Ok(message)
                    }
                }
            }
            None => {
                let earlier = conversations::visitor_message_by_client_id(
                    db,
                    &workspace_id,
                    &starts.visitor_id,
                    client_msg_id,
                )
                .await?;
                if let Some(message) = earlier {
                    return Ok(message);
                }
                usage::admit_new_conversation(&self.state, &workspace_id, self.preview()).await?;
                let bot_id = bots::registry::taker_for_new_conversation(db, &workspace_id).await?;
                let conversation = NewConversation {
                    person_id: Some(person_id),
                    bot_id,
                    ..starts
                };
                let taken_by_bot = conversation.bot_id.is_some();
                let (conversation, message) = conversations::create_with_message(
                    db,
                    conversation,
                    new_message,
                    MAX_OPEN_CONVERSATIONS_PER_VISITOR,
                )
                .await?
                .ok_or_else(|| {
                    ApiError::conflict(
                        error_code::TOO_MANY_CONVERSATIONS,
                        format!(
                            "this visitor has {MAX_OPEN_CONVERSATIONS_PER_VISITOR} open \
                             conversations already: continue one of them"
                        ),
                    )
                })?;
                self.subscribe(Topic::conversation(&conversation.id));
                publish::conversation_started(
                    &self.state.hub,
                    &workspace_id,
                    &conversation,
                    &message,
                    except,
                );
                if taken_by_bot {
                    // The bot answers, not the auto-reply; its delivery is committed.
                    self.state.webhooks.wake();
                } else if let Err(error) =
                    auto_reply::after_first_message(&self.state, &workspace_id, &conversation.id)
                        .await
                {
                    // The visitor's message is committed and acknowledged regardless.
                    tracing::error!(%error, "auto-reply");
                }
                // After the auto-reply, which counts too.
                if !self.preview() {
                    usage::quota::check_warnings(&self.state, &workspace_id);
                }
                Ok(message)
            }
        }
    }

    /// A visitor's reply to a capture widget (`crate::captures`): a new conversation, the
    /// capture's message then the reply, acknowledged and published as a `send` that starts
    /// a conversation is (the capture's message comes first, in the conversation's order).
    async fn capture_reply(
        &mut self,
        capture_id: &str,
        client_msg_id: &str,
        body: &str,
    ) -> ApiResult<ServerEvent> {
        actions::check_client_msg_id(client_msg_id)?;
        let Participant::Visitor { claims, .. } = &self.participant else {
            return Err(ApiError::bad_request(
                "invalid_event",
                "capture_reply is a visitor's: agents answer with send",
            ));
        };
        if claims.pre {
            // None is offered to a preview; a reply would start a production conversation.
            return Err(ApiError::bad_request(
                "invalid_event",
                "previews show no capture widgets: send a message instead",
            ));
        }
        let claims = claims.clone();
        let (person_id, author) = self.author().await?;
        let replier = captures::Replier {
            claims: &claims,
            person_id,
            author,
        };
        let replied =
            captures::reply(&self.state, replier, capture_id, client_msg_id, body).await?;
        let message = match replied {
            Replied::Earlier(message) => message,
            Replied::Started(started) => {
                let Started {
                    conversation,
                    opening,
                    reply,
                } = *started;
                let except = self.except_self();
                if !claims.pre {
                    usage::quota::check_warnings(&self.state, &claims.ws);
                }
                self.subscribe(Topic::conversation(&conversation.id));
                publish::conversation_opened(
                    &self.state.hub,
                    &claims.ws,
                    &conversation,
                    &[opening, reply.clone()],
                    except,
                );
                reply
            }
        };
        self.on_delivered(&ServerEvent::Message {
            message: message.clone(),
        });
        Ok(ServerEvent::Ack {
            client_msg_id: client_msg_id.to_string(),
            message,
        })
    }

    async fn typing(&mut self, conversation_id: &str, typing: bool) -> ApiResult<()> {
        if self
            .state
            .typing_limiter
            .check_key(&self.session_key)
            .is_err()
        {
            return Ok(());
        }
        let conversation = self.visible_conversation(conversation_id).await?;
        let (_, author) = self.author().await?;
        actions::typing(
            &self.state,
            self.workspace_id(),
            &conversation,
            author,
            typing,
            Except::Session(&self.session_key),
        );
        Ok(())
    }

    async fn read(&mut self, conversation_id: &str, up_to_seq: i64) -> ApiResult<()> {
        let conversation = self.visible_conversation(conversation_id).await?;
        let reader = match self.participant {
            Participant::Visitor { .. } => AuthorKind::Visitor,
            Participant::Agent { .. } => AuthorKind::Agent,
        };
        actions::read(
            &self.state,
            self.workspace_id(),
            &conversation,
            reader,
            up_to_seq,
            Except::Session(&self.session_key),
        )
        .await?;
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.unregister();
        if let Some(subscriber) = &self.live {
            self.state
                .hub
                .unsubscribe(subscriber.id, self.subscribed.iter());
            if self.subscribed.contains(&Topic::Party(self.party.clone())) {
                calls::party_left(&self.state, &self.party);
            }
        }
    }
}
