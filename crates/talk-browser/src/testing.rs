//! For wasm-bindgen-tests: components mounted into a node the test owns (so tests can't see
//! each other's DOM), elements found by `data-testid`.

use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement};

pub fn test_root() -> HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let root: HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    root
}

pub fn find(root: &HtmlElement, testid: &str) -> Option<HtmlElement> {
    root.query_selector(&format!("[data-testid={testid}]"))
        .unwrap()
        .map(|element| element.unchecked_into())
}

pub fn find_all(root: &HtmlElement, testid: &str) -> Vec<HtmlElement> {
    let list = root
        .query_selector_all(&format!("[data-testid={testid}]"))
        .unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

/// The element's text, empty when there is no such element.
pub fn text_of(root: &HtmlElement, testid: &str) -> String {
    find(root, testid)
        .and_then(|element| element.text_content())
        .unwrap_or_default()
}

/// Types `value` as the user would: sets it and fires `input`.
pub fn type_into(root: &HtmlElement, testid: &str, value: &str) {
    let input: HtmlInputElement = find(root, testid)
        .unwrap_or_else(|| panic!("no {testid}"))
        .unchecked_into();
    input.set_value(value);
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
}

/// Clicks and lets the reactive system run.
pub async fn click(root: &HtmlElement, testid: &str) {
    find(root, testid)
        .unwrap_or_else(|| panic!("no {testid}"))
        .click();
    tick().await;
}

/// Lets the reactive system run: the effects a change scheduled, then what they changed.
pub async fn tick() {
    any_spawner::Executor::tick().await;
}
