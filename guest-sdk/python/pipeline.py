"""componentize-py's implementation of the exported `pipeline` interface: its `Task` resource is `wisp`'s chain."""

import traceback

from componentize_py_types import Err
from wit_world.imports import types as _types

from wisp.task import Chain, TaskError


class Task:
    """The `pipeline.task` resource: one chain of ops over one partition."""

    def __init__(self, chain: Chain):
        self.chain = chain

    @classmethod
    def create(cls, ops, partition: int) -> "Task":
        try:
            return cls(Chain(ops, partition))
        except TaskError as e:
            raise Err(str(e)) from None
        except Exception as e:  # noqa: BLE001 - never trap: an SDK bug still fails the task with a message
            raise Err(_internal(e)) from None

    def push(self, input: _types.Batch) -> _types.Batch:
        try:
            data, ends = self.chain.push(input.data, input.ends)
        except TaskError as e:
            raise Err(str(e)) from None
        except Exception as e:  # noqa: BLE001 - never trap: an SDK bug still fails the task with a message
            raise Err(_internal(e)) from None
        return _types.Batch(data=data, ends=ends)

    def finish(self) -> _types.Batch:
        try:
            data, ends = self.chain.finish()
        except TaskError as e:
            raise Err(str(e)) from None
        except Exception as e:  # noqa: BLE001 - never trap: an SDK bug still fails the task with a message
            raise Err(_internal(e)) from None
        return _types.Batch(data=data, ends=ends)


def _internal(e: BaseException) -> str:
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()
    return f"python task failed with {type(e).__name__}: {e}\n{tb}"
