"""The host's built-in functions (`wisp:builtins`): transformations that run natively in the host, at Rust speed.

Use them wherever a Python function goes; consecutive built-ins run together
in the host without entering this component's interpreter::

    from wisp import builtins as B

    counts = ctx.text_file(path).flat_map(B.split_whitespace).map(B.pair_with_one).reduce_by_key(B.sum)

Functions (record types in parentheses):

- ``split_whitespace`` (str → many str), ``split(delimiter)`` (str → many str): for `flat_map`;
- ``lower``, ``upper``, ``trim`` (str → str), ``parse_int`` (str → int),
  ``parse_float`` (str → float), ``csv_field(i)``, ``tsv_field(i)`` (str → str),
  ``json_field(name)`` (a JSON object line → str), ``pair_with_one`` (T → (T, 1)),
  ``format_pair(sep)`` ((K, V) → "K{sep}V", K and V each str, int, U64 or float):
  for `map`, `map_values`, `key_by`;
- aggregators for `reduce_by_key`: ``sum`` (int), ``sum_float`` (float), ``count``,
  ``min``, ``max`` (any type, by encoded bytes: numeric or code point order),
  ``mean`` (float; the per-key mean); and `Rdd.reduce` takes ``sum``,
  ``sum_float``, ``min``, ``max``.

A record a built-in cannot take (``parse_int`` of ``"abc"``, a CSV field
index out of range) fails the task with one line naming the built-in, the
record and the partition. Details: docs/languages/builtins.md.
"""

from wit_world.imports import driver

from . import codec as _codec
from .functions import Function

_PATH = "wisp:builtins"
_component = None


def _component_id() -> int:
    global _component
    if _component is None:
        from .rdd import _call

        _component = _call(driver.load_functions, _PATH)
    return _component


class Builtin(Function):
    """A built-in function: the op is named `name` in the host's library; `result(input_codec)` is the codec of what it returns."""

    def __init__(self, name: str, result, args: bytes = b"", elements: bool = False, python=None, then=None):
        self.name = name
        self.args = bytes(args)
        self.source = _PATH
        self.returns = None
        self._result = result
        self.elements = elements
        self.python = python
        self.then = then

    @property
    def component(self) -> int:
        return _component_id()

    def result_codec(self, input_codec):
        """The codec of the records it returns (of each, for a splitter) given its input's codec."""
        return self._result(input_codec)

    def bind(self, input_codec) -> "Builtin":
        """The op for records of `input_codec` (a built-in whose parameter depends on its input's type makes it there)."""
        return self

    def __repr__(self) -> str:
        suffix = f"({self.args.decode('utf-8', 'replace')!r})" if self.args else ""
        return f"<built-in {self.name}{suffix}>"


def _fixed(codec):
    return lambda _input: codec


def _same(input_codec):
    return input_codec


split_whitespace = Builtin("split_whitespace", _fixed(_codec.STR), elements=True)
lower = Builtin("lower", _fixed(_codec.STR))
upper = Builtin("upper", _fixed(_codec.STR))
trim = Builtin("trim", _fixed(_codec.STR))
parse_int = Builtin("parse_int", _fixed(_codec.S64))
parse_float = Builtin("parse_float", _fixed(_codec.F64))
pair_with_one = Builtin("pair_with_one", lambda c: _codec.Tuple(c, _codec.S64))
_mean_value = Builtin("mean_value", _fixed(_codec.F64))

sum = Builtin("sum", _fixed(_codec.S64), python=lambda a, b: a + b)  # noqa: A001 - the library's name
sum_float = Builtin("sum_float", _fixed(_codec.F64), python=lambda a, b: a + b)
count = Builtin("count", _fixed(_codec.S64))
min = Builtin("min", _same, python=lambda a, b: b if b < a else a)  # noqa: A001
max = Builtin("max", _same, python=lambda a, b: b if b > a else a)  # noqa: A001
mean = Builtin("mean", _fixed(_codec.Tuple(_codec.F64, _codec.S64)), then=_mean_value)


def split(delimiter: str) -> Builtin:
    """Every piece of a string between `delimiter`s (empty pieces included, as `str.split(delimiter)`)."""
    if not delimiter:
        raise ValueError("split: the delimiter is empty")
    return Builtin("split", _fixed(_codec.STR), delimiter.encode("utf-8"), elements=True)


def csv_field(index: int) -> Builtin:
    """Field `index` (0-based) of a CSV line (RFC 4180 quoting)."""
    return Builtin("csv_field", _fixed(_codec.STR), str(int(index)).encode())


def tsv_field(index: int) -> Builtin:
    """Field `index` (0-based) of a tab-separated line."""
    return Builtin("tsv_field", _fixed(_codec.STR), str(int(index)).encode())


def json_field(name: str) -> Builtin:
    """The top-level field `name` of a JSON object line: a string's text, else the value's JSON text."""
    return Builtin("json_field", _fixed(_codec.STR), name.encode("utf-8"))


_TEXT_TYPES = {"string": "str", "s64": "s64", "u64": "u64", "f64": "f64"}


class _FormatPair(Builtin):
    """`format_pair`: its parameter names the pair's key and value types, taken from the input's codec."""

    def __init__(self, sep: str):
        super().__init__("format_pair", _fixed(_codec.STR))
        self.sep = sep

    def bind(self, input_codec) -> Builtin:
        elems = getattr(input_codec, "elems", None)
        types = [_TEXT_TYPES.get(e.name) for e in elems] if elems is not None and len(elems) == 2 else [None]
        if None in types:
            raise TypeError(
                f"format_pair takes (key, value) pairs of str, int, wisp.U64 or float records, not {input_codec!r}"
            )
        return Builtin("format_pair", _fixed(_codec.STR), f"{types[0]}:{types[1]}:{self.sep}".encode("utf-8"))


def format_pair(sep: str = "\t") -> Builtin:
    """Each (key, value) pair as the line ``f"{key}{sep}{value}"`` (a word count's output line); key and value are
    each a str, int, wisp.U64 or float (a float in Rust's shortest form: ``1``, not ``1.0``)."""
    return _FormatPair(sep)
