"""Wisp jobs in Python: a Spark-like RDD API over the `wisp:task` WIT contract, for componentize-py.

A job module defines its transformations as module-level functions with
type annotations (the annotations choose the record encodings), a main
``run(ctx, args)``, and exports the component with ``WitWorld = wisp.main(run)``::

    import wisp

    def words(line: str) -> list[str]:
        return line.split()

    def run(ctx: wisp.Context, args: list[str]) -> None:
        ctx.text_file(args[0]).flat_map(words).save_as_text_file(args[1])

    WitWorld = wisp.main(run)

Build: ``componentize-py -d wit -w job componentize MODULE -p guest-sdk/python -p DIR -o MODULE.wasm``.
"""

from componentize_py_types import Err as _Err

from . import builtins
from .codec import Codec, CodecError, U64Type as U64
from .functions import Aggregator, Function, Functions, fn
from .rdd import Context, Rdd, WispError
from .shared import Accumulator, Broadcast, SharedError
from .task import format_traceback as _format_traceback

__all__ = ["Accumulator", "Aggregator", "Broadcast", "SharedError", "builtins", "Codec", "CodecError", "Context", "Function", "Functions", "Rdd", "U64", "WispError", "fn", "main"]


def main(run):
    """The component's `run` export for the job main `run(ctx, args)`: assign the result to `WitWorld` in the job module."""

    class WitWorld:
        def run(self, args):
            try:
                run(Context(), list(args))
            except WispError as e:
                raise _Err(str(e)) from None
            except _Err:
                raise
            except Exception as e:  # noqa: BLE001 - the job fails with the exception and its traceback
                raise _Err(f"python main raised {type(e).__name__}: {e}\n{_format_traceback(e)}") from None

    return WitWorld
