//! Record-encoding vectors through the public codec API: the exact bytes
//! other SDKs and the host must agree on, written out by hand from the
//! rules in `wit/task.wit`.

use std::collections::BTreeMap;

use wisp_guest::codec::{decode, decode_f64, decode_i64, encode, encode_f64, encode_i64, to_vec};

/// (description, bytes of the value built by `make`).
fn vectors() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    vec![
        ("string", to_vec("héllo").unwrap(), b"h\xc3\xa9llo".to_vec()),
        ("s64 -2", to_vec(&-2i64).unwrap(), vec![0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
        ("s64 from i32 300", to_vec(&300i32).unwrap(), vec![0x80, 0, 0, 0, 0, 0, 0x01, 0x2c]),
        ("u64 from u16 300", to_vec(&300u16).unwrap(), vec![0, 0, 0, 0, 0, 0, 0x01, 0x2c]),
        (
            "f64 -2.0",
            to_vec(&-2.0f64).unwrap(),
            vec![0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        ("f64 0.1", to_vec(&0.1f64).unwrap(), vec![0xbf, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]),
        ("bool", to_vec(&true).unwrap(), vec![1]),
        ("unit", to_vec(&()).unwrap(), vec![]),
        ("option some string", to_vec(&Some("x")).unwrap(), vec![1, b'x']),
        (
            "word-count pair",
            to_vec(&("fox", 2i64)).unwrap(),
            vec![3, 0, 0, 0, b'f', b'o', b'x', 0x80, 0, 0, 0, 0, 0, 0, 2],
        ),
        (
            "pagerank contribution (string, f64)",
            to_vec(&("p", 0.5f64)).unwrap(),
            vec![1, 0, 0, 0, b'p', 0xbf, 0xe0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "join value (k, (v, w))",
            to_vec(&("k", ("ab", "c"))).unwrap(),
            vec![1, 0, 0, 0, b'k', 2, 0, 0, 0, b'a', b'b', b'c'],
        ),
        (
            "right outer join value (k, (None, w))",
            to_vec(&("k", (None::<&str>, "w"))).unwrap(),
            vec![1, 0, 0, 0, b'k', 1, 0, 0, 0, 0, b'w'],
        ),
        (
            "group (k, [a, bc])",
            to_vec(&("k", vec!["a", "bc"])).unwrap(),
            vec![1, 0, 0, 0, b'k', 1, 0, 0, 0, b'a', 2, 0, 0, 0, b'b', b'c'],
        ),
        ("empty list", to_vec(&Vec::<u64>::new()).unwrap(), vec![]),
        (
            "map {a: true}",
            to_vec(&BTreeMap::from([("a", true)])).unwrap(),
            vec![6, 0, 0, 0, 1, 0, 0, 0, b'a', 1],
        ),
    ]
}

#[test]
fn encodings_match_the_contract() {
    for (what, got, want) in vectors() {
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn encode_appends_to_the_buffer() {
    let mut buf = b"head".to_vec();
    encode(&("a", 1u64), &mut buf).unwrap();
    assert_eq!(buf, [&b"head"[..], &[1, 0, 0, 0, b'a'], &[0, 0, 0, 0, 0, 0, 0, 1]].concat());
}

#[test]
fn helpers_agree_with_the_serializer() {
    for v in [i64::MIN, -1, 0, 1, 42, i64::MAX] {
        assert_eq!(encode_i64(v).to_vec(), to_vec(&v).unwrap());
        assert_eq!(decode_i64(encode_i64(v)), v);
    }
    for v in [f64::NEG_INFINITY, -1.5, -0.0, 0.0, 1e-300, 2.0, f64::MAX] {
        assert_eq!(encode_f64(v).to_vec(), to_vec(&v).unwrap());
        assert_eq!(decode_f64(encode_f64(v)).to_bits(), v.to_bits());
    }
}

#[test]
fn decoding_the_vectors_gives_the_values_back() {
    let pair: (String, i64) =
        decode(&[3, 0, 0, 0, b'f', b'o', b'x', 0x80, 0, 0, 0, 0, 0, 0, 2]).unwrap();
    assert_eq!(pair, ("fox".to_owned(), 2));
    let joined: (String, (Option<String>, String)) =
        decode(&[1, 0, 0, 0, b'k', 1, 0, 0, 0, 0, b'w']).unwrap();
    assert_eq!(joined, ("k".to_owned(), (None, "w".to_owned())));
    let group: (String, Vec<String>) =
        decode(&[1, 0, 0, 0, b'k', 1, 0, 0, 0, b'a', 2, 0, 0, 0, b'b', b'c']).unwrap();
    assert_eq!(group, ("k".to_owned(), vec!["a".to_owned(), "bc".to_owned()]));
    let error = decode::<(String, i64)>(&[3, 0, 0, 0, b'f', b'o', b'x', 1]).unwrap_err();
    assert_eq!(error.to_string(), "field of 1 bytes is not an i64");
}
