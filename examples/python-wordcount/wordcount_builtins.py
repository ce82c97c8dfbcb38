"""Word count in Python with the host's built-in functions: the `word<TAB>count` of every word of a text file or directory.

Splitting, pairing, summing and formatting each word's line run natively in
the host (`wisp.builtins`): no task enters the Python interpreter. The output
matches the Rust example's (`examples/wordcount`) byte for byte.
Usage: `wisp run wordcount_builtins.wasm INPUT OUTPUT_DIR`.
"""

import wisp
from wisp import builtins as B


def run(ctx: wisp.Context, args: list[str]) -> None:
    if len(args) != 2:
        raise wisp.WispError(f"expected INPUT OUTPUT_DIR, got {len(args)} arguments")
    inp, out = args
    (
        ctx.text_file(inp, max(ctx.default_parallelism(), 8))
        .flat_map(B.split_whitespace)
        .map(B.pair_with_one)
        .reduce_by_key(B.sum)
        .map(B.format_pair("\t"))
        .save_as_text_file(out)
    )


WitWorld = wisp.main(run)
