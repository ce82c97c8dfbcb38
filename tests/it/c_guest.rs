//! C jobs (`guest-sdk/c`, built with zig cc and wit-bindgen's C bindings by `guest-sdk/c/build.sh`): word count matching the Rust guest part file for part file, the C codec against the encoding vectors, failing C functions failing their job with one clear line, the C SDK's shared variables, checkpoints and the rest of the RDD API against answers computed here, and its built-in helpers (a word count of built-ins part for part as the Rust guest, a CSV parse-and-aggregate, a bad record).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use wisp_tests::{
    REPO_ROOT, WORDCOUNT, awkward_bytes, parse_counts, read_output_lines, reference_word_count,
    run_bounded, wisp,
};

use crate::RUN_TIMEOUT;
use crate::guest_lang::{assert_same_parts, build_once, parts, wordcount_matches_rust};
use crate::harness::Cluster;

/// Builds the C jobs with the SDK's build script (once per test process) and returns the component's path.
fn c_job(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let builds: [&[&str]; 5] = [
        &["examples/c-wordcount", "target/c/wordcount.wasm"],
        &["guest-sdk/c/tests/failing-job", "target/c/failing.wasm"],
        &["guest-sdk/c/tests/api-job", "target/c/api_job.wasm"],
        &["guest-sdk/c/tests/shared-job", "target/c/shared_job.wasm"],
        &["guest-sdk/c/tests/builtins-job", "target/c/builtins_job.wasm"],
    ];
    build_once(&BUILT, "guest-sdk/c/build.sh", &builds);
    Path::new(REPO_ROOT).join("target/c").join(format!("{name}.wasm"))
}

#[test]
fn c_wordcount_output_matches_the_rust_guest_part_for_part() {
    let job = c_job("wordcount");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 2 << 20, 23).unwrap();
    std::fs::write(input.join("awkward.txt"), awkward_bytes()).unwrap();
    // Keys around the C table's 16-byte inline limit, sharing prefixes, with NUL bytes: their order in the part files.
    let long = "abcdefghijklmnop abcdefghijklmnopq abcdefghijklmnopa abcdefghijklmno abcdefghijklmnopqrstuvwxyz \
                abcdefghijklmnopqrstuvwxyy abcdefghijklmnop\0 abcdefghijklmnop\0\0x abc\0 abc abcdefghijklmnopq\n";
    std::fs::write(input.join("long-keys.txt"), long.repeat(3)).unwrap();
    let c_out = wordcount_matches_rust(&job, &input, dir.path(), "c");
    // And both against a count computed here.
    let mut all = std::fs::read(input.join("awkward.txt")).unwrap();
    all.push(b'\n');
    all.extend_from_slice(&std::fs::read(input.join("long-keys.txt")).unwrap());
    all.extend_from_slice(&std::fs::read(input.join("corpus.txt")).unwrap());
    assert_eq!(parse_counts(&read_output_lines(&c_out)), reference_word_count(&all));
}

#[test]
fn c_codec_matches_the_encoding_vectors() {
    let root = Path::new(REPO_ROOT);
    let vectors = std::fs::read_to_string(root.join("wit/encoding-vectors.jsonl")).unwrap();
    let count = vectors.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(count > 50, "expected the checked-in vectors, found {count}");
    let mut cmd = Command::new("bash");
    cmd.current_dir(root)
        .arg("guest-sdk/c/test/codec_test.sh")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = run_bounded(cmd, Duration::from_secs(120));
    assert!(run.ok(), "C codec tests failed:\n{}{}", run.stdout, run.stderr);
    // Every vector is checked (encode and decode), none skipped.
    assert!(run.stdout.lines().any(|l| l == format!("{count} passed, 0 failed")), "{}", run.stdout);
}

