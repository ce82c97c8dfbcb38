"""The rest of Spark's RDD API (`Rdd.take_ordered`, `zip_with_index`, `subtract`, `stats`, `tree_aggregate`...), built on the driver calls.

Their tasks run SDK functions defined here, shipped by name as any op is.
Such a function is a *factory* (marked by `_factory`): the task calls it
with the op's parameters and its partition index and runs the function it
returns, whose annotations are codecs. The parameters are a ``list<bytes>``
of fields; a record type travels as its codec's name (`parse_codec`).
Where the records only move, the tasks handle their encoded bytes (a
``(bytes, bytes)`` pair is encoded as a ``(K, V)`` pair of any K and V), so
nothing needs decoding there; ordering, numbers and user functions decode.
"""

import functools
import heapq
import math

from wit_world.imports import driver
from wit_world.imports import types as _types

from . import builtins as _builtins
from . import codec as _codec
from . import functions as _functions

_PARAMS = _codec.List(_codec.BYTES)
_RAW = _codec.BYTES
_RAW_LIST = _codec.List(_codec.BYTES)
_RAW_PAIR = _codec.Tuple(_codec.BYTES, _codec.BYTES)
_STATS = _codec.Tuple(_codec.S64, _codec.F64, _codec.F64, _codec.F64, _codec.F64)


def _factory(f):
    f._wisp_factory = True
    _functions.fn(f)
    return f


def _typed(g, params: list, result):
    """`g` with codec annotations: its parameters' codecs in order, then what it returns (each element's, for flat ops)."""
    names = g.__code__.co_varnames[: g.__code__.co_argcount]
    g.__annotations__ = dict(zip(names, params))
    g.__annotations__["return"] = result
    return g


# Codec names (`Codec.name`) back to codecs.
_SCALARS = {
    "string": _codec.STR,
    "bytes": _codec.BYTES,
    "s64": _codec.S64,
    "u64": _codec.U64,
    "f64": _codec.F64,
    "bool": _codec.BOOL,
    "unit": _codec.UNIT,
}


def parse_codec(name: str) -> "_codec.Codec":
    """The codec whose `name` this is (``string``, ``(s64, list<string>)``, ``option<f64>``...)."""
    c, rest = _parse(name.replace(" ", ""))
    if rest:
        raise _codec.CodecError(f"cannot parse the record type {name!r}")
    return c


def _parse(s: str):
    if s.startswith("("):
        elems, s = [], s[1:]
        while True:
            c, s = _parse(s)
            elems.append(c)
            if s.startswith(")"):
                return _codec.Tuple(*elems), s[1:]
            if not s.startswith(","):
                raise _codec.CodecError("a tuple type is not closed")
            s = s[1:]
    for prefix, make in (("list<", _codec.List), ("option<", _codec.Option)):
        if s.startswith(prefix):
            c, s = _parse(s[len(prefix):])
            if not s.startswith(">"):
                raise _codec.CodecError(f"{prefix}...> is not closed")
            return make(c), s[1:]
    for name, c in _SCALARS.items():
        if s.startswith(name):
            return c, s[len(name):]
    raise _codec.CodecError(f"unknown record type at {s[:20]!r}")


def _params(*fields) -> bytes:
    return _PARAMS.encode([f if isinstance(f, bytes) else str(f).encode("utf-8") for f in fields])


def _fields(args: bytes) -> list:
    return _PARAMS.decode(bytes(args))


def _decodable(rdd, what: str):
    if isinstance(rdd.codec, _codec.Dynamic):
        raise TypeError(f"{what} needs the record type: annotate the return type of the function that made the RDD")
    return rdd.codec


def _apply(rdd, kind, factory, params: bytes, codec):
    from .rdd import Rdd, _call

    op = _types.Op(kind=kind, name=_functions.name_of(factory), args=params)
    return Rdd(_call(driver.transform, rdd.id, op, 0), codec)


def _collect_raw(rdd) -> list:
    from .rdd import _call, _records

    return _records(_call(driver.collect, rdd.id))


# Task-side factories.


@_factory
def _glom(args, partition):
    return _typed(lambda it: [list(it)], [_RAW_LIST], _RAW_LIST)


