//! Cluster mode: a real master, executors and submit clients on 127.0.0.1, checked against answers computed by the test.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wisp_tests::{API_JOB, JOIN, ProcessGuard, Rng, Run, WORDCOUNT, parse_counts, read_output_lines, reference_word_count, run_bounded, wait_for, wisp_bin};

use crate::RUN_TIMEOUT;

/// Bound on waiting for a process to start or register.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const SECRET: &str = "cluster-test-secret-0123456789abcdef";

/// A master and its executors, each logging to its own file in the test's temp dir.
struct Cluster {
    dir: tempfile::TempDir,
    master: ProcessGuard,
    executors: Vec<ProcessGuard>,
    addr: String,
    fingerprint: String,
    secret: PathBuf,
}

impl Cluster {
    /// Starts a master (with an event log) and `n` executors of one core each, and waits until all registered.
    fn start(n: usize, master_conf: &[&str], executor_conf: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
        let mut cmd = Command::new(wisp_bin());
        cmd.env("WISP_LOG", "info").args(["master", "--listen", "127.0.0.1:0", "--secret-file"]).arg(&secret);
        cmd.arg("--state-dir").arg(dir.path().join("master-state")).arg("--event-log").arg(dir.path().join("events"));
        for c in master_conf {
            cmd.args(["--conf", c]);
        }
        let master = ProcessGuard::spawn("master", cmd, &dir.path().join("master.log"));
        let out = dir.path().join("master.out");
        let line = wait_for("the master's listening line", START_TIMEOUT, || {
            let text = std::fs::read_to_string(&out).ok()?;
            text.lines().find(|l| l.starts_with("wisp master listening on ")).map(str::to_string)
        });
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 7, "unexpected listening line {line:?}");
        let (addr, fingerprint) = (words[4].to_string(), words[6].to_string());
        let mut cluster = Cluster { dir, master, executors: Vec::new(), addr, fingerprint, secret };
        for _ in 0..n {
            cluster.add_executor(executor_conf);
        }
        cluster.wait_registered(n);
        cluster
    }

    fn add_executor(&mut self, conf: &[&str]) {
        let i = self.executors.len() + 1;
        let mut cmd = Command::new(wisp_bin());
        cmd.env("WISP_LOG", "info").args(["executor", "--master", &self.addr, "--master-fingerprint", &self.fingerprint]);
        cmd.arg("--secret-file").arg(&self.secret).args(["--cores", "1", "--work-dir"]).arg(self.executor_dir(i));
        for c in conf {
            cmd.args(["--conf", c]);
        }
        let log = self.dir.path().join(format!("executor-{i}.log"));
        self.executors.push(ProcessGuard::spawn(&format!("executor {i}"), cmd, &log));
    }

    fn executor_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("ex{i}"))
    }

    fn master_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("master.log")).unwrap_or_default()
    }

    fn wait_registered(&mut self, n: usize) {
        wait_for(&format!("{n} executors to register"), START_TIMEOUT, || {
            for e in &mut self.executors {
                assert!(e.running(), "{} exited early", e.name());
            }
            (self.master_log().matches("executor registered").count() >= n).then_some(())
        });
    }

    /// `wisp submit` with the cluster's secret (or another secret file).
    fn submit(&self, job: &str, conf: &[&str], args: &[&Path], secret: Option<&Path>) -> Run {
        let mut cmd = Command::new(wisp_bin());
        cmd.args(["submit", "--master", &self.addr, "--master-fingerprint", &self.fingerprint, "--secret-file"]);
        cmd.arg(secret.unwrap_or(&self.secret)).arg(job);
        for c in conf {
            cmd.args(["--conf", c]);
        }
        cmd.arg("--").args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        run_bounded(cmd, RUN_TIMEOUT)
    }

    /// `wisp submit` started in the background, stderr to `DIR/NAME.log` and stdout to `DIR/NAME.out`.
    fn spawn_submit(&self, name: &str, job: &str, args: &[&str]) -> ProcessGuard {
        let mut cmd = Command::new(wisp_bin());
        cmd.args(["submit", "--master", &self.addr, "--master-fingerprint", &self.fingerprint, "--secret-file"]);
        cmd.arg(&self.secret).arg(job).arg("--").args(args);
        ProcessGuard::spawn(name, cmd, &self.dir.path().join(format!("{name}.log")))
    }

    /// Executor ids that ran at least one task, from the master's event logs (`events/app-N/`, written at job ends).
    fn executors_with_tasks(&self) -> BTreeSet<u64> {
        let mut seen = BTreeSet::new();
        let apps = std::fs::read_dir(self.dir.path().join("events")).unwrap();
        let files = apps.flat_map(|app| std::fs::read_dir(app.unwrap().path()).unwrap());
        for entry in files {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                if v["event"] == "task_start" {
                    seen.insert(v["executor"].as_u64().unwrap());
                }
            }
        }
        seen
    }
}

