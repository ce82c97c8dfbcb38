"""The driver-side API: `Context` and `Rdd`, lazy handles over the host's lineage (the `driver` interface of `wit/task.wit`).

Transformations record a node and return a new `Rdd`; actions run a job.
Every `Rdd` knows the codec of its records (from the annotations of the
function that made it) so that `collect` and `take` give Python values back.
"""

from wit_world.imports import driver
from wit_world.imports import types as _types
from componentize_py_types import Err

from . import codec as _codec
from . import functions as _functions
from . import more as _more


class WispError(Exception):
    """A failed driver call (the host's message), or a job-level error raised by the job's main."""


def _call(f, *args):
    try:
        return f(*args)
    except Err as e:
        raise WispError(e.value) from None


def _op(kind, f, args: bytes = b"") -> _types.Op:
    if isinstance(f, _functions.Function):
        args = f.args
    return _types.Op(kind=kind, name=_functions.name_of(f), args=args)


def _local(f, what: str):
    if isinstance(f, _functions.Function):
        raise TypeError(f"{what} needs Python functions (they run in this component), not {f!r}")


def _batch(records) -> _types.Batch:
    ends, size = [], 0
    for r in records:
        size += len(r)
        ends.append(size)
    return _types.Batch(data=b"".join(records), ends=ends)


def _records(batch: _types.Batch):
    data, start, out = batch.data, 0, []
    for end in batch.ends:
        out.append(data[start:end])
        start = end
    return out


def _bound(f, input_codec):
    """`f` as the op for records of `input_codec` (a built-in may take its parameter from their type)."""
    bind = getattr(f, "bind", None)
    return bind(input_codec) if bind is not None and isinstance(f, _functions.Function) else f


def _default_partitions() -> int:
    return max(1, driver.default_parallelism())


class Context:
    """The job's entry into the engine (Spark's SparkContext)."""

    def conf(self, key: str):
        """Value of a configuration key (`--conf key=value`), or None."""
        return driver.conf(key)

    def default_parallelism(self) -> int:
        """Default number of partitions for shuffles."""
        return driver.default_parallelism()

    def text_file(self, path: str, min_partitions: int = 2) -> "Rdd":
        """The lines of a file or directory, as `str` records."""
        return Rdd(_call(driver.text_file, path, max(1, min_partitions)), _codec.STR)

    def parallelize(self, values, num_slices: int = 0, codec=None) -> "Rdd":
        """The given values (encoded with `codec`, a type annotation or a Codec; by runtime type if omitted)."""
        values = list(values)
        c = _codec.codec_for(codec) if codec is not None else (_codec._infer(values[0]) if values else _codec.DYNAMIC)
        batch = _batch([c.encode(v) for v in values])
        return Rdd(_call(driver.parallelize, batch, num_slices or _default_partitions()), c)

    def broadcast(self, value, codec=None):
        """Ships `value` to each executor once; returns its `wisp.Broadcast` (handles count from 0)."""
        from . import shared as _shared

        return _shared.make_broadcast(value, codec)

    def accumulator(self, kind: str = "long-sum", codec=None):
        """A new `wisp.Accumulator` of `kind` (handles count from 0)."""
        from . import shared as _shared

        return _shared.make_accumulator(kind, codec)

    def set_checkpoint_dir(self, path: str) -> None:
        """The directory `Rdd.checkpoint` writes into."""
        _call(driver.set_checkpoint_dir, path)

    def binary_lines(self, path: str, min_partitions: int = 2) -> "Rdd":
        """The lines of a file or directory as their raw `bytes` (no UTF-8 decoding; Latin-1 data stays as it is)."""
        return Rdd(_call(driver.binary_lines, path, max(1, min_partitions)), _codec.BYTES)

    def whole_text_files(self, path: str, min_partitions: int = 2) -> "Rdd":
        """One `(path, content)` pair of `str` per file of a directory (Spark's wholeTextFiles)."""
        return Rdd(_call(driver.whole_text_files, path, max(1, min_partitions)), _codec.Tuple(_codec.STR, _codec.STR))

    def load_functions(self, path: str) -> "_functions.Functions":
        """Loads a `functions` component (a library of another language's transformations, e.g. Rust) from `path`.

        Its functions, ``lib.fn("tokenize", returns=list[str])`` or
        ``lib["tokenize"]``, are used like Python ones:
        ``rdd.flat_map(lib.fn("tokenize", returns=list[str]))``. The path is
        read where the job's main runs (in cluster mode, on the master); the
        host ships the component to executors with the tasks.
        """
        return _functions.Functions(_call(driver.load_functions, path), path)

    def union(self, rdds) -> "Rdd":
        """The partitions of all the given RDDs, in order."""
        rdds = list(rdds)
        return Rdd(_call(driver.union, [r.id for r in rdds]), rdds[0].codec if rdds else _codec.DYNAMIC)


