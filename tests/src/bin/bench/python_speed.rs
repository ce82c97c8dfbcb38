//! The Python section of `wisp-bench`: Wisp's Python (and JavaScript) jobs against PySpark's RDD programs and the Rust guest, on the same files, interleaved.
//!
//! Two workloads: the word count of the corpus (PySpark, the Rust guest, the
//! Python word count plain and with built-ins, the JavaScript one plain and
//! with built-ins) and a parse-and-aggregate of CSV-like lines
//! (`id,name,category,quantity,price`, the sum of the quantity per category:
//! PySpark, Python plain and with built-ins). Every run of every program is
//! checked against a native count. Each round runs every program once, in
//! the same order, so drift of the machine's speed hits them alike; the
//! medians over `--runs` rounds are reported with ratios. Wisp's job time is
//! the wall time of its `wisp run` child (process start included); PySpark's
//! is the time it measures from the first transformation to the end of the
//! action (the JVM's start excluded).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wisp_tests::{REPO_ROOT, Rng, WORDCOUNT, run_bounded};

use super::joins::{pyspark, run_pyspark};
use super::{count_output, run_child_in};

/// Lines of the CSV-like input per MiB of word-count corpus (about the same bytes).
const CSV_LINES_PER_MIB: u64 = 30_000;
/// Distinct categories of the CSV-like input.
const CATEGORIES: u64 = 2_000;

/// One program of a workload: how to build it and how to run it.
struct Program {
    name: &'static str,
    kind: Kind,
}