#[test]
fn c_api_job_matches_answers_computed_here() {
    let job = c_job("api_job");
    let run = wisp(
        &["run", job.to_str().unwrap(), "--cores", "2", "--conf", "api_job.greeting=hello"],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    let xs: Vec<i64> = (1..=100).collect();
    let by7 = |f: fn(i64) -> i64| -> String {
        (0..7)
            .map(|k| {
                format!("{k}:{}", xs.iter().filter(|x| *x % 7 == k).map(|x| f(*x)).sum::<i64>())
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let join: usize = (0..7)
        .map(|k| {
            xs.iter().filter(|x| *x % 7 == k).count()
                * xs.iter().filter(|x| *x % 7 == k && *x % 2 == 0).count()
        })
        .sum();
    let expected = [
        format!("even_count={}", xs.iter().filter(|x| *x % 2 == 0).count()),
        format!("sum_of_squares={} found=1", xs.iter().map(|x| x * x).sum::<i64>()),
        // fold: the zero in each of the 4 partitions and once more when the driver combines them.
        format!("fold_1000={}", xs.iter().sum::<i64>() + 1000 * 5),
        format!("twice_by_mod7={}", by7(|x| 2 * x)),
        format!("plus_minus_by_mod7={}", by7(|_| 0)),
        format!("count_and_sum_keys=7 count={} sum={}", xs.len(), xs.iter().sum::<i64>()),
        "partition_sizes=25,25,25,25".to_string(),
        format!("groups=7 values={}", xs.len()),
        format!("join_count={join}"),
        "distinct_mod10=10".to_string(),
        format!("union_count={}", 2 * xs.len()),
        "take3_desc_keys=9,9,9".to_string(),
        "conf=hello".to_string(),
        "unregistered=wisp_map: the function is not listed in WISP_FUNCTIONS with the matching WISP_* kind".to_string(),
    ];
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "stderr: {}",
        run.stderr
    );
}

/// Runs the failing job in `mode` and returns its single `wisp: error:` line, checking it left no output.
fn failing_job_error(mode: &str) -> String {
    let job = c_job("failing");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "run",
        job.to_str().unwrap(),
        "--cores",
        "2",
        "--conf",
        "wisp.task.maxFailures=1",
        "--",
        mode,
        out.to_str().unwrap(),
    ];
    let run = wisp(&args, RUN_TIMEOUT);
    assert_eq!(run.code, Some(1), "stdout: {} stderr: {}", run.stdout, run.stderr);
    assert!(!out.join("_SUCCESS").exists() && !out.exists(), "a failed job must leave no output");
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    errors[0].to_string()
}

#[test]
fn c_function_reporting_an_error_fails_the_job_with_its_message() {
    let line = failing_job_error("error");
    assert!(line.contains("c function explode (map) failed: record 7 is unlucky"), "{line}");
    assert!(!line.contains("wasm trap"), "{line}");
}

#[test]
fn c_function_trapping_fails_the_job_with_its_panic_message() {
    let line = failing_job_error("trap");
    assert!(line.contains("c guest panicked: record 7 trapped"), "{line}");
}

#[test]
fn c_main_failing_fails_the_job_with_its_message() {
    let line = failing_job_error("main");
    assert_eq!(line, "wisp: error: the main gave up on purpose");
}

/// `name=a,b,c` of numbers.
fn list_line<T: std::fmt::Display>(name: &str, xs: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = xs.into_iter().map(|x| x.to_string()).collect();
    format!("{name}={}", items.join(","))
}

/// `name=k:v,...` of pairs.
fn pairs_line(name: &str, kv: impl IntoIterator<Item = (i64, u64)>) -> String {
    list_line(name, kv.into_iter().map(|(k, v)| format!("{k}:{v}")))
}

/// The `key=value` fields of a line (after its first word when that has no `=`) as numbers.
fn numeric_fields(line: &str) -> BTreeMap<String, f64> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.parse::<f64>().unwrap_or_else(|_| panic!("{line}: {v}"))))
        .collect()
}