@_factory
def _ordered(args, partition):
    """The `n` smallest (or largest) of the partition, by a key function or none."""
    cname, n, largest, key = (f.decode() for f in _fields(args))
    c, n = parse_codec(cname), int(n)
    key = _functions.resolve(key) if key else None
    pick = heapq.nlargest if largest == "1" else heapq.nsmallest
    return _typed(lambda it: pick(n, it, key=key), [_codec.List(c)], c)


@_factory
def _partition_size(args, partition):
    return _typed(lambda it: [(partition, sum(1 for _ in it))], [_RAW_LIST], _codec.Tuple(_codec.S64, _codec.S64))


@_factory
def _indexed(args, partition):
    """Records paired with their index: `start + k` (zip_with_index) or `k * step + partition` (zip_with_unique_id)."""
    mode, value = (f.decode() for f in _fields(args))
    if mode == "offsets":
        offsets = [int(x) for x in value.split(",")] if value else []
        start, step = (offsets[partition] if partition < len(offsets) else 0), 1
        return _typed(lambda it: [(r, start + k) for k, r in enumerate(it)], [_RAW_LIST], _codec.Tuple(_RAW, _codec.S64))
    n = int(value)
    return _typed(lambda it: [(r, k * n + partition) for k, r in enumerate(it)], [_RAW_LIST], _codec.Tuple(_RAW, _codec.S64))


@_factory
def _only_left(args, partition):
    """Cogroup records `(k, ([v...], [w...]))`: the pairs (k, v) of keys with no w."""
    cin = _codec.Tuple(_RAW, _codec.Tuple(_RAW_LIST, _RAW_LIST))
    return _typed(lambda r: [(r[0], v) for v in r[1][0]] if not r[1][1] else [], [cin], _RAW_PAIR)


@_factory
def _in_both(args, partition):
    """Cogroup records: the keys with values on both sides."""
    cin = _codec.Tuple(_RAW, _codec.Tuple(_RAW_LIST, _RAW_LIST))
    return _typed(lambda r: [r[0]] if r[1][0] and r[1][1] else [], [cin], _RAW)


@_factory
def _first(args, partition):
    return _typed(lambda r: r[0], [_RAW_PAIR], _RAW)


@_factory
def _with_broadcast(args, partition):
    """Each record paired with every element of a broadcast list (cartesian)."""
    from . import shared as _shared

    bc = _shared.Broadcast(int(_fields(args)[0].decode()), _RAW_LIST)
    return _typed(lambda r: [(r, y) for y in bc.value], [_RAW], _RAW_PAIR)


@_factory
def _key_is(args, partition):
    key = _fields(args)[0]
    return _typed(lambda r: r[0] == key, [_RAW_PAIR], _codec.BOOL)


@_factory
def _partition_stats(args, partition):
    c = parse_codec(_fields(args)[0].decode())

    def stats(it):
        s = StatCounter()
        for x in it:
            s.add(x)
        return [(s.n, s.mu, s.m2, s.hi, s.lo)]

    return _typed(stats, [_codec.List(c)], _STATS)


@_factory
def _fold_partition(args, partition):
    """The partition folded with `seq_op` from `zero` (tree_aggregate's first level)."""
    name, zero = _fields(args)
    seq = _functions.resolve(name.decode())
    cacc = _functions.param_codec(seq, 0, "tree_aggregate")
    cin = _functions.param_codec(seq, 1, "tree_aggregate")
    return _typed(lambda it: [functools.reduce(seq, it, cacc.decode(zero))], [_codec.List(cin)], cacc)


@_factory
def _reduce_partition(args, partition):
    """The partition reduced with `f` (nothing for an empty one): tree_reduce's first level."""
    f = _functions.resolve(_fields(args)[0].decode())
    c = _functions.param_codec(f, 0, "tree_reduce")

    def reduce(it):
        values = list(it)
        return [functools.reduce(f, values)] if values else []

    return _typed(reduce, [_codec.List(c)], c)


@_factory
def _keyed_by_partition(args, partition):
    m = int(_fields(args)[0].decode())
    return _typed(lambda r: (partition % m, r), [_RAW], _codec.Tuple(_codec.S64, _RAW))


@_factory
def _second(args, partition):
    return _typed(lambda r: r[1], [_codec.Tuple(_codec.S64, _RAW)], _RAW)


# Driver-side operations (the `Rdd` methods call these).


