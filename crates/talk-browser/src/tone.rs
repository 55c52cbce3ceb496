//! A short tone synthesised with the Web Audio API, for the widget's new message and the
//! inbox's new conversation: no sound file in the download, and nothing a page's CSP has to
//! allow (`media-src` governs media elements, not Web Audio).
//!
//! One audio context per page, made at the first tone: browsers let a context make sound once
//! the visitor has interacted with the page, and limit how many a page may open.

use std::cell::RefCell;
use web_sys::AudioContext;

thread_local! {
    static CONTEXT: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// Plays `notes`, each `(start, frequency)`: seconds from now and hertz, 0.14 s long, fading
/// out. One oscillator for them all, so one `start` per tone.
pub fn play(notes: &[(f64, f32)]) {
    CONTEXT.with_borrow_mut(|context| {
        if context.is_none() {
            *context = AudioContext::new().ok();
        }
        if let Some(context) = context {
            let _ = sound(context, notes);
        }
    });
}

fn sound(context: &AudioContext, notes: &[(f64, f32)]) -> Result<(), wasm_bindgen::JsValue> {
    let oscillator = context.create_oscillator()?;
    let gain = context.create_gain()?;
    let now = context.current_time();
    let mut end = now;
    for &(offset, frequency) in notes {
        let at = now + offset;
        oscillator.frequency().set_value_at_time(frequency, at)?;
        gain.gain().set_value_at_time(0.08, at)?;
        gain.gain().linear_ramp_to_value_at_time(0.0, at + 0.14)?;
        end = at + 0.15;
    }
    oscillator.connect_with_audio_node(&gain)?;
    gain.connect_with_audio_node(&context.destination())?;
    oscillator.start_with_when(now)?;
    oscillator.stop_with_when(end)
}
