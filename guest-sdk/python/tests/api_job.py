"""Exercises the Python RDD API; prints one `name<TAB>json` line per result for the Rust test to check against its own answers.

Usage: `wisp run api_job.wasm -- PAIRS LABELS`, where PAIRS has lines
`word<TAB>integer` and LABELS lines `word<TAB>label`.
"""

import json

import wisp


@wisp.fn
def parse_pair(line: str) -> tuple[str, int]:
    word, n = line.split("\t")
    return (word, int(n))


@wisp.fn
def parse_label(line: str) -> tuple[str, str]:
    word, label = line.split("\t")
    return (word, label)


@wisp.fn
def value_of(pair: tuple[str, int]) -> int:
    return pair[1]


@wisp.fn
def word_of(pair: tuple[str, int]) -> str:
    return pair[0]


@wisp.fn
def add(a: int, b: int) -> int:
    return a + b


@wisp.fn
def larger(a: int, b: int) -> int:
    return a if a > b else b


@wisp.fn
def is_positive(pair: tuple[str, int]) -> bool:
    return pair[1] > 0


@wisp.fn
def square(n: int) -> int:
    return n * n


@wisp.fn
def digits(n: int) -> list[str]:
    return list(str(abs(n)))


@wisp.fn
def length(word: str) -> int:
    return len(word)


def show(name: str, value) -> None:
    print(f"{name}\t{json.dumps(value, ensure_ascii=False)}")


def run(ctx: wisp.Context, args: list[str]) -> None:
    if len(args) != 2:
        raise wisp.WispError("expected PAIRS LABELS")
    pairs = ctx.text_file(args[0], 4).map(parse_pair).cache()
    labels = ctx.text_file(args[1], 2).map(parse_label)

    show("count", pairs.count())
    show("count-cached", pairs.count())
    show("take", [list(p) for p in pairs.take(3)])
    show("first", list(pairs.first()))
    values = pairs.map(value_of)
    show("reduce-sum", values.reduce(add))
    show("reduce-max", values.reduce(larger))
    show("fold-sum", values.fold(0, add))
    show("positive-count", pairs.filter(is_positive).count())
    show("distinct-words", sorted(pairs.map(word_of).distinct(3).collect()))
    show("distinct-count", pairs.map(word_of).distinct().count())

    grouped = pairs.group_by_key(3).collect()
    show("group-by-key", sorted([w, sorted(vs)] for w, vs in grouped))

    sums = pairs.reduce_by_key(add, 2)
    show("sort-by-key", [list(p) for p in sums.sort_by_key(True, 3).collect()])
    show("sort-by-key-desc", [list(p) for p in sums.sort_by_key(False, 2).collect()])

    joined = sums.join(labels, 3).collect()
    show("join", sorted([w, [s, label]] for w, (s, label) in joined))

    show("map-values", sorted([w, s] for w, s in sums.map_values(square).collect()))
    show("flat-map-values", sorted([w, d] for w, d in sums.flat_map_values(digits).collect()))
    show("key-by", sorted([n, w] for n, w in pairs.map(word_of).distinct().key_by(length).collect()))
    show("union-count", pairs.union(pairs).count())


WitWorld = wisp.main(run)
