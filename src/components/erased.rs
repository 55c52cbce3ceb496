//! Where the widget's views (`dom.rs`) meet Leptos's: [`Fresh`], one view type that tachys
//! mounts (a component mounted alone in a test, the widget in its shadow root), and one boxed
//! effect.

use leptos::prelude::*;
use leptos::tachys::html::attribute::{any_attribute::AnyAttribute, Attribute};
use leptos::tachys::hydration::Cursor;
use leptos::tachys::renderer::types::{Element, Node};
use leptos::tachys::view::{add_attr::AddAnyAttr, Mountable, Position, PositionState};

/// A view that is built, mounted and removed, never updated in place. An `AnyView` carries a
/// `rebuild` for its type (half a kilobyte or more of WASM each); a view that is only ever
/// built needs none. Rebuilding one replaces it.
pub struct Fresh(Box<dyn FnOnce() -> FreshState + Send>);

pub struct FreshState(Box<dyn Mountable>);

impl Fresh {
    pub(super) fn of(build: Box<dyn FnOnce() -> FreshState + Send>) -> Fresh {
        Fresh(build)
    }
}

impl FreshState {
    pub(super) fn of(state: Box<dyn Mountable>) -> FreshState {
        FreshState(state)
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

/// An effect: `run` now and again whenever a signal it read changes. Boxed first, so
/// reactive_graph's effect machinery (its task, its loop) is compiled once, not once per
/// closure; state between runs lives in the closure.
pub fn effect(run: impl FnMut() + 'static) {
    effect_erased(Box::new(run))
}

fn effect_erased(run: Box<dyn FnMut()>) {
    Effect::new(run);
}
