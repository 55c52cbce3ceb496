//! The widget's views, built from one element type at run time, because bytes are what every
//! visitor pays.
//!
//! `view!` gives every element, attribute set and child list a type of its own, and tachys
//! compiles build, rebuild and mount for each: most of the widget's WASM was copies of that
//! code. Here an element is a [`View`] made by method calls (`el("div").class("x")`), every
//! reactive part is a boxed closure run by one kind of render effect, and the changing parts
//! (`when`, `dynamic`, `keyed`) replace or move whole views between a marker comment and the
//! views before it. The reactive system is Leptos's (`reactive_graph`: signals, owners,
//! effects).

use reactive_graph::effect::RenderEffect;
use reactive_graph::graph::untrack;
use reactive_graph::owner::Owner;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Comment, DocumentFragment, Element, Node};

/// What a view calls back: a plain shared closure. A `Callback` (or a `Signal`) is a slot in
/// reactive_graph's arena, its code compiled once more for each type.
pub type Handler<T> = Rc<dyn Fn(T)>;

/// A condition a view follows (it reads signals).
pub type Flag = Rc<dyn Fn() -> bool>;

/// What a view keeps alive as long as it is shown: dropping it stops its effects and removes
/// its listeners' closures.
#[allow(dead_code)] // held for their `Drop` alone
enum Kept {
    Effect(RenderEffect<()>),
    Listener(Closure<dyn FnMut(web_sys::Event)>),
    Child(View),
    Owner(Owner),
}

/// An element, or a changing part (a marker comment and the views before it). One pointer,
/// so the builder's calls pass it in a register instead of copying it through memory.
pub struct View(Box<Parts>);

pub struct Parts {
    root: Root,
    kept: Vec<Kept>,
}

impl std::ops::Deref for View {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl std::ops::DerefMut for View {
    fn deref_mut(&mut self) -> &mut Parts {
        &mut self.0
    }
}

enum Root {
    /// An element or a text.
    Node(Node),
    Part(Rc<Part>),
}

struct Part {
    marker: Comment,
    shown: RefCell<Vec<View>>,
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap_throw().document().unwrap_throw()
}

/// A new HTML element.
pub fn el(tag: &str) -> View {
    View::of(document().create_element(tag).unwrap_throw())
}

/// A new SVG element.
pub fn svg(tag: &str) -> View {
    View::of(
        document()
            .create_element_ns(Some("http://www.w3.org/2000/svg"), tag)
            .unwrap_throw(),
    )
}

/// A text that never changes, as a view of its own (next to others in a [`fragment`]).
pub fn text(text: &str) -> View {
    View::of(document().create_text_node(text))
}

/// Several views as one, e.g. what a [`when`] shows.
pub fn fragment(views: Vec<View>) -> View {
    let part = Part::new();
    part.replace(views);
    View(Box::new(Parts {
        root: Root::Part(part),
        kept: Vec::new(),
    }))
}

/// One of the widget's line icons (24×24, drawn with the `d` path).
pub fn icon(class: &str, path: &str) -> View {
    svg("svg")
        .attr("viewBox", "0 0 24 24")
        .attr("aria-hidden", "true")
        .attr("class", class)
        .child(svg("path").attr("d", path))
}

/// Runs `run` now and again whenever a signal it read changes, as long as the returned
/// effect is kept.
fn render_effect(mut run: Box<dyn FnMut()>) -> RenderEffect<()> {
    RenderEffect::new(move |_| run())
}

impl View {
    fn of(node: impl Into<Node>) -> View {
        View(Box::new(Parts {
            root: Root::Node(node.into()),
            kept: Vec::new(),
        }))
    }

    /// The element (`el`'s and `svg`'s views only).
    pub fn element(&self) -> &Element {
        match &self.root {
            Root::Node(node) => node.unchecked_ref(),
            Root::Part(_) => unreachable!("a changing part is not an element"),
        }
    }

    pub fn attr(self, name: &str, value: &str) -> View {
        let _ = self.element().set_attribute(name, value);
        self
    }

    pub fn class(self, class: &str) -> View {
        self.attr("class", class)
    }

    pub fn testid(self, id: &str) -> View {
        self.attr("data-testid", id)
    }

    /// An attribute that follows signals; `None` removes it.
    pub fn attr_with(
        self,
        name: &'static str,
        value: impl Fn() -> Option<String> + 'static,
    ) -> View {
        self.attr_boxed(name, Box::new(value))
    }

