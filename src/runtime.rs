//! The messenger's engine: opens the browser session, keeps the realtime socket up, resumes
//! after drops and sends the visitor's messages exactly once, in order.
//!
//! Browser handles (the socket, its callbacks) are not `Send`, so the engine lives in a
//! thread-local; components reach it through the free functions at the bottom.

use crate::api::{ApiClient, ApiError};
use crate::state::{
    merge_message, note_in_preview, set_delivery, ChatLine, ConversationPreview, Delivery,
    MessengerState, Screen, Stage,
};
use leptos::prelude::*;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::VecDeque;
use talk_protocol::{
    close_code, AuthorKind, ClientEvent, Conversation, IdentifyRequest, ServerEvent,
    WidgetSessionRequest, WidgetSessionResponse,
};
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What the loader hands over from `ap3c.init`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WidgetConfig {
    pub capture_key: String,
    pub api_url: String,
    pub visitor_id: String,
    #[serde(default)]
    pub token: Option<String>,
    /// `talk.language` from `ap3c.init`, e.g. "de"; else the browser's languages decide.
    #[serde(default)]
    pub language: Option<String>,
}

/// A message typed by the visitor and not yet acknowledged.
struct Outgoing {
    client_msg_id: String,
    body: String,
    /// Where it was written; `None`: it starts a new conversation (or follows one that does).
    conversation_id: Option<String>,
    /// Written to the current socket (cleared on reconnect: the server dedupes resends).
    in_flight: bool,
}

struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// Page callbacks the loader passes in: `unread(count)` and `ready()`.
#[derive(Default)]
pub struct Hooks {
    pub unread: Option<js_sys::Function>,
    pub ready: Option<js_sys::Function>,
}

impl Hooks {
    pub fn from_js(hooks: &JsValue) -> Self {
        let get = |name: &str| {
            js_sys::Reflect::get(hooks, &name.into())
                .ok()
                .and_then(|value| value.dyn_into::<js_sys::Function>().ok())
        };
        Hooks {
            unread: get("unread"),
            ready: get("ready"),
        }
    }
}

