//! The record-encoding `Deserializer`: each decoder owns exactly the bytes of
//! one value, so lengths come from prefixes or from "the rest".

use serde::de::value::U32Deserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::{CodecError, decode_f64, decode_i64};

/// Reads one value that spans all of `input`.
pub(super) struct Decoder<'de> {
    input: &'de [u8],
    /// Whether this is an element of a larger record (changes the wording of errors).
    nested: bool,
}

impl<'de> Decoder<'de> {
    pub(super) fn new(input: &'de [u8]) -> Self {
        Self { input, nested: false }
    }

    fn nested(input: &'de [u8]) -> Self {
        Self { input, nested: true }
    }

    fn what(&self) -> &'static str {
        if self.nested { "field" } else { "record" }
    }

    /// `record of N bytes is not <expected>`.
    fn not_a(&self, expected: &str) -> CodecError {
        CodecError::new(format!("{} of {} bytes is not {expected}", self.what(), self.input.len()))
    }

    fn eight(&self, expected: &str) -> Result<[u8; 8], CodecError> {
        <[u8; 8]>::try_from(self.input).map_err(|_| self.not_a(expected))
    }

    fn read_i64(&self, expected: &str) -> Result<i64, CodecError> {
        self.eight(expected).map(decode_i64)
    }

    fn read_u64(&self, expected: &str) -> Result<u64, CodecError> {
        self.eight(expected).map(u64::from_be_bytes)
    }

    fn read_str(&self) -> Result<&'de str, CodecError> {
        std::str::from_utf8(self.input).map_err(|e| {
            CodecError::new(format!(
                "{} of {} bytes is not a UTF-8 string: {e}",
                self.what(),
                self.input.len()
            ))
        })
    }
}

/// Splits `u32le len ++ head ++ rest` into `(head, rest)`.
fn split_prefixed<'de>(input: &'de [u8], what: &str) -> Result<(&'de [u8], &'de [u8]), CodecError> {
    let Some((prefix, rest)) = input.split_first_chunk::<4>() else {
        return Err(CodecError::new(format!(
            "{what}: {} bytes left, too few for a length prefix",
            input.len()
        )));
    };
    let len = u32::from_le_bytes(*prefix) as usize;
    if len > rest.len() {
        return Err(CodecError::new(format!(
            "{what}: length prefix {len} exceeds the {} bytes that follow",
            rest.len()
        )));
    }
    Ok(rest.split_at(len))
}

/// Splits a key/value pair record `u32le len(k) ++ k ++ v` into `(k, v)`.
pub(crate) fn split_pair(record: &[u8]) -> Result<(&[u8], &[u8]), CodecError> {
    split_prefixed(record, "record is not a key/value pair")
}

macro_rules! signed {
    ($($method:ident $visit:ident $ty:ident,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
            let v = self.read_i64(concat!("an ", stringify!($ty)))?;
            let v = $ty::try_from(v).map_err(|_| CodecError::new(format!("value {v} is out of range for {}", stringify!($ty))))?;
            visitor.$visit(v)
        }
    )*};
}