    fn attr_boxed(self, name: &'static str, value: Box<dyn Fn() -> Option<String>>) -> View {
        let element = self.element().clone();
        let mut last: Option<Option<String>> = None;
        self.effect(move || {
            let value = value();
            if last.as_ref() != Some(&value) {
                let _ = match &value {
                    Some(value) => element.set_attribute(name, value),
                    None => element.remove_attribute(name),
                };
                last = Some(value);
            }
        })
    }

    /// An attribute whose value follows signals.
    pub fn attr_text(self, name: &'static str, value: impl Fn() -> String + 'static) -> View {
        self.attr_boxed(name, Box::new(move || Some(value())))
    }

    /// A boolean attribute (`hidden`, `disabled`): there while `on` holds.
    pub fn attr_if(self, name: &'static str, on: impl Fn() -> bool + 'static) -> View {
        self.attr_boxed(name, Box::new(move || on().then(String::new)))
    }

    /// A class that is there while `on` holds.
    pub fn class_if(self, class: &'static str, on: impl Fn() -> bool + 'static) -> View {
        self.class_if_boxed(class, Box::new(on))
    }

    fn class_if_boxed(self, class: &'static str, on: Box<dyn Fn() -> bool>) -> View {
        let list = self.element().class_list();
        self.effect(move || {
            let _ = list.toggle_with_force(class, on());
        })
    }

    /// A DOM property (an input's `value`) that follows signals.
    pub fn prop_with(self, name: &'static str, value: impl Fn() -> JsValue + 'static) -> View {
        self.prop_boxed(name, Box::new(value))
    }

    fn prop_boxed(self, name: &'static str, value: Box<dyn Fn() -> JsValue>) -> View {
        let element = self.element().clone();
        self.effect(move || {
            let _ = js_sys::Reflect::set(&element, &name.into(), &value());
        })
    }

    /// Listens for `event` on the element.
    pub fn on(self, event: &str, handler: impl FnMut(web_sys::Event) + 'static) -> View {
        self.on_boxed(event, Box::new(handler))
    }

    fn on_boxed(mut self, event: &str, handler: Box<dyn FnMut(web_sys::Event)>) -> View {
        let listener = Closure::wrap(handler);
        let _ = self
            .element()
            .add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        self.kept.push(Kept::Listener(listener));
        self
    }

    /// Runs `run` now and whenever a signal it read changes, while this view is kept.
    pub fn effect(mut self, run: impl FnMut() + 'static) -> View {
        self.kept.push(Kept::Effect(render_effect(Box::new(run))));
        self
    }

    /// Appends `child`.
    pub fn child(mut self, child: View) -> View {
        child.mount(self.element(), None);
        self.kept.push(Kept::Child(child));
        self
    }

    /// Appends `child` if there is one.
    pub fn maybe(self, child: Option<View>) -> View {
        match child {
            Some(child) => self.child(child),
            None => self,
        }
    }

    /// Appends a text that never changes (none if it is empty).
    pub fn text(self, text: &str) -> View {
        if !text.is_empty() {
            let _ = self
                .element()
                .append_child(&document().create_text_node(text));
        }
        self
    }

    /// Appends a text that follows signals.
    pub fn text_with(self, text: impl Fn() -> String + 'static) -> View {
        self.text_boxed(Box::new(text))
    }

    fn text_boxed(self, text: Box<dyn Fn() -> String>) -> View {
        let node = document().create_text_node("");
        let _ = self.element().append_child(&node);
        let mut last = String::new();
        self.effect(move || {
            let text = text();
            if text != last {
                node.set_data(&text);
                last = text;
            }
        })
    }

    /// Puts the view's nodes into `parent`, before `before` (at the end when `None`).
    pub(super) fn mount(&self, parent: &Node, before: Option<&Node>) {
        match &self.root {
            Root::Node(node) => {
                let _ = parent.insert_before(node, before);
            }
            Root::Part(part) => {
                for view in part.shown.borrow().iter() {
                    view.mount(parent, before);
                }
                let _ = parent.insert_before(&part.marker, before);
            }
        }
    }

    /// Takes the view's nodes out of the document.
    pub(super) fn unmount(&self) {
        match &self.root {
            Root::Node(node) => {
                if let Some(parent) = node.parent_node() {
                    let _ = parent.remove_child(node);
                }
            }
            Root::Part(part) => {
                for view in part.shown.borrow().iter() {
                    view.unmount();
                }
                part.marker.remove();
            }
        }
    }

