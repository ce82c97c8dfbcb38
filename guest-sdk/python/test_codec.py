"""The Python codec against the cross-language vectors of `wit/encoding-vectors.jsonl` (every vector both ways) and those of `guest-sdk/tests/vectors.rs`.

Run: `target/python-venv/bin/python guest-sdk/python/test_codec.py` (any Python 3.9+; needs no componentize-py).
"""

import json
import math
import os
import sys
import typing
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS_FILE = os.path.join(HERE, "..", "..", "wit", "encoding-vectors.jsonl")
sys.path.insert(0, os.path.join(HERE, "wisp"))
import codec as C  # noqa: E402 - the codec module alone, without the componentize-py bindings

# (description, annotation, value, expected bytes): the vectors of guest-sdk/tests/vectors.rs.
VECTORS = [
    ("string", str, "héllo", b"h\xc3\xa9llo"),
    ("s64 -2", int, -2, bytes([0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE])),
    ("s64 from i32 300", int, 300, bytes([0x80, 0, 0, 0, 0, 0, 0x01, 0x2C])),
    ("u64 from u16 300", C.U64Type, 300, bytes([0, 0, 0, 0, 0, 0, 0x01, 0x2C])),
    ("f64 -2.0", float, -2.0, bytes([0x3F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])),
    ("f64 0.1", float, 0.1, bytes([0xBF, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A])),
    ("bool", bool, True, bytes([1])),
    ("unit", None, None, b""),
    ("option some string", typing.Optional[str], "x", bytes([1]) + b"x"),
    ("word-count pair", tuple[str, int], ("fox", 2), bytes([3, 0, 0, 0]) + b"fox" + bytes([0x80, 0, 0, 0, 0, 0, 0, 2])),
    ("pagerank contribution (string, f64)", tuple[str, float], ("p", 0.5), bytes([1, 0, 0, 0]) + b"p" + bytes([0xBF, 0xE0, 0, 0, 0, 0, 0, 0])),
    ("join value (k, (v, w))", tuple[str, tuple[str, str]], ("k", ("ab", "c")), bytes([1, 0, 0, 0]) + b"k" + bytes([2, 0, 0, 0]) + b"abc"),
    (
        "right outer join value (k, (None, w))",
        tuple[str, tuple[typing.Optional[str], str]],
        ("k", (None, "w")),
        bytes([1, 0, 0, 0]) + b"k" + bytes([1, 0, 0, 0, 0]) + b"w",
    ),
    ("group (k, [a, bc])", tuple[str, list[str]], ("k", ["a", "bc"]), bytes([1, 0, 0, 0]) + b"k" + bytes([1, 0, 0, 0]) + b"a" + bytes([2, 0, 0, 0]) + b"bc"),
    ("empty list", list[C.U64Type], [], b""),
    ("map {a: true} as list of pairs", list[tuple[str, bool]], [("a", True)], bytes([6, 0, 0, 0, 1, 0, 0, 0]) + b"a" + bytes([1])),
    ("bytes", bytes, b"\x00\xff", b"\x00\xff"),
    ("option none", typing.Optional[int], None, b"\x00"),
    ("3-tuple", tuple[int, str, bool], (1, "ab", False), bytes([8, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0]) + b"ab" + b"\x00"),
]


_PRIMITIVES = {"string": C.STR, "s64": C.S64, "u64": C.U64, "f64": C.F64, "bool": C.BOOL, "unit": C.UNIT, "bytes": C.BYTES}


def parse_type(text: str):
    """The codec of a vector's `type`: a primitive, `option<T>`, `pair<K,V>`, `tuple<A,B,...>` or `list<T>`."""
    codec, rest = _parse(text.replace(" ", ""))
    if rest:
        raise ValueError(f"trailing {rest!r} in type {text!r}")
    return codec


def _parse(text: str):
    end = min([i for i in (text.find(c) for c in "<,>") if i >= 0], default=len(text))
    name, rest = text[:end], text[end:]
    if name in _PRIMITIVES:
        return _PRIMITIVES[name], rest
    if not rest.startswith("<"):
        raise ValueError(f"unknown type {name!r}")
    args, rest = [], rest[1:]
    while True:
        arg, rest = _parse(rest)
        args.append(arg)
        if rest.startswith(","):
            rest = rest[1:]
            continue
        if not rest.startswith(">"):
            raise ValueError(f"unclosed parameters of {name!r}")
        rest = rest[1:]
        break
    if name == "option" and len(args) == 1:
        return C.Option(args[0]), rest
    if name == "list" and len(args) == 1:
        return C.List(args[0]), rest
    if (name == "pair" and len(args) == 2) or (name == "tuple" and len(args) >= 2):
        return C.Tuple(*args), rest
    raise ValueError(f"unknown type {name}<...> with {len(args)} parameters")


