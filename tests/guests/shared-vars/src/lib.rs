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
        other => wisp_guest::bail!("unknown scenario {other}"),
    }
}

wisp_guest::main!(run);
