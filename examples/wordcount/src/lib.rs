//! Word count: the `word<TAB>count` of every word of a text file or directory.
//!
//! A word is a maximal run of characters other than ASCII whitespace.
//! Usage: `wisp run wordcount.wasm INPUT OUTPUT_DIR`.

use wisp_guest::prelude::*;

/// The words of a line.
fn words(line: String) -> Vec<String> {
    line.split_ascii_whitespace().map(str::to_owned).collect()
}

/// Adds two counts.
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// The job's main.
fn run(ctx: &Context, args: Vec<String>) -> Result<()> {
    let [input, output] = args_array(args)?;
    ctx.text_file(&input, ctx.default_parallelism().max(8))
        .flat_map(words)
        .map(|w| (w, 1i64))
        .reduce_by_key(add)
        .map(|(w, c)| format!("{w}\t{c}"))
        .save_as_text_file(&output)?;
    Ok(())
}

wisp_guest::main!(run);