def from_json(codec, value):
    """A vector's JSON `value` as the Python value of `codec` (bytes from hex, tuples from arrays)."""
    if codec is C.BYTES:
        return bytes.fromhex(value)
    if codec is C.F64:
        return float(value)
    if isinstance(codec, C.Option):
        return None if value is None else from_json(codec.inner, value)
    if isinstance(codec, C.Tuple):
        if len(value) != len(codec.elems):
            raise ValueError(f"{value!r} has the wrong arity for {codec.name}")
        return tuple(from_json(c, v) for c, v in zip(codec.elems, value))
    if isinstance(codec, C.List):
        return [from_json(codec.elem, v) for v in value]
    return value


def same(a, b) -> bool:
    """Equality that tells -0.0 from 0.0 (their encodings differ) and checks types (True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def load_vectors():
    """(line number, type text, codec, value, encoding) of every line of wit/encoding-vectors.jsonl."""
    out = []
    with open(VECTORS_FILE, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                v = json.loads(line)
                codec = parse_type(v["type"])
                out.append((n, v["type"], codec, from_json(codec, v["value"]), bytes.fromhex(v["hex"])))
    return out


class SharedVectors(unittest.TestCase):
    """wit/encoding-vectors.jsonl: the bytes every SDK and the host agree on."""

    def test_every_vector_value_encodes_to_its_hex(self):
        vectors = load_vectors()
        self.assertGreaterEqual(len(vectors), 60, "is the vector file complete?")
        for n, type_text, codec, value, data in vectors:
            with self.subTest(line=n, type=type_text, value=value):
                self.assertEqual(codec.encode(value).hex(), data.hex())

    def test_every_vector_hex_decodes_to_its_value(self):
        for n, type_text, codec, value, data in load_vectors():
            with self.subTest(line=n, type=type_text, hex=data.hex()):
                got = codec.decode(data)
                self.assertTrue(same(got, value), f"decoded {got!r}, expected {value!r}")

    def test_every_kind_of_type_has_vectors(self):
        types = [t for _, t, *_ in load_vectors()]
        for kind in ["string", "s64", "u64", "f64", "bool", "unit", "bytes", "option<", "pair<", "tuple<", "list<"]:
            self.assertTrue(any(t.startswith(kind) for t in types), f"no vector of {kind}")

    def test_the_type_grammar_parses_nested_types(self):
        self.assertEqual(parse_type("pair<string, list<option<f64>>>").name, "(string, list<option<f64>>)")


class CodecVectors(unittest.TestCase):
    def test_encodings_match_the_contract(self):
        for what, annotation, value, want in VECTORS:
            with self.subTest(what):
                self.assertEqual(C.codec_for(annotation).encode(value), want)

    def test_decoding_the_vectors_gives_the_values_back(self):
        for what, annotation, value, data in VECTORS:
            with self.subTest(what):
                self.assertEqual(C.codec_for(annotation).decode(data), value)

    def test_numbers_round_trip_and_sort_by_bytes(self):
        ints = [-(1 << 63), -300, -1, 0, 1, 42, (1 << 63) - 1]
        self.assertEqual([C.S64.decode(C.S64.encode(v)) for v in ints], ints)
        self.assertEqual(sorted(ints, key=C.S64.encode), ints)
        floats = [-math.inf, -1.5, -0.0, 0.0, 1e-300, 2.0, 1.7976931348623157e308, math.inf]
        for v in floats:
            self.assertEqual(math.copysign(1, C.F64.decode(C.F64.encode(v))), math.copysign(1, v))
            self.assertEqual(C.F64.decode(C.F64.encode(v)), v)
        self.assertEqual(sorted(floats, key=C.F64.encode), floats)

    def test_pair_helpers_agree_with_the_tuple_codec(self):
        rec = C.pair(C.STR, C.S64).encode(("fox", 2))
        self.assertEqual(C.split_pair(rec), (b"fox", C.S64.encode(2)))
        self.assertEqual(C.join_pair(b"fox", C.S64.encode(2)), rec)

    def test_wrong_encodings_are_named(self):
        with self.assertRaisesRegex(C.CodecError, "field of 1 bytes is not an s64"):
            C.codec_for(tuple[str, int]).decode(bytes([3, 0, 0, 0]) + b"fox" + b"\x01")
        with self.assertRaisesRegex(C.CodecError, "does not fit"):
            C.S64.encode(1 << 63)
        with self.assertRaisesRegex(C.CodecError, "expected a str"):
            C.STR.encode(3)
        with self.assertRaisesRegex(C.CodecError, "not UTF-8"):
            C.STR.decode(b"\xff")


if __name__ == "__main__":
    unittest.main()
