//! A real cluster for the integration tests: a master with an event log and one-core executors on 127.0.0.1, each process logging to its own file in the test's temp dir, all killed when the `Cluster` drops.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use wisp::{ClusterSecret, Fingerprint};
use wisp_tests::{
    ProcessGuard, Run, parse_counts, read_output_lines, reference_word_count, run_bounded,
    wait_for, wisp_bin,
};

use crate::RUN_TIMEOUT;

/// Bound on waiting for a process to start or register.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);
const SECRET: &str = "cluster-test-secret-0123456789abcdef";

/// A master and its executors.
pub(crate) struct Cluster {
    pub dir: tempfile::TempDir,
    pub master: ProcessGuard,
    pub executors: Vec<ProcessGuard>,
    addr: String,
    fingerprint: String,
    secret: PathBuf,
    master_conf: Vec<String>,
    /// The current master's log (`master.log`, then `master-2.log`... after restarts).
    master_log: PathBuf,
    /// Masters started so far.
    masters: usize,
    /// Environment variables every process of the cluster (and `submit`) gets.
    env: Vec<(String, String)>,
}

/// Starts a master on `listen` with the cluster's state and event-log directories; it, its address and fingerprint.
fn spawn_master(
    dir: &Path,
    secret: &Path,
    listen: &str,
    conf: &[impl AsRef<str>],
    log: &Path,
    env: &[(String, String)],
) -> (ProcessGuard, String, String) {
    let mut cmd = Command::new(wisp_bin());
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.env("WISP_LOG", "info").args(["master", "--listen", listen, "--secret-file"]).arg(secret);
    cmd.arg("--state-dir").arg(dir.join("master-state")).arg("--event-log").arg(dir.join("events"));
    for c in conf {
        cmd.args(["--conf", c.as_ref()]);
    }
    let master = ProcessGuard::spawn("master", cmd, log);
    let out = log.with_extension("out");
    let line = wait_for("the master's listening line", START_TIMEOUT, || {
        let text = std::fs::read_to_string(&out).ok()?;
        text.lines().find(|l| l.starts_with("wisp master listening on ")).map(str::to_string)
    });
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 7, "unexpected listening line {line:?}");
    (master, words[4].to_string(), words[6].to_string())
}

impl Cluster {
    /// A master and `n` executors without fault rules, all registered.
    pub(crate) fn start(n: usize, master_conf: &[&str], executor_conf: &[&str]) -> Cluster {
        Cluster::start_with_faults(master_conf, executor_conf, &vec![""; n])
    }

    /// A master and one executor per entry of `faults` (its `WISP_TEST_FAULTS` rules; empty: none),
    /// registered one at a time so that executor `i` (from 1) gets id `i`.
    pub(crate) fn start_with_faults(
        master_conf: &[&str],
        executor_conf: &[&str],
        faults: &[&str],
    ) -> Cluster {
        Cluster::start_with_env(master_conf, executor_conf, faults, &[])
    }

    /// As `start_with_faults`, every process (and each `submit`) with these environment variables.
    pub(crate) fn start_with_env(
        master_conf: &[&str],
        executor_conf: &[&str],
        faults: &[&str],
        env: &[(&str, String)],
    ) -> Cluster {
        let env: Vec<(String, String)> =
            env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
        let master_log = dir.path().join("master.log");
        let (master, addr, fingerprint) =
            spawn_master(dir.path(), &secret, "127.0.0.1:0", master_conf, &master_log, &env);
        let mut cluster = Cluster {
            dir,
            master,
            executors: Vec::new(),
            addr,
            fingerprint,
            secret,
            master_conf: master_conf.iter().map(|c| c.to_string()).collect(),
            master_log,
            masters: 1,
            env,
        };
        for (i, rules) in faults.iter().enumerate() {
            cluster.add_executor_with_faults(executor_conf, rules);
            cluster.wait_registered(i + 1);
        }
        cluster
    }

    /// Starts one more executor.
    pub(crate) fn add_executor(&mut self, conf: &[&str]) {
        self.add_executor_with_faults(conf, "");
    }

    fn add_executor_with_faults(&mut self, conf: &[&str], faults: &str) {
        let i = self.executors.len() + 1;
        let mut cmd = Command::new(wisp_bin());
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.env("WISP_LOG", "info").args([
            "executor",
            "--master",
            &self.addr,
            "--master-fingerprint",
            &self.fingerprint,
        ]);
        cmd.arg("--secret-file")
            .arg(&self.secret)
            .args(["--cores", "1", "--work-dir"])
            .arg(self.executor_dir(i));
        for c in conf {
            cmd.args(["--conf", c]);
        }
        if !faults.is_empty() {
            let file = self.dir.path().join(format!("faults-{i}.txt"));
            std::fs::write(&file, faults).unwrap();
            cmd.env(wisp::testing::FAULTS_ENV, file);
        }
        let log = self.executor_log_path(i);
        self.executors.push(ProcessGuard::spawn(&format!("executor {i}"), cmd, &log));
    }

