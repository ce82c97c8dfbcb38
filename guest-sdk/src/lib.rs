//! The Rust SDK for Wisp jobs: a Spark-style typed RDD API for a job's main,
//! and the runtime that runs its transformations on executors.
//!
//! A job is a `cdylib` built for `wasm32-wasip2`:
//!
//! ```no_run
//! use wisp_guest::prelude::*;
//!
//! fn words(line: String) -> Vec<String> {
//!     line.split_ascii_whitespace().map(str::to_owned).collect()
//! }
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! fn run(ctx: &Context, args: Vec<String>) -> Result<()> {
//!     let [input, output] = args_array(args)?;
//!     ctx.text_file(&input, 8)
//!         .flat_map(words)
//!         .map(|w| (w, 1i64))
//!         .reduce_by_key(add)
//!         .map(|(w, c)| format!("{w}\t{c}"))
//!         .save_as_text_file(&output)?;
//!     Ok(())
//! }
//!
//! wisp_guest::main!(run);
//! ```
//!
//! # Functions
//!
//! Functions given to transformations are `fn` items or closures that
//! capture nothing (a compile-time check): an executor runs them in a fresh
//! instance of the component, where only their code exists. Parameters go
//! through the `*_with` variants ([`Rdd::map_with`], [`Rdd::filter_with`],
//! [`Rdd::flat_map_with`], [`Rdd::map_values_with`]), which serialize them
//! into the op.
//!
//! # Records
//!
//! Records are any `T: Serialize + DeserializeOwned + 'static` ([`Data`]),
//! encoded with the record encoding of `wit/task.wit` ([`codec`]). Pairs
//! `(K, V)` are what the host partitions, groups, sorts and joins by key.
//!
//! # Panics
//!
//! A panic in a user function fails the task; its message reaches the host
//! through the guest's stderr.

#![warn(missing_docs)]

extern crate self as wisp_guest;

#[cfg(all(feature = "fast-alloc", target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: alloc::FastAlloc = alloc::FastAlloc::new();

#[cfg(any(
    test,
    all(feature = "fast-alloc", target_arch = "wasm32", not(target_feature = "atomics"))
))]
mod alloc;
#[doc(hidden)]
pub mod bindings;
pub mod builtins;
pub mod codec;
mod context;
mod error;
#[doc(hidden)]
pub mod named;
mod ops;
mod pipeline;
mod rdd;
mod shared;

pub use context::{Context, args_array, parse_arg};
pub use error::{Error, Result};
pub use pipeline::stages::PartitionIter;
pub use rdd::{Rdd, StatCounter, StorageLevel};
pub use serde_bytes::ByteBuf;
pub use shared::{Accumulator, Broadcast};

/// What a record type must be: serializable, deserializable and owned.
pub trait Data: serde::Serialize + serde::de::DeserializeOwned + 'static {}

impl<T: serde::Serialize + serde::de::DeserializeOwned + 'static> Data for T {}

/// Everything a job usually needs.
pub mod prelude {
    pub use crate::{
        Accumulator, Broadcast, Context, Data, Error, PartitionIter, Rdd, Result, StorageLevel,
        args_array, parse_arg,
    };
}

/// Direct access to the WIT `driver` interface, for what the typed API does
/// not cover (for example naming a function of another component). Combine
/// with [`Rdd::raw_id`] and [`Rdd::from_raw_id`].
///
/// ```no_run
/// use wisp_guest::prelude::*;
/// use wisp_guest::raw::{Op, OpKind, driver};
///
/// /// The words of `lines`, split by the `tokenize` function of the functions component at `path`.
/// fn words(lines: &Rdd<String>, path: &str) -> Result<Rdd<String>> {
///     let lib = driver::load_functions(path).map_err(Error::msg)?;
///     let op = Op { kind: OpKind::FlatMap, name: "tokenize".into(), args: Vec::new() };
///     let id = driver::transform(lines.raw_id()?, &op, lib).map_err(Error::msg)?;
///     Ok(Rdd::from_raw_id(id))
/// }
/// ```
pub mod raw {
    pub use crate::bindings::types::{Batch, Op, OpKind};
    pub use crate::bindings::wisp::task::driver;
}

/// Items the macros expand to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::Guest;
    pub use crate::bindings::exports::wisp::task::pipeline::Guest as PipelineGuest;
    pub use crate::context::run_main;
    pub use crate::named::{NamedFactory, Names, Unnamed, check_names};
    pub use crate::pipeline::Task;
    pub use wisp_guest_functions as functions_bindings;
    pub use wisp_guest_functions::exports::wisp::task::pipeline::Guest as FunctionsPipelineGuest;
    pub use wit_bindgen;
}

