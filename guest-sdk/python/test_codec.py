"""The Python codec against the record-encoding vectors of `guest-sdk/tests/vectors.rs` (the same bytes, by hand from `wit/task.wit`).

Run: `target/python-venv/bin/python guest-sdk/python/test_codec.py` (any Python 3.9+; needs no componentize-py).
"""

import math
import os
import sys
import typing
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "wisp"))
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
