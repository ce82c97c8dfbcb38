//! Data bigger than memory: reduce-side operators spill and merge, guest combiners (map and reduce side) run in generations, cached blocks are evicted to disk — with the same answers, computed here independently.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use wisp_tests::{API_JOB, Rng, read_output_lines, run_bounded, wisp_bin};

use crate::RUN_TIMEOUT;

/// An executor budget of 64 MiB for 2 cores: 48 MiB to work in, a task's operators get at most 12.
const BUDGET: &str = "wisp.executor.memory=64m";

/// Log targets whose debug lines show spills, generations and cache reads.
const LOG: &str = "warn,wisp::spill=debug,wisp::executor::reduce_combine=debug,wisp::executor::map_combine=debug,wisp::executor::plan_run=debug,wisp::block=debug";

fn run_api(conf: &[&str], args: &[&str]) -> wisp_tests::Run {
    let mut cmd = std::process::Command::new(wisp_bin());
    cmd.args(["run", API_JOB, "--cores", "2", "--conf", BUDGET]);
    for c in conf {
        cmd.args(["--conf", c]);
    }
    cmd.arg("--")
        .args(args)
        .env("WISP_LOG", LOG)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let run = run_bounded(cmd, RUN_TIMEOUT);
    assert!(
        run.ok(),
        "job failed: {}",
        run.stderr.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    run
}

/// `key value` lines: 1.5M pairs over 400k keys (about 20 MB, 10 MB per reduce partition).
fn write_pairs(path: &Path) -> Vec<(String, i64)> {
    let mut rng = Rng::new(11);
    let pairs: Vec<(String, i64)> = (0..1_500_000)
        .map(|_| (format!("k{}", rng.below(400_000)), rng.below(1000) as i64))
        .collect();
    let text: String = pairs.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    std::fs::write(path, text).unwrap();
    pairs
}

fn split2(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"))
}

fn sorted_multiset(mut lines: Vec<String>) -> Vec<String> {
    lines.sort_unstable();
    lines
}

#[test]
fn reduce_side_operators_bigger_than_the_budget_spill_and_give_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.txt");
    let pairs = write_pairs(&input);
    let out = dir.path().join("out");
    // Guests limited to 16 MiB: a generation is 4 MiB of guest memory or shuffle input.
    let run = run_api(
        &["wisp.task.memory=16m"],
        &["out-of-core", input.to_str().unwrap(), out.to_str().unwrap()],
    );
    assert!(run.stderr.contains("spilled a sorted run"), "nothing spilled:\n{}", run.stderr);
    assert!(run.stderr.contains("reduce-side combiner runs in generations"), "{}", run.stderr);
    // Map tasks of ~190k pairs over ~150k keys each outgrow a generation of guest memory.
    assert!(run.stderr.contains("map-side combiner ran in generations"), "{}", run.stderr);

    let mut sums: HashMap<&str, (u64, i64)> = HashMap::new();
    for (k, v) in &pairs {
        let e = sums.entry(k).or_default();
        e.0 += 1;
        e.1 += v;
    }
    // Sorted: keys never decrease across part files, and the pairs are the input's.
    let sorted = read_output_lines(&out.join("sorted"));
    assert!(sorted.windows(2).all(|w| split2(&w[0]).0 <= split2(&w[1]).0), "not sorted");
    let input_lines: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} {v}")).collect();
    assert_eq!(sorted_multiset(sorted), sorted_multiset(input_lines.clone()));
    // Grouped: one line per key with its count and sum.
    let want: Vec<String> = sums.iter().map(|(k, (n, s))| format!("{k} {n} {s}")).collect();
    let grouped = read_output_lines(&out.join("grouped"));
    assert_eq!(sorted_multiset(grouped), sorted_multiset(want));
    // Reduced by a guest combiner in generations: one line per key with its sum.
    let want: Vec<String> = sums.iter().map(|(k, (_, s))| format!("{k} {s}")).collect();
    assert_eq!(sorted_multiset(read_output_lines(&out.join("reduced"))), sorted_multiset(want));
    // Joined: every pair with its key's sum.
    let want: Vec<String> =
        pairs.iter().map(|(k, v)| format!("{k} {} {v}", sums[k.as_str()].1)).collect();
    assert_eq!(sorted_multiset(read_output_lines(&out.join("joined"))), sorted_multiset(want));
    // Distinct keys.
    let keys: BTreeSet<String> = read_output_lines(&out.join("distinct")).into_iter().collect();
    let want: BTreeSet<String> = sums.keys().map(|k| k.to_string()).collect();
    assert_eq!(keys, want);
}

