//! Functions named by stable strings: what a `functions` component (or a
//! job) exports for other components' jobs to name in their ops.
//!
//! A `rust:<N>` name (see `ops`) is only meaningful to the component that
//! made it, so a job in another language (or another Rust component) needs
//! names the component chooses: [`export_functions!`](crate::export_functions)
//! and the `functions { ... }` form of [`main!`](crate::main) expand to a
//! type implementing [`Names`], whose `lookup` maps each name to the factory
//! of its shape, monomorphised for the function. The helpers below take the
//! function by value only to infer its types: they return that factory.

use crate::ops::{Factory, stateless};
use crate::pipeline::factories;
use crate::{Data, PartitionIter};

/// A factory chosen by name; opaque outside the SDK.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct NamedFactory(pub(crate) Factory);

/// The named functions of a component (implemented by the macros).
#[doc(hidden)]
pub trait Names: 'static {
    /// Every name, in declaration order (for error messages).
    const NAMES: &'static [&'static str];
    /// The factory registered under `name`.
    fn lookup(name: &str) -> Option<NamedFactory>;
}

/// A component without named functions (`main!(run)`).
#[doc(hidden)]
pub struct Unnamed;

impl Names for Unnamed {
    const NAMES: &'static [&'static str] = &[];
    fn lookup(_: &str) -> Option<NamedFactory> {
        None
    }
}

/// Fails the build if a name is empty, reserved (`rust:` is the SDK's own
/// prefix) or given twice.
#[doc(hidden)]
pub const fn check_names(names: &[&str]) {
    let mut i = 0;
    while i < names.len() {
        let name = names[i].as_bytes();
        assert!(!name.is_empty(), "wisp: a function name must not be empty");
        assert!(
            !starts_with(name, b"rust:"),
            "wisp: function names starting with \"rust:\" are reserved for the SDK"
        );
        let mut j = i + 1;
        while j < names.len() {
            assert!(!equal(name, names[j].as_bytes()), "wisp: a function name is given twice");
            j += 1;
        }
        i += 1;
    }
}

const fn starts_with(s: &[u8], prefix: &[u8]) -> bool {
    if s.len() < prefix.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if s[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && starts_with(a, b)
}

// One helper per op shape, as in `Rdd`; the generic parameters that the
// function's type does not fix (a pair's key type) come first, to be given
// with a turbofish: `map_values::<String, _, _>(f)`.

/// `map`: `f(record) -> record`.
pub fn map<T: Data, U: Data>(f: impl Fn(T) -> U + Copy + 'static) -> NamedFactory {
    fn of<T: Data, U: Data, F: Fn(T) -> U + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::map::<T, U, F>
    }
    NamedFactory(of::<T, U, _>(f))
}

/// `map` with parameters: `f(record, &args) -> record`.
pub fn map_with<T: Data, A: Data, U: Data>(
    f: impl Fn(T, &A) -> U + Copy + 'static,
) -> NamedFactory {
    fn of<T: Data, A: Data, U: Data, F: Fn(T, &A) -> U + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::map_with::<T, U, A, F>
    }
    NamedFactory(of::<T, A, U, _>(f))
}

/// `filter`: `f(&record) -> bool`.
pub fn filter<T: Data>(f: impl Fn(&T) -> bool + Copy + 'static) -> NamedFactory {
    fn of<T: Data, F: Fn(&T) -> bool + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::filter::<T, F>
    }
    NamedFactory(of::<T, _>(f))
}

/// `filter` with parameters: `f(&record, &args) -> bool`.
pub fn filter_with<T: Data, A: Data>(f: impl Fn(&T, &A) -> bool + Copy + 'static) -> NamedFactory {
    fn of<T: Data, A: Data, F: Fn(&T, &A) -> bool + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::filter_with::<T, A, F>
    }
    NamedFactory(of::<T, A, _>(f))
}

/// `flat-map`: `f(record) -> iterable of records`.
pub fn flat_map<T: Data, I: IntoIterator<Item: Data> + 'static>(
    f: impl Fn(T) -> I + Copy + 'static,
) -> NamedFactory {
    fn of<T: Data, I: IntoIterator<Item: Data> + 'static, F: Fn(T) -> I + Copy + 'static>(
        _: F,
    ) -> Factory {
        stateless::<F>();
        factories::flat_map::<T, I, F>
    }
    NamedFactory(of::<T, I, _>(f))
}

