//! One reconnecting WebSocket for the widget and the inbox: open, message and close callbacks,
//! and a jittered exponential backoff between attempts.
//!
//! The socket never decides on its own whether to come back: after a drop it calls `on_close`
//! and the app chooses (the widget may need a new session first; the inbox first checks that
//! it is still signed in). It then calls [`Socket::reconnect_later`] (same URL) or
//! [`Socket::later`] (anything, e.g. fetch a session and [`Socket::open`] its URL), both after
//! the next backoff delay. [`Socket::reset_backoff`] says the connection works again.
//!
//! Authentication is the app's: the widget sends its token as the first frame from `on_open`;
//! the inbox's socket carries the session cookie with the upgrade and needs nothing.

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// How much of the delay is random, so clients dropped together don't return together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// Anywhere between 0 and the ceiling.
    Full,
    /// Between half the ceiling and the ceiling.
    Half,
}

/// Exponential backoff: the ceiling doubles with each failed attempt, from `base_ms` up to
/// `cap_ms`, and the delay is drawn under it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub base_ms: f64,
    pub cap_ms: f64,
    pub jitter: Jitter,
}

impl Backoff {
    /// The pause before retrying after `attempt` failures in a row (0: the first retry),
    /// given `random` in `[0, 1)`.
    pub fn delay_ms(&self, attempt: u32, random: f64) -> f64 {
        let ceiling = (self.base_ms * f64::from(1u32 << attempt.min(20))).min(self.cap_ms);
        match self.jitter {
            Jitter::Full => ceiling * random,
            Jitter::Half => ceiling * (0.5 + random * 0.5),
        }
    }
}

/// What the app does with the socket's news. None of them is called while the socket's own
/// state is borrowed, so each may call back into the socket.
pub struct Callbacks {
    /// The connection is open: send the first frame here if the server wants one.
    pub on_open: Box<dyn Fn()>,
    /// A text frame.
    pub on_message: Box<dyn Fn(String)>,
    /// The connection ended (the close frame's code; 1006 when there was none or it never
    /// opened). Not called for a socket the app closed or replaced itself.
    pub on_close: Box<dyn Fn(u16)>,
}

struct Connection {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Detached first: closing it ourselves is not a drop to report.
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

struct Inner {
    backoff: Backoff,
    callbacks: Rc<Callbacks>,
    connection: Option<Connection>,
    url: String,
    /// Failed attempts since the connection last worked.
    attempt: u32,
    /// Bumped by `open` and `close`: a pending `later` from before does nothing.
    epoch: u32,
}

/// A handle; clones share the one socket.
#[derive(Clone)]
pub struct Socket(Rc<RefCell<Inner>>);

impl Socket {
    /// A socket that is not connected yet: call [`Socket::open`].
    pub fn new(backoff: Backoff, callbacks: Callbacks) -> Self {
        Socket(Rc::new(RefCell::new(Inner {
            backoff,
            callbacks: Rc::new(callbacks),
            connection: None,
            url: String::new(),
            attempt: 0,
            epoch: 0,
        })))
    }