class Rdd:
    """A lazily computed, partitioned collection of records."""

    def __init__(self, rdd_id: int, codec: "_codec.Codec"):
        self.id = rdd_id
        self.codec = codec

    def _transform(self, kind, f, codec) -> "Rdd":
        return Rdd(_call(driver.transform, self.id, _op(kind, f), _functions.component_of(f)), codec)

    def _pair_parts(self):
        c = self.codec
        if isinstance(c, _codec.Tuple) and len(c.elems) == 2:
            return c.elems
        return _codec.DYNAMIC, _codec.DYNAMIC

    def _result(self, f, input_codec, elements: bool = False):
        """The codec of what `f` returns (each element when `elements`), a built-in's from its input's codec."""
        result_codec = getattr(f, "result_codec", None)
        if result_codec is not None:
            return result_codec(input_codec)
        return _functions.return_codec(f, elements=elements)

    # Transformations.
    def map(self, f) -> "Rdd":
        f = _bound(f, self.codec)
        return self._transform(_types.OpKind.MAP, f, self._result(f, self.codec))

    def filter(self, f) -> "Rdd":
        return self._transform(_types.OpKind.FILTER, f, self.codec)

    def flat_map(self, f) -> "Rdd":
        return self._transform(_types.OpKind.FLAT_MAP, f, self._result(f, self.codec, elements=True))

    def map_partitions(self, f) -> "Rdd":
        return self._transform(_types.OpKind.MAP_PARTITIONS, f, _functions.return_codec(f, elements=True))

    def map_values(self, f) -> "Rdd":
        k, v = self._pair_parts()
        f = _bound(f, v)
        return self._transform(_types.OpKind.MAP_VALUES, f, _codec.Tuple(k, self._result(f, v)))

    def flat_map_values(self, f) -> "Rdd":
        k, v = self._pair_parts()
        return self._transform(_types.OpKind.FLAT_MAP_VALUES, f, _codec.Tuple(k, self._result(f, v, elements=True)))

    def key_by(self, f) -> "Rdd":
        f = _bound(f, self.codec)
        return self._transform(_types.OpKind.KEY_BY, f, _codec.Tuple(self._result(f, self.codec), self.codec))

    def reduce_by_key(self, f, num_partitions: int = 0) -> "Rdd":
        """The values of each key merged with `f(v, v) -> v`, combining on the map side first.

        `f` may be a built-in aggregator (`wisp.builtins.sum`, `count`, `mean`...): the values of each key
        become its result (`count`: how many, `mean`: their mean as a float).
        """
        result_codec = getattr(f, "result_codec", None)
        if result_codec is None:
            return self._combine(f, num_partitions, self.codec)
        k, v = self._pair_parts()
        combined = self._combine(f, num_partitions, _codec.Tuple(k, result_codec(v)))
        return combined.map_values(f.then) if f.then is not None else combined

    def combine_by_key(self, create, merge_value, merge_combiners, num_partitions: int = 0) -> "Rdd":
        """Spark's combineByKey; the three must be module-level functions."""
        for f in (create, merge_value, merge_combiners):
            _local(f, "combine_by_key")
        agg = _functions.Aggregator(create, merge_value, merge_combiners)
        k = self._pair_parts()[0]
        return self._combine(agg, num_partitions, _codec.Tuple(k, _functions.return_codec(merge_combiners)))

    def _combine(self, f, num_partitions, codec) -> "Rdd":
        parts = num_partitions or _default_partitions()
        component = _functions.component_of(f)
        return Rdd(_call(driver.combine_by_key, self.id, _op(_types.OpKind.COMBINE, f), component, parts, True), codec)

    def group_by_key(self, num_partitions: int = 0) -> "Rdd":
        k, v = self._pair_parts()
        return Rdd(_call(driver.group_by_key, self.id, num_partitions or _default_partitions()), _codec.Tuple(k, _codec.List(v)))

    def join(self, other: "Rdd", num_partitions: int = 0) -> "Rdd":
        k, v = self._pair_parts()
        w = other._pair_parts()[1]
        rid = _call(driver.join, self.id, other.id, driver.JoinKind.INNER, num_partitions or _default_partitions())
        return Rdd(rid, _codec.Tuple(k, _codec.Tuple(v, w)))

    def sort_by_key(self, ascending: bool = True, num_partitions: int = 0) -> "Rdd":
        return Rdd(_call(driver.sort_by_key, self.id, ascending, num_partitions or _default_partitions()), self.codec)

    def distinct(self, num_partitions: int = 0) -> "Rdd":
        return Rdd(_call(driver.distinct, self.id, num_partitions or _default_partitions()), self.codec)

    def union(self, other: "Rdd") -> "Rdd":
        return Rdd(_call(driver.union, [self.id, other.id]), self.codec)

    def repartition(self, num_partitions: int) -> "Rdd":
        return Rdd(_call(driver.repartition, self.id, num_partitions), self.codec)

    def coalesce(self, num_partitions: int) -> "Rdd":
        return Rdd(_call(driver.coalesce, self.id, num_partitions), self.codec)

    def checkpoint(self) -> "Rdd":
        """Writes the partitions into the checkpoint directory now; the RDD returned reads them (lineage cut)."""
        return Rdd(_call(driver.checkpoint, self.id), self.codec)

    def local_checkpoint(self) -> "Rdd":
        """Keeps the partitions on the executors and computes them now."""
        return Rdd(_call(driver.local_checkpoint, self.id), self.codec)

    def glom(self) -> "Rdd":
        """Every partition as one list (Spark's glom)."""
        return _more.glom(self)

    def zip_with_index(self) -> "Rdd":
        """Each record paired with its index (partition order, then order within it); runs a job counting each partition first."""
        return _more.zip_with_index(self)

    def zip_with_unique_id(self) -> "Rdd":
        """Each record paired with a unique id: the k-th record of partition i of n gets ``k * n + i`` (no job runs)."""
        return _more.zip_with_unique_id(self)

    def subtract(self, other: "Rdd", num_partitions: int = 0) -> "Rdd":
        """The records not in `other`, duplicates kept (compared by their encoding)."""
        return _more.subtract(self, other, num_partitions or _default_partitions())

    def subtract_by_key(self, other: "Rdd", num_partitions: int = 0) -> "Rdd":
        """The pairs whose key does not occur in `other`."""
        return _more.subtract_by_key(self, other, num_partitions or _default_partitions())

    def intersection(self, other: "Rdd", num_partitions: int = 0) -> "Rdd":
        """The distinct records that occur in both RDDs."""
        return _more.intersection(self, other, num_partitions or _default_partitions())

    def cartesian(self, other: "Rdd") -> "Rdd":
        """Every pair `(a, b)` of a record of this RDD and one of `other`; `other` is collected and broadcast (it takes
        the next broadcast handle), so it should fit in memory. The result has this RDD's partitions."""
        return _more.cartesian(self, other)

    def cache(self) -> "Rdd":
        _call(driver.persist, self.id, driver.StorageLevel.MEMORY_ONLY)
        return self

    def num_partitions(self) -> int:
        return _call(driver.num_partitions, self.id)

    # Actions.
    def count(self) -> int:
        return _call(driver.count, self.id)

    def collect(self) -> list:
        return [self.codec.decode(r) for r in _records(_call(driver.collect, self.id))]

    def take(self, n: int) -> list:
        return [self.codec.decode(r) for r in _records(_call(driver.take, self.id, n))]

    def first(self):
        got = self.take(1)
        if not got:
            raise WispError("first() of an empty RDD")
        return got[0]

    def reduce(self, f):
        """The records reduced pairwise with `f(t, t) -> t` (per partition on executors, then here); or a built-in (`sum`, `min`...)."""
        if getattr(f, "python", None) is not None:
            batches = _call(driver.run_partitions, self.id, [_op(_types.OpKind.REDUCE, f)], f.component)
            values = [self.codec.decode(r) for b in batches for r in _records(b)]
            if not values:
                raise WispError("reduce() of an empty RDD")
            acc = values[0]
            for v in values[1:]:
                acc = f.python(acc, v)
            return acc
        _local(f, "reduce")
        c = _functions.param_codec(f, 0, "reduce")
        batches = _call(driver.run_partitions, self.id, [_op(_types.OpKind.REDUCE, f)], 0)
        values = [c.decode(r) for b in batches for r in _records(b)]
        if not values:
            raise WispError("reduce() of an empty RDD")
        acc = values[0]
        for v in values[1:]:
            acc = f(acc, v)
        return acc

    def fold(self, zero, f):
        """The records folded into `zero` with `f(acc, t) -> acc` in each partition, then the partitions' results."""
        _local(f, "fold")
        c = _functions.param_codec(f, 0, "fold")
        batches = _call(driver.run_partitions, self.id, [_op(_types.OpKind.FOLD, f, c.encode(zero))], 0)
        acc = zero
        for b in batches:
            for r in _records(b):
                acc = f(acc, c.decode(r))
        return acc

    def take_ordered(self, num: int, key=None) -> list:
        """The `num` smallest records in ascending order (by `key`, a module-level function, if given)."""
        return _more.take_ordered(self, num, key)

    def top(self, num: int, key=None) -> list:
        """The `num` largest records in descending order."""
        return _more.take_ordered(self, num, key, largest=True)

    def count_by_value(self) -> dict:
        """How many times each distinct record occurs (counted by the host's built-ins)."""
        return _more.count_by_value(self)

    def lookup(self, key) -> list:
        """The values of `key` in a pair RDD."""
        return _more.lookup(self, key)

    def sum(self):
        """The sum of int or float records (0 for none)."""
        return _more.sum_of(self)

    def stats(self) -> "_more.StatCounter":
        """Count, mean, variance, min and max of int or float records in one job (Spark's StatCounter)."""
        return _more.stats(self)

    def mean(self) -> float:
        """The mean (NaN for none)."""
        return self.stats().mean()

    def variance(self) -> float:
        """The population variance (NaN for none)."""
        return self.stats().variance()

    def stdev(self) -> float:
        """The population standard deviation."""
        return self.stats().stdev()

    def sample_variance(self) -> float:
        return self.stats().sample_variance()

    def sample_stdev(self) -> float:
        return self.stats().sample_stdev()

    def tree_aggregate(self, zero, seq_op, comb_op, depth: int = 2):
        """Spark's treeAggregate: each partition folded with `seq_op(acc, t)` from `zero`, the partial results combined
        with `comb_op(acc, acc)` in levels of reduce_by_key (``depth`` levels at most), the rest here from `zero`."""
        return _more.tree_aggregate(self, zero, seq_op, comb_op, depth)

    def tree_reduce(self, f, depth: int = 2):
        """Spark's treeReduce: `reduce` with the partitions' results combined in levels (WispError on an empty RDD)."""
        return _more.tree_reduce(self, f, depth)

    def save_as_text_file(self, path: str) -> None:
        """Writes `str` records as lines of part files in the new directory `path`."""
        _call(driver.save_as_text_file, self.id, path)
