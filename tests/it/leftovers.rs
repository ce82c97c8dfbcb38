//! Crash leftovers: a `wisp run` killed mid-job leaves its temporary output directory, and the next run to the same output removes it.

use std::process::Command;

use wisp_tests::{
    ProcessGuard, WORDCOUNT, parse_counts, read_output_lines, reference_word_count, wait_for, wisp,
    wisp_bin, write_corpus,
};

use crate::RUN_TIMEOUT;
use crate::harness::entries;

#[test]
fn a_run_killed_mid_job_leaves_nothing_once_the_output_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    write_corpus(&input, 40 << 20, 5).unwrap();
    let expected = reference_word_count(&std::fs::read(&input).unwrap());
    // The output's parent holds nothing else, so anything hidden beside the output shows.
    let results = dir.path().join("results");
    std::fs::create_dir(&results).unwrap();
    let out = results.join("out");
    let (input_arg, out_arg) = (input.to_str().unwrap(), out.to_str().unwrap());

    // One core and small splits: the job runs for a good while after its output directory is made.
    let mut cmd = Command::new(wisp_bin());
    cmd.args(["run", WORDCOUNT, "--cores", "1", "--conf", "wisp.files.maxPartitionBytes=256k"])
        .args(["--", input_arg, out_arg]);
    let mut killed = ProcessGuard::spawn("wisp run", cmd, &dir.path().join("killed.log"));
    let pid = killed.id();
    let temporary = wait_for("the run's temporary output directory", RUN_TIMEOUT, || {
        entries(&results).into_iter().find(|n| n.starts_with(".out.wisp-temporary-"))
    });
    killed.kill();
    assert!(
        temporary.starts_with(&format!(".out.wisp-temporary-{pid}-")),
        "{temporary} is not named after the killed process {pid}"
    );
    assert_eq!(
        entries(&results),
        [temporary.as_str()],
        "the killed run must have left its temporary directory (and only that), uncommitted"
    );

    let run = wisp(&["run", WORDCOUNT, "--cores", "2", "--", input_arg, out_arg], RUN_TIMEOUT);
    assert!(run.ok(), "the rerun failed: {}", run.stderr);
    assert_eq!(entries(&results), ["out"], "a leftover survived beside the output");
    let files = entries(&out);
    let parts = files.len() - 1;
    let mut spark_layout: Vec<String> = (0..parts).map(|i| format!("part-{i:05}")).collect();
    spark_layout.push("_SUCCESS".into());
    spark_layout.sort();
    assert!(parts >= 1 && files == spark_layout, "not the Spark layout: {files:?}");
    assert_eq!(parse_counts(&read_output_lines(&out)), expected);
}