    /// The view's first node: where a view put before it goes.
    pub(super) fn first(&self) -> Node {
        match &self.root {
            Root::Node(node) => node.clone(),
            Root::Part(part) => match part.shown.borrow().first() {
                Some(view) => view.first(),
                None => part.marker.clone().into(),
            },
        }
    }
}

/// Mounts the view `build` makes (in a new reactive owner) at the end of `parent`; dropping
/// what it returns removes the view and stops its effects (a test's mount).
pub fn mount(parent: &Element, build: impl FnOnce() -> View) -> Mounted {
    // Effects run as wasm-bindgen futures; an error means it was started already.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let owner = Owner::new();
    let view = owner.with(build);
    view.mount(parent, None);
    Mounted {
        view,
        _owner: owner,
    }
}

/// A mounted view and its owner.
pub struct Mounted {
    view: View,
    _owner: Owner,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.view.unmount();
    }
}

/// [`mount`], for the rest of the page's life.
pub fn mount_for_good(parent: &Element, build: impl FnOnce() -> View) {
    std::mem::forget(mount(parent, build));
}

/// A changing part: `update` is given the part and runs now and whenever a signal it read
/// changes.
fn part(update: impl FnMut(&Rc<Part>) + 'static) -> View {
    part_boxed(Box::new(update))
}

type PartUpdate = Box<dyn FnMut(&Rc<Part>)>;

fn part_boxed(mut update: PartUpdate) -> View {
    let part = Part::new();
    let effect = {
        let part = part.clone();
        render_effect(Box::new(move || update(&part)))
    };
    View(Box::new(Parts {
        root: Root::Part(part),
        kept: vec![Kept::Effect(effect)],
    }))
}

impl Part {
    fn new() -> Rc<Part> {
        Rc::new(Part {
            marker: document().create_comment(""),
            shown: RefCell::new(Vec::new()),
        })
    }

    /// Where the part's views go. Until the part is mounted, the marker (and what goes
    /// before it) waits in a fragment, so there is always a parent to put views into.
    fn parent(&self) -> Node {
        self.marker.parent_node().unwrap_or_else(|| {
            let fragment: Node = DocumentFragment::new().unwrap_throw().into();
            let _ = fragment.append_child(&self.marker);
            fragment
        })
    }

    /// Shows `views` instead of what was shown.
    fn replace(&self, views: Vec<View>) {
        let parent = self.parent();
        for view in views.iter() {
            view.mount(&parent, Some(&self.marker));
        }
        let old = std::mem::replace(&mut *self.shown.borrow_mut(), views);
        for view in old.iter() {
            view.unmount();
        }
    }
}

/// Builds `view` in a reactive owner of its own (a child of `owner`), without tracking what
/// the building reads: the view is kept until its part replaces it, whatever else changes.
fn build_owned(owner: &Owner, view: impl FnOnce() -> View) -> View {
    let child = owner.with(Owner::new);
    let mut view = child.with(|| untrack(view));
    view.kept.push(Kept::Owner(child));
    view
}

/// `children` while `condition` holds; like `<Show>`, they are built again only when it
/// starts holding, not each time a signal it reads changes.
pub fn when(condition: impl Fn() -> bool + 'static, children: impl Fn() -> View + 'static) -> View {
    when_boxed(Box::new(condition), Box::new(children))
}

fn when_boxed(condition: Box<dyn Fn() -> bool>, children: Box<dyn Fn() -> View>) -> View {
    let owner = Owner::current().unwrap_or_default();
    part(move |part| {
        let show = condition();
        // Shown means one view (the children) before the marker.
        if show == part.shown.borrow().is_empty() {
            let views = if show {
                vec![build_owned(&owner, &children)]
            } else {
                Vec::new()
            };
            part.replace(views);
        }
    })
}

/// A part that is built again whenever a signal its building reads changes.
pub fn dynamic(view: impl Fn() -> View + 'static) -> View {
    dynamic_boxed(Box::new(view))
}

fn dynamic_boxed(view: Box<dyn Fn() -> View>) -> View {
    part(move |part| part.replace(vec![view()]))
}

/// Builds one row of a [`keyed`] list.
pub type RowFn = Box<dyn FnOnce() -> View>;

/// Rows keyed like `<For>`'s: a row whose key is still there keeps its DOM node (and the
/// visitor's text selection and keyboard focus in it), in place unless the order changed;
/// rows with a new key are built, each in its own reactive owner, and the others removed.
pub fn keyed(rows: impl Fn() -> Vec<(String, RowFn)> + 'static) -> View {
    keyed_boxed(Box::new(rows))
}

