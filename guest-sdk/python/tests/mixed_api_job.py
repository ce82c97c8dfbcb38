"""Another component's functions through the Python API: untyped and typed results, parameters, a foreign aggregator, boundaries both ways.

Usage: `wisp run mixed_api_job.wasm -- TOKENIZER_WASM INPUT`; prints one
`name<TAB>json` line per result for the Rust test to check.
"""

import json

import wisp


@wisp.fn
def pair_with_one(word: str) -> tuple[str, int]:
    return (word, 1)


@wisp.fn
def length(word: str) -> int:
    return len(word)


@wisp.fn
def add(a: int, b: int) -> int:
    return a + b


def show(name: str, value) -> None:
    print(f"{name}\t{json.dumps(value, ensure_ascii=False)}")


def run(ctx: wisp.Context, args: list[str]) -> None:
    tokenizer, inp = args
    rust = ctx.load_functions(tokenizer)
    words = ctx.text_file(inp, 3).flat_map(rust["tokenize"])  # records of unknown type
    show("words-count", words.count())
    try:
        words.collect()
        show("untyped-collect", "no error")
    except wisp.CodecError as e:
        show("untyped-collect", str(e))

    # Rust, Rust (fused), Rust with a parameter, then Python, then a Rust aggregator.
    lowered = words.map(rust.fn("lowercase", returns=str))
    long = lowered.filter(rust.fn("longer_than", args=3))
    show("long-words", sorted(long.collect()))
    counts = long.map(pair_with_one).reduce_by_key(rust.fn("sum"), 2)
    show("long-counts", sorted([w, c] for w, c in counts.collect()))
    # Python after Rust, and Python reducing in the main.
    show("total-length", long.map(length).reduce(add))
    try:
        long.map(length).reduce(rust.fn("sum"))
        show("foreign-reduce", "no error")
    except TypeError as e:
        show("foreign-reduce", str(e))


WitWorld = wisp.main(run)
