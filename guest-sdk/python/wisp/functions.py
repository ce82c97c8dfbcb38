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


class Function:
    """A function of another component (loaded with `Context.load_functions`), usable wherever a Python function is.

    The host runs it in that component's guest; consecutive ops of one
    component run in one guest task. `returns` is the type annotation of what
    it returns (for a flat-map, the iterable: ``list[str]``), which gives the
    codec that `collect`/`take` and `reduce_by_key` use on its records; ops of
    this job's own functions decode records by their own annotations anyway.
    `args` are its parameters, already encoded (see `Functions.fn`).
    """

    def __init__(self, component: int, name: str, returns=None, args: bytes = b"", source: str = "?"):
        self.component = component
        self.name = name
        self.returns = returns
        self.args = bytes(args)
        self.source = source

    def __call__(self, *a, **kw):
        raise TypeError(
            f"{self!r} runs in another component's guest on executors; it cannot be called from Python "
            "(use it as the function of a transformation: map, filter, flat_map, map_values, reduce_by_key, ...)"
        )

    def __repr__(self) -> str:
        return f"<function {self.name!r} of {self.source}>"


class Functions:
    """The named functions of a component loaded with `Context.load_functions` (a Rust `export_functions!` library, say)."""

    def __init__(self, component: int, path: str):
        self.component = component
        self.path = path

    def fn(self, name: str, returns=None, args=None, args_type=None) -> Function:
        """The function exported as `name`; `returns` annotates its result; `args` are its parameters (`*_with` functions), encoded with `args_type` or by runtime type."""
        encoded = b""
        if args is not None:
            c = _codec.codec_for(args_type) if args_type is not None else _codec._infer(args)
            encoded = c.encode(args)
        return Function(self.component, name, returns, encoded, source=self.path)

    def __getitem__(self, name: str) -> Function:
        """``lib["tokenize"]``: the function exported as `name`, its result type unknown (see `fn`)."""
        return self.fn(name)

    def __repr__(self) -> str:
        return f"<functions component {self.component} from {self.path}>"


def component_of(f) -> int:
    """The component an op naming `f` runs in: 0 (this job's) unless `f` is a `Function` of a loaded component."""
    return f.component if isinstance(f, Function) else 0


def _plain_name(f) -> str:
    return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', '?')}"


def name_of(f) -> str:
    """The name an op uses for `f`: its module-qualified name. Lambdas and nested functions cannot be shipped."""
    if isinstance(f, Function):
        return f.name
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
    """Registers a module-level function under its module-qualified name (usable as ``@wisp.fn``).

    Its record codecs are derived from its annotations here, at import: the
    build imports the job module before componentize-py snapshots the
    interpreter, so tasks find them ready instead of running `inspect` and
    `typing` (cold, in a fresh instance) when they start.
    """
    if f is None:
        return fn
    name_of(f)
    _prepare(f)
    return f


def _prepare(f) -> None:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return
    hints = _hints(f)
    codecs = {}
    for i, p in enumerate(params):
        hint = hints.get(p.name, inspect.Parameter.empty)
        if hint is not inspect.Parameter.empty:
            try:
                codecs[i] = _codec.codec_for(hint)
            except _codec.CodecError:
                pass
    hint = hints.get("return", inspect.Parameter.empty)
    for elements in (False, True):
        try:
            codecs["return", elements] = (
                _codec.DYNAMIC if hint is inspect.Parameter.empty
                else _codec.element_codec(hint) if elements else _codec.codec_for(hint)
            )
        except _codec.CodecError:
            pass
    try:
        f._wisp_codecs = codecs
    except AttributeError:
        pass


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
    ready = getattr(f, "_wisp_codecs", None)
    if ready is not None and index in ready:
        return ready[index]
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
    if isinstance(f, Function):
        if f.returns is None:
            return _codec.Dynamic(f"the records of {f!r} have no known type: give it with fn({f.name!r}, returns=...)")
        return _codec.element_codec(f.returns) if elements else _codec.codec_for(f.returns)
    ready = getattr(f, "_wisp_codecs", None)
    if ready is not None and ("return", elements) in ready:
        return ready["return", elements]
    hint = _hints(f).get("return", inspect.Parameter.empty)
    if hint is inspect.Parameter.empty:
        return _codec.DYNAMIC
    return _codec.element_codec(hint) if elements else _codec.codec_for(hint)
