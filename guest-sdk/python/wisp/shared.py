"""Broadcast variables and accumulators (the `shared` interface of `wit/task.wit`, wisp:task@0.2.0).

Python functions take no arguments, so a task names a shared variable by its
handle: handles are numbered from 0 in creation order (broadcasts and
accumulators separately), so a module-level ``TABLE = wisp.Broadcast(0, list[str])``
is the first broadcast ``run`` makes. ``ctx.broadcast(value, codec)`` returns the
same handle; ``Broadcast.value`` reads and decodes it once per guest instance.
"""

from wit_world.imports import driver
from wit_world.imports import shared as _shared
from componentize_py_types import Err

from . import codec as _codec


class SharedError(Exception):
    """A refused shared-variable call (the host's message)."""


def _call(f, *args):
    try:
        return f(*args)
    except Err as e:
        raise SharedError(e.value) from None


class Broadcast:
    """A read-only value shipped to each executor once (Spark's Broadcast)."""

    _decoded: dict = {}

    def __init__(self, id: int, codec=None):
        self.id = id
        self.codec = _codec.codec_for(codec) if codec is not None else _codec.DYNAMIC

    @property
    def value(self):
        """The value, decoded on first use in this guest instance and kept."""
        if self.id not in Broadcast._decoded:
            Broadcast._decoded[self.id] = self.codec.decode(_call(_shared.broadcast_value, self.id))
        return Broadcast._decoded[self.id]

    def destroy(self) -> None:
        """Forgets it (driver only): jobs started later cannot read it."""
        _call(driver.destroy_broadcast, self.id)

    def __repr__(self) -> str:
        return f"Broadcast({self.id})"


_KINDS = {
    "long-sum": (driver.AccumulatorKind.LONG_SUM, _codec.S64),
    "double-sum": (driver.AccumulatorKind.DOUBLE_SUM, _codec.F64),
    "long-min": (driver.AccumulatorKind.LONG_MIN, _codec.S64),
    "long-max": (driver.AccumulatorKind.LONG_MAX, _codec.S64),
    "double-min": (driver.AccumulatorKind.DOUBLE_MIN, _codec.F64),
    "double-max": (driver.AccumulatorKind.DOUBLE_MAX, _codec.F64),
}


class Accumulator:
    """What tasks add to and the driver reads after an action; counted once per partition a job computes.

    `kind` is one of ``long-sum``, ``double-sum``, ``long-min``, ``long-max``,
    ``double-min``, ``double-max`` or ``collection`` (then `codec` encodes the elements).
    """

    def __init__(self, id: int, kind: str = "long-sum", codec=None):
        if kind != "collection" and kind not in _KINDS:
            raise ValueError(f"unknown accumulator kind {kind!r}")
        self.id = id
        self.kind = kind
        if kind == "collection":
            self.codec = _codec.codec_for(codec) if codec is not None else _codec.DYNAMIC
        else:
            self.codec = _KINDS[kind][1]

    def add(self, value) -> None:
        """Adds a value (inside a task)."""
        _call(_shared.accumulator_add, self.id, self.codec.encode(value))

    @property
    def value(self):
        """The merged value (driver only): a number, None for an empty min/max, a list for a collection."""
        data = _call(driver.accumulator_value, self.id)
        if self.kind == "collection":
            out, i = [], 0
            while i < len(data):
                n = int.from_bytes(data[i:i + 4], "little")
                out.append(self.codec.decode(data[i + 4:i + 4 + n]))
                i += 4 + n
            return out
        if self.kind.endswith("-sum"):
            return self.codec.decode(data)
        return None if data[:1] == b"\x00" else self.codec.decode(data[1:])

    def __repr__(self) -> str:
        return f"Accumulator({self.id}, {self.kind!r})"


def make_accumulator(kind: str, codec=None) -> Accumulator:
    """A new accumulator on the driver."""
    wit_kind = driver.AccumulatorKind.COLLECTION if kind == "collection" else _KINDS[kind][0]
    return Accumulator(_call(driver.accumulator, wit_kind), kind, codec)


def make_broadcast(value, codec=None) -> Broadcast:
    """A new broadcast on the driver, encoded with `codec` (by runtime type if omitted)."""
    c = _codec.codec_for(codec) if codec is not None else _codec._infer(value)
    return Broadcast(_call(driver.broadcast, c.encode(value)), c)
