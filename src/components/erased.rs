//! Type-erased building blocks for the views, because bytes are what every visitor pays.
//!
//! In tachys every `<Show>`, `<For>` and `move ||` closure of a `view!` is a generic
//! instantiation of its own: build, rebuild, mount and the render effect, a few kilobytes of
//! WASM each. These functions box the closure first, so that code is compiled once for the
//! whole widget and each use adds only its own view.

use leptos::prelude::*;
use std::sync::Arc;

type ViewFn = Arc<dyn Fn() -> AnyView + Send + Sync>;

/// A part of the view that is built again when a signal it reads changes.
pub fn dynamic(view: impl Fn() -> AnyView + Send + Sync + 'static) -> impl IntoView {
    dynamic_erased(Arc::new(view))
}

fn dynamic_erased(view: ViewFn) -> impl IntoView {
    move || view()
}

/// `children` while `condition` holds; like `<Show>`, they are built again only when it
/// starts holding, not each time a signal it reads changes.
pub fn when(
    condition: impl Fn() -> bool + Send + Sync + 'static,
    children: impl Fn() -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    when_erased(Signal::derive(condition), Arc::new(children))
}

fn when_erased(condition: Signal<bool>, children: ViewFn) -> impl IntoView {
    let shown = Memo::new(move |_| condition.get());
    move || shown.get().then(|| children())
}

/// Text (or an attribute's value) that follows signals.
pub fn text(text: impl Fn() -> String + Send + Sync + 'static) -> Signal<String> {
    Signal::derive(text)
}

/// A flag (a class toggle, a boolean attribute) that follows signals.
pub fn flag(flag: impl Fn() -> bool + Send + Sync + 'static) -> Signal<bool> {
    Signal::derive(flag)
}

/// An effect: `run` now and again whenever a signal it read changes. Boxed first, so
/// reactive_graph's effect machinery (its task, its loop) is compiled once, not once per
/// closure; state between runs lives in the closure.
pub fn effect(run: impl FnMut() + 'static) {
    effect_erased(Box::new(run))
}

fn effect_erased(mut run: Box<dyn FnMut()>) {
    Effect::new(move || run());
}

/// One of the widget's line icons (24×24, drawn with the `d` path); one view type for all.
pub fn icon(class: &'static str, path: &'static str) -> AnyView {
    view! {
        <svg viewBox="0 0 24 24" aria-hidden="true" class=class><path d=path/></svg>
    }
    .into_any()
}
