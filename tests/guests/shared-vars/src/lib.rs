//! Broadcast variables, accumulators and checkpoints, one scenario per run (`args[0]`),
//! printing `key=value` lines the integration tests compare with answers they compute.

use wisp_guest::prelude::*;

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn add_u64(a: u64, b: u64) -> u64 {
    a + b
}

/// Every accumulator the `accumulators` scenario fills.
type Accs = (
    Accumulator<i64, i64>,
    Accumulator<i64, i64>,
    Accumulator<i64, Option<i64>>,
    Accumulator<i64, Option<i64>>,
    Accumulator<f64, f64>,
    Accumulator<String, Vec<String>>,
);

/// A line as a number; a bad line is counted and collected instead.
fn parse(line: String, accs: &Accs) -> Vec<i64> {
    let (bad, sum, min, max, half_sum, bad_lines) = accs;
    match line.trim().parse::<i64>() {
        Ok(x) => {
            sum.add(x);
            min.add(x);
            max.add(x);
            half_sum.add(x as f64 / 2.0);
            vec![x]
        }
        Err(_) => {
            bad.add(1);
            bad_lines.add(line);
            Vec::new()
        }
    }
}

fn report(job: &str, accs: &Accs) -> Result<()> {
    let (bad, sum, min, max, half_sum, bad_lines) = accs;
    let mut lines = bad_lines.value()?;
    lines.sort();
    println!(
        "{job} bad={} sum={} min={} max={} half_sum={} bad_lines={}",
        bad.value()?,
        sum.value()?,
        min.value()?.map_or("-".to_owned(), |v| v.to_string()),
        max.value()?.map_or("-".to_owned(), |v| v.to_string()),
        half_sum.value()?,
        lines.join("|"),
    );
    Ok(())
}

/// `accumulators INPUT PARTITIONS`: parse numbers counting bad lines, through a shuffle
/// (job 1), then count the same uncached RDD again (job 2).
fn accumulators(ctx: &Context, args: &[String]) -> Result<()> {
    let [input, partitions] = args else { wisp_guest::bail!("usage: accumulators INPUT PARTS") };
    let partitions: u32 = parse_arg("partitions", partitions)?;
    let accs: Accs = (
        ctx.long_accumulator()?,
        ctx.long_accumulator()?,
        ctx.long_min_accumulator()?,
        ctx.long_max_accumulator()?,
        ctx.double_accumulator()?,
        ctx.collection_accumulator()?,
    );
    let numbers = ctx.text_file(input, partitions).flat_map_with(parse, accs);
    let by_digit = numbers.key_by(|x: &i64| x.rem_euclid(10)).reduce_by_key(add).collect()?;
    let total: i64 = by_digit.iter().map(|(_, v)| v).sum();
    println!("shuffled_total={total}");
    report("job1", &accs)?;
    println!("count={}", numbers.count()?);
    report("job2", &accs)
}

/// Index `x % table.len()` of the broadcast table, as its length.
fn lookup_len(x: u64, table: &Broadcast<Vec<String>>) -> u64 {
    let t = table.value();
    t[(x % t.len() as u64) as usize].len() as u64
}

/// `broadcast N PARTS ENTRIES`: sums the lengths of broadcast entries looked up by N
/// records, reads it on the driver, destroys it, then tries to use it again.
fn broadcast(ctx: &Context, args: &[String]) -> Result<()> {
    let [n, parts, entries] = args else { wisp_guest::bail!("usage: broadcast N PARTS ENTRIES") };
    let n: u64 = parse_arg("n", n)?;
    let parts: u32 = parse_arg("parts", parts)?;
    let entries: u64 = parse_arg("entries", entries)?;
    let table: Vec<String> = (0..entries).map(|k| format!("v{}", k * 7)).collect();
    let bc = ctx.broadcast(&table)?;
    let records = ctx.parallelize(0..n, parts);
    let total = records.map_with(lookup_len, bc).reduce(add_u64)?;
    println!("total={total}");
    println!("driver_entries={}", bc.value().len());
    bc.destroy()?;
    match records.map_with(lookup_len, bc).reduce(add_u64) {
        Ok(v) => wisp_guest::bail!("a destroyed broadcast was read: {v:?}"),
        Err(e) => println!("after_destroy={e}"),
    }
    Ok(())
}

