//! The host's built-in functions (`wisp:builtins`) as typed transformations: ops the host runs natively, without entering a guest.
//!
//! Consecutive built-ins run together in the host; they fuse with each
//! other, not with this component's own functions (a chain crosses into the
//! guest once per batch where the component changes).
//!
//! ```no_run
//! use wisp_guest::prelude::*;
//! use wisp_guest::builtins as b;
//!
//! fn counts(ctx: &Context, path: &str) -> Rdd<(String, i64)> {
//!     b::sum_by_key(&b::pair_with_one(&b::split_whitespace(&ctx.text_file(path, 8))), 0)
//! }
//! ```
//!
//! A record a built-in cannot take fails the task with one line naming the
//! built-in, the record and the partition. Reference: `docs/languages/builtins.md`.

use crate::bindings::types::{Op, OpKind};
use crate::bindings::wisp::task::driver;
use crate::rdd::{Rdd, default_partitions};

/// The `load-functions` path of the built-in library.
pub const PATH: &str = "wisp:builtins";

/// Applies the built-in `name` as an op of `kind` with parameter `args` (its text): the general form of every function here.
pub fn apply<T, U>(rdd: &Rdd<T>, kind: OpKind, name: &str, args: &str) -> Rdd<U> {
    let op = Op { kind, name: name.into(), args: args.as_bytes().to_vec() };
    rdd.then(|id| driver::transform(id, &op, driver::load_functions(PATH)?))
}

/// Aggregates the values of each key with the built-in aggregator `name` into `partitions` (0: the default).
pub fn aggregate_by_key<K, V, C>(rdd: &Rdd<(K, V)>, name: &str, partitions: u32) -> Rdd<(K, C)> {
    let op = Op { kind: OpKind::Combine, name: name.into(), args: Vec::new() };
    let parts = if partitions == 0 { default_partitions() } else { partitions };
    rdd.then(|id| driver::combine_by_key(id, &op, driver::load_functions(PATH)?, parts, true))
}

/// The maximal runs of characters other than ASCII whitespace of every line.
pub fn split_whitespace(rdd: &Rdd<String>) -> Rdd<String> {
    apply(rdd, OpKind::FlatMap, "split_whitespace", "")
}

/// Every piece between `delimiter`s of every string (empty pieces included).
pub fn split(rdd: &Rdd<String>, delimiter: &str) -> Rdd<String> {
    apply(rdd, OpKind::FlatMap, "split", delimiter)
}

/// Every string in lowercase.
pub fn lower(rdd: &Rdd<String>) -> Rdd<String> {
    apply(rdd, OpKind::Map, "lower", "")
}

/// Every string in uppercase.
pub fn upper(rdd: &Rdd<String>) -> Rdd<String> {
    apply(rdd, OpKind::Map, "upper", "")
}

/// Every string without leading and trailing whitespace.
pub fn trim(rdd: &Rdd<String>) -> Rdd<String> {
    apply(rdd, OpKind::Map, "trim", "")
}

/// Every string parsed as an `i64` (surrounding whitespace allowed).
pub fn parse_int(rdd: &Rdd<String>) -> Rdd<i64> {
    apply(rdd, OpKind::Map, "parse_int", "")
}

/// Every string parsed as an `f64`.
pub fn parse_float(rdd: &Rdd<String>) -> Rdd<f64> {
    apply(rdd, OpKind::Map, "parse_float", "")
}

/// Field `index` (0-based) of every CSV line (RFC 4180 quoting).
pub fn csv_field(rdd: &Rdd<String>, index: usize) -> Rdd<String> {
    apply(rdd, OpKind::Map, "csv_field", &index.to_string())
}

/// Field `index` (0-based) of every tab-separated line.
pub fn tsv_field(rdd: &Rdd<String>, index: usize) -> Rdd<String> {
    apply(rdd, OpKind::Map, "tsv_field", &index.to_string())
}

/// The top-level field `name` of every JSON object line: a string's text, else the value's JSON text.
pub fn json_field(rdd: &Rdd<String>, name: &str) -> Rdd<String> {
    apply(rdd, OpKind::Map, "json_field", name)
}

/// Every record paired with 1.
pub fn pair_with_one<T>(rdd: &Rdd<T>) -> Rdd<(T, i64)> {
    apply(rdd, OpKind::Map, "pair_with_one", "")
}

/// The sum of the values of each key.
pub fn sum_by_key<K>(rdd: &Rdd<(K, i64)>, partitions: u32) -> Rdd<(K, i64)> {
    aggregate_by_key(rdd, "sum", partitions)
}

/// The sum of the float values of each key.
pub fn sum_float_by_key<K>(rdd: &Rdd<(K, f64)>, partitions: u32) -> Rdd<(K, f64)> {
    aggregate_by_key(rdd, "sum_float", partitions)
}

/// The number of values of each key.
pub fn count_per_key<K, V>(rdd: &Rdd<(K, V)>, partitions: u32) -> Rdd<(K, i64)> {
    aggregate_by_key(rdd, "count", partitions)
}

/// The least value of each key (by encoded bytes: numeric order for numbers, code point order for strings).
pub fn min_by_key<K, V>(rdd: &Rdd<(K, V)>, partitions: u32) -> Rdd<(K, V)> {
    aggregate_by_key(rdd, "min", partitions)
}

/// The greatest value of each key (by encoded bytes).
pub fn max_by_key<K, V>(rdd: &Rdd<(K, V)>, partitions: u32) -> Rdd<(K, V)> {
    aggregate_by_key(rdd, "max", partitions)
}

/// The mean of the float values of each key.
pub fn mean_by_key<K>(rdd: &Rdd<(K, f64)>, partitions: u32) -> Rdd<(K, f64)> {
    let sums: Rdd<(K, (f64, i64))> = aggregate_by_key(rdd, "mean", partitions);
    apply(&sums, OpKind::MapValues, "mean_value", "")
}

/// A record type `format_pair` can render as text, by its name in the built-in's parameter.
pub trait TextField {
    /// `str`, `s64`, `u64` or `f64`.
    const TEXT_TYPE: &'static str;
}

impl TextField for String {
    const TEXT_TYPE: &'static str = "str";
}

impl TextField for i64 {
    const TEXT_TYPE: &'static str = "s64";
}

impl TextField for u64 {
    const TEXT_TYPE: &'static str = "u64";
}

impl TextField for f64 {
    const TEXT_TYPE: &'static str = "f64";
}

/// Every pair as the line `{key}{sep}{value}` (a word count's `word\tcount`; an `f64` in its shortest form).
pub fn format_pair<K: TextField, V: TextField>(rdd: &Rdd<(K, V)>, sep: &str) -> Rdd<String> {
    let args = format!("{}:{}:{sep}", K::TEXT_TYPE, V::TEXT_TYPE);
    apply(rdd, OpKind::Map, "format_pair", &args)
}