/// Asserts each expected field of `line` (the one starting with `prefix`) within a relative 1e-12.
fn assert_fields(lines: &[&str], prefix: &str, expected: &[(&str, f64)]) {
    let line = lines
        .iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix}: {lines:#?}"));
    let got = numeric_fields(line);
    for (k, want) in expected {
        let v = got[*k];
        let close = if want.is_nan() {
            v.is_nan()
        } else {
            (v - want).abs() <= 1e-12 * want.abs().max(1.0)
        };
        assert!(close, "{prefix} {k}: got {v}, want {want} ({line})");
    }
}

/// Runs the C shared-job with `args` after `--`, with `conf` pairs.
fn shared_job(conf: &[&str], args: &[&str]) -> wisp_tests::Run {
    let job = c_job("shared_job");
    let mut argv = vec!["run", job.to_str().unwrap(), "--cores", "2"];
    for c in conf {
        argv.extend(["--conf", c]);
    }
    argv.push("--");
    argv.extend(args);
    wisp(&argv, RUN_TIMEOUT)
}

#[test]
fn c_shared_variables_checkpoints_and_the_rest_of_the_rdd_api_match_answers_computed_here() {
    let dir = tempfile::tempdir().unwrap();
    let latin1: &[u8] = b"caf\xe9\r\nna\xefve\n\xff\xfe\n\nend";
    std::fs::write(dir.path().join("latin1.txt"), latin1).unwrap();
    std::fs::create_dir(dir.path().join("texts")).unwrap();
    let texts = [("a.txt", "alpha\n"), ("b.txt", "beta\ngamma\n"), ("c.txt", "")];
    for (name, text) in texts {
        std::fs::write(dir.path().join("texts").join(name), text).unwrap();
    }
    let run = shared_job(&[], &["all", dir.path().to_str().unwrap()]);
    assert!(run.ok(), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let has = |want: &str| assert!(lines.contains(&want), "missing {want:?} in\n{}", run.stdout);
    let starts = |prefix: &str| -> &str {
        lines.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix}"))
    };
    let xs: Vec<i64> = (1..=100).collect();

    // Broadcast: a table of squares read by handle; the bytes a function sees never move
    // within an instance (the job fails otherwise), fetched once per instance: one per task
    // at most (4 partitions).
    let bsum: i64 = xs.iter().map(|x| (x % 10) * (x % 10)).sum();
    let first = starts("broadcast_sum=");
    assert!(first.starts_with(&format!("broadcast_sum={bsum} first_reads=")), "{first}");
    let reads: u32 = first.rsplit('=').next().unwrap().parse().unwrap();
    assert!((1..=4).contains(&reads), "{first}");
    has(&format!("broadcast_on_driver_bytes={} same=1", 10 * (4 + 8)));
    has("destroy_again=refused");

    // Accumulators of every kind: one action, then a second over the same uncached RDD.
    let sum: i64 = xs.iter().sum();
    assert_fields(
        &lines,
        "accumulators ",
        &[
            ("count", 100.0),
            ("long_sum", sum as f64),
            ("double_sum", xs.iter().map(|x| *x as f64 / 2.0).sum()),
            ("long_min", 1.0),
            ("long_max", 100.0),
            ("double_min", 1.5),
            ("double_max", 150.0),
        ],
    );
    has(&list_line("collection", xs.iter().filter(|x| *x % 25 == 0)));
    has("untouched_min_present=0");
    assert!(starts("double_read_as_long=").ends_with("is not a long accumulator"));
    assert!(starts("add_from_main=").contains("add is only allowed inside tasks"));
    has(&format!("long_sum_after_two_jobs={}", 2 * sum));

    // Checkpoints: the reliable one wrote part files under DIR/ckpt.
    let squares: i64 = xs.iter().map(|x| x * x).sum();
    has(&format!("checkpoint count=100 sum={squares} partitions=4"));
    let ys: Vec<i64> = xs.iter().map(|x| x * 37 % 101).collect();
    has(&format!("local_checkpoint sum={}", ys.iter().sum::<i64>()));
    let parts = walk(&dir.path().join("ckpt"))
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("part-"))
        .count();
    assert_eq!(parts, 4, "checkpoint part files");

    // Ordering: byte order of s64 encodings (= numeric) and a user comparator.
    let mut asc = ys.clone();
    asc.sort();
    has(&list_line("take_ordered", &asc[..5]));
    has(&list_line("top", asc.iter().rev().take(5)));
    let mut by_digit = ys.clone();
    by_digit.sort_by_key(|v| (v % 10, *v));
    has(&list_line("take_ordered_by_last_digit", &by_digit[..5]));
    has(&list_line("top_by_last_digit", by_digit.iter().rev().take(3)));

    let mut by7 = BTreeMap::new();
    xs.iter().for_each(|x| *by7.entry(x % 7).or_insert(0u64) += 1);
    has(&pairs_line("count_by_value_mod7", by7));

    // Indexing over the even numbers; partition p holds 25p+1..=25p+25.
    let evens: Vec<i64> = xs.iter().copied().filter(|x| x % 2 == 0).collect();
    has(&pairs_line("zip_with_index", evens.iter().zip(0u64..).map(|(x, i)| (*x, i))));
    let unique = (0..4u64).flat_map(|p| {
        let part: Vec<i64> = evens.iter().copied().filter(|x| (*x - 1) as u64 / 25 == p).collect();
        part.into_iter().zip(0u64..).map(move |(x, k)| (x, k * 4 + p))
    });
    has(&pairs_line("zip_with_unique_id", unique));

    // Set operations.
    let mut sub: Vec<i64> = xs.iter().chain(&xs).copied().filter(|x| x % 3 != 0).collect();
    sub.sort();
    has(&list_line("subtract", sub));
    has("subtract_by_key_small_left=0");
    has(&format!("subtract_by_key_count={}", xs.iter().filter(|x| *x % 10 >= 5).count()));
    let left: BTreeSet<i64> = xs.iter().map(|x| x % 7).collect();
    let right: BTreeSet<i64> = xs.iter().map(|x| x % 10).filter(|x| x % 2 == 0).collect();
    has(&list_line("intersection", left.intersection(&right)));
    let cart = [1, 2, 3].iter().flat_map(|a| [10, 11].iter().map(move |b| format!("{a}x{b}")));
    has(&list_line("cartesian", cart));
    has(&list_line("glom", (0..4).map(|p| format!("25:{}", 25 * p + 1))));
    has(&list_line("lookup_3", xs.iter().filter(|x| *x % 7 == 3)));

    // Numbers: x / 4 as f64.
    let qs: Vec<f64> = xs.iter().map(|x| *x as f64 / 4.0).collect();
    let mean = qs.iter().sum::<f64>() / qs.len() as f64;
    let m2: f64 = qs.iter().map(|q| (q - mean) * (q - mean)).sum();
    assert_fields(
        &lines,
        "numbers ",
        &[
            ("sum", qs.iter().sum()),
            ("mean", mean),
            ("count", 100.0),
            ("min", 0.25),
            ("max", 25.0),
            ("variance", m2 / 100.0),
            ("sample_variance", m2 / 99.0),
        ],
    );
    has("empty sum=0 mean=nan");

    // Tree aggregation over 1..=1000 in 10 partitions from zero 1000: the zero once per
    // partition and once on the driver, whatever the depth.
    let big: i64 = (1..=1000).sum();
    for depth in 1..=3 {
        has(&format!("tree_aggregate_depth{depth}={}", big + 11 * 1000));
    }
    has(&format!("tree_reduce={} found=1", (1..=1000i64).map(|x| x * x).sum::<i64>()));
    has("tree_reduce_empty found=0");

    // Sources: raw line bytes (no U+FFFD), and one record per file.
    let raw: Vec<String> = latin1
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .map(|l| l.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    has(&list_line("binary_lines", raw));
    let mut files: Vec<&str> =
        starts("whole_text_files=")["whole_text_files=".len()..].split(',').collect();
    files.sort();
    let want: Vec<String> =
        texts.iter().map(|(n, t)| format!("{n}:{}", t.replace('\n', "|"))).collect();
    assert_eq!(files, want);
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The comb_op calls Spark's treeAggregate makes inside tasks when every partition has a
/// partial result: at each level `count` partials become `count / scale`.
fn tree_comb_calls(partitions: u64, depth: u32) -> u64 {
    let mut count = partitions;
    let scale = ((count as f64).powf(1.0 / f64::from(depth)).ceil() as u64).max(2);
    let mut calls = 0;
    while count > scale + count.div_ceil(scale) {
        calls += count - count / scale;
        count /= scale;
    }
    calls
}

#[test]
fn c_tree_aggregate_combines_in_levels_as_spark_does() {
    let run = shared_job(&[], &["tree"]);
    assert!(run.ok(), "{}", run.stderr);
    let expected: Vec<String> = [10u64, 64]
        .iter()
        .flat_map(|&parts| {
            (1..=4u32).map(move |depth| {
                format!(
                    "parts={parts} depth={depth} value={} task_comb_calls={}",
                    (1..=1000i64).sum::<i64>(),
                    tree_comb_calls(parts, depth)
                )
            })
        })
        .collect();
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), expected, "{}", run.stderr);
    // Levels happened (not only the driver's final combination).
    assert!(tree_comb_calls(64, 3) > 0 && tree_comb_calls(10, 2) > 0);
}

