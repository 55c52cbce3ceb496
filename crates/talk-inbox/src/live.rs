//! The inbox's live connection: `GET /v1/agent/socket`, authenticated by the session cookie at
//! the upgrade, on the shared reconnecting socket (`talk_browser::socket`). One per page; it
//! reconnects after drops until `disconnect`.

use std::cell::RefCell;
use std::rc::Rc;
use talk_browser::socket::{Backoff, Callbacks, Jitter, Socket};
use talk_protocol::{ClientEvent, ServerEvent};

/// 1 s, 2 s, 4 s, 8 s, then 15 s, each drawn from its upper half.
const BACKOFF: Backoff = Backoff {
    base_ms: 1_000.0,
    cap_ms: 15_000.0,
    jitter: Jitter::Half,
};

/// What the app does with the socket's news.
#[derive(Clone)]
pub struct Handlers {
    pub on_event: Rc<dyn Fn(ServerEvent)>,
    /// The socket ended (the code is the close frame's, 1006 when there was none). The app
    /// finds out whether the session still holds and calls `reconnect_later` if it does.
    pub on_closed: Rc<dyn Fn(u16)>,
}

thread_local! {
    static LIVE: RefCell<Option<Socket>> = const { RefCell::new(None) };
}

fn current() -> Option<Socket> {
    LIVE.with(|live| live.borrow().clone())
}

fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!(
        "{scheme}://{}/v1/agent/socket",
        location.host().ok()?
    ))
}

/// Opens the socket (closing any earlier one).
pub fn connect(handlers: Handlers) {
    disconnect();
    let Some(url) = socket_url() else { return };
    let on_event = handlers.on_event;
    let on_closed = handlers.on_closed;
    let socket = Socket::new(
        BACKOFF,
        Callbacks {
            // The session cookie went with the upgrade: nothing to send first.
            on_open: Box::new(|| {}),
            on_message: Box::new(move |text| {
                match talk_browser::json::parse::<ServerEvent>(&text) {
                    Ok(event) => {
                        if matches!(event, ServerEvent::Ready { .. }) {
                            // Connected: the next drop starts the back-off afresh.
                            if let Some(socket) = current() {
                                socket.reset_backoff();
                            }
                        }
                        on_event(event);
                    }
                    Err(error) => {
                        web_sys::console::warn_1(&format!("[inbox] bad event: {error}").into())
                    }
                }
            }),
            on_close: Box::new(move |code| on_closed(code)),
        },
    );
    socket.open(&url);
    LIVE.with(|live| *live.borrow_mut() = Some(socket));
}

/// Tries again after a pause that grows with each failed attempt (about 1 s … 15 s).
pub fn reconnect_later() {
    // Signed out in the meantime: `disconnect` dropped the socket and cancelled the retry.
    if let Some(socket) = current() {
        socket.reconnect_later();
    }
}

/// Sends an event if the socket is open; false otherwise (the caller may fall back to HTTP).
pub fn send(event: &ClientEvent) -> bool {
    let Ok(text) = talk_browser::json::stringify(event) else {
        return false;
    };
    current().is_some_and(|socket| socket.send(&text))
}

/// Sends an event already written as JSON (the call module's); false if the socket is not open.
pub fn send_text(text: &str) -> bool {
    current().is_some_and(|socket| socket.send(text))
}

/// Closes the socket for good (sign-out).
pub fn disconnect() {
    if let Some(socket) = LIVE.with(|live| live.borrow_mut().take()) {
        socket.close();
    }
}
