//! Object storage against a real S3-compatible server (moto, started per test on 127.0.0.1): word count and join read from and written to `s3://` URLs in local mode and on a 2-executor cluster sharing no directory, byte-identical to the local-file runs; `.gz`/`.zst` input and output; the rename-free commit protocol under retries, a lost executor, speculation and a failed job; checkpoints on the store; `whole_text_files` and `binary_lines` over objects; bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use wisp_tests::moto::{Moto, SECRET_KEY};
use wisp_tests::{
    JOIN, PAGERANK, Rng, Run, SHARED_VARS, WORDCOUNT, awkward_bytes, parse_counts, reference_join,
    reference_word_count, run_bounded, wisp_bin,
};

use crate::RUN_TIMEOUT;
use crate::guest_lang::parts;
use crate::harness::Cluster;

/// Small splits, so most splits end inside a line (records crossing split ends).
const SPLIT: &str = "wisp.files.maxPartitionBytes=200k";

/// `wisp run JOB --cores 2 --conf ... -- ARGS` with the server's AWS environment.
fn run_with(moto: &Moto, job: &str, conf: &[&str], args: &[&str], event_log: Option<&Path>) -> Run {
    let mut cmd = Command::new(wisp_bin());
    cmd.envs(moto.env()).args(["run", job, "--cores", "2"]);
    for c in conf {
        cmd.args(["--conf", c]);
    }
    if let Some(log) = event_log {
        cmd.arg("--event-log").arg(log);
    }
    cmd.arg("--").args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    run_bounded(cmd, RUN_TIMEOUT)
}

/// The corpus of these tests: awkward bytes (long lines, CRLF, invalid UTF-8) and a generated text.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.txt");
    wisp_tests::write_corpus(&path, 1 << 20, 12).unwrap();
    vec![
        ("a-awkward.txt".to_string(), awkward_bytes()),
        ("b-corpus.txt".to_string(), std::fs::read(&path).unwrap()),
    ]
}

/// Writes the files locally under `dir` and to `bucket/prefix/` (plus a `_` and a `.` file both must skip).
fn seed(moto: &Moto, bucket: &str, prefix: &str, dir: &Path, files: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
        moto.put(bucket, &format!("{prefix}/{name}"), bytes.clone());
    }
    moto.put(bucket, &format!("{prefix}/_ignored"), b"not input\n".to_vec());
    moto.put(bucket, &format!("{prefix}/.hidden"), b"not input either\n".to_vec());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out).unwrap();
    out
}

/// The keys below `prefix/`, names only.
fn names(moto: &Moto, bucket: &str, prefix: &str) -> Vec<String> {
    moto.list(bucket, prefix)
        .into_iter()
        .map(|(k, _)| k.rsplit('/').next().unwrap().to_string())
        .collect()
}

/// What a committed output of `n` partitions holds: `part-00000{ext}`... and `_SUCCESS`, nothing else.
fn committed(n: usize, ext: &str) -> Vec<String> {
    let mut want: Vec<String> = (0..n).map(|i| format!("part-{i:05}{ext}")).collect();
    want.push("_SUCCESS".to_string());
    want.sort();
    want
}

