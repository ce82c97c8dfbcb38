"""Parse-and-aggregate in Python: the sum of the quantity per category of `id,name,category,quantity,price` lines.

Prints nothing; writes `category<TAB>sum` lines. A per-record-heavy workload
(one split, one int parse and one combine per line) used by `wisp-bench --only python`.
Usage: `wisp run csvsum.wasm INPUT OUTPUT_DIR`.
"""

import wisp


@wisp.fn
def parse(line: str) -> tuple[str, int]:
    fields = line.split(",")
    return fields[2], int(fields[3])


@wisp.fn
def add(a: int, b: int) -> int:
    return a + b


@wisp.fn
def fmt(pair: tuple[str, int]) -> str:
    return f"{pair[0]}\t{pair[1]}"


def run(ctx: wisp.Context, args: list[str]) -> None:
    if len(args) != 2:
        raise wisp.WispError(f"expected INPUT OUTPUT_DIR, got {len(args)} arguments")
    inp, out = args
    ctx.text_file(inp, max(ctx.default_parallelism(), 8)).map(parse).reduce_by_key(add).map(fmt).save_as_text_file(out)


WitWorld = wisp.main(run)
