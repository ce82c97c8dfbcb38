//! The record encoding of `wit/task.wit` as a serde data format.
//!
//! | Rust value | encoding |
//! | --- | --- |
//! | `String`, `&str` | the UTF-8 bytes |
//! | `char` | its UTF-8 bytes (as a one-character string) |
//! | bytes (`serialize_bytes`, e.g. `serde_bytes`) | the bytes |
//! | `i8`…`i64`, `isize` (and `i128` in the `i64` range) | 8 bytes big-endian, sign bit flipped |
//! | `u8`…`u64`, `usize` (and `u128` in the `u64` range) | 8 bytes big-endian |
//! | `f32` (widened), `f64` | 8 order-preserving bytes |
//! | `bool` | one byte, 0 or 1 |
//! | `()`, unit struct | nothing |
//! | `Option<T>` | `0`, or `1` then `T` |
//! | tuple, tuple struct, struct, array `[T; N]` (serde treats it as a tuple) | every element but the last as `u32le len ++ enc`, the last as `enc` |
//! | newtype struct | the inner value |
//! | `Vec<T>`, sets, any sequence | every element as `u32le len ++ enc` |
//! | maps | the sequence of `(key, value)` pairs |
//! | enum | `u32le` variant index, then the fields as a tuple |
//!
//! A key/value pair `(K, V)` is therefore `u32le len(K) ++ K ++ V`, the shape
//! the host reads keys from. Integers, floats and strings sort by their
//! bytes exactly as by their values.

mod de;
mod ser;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) use de::split_pair;

/// The sign bit of an encoded 64-bit integer or float.
const SIGN: u64 = 0x8000_0000_0000_0000;

/// Appends the record encoding of `value` to `out`.
///
/// # Errors
///
/// Fails for values the encoding cannot express: 128-bit integers outside
/// the 64-bit range, elements longer than 4 GiB, or a `Serialize` impl that
/// reports an error itself. On error, `out` may hold a partial encoding.
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    value.serialize(ser::Encoder::new(out))
}

/// Returns the record encoding of `value` as a new vector.
///
/// # Errors
///
/// As [`encode`].
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode(value, &mut out)?;
    Ok(out)
}

/// Decodes one record, which must be exactly the encoding of a `T`.
///
/// # Errors
///
/// Fails when `record` is not a complete encoding of a `T`, for example
/// `record of 3 bytes is not an i64`.
pub fn decode<T: DeserializeOwned>(record: &[u8]) -> Result<T, CodecError> {
    T::deserialize(de::Decoder::new(record))
}

/// Decodes one record with a serde `DeserializeSeed`: for values whose type
/// is only known at run time (a schema, a type named in a test vector).
///
/// # Errors
///
/// As [`decode`].
pub fn decode_seed<'de, S: serde::de::DeserializeSeed<'de>>(
    seed: S,
    record: &'de [u8],
) -> Result<S::Value, CodecError> {
    seed.deserialize(de::Decoder::new(record))
}

/// Encodes an `i64` (any signed integer) as in the record encoding.
#[must_use]
pub const fn encode_i64(value: i64) -> [u8; 8] {
    ((value as u64) ^ SIGN).to_be_bytes()
}

/// Decodes the encoding of an `i64` made by [`encode_i64`].
#[must_use]
pub const fn decode_i64(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ SIGN) as i64
}

/// Encodes an `f64` (any float) as in the record encoding: byte order is
/// numeric order for every non-NaN value, with `-0.0` just before `0.0`.
#[must_use]
pub const fn encode_f64(value: f64) -> [u8; 8] {
    let bits = value.to_bits();
    let ordered = if bits & SIGN == 0 { bits ^ SIGN } else { !bits };
    ordered.to_be_bytes()
}

/// Decodes the encoding of an `f64` made by [`encode_f64`].
#[must_use]
pub const fn decode_f64(bytes: [u8; 8]) -> f64 {
    let ordered = u64::from_be_bytes(bytes);
    let bits = if ordered & SIGN != 0 { ordered ^ SIGN } else { !ordered };
    f64::from_bits(bits)
}

/// Why a value could not be encoded or a record could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError {
    message: String,
}

impl CodecError {
    /// An error with the given message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// What went wrong, e.g. `record of 3 bytes is not an i64`.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodecError {}

impl serde::ser::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(msg.to_string())
    }
}

impl serde::de::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(msg.to_string())
    }
}