enum Kind {
    /// PySpark's RDD program (`pyspark_jobs.py JOB`).
    PySpark(&'static str),
    /// A Wisp component already built by the test build.
    Built(&'static str),
    /// A Wisp component built by a build script with these arguments, written to the last one.
    Script(&'static str, &'static [&'static str]),
}

const WORDCOUNT_PROGRAMS: &[Program] = &[
    Program { name: "pyspark", kind: Kind::PySpark("wordcount") },
    Program { name: "rust guest", kind: Kind::Built(WORDCOUNT) },
    Program {
        name: "python",
        kind: Kind::Script(
            "guest-sdk/python/build.sh",
            &["examples/python-wordcount", "wordcount", "target/python/wordcount.wasm"],
        ),
    },
    Program {
        name: "python builtins",
        kind: Kind::Script(
            "guest-sdk/python/build.sh",
            &[
                "examples/python-wordcount",
                "wordcount_builtins",
                "target/python/wordcount_builtins.wasm",
            ],
        ),
    },
    Program {
        name: "javascript",
        kind: Kind::Script(
            "guest-sdk/js/build.sh",
            &["examples/js-wordcount/wordcount.js", "target/js/wordcount.wasm"],
        ),
    },
    Program {
        name: "js builtins",
        kind: Kind::Script(
            "guest-sdk/js/build.sh",
            &["examples/js-wordcount/wordcount_builtins.js", "target/js/wordcount_builtins.wasm"],
        ),
    },
];

const CSV_PROGRAMS: &[Program] = &[
    Program { name: "pyspark", kind: Kind::PySpark("csvsum") },
    Program {
        name: "python",
        kind: Kind::Script(
            "guest-sdk/python/build.sh",
            &["examples/python-csv", "csvsum", "target/python/csvsum.wasm"],
        ),
    },
    Program {
        name: "python builtins",
        kind: Kind::Script(
            "guest-sdk/python/build.sh",
            &["examples/python-csv", "csvsum_builtins", "target/python/csvsum_builtins.wasm"],
        ),
    },
    Program {
        name: "javascript",
        kind: Kind::Script(
            "guest-sdk/js/build.sh",
            &["examples/js-wordcount/csvsum.js", "target/js/csvsum.wasm"],
        ),
    },
];

/// A program ready to run: a Wisp component, or PySpark's python.
enum Ready {
    Wisp(String),
    PySpark(PathBuf, &'static str),
    Skipped(String),
}

/// Runs the section over the word-count `corpus` (`--runs` rounds); `only` limits it to programs whose name contains one of the words.
pub(crate) fn bench_python(
    data_dir: &Path,
    corpus: &Path,
    expected_words: &HashMap<String, i64>,
    runs: usize,
    only: &[String],
) -> anyhow::Result<()> {
    let mib = std::fs::metadata(corpus)?.len() >> 20;
    let csv = data_dir.join(format!("sales-{mib}m.csv"));
    let expected_csv = csv_input(&csv, mib.max(1) * CSV_LINES_PER_MIB)?;
    let cache = data_dir.join("python-bench-cache");
    let scratch = tempfile::tempdir_in(data_dir)?;
    let baseline = pyspark();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    for (title, programs, input, expected) in [
        ("word count", WORDCOUNT_PROGRAMS, corpus, expected_words),
        ("csv parse-and-aggregate", CSV_PROGRAMS, csv.as_path(), &expected_csv),
    ] {
        let ready: Vec<(&Program, Ready)> = programs
            .iter()
            .filter(|p| p.name == "pyspark" || wanted(p.name))
            .map(|p| (p, prepare(p, &baseline)))
            .collect();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); ready.len()];
        let input_s = input.display().to_string();
        for round in 0..runs {
            for (i, (p, r)) in ready.iter().enumerate() {
                let out = scratch.path().join(format!("{}-{round}-{i}", title.len()));
                let out_s = out.display().to_string();
                let secs = match r {
                    Ready::Skipped(_) => continue,
                    Ready::PySpark(python, job) => {
                        run_pyspark(python, &[job, &input_s, &out_s])?.job.as_secs_f64()
                    }
                    Ready::Wisp(job) => {
                        if round == 0 {
                            // Compile into the cache first: time warm runs only.
                            let warm = scratch.path().join(format!("warm-{i}-{}", title.len()));
                            run_child_in(
                                job,
                                &["--cores", "2"],
                                &[&input_s, &warm.display().to_string()],
                                &cache,
                            )?;
                        }
                        run_child_in(job, &["--cores", "2"], &[&input_s, &out_s], &cache)?
                            .wall
                            .as_secs_f64()
                    }
                };
                anyhow::ensure!(
                    count_output(&out)? == *expected,
                    "{title}: {} gave another answer than the native computation",
                    p.name
                );
                std::fs::remove_dir_all(&out)?;
                times[i].push(secs);
            }
        }
        report(title, input, &ready, &times)?;
    }
    Ok(())
}

fn prepare(p: &Program, baseline: &Result<PathBuf, String>) -> Ready {
    match &p.kind {
        Kind::PySpark(job) => match baseline {
            Ok(python) => Ready::PySpark(python.clone(), job),
            Err(why) => Ready::Skipped(why.clone()),
        },
        Kind::Built(path) => Ready::Wisp(path.to_string()),
        Kind::Script(script, args) => {
            let root = Path::new(REPO_ROOT);
            eprintln!("building {} ({script} {})", p.name, args.join(" "));
            let mut cmd = Command::new(root.join(script));
            cmd.args(*args)
                .current_dir(root)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let built = run_bounded(cmd, Duration::from_secs(1800));
            if !built.ok() {
                let why = built.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
                return Ready::Skipped(format!("{script} failed: {}", why.trim()));
            }
            let out = args.last().copied().unwrap_or_default();
            Ready::Wisp(root.join(out).display().to_string())
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    // The lower median: with two runs, the faster (this machine is shared; slow outliers are noise).
    if v.is_empty() { f64::NAN } else { v[(v.len() - 1) / 2] }
}

fn report(
    title: &str,
    input: &Path,
    ready: &[(&Program, Ready)],
    times: &[Vec<f64>],
) -> anyhow::Result<()> {
    let mb = std::fs::metadata(input)?.len() as f64 / 1e6;
    let runs = times.iter().map(Vec::len).max().unwrap_or(0);
    println!("{title} over {mb:.0} MB, 2 cores, median of {runs} interleaved runs (job time)");
    let base = |name: &str| {
        ready
            .iter()
            .position(|(p, _)| p.name == name)
            .map(|i| median(&times[i]))
            .unwrap_or(f64::NAN)
    };
    let (spark, rust) = (base("pyspark"), base("rust guest"));
    println!("  {:<16} {:>9} {:>12} {:>12}", "program", "time", "vs pyspark", "vs rust");
    for ((p, r), t) in ready.iter().zip(times) {
        if let Ready::Skipped(why) = r {
            println!("  {:<16} skipped ({why})", p.name);
            continue;
        }
        let m = median(t);
        let all: Vec<String> = t.iter().map(|s| format!("{s:.2}")).collect();
        let ratio = |base: f64| {
            if base.is_nan() { "-".to_string() } else { format!("{:.2}x", m / base) }
        };
        println!(
            "  {:<16} {:>7.2} s {:>12} {:>12}   runs: {}",
            p.name,
            m,
            ratio(spark),
            ratio(rust),
            all.join(" ")
        );
    }
    Ok(())
}

/// Writes (once) `lines` CSV-like lines to `path`; the sum of the quantity per category.
fn csv_input(path: &Path, lines: u64) -> anyhow::Result<HashMap<String, i64>> {
    let mut rng = Rng::new(7);
    let mut sums: HashMap<String, i64> = HashMap::new();
    let write = !path.exists();
    let mut f = if write {
        Some(BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?))
    } else {
        None
    };
    for id in 0..lines {
        let category = format!("cat{:04}", rng.below(CATEGORIES));
        let quantity = 1 + rng.below(100) as i64;
        let cents = rng.below(100_000);
        *sums.entry(category.clone()).or_default() += quantity;
        if let Some(f) = f.as_mut() {
            writeln!(
                f,
                "{id},customer{},{category},{quantity},{}.{:02}",
                rng.below(1_000_000),
                cents / 100,
                cents % 100
            )?;
        } else {
            rng.below(1_000_000);
        }
    }
    if let Some(mut f) = f {
        f.flush()?;
    }
    Ok(sums)
}
