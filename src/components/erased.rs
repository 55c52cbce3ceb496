//! Where the widget's views (`dom.rs`) meet Leptos's: [`Fresh`], a `View` where tachys wants a
//! view (a component mounted alone by `mount_to` in a test), and one boxed effect.

use super::dom::View;
use leptos::prelude::*;
use leptos::tachys::html::attribute::{any_attribute::AnyAttribute, Attribute};
use leptos::tachys::hydration::Cursor;
use leptos::tachys::renderer::types::{Element, Node};
use leptos::tachys::view::{add_attr::AddAnyAttr, Mountable, Position, PositionState};
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

/// A [`View`] as a tachys view. Built, mounted and removed, never updated in place: rebuilding
/// one replaces it.
pub struct Fresh(SendWrapper<View>);

impl View {
    pub fn fresh(self) -> Fresh {
        // tachys asks views to be `Send`; the widget has one thread.
        Fresh(SendWrapper::new(self))
    }
}

/// A mounted [`Fresh`].
pub struct Mounted(View);

impl Mountable for Mounted {
    fn unmount(&mut self) {
        self.0.unmount();
    }

    fn mount(&mut self, parent: &Element, marker: Option<&Node>) {
        self.0.mount(parent, marker);
    }

    fn insert_before_this(&self, child: &mut dyn Mountable) -> bool {
        let first = self.0.first();
        match first
            .parent_node()
            .and_then(|parent| parent.dyn_into::<Element>().ok())
        {
            Some(parent) => {
                child.mount(&parent, Some(&first));
                true
            }
            None => false,
        }
    }

    fn elements(&self) -> Vec<Element> {
        self.0.as_element().cloned().into_iter().collect()
    }
}

impl Render for Fresh {
    type State = Mounted;

    fn build(self) -> Mounted {
        Mounted(self.0.take())
    }

    fn rebuild(self, state: &mut Mounted) {
        let mut new = self.build();
        state.insert_before_this(&mut new);
        state.unmount();
        *state = new;
    }
}

/// Client-side rendering only: the widget is never rendered on a server or hydrated.
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
    ) -> Mounted {
        unreachable!("the widget is not hydrated")
    }

    fn into_owned(self) -> Self {
        self
    }
}

/// No attributes to add: a component's own element takes its attributes where it is built.
impl AddAnyAttr for Fresh {
    type Output<SomeNewAttr: Attribute> = Self;

    fn add_any_attr<NewAttr: Attribute>(self, _attr: NewAttr) -> Self {
        self
    }
}

/// An effect: `run` now and again whenever a signal it read changes. Boxed first, so
/// reactive_graph's effect machinery (its task, its loop) is compiled once, not once per
/// closure; state between runs lives in the closure.
pub fn effect(run: impl FnMut() + 'static) {
    effect_erased(Box::new(run))
}

fn effect_erased(run: Box<dyn FnMut()>) {
    Effect::new(run);
}