struct Engine {
    config: WidgetConfig,
    texts: &'static crate::i18n::Texts,
    hooks: Hooks,
    /// `ready` is announced once per page, not on every reconnect.
    announced_ready: bool,
    api: ApiClient,
    state: MessengerState,
    /// Bumped on every restart so callbacks of an abandoned session do nothing.
    generation: u32,
    session: Option<WidgetSessionResponse>,
    socket: Option<Socket>,
    /// Authenticated and told which conversations it may see.
    ready: bool,
    conversation_id: Option<String>,
    /// The visitor chose "new conversation": a reconnect must not pick the old one again.
    starting_new: bool,
    last_seq: i64,
    /// The visitor has read up to here (sent to the server as a read receipt).
    read_sent: i64,
    /// When the visitor's last "typing" went out (ms), to send at most one every few seconds.
    typing_sent_at: f64,
    /// Clears the agent's typing indicator if no update arrives (a stop may be dropped).
    typing_timer: Option<i32>,
    outbox: VecDeque<Outgoing>,
    /// Consecutive failed attempts, for the backoff.
    attempt: u32,
    /// The pending session-token refresh (a `setTimeout` handle).
    refresh_timer: Option<i32>,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

fn with_engine<R>(f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    ENGINE.with(|engine| engine.borrow_mut().as_mut().map(f))
}

/// Runs `f` only if the engine is still in generation `generation`.
fn with_current<R>(generation: u32, f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    with_engine(|engine| (engine.generation == generation).then(|| f(engine))).flatten()
}

pub fn install(config: WidgetConfig, lang: crate::i18n::Lang, hooks: Hooks, state: MessengerState) {
    let api = ApiClient::new(&config.api_url);
    ENGINE.with(|engine| {
        *engine.borrow_mut() = Some(Engine {
            config,
            texts: lang.texts(),
            hooks,
            announced_ready: false,
            api,
            state,
            generation: 0,
            session: None,
            socket: None,
            ready: false,
            conversation_id: None,
            starting_new: false,
            last_seq: 0,
            read_sent: 0,
            typing_sent_at: 0.0,
            typing_timer: None,
            outbox: VecDeque::new(),
            attempt: 0,
            refresh_timer: None,
        })
    });
    restart(None);
    wasm_bindgen_futures::spawn_local(load_config());
}

/// The workspace's look and status. Until it arrives (or if it can't), defaults apply.
async fn load_config() {
    let Some((api, capture_key)) =
        with_engine(|engine| (engine.api.clone(), engine.config.capture_key.clone()))
    else {
        return;
    };
    let config = match api.widget_config(&capture_key).await {
        Ok(config) => config,
        Err(error) => {
            web_sys::console::warn_1(
                &format!("[talk] widget settings unavailable, using defaults: {error:?}").into(),
            );
            talk_protocol::WidgetConfig {
                settings: Default::default(),
                status: talk_protocol::Presence::Away,
                online_agents: Vec::new(),
            }
        }
    };
    crate::host::apply_theme(&config.settings);
    with_engine(|engine| engine.state.config.set(Some(config)));
}

pub fn state() -> Option<MessengerState> {
    with_engine(|engine| engine.state)
}

pub fn is_installed() -> bool {
    ENGINE.with(|engine| engine.borrow().is_some())
}

/// Starts (or restarts) the messenger in a new session; with a token the session is verified.
/// Old conversations keep their verified flag; new ones get this session's.
pub fn restart(token: Option<String>) {
    begin_session(|config| {
        if token.is_some() {
            config.token = token;
        }
    });
}

/// Forgets the visitor (e.g. on logout): a new anonymous visitor id, no verified token.
pub fn shutdown(new_visitor_id: String) {
    begin_session(|config| {
        config.visitor_id = new_visitor_id;
        config.token = None;
    });
    with_engine(|engine| engine.state.open.set(false));
}

fn begin_session(adjust: impl FnOnce(&mut WidgetConfig)) {
    let generation = with_engine(|engine| {
        adjust(&mut engine.config);
        engine.generation = engine.generation.wrapping_add(1);
        engine.session = None;
        engine.socket = None;
        engine.ready = false;
        engine.conversation_id = None;
        engine.starting_new = false;
        engine.last_seq = 0;
        engine.read_sent = 0;
        engine.outbox.clear();
        engine.attempt = 0;
        engine.state.reset();
        engine.generation
    });
    if let Some(generation) = generation {
        wasm_bindgen_futures::spawn_local(open_session(generation));
    }
}

async fn open_session(generation: u32) {
    let Some((api, request)) = with_current(generation, |engine| {
        (engine.api.clone(), session_request(&engine.config))
    }) else {
        return;
    };
    let result = api.widget_session(&request).await;
    with_current(generation, |engine| match result {
        Ok(session) => {
            engine.attempt = 0;
            let state = engine.state;
            state.verified.set(session.verified);
            state.names_required.set(session.identity.names_required);
            let known = session.person.is_some() || session.verified;
            state.person.set(session.person.clone());
            state
                .stage
                .set(if known { Stage::Chat } else { Stage::Identify });
            engine.session = Some(session);
            schedule_refresh(engine);
            connect(engine);
        }
        Err(ApiError::Server { code, .. }) if token_refused(&code) => {
            // A stale verified token must not lock the visitor out: carry on unverified.
            web_sys::console::warn_1(
                &format!("[talk] verified-session token refused ({code}); continuing unverified")
                    .into(),
            );
            engine.config.token = None;
            retry_later(engine, Retry::Session);
        }
        // A refusal that retrying can't fix (unknown capture key, origin not allowed …).
        Err(ApiError::Server {
            status, message, ..
        }) if (400..500).contains(&status) && status != 429 => {
            web_sys::console::error_1(&format!("[talk] the messenger is off: {message}").into());
            engine.state.stage.set(Stage::Unavailable(message));
        }
        Err(_) => retry_later(engine, Retry::Session),
    });
}

/// Renews the socket token at 80% of its life, so reconnects never wait for a new session.
/// The open socket stays as it is: the server checks tokens only when a socket authenticates.
fn schedule_refresh(engine: &mut Engine) {
    let Some(session) = &engine.session else {
        return;
    };
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(timer) = engine.refresh_timer.take() {
        window.clear_timeout_with_handle(timer);
    }
    let left = session.session_token_expires_at as f64 - js_sys::Date::now();
    let delay = (left * 0.8).max(1_000.0);
    let generation = engine.generation;
    let callback = Closure::once_into_js(move || {
        wasm_bindgen_futures::spawn_local(refresh_session(generation))
    });
    engine.refresh_timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.unchecked_ref(),
            delay as i32,
        )
        .ok();
}

