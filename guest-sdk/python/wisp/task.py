"""The guest half of a task: the `pipeline.task` resource, a chain of ops run over one partition batch by batch.

Each op decodes its input records with the codec its function's parameter
annotation gives, calls the function and encodes what it returns. Key bytes
of pairs pass through `map_values`, `flat_map_values`, `combine` and `merge`
unchanged. Any exception (a user function raising, a record of the wrong
encoding) becomes the task's error: the exception message first, then the
Python traceback.
"""

import re
import traceback

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


class Stage:
    """One op of the chain: `feed` takes one record, `finish` flushes; both hand records to `emit`."""

    def __init__(self, name, f, args: bytes):
        self.name = name
        self.f = f
        self.args = args
        self.emit = None

    def call(self, *a):
        try:
            return self.f(*a)
        except Exception as e:  # noqa: BLE001 - every user failure fails the task with its message
            raise _user_error(self.name, e) from None

    def decode(self, codec, record):
        try:
            return codec.decode(record)
        except _codec.CodecError as e:
            raise TaskError(
                f"op {self.name}: an input record ({len(record)} bytes: {_preview(bytes(record))}) is not the {codec.name} "
                f"its parameter annotation declares: {e}"
            ) from None

    def encode(self, codec, value):
        try:
            return codec.encode(value)
        except _codec.CodecError as e:
            raise _bad_result(self.name, codec, value, e) from None

    def finish(self):
        pass


class MapStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "map")
        self.cout = _functions.return_codec(f)

    def feed(self, record):
        self.emit(self.encode(self.cout, self.call(self.decode(self.cin, record))))


class FilterStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "filter")

    def feed(self, record):
        if self.call(self.decode(self.cin, record)):
            self.emit(record)


class FlatMapStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "flat_map")
        self.cout = _functions.return_codec(f, elements=True)

    def feed(self, record):
        emit, enc = self.emit, self.cout.encode
        try:
            for v in self.f(self.decode(self.cin, record)):
                emit(enc(v))
        except _codec.CodecError as e:
            raise _bad_result(self.name, self.cout, v, e) from None
        except TaskError:
            raise
        except Exception as e:  # noqa: BLE001
            raise _user_error(self.name, e) from None


class MapPartitionsStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "map_partitions")
        self.cin = getattr(self.cin, "elem", self.cin)
        self.cout = _functions.return_codec(f, elements=True)
        self.records = []

    def feed(self, record):
        self.records.append(self.decode(self.cin, record))

    def finish(self):
        records, self.records = self.records, []
        for v in self.call(iter(records)) or ():
            self.emit(self.encode(self.cout, v))


class MapValuesStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "map_values")
        self.cout = _functions.return_codec(f)

    def feed(self, record):
        key, value = _split(self, record)
        self.emit(_codec.join_pair(key, self.encode(self.cout, self.call(self.decode(self.cin, value)))))


class FlatMapValuesStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "flat_map_values")
        self.cout = _functions.return_codec(f, elements=True)

    def feed(self, record):
        key, value = _split(self, record)
        for v in self.call(self.decode(self.cin, value)):
            self.emit(_codec.join_pair(key, self.encode(self.cout, v)))


class KeyByStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "key_by")
        self.cout = _functions.return_codec(f)

    def feed(self, record):
        self.emit(_codec.join_pair(self.encode(self.cout, self.call(self.decode(self.cin, record))), record))


class AggregateStage(Stage):
    """`combine` (values into combiners) or `merge` (combiners into combiners), per key bytes, out when the input ends."""

    def __init__(self, name, f, args, merge: bool):
        super().__init__(name, f, args)
        if isinstance(f, _functions.Aggregator):
            ccomb = _functions.param_codec(f.merge_combiners, 0, "combine_by_key")
            if merge:
                self.cin, self.create, self.add = ccomb, _identity, f.merge_combiners
            else:
                self.cin = _functions.param_codec(f.merge_value, 1, "combine_by_key")
                self.create, self.add = f.create, f.merge_value
            self.cout = ccomb
        else:
            # A reducer f(v, v) -> v: the combiner is the value itself.
            self.cin = self.cout = _functions.param_codec(f, 0, "reduce_by_key")
            self.create, self.add = _identity, f
        self.table = {}

    def feed(self, record):
        key, value = _split(self, record)
        v = self.decode(self.cin, value)
        table = self.table
        try:
            if key in table:
                table[key] = self.add(table[key], v)
            else:
                table[key] = self.create(v)
        except Exception as e:  # noqa: BLE001
            raise _user_error(self.name, e) from None

    def finish(self):
        table, self.table = self.table, {}
        # Ascending key bytes: the order wit/task.wit fixes for combine/merge output.
        for key, c in sorted(table.items(), key=lambda kv: bytes(kv[0])):
            self.emit(_codec.join_pair(key, self.encode(self.cout, c)))


class FoldStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cacc = _functions.param_codec(f, 0, "fold")
        self.cin = _functions.param_codec(f, 1, "fold")
        self.acc = self.decode(self.cacc, bytes(args))

    def feed(self, record):
        self.acc = self.call(self.acc, self.decode(self.cin, record))

    def finish(self):
        self.emit(self.encode(self.cacc, self.acc))


class ReduceStage(Stage):
    def __init__(self, name, f, args):
        super().__init__(name, f, args)
        self.cin = _functions.param_codec(f, 0, "reduce")
        self.acc = _NONE

    def feed(self, record):
        v = self.decode(self.cin, record)
        self.acc = v if self.acc is _NONE else self.call(self.acc, v)

    def finish(self):
        if self.acc is not _NONE:
            acc, self.acc = self.acc, _NONE
            self.emit(self.encode(self.cin, acc))


_NONE = object()


def _bad_result(name: str, codec, value, e) -> TaskError:
    if isinstance(codec, _codec.Dynamic):
        return TaskError(f"op {name}: the python function returned {type(value).__name__} {_preview(value)}: {e}")
    return TaskError(
        f"op {name}: the python function returned {type(value).__name__} {_preview(value)}, "
        f"not the {codec.name} its return annotation declares ({e})"
    )


def _identity(v):
    return v


def _split(stage, record):
    try:
        return _codec.split_pair(record)
    except _codec.CodecError as e:
        raise TaskError(f"op {stage.name}: input record is not a pair: {e}") from None


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
    """The ops of one task, fused: records flow through every stage in order."""

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
                self.stages.append(make(op.name, f, op.args))
            except (LookupError, TypeError, _codec.CodecError) as e:
                raise TaskError(f"op {op.name} ({kind.lower().replace('_', '-')}): {e}") from None
        self.data = []
        self.ends = []
        self.size = 0
        for i, stage in enumerate(self.stages):
            stage.emit = self.stages[i + 1].feed if i + 1 < len(self.stages) else self._out

    def _out(self, record: bytes):
        self.data.append(record)
        self.size += len(record)
        self.ends.append(self.size)

    def _take(self):
        data, ends = b"".join(self.data), self.ends
        self.data, self.ends, self.size = [], [], 0
        return data, ends

    def push(self, data: bytes, ends):
        first = self.stages[0].feed if self.stages else self._out
        start = 0
        n = len(data)
        for end in ends:
            if end < start or end > n:
                raise TaskError(f"malformed batch: end offset {end} out of order or past {n} bytes")
            first(data[start:end])
            start = end
        if start != n:
            raise TaskError(f"malformed batch: {n} data bytes but records end at {start}")
        return self._take()

    def finish(self):
        for stage in self.stages:
            stage.finish()
        return self._take()