#[test]
fn c_accumulators_count_once_despite_a_failed_attempt_and_lost_shuffle_files() {
    let (n, partitions) = (4000i64, 8);
    // Executor 1: the first attempt of map partition 1 fails. Executor 2 deletes its shuffle
    // files after its first map task, so map partitions run again for the reduce stage.
    let one = "fail kind=map partition=1 attempt=0 message=injected failure";
    let two = "delete-shuffle after-map-tasks=1\n\
               fail kind=map partition=1 attempt=0 message=injected failure";
    let cluster = Cluster::start_with_faults(&[], &[], &[one, two]);
    let job = c_job("shared_job");
    let (n_arg, p_arg) = (n.to_string(), partitions.to_string());
    let args = [Path::new("accumulate"), Path::new(&n_arg), Path::new(&p_arg)];
    let run = cluster.submit(job.to_str().unwrap(), &[], &args, None);
    assert!(run.ok(), "{}", run.stderr);
    let xs: Vec<i64> = (1..=n).collect();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_fields(
        &lines,
        "keys=",
        &[
            ("keys", 7.0),
            ("long_sum", xs.iter().sum::<i64>() as f64),
            ("double_sum", xs.iter().map(|x| *x as f64 / 2.0).sum()),
            ("long_min", 1.0),
            ("long_max", n as f64),
            ("double_min", 1.5),
            ("double_max", n as f64 * 1.5),
        ],
    );
    assert_eq!(lines[1], list_line("collection", xs.iter().filter(|x| *x % 25 == 0)));
    let events = cluster.events();
    let failed =
        events.iter().filter(|e| e["event"] == "task_end" && e["result"] == "failed").count();
    assert!(failed >= 1, "an attempt failed");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "stage_submitted" && e["attempt"].as_u64().unwrap_or(0) > 0),
        "a stage ran again after the lost shuffle files"
    );
}