async fn refresh_session(generation: u32) {
    let Some((api, request)) = with_current(generation, |engine| {
        engine.refresh_timer = None;
        (engine.api.clone(), session_request(&engine.config))
    }) else {
        return;
    };
    let result = api.widget_session(&request).await;
    let verified_before = with_current(generation, |engine| {
        engine.session.as_ref().map(|session| session.verified)
    })
    .flatten();
    match result {
        Ok(session) if Some(session.verified) == verified_before => {
            with_current(generation, |engine| {
                engine.session = Some(session);
                schedule_refresh(engine);
            });
        }
        // The verified state changed, or the verified token was refused: start over properly.
        Ok(_) => restart(None),
        Err(ApiError::Server { code, .. }) if token_refused(&code) => restart(None),
        // Offline or a passing server error: the reconnect path gets a fresh session when it
        // needs one, so nothing the visitor sees changes.
        Err(_) => {}
    }
}

/// The verified-session token itself was refused (not the request).
fn token_refused(code: &str) -> bool {
    matches!(
        code,
        "token_expired" | "invalid_token" | "token_wrong_workspace" | "token_key_retired"
    )
}

fn session_request(config: &WidgetConfig) -> WidgetSessionRequest {
    WidgetSessionRequest {
        capture_key: config.capture_key.clone(),
        visitor_id: config.visitor_id.clone(),
        token: config.token.clone(),
    }
}

enum Retry {
    Session,
    Socket,
}

/// Exponential backoff with jitter, so a restarted server is not hit by every visitor at once.
fn retry_later(engine: &mut Engine, what: Retry) {
    let attempt = engine.attempt.min(6);
    engine.attempt = engine.attempt.saturating_add(1);
    let ceiling = 500.0 * f64::from(1u32 << attempt);
    let delay = ceiling * (0.5 + js_sys::Math::random() * 0.5);
    let generation = engine.generation;
    let callback = Closure::once_into_js(move || match what {
        Retry::Session => wasm_bindgen_futures::spawn_local(open_session(generation)),
        Retry::Socket => {
            with_current(generation, |engine| {
                if token_fresh(engine) {
                    connect(engine)
                } else {
                    wasm_bindgen_futures::spawn_local(open_session(generation))
                }
            });
        }
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.unchecked_ref(),
            delay as i32,
        );
    }
}

/// The socket token has at least a minute left.
fn token_fresh(engine: &Engine) -> bool {
    engine.session.as_ref().is_some_and(|session| {
        session.session_token_expires_at - 60_000 > js_sys::Date::now() as i64
    })
}

