//! A job that exercises the whole `wisp-guest` API, one scenario per run
//! (`args[0]`), printing a deterministic report to stdout for the
//! integration tests to compare with answers they compute themselves.
//! The scenarios and their exact output are listed in `README.md`.

use std::collections::BTreeMap;
use std::fmt::Display;

use wisp_guest::prelude::*;
use wisp_guest::raw;

mod builtins;

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn add_u64(a: u64, b: u64) -> u64 {
    a + b
}

fn words(line: String) -> Vec<String> {
    line.split_ascii_whitespace().map(str::to_owned).collect()
}

/// `a,b,c`.
fn join<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// `-` for `None`.
fn opt<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn pairs(items: &[(&str, i64)]) -> Vec<(String, i64)> {
    items.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn run(ctx: &Context, args: Vec<String>) -> Result<()> {
    let Some((scenario, rest)) = args.split_first() else {
        wisp_guest::bail!("usage: api-job SCENARIO [ARGS...]");
    };
    let rest = rest.to_vec();
    match scenario.as_str() {
        "count" => count(ctx, rest),
        "wordcount" => wordcount(ctx, rest),
        "distinct" => distinct(ctx, rest),
        "sort" => sort(ctx, rest),
        "group" => group(ctx),
        "aggregations" => aggregations(ctx),
        "joins" => joins(ctx),
        "copartitioned-join" => copartitioned_join(ctx, rest),
        "join-checksum" => join_checksum(ctx, rest),
        "union-coalesce-repartition" => union_coalesce_repartition(ctx),
        "sample" => sample(ctx),
        "take-first" => take_first(ctx),
        "reduce-fold-aggregate" => reduce_fold_aggregate(ctx),
        "count-by-key" => count_by_key(ctx),
        "persist" => persist(ctx),
        "map-partitions" => map_partitions(ctx),
        "with-args" => with_args(ctx),
        "panic" => panic(ctx),
        "error-missing" => error_missing(ctx, rest),
        "bad-function" => bad_function(ctx),
        "tiny-tasks" => tiny_tasks(ctx, rest),
        "spin" => spin(ctx),
        "ui-demo" => ui_demo(ctx, rest),
        "grow" => grow(ctx, rest),
        "out-of-core" => out_of_core(ctx, rest),
        "cache-twice" => cache_twice(ctx, rest),
        "terasort" => terasort(ctx, rest),
        "builtins" => builtins::builtins(ctx, &rest),
        other => wisp_guest::bail!("unknown scenario {other:?}"),
    }
}

fn count(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [input] = args_array(args)?;
    println!("count={}", ctx.text_file(&input, 4).count()?);
    Ok(())
}

fn wordcount(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [input, output] = args_array(args)?;
    ctx.text_file(&input, 8)
        .flat_map(words)
        .map(|w| (w, 1i64))
        .reduce_by_key(add)
        .map(|(w, c)| format!("{w}\t{c}"))
        .save_as_text_file(&output)?;
    println!("saved={output}");
    Ok(())
}

fn distinct(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [n] = args_array(args)?;
    let n: u64 = parse_arg("N", &n)?;
    // Every value of 0..n three times, in 4 slices.
    let records = (0..3 * n).map(|i| i % n.max(1));
    let mut values = ctx.parallelize(records, 4).distinct().collect()?;
    values.sort_unstable();
    println!("distinct={}", values.len());
    println!("values={}", join(values));
    Ok(())
}

fn sort(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [input] = args_array(args)?;
    let pairs = ctx.text_file(&input, 4).flat_map(words).map(|w| (w, ()));
    let sorted = pairs.sort_by_key_n(true, 3).keys().collect()?;
    println!("sorted={}", sorted.len());
    for word in &sorted {
        println!("{word}");
    }
    let last = pairs.sort_by_key(false).keys().first()?;
    println!("first-descending={last}");
    Ok(())
}

fn group(ctx: &Context) -> Result<()> {
    let input = pairs(&[("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("a", 6)]);
    let mut groups = ctx.parallelize(input, 3).group_by_key().collect()?;
    groups.sort();
    for (key, mut values) in groups {
        values.sort_unstable();
        println!("{key}={}", join(values));
    }
    let mut by_mod = ctx.parallelize(1..=10u64, 2).group_by(|n| n % 3).collect()?;
    by_mod.sort();
    for (key, mut values) in by_mod {
        values.sort_unstable();
        println!("mod{key}={}", join(values));
    }
    Ok(())
}

fn aggregations(ctx: &Context) -> Result<()> {
    let input =
        ctx.parallelize(pairs(&[("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("a", 6)]), 3);
    let show = |name: &str, mut rows: Vec<(String, String)>| {
        rows.sort();
        println!(
            "{name} {}",
            rows.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
        );
    };
    let reduced = input.reduce_by_key_n(add, 2).collect()?;
    show("reduce_by_key", reduced.into_iter().map(|(k, v)| (k, v.to_string())).collect());
    let folded = input.fold_by_key(0, add).collect()?;
    show("fold_by_key", folded.into_iter().map(|(k, v)| (k, v.to_string())).collect());
    let averaged = input
        .aggregate_by_key(
            (0i64, 0u64),
            |(s, c), v| (s + v, c + 1),
            |(s1, c1), (s2, c2)| (s1 + s2, c1 + c2),
        )
        .collect()?;
    show(
        "aggregate_by_key",
        averaged.into_iter().map(|(k, (s, c))| (k, format!("{s}/{c}"))).collect(),
    );
    let lists = input
        .combine_by_key(
            |v| vec![v],
            |mut c: Vec<i64>, v| {
                c.push(v);
                c
            },
            |mut a: Vec<i64>, b| {
                a.extend(b);
                a
            },
        )
        .collect()?;
    show(
        "combine_by_key",
        lists
            .into_iter()
            .map(|(k, mut l)| {
                l.sort_unstable();
                (k, join(l))
            })
            .collect(),
    );
    let mut mapped: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (k, v) in input.map_values(|v| v * 10).collect()? {
        mapped.entry(k).or_default().push(v);
    }
    show(
        "map_values",
        mapped
            .into_iter()
            .map(|(k, mut l)| {
                l.sort_unstable();
                (k, join(l))
            })
            .collect(),
    );
    let flat = input.flat_map_values(|v| 0..v.min(2)).collect()?;
    println!("flat_map_values count={}", flat.len());
    let mut keys = input.keys().distinct().collect()?;
    keys.sort();
    println!("keys {}", join(keys));
    let mut values = input.values().collect()?;
    values.sort_unstable();
    println!("values {}", join(values));
    let sorted =
        ctx.parallelize(vec![5i64, -3, 10, 0, -7, 2], 3).sort_by(|n| *n, true).collect()?;
    println!("sort_by {}", join(sorted));
    let parts = input.partition_by(5);
    println!("partition_by partitions={} count={}", parts.num_partitions()?, parts.count()?);
    Ok(())
}

fn joins(ctx: &Context) -> Result<()> {
    let left = ctx.parallelize(pairs(&[("a", 1), ("b", 2), ("b", 3), ("c", 4)]), 2);
    let right = ctx.parallelize(
        vec![("a", "x"), ("b", "y"), ("d", "z"), ("a", "w")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>(),
        2,
    );
    let mut lines = Vec::new();
    for (k, (v, w)) in left.join(&right).collect()? {
        lines.push(format!("inner {k} {v} {w}"));
    }
    for (k, (v, w)) in left.left_outer_join(&right).collect()? {
        lines.push(format!("left {k} {v} {}", opt(w)));
    }
    for (k, (v, w)) in left.right_outer_join(&right).collect()? {
        lines.push(format!("right {k} {} {w}", opt(v)));
    }
    for (k, (v, w)) in left.full_outer_join(&right).collect()? {
        lines.push(format!("full {k} {} {}", opt(v), opt(w)));
    }
    for (k, (mut vs, mut ws)) in left.cogroup(&right).collect()? {
        vs.sort_unstable();
        ws.sort();
        lines.push(format!("cogroup {k} [{}] [{}]", join(vs), join(ws)));
    }
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// `(k, v)` of a `k v` line (two integers).
fn int_pair(line: String) -> (u64, i64) {
    let mut fields = line.split_ascii_whitespace().map(|f| f.parse::<i64>().unwrap_or(0));
    let (k, v) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
    (k as u64, v)
}

fn copartitioned_join(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [left, right] = args_array(args)?;
    let left = ctx.text_file(&left, 4).map(int_pair).reduce_by_key_n(add, 3);
    let right = ctx.text_file(&right, 5).map(int_pair).reduce_by_key_n(add, 3);
    let joined = left.join_n(&right, 3);
    let mut lines = Vec::new();
    for (k, (v, w)) in joined.collect()? {
        lines.push(format!("join {k} {v} {w}"));
    }
    let products = joined.map_values(|(v, w)| v * w).reduce_by_key_n(add, 3);
    for (k, p) in products.collect()? {
        lines.push(format!("product {k} {p}"));
    }
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    println!("default-join count={}", left.join(&right).count()?);
    Ok(())
}

/// `(k, v)` of a `k<TAB>v` line (two unsigned integers).
fn tab_pair(line: String) -> (u64, u64) {
    let (k, v) = line.split_once('\t').unwrap_or((&line, "0"));
    (k.parse().unwrap_or(0), v.parse().unwrap_or(0))
}

/// One joined row as `(1, k * 1000003 + v * 31 + w)`, all modulo 2^64.
fn row_checksum((k, (v, w)): (u64, (u64, u64))) -> (u64, u64) {
    (1, k.wrapping_mul(1_000_003).wrapping_add(v.wrapping_mul(31)).wrapping_add(w))
}

fn add_pairs(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0 + b.0, a.1.wrapping_add(b.1))
}

fn join_checksum(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [left, right] = args_array(args)?;
    let n = ctx.default_parallelism();
    let left = ctx.text_file(&left, n).map(tab_pair);
    let right = ctx.text_file(&right, n).map(tab_pair);
    let (count, checksum) = left.join(&right).map(row_checksum).fold((0, 0), add_pairs)?;
    println!("count={count} checksum={checksum}");
    Ok(())
}

fn union_coalesce_repartition(ctx: &Context) -> Result<()> {
    let a = ctx.parallelize(0..10u64, 2);
    let b = ctx.parallelize(10..25u64, 3);
    let union = a.union(&b);
    println!("union count={} partitions={}", union.count()?, union.num_partitions()?);
    let coalesced = union.coalesce(2);
    println!("coalesce count={} partitions={}", coalesced.count()?, coalesced.num_partitions()?);
    let repartitioned = union.repartition(7);
    println!(
        "repartition count={} partitions={}",
        repartitioned.count()?,
        repartitioned.num_partitions()?
    );
    println!("repartition sum={}", repartitioned.fold(0, add_u64)?);
    let all = ctx.union(&[&a, &b, &a]);
    println!("context-union count={} partitions={}", all.count()?, all.num_partitions()?);
    Ok(())
}

fn sample(ctx: &Context) -> Result<()> {
    let numbers = ctx.parallelize(0..10_000u64, 4);
    let once = numbers.sample(false, 0.5, 7);
    let count = once.count()?;
    println!("count={count}");
    println!("reproducible={}", once.collect()? == numbers.sample(false, 0.5, 7).collect()?);
    let distinct = once.distinct().count()?;
    println!("without-replacement-distinct={}", distinct == count);
    println!("with-replacement count={}", numbers.sample(true, 0.5, 7).count()?);
    Ok(())
}

fn take_first(ctx: &Context) -> Result<()> {
    let numbers = ctx.parallelize(1..=100u64, 5);
    println!("take={}", join(numbers.take(5)?));
    println!("take0={}", join(numbers.take(0)?));
    println!("take-all={}", numbers.take(1000)?.len());
    println!("first={}", numbers.first()?);
    let empty = numbers.filter(|n| *n > 1000);
    println!("first-empty={}", if empty.first().is_err() { "error" } else { "ok" });
    Ok(())
}

fn reduce_fold_aggregate(ctx: &Context) -> Result<()> {
    let numbers = ctx.parallelize(1..=100i64, 4);
    println!("reduce={}", numbers.reduce(add)?);
    println!("fold={}", numbers.fold(0, add)?);
    // Spark semantics: the zero is added once per partition and once more on the driver.
    println!("fold1={}", numbers.fold(1, add)?);
    let (sum, count) = numbers.aggregate(
        (0i64, 0u64),
        |(s, c), n| (s + n, c + 1),
        |(s1, c1), (s2, c2)| (s1 + s2, c1 + c2),
    )?;
    println!("aggregate={sum}/{count}");
    let max_len = ctx
        .parallelize(vec!["a", "abc", "ab"].into_iter().map(str::to_owned).collect::<Vec<_>>(), 2)
        .aggregate(0u64, |m, s: String| m.max(s.len() as u64), u64::max)?;
    println!("aggregate-max-len={max_len}");
    let empty = numbers.filter(|n| *n < 0);
    println!("reduce-empty={}", if empty.reduce(add).is_err() { "error" } else { "ok" });
    println!("fold-empty={}", empty.fold(0, add)?);
    Ok(())
}

fn count_by_key(ctx: &Context) -> Result<()> {
    let input = pairs(&[("x", 1), ("y", 1), ("x", 5), ("z", 0), ("x", 2), ("y", 9)]);
    let counts: BTreeMap<String, u64> =
        ctx.parallelize(input, 3).count_by_key()?.into_iter().collect();
    for (key, count) in counts {
        println!("{key}={count}");
    }
    Ok(())
}

fn persist(ctx: &Context) -> Result<()> {
    let squares = ctx.parallelize(1..=1000u64, 4).map(|n| n * n).cache();
    println!("count={}", squares.count()?);
    println!("sum={}", squares.fold(0, add_u64)?);
    squares.unpersist()?;
    println!("after-unpersist count={}", squares.count()?);
    let on_disk = ctx.parallelize(1..=10u64, 2).persist(StorageLevel::DiskOnly);
    println!("disk count={} sum={}", on_disk.count()?, on_disk.reduce(add_u64)?);
    Ok(())
}

fn map_partitions(ctx: &Context) -> Result<()> {
    let numbers = ctx.parallelize(1..=10u64, 3);
    let mut per_partition = numbers
        .map_partitions_with_index(|index, records| vec![(index, records.sum::<u64>())])
        .collect()?;
    per_partition.sort_unstable();
    let indexes: Vec<u32> = per_partition.iter().map(|(i, _)| *i).collect();
    let total: u64 = per_partition.iter().map(|(_, s)| *s).sum();
    println!("indexes={} total={total}", join(indexes));
    let counts =
        numbers.map_partitions(|records| std::iter::once(records.count() as u64)).collect()?;
    println!("records={}", counts.iter().sum::<u64>());
    Ok(())
}

fn with_args(ctx: &Context) -> Result<()> {
    let numbers = ctx.parallelize(1..=10u64, 2);
    let out = numbers
        .filter_with(|n, m: &u64| n % m == 0, 3)
        .map_with(|n, k: &u64| n * k, 10)
        .flat_map_with(|n, times: &usize| vec![n; *times], 2)
        .collect()?;
    println!("with={}", join(out));
    let labelled = numbers
        .key_by(|n| n % 2)
        .map_values_with(|n, prefix: &String| format!("{prefix}{n}"), "n".to_owned())
        .values()
        .collect()?;
    println!("map_values_with={}", labelled.len());
    Ok(())
}

fn panic(ctx: &Context) -> Result<()> {
    let boom = ctx.parallelize(0..10u64, 1).map(|n| {
        assert!(n != 3, "boom: record {n}");
        n
    });
    println!("count={}", boom.count()?);
    Ok(())
}

fn error_missing(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [input] = args_array(args)?;
    println!("count={}", ctx.text_file(&input, 2).count()?);
    Ok(())
}

fn bad_function(ctx: &Context) -> Result<()> {
    let numbers = ctx.parallelize(1..=3u64, 1);
    let op =
        raw::Op { kind: raw::OpKind::Map, name: "no-such-function".to_owned(), args: Vec::new() };
    let id = raw::driver::transform(numbers.raw_id()?, &op, 0).map_err(Error::msg)?;
    println!("count={}", Rdd::<u64>::from_raw_id(id).count()?);
    Ok(())
}

fn tiny_tasks(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [n] = args_array(args)?;
    let n: u32 = parse_arg("N", &n)?;
    // One record per partition, through one guest op: per-task overhead.
    let count = ctx.parallelize(0..u64::from(n), n).map(|x| x + 1).count()?;
    println!("count={count}");
    Ok(())
}

/// A map function that never returns (for the time limit).
fn spin(ctx: &Context) -> Result<()> {
    let stuck = ctx.parallelize(0..2u64, 1).map(|n| -> u64 {
        let mut x = n;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    });
    println!("count={}", stuck.count()?);
    Ok(())
}

/// Sleeps `ms` milliseconds, then passes `n` on (slow stages for the UI tests).
fn slowly(n: u64, ms: &u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(*ms));
    n
}

/// Three jobs for the web UI tests: two shuffles (each record of the first stage sleeps `MS`
/// ms), a job whose task panics with `boom: record 3`, then one task sleeping `TAIL_MS` ms.
fn ui_demo(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [ms, tail] = args_array(args)?;
    let ms: u64 = parse_arg("MS", &ms)?;
    let tail: u64 = parse_arg("TAIL_MS", &tail)?;
    let mut groups = ctx
        .parallelize(0..40u64, 4)
        .map_with(slowly, ms)
        .map(|n| (n % 7, 1i64))
        .reduce_by_key_n(add, 3)
        .map(|(k, c)| (c, k))
        .group_by_key_n(2)
        .collect()?;
    groups.sort();
    for (count, mut keys) in groups {
        keys.sort_unstable();
        println!("{count}={}", join(keys));
    }
    let boom = ctx.parallelize(0..10u64, 1).map(|n| {
        assert!(n != 3, "boom: record {n}");
        n
    });
    println!("boom={}", if boom.count().is_err() { "failed" } else { "succeeded" });
    println!("tail={}", ctx.parallelize(0..1u64, 1).map_with(slowly, tail).count()?);
    Ok(())
}

/// A map function that allocates `MIB` MiB and touches it (for the memory limit).
fn grow(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [mib] = args_array(args)?;
    let mib: u64 = parse_arg("MIB", &mib)?;
    let big = ctx.parallelize(vec![mib], 1).map(|m| {
        let v = vec![1u8; (m << 20) as usize];
        v.iter().map(|&b| u64::from(b)).sum::<u64>()
    });
    println!("sum={}", big.collect()?.iter().sum::<u64>());
    Ok(())
}

wisp_guest::main!(run);

/// `key value` lines as pairs.
fn key_value(line: String) -> (String, i64) {
    let (k, v) = line.split_once(' ').unwrap_or((line.as_str(), "0"));
    (k.to_owned(), v.parse().unwrap_or(0))
}

fn out_of_core(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [input, out] = args_array(args)?;
    let pairs = ctx.text_file(&input, 8).map(key_value);
    pairs
        .sort_by_key_n(true, 2)
        .map(|(k, v)| format!("{k} {v}"))
        .save_as_text_file(&format!("{out}/sorted"))?;
    pairs
        .group_by_key_n(2)
        .map(|(k, vs)| format!("{k} {} {}", vs.len(), vs.iter().sum::<i64>()))
        .save_as_text_file(&format!("{out}/grouped"))?;
    pairs
        .reduce_by_key_n(add, 2)
        .map(|(k, s)| format!("{k} {s}"))
        .save_as_text_file(&format!("{out}/reduced"))?;
    pairs
        .reduce_by_key_n(add, 3)
        .join_n(&pairs, 2)
        .map(|(k, (s, v))| format!("{k} {s} {v}"))
        .save_as_text_file(&format!("{out}/joined"))?;
    pairs.keys().distinct_n(2).save_as_text_file(&format!("{out}/distinct"))?;
    println!("saved={out}");
    Ok(())
}

fn cache_twice(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [input] = args_array(args)?;
    let lines = ctx
        .text_file(&input, 32)
        .map(|l| format!("{l}{}", ".".repeat(100)))
        .persist(StorageLevel::MemoryAndDisk);
    let first = lines.count()?;
    let second = lines.map(|l| l.len() as u64).reduce(add_u64)?;
    println!("count={first} bytes={second}");
    Ok(())
}

/// TeraSort over 100-byte lines (`KEY VALUE`, a 10-byte key): sorted by key into `PARTS` files.
fn terasort(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [input, output, parts] = args_array(args)?;
    let parts: u32 = parse_arg("PARTS", &parts)?;
    ctx.text_file(&input, 0)
        .map(|l| {
            let (k, v) = l.split_at(l.len().min(10));
            (k.to_owned(), v.to_owned())
        })
        .sort_by_key_n(true, parts)
        .map(|(k, v)| format!("{k}{v}"))
        .save_as_text_file(&output)?;
    println!("saved={output}");
    Ok(())
}
