//! The Talk inbox: agents answer visitors, admins configure the widget. A Leptos CSR app the
//! Talk server serves at `/inbox/`; it talks to the server's agent and admin API on its own
//! origin with the `talk_agent` session cookie.

pub mod api;
pub mod calls;
pub mod components;
pub mod datetime;
pub mod drafts;
pub mod live;
pub mod notify;
pub mod outbox;
pub mod state;
pub mod usage;
pub mod usage_chart;
pub mod validation;

/// Mounts the app on `<body>`.
pub fn run() {
    leptos::mount::mount_to_body(components::App);
}

/// A Unix-milliseconds time as the agent's locale writes date and time.
pub fn local_time(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}
