"""Every built-in of `wisp.builtins` over the files of DIR (written by tests/it/builtins.rs); prints `name<TAB>json` lines.

Argument `bad DIR`: `parse_int` over a file with a non-numeric line (the job must fail naming the built-in).
"""

import json

import wisp
from wisp import builtins as B


def run(ctx: wisp.Context, args: list[str]) -> None:
    if args[0] == "bad":
        print(ctx.text_file(f"{args[1]}/bad-ints.txt", 1).map(B.parse_int).collect())
        return
    d = args[1]
    lines, ints, floats = (ctx.text_file(f"{d}/{n}", 2) for n in ("lines.txt", "ints.txt", "floats.txt"))
    rows, tsv, objs = (ctx.text_file(f"{d}/{n}", 2) for n in ("rows.csv", "rows.tsv", "objs.jsonl"))
    out = {
        "split-whitespace": lines.flat_map(B.split_whitespace).collect(),
        "split": rows.flat_map(B.split(",")).collect(),
        "lower": lines.map(B.lower).collect(),
        "upper": lines.map(B.upper).collect(),
        "trim": lines.map(B.trim).collect(),
        "parse-int": ints.map(B.parse_int).collect(),
        "parse-float": floats.map(B.parse_float).collect(),
        "csv-field": rows.map(B.csv_field(1)).collect(),
        "tsv-field": tsv.map(B.tsv_field(2)).collect(),
        "json-field": objs.map(B.json_field("name")).collect(),
        "word-sum": lines.flat_map(B.split_whitespace).map(B.pair_with_one).reduce_by_key(B.sum).sort_by_key().collect(),
        "format-pair": sorted(
            lines.flat_map(B.split_whitespace).map(B.pair_with_one).reduce_by_key(B.sum).map(B.format_pair(" = ")).collect()
        ),
    }
    keyed = rows.key_by(B.csv_field(0))
    ints_by_key = keyed.map_values(B.csv_field(2)).map_values(B.parse_int)
    floats_by_key = keyed.map_values(B.csv_field(3)).map_values(B.parse_float)
    out["count"] = keyed.reduce_by_key(B.count).sort_by_key().collect()
    out["min"] = ints_by_key.reduce_by_key(B.min).sort_by_key().collect()
    out["max"] = ints_by_key.reduce_by_key(B.max).sort_by_key().collect()
    out["sum-float"] = floats_by_key.reduce_by_key(B.sum_float).sort_by_key().collect()
    out["mean"] = floats_by_key.reduce_by_key(B.mean).sort_by_key().collect()
    out["reduce-sum"] = ints.map(B.parse_int).reduce(B.sum)
    out["reduce-max"] = ints.map(B.parse_int).reduce(B.max)
    for name, value in out.items():
        print(f"{name}\t{json.dumps(value, ensure_ascii=False)}")


WitWorld = wisp.main(run)