/// Exports the job: `run` as the component's `run` (its `Err` becomes the
/// job's error message) and the SDK's `pipeline` implementation, which runs
/// the transformations `run` names.
///
/// `run` is a `fn(&Context, Vec<String>) -> Result<()>`.
///
/// ```no_run
/// fn run(ctx: &wisp_guest::Context, args: Vec<String>) -> wisp_guest::Result<()> {
///     println!("{} arguments, {} default partitions", args.len(), ctx.default_parallelism());
///     Ok(())
/// }
/// wisp_guest::main!(run);
/// ```
///
/// A job can also give some of its functions stable names, for jobs in other
/// languages that load it with `load-functions`, in the syntax of
/// [`export_functions!`]:
///
/// ```no_run
/// # fn run(_: &wisp_guest::Context, _: Vec<String>) -> wisp_guest::Result<()> { Ok(()) }
/// fn shout(s: String) -> String {
///     s.to_uppercase()
/// }
/// wisp_guest::main!(run, functions { "shout" => map(shout) });
/// ```
#[macro_export]
macro_rules! main {
    ($run:expr $(,)?) => {
        $crate::__wisp_job!($run, $crate::__private::Unnamed);
    };
    ($run:expr, functions { $($functions:tt)* } $(,)?) => {
        $crate::__wisp_names!(__WispNames { $($functions)* });
        $crate::__wisp_job!($run, __WispNames);
    };
}

/// Exports a `functions` component (the WIT `functions` world: `pipeline`
/// only, no main): a library of transformations that jobs in any language
/// load with `load-functions` and name by the strings given here.
///
/// Each entry is `"name" => shape(function)`, where the shape is one of the
/// op kinds: `map`, `map_with`, `filter`, `filter_with`, `flat_map`,
/// `flat_map_with`, `map_partitions`, `map_values`, `flat_map_values`,
/// `key_by`, `reduce_by_key`, `fold_by_key`, `fold`, `reduce`. Shapes over
/// pairs take the key type (and the others, as `_`) by turbofish:
/// `map_values::<String, _, _>(f)`, `reduce_by_key::<String, _>(add)`.
/// Records are encoded as for the typed API (`wit/task.wit`). Names must be
/// distinct, non-empty and not start with `rust:` (checked at compile time).
///
/// ```no_run
/// fn tokenize(line: String) -> Vec<String> {
///     line.split_ascii_whitespace().map(str::to_owned).collect()
/// }
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
/// wisp_guest::export_functions! {
///     "tokenize" => flat_map(tokenize),
///     "sum" => reduce_by_key::<String, _>(add),
/// }
/// ```
#[macro_export]
macro_rules! export_functions {
    ($($functions:tt)*) => {
        $crate::__wisp_names!(__WispNames { $($functions)* });

        #[doc(hidden)]
        struct __WispFunctions;

        impl $crate::__private::FunctionsPipelineGuest for __WispFunctions {
            type Task = $crate::__private::Task<__WispNames>;
        }

        $crate::__private::functions_bindings::__export_wisp_functions!(
            __WispFunctions with_types_in $crate::__private::functions_bindings
        );
    };
}

/// The job-world exports of [`main!`], with the stable names of `$names`.
#[doc(hidden)]
#[macro_export]
macro_rules! __wisp_job {
    ($run:expr, $names:ty) => {
        #[doc(hidden)]
        struct __WispJob;

        impl $crate::__private::Guest for __WispJob {
            fn run(args: ::std::vec::Vec<::std::string::String>) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__private::run_main(args, $run)
            }
        }

        impl $crate::__private::PipelineGuest for __WispJob {
            type Task = $crate::__private::Task<$names>;
        }

        $crate::__private::bindings::__export_wisp_job!(__WispJob with_types_in $crate::__private::bindings);
    };
}

/// The type `$ty` implementing `Names` for the given `"name" => shape(f)` entries.
#[doc(hidden)]
#[macro_export]
macro_rules! __wisp_names {
    ($ty:ident { $($name:literal => $shape:ident $(::<$($arg:ty),+ $(,)?>)? ($f:expr)),* $(,)? }) => {
        #[doc(hidden)]
        struct $ty;

        const _: () = $crate::__private::check_names(&[$($name),*]);

        impl $crate::__private::Names for $ty {
            const NAMES: &'static [&'static str] = &[$($name),*];

            fn lookup(name: &str) -> ::core::option::Option<$crate::__private::NamedFactory> {
                match name {
                    $($name => ::core::option::Option::Some($crate::named::$shape $(::<$($arg),+>)? ($f)),)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    };
}