    /// Connects to `url` now, closing any earlier connection and cancelling a pending retry.
    pub fn open(&self, url: &str) {
        let epoch = {
            let mut inner = self.0.borrow_mut();
            inner.connection = None;
            inner.epoch = inner.epoch.wrapping_add(1);
            inner.url = url.to_string();
            inner.epoch
        };
        let Ok(ws) = WebSocket::new(url) else {
            // Reported as a drop, once the caller (which may hold its own state) is done.
            let callbacks = self.0.borrow().callbacks.clone();
            self.schedule(0.0, epoch, Box::new(move || (callbacks.on_close)(1006)));
            return;
        };
        let callbacks = self.0.borrow().callbacks.clone();
        let on_open = {
            let callbacks = callbacks.clone();
            Closure::<dyn FnMut()>::new(move || (callbacks.on_open)())
        };
        let on_message = {
            let callbacks = callbacks.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    (callbacks.on_message)(text);
                }
            })
        };
        // Weak: the connection (and so this closure) lives inside what it points to.
        let this = Rc::downgrade(&self.0);
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let Some(inner) = this.upgrade() else { return };
            {
                let mut inner = inner.borrow_mut();
                if inner.epoch != epoch {
                    return;
                }
                inner.connection = None;
            }
            (callbacks.on_close)(event.code());
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.0.borrow_mut().connection = Some(Connection {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        });
    }

    /// Runs `then` after the next backoff delay, unless the socket is opened or closed
    /// meanwhile. Each call counts as one more failed attempt.
    pub fn later(&self, then: impl FnOnce() + 'static) {
        let delay = self.next_delay_ms();
        let epoch = self.0.borrow().epoch;
        self.schedule(delay, epoch, Box::new(then));
    }

    /// The next backoff delay, counted as one more failed attempt, for a retry the app
    /// schedules itself (one that `open` must not cancel).
    pub fn next_delay_ms(&self) -> f64 {
        let mut inner = self.0.borrow_mut();
        let delay = inner
            .backoff
            .delay_ms(inner.attempt, js_sys::Math::random());
        inner.attempt = inner.attempt.saturating_add(1);
        delay
    }

    /// A timer, boxed so that every caller shares one instance of the JS closure glue.
    fn schedule(&self, delay: f64, epoch: u32, then: Box<dyn FnOnce()>) {
        let this = self.clone();
        let callback = Closure::once_into_js(move || {
            if this.0.borrow().epoch == epoch {
                then();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.unchecked_ref(),
                delay as i32,
            );
        }
    }

    /// Connects to the last URL again after the next backoff delay.
    pub fn reconnect_later(&self) {
        let this = self.clone();
        self.later(move || {
            let url = this.0.borrow().url.clone();
            this.open(&url);
        });
    }

    /// The connection works: the next drop starts the backoff afresh.
    pub fn reset_backoff(&self) {
        self.0.borrow_mut().attempt = 0;
    }

    /// Sends a text frame if the connection is open; false otherwise.
    pub fn send(&self, text: &str) -> bool {
        self.0
            .borrow()
            .connection
            .as_ref()
            .is_some_and(|connection| {
                connection.ws.ready_state() == WebSocket::OPEN
                    && connection.ws.send_with_str(text).is_ok()
            })
    }

    /// Closes the connection and cancels a pending retry; `on_close` is not called.
    pub fn close(&self) {
        let connection = {
            let mut inner = self.0.borrow_mut();
            inner.epoch = inner.epoch.wrapping_add(1);
            inner.attempt = 0;
            inner.connection.take()
        };
        drop(connection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_under_it() {
        let half = Backoff {
            base_ms: 500.0,
            cap_ms: 32_000.0,
            jitter: Jitter::Half,
        };
        // The top of each draw: 0.5 s, 1 s, 2 s … then 32 s for ever.
        let tops: Vec<f64> = (0..9).map(|attempt| half.delay_ms(attempt, 1.0)).collect();
        assert_eq!(
            tops,
            [500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 16_000.0, 32_000.0, 32_000.0, 32_000.0]
        );
        assert_eq!(half.delay_ms(3, 0.0), 2_000.0);
        assert_eq!(half.delay_ms(u32::MAX, 0.5), 24_000.0);

        let full = Backoff {
            base_ms: 1_000.0,
            cap_ms: 15_000.0,
            jitter: Jitter::Full,
        };
        assert_eq!(full.delay_ms(0, 0.0), 0.0);
        assert_eq!(full.delay_ms(2, 0.5), 2_000.0);
        assert_eq!(full.delay_ms(4, 1.0), 15_000.0);
        for attempt in 0..40 {
            for random in [0.0, 0.25, 0.999] {
                let delay = full.delay_ms(attempt, random);
                assert!((0.0..=15_000.0).contains(&delay));
            }
        }
    }
}