/// Whether `dir` holds, at most `depth` levels down, a file with this extension.
fn has_file_with_extension(dir: &Path, ext: &str, depth: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() { depth > 0 && has_file_with_extension(&p, ext, depth - 1) } else { p.extension().is_some_and(|x| x == ext) }
    })
}

fn corpus(dir: &Path, name: &str, bytes: u64, seed: u64) -> (PathBuf, HashMap<String, i64>) {
    let path = dir.join(name);
    wisp_tests::write_corpus(&path, bytes, seed).unwrap();
    let expected = reference_word_count(&std::fs::read(&path).unwrap());
    (path, expected)
}

fn check_wordcount(run: &Run, out: &Path, expected: &HashMap<String, i64>) {
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert!(out.join("_SUCCESS").exists(), "no _SUCCESS marker");
    assert_eq!(&parse_counts(&read_output_lines(out)), expected);
}

/// Inner join of `key<TAB>value` lines (a line without a tab is a key with an empty value), computed directly.
fn reference_join(left: &str, right: &str) -> Vec<String> {
    let split = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .map(|line| match line.split_once('\t') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (line.to_string(), String::new()),
            })
            .collect()
    };
    let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in split(right) {
        by_key.entry(k).or_default().push(v);
    }
    let mut expected = Vec::new();
    for (k, v) in split(left) {
        for w in by_key.get(&k).into_iter().flatten() {
            expected.push(format!("{k}\t{v}\t{w}"));
        }
    }
    expected.sort();
    expected
}

#[test]
fn three_executors_run_wordcount_and_join_like_the_reference() {
    let cluster = Cluster::start(3, &[], &[]);
    let dir = cluster.dir.path();
    let (input, expected) = corpus(dir, "corpus.txt", 2 << 20, 5);
    let out = dir.join("wc-out");
    let run = cluster.submit(WORDCOUNT, &["wisp.files.maxPartitionBytes=128k"], &[&input, &out], None);
    check_wordcount(&run, &out, &expected);

    let mut rng = Rng::new(9);
    let (mut left, mut right) = (String::new(), String::new());
    for i in 0..4000 {
        left.push_str(&format!("k{}\tl{i}\n", rng.below(600)));
    }
    for i in 0..3000 {
        right.push_str(&format!("k{}\tr{i}\twith\ttabs\n", rng.below(800)));
    }
    right.push_str("keyonly\n");
    left.push_str("keyonly\n");
    let (l, r, jout) = (dir.join("l.tsv"), dir.join("r.tsv"), dir.join("join-out"));
    std::fs::write(&l, &left).unwrap();
    std::fs::write(&r, &right).unwrap();
    let run = cluster.submit(JOIN, &["wisp.files.maxPartitionBytes=16k"], &[&l, &r, &jout], None);
    assert!(run.ok(), "join failed: {}", run.stderr);
    let mut got = read_output_lines(&jout);
    got.sort();
    let expected = reference_join(&left, &right);
    assert!(expected.len() > 1000, "the data should produce many matches");
    assert_eq!(got, expected);

    assert_eq!(cluster.executors_with_tasks(), BTreeSet::from([1, 2, 3]), "every executor should have run tasks");
}

#[test]
fn wrong_secret_is_refused_on_both_sides() {
    let cluster = Cluster::start(1, &[], &[]);
    let bad = cluster.dir.path().join("bad-secret");
    std::fs::write(&bad, "not-the-cluster-secret-at-all").unwrap();
    let out = cluster.dir.path().join("out");
    let run = cluster.submit(WORDCOUNT, &[], &[&bad, &out], Some(&bad));
    assert!(!run.ok(), "a wrong secret must be refused");
    assert!(run.stderr.contains("wisp: error:") && run.stderr.contains("authentication failed"), "client error: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one error line: {}", run.stderr);
    let log = wait_for("the master's refusal log line", START_TIMEOUT, || {
        let log = cluster.master_log();
        log.contains("refused connection").then_some(log)
    });
    assert!(log.contains("authentication failed"), "master log: {log}");
}

