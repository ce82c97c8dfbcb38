"""The guest half of a task: the `pipeline.task` resource, a chain of ops run over one partition batch by batch.

The chain works a batch at a time: the batch's records are decoded at once
with the codec the first function's parameter annotation gives, every op
runs over the whole list of values (`map`, `filter` and `flat_map` as C-level
`map`/`filter`/`chain` over the user function; `combine`/`merge` into a plain
`dict`), and only the chain's last op's values are encoded. Between two ops
Python objects pass as they are when the first op's return annotation is the
second op's parameter annotation (as the Rust SDK keeps typed values);
otherwise they are encoded and decoded again. Key bytes of pairs pass
through `map_values`, `flat_map_values`, `combine` and `merge` unchanged.
Any exception (a user function raising, a record of the wrong encoding)
becomes the task's error: the exception message first, then the Python
traceback. One `try` per op and batch, none per record: the record at fault
is looked up only once a batch failed.

The cyclic garbage collector is off while a batch runs (its collections,
triggered every few hundred new tuples, cost more than the ops themselves
in the component's interpreter): after each batch a collection of the young
generations frees whatever cycles the batch made.
"""

import functools
import gc
import operator
import re
import traceback
from itertools import chain as _chain

from . import codec as _codec
from . import functions as _functions


class TaskError(Exception):
    """A failure of one op, already formatted as the task's error message."""


def format_traceback(exc: BaseException, skip: int = 0) -> str:
    """The traceback of `exc` without its first `skip` frames, with the sources' paths as the build gave them.

    componentize-py mounts the build's `-p` directories as `/0`, `/1`...: those
    prefixes are left out so a frame reads ``File "job.py", line 9, in f``.
    """
    frames = exc.__traceback__
    for _ in range(skip):
        if frames is not None:
            frames = frames.tb_next
    tb = "".join(traceback.format_exception(type(exc), exc, frames)).rstrip()
    return re.sub(r'File "/\d+/', 'File "', tb)


def _user_error(name: str, exc: BaseException) -> TaskError:
    # The first frame is the SDK's call into the user function: leave it out.
    return TaskError(f"python function {name} raised {type(exc).__name__}: {exc}\n{format_traceback(exc, skip=1)}")


def _preview(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode_error(name: str, codec, record: bytes, e) -> TaskError:
    if isinstance(codec, _codec.Tuple) and codec.elems[0] is _codec.BYTES and len(codec.elems) == 2:
        return TaskError(
            f"op {name}: an input record ({len(record)} bytes: {_preview(bytes(record))}) is not a pair whose value "
            f"is the {codec.elems[1].name} its parameter annotation declares: {e}"
        )
    return TaskError(
        f"op {name}: an input record ({len(record)} bytes: {_preview(bytes(record))}) is not the {codec.name} "
        f"its parameter annotation declares: {e}"
    )


def _bad_result(name: str, codec, value, e) -> TaskError:
    if isinstance(codec, _codec.Dynamic):
        return TaskError(f"op {name}: the python function returned {type(value).__name__} {_preview(value)}: {e}")
    return TaskError(
        f"op {name}: the python function returned {type(value).__name__} {_preview(value)}, "
        f"not the {codec.name} its return annotation declares ({e})"
    )


def decode_all(name: str, codec, records: list) -> list:
    """`records` decoded; a record that is not of `codec`'s encoding fails op `name` naming the record."""
    try:
        return codec.decode_many(records)
    except _codec.CodecError:
        for r in records:
            try:
                codec.decode(r)
            except _codec.CodecError as e:
                raise _decode_error(name, codec, r, e) from None
        raise


def encode_all(name: str, codec, values: list) -> list:
    """`values` encoded; a value `codec` cannot encode fails op `name` (which produced it) naming the value."""
    try:
        return codec.encode_many(values)
    except _codec.CodecError:
        for v in values:
            try:
                codec.encode(v)
            except _codec.CodecError as e:
                raise _bad_result(name, _result_codec(codec), _result_value(codec, v), e) from None
        raise


def _result_codec(codec):
    # A pair op's record codec is (key, result): name the result's codec.
    return getattr(codec, "result", codec)


def _result_value(codec, v):
    return v[1] if getattr(codec, "result", None) is not None and isinstance(v, tuple) else v


def _pair_with(key, value) -> "_codec.Tuple":
    """The record codec of pairs (key, value) whose value is a function's result (named in errors)."""
    t = _codec.Tuple(key, value)
    t.result = value
    return t


# Key codecs whose decoded values sort as their encodings do (str by code point = UTF-8 byte order).
_NATURAL_KEYS = ("string", "bytes", "s64", "u64")


class Stage:
    """One op of the chain over a whole batch of values.

    `cin` is the record codec of its input and `cout` that of its output;
    `link(prev)` chooses `cin` given the previous op's `cout` (None for the
    chain's input bytes) and says whether the previous op's values can be
    taken as they are. `run` maps a list of values to a list; `finish` returns
    what is left when the input ends.
    """

    pair_input = False

    def __init__(self, name, f, args: bytes):
        self.name = name
        self.f = f
        self.args = args
        self.cin = self.cout = None

    def link(self, prev, hint=None) -> bool:
        self.cout = self.out_codec(self.cin)
        return prev is not None and _same(prev, self.cin)

    def out_codec(self, cin):
        return cin

    def user_error(self, e: BaseException) -> TaskError:
        return _user_error(self.name, e)

    def finish(self) -> list:
        return []


def _same(a, b) -> bool:
    return a.name == b.name and not isinstance(a, _codec.Dynamic) and not isinstance(b, _codec.Dynamic)


class MapStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "map")
        self.result = _functions.return_codec(f)

    def out_codec(self, cin):
        return self.result

    def run(self, values):
        try:
            return list(map(self.f, values))
        except Exception as e:  # noqa: BLE001 - every user failure fails the task with its message
            raise self.user_error(e) from None


class FilterStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "filter")

    def run(self, values):
        try:
            return list(filter(self.f, values))
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None


class FlatMapStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "flat_map")
        self.result = _functions.return_codec(f, elements=True)

    def out_codec(self, cin):
        return self.result

    def run(self, values):
        try:
            return list(_chain.from_iterable(map(self.f, values)))
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None


class MapPartitionsStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        cin = _functions.param_codec(f, 0, "map_partitions")
        self.cin = getattr(cin, "elem", cin)
        self.result = _functions.return_codec(f, elements=True)
        self.records = []

    def out_codec(self, cin):
        return self.result

    def run(self, values):
        self.records += values
        return []

    def finish(self):
        records, self.records = self.records, []
        try:
            return list(self.f(iter(records)) or ())
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None


class PairStage(Stage):
    """An op over pairs whose function sees the value: the key passes as it is (decoded or as raw bytes)."""

    pair_input = True
    natural_keys_only = False

    def link(self, prev, hint=None) -> bool:
        """`hint`: the next op's input codec, whose key codec raw keys are decoded with when nothing comes before."""
        key = _codec.BYTES
        if (
            prev is None
            and isinstance(hint, _codec.Tuple)
            and len(hint.elems) == 2
            and hint.elems[0].name in _NATURAL_KEYS
        ):
            key = hint.elems[0]
        same = (
            prev is not None
            and isinstance(prev, _codec.Tuple)
            and len(prev.elems) == 2
            and _same(prev.elems[1], self.value_in)
            and (not self.natural_keys_only or prev.elems[0].name in _NATURAL_KEYS)
        )
        if same:
            key = prev.elems[0]
        self.cin = _codec.Tuple(key, self.value_in)
        self.cout = _pair_with(key, self.value_out)
        return same


class MapValuesStage(PairStage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.value_in = _functions.param_codec(f, 0, "map_values")
        self.value_out = _functions.return_codec(f)

    def run(self, pairs):
        try:
            return list(zip(map(_first, pairs), map(self.f, map(_second, pairs))))
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None


class FlatMapValuesStage(PairStage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.value_in = _functions.param_codec(f, 0, "flat_map_values")
        self.value_out = _functions.return_codec(f, elements=True)

    def run(self, pairs):
        f = self.f
        try:
            return [(k, x) for k, v in pairs for x in f(v)]
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None


class KeyByStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "key_by")
        self.result = _functions.return_codec(f)

    def out_codec(self, cin):
        return _codec.Tuple(self.result, cin)

    def run(self, values):
        try:
            return list(zip(map(self.f, values), values))
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None


class AggregateStage(PairStage):
    """`combine` (values into combiners) or `merge` (combiners into combiners), per key, out when the input ends.

    The combiners live in a plain dict keyed by the decoded key (strings,
    bytes and integers only: their order is their encodings' order) or by
    the key's bytes; out they go in ascending key order, the order
    wit/task.wit fixes for combine/merge output.
    """

    natural_keys_only = True

    def __init__(self, name, f, args, merge: bool):
        super().__init__(name, f, args)
        if isinstance(f, _functions.Aggregator):
            ccomb = _functions.param_codec(f.merge_combiners, 0, "combine_by_key")
            if merge:
                self.value_in, self.create, self.add = ccomb, None, f.merge_combiners
            else:
                self.value_in = _functions.param_codec(f.merge_value, 1, "combine_by_key")
                self.create, self.add = f.create, f.merge_value
            self.value_out = ccomb
        else:
            # A reducer f(v, v) -> v: the combiner is the value itself.
            self.value_in = self.value_out = _functions.param_codec(f, 0, "reduce_by_key")
            self.create, self.add = None, f
        self.table = {}

    def run(self, pairs):
        table, add, create = self.table, self.add, self.create
        get = table.get
        try:
            if create is None:
                for k, v in pairs:
                    c = get(k, _NONE)
                    table[k] = v if c is _NONE else add(c, v)
            else:
                for k, v in pairs:
                    c = get(k, _NONE)
                    table[k] = create(v) if c is _NONE else add(c, v)
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None
        return []

    def finish(self):
        table, self.table = self.table, {}
        return [(k, table[k]) for k in sorted(table)]


class FoldStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cacc = _functions.param_codec(f, 0, "fold")
        self.cin = _functions.param_codec(f, 1, "fold")
        self.acc = decode_all(name, self.cacc, [bytes(args)])[0]

    def out_codec(self, cin):
        return self.cacc

    def run(self, values):
        try:
            self.acc = functools.reduce(self.f, values, self.acc)
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None
        return []

    def finish(self):
        return [self.acc]


class ReduceStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "reduce")
        self.acc = _NONE

    def run(self, values):
        if not values:
            return []
        try:
            if self.acc is _NONE:
                self.acc = functools.reduce(self.f, values)
            else:
                self.acc = functools.reduce(self.f, values, self.acc)
        except Exception as e:  # noqa: BLE001
            raise self.user_error(e) from None
        return []

    def finish(self):
        if self.acc is _NONE:
            return []
        acc, self.acc = self.acc, _NONE
        return [acc]


