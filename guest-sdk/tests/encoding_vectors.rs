//! The cross-language encoding vectors of `wit/encoding-vectors.jsonl`:
//! every value encodes to its `hex` and every `hex` decodes to its value,
//! through the SDK's serde codec. The type of each vector is parsed from its
//! `type` field at run time (a serde seed drives the decoder), so a vector of
//! a new combination of the WIT's types is checked without editing this file.

use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserializer, Serialize, Serializer};
use serde_json::Value as Json;
use wisp_guest::codec::{decode_seed, to_vec};

/// A record type of the vectors' grammar.
#[derive(Clone, Debug, PartialEq)]
enum Type {
    String,
    S64,
    U64,
    F64,
    Bool,
    Unit,
    Bytes,
    Option(Box<Type>),
    /// `pair<K,V>` and `tuple<A,B,...>`.
    Tuple(Vec<Type>),
    List(Box<Type>),
}

/// A value of a `Type`.
#[derive(Clone, Debug)]
enum Value {
    String(String),
    S64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Unit,
    Bytes(Vec<u8>),
    Option(Option<Box<Value>>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
}

impl PartialEq for Value {
    /// Floats compare by bits, so -0.0 differs from 0.0 as their encodings do.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::S64(a), Value::S64(b)) => a == b,
            (Value::U64(a), Value::U64(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Unit, Value::Unit) => true,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Option(a), Value::Option(b)) => a == b,
            (Value::Tuple(a), Value::Tuple(b)) | (Value::List(a), Value::List(b)) => a == b,
            _ => false,
        }
    }
}

/// Parses `string`, `option<s64>`, `pair<string,list<s64>>`, `tuple<s64,s64,s64>`...
fn parse_type(text: &str) -> Type {
    let (ty, rest) = parse_prefix(text.trim());
    assert!(rest.trim().is_empty(), "trailing {rest:?} in type {text:?}");
    ty
}

fn parse_prefix(text: &str) -> (Type, &str) {
    let end = text.find(['<', ',', '>']).unwrap_or(text.len());
    let (name, rest) = (text[..end].trim(), &text[end..]);
    let simple = match name {
        "string" => Some(Type::String),
        "s64" => Some(Type::S64),
        "u64" => Some(Type::U64),
        "f64" => Some(Type::F64),
        "bool" => Some(Type::Bool),
        "unit" => Some(Type::Unit),
        "bytes" => Some(Type::Bytes),
        _ => None,
    };
    if let Some(ty) = simple {
        return (ty, rest);
    }
    let mut rest = rest.strip_prefix('<').unwrap_or_else(|| panic!("unknown type {name:?}"));
    let mut args = Vec::new();
    loop {
        let (arg, after) = parse_prefix(rest.trim_start());
        args.push(arg);
        let after = after.trim_start();
        if let Some(after) = after.strip_prefix(',') {
            rest = after;
        } else {
            rest = after
                .strip_prefix('>')
                .unwrap_or_else(|| panic!("unclosed type parameters of {name:?}"));
            break;
        }
    }
    let ty = match (name, args.len()) {
        ("option", 1) => Type::Option(Box::new(args.remove(0))),
        ("list", 1) => Type::List(Box::new(args.remove(0))),
        ("pair", 2) => Type::Tuple(args),
        ("tuple", n) if n >= 2 => Type::Tuple(args),
        _ => panic!("unknown type {name}<...> with {} parameters", args.len()),
    };
    (ty, rest)
}

fn hex_decode(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex {hex:?}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad<T>(ty: &Type, json: &Json) -> T {
    panic!("{json} is not a {ty:?}")
}

/// The vector's JSON `value` as a `Value` of `ty`.
fn from_json(ty: &Type, json: &Json) -> Value {
    match ty {
        Type::String => Value::String(json.as_str().unwrap_or_else(|| bad(ty, json)).to_owned()),
        Type::S64 => Value::S64(json.as_i64().unwrap_or_else(|| bad(ty, json))),
        Type::U64 => Value::U64(json.as_u64().unwrap_or_else(|| bad(ty, json))),
        Type::F64 => Value::F64(json.as_f64().unwrap_or_else(|| bad(ty, json))),
        Type::Bool => Value::Bool(json.as_bool().unwrap_or_else(|| bad(ty, json))),
        Type::Unit => {
            assert!(json.is_null(), "{json} is not a unit");
            Value::Unit
        }
        Type::Bytes => Value::Bytes(hex_decode(json.as_str().unwrap_or_else(|| bad(ty, json)))),
        Type::Option(inner) => {
            Value::Option((!json.is_null()).then(|| Box::new(from_json(inner, json))))
        }
        Type::Tuple(types) => {
            let items = json.as_array().unwrap_or_else(|| bad(ty, json));
            assert_eq!(items.len(), types.len(), "{json} has the wrong arity for {ty:?}");
            Value::Tuple(types.iter().zip(items).map(|(t, j)| from_json(t, j)).collect())
        }
        Type::List(inner) => Value::List(
            json.as_array()
                .unwrap_or_else(|| bad(ty, json))
                .iter()
                .map(|j| from_json(inner, j))
                .collect(),
        ),
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::String(v) => s.serialize_str(v),
            Value::S64(v) => s.serialize_i64(*v),
            Value::U64(v) => s.serialize_u64(*v),
            Value::F64(v) => s.serialize_f64(*v),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::Unit => s.serialize_unit(),
            Value::Bytes(v) => s.serialize_bytes(v),
            Value::Option(None) => s.serialize_none(),
            Value::Option(Some(v)) => s.serialize_some(v),
            Value::Tuple(items) => {
                let mut t = s.serialize_tuple(items.len())?;
                for item in items {
                    t.serialize_element(item)?;
                }
                t.end()
            }
            Value::List(items) => {
                let mut l = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    l.serialize_element(item)?;
                }
                l.end()
            }
        }
    }
}

