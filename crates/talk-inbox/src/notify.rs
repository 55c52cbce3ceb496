//! Telling the agent about a new conversation when they may not be looking: a short tone, and
//! a desktop notification when the browser allows one.

use web_sys::{
    AudioContext, Notification, NotificationOptions, NotificationPermission, OscillatorType,
};

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

/// Two short sine notes (no audio file to download). Browsers mute it until the agent has
/// interacted with the page, which signing in does.
fn play_tone() {
    let Ok(context) = AudioContext::new() else {
        return;
    };
    let now = context.current_time();
    for (offset, frequency) in [(0.0, 880.0), (0.15, 1320.0)] {
        let (Ok(oscillator), Ok(gain)) = (context.create_oscillator(), context.create_gain())
        else {
            return;
        };
        oscillator.set_type(OscillatorType::Sine);
        oscillator.frequency().set_value(frequency);
        gain.gain().set_value(0.08);
        let _ = gain
            .gain()
            .linear_ramp_to_value_at_time(0.0, now + offset + 0.14);
        let _ = oscillator.connect_with_audio_node(&gain);
        let _ = gain.connect_with_audio_node(&context.destination());
        let _ = oscillator.start_with_when(now + offset);
        let _ = oscillator.stop_with_when(now + offset + 0.15);
    }
}