#[test]
fn store_wordcount_in_local_mode_matches_the_local_file_run_byte_for_byte() {
    let moto = Moto::start();
    moto.create_bucket("data");
    let dir = tempfile::tempdir().unwrap();
    let files = corpus();
    let local_in = dir.path().join("in");
    seed(&moto, "data", "in", &local_in, &files);
    let mut all = Vec::new();
    for (_, bytes) in &files {
        all.extend_from_slice(bytes);
        all.push(b'\n');
    }
    let expected = reference_word_count(&all);

    let local_out = dir.path().join("out");
    let args = [local_in.to_str().unwrap(), local_out.to_str().unwrap()];
    let run = run_with(&moto, WORDCOUNT, &[SPLIT], &args, None);
    assert!(run.ok(), "local run: {}", run.stderr);
    let want = parts(&local_out);
    let joined: Vec<String> = want
        .values()
        .flat_map(|b| {
            String::from_utf8(b.clone()).unwrap().lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(parse_counts(&joined), expected, "the local run itself");

    // s3 in, s3 out; then file:// in, s3 out: the same part files.
    let events = dir.path().join("events.jsonl");
    // 64 KiB GETs: every split takes several, with one in flight ahead of the reader.
    let small_gets = [SPLIT, "wisp.s3.readChunk=64k"];
    let run =
        run_with(&moto, WORDCOUNT, &small_gets, &["s3://data/in", "s3://data/out"], Some(&events));
    assert!(run.ok(), "s3 run: {}", run.stderr);
    let gets = moto.requests().matches("GET /data/in/b-corpus.txt").count();
    assert!(gets >= 16, "1 MiB in 64 KiB ranged GETs, {gets} made");
    assert_eq!(names(&moto, "data", "out"), committed(want.len(), ""));
    assert!(moto.parts("data", "out") == want, "s3 part files differ from the local run's");
    let file_url = format!("file://{}", local_in.display());
    let run = run_with(&moto, WORDCOUNT, &[SPLIT], &[&file_url, "s3a://data/out2/"], None);
    assert!(run.ok(), "file:// run: {}", run.stderr);
    assert!(moto.parts("data", "out2") == want, "file:// → s3 parts differ");
    // Credentials reach neither the event log nor the output.
    let log: String = std::fs::read_dir(&events)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(log.contains("app_start"), "an event log was written");
    assert!(!log.contains(SECRET_KEY) && !run.stderr.contains(SECRET_KEY));

    // PageRank (5 iterations, 12 shuffles) from and to the store: the local-file run's parts.
    let mut rng = Rng::new(5);
    let edges: String =
        (0..3000).map(|_| format!("p{} p{}\n", rng.below(300), rng.below(400))).collect();
    std::fs::write(dir.path().join("edges.txt"), &edges).unwrap();
    moto.put("data", "graph/edges.txt", edges.into_bytes());
    let ranks = dir.path().join("ranks");
    let e = dir.path().join("edges.txt");
    let run =
        run_with(&moto, PAGERANK, &[], &[e.to_str().unwrap(), "5", ranks.to_str().unwrap()], None);
    assert!(run.ok(), "pagerank on files: {}", run.stderr);
    let run = run_with(&moto, PAGERANK, &[], &["s3://data/graph", "5", "s3://data/ranks"], None);
    assert!(run.ok(), "pagerank on the store: {}", run.stderr);
    assert!(moto.parts("data", "ranks") == parts(&ranks), "pagerank parts differ");

    // Compressed output: the same lines, gzip-encoded, named .gz.
    let run = run_with(
        &moto,
        WORDCOUNT,
        &[SPLIT, "wisp.output.compress=gzip"],
        &["s3://data/in", "s3://data/out-gz"],
        None,
    );
    assert!(run.ok(), "gzip output: {}", run.stderr);
    assert_eq!(names(&moto, "data", "out-gz"), committed(want.len(), ".gz"));
    let unpacked: BTreeMap<String, Vec<u8>> = moto
        .parts("data", "out-gz")
        .into_iter()
        .map(|(n, b)| (n.trim_end_matches(".gz").to_string(), gunzip(&b)))
        .collect();
    assert!(unpacked == want, "gzip parts differ once unpacked");
}

#[test]
fn compressed_input_gives_the_same_counts_from_files_and_objects() {
    let moto = Moto::start();
    moto.create_bucket("zipped");
    let dir = tempfile::tempdir().unwrap();
    let files = corpus();
    let mut all = Vec::new();
    for (_, bytes) in &files {
        all.extend_from_slice(bytes);
        all.push(b'\n');
    }
    let expected = reference_word_count(&all);
    // One .gz of the first file (two gzip members, as `cat a.gz b.gz` makes) and one .zst of the second.
    let half = files[0].1.len() / 2;
    let mut gz = gzip(&files[0].1[..half]);
    gz.extend_from_slice(&gzip(&files[0].1[half..]));
    let zst = zstd::encode_all(&files[1].1[..], 3).unwrap();
    let packed = vec![("a.txt.gz".to_string(), gz), ("b.txt.zst".to_string(), zst)];
    let local_in = dir.path().join("in");
    seed(&moto, "zipped", "in", &local_in, &packed);
    for (input, out) in [
        (local_in.to_str().unwrap().to_string(), "s3://zipped/from-files".to_string()),
        ("s3://zipped/in".to_string(), "s3://zipped/from-objects".to_string()),
    ] {
        let run = run_with(&moto, WORDCOUNT, &[SPLIT], &[&input, &out], None);
        assert!(run.ok(), "{input}: {}", run.stderr);
        let prefix = out.trim_start_matches("s3://zipped/");
        let lines: Vec<String> = moto
            .parts("zipped", prefix)
            .values()
            .flat_map(|b| {
                String::from_utf8(b.clone())
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(parse_counts(&lines), expected, "{input}");
    }
    // Compressed output on a local disk: part-NNNNN.zst, decoding to the same counts.
    let out = dir.path().join("zst-out");
    let conf = [SPLIT, "wisp.output.compress=zstd"];
    let run = run_with(&moto, WORDCOUNT, &conf, &["s3://zipped/in", out.to_str().unwrap()], None);
    assert!(run.ok(), "zstd output: {}", run.stderr);
    let mut lines = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names.iter().filter(|n| n.starts_with("part-")) {
        assert!(name.ends_with(".zst"), "{name}");
        let bytes = zstd::decode_all(&std::fs::read(out.join(name)).unwrap()[..]).unwrap();
        lines.extend(String::from_utf8(bytes).unwrap().lines().map(str::to_string));
    }
    assert!(names.contains(&"_SUCCESS".to_string()));
    assert_eq!(parse_counts(&lines), expected, "zstd output");
}

/// A cluster whose master and two executors have their own work directories and the server's environment.
fn store_cluster(moto: &Moto, conf: &[&str], faults: &[&str]) -> Cluster {
    Cluster::start_with_env(conf, &[], faults, &moto.env())
}

#[test]
fn store_jobs_on_a_cluster_without_shared_files_match_the_local_runs() {
    let moto = Moto::start();
    moto.create_bucket("shared");
    let dir = tempfile::tempdir().unwrap();
    let files = corpus();
    let local_in = dir.path().join("in");
    seed(&moto, "shared", "in", &local_in, &files);
    let left = "k1\ta\nk2\tb\nk1\tc\nk3\td\n".repeat(50);
    let right = "k1\tx\nk3\ty\nk4\tz\n".repeat(20);
    moto.put("shared", "left.txt", left.clone().into_bytes());
    moto.put("shared", "right.txt", right.clone().into_bytes());
    std::fs::write(dir.path().join("left.txt"), &left).unwrap();
    std::fs::write(dir.path().join("right.txt"), &right).unwrap();

    // The local-file runs, in local mode with 2 cores (the cluster's default parallelism too).
    let local_wc = dir.path().join("wc");
    let run = run_with(
        &moto,
        WORDCOUNT,
        &[SPLIT],
        &[local_in.to_str().unwrap(), local_wc.to_str().unwrap()],
        None,
    );
    assert!(run.ok(), "{}", run.stderr);
    let local_join = dir.path().join("join");
    let (l, r) = (dir.path().join("left.txt"), dir.path().join("right.txt"));
    let run = run_with(
        &moto,
        JOIN,
        &[],
        &[l.to_str().unwrap(), r.to_str().unwrap(), local_join.to_str().unwrap()],
        None,
    );
    assert!(run.ok(), "{}", run.stderr);

    let mut cluster = store_cluster(&moto, &[SPLIT], &["", ""]);
    cluster.wait_registered(2);
    let p = |s: &str| Path::new(s).to_path_buf();
    let run = cluster.submit(WORDCOUNT, &[], &[&p("s3://shared/in"), &p("s3://shared/wc")], None);
    assert!(run.ok(), "cluster word count: {}", run.stderr);
    let want = parts(&local_wc);
    assert_eq!(names(&moto, "shared", "wc"), committed(want.len(), ""));
    assert!(moto.parts("shared", "wc") == want, "the cluster's word count parts differ");
    let run = cluster.submit(
        JOIN,
        &[],
        &[&p("s3://shared/left.txt"), &p("s3://shared/right.txt"), &p("s3://shared/join")],
        None,
    );
    assert!(run.ok(), "cluster join: {}", run.stderr);
    // The same lines in the same part files (their order within a key follows shuffle fetch order).
    let sorted_lines = |parts: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<String>> {
        parts
            .into_iter()
            .map(|(name, bytes)| {
                let mut lines: Vec<String> =
                    String::from_utf8(bytes).unwrap().lines().map(str::to_string).collect();
                lines.sort();
                (name, lines)
            })
            .collect()
    };
    assert!(
        sorted_lines(moto.parts("shared", "join")) == sorted_lines(parts(&local_join)),
        "the cluster's join parts differ from the local run's"
    );
    let mut lines: Vec<String> = moto
        .parts("shared", "join")
        .values()
        .flat_map(|b| {
            String::from_utf8(b.clone()).unwrap().lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    assert_eq!(lines, reference_join(&left, &right));
    // Both executors read splits: nothing but the store is shared.
    assert_eq!(cluster.executors_with_tasks().len(), 2, "both executors ran tasks");
}

#[test]
fn store_commit_keeps_one_object_per_partition_and_a_failed_job_leaves_nothing() {
    let moto = Moto::start();
    moto.create_bucket("commit");
    let dir = tempfile::tempdir().unwrap();
    let files = corpus();
    seed(&moto, "commit", "in", &dir.path().join("in"), &files);
    let local_out = dir.path().join("out");
    let run = run_with(
        &moto,
        WORDCOUNT,
        &[SPLIT],
        &[dir.path().join("in").to_str().unwrap(), local_out.to_str().unwrap()],
        None,
    );
    assert!(run.ok(), "{}", run.stderr);
    let want = parts(&local_out);
    let p = |s: &str| Path::new(s).to_path_buf();

    // Executor 1 dies right after writing (uploading) result partition 0, before reporting it:
    // the retry writes it again elsewhere; exactly one part-00000 becomes visible.
    {
        // On both executors: whichever runs the first attempt of partition 0 dies after it.
        let exit = "exit kind=result partition=0 stage-attempt=0 attempt=0 at=end";
        let mut cluster = store_cluster(&moto, &[SPLIT], &[exit, exit]);
        cluster.wait_registered(2);
        let run =
            cluster.submit(WORDCOUNT, &[], &[&p("s3://commit/in"), &p("s3://commit/lost")], None);
        assert!(run.ok(), "with a lost executor: {}", run.stderr);
        let alive = cluster.executors.iter_mut().map(|e| e.running()).filter(|r| *r).count();
        assert_eq!(alive, 1, "one executor died after uploading partition 0");
        let uploads = moto.requests().matches("POST /commit/lost/part-00000?uploads").count();
        assert!(uploads >= 2, "partition 0 was uploaded twice ({uploads} uploads started)");
        assert_eq!(names(&moto, "commit", "lost"), committed(want.len(), ""));
        assert!(moto.parts("commit", "lost") == want, "parts differ after a lost executor");
    }
    // A straggling result attempt gets a speculative copy: still one object per partition.
    {
        let conf = [
            SPLIT,
            "wisp.speculation=true",
            "wisp.speculation.interval=50ms",
            "wisp.speculation.quantile=0.5",
            "wisp.speculation.minTaskRuntime=200ms",
        ];
        let straggler = "sleep kind=result partition=0 attempt=0 ms=20000";
        let mut cluster = store_cluster(&moto, &conf, &[straggler, straggler]);
        cluster.wait_registered(2);
        let run = cluster.submit(
            WORDCOUNT,
            &[],
            &[&p("s3://commit/in"), &p("s3://commit/spec-out")],
            None,
        );
        assert!(run.ok(), "with speculation: {}", run.stderr);
        assert_eq!(names(&moto, "commit", "spec-out"), committed(want.len(), ""));
        assert!(moto.parts("commit", "spec-out") == want, "parts differ with speculation");
    }
    // Result partition 1 fails on every attempt: the job fails after partition 0 uploaded its
    // part; nothing at all is visible under the output prefix, and no _SUCCESS.
    {
        // Partition 1 waits, so that partition 0's upload is done before the job fails.
        let fail = "sleep kind=result partition=1 ms=1500\nfail kind=result partition=1 message=injected failure";
        let mut cluster = store_cluster(&moto, &[SPLIT, "wisp.task.maxFailures=2"], &[fail, fail]);
        cluster.wait_registered(2);
        let run =
            cluster.submit(WORDCOUNT, &[], &[&p("s3://commit/in"), &p("s3://commit/failed")], None);
        assert!(!run.ok(), "the job should fail");
        assert!(run.stderr.contains("injected failure"), "{}", run.stderr);
        let staged = moto.requests().matches("PUT /commit/failed/part-00000?partNumber=1").count();
        assert!(staged >= 1, "partition 0 uploaded its part before the job failed");
        assert_eq!(moto.list("commit", "failed"), Vec::new(), "a failed job left objects");
    }
    // An existing output prefix is refused before anything runs.
    let run = run_with(&moto, WORDCOUNT, &[], &["s3://commit/in", "s3://commit/lost"], None);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("s3://commit/lost already exists"), "{}", run.stderr);
    assert_eq!(names(&moto, "commit", "lost"), committed(want.len(), ""));
}

/// The one `wisp: error:` line of a failed run (exit code 1), which must not show the secret.
fn error_line(run: &Run) -> String {
    assert_eq!(run.code, Some(1), "exit code; stderr: {}", run.stderr);
    assert!(!run.stderr.contains(SECRET_KEY), "the secret leaked: {}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(lines.len(), 1, "one error line: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    lines[0].to_string()
}

#[test]
fn store_bad_input_gives_one_line_errors_naming_the_url() {
    let moto = Moto::start();
    moto.create_bucket("bad");
    moto.put("bad", "in/x.txt", b"a b c\n".to_vec());
    let mut corrupt = gzip(&b"hello world\n".repeat(10_000));
    let len = corrupt.len();
    corrupt.truncate(len / 2);
    moto.put("bad", "corrupt/x.gz", corrupt);
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    moto.put("bad", "garbage/y.zst", garbage);
    let fast = ["wisp.s3.maxRetries=0", "wisp.task.maxFailures=1"];
    let cases: [(&str, &[&str], &str); 6] = [
        ("s3://no-such-bucket/in", &[], "s3://no-such-bucket/in"),
        ("s3://bad/missing", &[], "s3://bad/missing does not exist"),
        ("gs://bad/in", &[], "unsupported URL scheme `gs`"),
        ("s3://bad/corrupt", &fast, "s3://bad/corrupt/x.gz"),
        ("s3://bad/garbage", &fast, "s3://bad/garbage/y.zst"),
        (
            "s3://bad/in",
            &["wisp.s3.endpoint=http://127.0.0.1:9", "wisp.s3.maxRetries=1"],
            "s3://bad/in",
        ),
    ];
    for (input, conf, needle) in cases {
        let run = run_with(&moto, WORDCOUNT, conf, &[input, "s3://bad/out"], None);
        let line = error_line(&run);
        assert!(line.contains(needle), "{input}: {line}");
        assert_eq!(moto.list("bad", "out"), Vec::new(), "{input} left output");
    }
    // Output to a missing bucket: refused before running.
    let run = run_with(&moto, WORDCOUNT, &[], &["s3://bad/in", "s3://no-such-bucket/out"], None);
    assert!(error_line(&run).contains("s3://no-such-bucket/out"));
}

/// Spark's PageRank computed here: ranks of the pages with an incoming link after `iterations`.
fn reference_pagerank(edges: &[(String, String)], iterations: u32) -> BTreeMap<String, f64> {
    let mut links: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (s, d) in edges {
        links.entry(s).or_default().insert(d);
    }
    let mut ranks: BTreeMap<String, f64> = links.keys().map(|k| (k.to_string(), 1.0)).collect();
    for _ in 0..iterations {
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        for (page, urls) in &links {
            if let Some(rank) = ranks.get(*page) {
                for url in urls {
                    *sums.entry(url.to_string()).or_default() += rank / urls.len() as f64;
                }
            }
        }
        ranks = sums.into_iter().map(|(k, s)| (k, 0.15 + 0.85 * s)).collect();
    }
    ranks
}

/// The `rank PAGE VALUE` lines of the `pagerank` scenario, checked against `expected`.
fn check_ranks(stdout: &str, expected: &BTreeMap<String, f64>) {
    let ranks: BTreeMap<String, f64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("rank "))
        .map(|l| {
            let (p, r) = l.split_once(' ').unwrap();
            (p.to_owned(), r.parse().unwrap())
        })
        .collect();
    assert_eq!(ranks.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (page, rank) in &ranks {
        let want = expected[page];
        assert!((rank - want).abs() <= 1e-9 * want.abs(), "{page}: {rank} vs {want}");
    }
}

/// The number of stages of each job's DAG, in job order.
fn dag_sizes(events: &[Value]) -> Vec<usize> {
    events
        .iter()
        .filter(|e| e["event"] == "job_start")
        .map(|e| e["stages"].as_array().unwrap().len())
        .collect()
}

/// Every event of the event log directories below `dir`.
fn events_in(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        out.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    out
}

/// The records of framed checkpoint files (`u32le len ++ bytes` each), checked to end on a record.
fn framed_records(bytes: &[u8]) -> usize {
    let (mut at, mut n) = (0, 0);
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + len;
        n += 1;
    }
    assert_eq!(at, bytes.len(), "a checkpoint file ends on a record");
    n
}

/// Checks the checkpoints below `bucket/prefix/`: `rdds` of them, each one application's
/// `rdd-N/` with its part files and `_SUCCESS`, every one holding one record per page.
fn check_checkpoint_objects(moto: &Moto, bucket: &str, prefix: &str, rdds: usize, pages: usize) {
    let mut by_rdd: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, _) in moto.list(bucket, prefix) {
        let (dir, name) = key.rsplit_once('/').unwrap();
        by_rdd.entry(dir.to_string()).or_default().push(name.to_string());
    }
    assert_eq!(by_rdd.len(), rdds, "checkpoint directories: {by_rdd:?}");
    for (dir, mut names) in by_rdd {
        names.sort();
        let parts = names.len() - 1;
        assert_eq!(names, committed(parts, ""), "{dir}");
        let records: usize = (0..parts)
            .map(|p| framed_records(&moto.get(bucket, &format!("{dir}/part-{p:05}"))))
            .sum();
        assert_eq!(records, pages, "{dir}: one record per page");
    }
}

#[test]
fn store_checkpoints_truncate_the_lineage_and_give_the_ranks_computed_here_locally_and_on_a_cluster()
 {
    let moto = Moto::start();
    moto.create_bucket("ckpt");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(23);
    let edges: Vec<(String, String)> =
        (0..400).map(|_| (format!("p{}", rng.below(60)), format!("p{}", rng.below(60)))).collect();
    let text: String = edges.iter().map(|(s, d)| format!("{s} {d}\n")).collect();
    moto.put("ckpt", "graph/edges.txt", text.into_bytes());
    let iterations = 30;
    let expected = reference_pagerank(&edges, iterations);
    let n = iterations.to_string();

    // Local mode: checkpoints every 10 iterations on the store, and none.
    let mut outputs = Vec::new();
    for (every, ckpt) in [("10", "s3://ckpt/local"), ("0", "s3://ckpt/unused")] {
        let log = dir.path().join(format!("events-{every}"));
        let args = ["pagerank", "s3://ckpt/graph", n.as_str(), every, ckpt];
        let run = run_with(&moto, SHARED_VARS, &[], &args, Some(&log));
        assert!(run.ok(), "every {every}: {}", run.stderr);
        check_ranks(&run.stdout, &expected);
        outputs.push((run.stdout, dag_sizes(&events_in(&log))));
    }
    let ((with_out, with), (without_out, without)) = (&outputs[0], &outputs[1]);
    assert_eq!(with_out, without_out, "the same output with and without checkpoints");
    eprintln!("stages per job with store checkpoints every 10: {with:?}; without: {without:?}");
    // Iteration i's DAG holds the i iterations since the start, or since the last checkpoint.
    assert!(with.iter().max().unwrap() <= &(2 * 10 + 4), "bounded DAGs: {with:?}");
    assert!(*without.last().unwrap() >= iterations as usize, "{without:?}");
    // The count after each checkpoint (and the final collect) runs one stage: the checkpoint's read.
    assert_eq!(
        with.iter().filter(|s| **s == 1).count(),
        4,
        "jobs reading only checkpoints: {with:?}"
    );
    check_checkpoint_objects(&moto, "ckpt", "local", 3, expected.len());
    assert!(moto.list("ckpt", "unused").is_empty(), "no checkpoint, no objects");
    let reads = moto.requests().matches("GET /ckpt/local/").count();
    assert!(reads >= 3, "the checkpointed RDDs were read from the store ({reads} GETs)");

    // A cluster whose executors share no directory: they write and read the checkpoints on the store.
    let mut cluster = store_cluster(&moto, &[], &["", ""]);
    cluster.wait_registered(2);
    let args =
        ["pagerank", "s3://ckpt/graph", n.as_str(), "10", "s3://ckpt/cluster"].map(Path::new);
    let run = cluster.submit(SHARED_VARS, &[], &args, None);
    assert!(run.ok(), "cluster: {}", run.stderr);
    check_ranks(&run.stdout, &expected);
    let stages = dag_sizes(&cluster.events());
    assert!(stages.iter().max().unwrap() <= &(2 * 10 + 4), "bounded DAGs: {stages:?}");
    check_checkpoint_objects(&moto, "ckpt", "cluster", 3, expected.len());
    assert_eq!(cluster.executors_with_tasks().len(), 2, "both executors ran tasks");
}

#[test]
fn store_whole_text_files_and_binary_lines_read_every_byte_of_objects() {
    let moto = Moto::start();
    moto.create_bucket("bytes");
    let dir = tempfile::tempdir().unwrap();
    // A file over several 200k splits, most of them cutting a line (and invalid UTF-8 in it).
    let mut big = Vec::new();
    let mut rng = Rng::new(3);
    while big.len() < 700_000 {
        big.extend_from_slice(&awkward_bytes());
        big.extend_from_slice(b"\xe9");
        big.extend_from_slice(format!("{}\r\n", rng.below(1_000_000)).as_bytes());
    }
    let plain: [(&str, Vec<u8>); 4] = [
        ("a.txt", b"caf\xe9\r\nna\xefve\n".to_vec()),
        ("b.txt", b"plain\nlast".to_vec()),
        ("c.txt", Vec::new()),
        ("d-big.txt", big),
    ];
    let packed: [(&str, Vec<u8>); 2] =
        [("e.txt.gz", b"gz caf\xe9\nline\r\n".repeat(1000)), ("f.txt.zst", awkward_bytes())];
    let mut files: Vec<(String, Vec<u8>)> =
        plain.iter().map(|(n, b)| (n.to_string(), b.clone())).collect();
    files.push((packed[0].0.to_string(), gzip(&packed[0].1)));
    files.push((packed[1].0.to_string(), zstd::encode_all(&packed[1].1[..], 3).unwrap()));
    let local_in = dir.path().join("in");
    seed(&moto, "bytes", "in", &local_in, &files);

    // What the files hold, decoded, in name order.
    let contents: Vec<(&str, &[u8])> =
        plain.iter().chain(packed.iter()).map(|(n, b)| (*n, &b[..])).collect();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut expected = Vec::new();
    for (name, bytes) in &contents {
        expected.push(format!("whole {name} {}", hex(String::from_utf8_lossy(bytes).as_bytes())));
    }
    for (_, bytes) in &contents {
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        if lines.last() == Some(&&b""[..]) {
            lines.pop();
        }
        for l in lines {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            expected.push(format!("raw {}", hex(l)));
        }
    }
    for input in ["s3://bytes/in", local_in.to_str().unwrap()] {
        let run = run_with(&moto, SHARED_VARS, &[SPLIT], &["files", input], None);
        assert!(run.ok(), "{input}: {}", run.stderr);
        let got: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(got.len(), expected.len(), "{input}: records");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!(g == e, "{input}: record {i} differs: {:.200} vs {:.200}", g, e);
        }
    }
    let gets = moto.requests().matches("GET /bytes/in/d-big.txt").count();
    assert!(gets >= 4, "the big object was read in several splits ({gets} GETs)");
}

#[test]
fn store_checkpoint_of_empty_partitions_reads_back_and_a_missing_bucket_or_a_failed_job_leaves_nothing()
 {
    let moto = Moto::start();
    moto.create_bucket("cks");
    moto.put("cks", "graph/edges.txt", b"a b\nb c\nc a\na c\n".to_vec());
    // A missing bucket: refused by set_checkpoint_dir, before any job.
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(wisp_bin());
    cmd.envs(moto.env()).current_dir(cwd.path());
    cmd.args(["run", SHARED_VARS, "--", "pagerank", "s3://cks/graph", "3", "1"]);
    cmd.arg("s3://no-such-bucket/ckpt");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let run = run_bounded(cmd, RUN_TIMEOUT);
    let line = error_line(&run);
    assert!(line.contains("s3://no-such-bucket/ckpt") && line.contains("does not exist"), "{line}");
    assert!(!run.stdout.contains("iteration="), "no job ran: {}", run.stdout);
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0, "nothing left behind");
    assert_eq!(moto.list("cks", ""), vec![("graph/edges.txt".to_string(), 16)]);

    // A checkpoint whose partitions are mostly empty (empty objects) reads back every record.
    let args = ["checkpoint-small", "s3://cks/small", "40", "8", "7"];
    let run = run_with(&moto, SHARED_VARS, &[], &args, None);
    assert!(run.ok(), "{}", run.stderr);
    let want: Vec<String> = (0..7).map(|x: u64| x.to_string()).collect();
    assert_eq!(run.stdout, format!("collected={}\ncount=7\n", want.join(",")));
    let keys = moto.list("cks", "small");
    assert_eq!(keys.iter().filter(|(k, _)| k.ends_with("/_SUCCESS")).count(), 1, "{keys:?}");
    let empty = keys.iter().filter(|(k, size)| k.contains("/part-") && *size == 0).count();
    assert_eq!(empty, 6, "six empty checkpoint files: {keys:?}");

    // The checkpoint job fails (result partition 1, every attempt) after partition 0 staged
    // its file: nothing is readable under the checkpoint prefix.
    let fail = "sleep kind=result partition=1 ms=1500\nfail kind=result partition=1 message=injected failure";
    let mut cluster = store_cluster(&moto, &["wisp.task.maxFailures=2"], &[fail, fail]);
    cluster.wait_registered(2);
    let args = ["pagerank", "s3://cks/graph", "3", "1", "s3://cks/failed"].map(Path::new);
    let run = cluster.submit(SHARED_VARS, &[], &args, None);
    assert!(!run.ok(), "the checkpoint job should fail");
    assert!(run.stderr.contains("injected failure"), "{}", run.stderr);
    let staged = moto.requests().matches("/part-00000?partNumber=1").count();
    assert!(staged >= 1, "partition 0 staged its checkpoint file before the job failed");
    assert_eq!(moto.list("cks", "failed"), Vec::new(), "a failed checkpoint left objects");
}
