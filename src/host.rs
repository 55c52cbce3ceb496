//! Where the widget lives on the host page: a shadow root, so the page's CSS can't reach in,
//! styled by a constructable stylesheet, so a `style-src` without 'unsafe-inline' is fine.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CssStyleSheet, HtmlElement, ShadowRootInit, ShadowRootMode};

const STYLES: &str = include_str!("../style/widget.css");

/// Creates `<ap3c-talk>` at the end of `<body>` and returns the element to mount into.
pub fn create_mount_point() -> Result<HtmlElement, JsValue> {
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or("no document")?;
    let body = document.body().ok_or("no body")?;
    // A custom element: host rules aimed at `div` don't hit it.
    let host = document.create_element("ap3c-talk")?;
    body.append_child(&host)?;
    let shadow = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
    let sheet = CssStyleSheet::new()?;
    sheet.replace_sync(STYLES)?;
    js_sys::Reflect::set(
        &shadow,
        &"adoptedStyleSheets".into(),
        &js_sys::Array::of1(&sheet),
    )?;
    let mount = document.create_element("div")?;
    shadow.append_child(&mount)?;
    Ok(mount.unchecked_into())
}
