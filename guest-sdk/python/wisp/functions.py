"""Named functions: the registry ops name them by, and their record codecs derived from type annotations.

A transformation ships to executors as an op naming a function
(``module.qualname``). An executor runs a fresh instance of the component
that never ran the job's main, so the name must resolve there on its own:
functions decorated with `wisp.fn` are registered when their module is
imported (componentize-py imports the job module when the component is
built), and any other module-level function is found by importing its
module and walking its qualified name.
"""

import importlib
import inspect
import typing

from . import codec as _codec

_REGISTRY: dict = {}


class Aggregator:
    """The three functions of `combine_by_key`: create a combiner from a value, merge a value in, merge two combiners."""

    def __init__(self, create, merge_value, merge_combiners, name=None):
        self.create = create
        self.merge_value = merge_value
        self.merge_combiners = merge_combiners
        self.__module__ = getattr(create, "__module__", None) or "__main__"
        self.__qualname__ = name or f"aggregator[{name_of(create)},{name_of(merge_value)},{name_of(merge_combiners)}]"
        _REGISTRY[self.__qualname__] = self


def _plain_name(f) -> str:
    return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', '?')}"


def name_of(f) -> str:
    """The name an op uses for `f`: its module-qualified name. Lambdas and nested functions cannot be shipped."""
    if isinstance(f, Aggregator):
        _REGISTRY[f.__qualname__] = f
        return f.__qualname__
    qualname = getattr(f, "__qualname__", None)
    module = getattr(f, "__module__", None)
    if not callable(f) or qualname is None or module is None:
        raise TypeError(f"{f!r} is not a named function")
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise TypeError(
            f"{module}.{qualname}: executors look functions up by name, so a transformation must be a "
            "module-level function (def) or a @wisp.fn, not a lambda or a nested function"
        )
    name = f"{module}.{qualname}"
    _REGISTRY.setdefault(name, f)
    return name


def fn(f=None):
    """Registers a module-level function under its module-qualified name (usable as ``@wisp.fn``)."""
    if f is None:
        return fn
    name_of(f)
    return f


def resolve(name: str):
    """The function an op names: from the registry, else by importing its module."""
    f = _REGISTRY.get(name)
    if f is not None:
        return f
    if name.startswith("aggregator[") and name.endswith("]"):
        return Aggregator(*(resolve(part) for part in name[len("aggregator["):-1].split(",")))
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        if callable(obj):
            _REGISTRY[name] = obj
            return obj
    raise LookupError(f"op name {name!r} does not name a function of this component (define it at module level)")


def _hints(f) -> dict:
    try:
        return typing.get_type_hints(f)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the raw ones
        return dict(getattr(f, "__annotations__", {}))


def param_codec(f, index: int, what: str) -> "_codec.Codec":
    """The codec of parameter `index` of `f`, from its annotation (required: the record must be decoded)."""
    params = list(inspect.signature(f).parameters.values())
    if index >= len(params):
        raise TypeError(f"{_plain_name(f)} takes {len(params)} parameters; {what} needs at least {index + 1}")
    hint = _hints(f).get(params[index].name, inspect.Parameter.empty)
    if hint is inspect.Parameter.empty:
        raise TypeError(
            f"{_plain_name(f)}: annotate parameter {params[index].name!r} with its type (e.g. str, int, tuple[str, int]) "
            f"so {what} can decode its records"
        )
    return _codec.codec_for(hint)


def return_codec(f, elements: bool = False) -> "_codec.Codec":
    """The codec of what `f` returns (of each element when `elements`), from its annotation, else by runtime type."""
    hint = _hints(f).get("return", inspect.Parameter.empty)
    if hint is inspect.Parameter.empty:
        return _codec.DYNAMIC
    return _codec.element_codec(hint) if elements else _codec.codec_for(hint)