/// `flat-map` with parameters: `f(record, &args) -> iterable of records`.
pub fn flat_map_with<T: Data, A: Data, I: IntoIterator<Item: Data> + 'static>(
    f: impl Fn(T, &A) -> I + Copy + 'static,
) -> NamedFactory {
    fn of<
        T: Data,
        A: Data,
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(T, &A) -> I + Copy + 'static,
    >(
        _: F,
    ) -> Factory {
        stateless::<F>();
        factories::flat_map_with::<T, A, I, F>
    }
    NamedFactory(of::<T, A, I, _>(f))
}

/// `map-partitions`: `f(records of the partition) -> iterable of records`.
pub fn map_partitions<T: Data, I: IntoIterator<Item: Data> + 'static>(
    f: impl Fn(PartitionIter<T>) -> I + Copy + 'static,
) -> NamedFactory {
    fn of<
        T: Data,
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(PartitionIter<T>) -> I + Copy + 'static,
    >(
        _: F,
    ) -> Factory {
        stateless::<F>();
        factories::map_partitions::<T, I, F>
    }
    NamedFactory(of::<T, I, _>(f))
}

/// `map-values`: `f(value) -> value` of `(K, V)` pairs.
pub fn map_values<K: Data, V: Data, W: Data>(f: impl Fn(V) -> W + Copy + 'static) -> NamedFactory {
    fn of<K: Data, V: Data, W: Data, F: Fn(V) -> W + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::map_values::<K, V, W, F>
    }
    NamedFactory(of::<K, V, W, _>(f))
}

/// `flat-map-values`: `f(value) -> iterable of values` of `(K, V)` pairs.
pub fn flat_map_values<K: Data, V: Data, I: IntoIterator<Item: Data> + 'static>(
    f: impl Fn(V) -> I + Copy + 'static,
) -> NamedFactory {
    fn of<
        K: Data,
        V: Data,
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(V) -> I + Copy + 'static,
    >(
        _: F,
    ) -> Factory {
        stateless::<F>();
        factories::flat_map_values::<K, V, I, F>
    }
    NamedFactory(of::<K, V, I, _>(f))
}

/// `key-by`: `f(&record) -> key`.
pub fn key_by<T: Data, K: Data>(f: impl Fn(&T) -> K + Copy + 'static) -> NamedFactory {
    fn of<T: Data, K: Data, F: Fn(&T) -> K + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::key_by::<T, K, F>
    }
    NamedFactory(of::<T, K, _>(f))
}

/// An aggregator for `combine-by-key` that merges values with `f(v, v) -> v`
/// (Spark's `reduceByKey`); runs as `combine` or `merge`.
pub fn reduce_by_key<K: Data, V: Data>(f: impl Fn(V, V) -> V + Copy + 'static) -> NamedFactory {
    fn of<K: Data, V: Data, F: Fn(V, V) -> V + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::reduce_by_key::<K, V, F>
    }
    NamedFactory(of::<K, V, _>(f))
}

/// An aggregator folding values into the zero value given as the op's args.
pub fn fold_by_key<K: Data, V: Data + Clone>(
    f: impl Fn(V, V) -> V + Copy + 'static,
) -> NamedFactory {
    fn of<K: Data, V: Data + Clone, F: Fn(V, V) -> V + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::fold_by_key::<K, V, F>
    }
    NamedFactory(of::<K, V, _>(f))
}

/// `fold`: `f(acc, record) -> acc` from the zero value given as the op's args.
pub fn fold<T: Data, U: Data>(f: impl Fn(U, T) -> U + Copy + 'static) -> NamedFactory {
    fn of<T: Data, U: Data, F: Fn(U, T) -> U + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::fold::<T, U, F>
    }
    NamedFactory(of::<T, U, _>(f))
}

/// `reduce`: `f(record, record) -> record`.
pub fn reduce<T: Data>(f: impl Fn(T, T) -> T + Copy + 'static) -> NamedFactory {
    fn of<T: Data, F: Fn(T, T) -> T + Copy + 'static>(_: F) -> Factory {
        stateless::<F>();
        factories::reduce::<T, F>
    }
    NamedFactory(of::<T, _>(f))
}
