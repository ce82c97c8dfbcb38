//! Cluster mode: a real master, executors and submit clients on 127.0.0.1, checked against answers computed by the test.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use wisp::testing::{Probe, ProbeError, hold_half_open};
use wisp::{HandshakeError, NetConfig, Role};
use wisp_tests::{
    API_JOB, HOSTILE, JOIN, PAGERANK, RAW_GUEST, Rng, WORDCOUNT, parse_counts, read_output_lines,
    reference_join, wait_for, wisp,
};

use crate::RUN_TIMEOUT;

use crate::harness::{Cluster, START_TIMEOUT, check_wordcount, corpus};

/// Whether `dir` holds, at most `depth` levels down, a file with this extension.
fn has_file_with_extension(dir: &Path, ext: &str, depth: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            depth > 0 && has_file_with_extension(&p, ext, depth - 1)
        } else {
            p.extension().is_some_and(|x| x == ext)
        }
    })
}

#[test]
fn three_executors_run_wordcount_and_join_like_the_reference() {
    let cluster = Cluster::start(3, &[], &[]);
    let dir = cluster.dir.path();
    let (input, expected) = corpus(dir, "corpus.txt", 2 << 20, 5);
    let out = dir.join("wc-out");
    let run =
        cluster.submit(WORDCOUNT, &["wisp.files.maxPartitionBytes=128k"], &[&input, &out], None);
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

    assert_eq!(
        cluster.executors_with_tasks(),
        BTreeSet::from([1, 2, 3]),
        "every executor should have run tasks"
    );
}

#[test]
fn wrong_secret_is_refused_on_both_sides() {
    let cluster = Cluster::start(1, &[], &[]);
    let bad = cluster.dir.path().join("bad-secret");
    std::fs::write(&bad, "not-the-cluster-secret-at-all").unwrap();
    let out = cluster.dir.path().join("out");
    let run = cluster.submit(WORDCOUNT, &[], &[&bad, &out], Some(&bad));
    assert!(!run.ok(), "a wrong secret must be refused");
    assert!(
        run.stderr.contains("wisp: error:") && run.stderr.contains("authentication failed"),
        "client error: {}",
        run.stderr
    );
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
        let job = s.spawn(|| {
            cluster.submit(WORDCOUNT, &["wisp.files.maxPartitionBytes=128k"], &[&input, &out], None)
        });
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
    assert!(
        killed,
        "the job ended before executor 2 wrote a map output; the job is too short to test the fault"
    );
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
        assert!(
            submit.running(),
            "the submit client exited early: {}",
            std::fs::read_to_string(dir.join("submit-spin.log")).unwrap_or_default()
        );
        cluster.master_log().contains("job-0").then_some(())
    });
    let pid = submit.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().expect("run kill");
    assert!(status.success(), "kill -INT {pid} failed");
    let status = submit
        .wait_timeout(Duration::from_secs(30))
        .expect("the submit client should exit within 30 s of Ctrl-C");
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

/// `page<TAB>rank` lines of a pagerank output directory.
fn parse_ranks(dir: &Path) -> HashMap<String, f64> {
    let mut ranks = HashMap::new();
    for line in read_output_lines(dir) {
        let (page, rank) =
            line.split_once('\t').unwrap_or_else(|| panic!("line without a tab: {line:?}"));
        let prev = ranks.insert(
            page.to_string(),
            rank.parse::<f64>().unwrap_or_else(|_| panic!("bad rank in {line:?}")),
        );
        assert!(prev.is_none(), "page {page:?} appears twice");
    }
    ranks
}

