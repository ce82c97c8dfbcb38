//! Op names: how the job's main names a function so that a fresh instance
//! of the same component, on an executor, finds it without running main.
//!
//! Every typed operation has a factory, a generic function monomorphised for
//! the user's (zero-sized) function type. The op's name is `rust:<N>` where
//! `N` is the factory's address: on wasm32 a function pointer is its index in
//! the component's indirect function table, which the component's element
//! segments fix, so it is the same in every instance of the same component.
//! The executor parses `N` back into the factory and calls it.

use crate::bindings::types::{Op, OpKind};
use crate::named::NamedFactory;
use crate::pipeline::OpSpec;
use crate::pipeline::factories::Built;

/// Builds the stage of one op.
pub(crate) type Factory = fn(&OpSpec<'_>) -> Built;

/// The prefix of every op name made by this SDK.
const PREFIX: &str = "rust:";

/// Fails the build unless `F` captures nothing: the function runs in other
/// instances of the component, where only its type exists.
pub(crate) const fn stateless<F>() {
    const {
        assert!(
            size_of::<F>() == 0,
            "wisp: a function given to an RDD operation must not capture variables (it runs on executors, where only its \
             code exists); use a fn item or a non-capturing closure, and pass parameters with the `*_with` variant \
             (map_with, filter_with, flat_map_with, map_values_with)"
        );
    }
}

/// The op of the given kind whose function is built by `factory`.
pub(crate) fn op(kind: OpKind, factory: Factory, args: Vec<u8>) -> Op {
    Op { kind, name: name_of(factory), args }
}

/// The name of the function built by `factory`.
pub(crate) fn name_of(factory: Factory) -> String {
    format!("{PREFIX}{}", factory as usize)
}

/// The factory an op name refers to: a `rust:<N>` name made by `name_of`,
/// else one of the component's stable names (`named`), looked up by `lookup`
/// among `names`.
pub(crate) fn resolve(name: &str, lookup: Lookup, names: &[&str]) -> Result<Factory, String> {
    let unknown = || {
        let mut message =
            format!("op name {name:?} does not name a function exported by this component");
        if !names.is_empty() {
            message.push_str(&format!(" (its named functions: {})", names.join(", ")));
        }
        message
    };
    let Some(digits) = name.strip_prefix(PREFIX) else {
        return lookup(name).map(|named| named.0).ok_or_else(unknown);
    };
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unknown());
    }
    let address: usize = digits.parse().map_err(|_| unknown())?;
    // SAFETY: `address` is non-zero and pointer-sized. Names are made by
    // `name_of` in the job's main from a `Factory` of this same component,
    // whose function table is identical in every instance; a forged number
    // that is not a function of this type traps on the indirect call
    // (wasm checks the signature), it cannot run arbitrary code.
    Ok(unsafe { std::mem::transmute::<usize, Factory>(address) })
}

/// How a chain finds the component's stable names (`Names::lookup`).
pub(crate) type Lookup = fn(&str) -> Option<NamedFactory>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_names_are_rejected() {
        for name in [
            "",
            "rust:",
            "rust:0",
            "rust:012",
            "rust:+5",
            "rust:x1",
            "map",
            "python:5",
            "rust:99999999999999999999999",
        ] {
            let error =
                resolve(name, |_| None, &[]).err().unwrap_or_else(|| panic!("{name:?} resolved"));
            assert!(
                error.contains("does not name a function exported by this component"),
                "{error}"
            );
        }
    }
}
