//! The messenger's components, built with `dom.rs`. Each takes what it shows as arguments; the
//! tests mount the ones they check alone (`dom::mount`).

mod conversation;
pub mod dom;
mod home;
mod identify_form;
mod launcher;
mod messenger;

pub use conversation::{message_list, PhotoOf};
pub use identify_form::identify_form;
pub use launcher::launcher;
pub use messenger::{messenger, widget};
