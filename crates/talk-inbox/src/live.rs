//! The inbox's live connection: `GET /v1/agent/socket`, authenticated by the session cookie at
//! the upgrade. One per page; it reconnects after drops until `disconnect`.

use std::cell::RefCell;
use std::rc::Rc;
use talk_protocol::{ClientEvent, ServerEvent};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What the app does with the socket's news.
#[derive(Clone)]
pub struct Handlers {
    pub on_event: Rc<dyn Fn(ServerEvent)>,
    /// The socket ended (the code is the close frame's, 1006 when there was none). The app
    /// finds out whether the session still holds and calls `reconnect_later` if it does.
    pub on_closed: Rc<dyn Fn(u16)>,
}

struct Live {
    socket: WebSocket,
    handlers: Handlers,
    attempts: u32,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

thread_local! {
    static LIVE: RefCell<Option<Live>> = const { RefCell::new(None) };
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
    open(handlers, 0);
}

fn open(handlers: Handlers, attempts: u32) {
    disconnect();
    let Some(url) = socket_url() else { return };
    let Ok(socket) = WebSocket::new(&url) else {
        (handlers.on_closed)(1006);
        return;
    };
    let on_event = handlers.on_event.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(text) = event.data().as_string() else {
            return;
        };
        match talk_browser::json::parse::<ServerEvent>(&text) {
            Ok(event) => {
                if matches!(event, ServerEvent::Ready { .. }) {
                    // Connected: the next drop starts the back-off afresh.
                    LIVE.with(|live| {
                        if let Some(live) = live.borrow_mut().as_mut() {
                            live.attempts = 0;
                        }
                    });
                }
                on_event(event);
            }
            Err(error) => web_sys::console::warn_1(&format!("[inbox] bad event: {error}").into()),
        }
    });
    let on_closed = handlers.on_closed.clone();
    let closing = socket.clone();
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
        // Only the current socket's end counts; an old one closing late is ignored.
        let current = LIVE.with(|live| {
            live.borrow()
                .as_ref()
                .is_some_and(|live| live.socket == closing)
        });
        if current {
            on_closed(event.code());
        }
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    LIVE.with(|live| {
        *live.borrow_mut() = Some(Live {
            socket,
            handlers,
            attempts,
            _on_message: on_message,
            _on_close: on_close,
        })
    });
}

/// Tries again after a pause that grows with each failed attempt (1 s … 15 s).
pub fn reconnect_later() {
    let Some((handlers, attempts)) = LIVE.with(|live| {
        live.borrow()
            .as_ref()
            .map(|l| (l.handlers.clone(), l.attempts))
    }) else {
        return;
    };
    let delay = (1000u64 << attempts.min(4)).min(15_000);
    leptos::prelude::set_timeout(
        move || {
            // Signed out in the meantime: stay down.
            if LIVE.with(|live| live.borrow().is_some()) {
                open(handlers, attempts + 1);
            }
        },
        std::time::Duration::from_millis(delay),
    );
}

/// Sends an event if the socket is open; false otherwise (the caller may fall back to HTTP).
pub fn send(event: &ClientEvent) -> bool {
    let Ok(text) = talk_browser::json::stringify(event) else {
        return false;
    };
    LIVE.with(|live| {
        live.borrow().as_ref().is_some_and(|live| {
            live.socket.ready_state() == WebSocket::OPEN && live.socket.send_with_str(&text).is_ok()
        })
    })
}

/// Closes the socket for good (sign-out).
pub fn disconnect() {
    if let Some(live) = LIVE.with(|live| live.borrow_mut().take()) {
        live.socket.set_onmessage(None);
        live.socket.set_onclose(None);
        let _ = live.socket.close();
    }
}