/// The one `wisp: error:` line of a failed run of the shared-job.
fn shared_job_error(mode: &str, conf: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let conf: Vec<&str> = ["wisp.task.maxFailures=1"].iter().chain(conf).copied().collect();
    let run = shared_job(&conf, &[mode, dir.path().to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "stdout: {} stderr: {}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no output left behind");
    errors[0].to_owned()
}

#[test]
fn c_reading_a_destroyed_broadcast_fails_the_job_with_one_line() {
    let line = shared_job_error("destroyed", &[]);
    assert!(
        line.contains(
            "c function look_up (map) failed: broadcast 0 does not exist or was destroyed"
        ),
        "{line}"
    );
}

#[test]
fn c_checkpoint_without_a_directory_fails_the_job_with_one_line() {
    let line = shared_job_error("no-checkpoint", &[]);
    assert!(line.ends_with("no checkpoint directory (call set_checkpoint_dir first)"), "{line}");
}

#[test]
fn c_broadcast_over_the_configured_limit_fails_the_job_with_one_line() {
    let line = shared_job_error("too-big", &["wisp.broadcast.maxBytes=1000"]);
    assert!(
        line.ends_with(
            "broadcast value of 4096 bytes exceeds wisp.broadcast.maxBytes (1000 bytes)"
        ),
        "{line}"
    );
}

#[test]
fn c_builtins_wordcount_matches_the_rust_guest_part_for_part() {
    let job = c_job("builtins_job");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 2 << 20, 23).unwrap();
    std::fs::write(input.join("awkward.txt"), awkward_bytes()).unwrap();
    std::fs::write(input.join("spaces.txt"), "a\t b\r\n\x0cc  a\n\n é a\n").unwrap();
    let conf = [
        "--cores",
        "2",
        "--conf",
        "wisp.files.maxPartitionBytes=256k",
        "--conf",
        "wisp.default.parallelism=3",
    ];
    let (c_out, rust_out) = (dir.path().join("c"), dir.path().join("rust"));
    for (component, prefix, out) in
        [(job.to_str().unwrap(), Some("wordcount"), &c_out), (WORDCOUNT, None, &rust_out)]
    {
        let mut args = vec!["run", component];
        args.extend_from_slice(&conf);
        args.push("--");
        args.extend(prefix);
        args.extend_from_slice(&[input.to_str().unwrap(), out.to_str().unwrap()]);
        let run = wisp(&args, RUN_TIMEOUT);
        assert!(run.ok(), "{component} failed: {}", run.stderr);
        assert!(out.join("_SUCCESS").exists(), "no _SUCCESS marker from {component}");
    }
    assert_eq!(parts(&c_out).len(), 3, "wisp.default.parallelism=3 reduce partitions");
    assert_same_parts(&c_out, &rust_out, "C built-in word count");
    // And against a count computed here.
    let mut all = Vec::new();
    for name in ["awkward.txt", "corpus.txt", "spaces.txt"] {
        all.extend_from_slice(&std::fs::read(input.join(name)).unwrap());
        all.push(b'\n');
    }
    assert_eq!(parse_counts(&read_output_lines(&c_out)), reference_word_count(&all));
}

