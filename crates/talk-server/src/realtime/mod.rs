//! Live delivery: the WebSocket transport and the in-process fan-out hub.

pub mod hub;
pub mod socket;

pub use hub::Hub;
