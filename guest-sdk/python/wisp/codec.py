"""The record encodings of `wit/task.wit`, and the mapping from Python type annotations to them.

Every record that crosses the host-guest boundary is a byte string; this
module is the Python half of the contract the Rust SDK implements in
`guest-sdk/src/codec`. A `Codec` turns one value into its record bytes and
back. `codec_for` derives a codec from a type annotation:

=====================  ===========================================
annotation             encoding
=====================  ===========================================
``str``                string: the UTF-8 bytes
``bytes``              bytes: themselves
``int``                s64: big-endian, sign bit flipped
``wisp.U64``           u64: big-endian
``float``              f64: order-preserving big-endian bits
``bool``               bool: one byte
``None``               unit: zero bytes
``Optional[T]``        option: 0, or 1 then T
``tuple[A, ..., Z]``   tuple: u32le length + encoding for all but the last
``list[T]``            list: u32le length + encoding per element
=====================  ===========================================

A key/value pair is the 2-tuple ``tuple[K, V]``.
"""

import operator
import struct
import types as _types
import typing
from itertools import accumulate as _accumulate
from itertools import repeat as _repeat

_SIGN = 0x8000_0000_0000_0000
_NEG_SIGN = -_SIGN
_MASK = 0xFFFF_FFFF_FFFF_FFFF
_U32 = struct.Struct("<I")
_U64 = struct.Struct(">Q")
_F64 = struct.Struct(">d")


class CodecError(ValueError):
    """A record that does not have the expected encoding, or a value the codec cannot encode."""


class Codec:
    """Encodes values of one type to record bytes and decodes them back."""

    name = "?"

    def encode(self, value) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes):
        raise NotImplementedError

    def encode_many(self, values) -> list:
        """The records of `values`; raises `CodecError` (naming nothing) when one cannot be encoded: see `first_bad_value`."""
        return list(map(self.encode, values))

    def decode_many(self, records) -> list:
        """The values of `records`; raises `CodecError` when one is not of this encoding: see `first_bad_record`."""
        return list(map(self.decode, records))

    def __repr__(self) -> str:
        return self.name


class _Str(Codec):
    name = "string"

    def encode(self, value) -> bytes:
        if not isinstance(value, str):
            raise CodecError(f"expected a str, got {type(value).__name__}")
        return value.encode("utf-8")

    def decode(self, data: bytes):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CodecError(f"record is not UTF-8: {e}") from None

    def encode_many(self, values) -> list:
        try:
            return list(map(str.encode, values))
        except (TypeError, UnicodeError):
            return super().encode_many(values)

    def decode_many(self, records) -> list:
        try:
            return list(map(bytes.decode, records))
        except (TypeError, UnicodeError):
            return super().decode_many(records)


class _Bytes(Codec):
    name = "bytes"

    def encode(self, value) -> bytes:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise CodecError(f"expected bytes, got {type(value).__name__}")
        return bytes(value)

    def decode(self, data: bytes):
        return bytes(data)

    def decode_many(self, records) -> list:
        return list(map(bytes, records))


class _S64(Codec):
    name = "s64"

    def encode(self, value) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CodecError(f"expected an int, got {type(value).__name__}")
        if not -(1 << 63) <= value < (1 << 63):
            raise CodecError(f"int {value} does not fit in an s64")
        return _U64.pack((value & _MASK) ^ _SIGN)

    def decode(self, data: bytes):
        if len(data) != 8:
            raise CodecError(f"field of {len(data)} bytes is not an s64")
        v = _U64.unpack(data)[0] ^ _SIGN
        return v - (1 << 64) if v & _SIGN else v

    def encode_many(self, values) -> list:
        # (v + 2**63) as u64 big-endian is v's s64 encoding; struct refuses non-ints and ints out of range.
        try:
            if bool in set(map(type, values)):
                raise TypeError
            return list(map(_U64.pack, map(_SIGN.__add__, values)))
        except (TypeError, struct.error):
            return super().encode_many(values)

    def decode_many(self, records) -> list:
        try:
            return list(map(_NEG_SIGN.__add__, map(_first, map(_U64.unpack, records))))
        except (TypeError, struct.error):
            return super().decode_many(records)


