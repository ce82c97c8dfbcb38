"""Exercises the rest of the Python RDD API (ordering, indexing, set operations, statistics, tree aggregation, the raw
sources); prints one `name<TAB>json` line per result for the Rust test to check against its own answers.

Usage: `wisp run rdd_more_job.wasm -- XS YS LATIN1 TEXTS_DIR`: XS and YS have one integer per line, LATIN1 is a
file of lines that are not UTF-8, TEXTS_DIR a directory of small text files.
"""

import json
import math

import wisp
from wisp import builtins as B


@wisp.fn
def parse(line: str) -> int:
    return int(line)


@wisp.fn
def by_mod5(x: int) -> tuple[int, int]:
    return (x % 5, x)


@wisp.fn
def as_float(x: int) -> float:
    return x / 4


@wisp.fn
def neg(x: int) -> int:
    return -x


@wisp.fn
def add(a: int, b: int) -> int:
    return a + b


@wisp.fn
def seq_sum_sq(acc: tuple[int, int], x: int) -> tuple[int, int]:
    return (acc[0] + x * x, acc[1] + 1)


@wisp.fn
def comb_sum_sq(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return (a[0] + b[0], a[1] + b[1])


@wisp.fn
def larger(a: int, b: int) -> int:
    return a if a >= b else b


@wisp.fn
def length(line: bytes) -> int:
    return len(line)


@wisp.fn
def file_words(file: tuple[str, str]) -> list[tuple[str, int]]:
    return [(w, len(w)) for w in file[1].split()]


@wisp.fn
def half_lengths(file: tuple[str, str]) -> list[tuple[str, float]]:
    return [(w, len(w) / 2) for w in file[1].split()]


def out(name: str, value) -> None:
    print(f"{name}\t{json.dumps(value, ensure_ascii=False)}")


def stat_fields(s) -> dict:
    return {
        "count": s.count(), "mean": s.mean(), "sum": s.sum(), "min": s.min(), "max": s.max(),
        "variance": s.variance(), "stdev": s.stdev(),
        "sample_variance": s.sample_variance(), "sample_stdev": s.sample_stdev(),
    }


def run(ctx: wisp.Context, args: list[str]) -> None:
    xs_path, ys_path, latin1, texts = args
    xs = ctx.text_file(xs_path, 5).map(parse)
    ys = ctx.text_file(ys_path, 2).map(parse)
    out("take_ordered", xs.take_ordered(5))
    out("take_ordered_key", xs.take_ordered(4, key=neg))
    out("top", xs.top(5))
    out("top_all", xs.top(1000))
    out("count_by_value", sorted(xs.count_by_value().items()))
    out("zip_with_index", xs.zip_with_index().collect())
    ids = [i for _, i in xs.zip_with_unique_id().collect()]
    out("unique_ids", [len(ids), len(set(ids))])
    out("subtract", sorted(xs.subtract(ys).collect()))
    out("intersection", sorted(ys.intersection(xs).collect()))
    out("cartesian", sorted(ys.cartesian(ys.map(neg)).collect()))
    out("glom", [len(p) for p in xs.glom().collect()])
    out("glom_values", sorted(x for p in xs.glom().collect() for x in p))
    keyed = xs.map(by_mod5)
    out("subtract_by_key", sorted(keyed.subtract_by_key(ys.map(by_mod5)).collect()))
    out("lookup3", sorted(keyed.lookup(3)))
    out("lookup_missing", keyed.lookup(17))
    out("sum", xs.sum())
    out("sum_float", xs.map(as_float).sum())
    out("stats", stat_fields(xs.stats()))
    out("mean_variance_stdev", [ys.mean(), ys.variance(), ys.stdev(), ys.sample_variance(), ys.sample_stdev()])
    empty = xs.subtract(xs)
    out("empty", [empty.sum(), math.isnan(empty.mean()), empty.top(3), empty.count_by_value()])
    for depth in (1, 2, 3):
        out(f"tree_aggregate{depth}", list(xs.repartition(17).tree_aggregate((0, 0), seq_sum_sq, comb_sum_sq, depth)))
        out(f"tree_reduce{depth}", xs.repartition(17).tree_reduce(larger, depth))
    try:
        empty.tree_reduce(add)
        out("tree_reduce_empty", "no error")
    except wisp.WispError as e:
        out("tree_reduce_empty", str(e))
    raw = ctx.binary_lines(latin1, 2)
    out("binary_lines", [list(r) for r in raw.collect()])
    out("binary_lengths", raw.map(length).collect())
    files = ctx.whole_text_files(texts, 2)
    out("whole_text_files", sorted([p.rsplit("/", 1)[-1], t] for p, t in files.collect()))
    out("format_pair", sorted(files.flat_map(file_words).map(B.format_pair("=")).collect()))
    out("format_pair_float", sorted(files.flat_map(half_lengths).map(B.format_pair(" -> ")).collect()))

WitWorld = wisp.main(run)
