"""Broadcast variables, accumulators and checkpoints from Python: prints `key=value` lines the test checks."""

import wisp

# Handles count from 0 in creation order: these are the ones `run` makes.
TABLE = wisp.Broadcast(0, list[str])
BAD = wisp.Accumulator(0, "long-sum")
TOTAL = wisp.Accumulator(1, "double-sum")
SEEN = wisp.Accumulator(2, "collection", str)


@wisp.fn
def name_length(x: int) -> int:
    table = TABLE.value
    return len(table[x % len(table)])


@wisp.fn
def add(a: int, b: int) -> int:
    return a + b


@wisp.fn
def parse(line: str) -> list[int]:
    try:
        x = int(line)
    except ValueError:
        BAD.add(1)
        SEEN.add(line)
        return []
    TOTAL.add(x / 2)
    return [x]


def run(ctx: wisp.Context, args: list[str]) -> None:
    n, entries, numbers, checkpoints = int(args[0]), int(args[1]), args[2], args[3]
    bc = ctx.broadcast([f"v{k * 7}" for k in range(entries)], list[str])
    assert bc.id == TABLE.id
    print(f"total={ctx.parallelize(list(range(n)), 4).map(name_length).fold(0, add)}")
    accs = [ctx.accumulator("long-sum"), ctx.accumulator("double-sum"), ctx.accumulator("collection", str)]
    assert [a.id for a in accs] == [BAD.id, TOTAL.id, SEEN.id]
    print(f"count={ctx.text_file(numbers, 3).flat_map(parse).count()}")
    print(f"bad={BAD.value} half_sum={TOTAL.value} seen={'|'.join(sorted(SEEN.value))}")
    ctx.set_checkpoint_dir(checkpoints)
    saved = ctx.parallelize(list(range(10)), 2).map(name_length).checkpoint()
    print(f"checkpointed={saved.collect()}")


WitWorld = wisp.main(run)