/// One generated CSV row: its line and its fields as a CSV reader sees them (key, name, amount, price).
fn csv_row(i: i64) -> (String, (String, String, i64, f64)) {
    let key = ["alpha", "beta", "gamma", "delta", "eps"][(i * 7 % 5) as usize].to_string();
    let (raw, name) = match i % 4 {
        0 => (format!("\"  Name {i}, x \""), format!("  Name {i}, x ")),
        1 => (format!("plain{}", i % 17), format!("plain{}", i % 17)),
        2 => (format!("\"say \"\"hi\"\" {}\"", i % 9), format!("say \"hi\" {}", i % 9)),
        _ => (format!("Été {} ", i % 13), format!("Été {} ", i % 13)),
    };
    let amount = i * 7919 % 2001 - 1000;
    let q = i * 37 % 801 - 400;
    // A quarter: exact in f64, so sums do not depend on the order of addition.
    let price = q as f64 / 4.0;
    let price_text = if i % 10 == 0 { format!("{}e-2", q * 25) } else { price.to_string() };
    (format!("{key},{raw},{amount},{price_text}"), (key, name, amount, price))
}

/// Counts of each item.
fn tally<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeMap<T, i64> {
    let mut m = BTreeMap::new();
    items.into_iter().for_each(|t| *m.entry(t).or_insert(0) += 1);
    m
}

