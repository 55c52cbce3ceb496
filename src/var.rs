//! [`Var`]: the widget's signal, because bytes are what every visitor pays.
//!
//! Leptos's `RwSignal<T>` compiles its arena slot, lock, guards and traits once more for each
//! type it holds: about 1.5 KB of WASM per type, 17 KB for the widget's. A `Var` keeps its
//! value beside a reactive_graph trigger, in one arena slot type for every `T`: reading
//! tracks the trigger, writing notifies it, and only the borrow of the value is per type.
//! Owned like a signal: the value goes when the reactive owner that created it is cleaned up.

use reactive_graph::owner::StoredValue;
use reactive_graph::prelude::*;
use reactive_graph::signal::ArcTrigger;
use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, PoisonError, RwLock};

/// A reactive value: `Copy`, read with `get`/`with` (tracked) and written with `set`/`update`.
/// The value is `Send + Sync` (plain data, as every value the widget keeps is), so its slot
/// is an ordinary one: a `!Send` value would need reactive_graph's thread-checked slot, whose
/// check (`std::thread::current`) is code the one-threaded widget never needs.
pub struct Var<T> {
    slot: StoredValue<Slot>,
    value: PhantomData<fn() -> T>,
}

/// What every `Var` stores, whatever its type.
#[derive(Clone)]
struct Slot {
    trigger: ArcTrigger,
    /// A `RwLock<T>`: on wasm32 without threads, a borrow flag like a `RefCell`'s.
    value: Arc<dyn Any + Send + Sync>,
}

impl<T> Clone for Var<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Var<T> {}

impl<T: Send + Sync + 'static> Var<T> {
    pub fn new(value: T) -> Var<T> {
        Var {
            slot: store(Arc::new(RwLock::new(value))),
            value: PhantomData,
        }
    }

    fn cell(slot: &Slot) -> &RwLock<T> {
        slot.value
            .downcast_ref()
            .expect("a Var's slot holds its own type")
    }

    /// Reads the value without tracking it.
    pub fn with_untracked<U>(&self, read: impl FnOnce(&T) -> U) -> U {
        let slot = slot(self.slot);
        let value = Self::cell(&slot)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        read(&value)
    }

    /// Reads the value; the effect or view reading it runs again when it changes.
    pub fn with<U>(&self, read: impl FnOnce(&T) -> U) -> U {
        let slot = slot(self.slot);
        slot.trigger.track();
        let value = Self::cell(&slot)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        read(&value)
    }

    /// Subscribes the running effect or view to changes, without reading.
    pub fn track(&self) {
        slot(self.slot).trigger.track();
    }

    /// Changes the value in place and tells its readers.
    pub fn update(&self, change: impl FnOnce(&mut T)) {
        let slot = slot(self.slot);
        change(
            &mut Self::cell(&slot)
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        );
        slot.trigger.notify();
    }

    pub fn set(&self, value: T) {
        self.update(|old| *old = value);
    }
}

impl<T: Clone + Send + Sync + 'static> Var<T> {
    pub fn get(&self) -> T {
        self.with(T::clone)
    }

    pub fn get_untracked(&self) -> T {
        self.with_untracked(T::clone)
    }
}

/// A new slot, for all types once.
#[inline(never)]
fn store(value: Arc<dyn Any + Send + Sync>) -> StoredValue<Slot> {
    StoredValue::new(Slot {
        trigger: ArcTrigger::new(),
        value,
    })
}

/// The slot, for all types once.
#[inline(never)]
fn slot(slot: StoredValue<Slot>) -> Slot {
    slot.get_value()
}
