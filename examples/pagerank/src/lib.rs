//! PageRank, exactly as Spark's `SparkPageRank` example computes it.
//!
//! `EDGES` holds one `src dst` edge per line (fields split on whitespace;
//! lines with fewer than two fields are ignored). After `ITERATIONS`
//! iterations it writes `page<TAB>rank` for every page with an incoming
//! link, the rank printed as the shortest decimal that reads back exactly.
//! Usage: `wisp run pagerank.wasm EDGES ITERATIONS OUTPUT_DIR`.

use wisp_guest::prelude::*;

/// The `(src, dst)` of an edge line, if it has two fields.
fn edge(line: String) -> Option<(String, String)> {
    let mut fields = line.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(src), Some(dst)) => Some((src.to_owned(), dst.to_owned())),
        _ => None,
    }
}

/// Every page's share of a rank, for each page it links to.
fn contributions((urls, rank): (Vec<String>, f64)) -> Vec<(String, f64)> {
    let size = urls.len() as f64;
    urls.into_iter().map(|url| (url, rank / size)).collect()
}

/// Adds two contributions.
fn add(a: f64, b: f64) -> f64 {
    a + b
}

/// The damped rank of summed contributions.
fn damp(sum: f64) -> f64 {
    0.15 + 0.85 * sum
}

/// The job's main.
fn run(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [edges, iterations, output] = args_array(args)?;
    let iterations: u32 = parse_arg("ITERATIONS", &iterations)?;
    let lines = ctx.text_file(&edges, ctx.default_parallelism());
    // `group_by_key` hash-partitions the links once and `cache` keeps them:
    // `ranks` keeps that partitioning (`map_values`, and `reduce_by_key` into
    // the same partition count), so every `join` reads both sides where they
    // are and each iteration shuffles only the contributions.
    let links = lines.flat_map(edge).distinct().group_by_key().cache();
    let mut ranks = links.map_values(|_| 1.0f64);
    for _ in 0..iterations {
        let contribs = links.join(&ranks).values().flat_map(contributions);
        ranks = contribs.reduce_by_key(add).map_values(damp);
    }
    ranks.map(|(page, rank)| format!("{page}\t{rank}")).save_as_text_file(&output)?;
    Ok(())
}

wisp_guest::main!(run);
