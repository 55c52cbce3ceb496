//! The messenger's components, built with `dom.rs`. Each takes what it shows as arguments; the
//! ones the tests mount alone have a `#[component]` wrapper (`erased::Fresh`).

mod conversation;
pub(crate) mod dom;
pub(crate) mod erased;
mod home;
mod identify_form;
mod launcher;
mod messenger;

pub use conversation::MessageList;
pub use identify_form::IdentifyForm;
pub use launcher::Launcher;
pub use messenger::{widget, Messenger};