class _U64Codec(Codec):
    name = "u64"

    def encode(self, value) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < (1 << 64):
            raise CodecError(f"expected an int in 0..2**64, got {value!r}")
        return _U64.pack(value)

    def decode(self, data: bytes):
        if len(data) != 8:
            raise CodecError(f"field of {len(data)} bytes is not a u64")
        return _U64.unpack(data)[0]


class _F64Codec(Codec):
    name = "f64"

    def encode(self, value) -> bytes:
        if not isinstance(value, (float, int)) or isinstance(value, bool):
            raise CodecError(f"expected a float, got {type(value).__name__}")
        bits = _U64.unpack(_F64.pack(float(value)))[0]
        return _U64.pack(bits ^ _MASK if bits & _SIGN else bits ^ _SIGN)

    def decode(self, data: bytes):
        if len(data) != 8:
            raise CodecError(f"field of {len(data)} bytes is not an f64")
        bits = _U64.unpack(data)[0]
        bits = bits ^ _SIGN if bits & _SIGN else bits ^ _MASK
        return _F64.unpack(_U64.pack(bits))[0]


class _Bool(Codec):
    name = "bool"

    def encode(self, value) -> bytes:
        if not isinstance(value, bool):
            raise CodecError(f"expected a bool, got {type(value).__name__}")
        return b"\x01" if value else b"\x00"

    def decode(self, data: bytes):
        if data == b"\x00":
            return False
        if data == b"\x01":
            return True
        raise CodecError(f"field {bytes(data)!r} is not a bool")


class _Unit(Codec):
    name = "unit"

    def encode(self, value) -> bytes:
        if value is not None:
            raise CodecError(f"expected None, got {type(value).__name__}")
        return b""

    def decode(self, data: bytes):
        if data:
            raise CodecError(f"field of {len(data)} bytes is not a unit")
        return None


class Option(Codec):
    """`option<T>`: one byte 0 for None, or 1 followed by T."""

    def __init__(self, inner: Codec):
        self.inner = inner
        self.name = f"option<{inner.name}>"

    def encode(self, value) -> bytes:
        return b"\x00" if value is None else b"\x01" + self.inner.encode(value)

    def decode(self, data: bytes):
        if data[:1] == b"\x00" and len(data) == 1:
            return None
        if data[:1] == b"\x01":
            return self.inner.decode(data[1:])
        raise CodecError(f"field {bytes(data[:8])!r} is not an option")