_NONE = object()
_first = operator.itemgetter(0)
_second = operator.itemgetter(1)


_STAGES = {
    "MAP": MapStage,
    "FILTER": FilterStage,
    "FLAT_MAP": FlatMapStage,
    "MAP_PARTITIONS": MapPartitionsStage,
    "MAP_VALUES": MapValuesStage,
    "FLAT_MAP_VALUES": FlatMapValuesStage,
    "KEY_BY": KeyByStage,
    "COMBINE": lambda n, f, a: AggregateStage(n, f, a, merge=False),
    "MERGE": lambda n, f, a: AggregateStage(n, f, a, merge=True),
    "FOLD": FoldStage,
    "REDUCE": ReduceStage,
}


class Chain:
    """The ops of one task, fused: each batch flows through every stage in order as a list of values."""

    def __init__(self, ops, partition: int):
        self.partition = partition
        self.stages = []
        for op in ops:
            kind = op.kind.name
            make = _STAGES.get(kind)
            if make is None:
                raise TaskError(f"op kind {kind} is not supported by the Python SDK")
            try:
                f = _functions.resolve(op.name)
                if getattr(f, "_wisp_factory", False):
                    # An SDK function (wisp.more): made for this op's parameters and partition.
                    f = f(op.args, partition)
                self.stages.append(make(op.name, f, op.args))
            except (LookupError, TypeError, _codec.CodecError) as e:
                raise TaskError(f"op {op.name} ({kind.lower().replace('_', '-')}): {e}") from None
        # passes[i]: stage i takes stage i-1's values as they are (else they are encoded and decoded again).
        self.passes = []
        prev = None
        for i, stage in enumerate(self.stages):
            hint = self.stages[i + 1].cin if i + 1 < len(self.stages) else None
            self.passes.append(stage.link(prev, hint))
            prev = stage.cout

    def _through(self, first: int, values: list, records=None, first_decoded: bool = False) -> list:
        """Runs stages `first`.. over `values` (or over the encoded `records` when `values` is None).

        `first_decoded`: `values` are already stage `first`'s input, decoded from the batch.
        """
        stages = self.stages
        for i in range(first, len(stages)):
            stage = stages[i]
            if values is None:
                values = decode_all(stage.name, stage.cin, records)
            elif first_decoded and i == first:
                pass
            elif not self.passes[i]:
                prev = stages[i - 1]
                values = decode_all(stage.name, stage.cin, encode_all(prev.name, prev.cout, values))
            values = stage.run(values)
            if not values:
                return []
        return values

    def _encoded(self, values: list):
        if not self.stages:
            return _codec.join_batch(values)
        last = self.stages[-1]
        whole = _codec.encode_batch(last.cout, values)
        if whole is not None:
            return whole
        return _codec.join_batch(encode_all(last.name, last.cout, values))

    def push(self, data: bytes, ends):
        if not self.stages:
            try:
                return _codec.join_batch(_codec.split_batch(data, ends))
            except _codec.CodecError as e:
                raise TaskError(str(e)) from None
        gc.disable()
        try:
            values = _codec.decode_batch(self.stages[0].cin, data, ends)
            if values is not None:
                return self._encoded(self._through(0, values, first_decoded=True))
            try:
                records = _codec.split_batch(data, ends)
            except _codec.CodecError as e:
                raise TaskError(str(e)) from None
            return self._encoded(self._through(0, None, records))
        finally:
            gc.collect(1)

    def finish(self):
        gc.disable()
        try:
            out = []
            for i, stage in enumerate(self.stages):
                left = stage.finish()
                if left:
                    out += self._through(i + 1, left)
            return self._encoded(out)
        finally:
            gc.collect(1)
