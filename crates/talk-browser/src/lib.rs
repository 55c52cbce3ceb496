//! Browser code the widget and the inbox share, so each fix lands in both.

pub mod http;
pub mod ids;
pub mod json;
pub mod socket;
pub mod sse;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod tone;
