//! Which transport carries the session: the WebSocket, or the server's HTTP + SSE transport
//! when the socket can't get through (corporate proxies and antivirus products that block
//! upgrades, or pass them and then never deliver a frame). Plain Rust: the glue reports each
//! socket attempt's outcome and does what [`Next`] says; native tests below.
//!
//! - **Into the fallback**: [`FAILURES_BEFORE_FALLBACK`] socket attempts in a row that end
//!   without a completed `auth` (closed before `ready`, or no `ready` within
//!   [`AUTH_TIMEOUT_MS`]). An attempt the server answered (a refused or expired token) proves
//!   the socket gets through, so it counts as none; a drop after `ready` is an ordinary drop.
//! - **Back to the socket**: while on the fallback the socket is probed after a backoff
//!   ([`PROBE`]: 2.5 s doubling to 30 s, half jitter); the first probe that completes `auth`
//!   switches back. The HTTP + SSE transport keeps carrying everything until then.
//! - The stream's own reconnects have their own backoff ([`STREAM`]), reset by its `ready`.

use talk_browser::socket::{Backoff, Jitter};
use talk_protocol::close_code;

/// Socket attempts without a completed `auth` before the HTTP + SSE transport takes over.
/// With the socket's backoff (0.5 s, 1 s …) that is about 2 s after the first try.
pub const FAILURES_BEFORE_FALLBACK: u32 = 3;

/// How long an open socket may take to answer `auth` with `ready` (ms). Under the server's
/// own 10 s: a middlebox that swallows frames makes the server close with 4001 ("no auth
/// event"), which would otherwise read as a refused token, an answer.
pub const AUTH_TIMEOUT_MS: i32 = 8_000;

/// Pauses between probes of the socket while on the fallback.
pub const PROBE: Backoff = Backoff {
    base_ms: 2_500.0,
    cap_ms: 30_000.0,
    jitter: Jitter::Half,
};

/// Pauses before reopening the event stream after it ended.
pub const STREAM: Backoff = Backoff {
    base_ms: 500.0,
    cap_ms: 32_000.0,
    jitter: Jitter::Half,
};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Events go over the WebSocket.
    #[default]
    Socket,
    /// Events go over `POST /v1/talk/messages` and arrive on the SSE stream.
    Fallback,
}

/// What the glue does after a socket attempt's outcome.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Carry on over the socket as before (after a close: reconnect after its backoff).
    Socket,
    /// The socket doesn't get through: open the HTTP + SSE transport now, and probe the
    /// socket after `probe_in_ms`.
    EnterFallback { probe_in_ms: f64 },
    /// A probe failed: stay on HTTP + SSE, probe again after `in_ms`.
    ProbeLater { in_ms: f64 },
    /// A probe completed `auth`: close the HTTP + SSE transport, carry on over the socket.
    LeaveFallback,
}

#[derive(Default)]
pub struct Transport {
    mode: Mode,
    /// Socket attempts in a row that ended without a completed `auth`.
    failures: u32,
    /// The current socket attempt completed `auth`.
    authed: bool,
    /// Failed probes since the fallback began.
    probes: u32,
    /// Stream ends since its last `ready`.
    stream_failures: u32,
}

impl Transport {
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The current socket attempt has completed `auth`.
    pub fn authed(&self) -> bool {
        self.authed
    }

    /// A socket attempt starts (a connect, or a probe).
    pub fn opening(&mut self) {
        self.authed = false;
    }

    /// `ready` arrived on the socket.
    pub fn socket_ready(&mut self) -> Next {
        self.authed = true;
        self.failures = 0;
        self.probes = 0;
        match self.mode {
            Mode::Socket => Next::Socket,
            Mode::Fallback => {
                self.mode = Mode::Socket;
                Next::LeaveFallback
            }
        }
    }

    /// The socket closed with `code` (1006: no close frame, or it never opened); `random`
    /// in `[0, 1)` jitters the next probe.
    pub fn socket_closed(&mut self, code: u16, random: f64) -> Next {
        let answered = matches!(
            code,
            close_code::AUTH_FAILED | close_code::TOKEN_EXPIRED | close_code::KEY_RETIRED
        );
        let failed = !std::mem::take(&mut self.authed) && !answered;
        self.after_attempt(failed, random)
    }

    /// The socket opened but `ready` didn't come within [`AUTH_TIMEOUT_MS`]; the glue has
    /// closed it.
    pub fn auth_timed_out(&mut self, random: f64) -> Next {
        self.authed = false;
        self.after_attempt(true, random)
    }

    fn after_attempt(&mut self, failed: bool, random: f64) -> Next {
        match self.mode {
            Mode::Fallback => Next::ProbeLater {
                in_ms: self.probe_delay(random),
            },
            Mode::Socket if !failed => {
                self.failures = 0;
                Next::Socket
            }
            Mode::Socket => {
                self.failures += 1;
                if self.failures < FAILURES_BEFORE_FALLBACK {
                    return Next::Socket;
                }
                self.mode = Mode::Fallback;
                self.probes = 0;
                self.stream_failures = 0;
                Next::EnterFallback {
                    probe_in_ms: self.probe_delay(random),
                }
            }
        }
    }