fn keyed_boxed(rows: Box<dyn Fn() -> Vec<(String, RowFn)>>) -> View {
    let owner = Owner::current().unwrap_or_default();
    // The shown rows' keys, in the order of the part's views.
    let mut keys: Vec<String> = Vec::new();
    part(move |part| {
        let rows = rows();
        let parent = part.parent();
        // Moving a node takes the keyboard focus out of it: given back at the end if it was
        // lost, and only while the page has the focus (a widget in a frame whose page has
        // it elsewhere does not take it).
        let root = parent.get_root_node();
        let focused =
            || js_sys::Reflect::get(&root, &"activeElement".into()).unwrap_or(JsValue::NULL);
        let before = focused();
        // Each new row's old row with the same key, looked for from where the last one was
        // found: appended, prepended and replaced rows are found in one pass. (Plain loops:
        // iterator adapters over these types were code of their own.)
        let old_keys = std::mem::take(&mut keys);
        let mut old_views: Vec<Option<View>> = Vec::with_capacity(old_keys.len());
        for view in std::mem::take(&mut *part.shown.borrow_mut()) {
            old_views.push(Some(view));
        }
        let count = old_views.len();
        let mut from = 0;
        let mut found: Vec<Option<(usize, View)>> = Vec::with_capacity(rows.len());
        for (key, _) in &rows {
            let mut hit = None;
            for step in 0..count {
                let index = (from + step) % count;
                if old_views[index].is_some() && old_keys[index] == *key {
                    from = index + 1;
                    hit = old_views[index].take().map(|view| (index, view));
                    break;
                }
            }
            found.push(hit);
        }
        for view in old_views.iter().flatten() {
            view.unmount();
        }
        drop(old_views);
        // From the end: a kept row stays where it is while the kept rows' old order holds;
        // the others (new, or moved) go in before the row that follows them.
        let mut placed: Vec<View> = Vec::with_capacity(found.len());
        let mut kept = usize::MAX;
        let mut rows = rows;
        while let (Some((key, build)), Some(found)) = (rows.pop(), found.pop()) {
            keys.push(key);
            let view = match found {
                Some((index, view)) if index < kept => {
                    kept = index;
                    placed.push(view);
                    continue;
                }
                Some((_, view)) => view,
                None => build_owned(&owner, build),
            };
            let next = match placed.last() {
                Some(next) => next.first(),
                None => part.marker.clone().into(),
            };
            view.mount(&parent, Some(&next));
            placed.push(view);
        }
        placed.reverse();
        keys.reverse();
        *part.shown.borrow_mut() = placed;
        if focused() != before
            && parent
                .owner_document()
                .is_some_and(|document| document.has_focus().unwrap_or(false))
        {
            if let Ok(element) = before.dyn_into::<web_sys::HtmlElement>() {
                let _ = element.focus();
            }
        }
    })
}

/// An effect: `run` once the current task is done (the view that made it is in the document by
/// then), and again whenever a signal it read changes; stopped when its owner is cleaned up.
/// What reactive_graph's `Effect` does, on the render effect the views already use: `Effect`
/// keeps itself in a thread-checked arena slot, whose check (`std::thread::current`) and loop
/// were 1 KB of gzip for three effects. Boxed first: compiled once, not once per closure.
pub fn effect(run: impl FnMut() + 'static) {
    effect_erased(Box::new(run))
}

/// An effect's life: not started yet, running, or stopped (its owner was cleaned up first).
enum Life {
    Waiting,
    #[allow(dead_code)] // held for its `Drop`, which stops it
    Running(RenderEffect<()>),
    Stopped,
}

fn effect_erased(mut run: Box<dyn FnMut()>) {
    let life = Arc::new(Mutex::new(Life::Waiting));
    // On the current owner, if there is one (else it runs for the page's life).
    Owner::on_cleanup({
        let life = life.clone();
        move || *lock(&life) = Life::Stopped
    });
    let owner = Owner::current();
    any_spawner::Executor::spawn_local(async move {
        let mut life = lock(&life);
        if let Life::Waiting = *life {
            let start = move || RenderEffect::new(move |_| run());
            *life = Life::Running(match owner {
                Some(owner) => owner.with(start),
                None => start(),
            });
        }
    });
}

fn lock(life: &Mutex<Life>) -> std::sync::MutexGuard<'_, Life> {
    // Poisoned only by a panic, which aborts the WASM: the value is still the last one set.
    life.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The `value` of the input or textarea an event came from.
pub fn event_value(event: &web_sys::Event) -> String {
    // Both elements have `value`; the cast is not checked, so one accessor serves both.
    event
        .target()
        .map(|target| target.unchecked_into::<web_sys::HtmlInputElement>().value())
        .unwrap_or_default()
}