/// `read-destroyed`: a job reading a destroyed broadcast fails (the job's error).
fn read_destroyed(ctx: &Context) -> Result<()> {
    let bc = ctx.broadcast(&vec!["a".to_owned()])?;
    bc.destroy()?;
    ctx.parallelize(0..4u64, 2).map_with(lookup_len, bc).reduce(add_u64)?;
    Ok(())
}

/// `broadcast-bytes N`: broadcasts N bytes (the limit test).
fn broadcast_bytes(ctx: &Context, args: &[String]) -> Result<()> {
    let [n] = args else { wisp_guest::bail!("usage: broadcast-bytes N") };
    let n: usize = parse_arg("n", n)?;
    let bc = ctx.broadcast(&vec![7u8; n])?;
    println!("broadcast={}", bc.id());
    Ok(())
}

/// `add-on-driver`: the job's main adds to an accumulator (refused).
fn add_on_driver(ctx: &Context) -> Result<()> {
    let acc = ctx.long_accumulator()?;
    acc.try_add(1)?;
    Ok(())
}

/// The `(src, dst)` of an edge line, if it has two fields.
fn edge(line: String) -> Option<(String, String)> {
    let mut fields = line.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(src), Some(dst)) => Some((src.to_owned(), dst.to_owned())),
        _ => None,
    }
}

fn contributions((urls, rank): (Vec<String>, f64)) -> Vec<(String, f64)> {
    let size = urls.len() as f64;
    urls.into_iter().map(|url| (url, rank / size)).collect()
}

fn add_f64(a: f64, b: f64) -> f64 {
    a + b
}

/// `pagerank EDGES ITERATIONS EVERY CHECKPOINT_DIR`: Spark's PageRank, checkpointing the
/// ranks every EVERY iterations (0: never) and counting them after each iteration (one job
/// each, whose DAG the tests read from the event log); prints every page's rank.
fn pagerank(ctx: &Context, args: &[String]) -> Result<()> {
    let [edges, iterations, every, dir] = args else {
        wisp_guest::bail!("usage: pagerank EDGES ITERATIONS EVERY CHECKPOINT_DIR")
    };
    let iterations: u32 = parse_arg("iterations", iterations)?;
    let every: u32 = parse_arg("every", every)?;
    if every > 0 {
        ctx.set_checkpoint_dir(dir)?;
    }
    let links = ctx.text_file(edges, 2).flat_map(edge).distinct().group_by_key().cache();
    let mut ranks = links.map_values(|_| 1.0f64);
    for i in 1..=iterations {
        let contribs = links.join(&ranks).values().flat_map(contributions);
        ranks = contribs.reduce_by_key(add_f64).map_values(|sum| 0.15 + 0.85 * sum);
        if every > 0 && i % every == 0 {
            ranks = ranks.checkpoint();
        }
        println!("iteration={i} pages={}", ranks.count()?);
    }
    let mut all = ranks.collect()?;
    all.sort_by(|a, b| a.0.cmp(&b.0));
    for (page, rank) in all {
        println!("rank {page} {rank:?}");
    }
    Ok(())
}

/// `checkpoint-no-dir`: checkpoints without a checkpoint directory (refused).
fn checkpoint_no_dir(ctx: &Context) -> Result<()> {
    ctx.parallelize(0..10u64, 2).checkpoint().count()?;
    Ok(())
}

/// `files DIR`: whole files and raw lines of a directory, each record printed as hex.
fn files(ctx: &Context, args: &[String]) -> Result<()> {
    let [dir] = args else { wisp_guest::bail!("usage: files DIR") };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut whole = ctx.whole_text_files(dir, 2).collect()?;
    whole.sort();
    for (path, content) in whole {
        let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        println!("whole {name} {}", hex(content.as_bytes()));
    }
    for line in ctx.binary_lines(dir, 3).collect()? {
        println!("raw {}", hex(&line));
    }
    Ok(())
}

fn to_i64(line: String) -> i64 {
    line.trim().parse().unwrap_or(i64::MIN)
}

