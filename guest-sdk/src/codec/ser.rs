//! The record-encoding `Serializer`: writes straight into the caller's buffer,
//! reserving each `u32le` length prefix and back-patching it.

use serde::Serialize;
use serde::ser;

use super::{CodecError, encode_f64, encode_i64};

/// Writes one value's encoding at the end of a buffer.
pub(super) struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Encoder<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }
}

/// Reserves a 4-byte length prefix; returns its position for [`patch`].
fn reserve(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

/// Writes the length of what follows the prefix at `at` into the prefix.
fn patch(out: &mut [u8], at: usize) -> Result<(), CodecError> {
    let len = out.len() - at - 4;
    let len = u32::try_from(len)
        .map_err(|_| CodecError::new(format!("element of {len} bytes is longer than 4 GiB")))?;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Writes `value` as `u32le len ++ enc`.
fn prefixed<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), CodecError> {
    let at = reserve(out);
    value.serialize(Encoder::new(out))?;
    patch(out, at)
}

fn variant_index(out: &mut Vec<u8>, index: u32) {
    out.extend_from_slice(&index.to_le_bytes());
}

impl<'a> ser::Serializer for Encoder<'a> {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Tuple<'a>;
    type SerializeTupleStruct = Tuple<'a>;
    type SerializeTupleVariant = Tuple<'a>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Tuple<'a>;
    type SerializeStructVariant = Tuple<'a>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), CodecError> {
        self.out.push(u8::from(v));
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), CodecError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), CodecError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), CodecError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), CodecError> {
        self.out.extend_from_slice(&encode_i64(v));
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), CodecError> {
        let v = i64::try_from(v).map_err(|_| {
            CodecError::new(format!("i128 value {v} does not fit the 64-bit record encoding"))
        })?;
        self.serialize_i64(v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), CodecError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), CodecError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), CodecError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), CodecError> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), CodecError> {
        let v = u64::try_from(v).map_err(|_| {
            CodecError::new(format!("u128 value {v} does not fit the 64-bit record encoding"))
        })?;
        self.serialize_u64(v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), CodecError> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), CodecError> {
        self.out.extend_from_slice(&encode_f64(v));
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), CodecError> {
        let mut buf = [0; 4];
        self.out.extend_from_slice(v.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), CodecError> {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), CodecError> {
        self.out.extend_from_slice(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), CodecError> {
        self.out.push(0);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CodecError> {
        self.out.push(1);
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), CodecError> {
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CodecError> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
    ) -> Result<(), CodecError> {
        variant_index(self.out, index);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), CodecError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<(), CodecError> {
        variant_index(self.out, index);
        value.serialize(self)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>, CodecError> {
        Ok(Seq { out: self.out })
    }

    fn serialize_tuple(self, len: usize) -> Result<Tuple<'a>, CodecError> {
        Ok(Tuple { out: self.out, remaining: len })
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Tuple<'a>, CodecError> {
        self.serialize_tuple(len)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        len: usize,
    ) -> Result<Tuple<'a>, CodecError> {
        variant_index(self.out, index);
        self.serialize_tuple(len)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'a>, CodecError> {
        Ok(Map { out: self.out, entry: 0 })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Tuple<'a>, CodecError> {
        self.serialize_tuple(len)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        len: usize,
    ) -> Result<Tuple<'a>, CodecError> {
        variant_index(self.out, index);
        self.serialize_tuple(len)
    }
}

/// A sequence: every element length-prefixed.
pub(super) struct Seq<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = CodecError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        prefixed(self.out, value)
    }

    fn end(self) -> Result<(), CodecError> {
        Ok(())
    }
}

/// A tuple, struct or variant's fields: every element but the last
/// length-prefixed, the last written alone.
pub(super) struct Tuple<'a> {
    out: &'a mut Vec<u8>,
    remaining: usize,
}

impl Tuple<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        match self.remaining {
            0 => Err(CodecError::new("tuple or struct serialized more elements than it declared")),
            1 => {
                self.remaining = 0;
                value.serialize(Encoder::new(self.out))
            }
            _ => {
                self.remaining -= 1;
                prefixed(self.out, value)
            }
        }
    }

    fn end(self) -> Result<(), CodecError> {
        if self.remaining == 0 {
            Ok(())
        } else {
            Err(CodecError::new(format!(
                "tuple or struct serialized {} elements fewer than it declared",
                self.remaining
            )))
        }
    }
}

impl ser::SerializeTuple for Tuple<'_> {
    type Ok = ();
    type Error = CodecError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        self.element(value)
    }

    fn end(self) -> Result<(), CodecError> {
        Tuple::end(self)
    }
}

impl ser::SerializeTupleStruct for Tuple<'_> {
    type Ok = ();
    type Error = CodecError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        self.element(value)
    }

    fn end(self) -> Result<(), CodecError> {
        Tuple::end(self)
    }
}

impl ser::SerializeTupleVariant for Tuple<'_> {
    type Ok = ();
    type Error = CodecError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        self.element(value)
    }

    fn end(self) -> Result<(), CodecError> {
        Tuple::end(self)
    }
}

impl ser::SerializeStruct for Tuple<'_> {
    type Ok = ();
    type Error = CodecError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), CodecError> {
        self.element(value)
    }

    fn end(self) -> Result<(), CodecError> {
        Tuple::end(self)
    }
}

impl ser::SerializeStructVariant for Tuple<'_> {
    type Ok = ();
    type Error = CodecError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), CodecError> {
        self.element(value)
    }

    fn end(self) -> Result<(), CodecError> {
        Tuple::end(self)
    }
}

/// A map: every entry is the length-prefixed pair `u32le len(k) ++ k ++ v`.
pub(super) struct Map<'a> {
    out: &'a mut Vec<u8>,
    /// Position of the current entry's length prefix.
    entry: usize,
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = CodecError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CodecError> {
        self.entry = reserve(self.out);
        prefixed(self.out, key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        value.serialize(Encoder::new(self.out))?;
        patch(self.out, self.entry)
    }

    fn end(self) -> Result<(), CodecError> {
        Ok(())
    }
}
