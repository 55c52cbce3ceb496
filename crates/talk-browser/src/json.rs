//! JSON through the browser's own parser: `JSON.parse` / `JSON.stringify` plus
//! serde-wasm-bindgen, instead of compiling a JSON parser and printer into the WASM.

use serde::{de::DeserializeOwned, Serialize};

pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let value = js_sys::JSON::parse(text).map_err(|_| "not JSON".to_string())?;
    serde_wasm_bindgen::from_value(value).map_err(|error| error.to_string())
}

/// The value as the plain JavaScript object `JSON.parse` would make of its JSON: maps as plain
/// objects (JSON.stringify writes a `Map` as `{}`) and `None` as null.
pub fn to_js<T: Serialize>(value: &T) -> Result<wasm_bindgen::JsValue, String> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value
        .serialize(&serializer)
        .map_err(|error| error.to_string())
}

pub fn stringify<T: Serialize>(value: &T) -> Result<String, String> {
    let value = to_js(value)?;
    js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| "not serialisable".to_string())
}