fn list<T: std::fmt::Debug>(items: &[T]) -> String {
    items.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(",")
}

/// `rdd-api A B`: the rest of the RDD API over the numbers of files A and B, one line each.
fn rdd_api(ctx: &Context, args: &[String]) -> Result<()> {
    let [a, b] = args else { wisp_guest::bail!("usage: rdd-api A B") };
    let xs = ctx.text_file(a, 3).map(to_i64);
    let ys = ctx.text_file(b, 2).map(to_i64);
    println!("take_ordered={}", list(&xs.take_ordered(5)?));
    println!("top={}", list(&xs.top(5)?));
    let mut by_value = xs.count_by_value()?;
    by_value.sort();
    println!("count_by_value={}", list(&by_value));
    println!("zip_with_index={}", list(&xs.zip_with_index()?.collect()?));
    let mut ids: Vec<u64> = xs.zip_with_unique_id()?.values().collect()?;
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    println!("unique_ids={} of {n}", ids.len());
    let mut sub = xs.subtract(&ys).collect()?;
    sub.sort();
    println!("subtract={}", list(&sub));
    let mut both = xs.intersection(&ys).collect()?;
    both.sort();
    println!("intersection={}", list(&both));
    let mut pairs = ys.cartesian(&ys)?.collect()?;
    pairs.sort();
    println!("cartesian={}", list(&pairs));
    let glom = xs.glom().collect()?;
    println!("glom={}", list(&glom.iter().map(Vec::len).collect::<Vec<_>>()));
    let keyed = xs.key_by(|x: &i64| x.rem_euclid(5));
    let other = ys.key_by(|y: &i64| y.rem_euclid(5));
    let mut sbk = keyed.subtract_by_key(&other).collect()?;
    sbk.sort();
    println!("subtract_by_key={}", list(&sbk));
    let mut three = keyed.lookup(3)?;
    three.sort();
    println!("lookup3={}", list(&three));
    let s = xs.map(|x: i64| x as f64).stats()?;
    println!(
        "stats count={} mean={:?} min={:?} max={:?} stdev={:?} sample_stdev={:?} sum={:?}",
        s.count,
        s.mean,
        s.min,
        s.max,
        s.stdev(),
        s.sample_stdev(),
        s.sum()
    );
    println!(
        "sum={:?} mean={:?}",
        xs.map(|x: i64| x as f64).sum()?,
        ys.map(|x: i64| x as f64).mean()?
    );
    Ok(())
}

fn add_record((sum, count): (i64, u64), x: i64) -> (i64, u64) {
    (sum + x, count + 1)
}

fn add_partials(a: (i64, u64), b: (i64, u64)) -> (i64, u64) {
    (a.0 + b.0, a.1 + b.1)
}

/// `tree A`: A's numbers in 20 partitions, summed and counted by `tree_aggregate` at depths
/// 1, 2 and 3, their maximum by `tree_reduce`, and the errors of an empty `tree_reduce` and of
/// depth 0.
fn tree(ctx: &Context, args: &[String]) -> Result<()> {
    let [a] = args else { wisp_guest::bail!("usage: tree A") };
    let xs = ctx.text_file(a, 3).map(to_i64).repartition(20);
    for depth in [1, 2, 3] {
        let (sum, count) = xs.tree_aggregate((0, 0), add_record, add_partials, depth)?;
        println!("tree_aggregate{depth}={sum} {count}");
    }
    println!("tree_reduce={}", xs.tree_reduce(|a: i64, b: i64| a.max(b), 2)?);
    let show = |r: Result<i64>| r.map_or_else(|e| e.to_string(), |v| v.to_string());
    let none = xs.filter(|_: &i64| false);
    println!("tree_reduce_empty={}", show(none.tree_reduce(|a: i64, b: i64| a + b, 2)));
    let zero_depth = xs.tree_aggregate(0, |a: i64, x: i64| a + x, |a: i64, b: i64| a + b, 0);
    println!("depth0={}", show(zero_depth));
    Ok(())
}

