//! Quick start: runs the word-count example job on the bundled sample in local mode and prints the 10 most frequent words.

use std::path::PathBuf;
use std::process::ExitCode;

use wisp::{LocalOptions, run_local};
use wisp_tests::{REPO_ROOT, WORDCOUNT, parse_counts, read_output_lines};

fn main() -> ExitCode {
    match quickstart() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: error: {}", wisp::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn quickstart() -> anyhow::Result<()> {
    let input = PathBuf::from(REPO_ROOT).join("examples/wordcount/sample.txt");
    let scratch = tempfile::tempdir()?;
    let output = scratch.path().join("counts");
    println!("wisp run {WORDCOUNT} -- {} {}", input.display(), output.display());
    run_local(&LocalOptions {
        job: WORDCOUNT.into(),
        args: vec![input.display().to_string(), output.display().to_string()],
        ..LocalOptions::default()
    })?;
    let counts = parse_counts(&read_output_lines(&output));
    let mut top: Vec<(&String, &i64)> = counts.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("{} distinct words; the 10 most frequent:", counts.len());
    for (w, c) in top.into_iter().take(10) {
        println!("{c:>8}  {w}");
    }
    Ok(())
}
