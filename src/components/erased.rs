//! Type-erased building blocks for the views, because bytes are what every visitor pays.
//!
//! In tachys every `<Show>`, `<For>` and `move ||` closure of a `view!` is a generic
//! instantiation of its own: build, rebuild, mount and the render effect, a few kilobytes of
//! WASM each. These functions box the closure first, so that code is compiled once for the
//! whole widget and each use adds only its own view.

use leptos::prelude::*;
use leptos::tachys::html::attribute::{any_attribute::AnyAttribute, Attribute};
use leptos::tachys::hydration::Cursor;
use leptos::tachys::renderer::types::{Element, Node, Placeholder};
use leptos::tachys::renderer::Rndr;
use leptos::tachys::view::{add_attr::AddAnyAttr, Mountable, Position, PositionState};
use std::sync::Arc;
use wasm_bindgen::{JsCast, JsValue};

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

/// `RenderHtml` and `AddAnyAttr` for a view type of the widget's own: client-side rendering
/// only (the widget is never rendered on a server or hydrated), and no attributes to add.
macro_rules! client_side_only {
    ($view:ty, $state:ty) => {
        impl RenderHtml for $view {
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
            ) -> $state {
                unreachable!("the widget is not hydrated")
            }

            fn into_owned(self) -> Self {
                self
            }
        }

        impl AddAnyAttr for $view {
            type Output<SomeNewAttr: Attribute> = Self;

            fn add_any_attr<NewAttr: Attribute>(self, _attr: NewAttr) -> Self {
                self
            }
        }
    };
}

client_side_only!(Fresh, FreshState);

/// Builds one row of a [`keyed`] list.
pub type RowFn = Box<dyn FnOnce() -> Fresh + Send>;

/// Rows keyed like `<For>`'s: a row whose key is still there keeps its DOM node (and the
/// visitor's text selection in it), in place unless the order changed; rows with a new key
/// are built, in their own reactive owner, and the others removed. Not generic, so the diff
/// is compiled once: `<For>`'s own is a copy per item and key type, with an `IndexSet`.
pub fn keyed(rows: impl Fn() -> Vec<(String, RowFn)> + Send + Sync + 'static) -> impl IntoView {
    let owner = Owner::current().unwrap_or_else(Owner::new);
    dynamic(move || {
        Keyed {
            rows: rows(),
            owner: owner.clone(),
        }
        .into_any()
    })
}

pub struct Keyed {
    rows: Vec<(String, RowFn)>,
    /// The list's owner: each row's is a child of it, not of the effect that builds them,
    /// so a row's signals live as long as the row.
    owner: Owner,
}

struct Row {
    key: String,
    view: FreshState,
    _owner: Owner,
}

pub struct KeyedState {
    parent: Option<Element>,
    marker: Placeholder,
    rows: Vec<Row>,
}

fn build_row(owner: &Owner, key: String, row: RowFn) -> Row {
    let row_owner = owner.with(Owner::new);
    let view = row_owner.with(|| row().build());
    Row {
        key,
        view,
        _owner: row_owner,
    }
}

impl Mountable for KeyedState {
    fn unmount(&mut self) {
        for row in &mut self.rows {
            row.view.unmount();
        }
        self.marker.unmount();
    }

    fn mount(&mut self, parent: &Element, marker: Option<&Node>) {
        self.parent = Some(parent.clone());
        for row in &mut self.rows {
            row.view.mount(parent, marker);
        }
        self.marker.mount(parent, marker);
    }

    fn insert_before_this(&self, child: &mut dyn Mountable) -> bool {
        match self.rows.first() {
            Some(row) => row.view.insert_before_this(child),
            None => self.marker.insert_before_this(child),
        }
    }

    fn elements(&self) -> Vec<Element> {
        self.rows
            .iter()
            .flat_map(|row| row.view.elements())
            .collect()
    }
}

impl Render for Keyed {
    type State = KeyedState;

    fn build(self) -> KeyedState {
        let owner = self.owner;
        KeyedState {
            parent: None,
            marker: Rndr::create_placeholder(),
            rows: self
                .rows
                .into_iter()
                .map(|(key, row)| build_row(&owner, key, row))
                .collect(),
        }
    }

    fn rebuild(self, state: &mut KeyedState) {
        let Some(parent) = state.parent.clone() else {
            // Not mounted: built afresh, mounted with the rest.
            *state = self.build();
            return;
        };
        // Moving a node takes the keyboard focus out of it: given back at the end if it was
        // lost, and only while the page has the focus (a widget in a frame whose page has
        // it elsewhere does not take it).
        let root = parent.get_root_node();
        let focused =
            || js_sys::Reflect::get(&root, &"activeElement".into()).unwrap_or(JsValue::NULL);
        let before = focused();
        // Each new row's old row with the same key, looked for from where the last one was
        // found: appended, prepended and replaced rows are found in one pass.
        let mut old: Vec<Option<Row>> = std::mem::take(&mut state.rows)
            .into_iter()
            .map(Some)
            .collect();
        let count = old.len();
        let mut from = 0;
        let found: Vec<Option<(usize, Row)>> = self
            .rows
            .iter()
            .map(|(key, _)| {
                let index = (0..count)
                    .map(|i| (from + i) % count)
                    .find(|&i| old[i].as_ref().is_some_and(|row| row.key == *key))?;
                from = index + 1;
                Some((index, old[index].take()?))
            })
            .collect();
        for row in old.iter_mut().flatten() {
            row.view.unmount();
        }
        drop(old);
        // From the end: a kept row stays where it is while the kept rows' old order holds;
        // the others (new, or moved) go in before the row that follows them.
        let mut rows: Vec<Row> = Vec::with_capacity(found.len());
        let mut kept = usize::MAX;
        for ((key, build), found) in self.rows.into_iter().zip(found).rev() {
            let mut row = match found {
                Some((index, row)) if index < kept => {
                    kept = index;
                    rows.push(row);
                    continue;
                }
                Some((_, row)) => row,
                None => build_row(&self.owner, key, build),
            };
            let placed = match rows.last() {
                Some(next) => next.view.insert_before_this(&mut row.view),
                None => false,
            };
            if !placed {
                row.view.mount(&parent, Some(&state.marker));
            }
            rows.push(row);
        }
        rows.reverse();
        state.rows = rows;
        if focused() != before
            && parent
                .owner_document()
                .is_some_and(|document| document.has_focus().unwrap_or(false))
        {
            if let Ok(element) = before.dyn_into::<web_sys::HtmlElement>() {
                let _ = element.focus();
            }
        }
    }
}

client_side_only!(Keyed, KeyedState);

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