/// The rows `(i, key)` of seed partition `p`: `i` in `p*rows/parts..(p+1)*rows/parts`.
fn rows_of(
    p: u64,
    (rows, parts, keys): &(u64, u64, u64),
) -> impl Iterator<Item = (u64, u64)> + use<> {
    let keys = *keys;
    (p * rows / parts..(p + 1) * rows / parts).map(move |i| (i, i.wrapping_mul(7919) % keys))
}

fn wrapping_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// `bjoin MODE ROWS KEYS PARTS`: joins ROWS generated rows `(i, key)` with a KEYS-row table
/// `key -> "name-KEY"`, as a broadcast (map-side) join or a shuffle join (MODE `broadcast` or
/// `shuffle`); prints `checksum=` the wrapping sum of `i * 31 + len(name)` over the rows.
fn bjoin(ctx: &Context, args: &[String]) -> Result<()> {
    let [mode, rows, keys, parts] = args else {
        wisp_guest::bail!("usage: bjoin broadcast|shuffle ROWS KEYS PARTS")
    };
    let rows: u64 = parse_arg("rows", rows)?;
    let keys: u64 = parse_arg("keys", keys)?;
    let parts: u64 = parse_arg("parts", parts)?;
    let table: Vec<String> = (0..keys).map(|k| format!("name-{k}")).collect();
    let big = ctx.parallelize(0..parts, parts as u32).flat_map_with(rows_of, (rows, parts, keys));
    let checksum = match mode.as_str() {
        "broadcast" => {
            let bc = ctx.broadcast(&table)?;
            big.map_with(
                |(i, k): (u64, u64), t: &Broadcast<Vec<String>>| {
                    i.wrapping_mul(31).wrapping_add(t.value()[k as usize].len() as u64)
                },
                bc,
            )
            .fold(0, wrapping_add)?
        }
        "shuffle" => {
            let lookup = ctx.parallelize((0..keys).zip(table), parts as u32);
            big.map(|(i, k): (u64, u64)| (k, i))
                .join(&lookup)
                .map(|(_, (i, name)): (u64, (u64, String))| {
                    i.wrapping_mul(31).wrapping_add(name.len() as u64)
                })
                .fold(0, wrapping_add)?
        }
        other => wisp_guest::bail!("unknown mode {other}"),
    };
    println!("checksum={checksum}");
    Ok(())
}

/// `checkpoint-small DIR N PARTS BELOW`: the numbers `0..N` below BELOW in PARTS partitions
/// (most of them empty), checkpointed to DIR, then collected and counted from the checkpoint.
fn checkpoint_small(ctx: &Context, args: &[String]) -> Result<()> {
    let [dir, n, parts, below] = args else {
        wisp_guest::bail!("usage: checkpoint-small DIR N PARTS BELOW")
    };
    let n: u64 = parse_arg("n", n)?;
    let parts: u32 = parse_arg("parts", parts)?;
    let below: u64 = parse_arg("below", below)?;
    ctx.set_checkpoint_dir(dir)?;
    let kept = ctx.parallelize(0..n, parts).filter_with(|x: &u64, b: &u64| x < b, below);
    let checkpointed = kept.checkpoint();
    println!("collected={}", list(&checkpointed.collect()?));
    println!("count={}", checkpointed.count()?);
    Ok(())
}

fn run(ctx: &Context, args: Vec<String>) -> Result<()> {
    let Some((scenario, rest)) = args.split_first() else {
        wisp_guest::bail!("usage: shared-vars SCENARIO [ARGS...]");
    };
    match scenario.as_str() {
        "accumulators" => accumulators(ctx, rest),
        "broadcast" => broadcast(ctx, rest),
        "read-destroyed" => read_destroyed(ctx),
        "broadcast-bytes" => broadcast_bytes(ctx, rest),
        "add-on-driver" => add_on_driver(ctx),
        "pagerank" => pagerank(ctx, rest),
        "checkpoint-no-dir" => checkpoint_no_dir(ctx),
        "files" => files(ctx, rest),
        "rdd-api" => rdd_api(ctx, rest),
        "tree" => tree(ctx, rest),
        "bjoin" => bjoin(ctx, rest),
        "checkpoint-small" => checkpoint_small(ctx, rest),
        other => wisp_guest::bail!("unknown scenario {other}"),
    }
}

wisp_guest::main!(run);