    /// Work directory of executor `i` (from 1).
    pub(crate) fn executor_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("ex{i}"))
    }

    /// Log file of executor `i` (from 1).
    pub(crate) fn executor_log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("executor-{i}.log"))
    }

    /// The current master's log so far.
    pub(crate) fn master_log(&self) -> String {
        std::fs::read_to_string(&self.master_log).unwrap_or_default()
    }

    /// Starts a new master on the same address with the same state directory (so the same
    /// fingerprint) after the current one ended; its log is `master-N.log`.
    pub(crate) fn restart_master(&mut self) {
        assert!(!self.master.running(), "restart_master: the old master is still running");
        self.masters += 1;
        self.master_log = self.dir.path().join(format!("master-{}.log", self.masters));
        let (master, addr, fingerprint) = spawn_master(
            self.dir.path(),
            &self.secret,
            &self.addr,
            &self.master_conf,
            &self.master_log,
            &self.env,
        );
        assert_eq!((&addr, &fingerprint), (&self.addr, &self.fingerprint), "a different master");
        self.master = master;
    }

    /// Waits until `n` executors registered (failing if one exited).
    pub(crate) fn wait_registered(&mut self, n: usize) {
        wait_for(&format!("{n} executors to register"), START_TIMEOUT, || {
            for e in &mut self.executors {
                assert!(e.running(), "{} exited early", e.name());
            }
            (self.master_log().matches("executor registered").count() >= n).then_some(())
        });
    }

    /// `wisp submit JOB --conf CONF... -- ARGS` with the cluster's secret (or another secret file).
    pub(crate) fn submit(
        &self,
        job: &str,
        conf: &[&str],
        args: &[&Path],
        secret: Option<&Path>,
    ) -> Run {
        let mut cmd = Command::new(wisp_bin());
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.args([
            "submit",
            "--master",
            &self.addr,
            "--master-fingerprint",
            &self.fingerprint,
            "--secret-file",
        ]);
        cmd.arg(secret.unwrap_or(&self.secret)).arg(job);
        for c in conf {
            cmd.args(["--conf", c]);
        }
        cmd.arg("--").args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        run_bounded(cmd, RUN_TIMEOUT)
    }

    /// `wisp submit` started in the background, stderr to `DIR/NAME.log` and stdout to `DIR/NAME.out`.
    pub(crate) fn spawn_submit(&self, name: &str, job: &str, args: &[&str]) -> ProcessGuard {
        self.spawn_submit_with(name, job, &[], args)
    }

    /// `spawn_submit` with `--conf` settings.
    pub(crate) fn spawn_submit_with(
        &self,
        name: &str,
        job: &str,
        conf: &[&str],
        args: &[&str],
    ) -> ProcessGuard {
        let mut cmd = Command::new(wisp_bin());
        cmd.args([
            "submit",
            "--master",
            &self.addr,
            "--master-fingerprint",
            &self.fingerprint,
            "--secret-file",
        ]);
        cmd.arg(&self.secret).arg(job);
        for c in conf {
            cmd.args(["--conf", c]);
        }
        cmd.arg("--").args(args);
        ProcessGuard::spawn(name, cmd, &self.dir.path().join(format!("{name}.log")))
    }

    /// Resident memory of executor `i` (from 1), in bytes (Linux `/proc`).
    pub(crate) fn executor_rss(&self, i: usize) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.executors[i - 1].id()))
                .expect("executor status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib << 10
    }

    /// The master's address, pinned fingerprint and secret, for `wisp::testing` probes.
    pub(crate) fn probe_target(&self) -> (std::net::SocketAddr, Fingerprint, ClusterSecret) {
        let addr = self.addr.parse().expect("the master's address");
        let fingerprint = self.fingerprint.parse().expect("the master's fingerprint");
        (addr, fingerprint, ClusterSecret::from_file(&self.secret).expect("the cluster secret"))
    }

    /// Waits for a master log line containing every one of `needles`; returns it.
    pub(crate) fn master_log_line(&self, what: &str, needles: &[&str]) -> String {
        wait_for(what, START_TIMEOUT, || {
            self.master_log()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_string)
        })
    }

    /// Every event of every application, in file order (`events/app-N/*.jsonl`, written at job ends).
    pub(crate) fn events(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut apps: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("events"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        apps.sort();
        for app in apps {
            for entry in std::fs::read_dir(app).unwrap() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                all.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
            }
        }
        all
    }

    /// Executor ids that ran at least one task, from the event logs.
    pub(crate) fn executors_with_tasks(&self) -> BTreeSet<u64> {
        self.events()
            .iter()
            .filter(|v| v["event"] == "task_start")
            .map(|v| v["executor"].as_u64().unwrap())
            .collect()
    }
}

/// Writes a corpus of `bytes` to `dir/name`; returns its path and its word count computed by the test.
pub(crate) fn corpus(
    dir: &Path,
    name: &str,
    bytes: u64,
    seed: u64,
) -> (PathBuf, HashMap<String, i64>) {
    let path = dir.join(name);
    wisp_tests::write_corpus(&path, bytes, seed).unwrap();
    let expected = reference_word_count(&std::fs::read(&path).unwrap());
    (path, expected)
}

/// Asserts a word count job succeeded, committed its output and counted as `expected`.
pub(crate) fn check_wordcount(run: &Run, out: &Path, expected: &HashMap<String, i64>) {
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert!(out.join("_SUCCESS").exists(), "no _SUCCESS marker");
    assert_eq!(&parse_counts(&read_output_lines(out)), expected, "word counts differ");
}

/// Every entry of a directory (hidden ones too), sorted.
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The application directories (`app-N`) below an executor's work directory (`executor-N/app-N`).
pub(crate) fn app_dirs(work_dir: &Path) -> Vec<PathBuf> {
    let children = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.path()).collect()
    };
    children(work_dir)
        .iter()
        .filter(|p| p.is_dir())
        .flat_map(|p| children(p))
        .filter(|p| {
            p.is_dir()
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("app-"))
        })
        .collect()
}