class Tuple(Codec):
    """A tuple of two or more elements: all but the last length-prefixed (u32le), the last written alone."""

    def __init__(self, *elems: Codec):
        if len(elems) < 2:
            raise ValueError("a tuple codec needs two or more elements")
        self.elems = elems
        self.name = "(" + ", ".join(e.name for e in elems) + ")"

    def encode(self, value) -> bytes:
        if not isinstance(value, (tuple, list)) or len(value) != len(self.elems):
            raise CodecError(f"expected a {len(self.elems)}-tuple {self.name}, got {_describe(value)}")
        parts = []
        last = len(self.elems) - 1
        for i, (codec, v) in enumerate(zip(self.elems, value)):
            enc = codec.encode(v)
            if i < last:
                parts.append(_U32.pack(len(enc)))
            parts.append(enc)
        return b"".join(parts)

    def decode(self, data: bytes):
        out = []
        pos = 0
        last = len(self.elems) - 1
        for i, codec in enumerate(self.elems):
            if i == last:
                out.append(codec.decode(data[pos:]))
                break
            if pos + 4 > len(data):
                raise CodecError(f"record of {len(data)} bytes is too short for {self.name}")
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            if pos + n > len(data):
                raise CodecError(f"tuple field length {n} exceeds the record")
            out.append(codec.decode(data[pos:pos + n]))
            pos += n
        return tuple(out)


    def encode_many(self, values) -> list:
        if len(self.elems) != 2 or not values:
            return super().encode_many(values)
        try:
            if not set(map(type, values)) <= _SEQUENCES or set(map(len, values)) != _TWO:
                raise TypeError
            keys = self.elems[0].encode_many(list(map(_first, values)))
            rest = self.elems[1].encode_many(list(map(_second, values)))
        except (CodecError, TypeError):
            return super().encode_many(values)
        return list(map(b"".join, zip(map(_U32.pack, map(len, keys)), keys, rest)))

    def decode_many(self, records) -> list:
        if len(self.elems) != 2 or not records:
            return super().decode_many(records)
        try:
            cuts = list(map(_FOUR.__add__, map(_first, map(_U32.unpack_from, records))))
            if any(map(operator.gt, cuts, map(len, records))):
                raise TypeError
            keys = self.elems[0].decode_many(list(map(bytes.__getitem__, records, map(slice, _repeat(4), cuts))))
            rest = self.elems[1].decode_many(list(map(bytes.__getitem__, records, map(slice, cuts, _repeat(None)))))
        except (CodecError, TypeError, struct.error):
            return super().decode_many(records)
        return list(zip(keys, rest))


class List(Codec):
    """`list<T>`: every element written as u32le length + encoding."""

    def __init__(self, elem: Codec):
        self.elem = elem
        self.name = f"list<{elem.name}>"

    def encode(self, value) -> bytes:
        parts = []
        for v in value:
            enc = self.elem.encode(v)
            parts.append(_U32.pack(len(enc)))
            parts.append(enc)
        return b"".join(parts)

    def decode(self, data: bytes):
        out = []
        pos = 0
        while pos < len(data):
            if pos + 4 > len(data):
                raise CodecError("list element length is cut off")
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            if pos + n > len(data):
                raise CodecError(f"list element length {n} exceeds the record")
            out.append(self.elem.decode(data[pos:pos + n]))
            pos += n
        return out


class Dynamic(Codec):
    """Encodes by the value's runtime type (str, bytes, int as s64, float, bool, None, tuple, list); cannot decode."""

    name = "dynamic"

    def __init__(self, why: str = "the record type is unknown: annotate the function's return type"):
        self.why = why

    def encode(self, value) -> bytes:
        return _infer(value).encode(value)

    def decode(self, data: bytes):
        raise CodecError(self.why)


STR = _Str()
BYTES = _Bytes()
S64 = _S64()
U64 = _U64Codec()
F64 = _F64Codec()
BOOL = _Bool()
UNIT = _Unit()
DYNAMIC = Dynamic()


class U64Type(int):
    """Annotation for an unsigned 64-bit integer (encoded as `u64` rather than `s64`)."""


def pair(key: Codec, value: Codec) -> Tuple:
    """The key/value pair codec `(K, V)`."""
    return Tuple(key, value)


def _describe(value) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def _infer(value) -> Codec:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, str):
        return STR
    if isinstance(value, int):
        return S64
    if isinstance(value, float):
        return F64
    if isinstance(value, (bytes, bytearray)):
        return BYTES
    if value is None:
        return UNIT
    if isinstance(value, tuple) and len(value) >= 2:
        return Tuple(*(_infer(v) for v in value))
    if isinstance(value, list):
        return List(_infer(value[0]) if value else UNIT)
    raise CodecError(f"cannot infer a record encoding for {_describe(value)}: annotate the function's return type")