/// Decodes a `Value` of the given type, asking the deserializer for exactly that type.
#[derive(Clone, Copy)]
struct Seed<'a>(&'a Type);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Type::String => d.deserialize_string(self),
            Type::S64 => d.deserialize_i64(self),
            Type::U64 => d.deserialize_u64(self),
            Type::F64 => d.deserialize_f64(self),
            Type::Bool => d.deserialize_bool(self),
            Type::Unit => d.deserialize_unit(self),
            Type::Bytes => d.deserialize_byte_buf(self),
            Type::Option(_) => d.deserialize_option(self),
            Type::Tuple(types) => d.deserialize_tuple(types.len(), self),
            Type::List(_) => d.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {:?}", self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::S64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::U64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::F64(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Unit)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Option(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let Type::Option(inner) = self.0 else {
            return Err(de::Error::custom("an option where none was expected"));
        };
        Ok(Value::Option(Some(Box::new(Seed(inner).deserialize(d)?))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        match self.0 {
            Type::Tuple(types) => {
                let mut items = Vec::with_capacity(types.len());
                for (i, t) in types.iter().enumerate() {
                    items.push(
                        seq.next_element_seed(Seed(t))?
                            .ok_or_else(|| de::Error::invalid_length(i, &self))?,
                    );
                }
                Ok(Value::Tuple(items))
            }
            Type::List(inner) => {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element_seed(Seed(inner))? {
                    items.push(item);
                }
                Ok(Value::List(items))
            }
            other => Err(de::Error::custom(format!("a sequence where a {other:?} was expected"))),
        }
    }
}

/// Every vector of the checked-in file: (line number, type text, type, value, encoding).
fn vectors() -> Vec<(usize, String, Type, Value, Vec<u8>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/encoding-vectors.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut vectors = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let json: Json =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let type_text =
            json["type"].as_str().unwrap_or_else(|| panic!("line {}: no type", i + 1)).to_owned();
        let ty = parse_type(&type_text);
        let value = from_json(&ty, &json["value"]);
        let hex =
            hex_decode(json["hex"].as_str().unwrap_or_else(|| panic!("line {}: no hex", i + 1)));
        vectors.push((i + 1, type_text, ty, value, hex));
    }
    vectors
}

#[test]
fn every_vector_value_encodes_to_its_hex() {
    let vectors = vectors();
    assert!(vectors.len() >= 60, "only {} vectors: is the file complete?", vectors.len());
    for (line, type_text, _, value, hex) in &vectors {
        let got = to_vec(value).unwrap_or_else(|e| {
            panic!("line {line} ({type_text}): encoding {value:?} failed: {e}")
        });
        assert_eq!(hex_encode(&got), hex_encode(hex), "line {line}: {type_text} {value:?}");
    }
}

#[test]
fn every_vector_hex_decodes_to_its_value() {
    for (line, type_text, ty, value, hex) in vectors() {
        let got = decode_seed(Seed(&ty), &hex)
            .unwrap_or_else(|e| panic!("line {line} ({type_text}): decoding failed: {e}"));
        assert_eq!(got, value, "line {line}: {type_text} from {}", hex_encode(&hex));
    }
}

#[test]
fn every_kind_of_type_has_vectors() {
    let vectors = vectors();
    for kind in [
        "string", "s64", "u64", "f64", "bool", "unit", "bytes", "option<", "pair<", "tuple<",
        "list<",
    ] {
        assert!(vectors.iter().any(|(_, t, ..)| t.starts_with(kind)), "no vector of {kind}");
    }
}

#[test]
fn the_type_grammar_parses_nested_types() {
    assert_eq!(
        parse_type("pair<string, list<option<f64>>>"),
        Type::Tuple(vec![Type::String, Type::List(Box::new(Type::Option(Box::new(Type::F64))))])
    );
}
