//! Live delivery: the in-process fan-out hub, the session core both transports share, the
//! WebSocket transport (the HTTP + SSE one is in `http::talk_messages`).

pub mod bus;
pub mod calls;
pub mod ending;
pub mod hub;
pub mod publish;
pub mod sequencer;
pub mod session;
pub mod socket;

pub use bus::Bus;
pub use calls::Calls;
pub use ending::Endings;
pub use hub::{queue, Hub, Outgoing, Published, Queue};
pub use sequencer::Sequencer;
pub use session::Session;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// Passes one typing event per browser session per second and drops the rest. Keyed by
/// session, not socket, so the HTTP transport (one request per event) is limited too; each
/// tab starts its own session, so this is per socket for WebSockets.
pub type TypingLimiter = DefaultKeyedRateLimiter<String>;

pub fn typing_limiter() -> TypingLimiter {
    RateLimiter::keyed(Quota::per_second(NonZeroU32::MIN))
}

/// Events queued for one connection before it counts as too slow.
pub const QUEUE_CAPACITY: usize = 1024;
/// Bytes of events (message text mostly) queued for one connection before it counts as too
/// slow: 1,024 small events, or 64 of the largest messages.
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;