def glom(rdd):
    return _apply(rdd, _types.OpKind.MAP_PARTITIONS, _glom, b"", _codec.List(rdd.codec))


def take_ordered(rdd, n: int, key=None, largest: bool = False) -> list:
    c = _decodable(rdd, "take_ordered/top")
    if n <= 0:
        return []
    keyname = _functions.name_of(key) if key is not None else ""
    params = _params(c.name, n, "1" if largest else "0", keyname)
    best = _apply(rdd, _types.OpKind.MAP_PARTITIONS, _ordered, params, c)
    values = [c.decode(r) for r in _collect_raw(best)]
    return (heapq.nlargest if largest else heapq.nsmallest)(n, values, key=key)


def count_by_value(rdd) -> dict:
    c = _decodable(rdd, "count_by_value")
    counts = rdd.map(_builtins.pair_with_one).reduce_by_key(_builtins.sum)
    pair = _codec.Tuple(c, _codec.S64)
    return dict(pair.decode(r) for r in _collect_raw(counts))


def zip_with_index(rdd):
    sizes = _apply(rdd, _types.OpKind.MAP_PARTITIONS, _partition_size, b"", _codec.Tuple(_codec.S64, _codec.S64))
    counts = dict(sizes.codec.decode(r) for r in _collect_raw(sizes))
    offsets, start = [], 0
    for i in range(rdd.num_partitions()):
        offsets.append(start)
        start += counts.get(i, 0)
    params = _params("offsets", ",".join(map(str, offsets)))
    return _apply(rdd, _types.OpKind.MAP_PARTITIONS, _indexed, params, _codec.Tuple(rdd.codec, _codec.S64))


def zip_with_unique_id(rdd):
    params = _params("step", rdd.num_partitions())
    return _apply(rdd, _types.OpKind.MAP_PARTITIONS, _indexed, params, _codec.Tuple(rdd.codec, _codec.S64))


def _cogroup(a, b, num_partitions: int):
    from .rdd import Rdd, _call

    return Rdd(_call(driver.cogroup, [a.id, b.id], num_partitions), None)


def subtract_by_key(rdd, other, num_partitions: int = 0):
    grouped = _cogroup(rdd, other, num_partitions)
    return _apply(grouped, _types.OpKind.FLAT_MAP, _only_left, b"", rdd.codec)


def subtract(rdd, other, num_partitions: int = 0):
    keyed = subtract_by_key(rdd.map(_builtins.pair_with_one), other.map(_builtins.pair_with_one), num_partitions)
    return _apply(keyed, _types.OpKind.MAP, _first, b"", rdd.codec)


def intersection(rdd, other, num_partitions: int = 0):
    grouped = _cogroup(rdd.map(_builtins.pair_with_one), other.map(_builtins.pair_with_one), num_partitions)
    return _apply(grouped, _types.OpKind.FLAT_MAP, _in_both, b"", rdd.codec)


def cartesian(rdd, other):
    from . import shared as _shared

    right = _shared.make_broadcast(_collect_raw(other), _RAW_LIST)
    params = _params(right.id)
    return _apply(rdd, _types.OpKind.FLAT_MAP, _with_broadcast, params, _codec.Tuple(rdd.codec, other.codec))


def lookup(rdd, key) -> list:
    k, v = rdd._pair_parts()
    if isinstance(k, _codec.Dynamic) or isinstance(v, _codec.Dynamic):
        raise TypeError("lookup needs the pair types: annotate the return type of the function that made the RDD")
    hits = _apply(rdd, _types.OpKind.FILTER, _key_is, _params(k.encode(key)), rdd.codec)
    return [rdd.codec.decode(r)[1] for r in _collect_raw(hits)]