macro_rules! unsigned {
    ($($method:ident $visit:ident $ty:ident,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
            let v = self.read_u64(concat!("a ", stringify!($ty)))?;
            let v = $ty::try_from(v).map_err(|_| CodecError::new(format!("value {v} is out of range for {}", stringify!($ty))))?;
            visitor.$visit(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Decoder<'de> {
    type Error = CodecError;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, CodecError> {
        Err(CodecError::new(
            "the record encoding is not self-describing: types that need deserialize_any (untagged or internally tagged enums, flatten) are not supported",
        ))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.input {
            [0] => visitor.visit_bool(false),
            [1] => visitor.visit_bool(true),
            [b] => Err(CodecError::new(format!("byte {b} is not a bool (0 or 1)"))),
            _ => Err(self.not_a("a bool")),
        }
    }

    signed! {
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
        deserialize_i128 visit_i128 i128,
    }

    unsigned! {
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
        deserialize_u128 visit_u128 u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        let v = decode_f64(self.eight("an f32")?);
        #[allow(
            clippy::cast_possible_truncation,
            reason = "an f32 was encoded as the f64 of its value: the cast is exact"
        )]
        visitor.visit_f32(v as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_f64(decode_f64(self.eight("an f64")?))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        let s = self.read_str()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(CodecError::new(format!("string {s:?} is not a single char"))),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_borrowed_str(self.read_str()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        // One allocation: copy the bytes, validate them in place.
        match String::from_utf8(self.input.to_vec()) {
            Ok(s) => visitor.visit_string(s),
            Err(e) => Err(CodecError::new(format!(
                "{} of {} bytes is not a UTF-8 string: {}",
                self.what(),
                self.input.len(),
                e.utf8_error()
            ))),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_borrowed_bytes(self.input)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_byte_buf(self.input.to_vec())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.input.split_first() {
            Some((0, [])) => visitor.visit_none(),
            Some((0, rest)) => Err(CodecError::new(format!(
                "option none is followed by {} stray bytes",
                rest.len()
            ))),
            Some((1, rest)) => visitor.visit_some(Decoder { input: rest, nested: self.nested }),
            Some((tag, _)) => {
                Err(CodecError::new(format!("byte {tag} is not an option tag (0 or 1)")))
            }
            None => Err(self.not_a("an option")),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        if self.input.is_empty() {
            visitor.visit_unit()
        } else {
            Err(self.not_a("a unit (0 bytes)"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_seq(Elements { input: self.input })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        if len == 0 && !self.input.is_empty() {
            return Err(self.not_a("an empty tuple (0 bytes)"));
        }
        let mut fields = Fields { input: self.input, remaining: len };
        let value = visitor.visit_seq(&mut fields)?;
        if fields.remaining == 0 {
            Ok(value)
        } else {
            Err(CodecError::new(format!(
                "tuple of {len} elements: {} were not read",
                fields.remaining
            )))
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_map(Entries { input: self.input, value: &[] })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        self.deserialize_tuple(fields.len(), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        let Some((index, rest)) = self.input.split_first_chunk::<4>() else {
            return Err(self.not_a(&format!("an enum {name} (too short for a variant index)")));
        };
        visitor.visit_enum(Variant { index: u32::from_le_bytes(*index), input: rest })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, CodecError> {
        Err(CodecError::new("the record encoding has no identifiers (fields are positional)"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_unit()
    }
}

/// The elements of a sequence: each `u32le len ++ enc`, until the input ends.
struct Elements<'de> {
    input: &'de [u8],
}

impl<'de> de::SeqAccess<'de> for Elements<'de> {
    type Error = CodecError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, CodecError> {
        if self.input.is_empty() {
            return Ok(None);
        }
        let (element, rest) = split_prefixed(self.input, "list element")?;
        self.input = rest;
        seed.deserialize(Decoder::nested(element)).map(Some)
    }
}

/// The fields of a tuple: all but the last length-prefixed.
struct Fields<'de> {
    input: &'de [u8],
    remaining: usize,
}

impl<'de> de::SeqAccess<'de> for &mut Fields<'de> {
    type Error = CodecError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, CodecError> {
        let field = match self.remaining {
            0 => return Ok(None),
            1 => std::mem::take(&mut self.input),
            _ => {
                let (field, rest) = split_prefixed(self.input, "tuple field")?;
                self.input = rest;
                field
            }
        };
        self.remaining -= 1;
        seed.deserialize(Decoder::nested(field)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.remaining)
    }
}

/// The entries of a map: each a length-prefixed `(key, value)` pair.
struct Entries<'de> {
    input: &'de [u8],
    /// The value of the entry whose key was just read.
    value: &'de [u8],
}

impl<'de> de::MapAccess<'de> for Entries<'de> {
    type Error = CodecError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, CodecError> {
        if self.input.is_empty() {
            return Ok(None);
        }
        let (entry, rest) = split_prefixed(self.input, "map entry")?;
        self.input = rest;
        let (key, value) = split_prefixed(entry, "map entry is not a key/value pair")?;
        self.value = value;
        seed.deserialize(Decoder::nested(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, CodecError> {
        seed.deserialize(Decoder::nested(std::mem::take(&mut self.value)))
    }
}

/// An enum value: its variant index, then the variant's fields.
struct Variant<'de> {
    index: u32,
    input: &'de [u8],
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = CodecError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), CodecError> {
        let index: U32Deserializer<CodecError> = self.index.into_deserializer();
        let value = seed.deserialize(index)?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'de> {
    type Error = CodecError;

    fn unit_variant(self) -> Result<(), CodecError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(CodecError::new(format!(
                "unit variant {} is followed by {} stray bytes",
                self.index,
                self.input.len()
            )))
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, CodecError> {
        seed.deserialize(Decoder::nested(self.input))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        de::Deserializer::deserialize_tuple(Decoder::nested(self.input), len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        de::Deserializer::deserialize_tuple(Decoder::nested(self.input), fields.len(), visitor)
    }
}
