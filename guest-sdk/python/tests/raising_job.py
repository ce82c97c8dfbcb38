"""A job whose transformation raises: the task (and so the job) must fail with the exception's message and traceback."""

import wisp


@wisp.fn
def explode(x: int) -> int:
    if x == 7:
        raise ValueError(f"record {x} is unlucky")
    return x


def run(ctx: wisp.Context, args: list[str]) -> None:
    print(ctx.parallelize(list(range(20)), 4).map(explode).count())


WitWorld = wisp.main(run)