    /// The pause before the next probe of the socket (each call counts one).
    pub fn probe_delay(&mut self, random: f64) -> f64 {
        let delay = PROBE.delay_ms(self.probes, random);
        self.probes = self.probes.saturating_add(1);
        delay
    }

    /// The event stream delivered `ready`.
    pub fn stream_ready(&mut self) {
        self.stream_failures = 0;
    }

    /// The event stream ended: the pause before opening it again.
    pub fn stream_ended(&mut self, random: f64) -> f64 {
        let delay = STREAM.delay_ms(self.stream_failures, random);
        self.stream_failures = self.stream_failures.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: u16 = 1006;

    #[test]
    fn three_attempts_without_auth_switch_to_the_fallback() {
        let mut transport = Transport::default();
        for _ in 1..FAILURES_BEFORE_FALLBACK {
            transport.opening();
            assert_eq!(transport.socket_closed(REFUSED, 0.0), Next::Socket);
            assert_eq!(transport.mode(), Mode::Socket);
        }
        transport.opening();
        assert_eq!(
            transport.socket_closed(REFUSED, 1.0),
            Next::EnterFallback {
                probe_in_ms: 2_500.0
            }
        );
        assert_eq!(transport.mode(), Mode::Fallback);
    }

    #[test]
    fn a_socket_that_opens_but_never_answers_auth_counts_as_failed() {
        let mut transport = Transport::default();
        transport.opening();
        assert_eq!(transport.auth_timed_out(0.0), Next::Socket);
        transport.opening();
        assert_eq!(transport.socket_closed(REFUSED, 0.0), Next::Socket);
        transport.opening();
        assert!(matches!(
            transport.auth_timed_out(0.0),
            Next::EnterFallback { .. }
        ));
    }

    #[test]
    fn drops_after_auth_and_answered_tokens_are_not_failures() {
        let mut transport = Transport::default();
        for _ in 0..10 {
            // Works, then drops (a server restart, a flaky network): never the fallback.
            transport.opening();
            assert_eq!(transport.socket_ready(), Next::Socket);
            assert_eq!(transport.socket_closed(1001, 0.0), Next::Socket);
            // Refused tokens: the server answered, so the socket gets through.
            transport.opening();
            assert_eq!(
                transport.socket_closed(close_code::TOKEN_EXPIRED, 0.0),
                Next::Socket
            );
            transport.opening();
            assert_eq!(
                transport.socket_closed(close_code::AUTH_FAILED, 0.0),
                Next::Socket
            );
        }
        assert_eq!(transport.mode(), Mode::Socket);
        // Two failures, then success, then two failures: the count starts again.
        for _ in 0..2 {
            transport.opening();
            transport.socket_closed(REFUSED, 0.0);
        }
        transport.opening();
        transport.socket_ready();
        transport.socket_closed(1006, 0.0);
        transport.opening();
        assert_eq!(transport.socket_closed(REFUSED, 0.0), Next::Socket);
        assert_eq!(transport.mode(), Mode::Socket);
    }

    #[test]
    fn on_the_fallback_probes_back_off_and_the_first_auth_switches_back() {
        let mut transport = Transport::default();
        for _ in 0..FAILURES_BEFORE_FALLBACK {
            transport.opening();
            transport.socket_closed(REFUSED, 0.99);
        }
        assert_eq!(transport.mode(), Mode::Fallback);
        // Failed probes, whatever the reason: 5 s, 10 s, 20 s, then 30 s for ever (tops).
        let mut delays = Vec::new();
        for attempt in 0..5 {
            transport.opening();
            let next = if attempt % 2 == 0 {
                transport.socket_closed(REFUSED, 1.0)
            } else {
                transport.auth_timed_out(1.0)
            };
            let Next::ProbeLater { in_ms } = next else {
                panic!("{next:?}")
            };
            delays.push(in_ms);
        }
        assert_eq!(delays, [5_000.0, 10_000.0, 20_000.0, 30_000.0, 30_000.0]);
        assert_eq!(transport.mode(), Mode::Fallback);

        transport.opening();
        assert_eq!(transport.socket_ready(), Next::LeaveFallback);
        assert_eq!(transport.mode(), Mode::Socket);
        // Back on the socket, the count starts from zero.
        transport.socket_closed(1006, 0.0);
        transport.opening();
        assert_eq!(transport.socket_closed(REFUSED, 0.0), Next::Socket);
        // Blocked again later: the probes start from the first pause.
        transport.opening();
        transport.socket_closed(REFUSED, 0.0);
        transport.opening();
        assert_eq!(
            transport.socket_closed(REFUSED, 1.0),
            Next::EnterFallback {
                probe_in_ms: 2_500.0
            }
        );
    }

    #[test]
    fn the_streams_reconnects_back_off_until_ready() {
        let mut transport = Transport::default();
        let tops: Vec<f64> = (0..4).map(|_| transport.stream_ended(1.0)).collect();
        assert_eq!(tops, [500.0, 1_000.0, 2_000.0, 4_000.0]);
        transport.stream_ready();
        assert_eq!(transport.stream_ended(1.0), 500.0);
    }
}