fn connect(engine: &mut Engine) {
    let Some(session) = &engine.session else {
        return;
    };
    engine.socket = None;
    engine.ready = false;
    let ws = match WebSocket::new(&session.socket_url) {
        Ok(ws) => ws,
        Err(_) => return retry_later(engine, Retry::Socket),
    };
    let generation = engine.generation;
    let token = session.session_token.clone();

    let on_open = Closure::<dyn FnMut()>::new(move || {
        // The token goes in the first frame, never in the URL.
        with_current(generation, |engine| {
            send_event(
                engine,
                &ClientEvent::Auth {
                    token: token.clone(),
                },
            )
        });
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(text) = event.data().as_string() else {
            return;
        };
        match talk_browser::json::parse::<ServerEvent>(&text) {
            Ok(event) => {
                with_current(generation, |engine| handle_event(engine, event));
            }
            Err(error) => web_sys::console::warn_1(
                &format!("[talk] ignored an unknown socket event: {error}").into(),
            ),
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
        with_current(generation, |engine| {
            engine.socket = None;
            engine.ready = false;
            engine.state.connected.set(false);
            for outgoing in engine.outbox.iter_mut() {
                outgoing.in_flight = false;
            }
            if matches!(
                event.code(),
                close_code::AUTH_FAILED | close_code::TOKEN_EXPIRED
            ) {
                // Start over with a fresh session token.
                engine.session = None;
                retry_later(engine, Retry::Session);
            } else {
                retry_later(engine, Retry::Socket);
            }
        });
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    engine.socket = Some(Socket {
        ws,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    });
}

fn send_event(engine: &Engine, event: &ClientEvent) -> bool {
    let Some(socket) = &engine.socket else {
        return false;
    };
    match talk_browser::json::stringify(event) {
        Ok(json) => socket.ws.send_with_str(&json).is_ok(),
        Err(_) => false,
    }
}

/// The conversation this session continues: the newest one with the session's own verified
/// state, so a verified session never appends to a conversation that was not verified.
fn current_conversation(conversations: &[Conversation], verified: bool) -> Option<&Conversation> {
    conversations
        .iter()
        .filter(|conversation| conversation.verified == verified)
        .max_by_key(|conversation| conversation.created_at)
}

fn handle_event(engine: &mut Engine, event: ServerEvent) {
    apply_event(engine, event);
    // One receipt for whatever this event brought in, if the visitor is looking.
    send_read_receipt(engine);
}

fn apply_event(engine: &mut Engine, event: ServerEvent) {
    match event {
        ServerEvent::Ready { conversations, .. } => {
            engine.ready = true;
            engine.attempt = 0;
            engine.state.connected.set(true);
            if !engine.announced_ready {
                engine.announced_ready = true;
                if let Some(ready) = &engine.hooks.ready {
                    let _ = ready.call0(&JsValue::NULL);
                }
            }
            let verified = engine.session.as_ref().is_some_and(|s| s.verified);
            if engine.conversation_id.is_none() && !engine.starting_new {
                engine.conversation_id =
                    current_conversation(&conversations, verified).map(|c| c.id.clone());
            }
            if let Some(current) = conversations
                .iter()
                .find(|c| Some(&c.id) == engine.conversation_id.as_ref())
            {
                engine.state.agent_read_seq.set(current.agent_read_seq);
            }
            list_conversations(engine, &conversations);
            if let Some(conversation_id) = engine.conversation_id.clone() {
                send_event(
                    engine,
                    &ClientEvent::Resume {
                        conversation_id,
                        after_seq: engine.last_seq,
                    },
                );
            }
            flush_outbox(engine);
        }
        ServerEvent::History {
            conversation_id,
            messages,
        } => {
            if engine.conversation_id.as_deref() == Some(conversation_id.as_str()) {
                for message in messages {
                    accept_message(engine, message);
                }
            } else if let Some(newest) = messages.last() {
                // A preview for the homepage's list.
                engine
                    .state
                    .conversations
                    .update(|previews| note_in_preview(previews, newest, false));
            }
        }
        ServerEvent::Message { message } => {
            let current =
                engine.conversation_id.as_deref() == Some(message.conversation_id.as_str());
            let from_us = message.author.kind != AuthorKind::Visitor;
            let on_screen = current
                && engine.state.open.get_untracked()
                && engine.state.screen.get_untracked() == Screen::Conversation
                && !page_hidden();
            if from_us && !on_screen {
                set_unread(engine, engine.state.unread.get_untracked() + 1);
                crate::alert::new_message();
            }
            if current {
                accept_message(engine, message);
            } else {
                engine
                    .state
                    .conversations
                    .update(|previews| note_in_preview(previews, &message, from_us));
            }
        }
        ServerEvent::Ack {
            client_msg_id,
            message,
        } => {
            engine
                .outbox
                .retain(|outgoing| outgoing.client_msg_id != client_msg_id);
            // The conversation now exists: what was written after its first message follows.
            for outgoing in engine.outbox.iter_mut() {
                outgoing
                    .conversation_id
                    .get_or_insert_with(|| message.conversation_id.clone());
            }
            if engine.conversation_id.is_none() {
                engine.conversation_id = Some(message.conversation_id.clone());
                engine.starting_new = false;
            }
            accept_message(engine, message);
            flush_outbox(engine);
        }
        ServerEvent::Error {
            code,
            message,
            client_msg_id,
        } => {
            web_sys::console::warn_1(&format!("[talk] {code}: {message}").into());
            if let Some(client_msg_id) = client_msg_id {
                engine
                    .outbox
                    .retain(|outgoing| outgoing.client_msg_id != client_msg_id);
                engine
                    .state
                    .lines
                    .update(|lines| set_delivery(lines, &client_msg_id, Delivery::Failed));
                flush_outbox(engine);
            }
        }
        ServerEvent::Pong => {}
        ServerEvent::ConversationUpdated { conversation } => {
            if engine.conversation_id.as_ref() == Some(&conversation.id) {
                engine
                    .state
                    .agent_read_seq
                    .update(|seq| *seq = (*seq).max(conversation.agent_read_seq));
            }
        }
        ServerEvent::Typing {
            conversation_id,
            author,
            typing,
        } => {
            if engine.conversation_id.as_deref() == Some(conversation_id.as_str())
                && author.kind != AuthorKind::Visitor
            {
                show_agent_typing(engine, typing.then(|| author.name.unwrap_or_default()));
            }
        }
        ServerEvent::Read {
            conversation_id,
            reader,
            up_to_seq,
        } => {
            if engine.conversation_id.as_deref() == Some(conversation_id.as_str())
                && reader != AuthorKind::Visitor
            {
                engine
                    .state
                    .agent_read_seq
                    .update(|seq| *seq = (*seq).max(up_to_seq));
            }
        }
    }
}

/// Shows who is typing; the indicator clears itself after a few seconds without news.
fn show_agent_typing(engine: &mut Engine, typing: Option<String>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(timer) = engine.typing_timer.take() {
        window.clear_timeout_with_handle(timer);
    }
    let active = typing.is_some();
    engine.state.agent_typing.set(typing);
    if active {
        let generation = engine.generation;
        let clear = Closure::once_into_js(move || {
            with_current(generation, |engine| {
                engine.typing_timer = None;
                engine.state.agent_typing.set(None);
            });
        });
        engine.typing_timer = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(clear.unchecked_ref(), 6_000)
            .ok();
    }
}

/// The visitor is typing in the composer: tell the agents, at most every 3 seconds.
pub fn visitor_typing() {
    with_engine(|engine| {
        let now = js_sys::Date::now();
        if !engine.ready || now - engine.typing_sent_at < 3_000.0 {
            return;
        }
        if let Some(conversation_id) = engine.conversation_id.clone() {
            engine.typing_sent_at = now;
            send_event(
                engine,
                &ClientEvent::Typing {
                    conversation_id,
                    typing: true,
                },
            );
        }
    });
}

/// Starts a new conversation from the homepage: the next message opens it.
pub fn start_new_conversation() {
    with_engine(|engine| {
        engine.conversation_id = None;
        engine.starting_new = true;
        engine.last_seq = 0;
        engine.read_sent = 0;
        engine.state.lines.set(Vec::new());
        engine.state.agent_read_seq.set(0);
        engine.state.agent_typing.set(None);
    });
}

/// Tells the agents what the visitor has seen, when the conversation is on screen.
fn send_read_receipt(engine: &mut Engine) {
    let on_screen = engine.state.open.get_untracked()
        && engine.state.screen.get_untracked() == crate::state::Screen::Conversation
        && !page_hidden();
    if !on_screen || !engine.ready || engine.last_seq <= engine.read_sent {
        return;
    }
    if let Some(conversation_id) = engine.conversation_id.clone() {
        engine.read_sent = engine.last_seq;
        send_event(
            engine,
            &ClientEvent::Read {
                conversation_id,
                up_to_seq: engine.last_seq,
            },
        );
    }
}

fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .is_some_and(|document| document.hidden())
}

fn set_unread(engine: &Engine, count: u32) {
    if engine.state.unread.get_untracked() == count {
        return;
    }
    engine.state.unread.set(count);
    crate::host::show_unread_in_title(count);
    if let Some(unread) = &engine.hooks.unread {
        let _ = unread.call1(&JsValue::NULL, &count.into());
    }
}

/// The visitor is looking at the open messenger: everything is read.
pub fn mark_seen() {
    with_engine(|engine| {
        if engine.state.open.get_untracked() && !page_hidden() {
            set_unread(engine, 0);
        }
        send_read_receipt(engine);
    });
}

/// Lists the visitor's conversations on the homepage and asks for the newest message of
/// each, for its preview.
fn list_conversations(engine: &mut Engine, conversations: &[Conversation]) {
    let mut previews: Vec<ConversationPreview> =
        conversations.iter().map(ConversationPreview::of).collect();
    previews.sort_by_key(|preview| std::cmp::Reverse(preview.changed_at));
    engine.state.conversations.set(previews);
    for conversation in conversations.iter().filter(|c| c.last_seq > 0) {
        send_event(
            engine,
            &ClientEvent::LoadBefore {
                conversation_id: conversation.id.clone(),
                before_seq: None,
                limit: Some(1),
            },
        );
    }
}

/// Shows another of the visitor's conversations (from the homepage's list).
pub fn open_conversation(conversation_id: String) {
    with_engine(|engine| {
        if engine.conversation_id.as_ref() != Some(&conversation_id) {
            engine.conversation_id = Some(conversation_id.clone());
            engine.starting_new = false;
            engine.last_seq = 0;
            engine.read_sent = 0;
            engine.state.lines.set(Vec::new());
            engine.state.agent_read_seq.set(0);
            engine.state.agent_typing.set(None);
            send_event(
                engine,
                &ClientEvent::Resume {
                    conversation_id: conversation_id.clone(),
                    after_seq: 0,
                },
            );
        }
        engine.state.conversations.update(|previews| {
            if let Some(preview) = previews.iter_mut().find(|p| p.id == conversation_id) {
                preview.unread = false;
            }
        });
        engine.state.screen.set(Screen::Conversation);
    });
}

fn accept_message(engine: &mut Engine, message: talk_protocol::Message) {
    engine.last_seq = engine.last_seq.max(message.seq);
    engine
        .state
        .conversations
        .update(|previews| note_in_preview(previews, &message, false));
    if message.author.kind != AuthorKind::Visitor {
        // A message ends the author's typing.
        engine.state.agent_typing.set(None);
    }
    engine
        .state
        .lines
        .update(|lines| merge_message(lines, message));
}

/// Writes queued messages to the socket in order. While the first message of a new
/// conversation is in flight the rest wait, or each would start a conversation of its own.
fn flush_outbox(engine: &mut Engine) {
    if !engine.ready || engine.socket.is_none() {
        return;
    }
    let mut creating = engine
        .outbox
        .iter()
        .any(|outgoing| outgoing.in_flight && outgoing.conversation_id.is_none());
    let mut to_send = Vec::new();
    for outgoing in engine
        .outbox
        .iter_mut()
        .filter(|outgoing| !outgoing.in_flight)
    {
        if outgoing.conversation_id.is_none() {
            if creating {
                continue;
            }
            creating = true;
        }
        outgoing.in_flight = true;
        to_send.push(ClientEvent::Send {
            conversation_id: outgoing.conversation_id.clone(),
            client_msg_id: outgoing.client_msg_id.clone(),
            body: outgoing.body.clone(),
        });
    }
    for event in &to_send {
        send_event(engine, event);
    }
}

/// Queues a message; it goes out now if connected, else as soon as the socket is back.
pub fn send_message(body: String) {
    let body = body.trim().to_string();
    if body.is_empty() {
        return;
    }
    let client_msg_id = talk_browser::ids::uuid_v4();
    with_engine(|engine| {
        engine
            .state
            .lines
            .update(|lines| lines.push(ChatLine::pending(&client_msg_id, &body)));
        engine.outbox.push_back(Outgoing {
            client_msg_id,
            body,
            conversation_id: engine.conversation_id.clone(),
            in_flight: false,
        });
        flush_outbox(engine);
    });
}

/// Sends a failed message again under the same id, so it can never be stored twice.
pub fn retry_message(client_msg_id: String) {
    with_engine(|engine| {
        let Some(body) = engine.state.lines.with_untracked(|lines| {
            lines
                .iter()
                .find(|line| line.key == client_msg_id && line.delivery == Delivery::Failed)
                .map(|line| line.body.clone())
        }) else {
            return;
        };
        engine
            .state
            .lines
            .update(|lines| set_delivery(lines, &client_msg_id, Delivery::Sending));
        engine.outbox.push_back(Outgoing {
            client_msg_id,
            body,
            conversation_id: engine.conversation_id.clone(),
            in_flight: false,
        });
        flush_outbox(engine);
    });
}

/// Gives the visitor's email (and names) so a conversation can start.
pub fn identify(request: IdentifyRequest) {
    let Some((generation, api, token, state, texts)) = with_engine(|engine| {
        let token = engine.session.as_ref().map(|s| s.session_token.clone());
        (
            engine.generation,
            engine.api.clone(),
            token,
            engine.state,
            engine.texts,
        )
    }) else {
        return;
    };
    let Some(token) = token else {
        state
            .identify_error
            .set(Some(texts.still_connecting.into()));
        return;
    };
    if state.identify_busy.get_untracked() {
        return;
    }
    state.identify_busy.set(true);
    state.identify_error.set(None);
    wasm_bindgen_futures::spawn_local(async move {
        let result = api.identify(&token, &request).await;
        with_current(generation, |engine| {
            let state = engine.state;
            state.identify_busy.set(false);
            match result {
                Ok(response) => {
                    state.person.set(Some(response.person));
                    state.stage.set(Stage::Chat);
                }
                Err(error) => state
                    .identify_error
                    .set(Some(crate::api::user_message(&error, texts))),
            }
        });
    });
}