class StatCounter:
    """Count, mean, variance, min and max of numbers (Spark's StatCounter), merged from each partition's."""

    def __init__(self):
        self.n, self.mu, self.m2, self.hi, self.lo = 0, 0.0, 0.0, -math.inf, math.inf

    def add(self, x) -> "StatCounter":
        x = float(x)
        self.n += 1
        delta = x - self.mu
        self.mu += delta / self.n
        self.m2 += delta * (x - self.mu)
        self.hi, self.lo = max(self.hi, x), min(self.lo, x)
        return self

    def merge(self, n, mu, m2, hi, lo) -> "StatCounter":
        if n == 0:
            return self
        if self.n == 0:
            self.n, self.mu, self.m2, self.hi, self.lo = n, mu, m2, hi, lo
            return self
        total = self.n + n
        delta = mu - self.mu
        self.mu += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total
        self.hi, self.lo = max(self.hi, hi), min(self.lo, lo)
        return self

    def count(self) -> int:
        return self.n

    def mean(self) -> float:
        return self.mu if self.n else math.nan

    def sum(self) -> float:
        return self.mu * self.n

    def max(self) -> float:
        return self.hi

    def min(self) -> float:
        return self.lo

    def variance(self) -> float:
        """The population variance (NaN for no numbers)."""
        return self.m2 / self.n if self.n else math.nan

    def sample_variance(self) -> float:
        """The sample variance (NaN for fewer than two numbers)."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    def stdev(self) -> float:
        return math.sqrt(self.variance())

    def sample_stdev(self) -> float:
        return math.sqrt(self.sample_variance())

    def __repr__(self) -> str:
        return f"(count: {self.n}, mean: {self.mean()}, stdev: {self.stdev()}, max: {self.hi}, min: {self.lo})"


def _numbers(rdd, what: str):
    c = rdd.codec
    if c is not _codec.S64 and c is not _codec.F64:
        raise TypeError(f"{what} needs int or float records, not {c!r}")
    return c


def stats(rdd) -> StatCounter:
    c = _numbers(rdd, "stats")
    parts = _apply(rdd, _types.OpKind.MAP_PARTITIONS, _partition_stats, _params(c.name), _STATS)
    s = StatCounter()
    for r in _collect_raw(parts):
        s.merge(*_STATS.decode(r))
    return s


def sum_of(rdd):
    """The sum: exact for ints (in the host's built-in `sum`, which fails on overflow), 0 for none."""
    c = _numbers(rdd, "sum")
    f = _builtins.sum if c is _codec.S64 else _builtins.sum_float
    from .rdd import _call, _records

    batches = _call(driver.run_partitions, rdd.id, [_types.Op(kind=_types.OpKind.REDUCE, name=f.name, args=b"")], f.component)
    total = 0 if c is _codec.S64 else 0.0
    for b in batches:
        for r in _records(b):
            total += c.decode(r)
    return total


def _tree(partials, comb, depth: int):
    """Spark's treeAggregate levels over `partials` (one record per partition at most): combined with `comb` by
    `partition % m` into `m` partitions while that still shrinks the work."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    count = partials.num_partitions()
    scale = max(math.ceil(count ** (1.0 / depth)), 2)
    while count > scale + math.ceil(count / scale):
        count //= scale
        keyed = _apply(partials, _types.OpKind.MAP, _keyed_by_partition, _params(count), None)
        keyed.codec = _codec.Tuple(_codec.S64, partials.codec)
        combined = keyed.reduce_by_key(comb, count)
        partials = _apply(combined, _types.OpKind.MAP, _second, b"", partials.codec)
    return [partials.codec.decode(r) for r in _collect_raw(partials)]


def tree_aggregate(rdd, zero, seq_op, comb_op, depth: int = 2):
    for f in (seq_op, comb_op):
        if isinstance(f, _functions.Function):
            raise TypeError(f"tree_aggregate needs Python functions (they run in this component), not {f!r}")
    cacc = _functions.param_codec(seq_op, 0, "tree_aggregate")
    params = _params(_functions.name_of(seq_op), cacc.encode(zero))
    partials = _apply(rdd, _types.OpKind.MAP_PARTITIONS, _fold_partition, params, cacc)
    _functions.name_of(comb_op)
    acc = zero
    for v in _tree(partials, comb_op, depth):
        acc = comb_op(acc, v)
    return acc


def tree_reduce(rdd, f, depth: int = 2):
    from .rdd import WispError

    if isinstance(f, _functions.Function):
        raise TypeError(f"tree_reduce needs a Python function (it runs in this component), not {f!r}")
    c = _functions.param_codec(f, 0, "tree_reduce")
    partials = _apply(rdd, _types.OpKind.MAP_PARTITIONS, _reduce_partition, _params(_functions.name_of(f)), c)
    values = _tree(partials, f, depth)
    if not values:
        raise WispError("tree_reduce() of an empty RDD")
    return functools.reduce(f, values)
