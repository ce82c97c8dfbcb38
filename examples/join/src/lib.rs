//! Join: the inner join of two tab-separated key/value files.
//!
//! Each input line splits at its first TAB into key and value (a line with
//! no TAB is a key with an empty value). Every pair of a left and a right
//! line with equal keys gives one output line `key<TAB>left<TAB>right`
//! (Spark's inner join: duplicate keys multiply).
//! Usage: `wisp run join.wasm LEFT RIGHT OUTPUT_DIR`.

use wisp_guest::prelude::*;

/// Splits a line at its first TAB.
fn key_value(line: String) -> (String, String) {
    match line.split_once('\t') {
        Some((key, value)) => (key.to_owned(), value.to_owned()),
        None => (line, String::new()),
    }
}

/// Formats one joined pair.
fn format_joined((key, (left, right)): (String, (String, String))) -> String {
    format!("{key}\t{left}\t{right}")
}

/// The job's main.
fn run(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [left, right, output] = args_array(args)?;
    let partitions = ctx.default_parallelism().max(8);
    let left = ctx.text_file(&left, partitions).map(key_value);
    let right = ctx.text_file(&right, partitions).map(key_value);
    left.join(&right).map(format_joined).save_as_text_file(&output)?;
    Ok(())
}

wisp_guest::main!(run);
