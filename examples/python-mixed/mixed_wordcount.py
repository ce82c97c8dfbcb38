"""Word count in Python with a Rust tokenizer: the `word<TAB>count` of every word of a text file or directory.

The job's main and its functions are Python; the words are split by the
`tokenize` function of the Rust `functions` component `examples/tokenizer`
(a word is a maximal run of characters other than ASCII whitespace, Rust's
`split_ascii_whitespace`), loaded with `ctx.load_functions`. The output is
byte-identical to the Rust word count (`examples/wordcount`) on the same
input.

Usage: `wisp run mixed_wordcount.wasm -- INPUT OUTPUT_DIR TOKENIZER_WASM`
(TOKENIZER_WASM is read where the main runs: locally, or on the master
under `wisp submit`).
"""

import wisp


@wisp.fn
def pair_with_one(word: str) -> tuple[str, int]:
    return (word, 1)


@wisp.fn
def add(a: int, b: int) -> int:
    return a + b


@wisp.fn
def fmt(pair: tuple[str, int]) -> str:
    word, count = pair
    return f"{word}\t{count}"


def run(ctx: wisp.Context, args: list[str]) -> None:
    if len(args) != 3:
        raise wisp.WispError(f"expected INPUT OUTPUT_DIR TOKENIZER_WASM, got {len(args)} arguments")
    inp, out, tokenizer = args
    rust = ctx.load_functions(tokenizer)
    tokenize = rust.fn("tokenize", returns=list[str])
    (
        ctx.text_file(inp, max(ctx.default_parallelism(), 8))
        .flat_map(tokenize)
        .map(pair_with_one)
        .reduce_by_key(add)
        .map(fmt)
        .save_as_text_file(out)
    )


WitWorld = wisp.main(run)