/// Per key of `rows`, `f` folded over the values `v` picks.
fn per_key<V: Copy, A>(
    rows: &[(String, String, i64, f64)],
    v: impl Fn(&(String, String, i64, f64)) -> V,
    first: impl Fn(V) -> A,
    f: impl Fn(A, V) -> A,
) -> BTreeMap<String, A> {
    let mut m: BTreeMap<String, A> = BTreeMap::new();
    for r in rows {
        let x = v(r);
        let acc = match m.remove(&r.0) {
            None => first(x),
            Some(a) => f(a, x),
        };
        m.insert(r.0.clone(), acc);
    }
    m
}

#[test]
fn c_builtins_csv_aggregates_match_answers_computed_here() {
    let job = c_job("builtins_job");
    let dir = tempfile::tempdir().unwrap();
    let (lines, rows): (Vec<String>, Vec<_>) = (0..3000).map(csv_row).unzip();
    let csv = format!("key,name,amount,price\n{}\n", lines.join("\n"));
    std::fs::write(dir.path().join("rows.csv"), csv).unwrap();
    std::fs::write(dir.path().join("rows.tsv"), "k\tv1\tw1\nk2\t\tx\n").unwrap();
    std::fs::write(
        dir.path().join("objs.jsonl"),
        "{\"name\": \"b\\u00e9a\"}\n{\"age\": 4, \"name\": 7}\n",
    )
    .unwrap();
    let run = wisp(
        &["run", job.to_str().unwrap(), "--cores", "2", "--", "csv", dir.path().to_str().unwrap()],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    let mut got: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in run.stdout.lines() {
        let (name, value) = line.split_once('\t').unwrap_or_else(|| panic!("{line}"));
        got.entry(name).or_default().push(value);
    }
    // `key=value` lines as a map, values parsed.
    fn pairs<K: Ord, V>(
        got: &BTreeMap<&str, Vec<&str>>,
        name: &str,
        k: impl Fn(&str) -> K,
        v: impl Fn(&str) -> V,
    ) -> BTreeMap<K, V> {
        let lines = got.get(name).unwrap_or_else(|| panic!("no {name} lines"));
        let m: BTreeMap<K, V> = lines
            .iter()
            .map(|l| l.split_once('=').unwrap_or_else(|| panic!("{name}: {l}")))
            .map(|(a, b)| (k(a), v(b)))
            .collect();
        assert_eq!(m.len(), lines.len(), "{name}: a key twice");
        m
    }
    let s = |x: &str| x.to_string();
    let int = |x: &str| x.parse::<i64>().unwrap_or_else(|_| panic!("{x}"));
    let float = |x: &str| x.parse::<f64>().unwrap_or_else(|_| panic!("{x}"));

    // Aggregates by key.
    let sums = per_key(&rows, |r| r.2, |x| x, |a, x| a + x);
    assert_eq!(pairs(&got, "sum", s, int), sums);
    assert_eq!(pairs(&got, "count", s, int), tally(rows.iter().map(|r| r.0.clone())));
    assert_eq!(pairs(&got, "min", s, int), per_key(&rows, |r| r.2, |x| x, i64::min));
    assert_eq!(pairs(&got, "max", s, int), per_key(&rows, |r| r.2, |x| x, i64::max));
    let fsums = per_key(&rows, |r| r.3, |x| x, |a, x| a + x);
    assert_eq!(pairs(&got, "sum_float", s, float), fsums);
    let counts = tally(rows.iter().map(|r| r.0.clone()));
    let means: BTreeMap<String, f64> =
        fsums.iter().map(|(k, v)| (k.clone(), v / counts[k] as f64)).collect();
    assert_eq!(pairs(&got, "mean", s, float), means);
    let trimmed = |r: &(String, String, i64, f64)| r.1.trim().to_string();
    let names = |pick: fn(String, String) -> String| {
        let mut m: BTreeMap<String, String> = BTreeMap::new();
        for r in &rows {
            let t = trimmed(r);
            let v = match m.remove(&r.0) {
                None => t,
                Some(a) => pick(a, t),
            };
            m.insert(r.0.clone(), v);
        }
        m
    };
    assert_eq!(pairs(&got, "min_name", s, s), names(std::cmp::min));
    assert_eq!(pairs(&got, "max_name", s, s), names(std::cmp::max));
    let words_per_key =
        per_key(&rows, |r| r.1.split_ascii_whitespace().count() as i64, |x| x, |a, x| a + x);
    assert_eq!(pairs(&got, "words_per_key", s, int), words_per_key);

    // Column transformations.
    let mut lower: Vec<String> = rows.iter().map(|r| trimmed(r).to_lowercase()).collect();
    let mut lower_got: Vec<String> = got["lower"].iter().map(|x| x.to_string()).collect();
    lower.sort();
    lower_got.sort();
    assert_eq!(lower_got, lower);
    assert_eq!(pairs(&got, "upper_keys", s, int), tally(rows.iter().map(|r| r.0.to_uppercase())));
    let words = tally(rows.iter().flat_map(|r| r.1.split_ascii_whitespace().map(str::to_string)));
    assert_eq!(pairs(&got, "words", s, int), words);
    assert_eq!(pairs(&got, "amounts", int, int), tally(rows.iter().map(|r| r.2)));
    let prices = pairs(&got, "prices", |x| float(x).to_bits(), int);
    assert_eq!(prices, tally(rows.iter().map(|r| r.3.to_bits())));
    let indexed: Vec<String> =
        rows.iter().enumerate().map(|(i, r)| format!("{}:{i}", r.0)).collect();
    assert_eq!(got["indexed"], indexed.iter().map(String::as_str).collect::<Vec<_>>());
    let pieces: usize = lines.iter().map(|l| l.split(',').count()).sum();
    assert_eq!(got["pieces"], [pieces.to_string()]);

    // Driver-side reductions.
    let amounts: Vec<i64> = rows.iter().map(|r| r.2).collect();
    assert_eq!(got["reduce_sum"], [amounts.iter().sum::<i64>().to_string()]);
    assert_eq!(got["reduce_min"], [amounts.iter().min().unwrap().to_string()]);
    assert_eq!(got["reduce_max"], [amounts.iter().max().unwrap().to_string()]);
    let price_sum: f64 = rows.iter().map(|r| r.3).sum();
    assert_eq!(float(got["reduce_sum_float"][0]), price_sum);

    // Other fields, and what is refused when the transformation is made.
    assert_eq!(got["tsv"], ["v1", ""]);
    assert_eq!(got["json"], ["béa", "7"]);
    assert!(
        got["wrong_kind"][0].starts_with("wisp:builtins has no map function \"split_whitespace\""),
        "{:?}",
        got["wrong_kind"]
    );
    assert!(
        got["empty_delimiter"][0].contains("the delimiter is empty"),
        "{:?}",
        got["empty_delimiter"]
    );
}

#[test]
fn c_builtin_on_a_bad_record_fails_naming_the_builtin_the_record_and_the_partition() {
    let job = c_job("builtins_job");
    let dir = tempfile::tempdir().unwrap();
    // 12 rows in 4 slices of 3: row 10 is in partition 3.
    let rows: Vec<String> = (0..12)
        .map(|i| if i == 10 { "k,x,x1y".to_string() } else { format!("k{},y,{i}", i % 3) })
        .collect();
    std::fs::write(dir.path().join("bad.csv"), rows.join("\n")).unwrap();
    let args = [
        "run",
        job.to_str().unwrap(),
        "--cores",
        "2",
        "--conf",
        "wisp.task.maxFailures=1",
        "--",
        "bad",
        dir.path().to_str().unwrap(),
    ];
    let run = wisp(&args, RUN_TIMEOUT);
    assert_eq!(run.code, Some(1), "stdout: {} stderr: {}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0]
            .contains("built-in parse_int failed on record \"x1y\" of partition 3: not an integer"),
        "{}",
        errors[0]
    );
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("wasm trap"),
        "{}",
        run.stderr
    );
}