#[test]
fn submitting_a_non_component_is_refused_and_the_master_keeps_serving() {
    let cluster = Cluster::start(1, &[], &[]);
    let dir = cluster.dir.path();
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").unwrap();
    let run = cluster.submit(junk.to_str().unwrap(), &[], &[], None);
    assert!(!run.ok());
    assert!(run.stderr.contains("not a usable Wisp job"), "{}", run.stderr);
    let (input, expected) = corpus(dir, "c.txt", 100_000, 2);
    let out = dir.join("out");
    check_wordcount(&cluster.submit(WORDCOUNT, &[], &[&input, &out], None), &out, &expected);
}

#[test]
fn two_concurrent_submissions_both_succeed() {
    let cluster = Cluster::start(2, &[], &[]);
    let dir = cluster.dir.path();
    let (a, expected_a) = corpus(dir, "a.txt", 1 << 20, 21);
    let (b, expected_b) = corpus(dir, "b.txt", 1 << 20, 22);
    let (out_a, out_b) = (dir.join("out-a"), dir.join("out-b"));
    let conf = ["wisp.files.maxPartitionBytes=64k"];
    let (run_a, run_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| cluster.submit(WORDCOUNT, &conf, &[&a, &out_a], None));
        let tb = s.spawn(|| cluster.submit(WORDCOUNT, &conf, &[&b, &out_b], None));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    check_wordcount(&run_a, &out_a, &expected_a);
    check_wordcount(&run_b, &out_b, &expected_b);
}

#[test]
fn executor_killed_during_a_shuffle_job_the_job_still_succeeds() {
    let fast = ["wisp.network.timeout=2s", "wisp.executor.heartbeatInterval=200ms"];
    let mut cluster = Cluster::start(3, &fast, &fast);
    let dir = cluster.dir.path().to_path_buf();
    let (input, expected) = corpus(&dir, "corpus.txt", 12 << 20, 17);
    let out = dir.join("out");
    let victim_dir = cluster.executor_dir(2);
    let mut victim = cluster.executors.remove(1);
    let cluster = &cluster;
    let run = std::thread::scope(|s| {
        let job = s.spawn(|| cluster.submit(WORDCOUNT, &["wisp.files.maxPartitionBytes=128k"], &[&input, &out], None));
        // SIGKILL executor 2 as soon as it has committed a map output, while the job runs.
        let killed = wait_for("executor 2 to write a map output", RUN_TIMEOUT, || {
            if job.is_finished() {
                return Some(false);
            }
            has_file_with_extension(&victim_dir, "index", 4).then_some(true)
        });
        if killed {
            victim.kill();
        }
        (job.join().unwrap(), killed)
    });
    let (run, killed) = run;
    assert!(killed, "the job ended before executor 2 wrote a map output; the job is too short to test the fault");
    check_wordcount(&run, &out, &expected);
    let log = wait_for("the master to declare executor 2 lost", START_TIMEOUT, || {
        let log = cluster.master_log();
        log.contains("executor lost").then_some(log)
    });
    assert!(log.contains("executor-2"), "the lost executor should be executor 2: {log}");
}

#[test]
fn ctrl_c_on_submit_cancels_the_job_and_the_master_keeps_serving() {
    // One executor with one core: the word count afterwards can only run if the spinning task was killed.
    let cluster = Cluster::start(1, &[], &[]);
    let dir = cluster.dir.path();
    let mut submit = cluster.spawn_submit("submit-spin", API_JOB, &["spin"]);
    wait_for("the spinning job to start", START_TIMEOUT, || {
        assert!(submit.running(), "the submit client exited early: {}", std::fs::read_to_string(dir.join("submit-spin.log")).unwrap_or_default());
        cluster.master_log().contains("job-0").then_some(())
    });
    let pid = submit.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().expect("run kill");
    assert!(status.success(), "kill -INT {pid} failed");
    let status = submit.wait_timeout(Duration::from_secs(30)).expect("the submit client should exit within 30 s of Ctrl-C");
    let stderr = std::fs::read_to_string(dir.join("submit-spin.log")).unwrap();
    assert_eq!(status.code(), Some(1), "exit status {status:?}; stderr: {stderr}");
    assert_eq!(stderr.lines().last(), Some("wisp: error: job cancelled"), "stderr: {stderr}");
    let log = wait_for("the master to cancel the job", START_TIMEOUT, || {
        let log = cluster.master_log();
        log.contains("was cancelled").then_some(log)
    });
    assert!(log.contains("the submitter cancelled its job"), "master log: {log}");

    let (input, expected) = corpus(dir, "c.txt", 200_000, 4);
    let out = dir.join("out");
    check_wordcount(&cluster.submit(WORDCOUNT, &[], &[&input, &out], None), &out, &expected);
}