def codec_for(annotation) -> Codec:
    """The codec for a type annotation (see the module docs); a `Codec` instance is returned as is."""
    if isinstance(annotation, Codec):
        return annotation
    if annotation is None or annotation is type(None):
        return UNIT
    if annotation is str:
        return STR
    if annotation is bytes:
        return BYTES
    if annotation is bool:
        return BOOL
    if annotation is U64Type:
        return U64
    if annotation is int:
        return S64
    if annotation is float:
        return F64
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(_types, "UnionType", typing.Union)):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return Option(codec_for(rest[0]))
    if origin is tuple and len(args) >= 2 and args[-1] is not Ellipsis:
        return Tuple(*(codec_for(a) for a in args))
    if origin is list and len(args) == 1:
        return List(codec_for(args[0]))
    raise CodecError(f"no record encoding for the annotation {annotation!r}")


def element_codec(annotation) -> Codec:
    """The codec of the elements of an iterable annotation (`list[T]`, `Iterable[T]`, `Iterator[T]`...)."""
    if isinstance(annotation, Codec):
        return annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is not None and len(args) == 1:
        return codec_for(args[0])
    raise CodecError(f"expected an iterable annotation like list[T], got {annotation!r}")


_FOUR = 4
_first = operator.itemgetter(0)
_second = operator.itemgetter(1)


_SEQUENCES = {tuple, list}
_TWO = {2}


def split_batch(data: bytes, ends) -> list:
    """The records of a batch (`data`, record `ends`); `CodecError` if the offsets do not fit the data."""
    n = len(data)
    if not ends:
        if n:
            raise CodecError(f"malformed batch: {n} data bytes but no records")
        return []
    starts = [0]
    starts += ends[:-1]
    if ends[-1] != n or not all(map(operator.le, starts, ends)):
        raise CodecError(f"malformed batch: record ends out of order or not ending at its {n} data bytes")
    return list(map(data.__getitem__, map(slice, starts, ends)))


def join_batch(records: list):
    """The batch (`data`, record `ends`) of encoded records."""
    return b"".join(records), list(_accumulate(map(len, records)))


def decode_batch(codec, data: bytes, ends):
    """The values of a batch's records, or None when `codec` has no whole-batch path (then decode its records).

    Pairs are cut straight out of the batch's bytes (no list of records in
    between); anything unusual (a short record, a key past its record)
    returns None so the per-record path names the record at fault.
    """
    if not isinstance(codec, Tuple) or len(codec.elems) != 2 or not ends or not isinstance(data, bytes):
        return None
    n = len(data)
    starts = [0]
    starts += ends[:-1]
    if ends[-1] != n or not all(map(operator.le, starts, ends)):
        return None
    kstarts = list(map(_FOUR.__add__, starts))
    if any(map(operator.gt, kstarts, ends)):
        return None
    kends = list(map(operator.add, kstarts, map(_first, map(_U32.unpack_from, _repeat(data), starts))))
    if any(map(operator.gt, kends, ends)):
        return None
    try:
        keys = codec.elems[0].decode_many(list(map(data.__getitem__, map(slice, kstarts, kends))))
        rest = codec.elems[1].decode_many(list(map(data.__getitem__, map(slice, kends, ends))))
    except CodecError:
        return None
    return list(zip(keys, rest))


def encode_batch(codec, values: list):
    """The batch (`data`, record `ends`) of `values`, or None when `codec` has no whole-batch path."""
    if codec is STR and values:
        try:
            text = "".join(values)
        except TypeError:
            return None
        if text.isascii():
            return text.encode("ascii"), list(_accumulate(map(len, values)))
    return None


def split_pair(record: bytes):
    """The (key bytes, value bytes) of a pair record."""
    if len(record) < 4:
        raise CodecError(f"record of {len(record)} bytes is too short for a pair")
    (n,) = _U32.unpack_from(record, 0)
    if 4 + n > len(record):
        raise CodecError(f"pair key length {n} exceeds the record")
    return record[4:4 + n], record[4 + n:]


def join_pair(key: bytes, value: bytes) -> bytes:
    """The pair record of encoded key and value."""
    return _U32.pack(len(key)) + key + value
