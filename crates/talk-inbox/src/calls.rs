//! The inbox's part in voice calls. The call module (`loader/call.js`, the widget's own, linked
//! here as `js/call.js`) does the WebRTC and draws the call; this hands it the agent's ICE
//! servers (from `GET /v1/agent/me`), the workspace's call events and the conversation view's
//! call button, and sends its events on the inbox's socket.

use std::cell::RefCell;
use talk_protocol::{AgentMe, ServerEvent};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/call.js")]
extern "C" {
    #[wasm_bindgen(js_name = attach)]
    fn attach_module(options: &JsValue) -> JsValue;
}

thread_local! {
    static CONTROLLER: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

fn set(object: &JsValue, name: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(object, &name.into(), value);
}

/// Serde's JSON of `value`, as the module's plain objects.
fn js<T: serde::Serialize>(value: &T) -> JsValue {
    talk_browser::json::to_js(value).unwrap_or(JsValue::NULL)
}

fn call(method: &str, args: &[JsValue]) {
    CONTROLLER.with(|controller| {
        let Some(controller) = controller.borrow().clone() else {
            return;
        };
        let Ok(function) = js_sys::Reflect::get(&controller, &method.into()) else {
            return;
        };
        let function: js_sys::Function = function.unchecked_into();
        let _ = function.apply(&controller, &args.iter().collect::<js_sys::Array>());
    });
}

/// Starts the module for this agent, or hands it fresh credentials. `name_of` gives a
/// conversation's visitor name for "Incoming call from …".
pub fn attach(me: &AgentMe, name_of: impl Fn(String) -> String + 'static) {
    let attached = CONTROLLER.with(|controller| controller.borrow().is_some());
    if attached {
        call(
            "setIceServers",
            &[js(&me.ice_servers), js(&me.ice_transport_policy)],
        );
        return;
    }
    let options = js_sys::Object::new();
    set(&options, "side", &"agent".into());
    if let Some(body) = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.body())
    {
        set(&options, "root", &body);
    }
    set(&options, "lang", &"en".into());
    set(&options, "iceServers", &js(&me.ice_servers));
    set(
        &options,
        "iceTransportPolicy",
        &js(&me.ice_transport_policy),
    );
    let send = Closure::<dyn Fn(JsValue)>::new(|event: JsValue| {
        if let Ok(text) = js_sys::JSON::stringify(&event) {
            crate::live::send_text(&String::from(text));
        }
    });
    set(&options, "send", send.as_ref());
    send.forget(); // for the page's life, like the module
    let name = Closure::<dyn Fn(String) -> String>::new(name_of);
    set(&options, "name", name.as_ref());
    name.forget();
    let ring = Closure::<dyn Fn()>::new(crate::notify::incoming_call);
    set(&options, "ring", ring.as_ref());
    ring.forget();
    let controller = attach_module(&options);
    CONTROLLER.with(|slot| *slot.borrow_mut() = Some(controller));
}

/// A server event the module cares about: a call's change, a signal for this connection, or a
/// refusal (the module acts on its own codes only).
pub fn event(event: &ServerEvent) {
    match event {
        ServerEvent::Call { .. } | ServerEvent::CallSignal { .. } => call("event", &[js(event)]),
        ServerEvent::Error { code, message, .. } => {
            call("error", &[code.as_str().into(), message.as_str().into()])
        }
        _ => {}
    }
}

/// The conversation view's call button.
pub fn start(conversation_id: &str) {
    call("start", &[conversation_id.into()]);
}