#[test]
fn a_cache_three_times_the_pool_spills_to_disk_and_the_second_action_recomputes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lines.txt");
    let mut rng = Rng::new(5);
    let lines: Vec<String> =
        (0..1_300_000).map(|i| format!("line {i} {}", rng.below(1 << 40))).collect();
    std::fs::write(&input, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let cached_bytes: u64 = lines.iter().map(|l| l.len() as u64 + 100).sum();
    assert!(cached_bytes > 3 * (48 << 20), "the cache must be 3× the pool: {cached_bytes}");

    let run = run_api(&[], &["cache-twice", input.to_str().unwrap()]);
    assert_eq!(run.stdout.trim(), format!("count={} bytes={cached_bytes}", lines.len()));
    let count = |needle: &str| run.stderr.lines().filter(|l| l.contains(needle)).count();
    // 32 partitions: computed (and cached) once by the first action, read back by the second.
    assert_eq!(count("computed block"), 32, "{}", run.stderr);
    assert_eq!(count("read cached block"), 32, "{}", run.stderr);
    // Storage memory holds some blocks; the rest went to disk (a block never evicts its own
    // RDD's siblings, as in Spark), none was dropped.
    assert!(count("stored=Ok(Memory)") > 0, "{}", run.stderr);
    assert!(count("stored=Ok(Disk)") > 0, "nothing on disk:\n{}", run.stderr);
    assert!(!run.stderr.contains("Nowhere"), "{}", run.stderr);
}

/// A spill the file system refuses (a file size limit, as a full disk would): each attempt fails
/// as the executor's fault and is retried; when every attempt fails, the job ends with one line
/// naming the spill and the cause, writes no output and leaves no work files.
#[test]
fn a_spill_the_disk_refuses_fails_the_job_in_one_line_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.txt");
    write_pairs(&input);
    let out = dir.path().join("out");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // Files may not grow past 1 MiB (SIGXFSZ ignored: the write fails with EFBIG instead). Map
    // splits of 512 KiB keep shuffle files under it; a 32 MiB budget makes the sort spill runs
    // of a few MiB.
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["-c", r#"trap "" XFSZ; ulimit -f 1024; exec "$0" "$@""#])
        .arg(wisp_bin())
        .args(["run", API_JOB, "--cores", "2", "--quiet"])
        .args(["--conf", "wisp.executor.memory=32m", "--conf", "wisp.files.maxPartitionBytes=512k"])
        .args(["--conf", "wisp.task.maxFailures=2", "--", "out-of-core"])
        .arg(&input)
        .arg(&out)
        .env("TMPDIR", &tmp)
        // No compiled component is written to the cache (it would be past the limit too).
        .env("WISP_CACHE_DIR", "")
        .env_remove("WISP_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let run = run_bounded(cmd, RUN_TIMEOUT);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let line = run.stderr.trim_end();
    assert!(line.starts_with("wisp: error: job failed: task "), "{line}");
    assert!(line.contains("failed 2 times; last failure: cannot spill "), "{line}");
    assert!(line.contains("/spill/") && line.ends_with("File too large (os error 27)"), "{line}");
    // Nothing was saved, and the executor's work directory (spill runs, shuffle files) is gone.
    assert!(!out.join("sorted").exists());
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