#[test]
fn pagerank_on_three_executors_matches_local_mode() {
    let cluster = Cluster::start(3, &[], &[]);
    let dir = cluster.dir.path();
    let mut rng = Rng::new(31);
    let mut edges = String::new();
    for _ in 0..20_000 {
        edges.push_str(&format!("p{} p{}\n", rng.below(1500), rng.below(2000)));
    }
    let input = dir.join("edges.txt");
    std::fs::write(&input, &edges).unwrap();
    let (local_out, cluster_out) = (dir.join("ranks-local"), dir.join("ranks-cluster"));
    let local = wisp(
        &[
            "run",
            PAGERANK,
            "--cores",
            "2",
            "--",
            input.to_str().unwrap(),
            "6",
            local_out.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    assert!(local.ok(), "local pagerank failed: {}", local.stderr);
    let run = cluster.submit(
        PAGERANK,
        &["wisp.files.maxPartitionBytes=32k"],
        &[&input, Path::new("6"), &cluster_out],
        None,
    );
    assert!(run.ok(), "cluster pagerank failed: {}", run.stderr);
    let (want, got) = (parse_ranks(&local_out), parse_ranks(&cluster_out));
    assert!(want.len() > 1000, "the graph should have many ranked pages");
    let mut pages: Vec<&String> = got.keys().collect();
    pages.sort();
    let mut expected_pages: Vec<&String> = want.keys().collect();
    expected_pages.sort();
    assert_eq!(pages, expected_pages, "the same pages are ranked");
    for (page, w) in &want {
        // The partitioning differs (2 local cores, 3 executors), so sums may add the same terms in another order.
        let g = got[page];
        assert!((g - w).abs() <= 1e-9 * w.abs(), "rank of {page}: cluster {g}, local {w}");
    }
    assert_eq!(
        cluster.executors_with_tasks(),
        BTreeSet::from([1, 2, 3]),
        "every executor should have run tasks"
    );
}

#[test]
fn a_client_of_another_protocol_version_is_refused_with_a_clear_error() {
    let cluster = Cluster::start(0, &[], &[]);
    let (addr, fingerprint, secret) = cluster.probe_target();
    let config = NetConfig { protocol_version: wisp::PROTOCOL_VERSION + 1, ..NetConfig::default() };
    let refused = Probe::connect(addr, fingerprint, &secret, Role::Submitter, &config)
        .err()
        .expect("another protocol version must be refused");
    let theirs = wisp::PROTOCOL_VERSION + 1;
    match &refused {
        ProbeError::Handshake { source: HandshakeError::RefusedByServer { server, reason } } => {
            assert_eq!(*server, "master");
            assert!(
                reason.contains(&format!("protocol version {theirs} is not supported")),
                "reason: {reason}"
            );
        }
        other => panic!("expected a refusal by the master, got {other:?}"),
    }
    let line = cluster
        .master_log_line("the master's refusal", &["refused connection", "protocol version"]);
    assert!(
        line.contains(&format!("protocol version {theirs} is not supported")),
        "master log line: {line}"
    );
}

#[test]
fn a_job_with_an_unknown_wisp_key_is_refused_by_the_master_naming_the_nearest_key() {
    // No executors: only the refusal (before the job waits for any) can end the run.
    let cluster = Cluster::start(0, &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("input"), dir.path().join("out"));
    let run = cluster.submit(
        WORDCOUNT,
        &["myjob.setting=1", "wisp.task.memmory=256m"],
        &[&input, &out],
        None,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let line =
        "wisp: error: unknown configuration key wisp.task.memmory (did you mean wisp.task.memory?)";
    assert!(run.stderr.lines().any(|l| l == line), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn garbage_half_open_truncated_and_huge_frames_do_not_crash_the_master() {
    // A 2 s network timeout bounds the master's handshake wait, so the half-open connection is dropped quickly.
    let fast = ["wisp.network.timeout=2s", "wisp.executor.heartbeatInterval=200ms"];
    let mut cluster = Cluster::start(1, &fast, &fast);
    let (addr, fingerprint, secret) = cluster.probe_target();

    // Datagrams that cannot be QUIC. The executor's registration and heartbeats (QUIC) came
    // before them: none of that traffic may be called "not QUIC".
    const NOT_QUIC: &str = "dropped datagrams that are not QUIC";
    assert!(
        !cluster.master_log().contains(NOT_QUIC),
        "Wisp's own traffic was logged as not QUIC:\n{}",
        cluster.master_log()
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut junk = vec![0u8; 1200];
    let mut rng = Rng::new(3);
    junk.iter_mut().for_each(|b| *b = rng.below(256) as u8);
    junk[0] = 0x00;
    udp.send_to(&junk, addr).unwrap();
    udp.send_to(b"hello?", addr).unwrap();
    // The line names the sender: this test's socket, and nothing else ever.
    let ours = format!("peer={} ", udp.local_addr().unwrap());
    cluster.master_log_line("the master to log the garbage datagrams", &[NOT_QUIC, &ours]);

    // QUIC and TLS, then silence: the master gives up on the handshake.
    let ended =
        hold_half_open(addr, fingerprint, &NetConfig::default(), Duration::from_secs(20)).unwrap();
    assert!(ended.is_some(), "the master should drop a connection that never says hello");
    cluster.master_log_line(
        "the master to log the half-open connection",
        &["handshake failed", "timed out"],
    );

    // An authenticated submitter whose job stream holds a truncated frame, then a frame claiming 4 GiB.
    let probe =
        Probe::connect(addr, fingerprint, &secret, Role::Submitter, &NetConfig::default()).unwrap();
    let reply = probe.raw_request(&[100, 0, 0, 0, 1, 2, 3], true, Duration::from_secs(10)).unwrap();
    assert!(
        String::from_utf8_lossy(&reply).contains("bad submission"),
        "reply to a truncated frame: {reply:?}"
    );
    cluster.master_log_line(
        "the master to log the truncated frame",
        &["bad submission", "stream ended in the middle"],
    );
    let reply = probe.raw_request(&u32::MAX.to_le_bytes(), false, Duration::from_secs(10)).unwrap();
    assert!(
        String::from_utf8_lossy(&reply).contains("exceeds the limit"),
        "reply to a huge frame: {reply:?}"
    );
    cluster.master_log_line(
        "the master to log the huge frame",
        &["bad submission", "exceeds the limit"],
    );
    // Out of order: a cancel on a stream that never submitted a job.
    let cancel =
        wisp::testing::encode_seed(7, &[wisp::SubmitRequest::CancelJob], &wisp::Limits::default());
    let reply = probe.raw_request(&cancel[1..], true, Duration::from_secs(10)).unwrap();
    assert!(
        String::from_utf8_lossy(&reply).contains("must start with SubmitJob"),
        "reply to an out-of-order message: {reply:?}"
    );
    cluster.master_log_line(
        "the master to log the out-of-order message",
        &["bad submission", "must start with SubmitJob"],
    );
    probe.close();

    assert!(cluster.master.running(), "the master must survive bad input");
    let dir = cluster.dir.path();
    let (input, expected) = corpus(dir, "c.txt", 100_000, 8);
    let out = dir.join("out");
    check_wordcount(&cluster.submit(WORDCOUNT, &[], &[&input, &out], None), &out, &expected);
    let log = cluster.master_log();
    let strangers: Vec<&str> =
        log.lines().filter(|l| l.contains(NOT_QUIC) && !l.contains(&ours)).collect();
    assert!(strangers.is_empty(), "not-QUIC lines that are not about the garbage: {strangers:?}");
}

#[test]
fn a_job_submitted_before_any_executor_waits_then_runs_when_one_registers() {
    let mut cluster = Cluster::start(0, &[], &[]);
    let dir = cluster.dir.path().to_path_buf();
    let (input, expected) = corpus(&dir, "c.txt", 50_000, 21);
    let out = dir.join("out");
    let mut submit =
        cluster.spawn_submit("early", WORDCOUNT, &[input.to_str().unwrap(), out.to_str().unwrap()]);
    let log = dir.join("early.log");
    wait_for("the client to show the waiting state", START_TIMEOUT, || {
        std::fs::read_to_string(&log).ok()?.contains("waiting for executors").then_some(())
    });
    assert!(submit.running(), "the job must wait, not fail");
    assert!(!out.exists(), "nothing runs without executors");
    cluster.add_executor(&[]);
    cluster.wait_registered(1);
    let status =
        submit.wait_timeout(RUN_TIMEOUT).expect("the job ends once an executor registered");
    assert!(status.success(), "{}", std::fs::read_to_string(&log).unwrap_or_default());
    assert_eq!(parse_counts(&read_output_lines(&out)), expected);
}

#[test]
fn a_message_of_unknown_type_is_refused_and_the_master_keeps_serving() {
    let cluster = Cluster::start(1, &[], &[]);
    let (addr, fingerprint, secret) = cluster.probe_target();
    let probe =
        Probe::connect(addr, fingerprint, &secret, Role::Submitter, &NetConfig::default()).unwrap();
    // A whole, well-framed message: envelope `Inline` (0) around a request variant no version defines (99).
    let reply = probe.raw_request(&[2, 0, 0, 0, 0, 99], true, Duration::from_secs(10)).unwrap();
    assert!(
        String::from_utf8_lossy(&reply).contains("bad submission"),
        "reply to an unknown message: {reply:?}"
    );
    cluster.master_log_line("the master to log the unknown message", &["bad submission"]);
    probe.close();
    let dir = cluster.dir.path();
    let (input, expected) = corpus(dir, "c.txt", 50_000, 22);
    let out = dir.join("out");
    check_wordcount(&cluster.submit(WORDCOUNT, &[], &[&input, &out], None), &out, &expected);
}

#[test]
fn executors_delete_an_applications_shuffle_files_when_it_ends() {
    let cluster = Cluster::start(2, &[], &[]);
    let dir = cluster.dir.path();
    let (input, expected) = corpus(dir, "c.txt", 200_000, 23);
    let out = dir.join("out");
    check_wordcount(
        &cluster.submit(WORDCOUNT, &["wisp.files.maxPartitionBytes=32k"], &[&input, &out], None),
        &out,
        &expected,
    );
    wait_for("the executors to delete the shuffle files", START_TIMEOUT, || {
        let left = (1..=2).any(|i| {
            has_file_with_extension(&cluster.executor_dir(i), "data", 4)
                || has_file_with_extension(&cluster.executor_dir(i), "index", 4)
        });
        (!left).then_some(())
    });
}

#[test]
fn hostile_jobs_beside_a_well_behaved_one_fail_alone_and_executor_memory_returns_to_baseline() {
    let mut cluster = Cluster::start(2, &[], &[]);
    let dir = cluster.dir.path().to_path_buf();
    // Warm up: both executors compile the word count and touch their first slots.
    let (small, small_expected) = corpus(&dir, "small.txt", 1 << 20, 3);
    check_wordcount(
        &cluster.submit(
            WORDCOUNT,
            &["wisp.files.maxPartitionBytes=128k"],
            &[&small, &dir.join("warm")],
            None,
        ),
        &dir.join("warm"),
        &small_expected,
    );
    let baseline: Vec<u64> = (1..=2).map(|i| cluster.executor_rss(i)).collect();

    // The well-behaved job and every hostile one, submitted at once: their tasks share the two executors.
    let (input, expected) = corpus(&dir, "big.txt", 96 << 20, 8);
    let out = dir.join("good-out");
    let limits = ["wisp.task.maxFailures=1", "wisp.task.timeout=2s", "wisp.task.memory=256m"];
    let scenarios: &[(&str, &[&str], &str)] = &[
        (HOSTILE, &["spin"], "task exceeded its time limit (wisp.task.timeout = 2s)"),
        (HOSTILE, &["sleep"], "task exceeded its time limit (wisp.task.timeout = 2s)"),
        (
            HOSTILE,
            &["hoard"],
            "task exceeded its memory limit (wisp.task.memory = 268435456 bytes)",
        ),
        (HOSTILE, &["recurse"], "call stack exhausted"),
        (HOSTILE, &["flood"], "task wrote more than 1 MiB to stdout"),
        (HOSTILE, &["panic-midway"], "hostile guest panicked at record 500"),
        (RAW_GUEST, &["malformed", "out-of-range"], "guest returned a malformed batch"),
        (HOSTILE, &["read-file", "/etc/passwd"], ""),
        (HOSTILE, &["connect", "127.0.0.1:9"], ""),
    ];
    let t0 = std::time::Instant::now();
    let (c, limits) = (&cluster, &limits);
    let (input_ref, out_ref) = (&input, &out);
    let (good, hostile) = std::thread::scope(|scope| {
        let good = scope.spawn(move || {
            let run = c.submit(
                WORDCOUNT,
                &["wisp.files.maxPartitionBytes=1m"],
                &[input_ref, out_ref],
                None,
            );
            (run, t0.elapsed())
        });
        let hostile: Vec<_> = scenarios
            .iter()
            .map(|(job, args, _)| {
                scope.spawn(move || {
                    let started = t0.elapsed();
                    let args: Vec<&Path> = args.iter().map(Path::new).collect();
                    (c.submit(job, limits, &args, None), started)
                })
            })
            .collect();
        (good.join().unwrap(), hostile.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>())
    });
    let (good_run, good_ended) = good;
    check_wordcount(&good_run, &out, &expected);
    assert!(
        hostile.iter().any(|(_, started)| *started < good_ended),
        "no hostile job started while the good one ran"
    );
    for ((job, args, cause), (run, _)) in scenarios.iter().zip(&hostile) {
        if cause.is_empty() {
            // A probe: the job succeeds and reports that its task was denied.
            assert!(run.ok(), "{args:?}: {}", run.stderr);
            assert!(
                run.stdout.contains(&format!("{}=denied", args[0])),
                "{args:?}: {}",
                run.stdout
            );
            continue;
        }
        assert_eq!(run.code, Some(1), "{job} {args:?} should fail: {}", run.stdout);
        let errors: Vec<&str> =
            run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {}", run.stderr);
        assert!(errors[0].contains(cause), "{args:?}: {}", errors[0]);
    }
    for (i, e) in cluster.executors.iter_mut().enumerate() {
        assert!(e.running(), "executor {} died", i + 1);
    }

    // Memory: the hoarder's 256 MiB and the flood's buffers are given back (pooled slots keep at most a few MiB resident).
    for i in 1..=2 {
        let limit = baseline[i - 1] + (64 << 20);
        let rss =
            wait_for("executor memory back near its baseline", Duration::from_secs(10), || {
                let rss = cluster.executor_rss(i);
                (rss <= limit).then_some(rss)
            });
        assert!(rss <= limit, "executor {i}: {rss} bytes resident, baseline {}", baseline[i - 1]);
        println!(
            "executor {i}: resident {} MiB after, {} MiB baseline",
            rss >> 20,
            baseline[i - 1] >> 20
        );
    }
    // A granted scratch directory works on an executor and is gone after the task.
    let run = cluster.submit(
        HOSTILE,
        &["wisp.task.scratch=true"],
        &[Path::new("scratch"), Path::new("a.txt")],
        None,
    );
    assert!(run.ok(), "{}", run.stderr);
    assert!(run.stdout.contains("scratch=inside:ok|outside:denied"), "{}", run.stdout);
    // Once the application ended, its directories (`executor-N/app-N/`, with the parent of each
    // attempt's scratch directory) are gone from every executor.
    for i in 1..=2 {
        wait_for("the application's directories removed", RUN_TIMEOUT, || {
            crate::harness::app_dirs(&cluster.executor_dir(i)).is_empty().then_some(())
        });
    }
    for i in 1..=2 {
        for scratch in dirs_named(&cluster.executor_dir(i), "scratch", 3) {
            assert!(
                std::fs::read_dir(&scratch).map_or(true, |mut d| d.next().is_none()),
                "scratch left behind on executor {i}: {}",
                scratch.display()
            );
        }
    }
}

/// Directories named `name` under `dir`, at most `depth` levels down.
fn dirs_named(dir: &Path, name: &str, depth: u32) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found = Vec::new();
    for p in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        if p.file_name().is_some_and(|n| n == name) {
            found.push(p.clone());
        }
        if depth > 0 {
            found.extend(dirs_named(&p, name, depth - 1));
        }
    }
    found
}
