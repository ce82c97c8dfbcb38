"""Word count in Python: the `word<TAB>count` of every word of a text file or directory.

A word is a maximal run of characters other than ASCII whitespace, as in the
Rust example (`examples/wordcount`), whose output this matches.
Usage: `wisp run wordcount.wasm INPUT OUTPUT_DIR`.
"""

import re

import wisp

# Rust's `split_ascii_whitespace`: space, \t, \n, form feed, \r (not \v, not Unicode spaces).
_WORD = re.compile("[^\t\n\x0c\r ]+")


@wisp.fn
def words(line: str) -> list[str]:
    """The maximal runs of characters other than ASCII whitespace."""
    return _WORD.findall(line)


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
    if len(args) != 2:
        raise wisp.WispError(f"expected INPUT OUTPUT_DIR, got {len(args)} arguments")
    inp, out = args
    (
        ctx.text_file(inp, max(ctx.default_parallelism(), 8))
        .flat_map(words)
        .map(pair_with_one)
        .reduce_by_key(add)
        .map(fmt)
        .save_as_text_file(out)
    )


WitWorld = wisp.main(run)
