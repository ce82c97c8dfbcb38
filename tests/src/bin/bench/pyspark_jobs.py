"""The PySpark RDD baselines of wisp-bench's joins section (the same programs as the Wisp jobs).

Usage: python pyspark_jobs.py join LEFT RIGHT
       python pyspark_jobs.py pagerank EDGES ITERATIONS OUTPUT_DIR
       python pyspark_jobs.py terasort INPUT OUTPUT_DIR PARTS
       python pyspark_jobs.py wordcount INPUT OUTPUT_DIR
       python pyspark_jobs.py csvsum INPUT OUTPUT_DIR

Runs on local[2] with spark.default.parallelism=2 (Wisp's local mode with 2
cores) and prints its result and `job_seconds=<s>`: the time from the first
transformation to the end of the action, without the JVM's start.
"""

import sys
import time

from pyspark import SparkConf, SparkContext


def join(sc, left, right):
    def tab_pair(line):
        k, _, v = line.partition("\t")
        return int(k), int(v)

    n = sc.defaultParallelism
    lhs = sc.textFile(left, n).map(tab_pair)
    rhs = sc.textFile(right, n).map(tab_pair)
    count, checksum = (
        lhs.join(rhs)
        .map(lambda kv: (1, kv[0] * 1000003 + kv[1][0] * 31 + kv[1][1]))
        .fold((0, 0), lambda a, b: (a[0] + b[0], a[1] + b[1]))
    )
    print(f"count={count} checksum={checksum % 2**64}")


def pagerank(sc, edges, iterations, output):
    # Spark's examples/src/main/python/pagerank.py, with `mapValues` for the
    # first ranks as in Wisp's example (Spark's Scala example does the same).
    def edge(line):
        fields = line.split()
        return [(fields[0], fields[1])] if len(fields) >= 2 else []

    def contributions(urls_rank):
        urls, rank = urls_rank
        urls = list(urls)
        return [(url, rank / len(urls)) for url in urls]

    lines = sc.textFile(edges, sc.defaultParallelism)
    links = lines.flatMap(edge).distinct().groupByKey().cache()
    ranks = links.mapValues(lambda _: 1.0)
    for _ in range(int(iterations)):
        contribs = links.join(ranks).values().flatMap(contributions)
        ranks = contribs.reduceByKey(lambda a, b: a + b).mapValues(lambda s: 0.15 + 0.85 * s)
    ranks.map(lambda pr: f"{pr[0]}\t{pr[1]!r}").saveAsTextFile(output)


def terasort(sc, input, output, parts):
    # The same program as api-job's `terasort`: a 10-byte key, the rest the value.
    (
        sc.textFile(input)
        .map(lambda line: (line[:10], line[10:]))
        .sortByKey(True, int(parts))
        .map(lambda kv: kv[0] + kv[1])
        .saveAsTextFile(output)
    )


def wordcount(sc, input, output):
    # The same program as examples/python-wordcount: `word<TAB>count` lines.
    (
        sc.textFile(input, max(sc.defaultParallelism, 8))
        .flatMap(lambda line: line.split())
        .map(lambda w: (w, 1))
        .reduceByKey(lambda a, b: a + b)
        .map(lambda wc: f"{wc[0]}\t{wc[1]}")
        .saveAsTextFile(output)
    )


def csvsum(sc, input, output):
    # The same program as examples/python-csv: the sum of field 3 per field 2 of `id,name,category,qty,price` lines.
    def parse(line):
        fields = line.split(",")
        return fields[2], int(fields[3])

    (
        sc.textFile(input, max(sc.defaultParallelism, 8))
        .map(parse)
        .reduceByKey(lambda a, b: a + b)
        .map(lambda kv: f"{kv[0]}\t{kv[1]}")
        .saveAsTextFile(output)
    )


def main():
    conf = (
        SparkConf()
        .setMaster("local[2]")
        .setAppName("wisp-bench-baseline")
        .set("spark.default.parallelism", "2")
        .set("spark.driver.memory", "4g")
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
    )
    sc = SparkContext(conf=conf)
    sc.setLogLevel("ERROR")
    start = time.perf_counter()
    if sys.argv[1] == "join":
        join(sc, sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "pagerank":
        pagerank(sc, sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "terasort":
        terasort(sc, sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "wordcount":
        wordcount(sc, sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "csvsum":
        csvsum(sc, sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown job {sys.argv[1]!r}")
    print(f"job_seconds={time.perf_counter() - start:.3f}")
    sc.stop()


if __name__ == "__main__":
    main()
