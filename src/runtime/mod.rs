//! The messenger's engine: opens the browser session, keeps the realtime socket up, resumes
//! after drops and sends the visitor's messages exactly once, in order.
//!
//! | file | job |
//! |---|---|
//! | `core.rs` | the rules: `Core::apply(ServerEvent) -> Vec<Effect>` and the visitor's actions (plain Rust, native tests) |
//! | `outbox.rs` | unacknowledged messages: order, resend under the same id, the new-conversation wait (plain Rust, native tests) |
//! | `effects.rs` | carries the core's effects out: signals, socket, page hooks, title, sound |
//! | `transport.rs` | which transport carries the session: the socket, or HTTP + SSE when it can't get through, and back (plain Rust, native tests) |
//! | `connection.rs` | the widget's use of `talk_browser::socket`: auth frame, events in, what to do after a drop, the switch to and from the fallback |
//! | `fallback.rs` | the HTTP + SSE transport: the event stream in, `POST /v1/talk/messages` out, one at a time |
//! | `session.rs` | opening the browser session, renewing its token, starting over when it is refused |
//! | `identify.rs` | the email (and names) form's request |
//! | `config.rs` | the loader's configuration, the page's callbacks, the workspace's settings |
//! | `call.rs` | the widget's part in calls: the call module's events in and out, the session's ICE servers, the call button |
//!
//! Browser handles (the socket, its callbacks) are not `Send`, so the engine lives in a
//! thread-local; components reach it through the free functions below.

mod call;
mod config;
mod connection;
mod core;
// proptest is a native dev-dependency only: the wasm32 test build leaves this out.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod delivery_properties;
mod effects;
mod fallback;
mod identify;
mod outbox;
mod session;
mod transport;

use self::core::{Core, Sight};
use crate::api::ApiClient;
use crate::state::{ChatLine, Delivery, MessengerState};
use std::cell::RefCell;
use talk_browser::socket::Socket;
use talk_browser::sse::EventStream;
use talk_protocol::{ClientEvent, WidgetSessionResponse};
use wasm_bindgen::prelude::*;

pub use call::{send as send_call, start as start_call};
pub use config::{Hooks, LoaderConfig};
pub use identify::identify;

