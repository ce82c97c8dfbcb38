//! Codec tests: every encoding against bytes written out by hand from the
//! rules in `wit/task.wit`, round trips, and byte order = value order.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{decode, to_vec};

/// Asserts that `value` encodes to `expected` and decodes back to itself.
fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T, expected: &[u8]) {
    let bytes = to_vec(&value).expect("encodes");
    assert_eq!(bytes, expected, "encoding of {value:?}");
    let back: T = decode(&bytes).expect("decodes");
    assert_eq!(back, value, "round trip of {value:?}");
}

fn le(n: u32) -> [u8; 4] {
    n.to_le_bytes()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn strings_are_raw_utf8() {
    check(String::new(), b"");
    check("hello".to_owned(), b"hello");
    check("h\u{e9}".to_owned(), &[b'h', 0xc3, 0xa9]);
    check('\u{e9}', &[0xc3, 0xa9]);
    check('a', b"a");
}

#[test]
fn signed_integers_flip_the_sign_bit() {
    check(0i64, &[0x80, 0, 0, 0, 0, 0, 0, 0]);
    check(1i64, &[0x80, 0, 0, 0, 0, 0, 0, 1]);
    check(-1i64, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    check(i64::MIN, &[0, 0, 0, 0, 0, 0, 0, 0]);
    check(i64::MAX, &[0xff; 8]);
    check(258i32, &[0x80, 0, 0, 0, 0, 0, 1, 2]);
    check(-2i8, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    check(7i16, &[0x80, 0, 0, 0, 0, 0, 0, 7]);
    check(-3isize, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd]);
    check(5i128, &[0x80, 0, 0, 0, 0, 0, 0, 5]);
}

#[test]
fn unsigned_integers_are_big_endian() {
    check(0u64, &[0; 8]);
    check(0x0102_0304_0506_0708u64, &[1, 2, 3, 4, 5, 6, 7, 8]);
    check(255u8, &[0, 0, 0, 0, 0, 0, 0, 255]);
    check(65_535u16, &[0, 0, 0, 0, 0, 0, 255, 255]);
    check(1u32, &[0, 0, 0, 0, 0, 0, 0, 1]);
    check(9usize, &[0, 0, 0, 0, 0, 0, 0, 9]);
    check(u64::MAX, &[0xff; 8]);
}

#[test]
fn floats_are_order_preserving() {
    // 1.0 = 0x3ff0_0000_0000_0000: sign clear, so flip the sign bit.
    check(1.0f64, &[0xbf, 0xf0, 0, 0, 0, 0, 0, 0]);
    // -1.0 = 0xbff0_0000_0000_0000: sign set, so invert every bit.
    check(-1.0f64, &[0x40, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    check(0.0f64, &[0x80, 0, 0, 0, 0, 0, 0, 0]);
    check(-0.0f64, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    // 2.5 = 0x4004_0000_0000_0000.
    check(2.5f64, &[0xc0, 0x04, 0, 0, 0, 0, 0, 0]);
    // f32 is widened: 1.5f32 = 1.5f64 = 0x3ff8_0000_0000_0000.
    check(1.5f32, &[0xbf, 0xf8, 0, 0, 0, 0, 0, 0]);
    check(f64::INFINITY, &[0xff, 0xf0, 0, 0, 0, 0, 0, 0]);
    check(f64::NEG_INFINITY, &[0x00, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
}

#[test]
fn bools_units_and_options() {
    check(false, &[0]);
    check(true, &[1]);
    check((), &[]);
    check(None::<i64>, &[0]);
    check(Some(3i64), &[1, 0x80, 0, 0, 0, 0, 0, 0, 3]);
    check(Some("ab".to_owned()), b"\x01ab");
    check(Some(None::<bool>), &[1, 0]);
    check(Some(()), &[1]);
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Unit;

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Meters(u64);

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Point {
    x: i64,
    label: String,
    ok: bool,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Pair(String, u64);

#[test]
fn structs_are_tuples_of_their_fields() {
    check(Unit, &[]);
    check(Meters(2), &[0, 0, 0, 0, 0, 0, 0, 2]);
    check(
        Point { x: -1, label: "ab".to_owned(), ok: true },
        &cat(&[&le(8), &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], &le(2), b"ab", &[1]]),
    );
    check(Pair("k".to_owned(), 1), &cat(&[&le(1), b"k", &[0, 0, 0, 0, 0, 0, 0, 1]]));
}

#[test]
fn pairs_prefix_only_the_key() {
    check(("word".to_owned(), 3i64), &cat(&[&le(4), b"word", &[0x80, 0, 0, 0, 0, 0, 0, 3]]));
    check((String::new(), String::new()), &le(0));
    check(("a".to_owned(), "bc".to_owned()), &cat(&[&le(1), b"a", b"bc"]));
    // A three-tuple prefixes the first two elements.
    check(
        ("a".to_owned(), "bc".to_owned(), "d".to_owned()),
        &cat(&[&le(1), b"a", &le(2), b"bc", b"d"]),
    );
    // Nested: (k, (v, w)) as a join produces it.
    check(
        ("k".to_owned(), ("v".to_owned(), "ww".to_owned())),
        &cat(&[&le(1), b"k", &le(1), b"v", b"ww"]),
    );
    // Left outer join value: (v, Option<w>).
    check(
        ("k".to_owned(), (1u64, None::<String>)),
        &cat(&[&le(1), b"k", &le(8), &[0, 0, 0, 0, 0, 0, 0, 1], &[0]]),
    );
    // A one-tuple is its element.
    check((7u64,), &[0, 0, 0, 0, 0, 0, 0, 7]);
}

#[test]
fn lists_prefix_every_element() {
    check(Vec::<String>::new(), &[]);
    check(
        vec!["a".to_owned(), String::new(), "bc".to_owned()],
        &cat(&[&le(1), b"a", &le(0), &le(2), b"bc"]),
    );
    check(vec![1u64], &cat(&[&le(8), &[0, 0, 0, 0, 0, 0, 0, 1]]));
    check(vec![vec![true], vec![]], &cat(&[&le(5), &le(1), &[1], &le(0)]));
    // A group-by-key record: (k, list<v>).
    check(
        ("k".to_owned(), vec!["x".to_owned(), "yz".to_owned()]),
        &cat(&[&le(1), b"k", &le(1), b"x", &le(2), b"yz"]),
    );
    // A cogroup record: (k, (list<v>, list<w>)).
    check(
        ("k".to_owned(), (vec!["x".to_owned()], vec!["y".to_owned()])),
        &cat(&[&le(1), b"k", &le(5), &le(1), b"x", &le(1), b"y"]),
    );
}

#[test]
fn maps_are_lists_of_pairs() {
    let mut m = BTreeMap::new();
    m.insert("a".to_owned(), 1u64);
    m.insert("bc".to_owned(), 2u64);
    check(
        m,
        &cat(&[
            &le(13),
            &le(1),
            b"a",
            &[0, 0, 0, 0, 0, 0, 0, 1],
            &le(14),
            &le(2),
            b"bc",
            &[0, 0, 0, 0, 0, 0, 0, 2],
        ]),
    );
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
enum Shape {
    Empty,
    Circle(u64),
    Rect(u64, String),
    Named { id: bool, name: String },
}

#[test]
fn enums_are_an_index_then_fields() {
    check(Shape::Empty, &le(0));
    check(Shape::Circle(5), &cat(&[&le(1), &[0, 0, 0, 0, 0, 0, 0, 5]]));
    check(Shape::Rect(1, "x".to_owned()), &cat(&[&le(2), &le(8), &[0, 0, 0, 0, 0, 0, 0, 1], b"x"]));
    check(Shape::Named { id: true, name: "n".to_owned() }, &cat(&[&le(3), &le(1), &[1], b"n"]));
    check(Ok::<u64, String>(1), &cat(&[&le(0), &[0, 0, 0, 0, 0, 0, 0, 1]]));
    check(Err::<u64, String>("e".to_owned()), &cat(&[&le(1), b"e"]));
}

#[test]
fn bytes_are_raw() {
    struct Raw(Vec<u8>);
    impl Serialize for Raw {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
    assert_eq!(to_vec(&Raw(vec![0, 1, 255])).unwrap(), vec![0, 1, 255]);
    #[derive(Debug, PartialEq)]
    struct Bytes(Vec<u8>);
    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            d.deserialize_bytes(V)
        }
    }
    assert_eq!(decode::<Bytes>(&[9, 8]).unwrap(), Bytes(vec![9, 8]));
}

#[test]
fn byte_order_is_value_order() {
    let ints = [i64::MIN, -1_000_000, -256, -255, -2, -1, 0, 1, 2, 255, 256, 1 << 40, i64::MAX];
    let floats = [
        f64::NEG_INFINITY,
        -1e300,
        -2.5,
        -1.0,
        -f64::MIN_POSITIVE,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        0.5,
        1.0,
        3.0,
        1e300,
        f64::INFINITY,
    ];
    let strings = ["", "a", "ab", "abc", "b", "ba", "z", "\u{e9}", "\u{10000}"];
    for w in ints.windows(2) {
        assert!(to_vec(&w[0]).unwrap() < to_vec(&w[1]).unwrap(), "{} < {}", w[0], w[1]);
    }
    for w in floats.windows(2) {
        assert!(to_vec(&w[0]).unwrap() < to_vec(&w[1]).unwrap(), "{} < {}", w[0], w[1]);
    }
    for w in strings.windows(2) {
        assert!(to_vec(w[0]).unwrap() < to_vec(w[1]).unwrap(), "{:?} < {:?}", w[0], w[1]);
    }
    // A cheap deterministic sweep over many values.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (a, b) = (x as i64, x.rotate_left(17) as i64);
        assert_eq!(a.cmp(&b), to_vec(&a).unwrap().cmp(&to_vec(&b).unwrap()));
        let (fa, fb) =
            (f64::from_bits(x >> 2) * if x & 1 == 0 { 1.0 } else { -1.0 }, (b as f64) / 3.0);
        if !fa.is_nan() && !fb.is_nan() && fa != fb {
            assert_eq!(
                fa.partial_cmp(&fb).unwrap(),
                to_vec(&fa).unwrap().cmp(&to_vec(&fb).unwrap()),
                "{fa} vs {fb}"
            );
        }
    }
}

#[test]
fn round_trips_of_nested_values() {
    type Nested = (Vec<(String, Option<f64>)>, BTreeMap<i64, Vec<bool>>, Shape, char);
    let mut m = BTreeMap::new();
    m.insert(-5, vec![true, false]);
    m.insert(9, vec![]);
    let v: Nested = (
        vec![("x".to_owned(), Some(-0.25)), (String::new(), None)],
        m,
        Shape::Rect(3, "r".to_owned()),
        'q',
    );
    let bytes = to_vec(&v).unwrap();
    let back: Nested = decode(&bytes).unwrap();
    assert_eq!(back, v);
}

#[test]
fn errors_say_what_was_wrong() {
    let e = decode::<i64>(&[1, 2, 3]).unwrap_err();
    assert_eq!(e.message(), "record of 3 bytes is not an i64");
    let e = decode::<u8>(&[0, 0, 0, 0, 0, 0, 1, 0]).unwrap_err();
    assert_eq!(e.message(), "value 256 is out of range for u8");
    let e = decode::<String>(&[0xff]).unwrap_err();
    assert!(e.message().starts_with("record of 1 bytes is not a UTF-8 string"), "{e}");
    let e = decode::<bool>(&[2]).unwrap_err();
    assert_eq!(e.message(), "byte 2 is not a bool (0 or 1)");
    let e = decode::<(String, i64)>(&[9, 0, 0, 0, b'a']).unwrap_err();
    assert!(e.message().contains("length prefix 9 exceeds the 1 bytes"), "{e}");
    let e = decode::<(String, i64)>(&cat(&[&le(1), b"a", &[1, 2]])).unwrap_err();
    assert_eq!(e.message(), "field of 2 bytes is not an i64");
    let e = decode::<Option<u64>>(&[0, 1]).unwrap_err();
    assert!(e.message().contains("stray"), "{e}");
    let e = decode::<()>(&[0]).unwrap_err();
    assert!(e.message().contains("unit"), "{e}");
    let e = to_vec(&(1u128 << 70)).unwrap_err();
    assert!(e.message().contains("does not fit"), "{e}");
}
