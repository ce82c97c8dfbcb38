"""Parse-and-aggregate in Python with the host's built-in functions: the sum of the quantity per category.

Field picking, int parsing and summing run natively in the host
(`wisp.builtins`); only each category's output line is formatted in Python.
Usage: `wisp run csvsum_builtins.wasm INPUT OUTPUT_DIR`.
"""

import wisp
from wisp import builtins as B


@wisp.fn
def fmt(pair: tuple[str, int]) -> str:
    return f"{pair[0]}\t{pair[1]}"


def run(ctx: wisp.Context, args: list[str]) -> None:
    if len(args) != 2:
        raise wisp.WispError(f"expected INPUT OUTPUT_DIR, got {len(args)} arguments")
    inp, out = args
    (
        ctx.text_file(inp, max(ctx.default_parallelism(), 8))
        .key_by(B.csv_field(2))
        .map_values(B.csv_field(3))
        .map_values(B.parse_int)
        .reduce_by_key(B.sum)
        .map(fmt)
        .save_as_text_file(out)
    )


WitWorld = wisp.main(run)
