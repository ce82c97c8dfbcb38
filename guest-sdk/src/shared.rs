//! Shared variables (Spark's broadcast variables and accumulators): made on the driver by
//! [`Context`](crate::Context), passed to functions as arguments (`map_with`...), used inside tasks.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bindings::wisp::task::driver;
use crate::error::{Error, Result};
use crate::{Data, codec};
use wisp_guest_functions::wisp::task::shared;

/// A read-only value shipped to each executor once (Spark's `Broadcast`).
///
/// Made by [`Context::broadcast`](crate::Context::broadcast); pass it to a
/// function as its argument (`rdd.map_with(f, bc)`) and read it there with
/// [`value`](Broadcast::value). Serializes as its handle only.
pub struct Broadcast<T> {
    id: u32,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Broadcast<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Broadcast<T> {}

impl<T> std::fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Broadcast({})", self.id)
    }
}

impl<T> Serialize for Broadcast<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.id.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Broadcast<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Broadcast { id: u32::deserialize(d)?, _value: PhantomData })
    }
}

thread_local! {
    /// Broadcast values decoded in this instance, by handle (each decoded once, kept for the instance's life).
    static DECODED: RefCell<HashMap<u32, &'static (dyn Any + 'static)>> = RefCell::new(HashMap::new());
}

impl<T: Data> Broadcast<T> {
    pub(crate) fn register(value: &T) -> Result<Broadcast<T>> {
        let bytes = codec::to_vec(value)?;
        let id = driver::broadcast(&bytes).map_err(Error::msg)?;
        Ok(Broadcast { id, _value: PhantomData })
    }

    /// The value, decoded on first use in this guest instance and kept.
    ///
    /// # Errors
    ///
    /// When the broadcast was destroyed before the job started, or its bytes
    /// are not a `T`.
    pub fn try_value(&self) -> Result<&'static T> {
        if let Some(v) = DECODED.with(|d| d.borrow().get(&self.id).copied()) {
            return v
                .downcast_ref::<T>()
                .ok_or_else(|| Error::msg(format!("broadcast {} read as another type", self.id)));
        }
        let bytes = shared::broadcast_value(self.id).map_err(Error::msg)?;
        let value: T = codec::decode(&bytes)?;
        let leaked: &'static T = Box::leak(Box::new(value));
        DECODED.with(|d| d.borrow_mut().insert(self.id, leaked));
        Ok(leaked)
    }

    /// The value (see [`try_value`](Broadcast::try_value)).
    ///
    /// # Panics
    ///
    /// When the broadcast was destroyed or cannot be decoded: the task fails with that message.
    pub fn value(&self) -> &'static T {
        self.try_value().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Forgets the broadcast (driver only): jobs started later cannot read it.
    ///
    /// # Errors
    ///
    /// When it was already destroyed.
    pub fn destroy(&self) -> Result<()> {
        driver::destroy_broadcast(self.id).map_err(Error::msg)
    }

    /// Its handle.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// What tasks add to and the driver reads after an action (Spark's `AccumulatorV2`).
///
/// `T` is what is added, `R` what [`value`](Accumulator::value) returns. Made by
/// [`Context::long_accumulator`](crate::Context::long_accumulator) and its siblings;
/// pass it to a function as its argument. Updates count once per partition a
/// job computes, however often tasks are retried (`docs/shared-variables.md`).
pub struct Accumulator<T, R> {
    id: u32,
    _types: PhantomData<fn(T) -> R>,
}

impl<T, R> Clone for Accumulator<T, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, R> Copy for Accumulator<T, R> {}

impl<T, R> std::fmt::Debug for Accumulator<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Accumulator({})", self.id)
    }
}

impl<T, R> Serialize for Accumulator<T, R> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.id.serialize(s)
    }
}

impl<'de, T, R> Deserialize<'de> for Accumulator<T, R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Accumulator { id: u32::deserialize(d)?, _types: PhantomData })
    }
}

impl<T: Serialize, R: DeserializeOwned> Accumulator<T, R> {
    pub(crate) fn create(kind: driver::AccumulatorKind) -> Result<Accumulator<T, R>> {
        let id = driver::accumulator(kind).map_err(Error::msg)?;
        Ok(Accumulator { id, _types: PhantomData })
    }

    /// Adds a value (inside a task).
    ///
    /// # Errors
    ///
    /// From the job's main (the driver reads accumulators, it does not add).
    pub fn try_add(&self, value: T) -> Result<()> {
        let bytes = codec::to_vec(&value)?;
        shared::accumulator_add(self.id, &bytes).map_err(Error::msg)
    }

    /// Adds a value (see [`try_add`](Accumulator::try_add)).
    ///
    /// # Panics
    ///
    /// When the add is refused: the task (or the main) fails with that message.
    pub fn add(&self, value: T) {
        self.try_add(value).unwrap_or_else(|e| panic!("{e}"));
    }

    /// The value merged from the jobs that ended so far (on the driver).
    ///
    /// # Errors
    ///
    /// Inside a task.
    pub fn value(&self) -> Result<R> {
        let bytes = driver::accumulator_value(self.id).map_err(Error::msg)?;
        Ok(codec::decode(&bytes)?)
    }

    /// Its handle.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.id
    }
}
