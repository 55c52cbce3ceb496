//! The messenger's components. Each takes what it shows as props, so tests can mount it alone.

mod conversation;
pub(crate) mod dom;
pub(crate) mod erased;
mod home;
mod identify_form;
mod launcher;
mod messenger;

pub use conversation::{Composer, Conversation, MessageList};
pub use home::{avatar, picture, Home};
pub use identify_form::IdentifyForm;
pub use launcher::Launcher;
pub use messenger::{widget, Messenger, Widget};
