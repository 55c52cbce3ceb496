//! Type-erased building blocks for the views, because bytes are what every visitor pays.
//!
//! In tachys every `<Show>`, `<For>` and `move ||` closure of a `view!` is a generic
//! instantiation of its own: build, rebuild, mount and the render effect, a few kilobytes of
//! WASM each. These functions box the closure first, so that code is compiled once for the
//! whole widget and each use adds only its own view.

use leptos::prelude::*;
use leptos::tachys::html::attribute::{any_attribute::AnyAttribute, Attribute};
use leptos::tachys::hydration::Cursor;
use leptos::tachys::renderer::types::{Element, Node};
use leptos::tachys::view::{add_attr::AddAnyAttr, Mountable, Position, PositionState};
use std::sync::Arc;

type ViewFn = Arc<dyn Fn() -> AnyView + Send + Sync>;
type FreshFn = Arc<dyn Fn() -> Fresh + Send + Sync>;

/// A view that is built, mounted and removed, never updated in place: what `when` shows and
/// the icons. An `AnyView` carries a `rebuild` for its type (half a kilobyte or more of
/// WASM each); a part that is only ever built needs none, so all of them share this one
/// type. Rebuilding one replaces it, as an `AnyView` of another type is replaced.
pub struct Fresh(Box<dyn FnOnce() -> FreshState + Send>);

pub struct FreshState(Box<dyn Mountable>);

/// `view` as a [`Fresh`] view.
pub fn fresh<V>(view: V) -> Fresh
where
    V: Render + Send + 'static,
    V::State: 'static,
{
    Fresh(Box::new(move || FreshState(Box::new(view.build()))))
}

/// `.fresh()` where `.into_any()` would be.
pub trait IntoFresh {
    fn fresh(self) -> Fresh;
}

impl<V> IntoFresh for V
where
    V: Render + Send + 'static,
    V::State: 'static,
{
    fn fresh(self) -> Fresh {
        fresh(self)
    }
}

impl Mountable for FreshState {
    fn unmount(&mut self) {
        self.0.unmount()
    }

    fn mount(&mut self, parent: &Element, marker: Option<&Node>) {
        self.0.mount(parent, marker)
    }

    fn insert_before_this(&self, child: &mut dyn Mountable) -> bool {
        self.0.insert_before_this(child)
    }

    fn elements(&self) -> Vec<Element> {
        self.0.elements()
    }
}

impl Render for Fresh {
    type State = FreshState;

    fn build(self) -> FreshState {
        (self.0)()
    }

    fn rebuild(self, state: &mut FreshState) {
        let mut new = self.build();
        state.insert_before_this(&mut new);
        state.unmount();
        *state = new;
    }
}

// Client-side rendering only: the widget is never rendered on a server or hydrated.
impl RenderHtml for Fresh {
    type AsyncOutput = Self;
    type Owned = Self;

    const MIN_LENGTH: usize = 0;

    fn dry_resolve(&mut self) {}

    async fn resolve(self) -> Self {
        self
    }

    fn to_html_with_buf(
        self,
        _buf: &mut String,
        _position: &mut Position,
        _escape: bool,
        _mark_branches: bool,
        _extra_attrs: Vec<AnyAttribute>,
    ) {
    }

    fn hydrate<const FROM_SERVER: bool>(
        self,
        _cursor: &Cursor,
        _position: &PositionState,
    ) -> FreshState {
        unreachable!("the widget is not hydrated")
    }

    fn into_owned(self) -> Self {
        self
    }
}

impl AddAnyAttr for Fresh {
    type Output<SomeNewAttr: Attribute> = Self;

    fn add_any_attr<NewAttr: Attribute>(self, _attr: NewAttr) -> Self {
        self
    }
}

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
    children: impl Fn() -> Fresh + Send + Sync + 'static,
) -> impl IntoView {
    when_erased(Signal::derive(condition), Arc::new(children))
}

fn when_erased(condition: Signal<bool>, children: FreshFn) -> impl IntoView {
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
pub fn icon(class: &'static str, path: &'static str) -> Fresh {
    fresh(view! {
        <svg viewBox="0 0 24 24" aria-hidden="true" class=class><path d=path/></svg>
    })
}
