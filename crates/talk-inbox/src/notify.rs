//! Telling the agent about a new conversation when they may not be looking: a short tone, and
//! a desktop notification when the browser allows one.

use web_sys::{Notification, NotificationOptions, NotificationPermission};

/// Whether the browser would show a notification now, may ask, or never will.
pub fn permission() -> Option<NotificationPermission> {
    // Browsers without the API (or a page that is not a secure context) have no Notification.
    let has_api = js_sys::Reflect::has(&js_sys::global(), &"Notification".into()).unwrap_or(false);
    has_api.then(Notification::permission)
}

/// Asks for permission; must run in a click handler. Resolves to the answer.
pub async fn request_permission() -> Option<NotificationPermission> {
    permission()?;
    let promise = Notification::request_permission().ok()?;
    let answer = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    answer.as_string().map(|answer| match answer.as_str() {
        "granted" => NotificationPermission::Granted,
        "denied" => NotificationPermission::Denied,
        _ => NotificationPermission::Default,
    })
}

/// A tone and, if permitted, a notification. The text is the visitor's, shown as text.
pub fn new_conversation(from: &str, preview: &str) {
    play_tone();
    if permission() == Some(NotificationPermission::Granted) {
        let options = NotificationOptions::new();
        options.set_body(preview);
        options.set_tag("talk-new-conversation");
        let _ = Notification::new_with_options(&format!("New conversation: {from}"), &options);
    }
}

/// A bot handed a conversation over to the agents: a tone and, if permitted, a notification.
pub fn handoff(bot: &str, visitor: &str, note: &str) {
    play_tone();
    if permission() == Some(NotificationPermission::Granted) {
        let options = NotificationOptions::new();
        options.set_body(note);
        options.set_tag("talk-handoff");
        let _ = Notification::new_with_options(&format!("{bot} handed over: {visitor}"), &options);
    }
}

/// A visitor is calling: a notification, if permitted (the call module rings itself).
pub fn incoming_call() {
    if permission() == Some(NotificationPermission::Granted) {
        let options = NotificationOptions::new();
        options.set_tag("talk-incoming-call");
        let _ = Notification::new_with_options("Incoming call", &options);
    }
}

/// Two short notes, a fifth apart (`talk_browser::tone`). Browsers mute them until the agent
/// has interacted with the page, which signing in does.
fn play_tone() {
    talk_browser::tone::play(&[(0.0, 880.0), (0.15, 1320.0)]);
}
