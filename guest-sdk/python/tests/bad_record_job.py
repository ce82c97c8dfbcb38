"""Jobs whose records do not have the encoding a function's annotations promise; the task must fail naming the cause.

Argument `result`: `word_length` returns a str where its annotation says int.
Argument `input`: `double` takes an int but is given the str records of `parallelize`.
"""

import wisp


@wisp.fn
def word_length(word: str) -> int:
    return word.upper()  # the bug: should be len(word)


@wisp.fn
def double(x: int) -> int:
    return 2 * x


def run(ctx: wisp.Context, args: list[str]) -> None:
    words = ctx.parallelize(["alpha", "beta", "gamma"], 2)
    if args == ["result"]:
        print(words.map(word_length).collect())
    elif args == ["input"]:
        print(words.map(double).collect())
    else:
        raise wisp.WispError("expected one argument: result or input")


WitWorld = wisp.main(run)