struct Engine {
    config: LoaderConfig,
    texts: &'static crate::i18n::Texts,
    hooks: Hooks,
    api: ApiClient,
    state: MessengerState,
    /// Bumped on every restart so callbacks of an abandoned session do nothing.
    generation: u32,
    session: Option<WidgetSessionResponse>,
    /// One for the page's life; its backoff also paces the session retries.
    socket: Socket,
    core: Core,
    /// Clears the agent's typing indicator if no update arrives (a stop may be dropped).
    typing_timer: Option<i32>,
    /// The pending session-token refresh (a `setTimeout` handle).
    refresh_timer: Option<i32>,
    /// Socket or HTTP + SSE, and when to switch.
    transport: transport::Transport,
    /// Bumped by every socket attempt and close: a stale `auth` timeout does nothing.
    socket_attempt: u32,
    /// While on the fallback: a probe of the socket is scheduled or under way.
    probing: bool,
    /// The HTTP + SSE link: its event stream, bumped on every (re)open or close so answers
    /// of an earlier link are ignored, and the requests waiting their turn.
    stream: Option<EventStream>,
    link: u32,
    http_queue: Vec<ClientEvent>,
    http_busy: bool,
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

pub fn install(config: LoaderConfig, lang: crate::i18n::Lang, hooks: Hooks, state: MessengerState) {
    let api = ApiClient::new(&config.api_url);
    ENGINE.with(|engine| {
        *engine.borrow_mut() = Some(Engine {
            config,
            texts: lang.texts(),
            hooks,
            api,
            state,
            generation: 0,
            session: None,
            socket: connection::socket(),
            core: Core::default(),
            typing_timer: None,
            refresh_timer: None,
            transport: transport::Transport::default(),
            socket_attempt: 0,
            probing: false,
            stream: None,
            link: 0,
            http_queue: Vec::new(),
            http_busy: false,
        })
    });
    restart(None);
    wasm_bindgen_futures::spawn_local(config::load_settings());
}

pub fn state() -> Option<MessengerState> {
    with_engine(|engine| engine.state)
}

pub fn is_installed() -> bool {
    ENGINE.with(|engine| engine.borrow().is_some())
}

/// Starts (or restarts) the messenger in a new session; with a token the session is verified.
/// Old conversations keep their verified flag; new ones get this session's.
/// Messages typed but not acknowledged yet go out again in the new session
/// (`Core::restart`).
pub fn restart(token: Option<String>) {
    begin_session(|config| {
        if token.is_some() {
            config.token = token;
        }
    });
}

/// Forgets the visitor (e.g. on logout): a new anonymous visitor id, no verified token. What
/// the old visitor typed and the server never acknowledged is forgotten too: sent after the
/// logout, it would land in the next, anonymous visitor's conversation.
pub fn shutdown(new_visitor_id: String) {
    begin_session(|config| {
        config.visitor_id = new_visitor_id;
        config.token = None;
    });
    with_engine(|engine| {
        engine.core.outbox = outbox::Outbox::default();
        engine.state.open.set(false);
    });
}

fn begin_session(adjust: impl FnOnce(&mut LoaderConfig)) {
    let generation = with_engine(|engine| {
        adjust(&mut engine.config);
        engine.generation = engine.generation.wrapping_add(1);
        engine.session = None;
        // Also cancels a pending retry and starts the backoff afresh.
        engine.socket.close();
        fallback::close(engine);
        engine.probing = false;
        engine.core.restart();
        engine.state.reset();
        engine.generation
    });
    if let Some(generation) = generation {
        wasm_bindgen_futures::spawn_local(session::open(generation));
    }
}

/// Runs `then` after `ms` if the engine is still in generation `generation`.
fn after(generation: u32, ms: f64, then: Box<dyn FnOnce(&mut Engine)>) {
    let callback = Closure::once_into_js(move || {
        with_current(generation, then);
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.unchecked_ref(),
            ms as i32,
        );
    }
}

/// Tells the core what the visitor can see now.
fn look(engine: &mut Engine) {
    let state = engine.state;
    let open = state.open.get_untracked() && !page_hidden();
    engine.core.sight = Sight {
        open,
        conversation: open && state.conversation_screen.get_untracked(),
    };
}

fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .is_some_and(|document| document.hidden())
}

/// The visitor is typing in the composer: tell the agents, at most every 3 seconds.
pub fn visitor_typing() {
    with_engine(|engine| {
        let effects = engine.core.typing(js_sys::Date::now());
        effects::run(engine, effects);
    });
}

/// Starts a new conversation from the homepage: the next message opens it.
pub fn start_new_conversation() {
    with_engine(|engine| {
        let effects = engine.core.start_new();
        effects::run(engine, effects);
    });
}

/// The visitor is looking at the open messenger: everything is read.
pub fn mark_seen() {
    with_engine(|engine| {
        look(engine);
        let effects = engine.core.seen();
        effects::run(engine, effects);
    });
}

/// Shows another of the visitor's conversations (from the homepage's list).
pub fn open_conversation(conversation_id: String) {
    with_engine(|engine| {
        let effects = engine.core.open_conversation(conversation_id.clone());
        effects::run(engine, effects);
        engine.state.conversations.update(|previews| {
            if let Some(preview) = previews.iter_mut().find(|p| p.id == conversation_id) {
                preview.unread = false;
            }
        });
        engine.state.conversation_screen.set(true);
    });
}

/// The visitor scrolled to the top of the conversation: its older messages, a page at a time.
pub fn load_older() {
    with_engine(|engine| {
        let effects = engine.core.load_older();
        effects::run(engine, effects);
    });
}

/// Queues a message; it goes out now if connected, else as soon as the socket is back.
pub fn send_message(body: String) {
    let body = body.trim().to_string();
    if body.is_empty() {
        return;
    }
    let client_msg_id = talk_browser::ids::uuid_v7();
    with_engine(|engine| {
        engine
            .state
            .lines
            .update(|lines| lines.push(ChatLine::pending(&client_msg_id, &body)));
        let effects = engine.core.queue(client_msg_id, body);
        effects::run(engine, effects);
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
            .update(|lines| crate::state::set_delivery(lines, &client_msg_id, Delivery::Sending));
        let effects = engine.core.queue(client_msg_id, body);
        effects::run(engine, effects);
    });
}
