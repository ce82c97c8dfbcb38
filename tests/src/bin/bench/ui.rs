//! The `--only ui` section: word count with and without the web UI (`--ui`, polled like a live page and a Prometheus scrape would), alternated in the same run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wisp_tests::WORDCOUNT;

use super::{count_output, median, native_word_count, read_all, run_child};

/// How often the child's poller fetches a page and `/metrics` while the job runs.
const POLL: Duration = Duration::from_millis(500);

/// Polls the UI at `addr` until `stop` (the child with `--ui`); returns how many requests it made.
pub(super) fn poll_ui(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut requests = 0;
        while !stop.load(Ordering::Relaxed) {
            for path in ["/app/app-0/", "/api/v1/applications/app-0/stages", "/metrics"] {
                if let Ok(mut s) = TcpStream::connect(addr) {
                    let _ = write!(s, "GET {path} HTTP/1.0\r\n\r\n");
                    let mut sink = Vec::new();
                    let _ = s.read_to_end(&mut sink);
                    requests += 1;
                }
            }
            std::thread::sleep(POLL);
        }
        requests
    })
}

pub(super) fn bench_ui(data_dir: &Path, corpus: &Path, runs: usize) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).to_string();
    let bytes = std::fs::metadata(corpus)?.len();
    read_all(corpus)?;
    let threads = cores.parse()?;
    let expected = native_word_count(corpus, threads)?;
    let scratch = tempfile::tempdir_in(data_dir)?;
    let corpus_s = corpus.display().to_string();
    let (mut plain, mut with_ui) = (Vec::new(), Vec::new());
    // A warm-up run (page cache, compile cache), then the two kinds alternated.
    for i in 0..=runs {
        for ui in [false, true] {
            let out = scratch.path().join(format!("out-{i}-{ui}"));
            let mut flags = vec!["--cores", cores.as_str()];
            if ui {
                flags.push("--ui");
                flags.push("127.0.0.1:0");
            }
            let r = run_child(WORDCOUNT, &flags, &[&corpus_s, &out.display().to_string()])?;
            anyhow::ensure!(count_output(&out)? == expected, "word count differs (ui={ui})");
            std::fs::remove_dir_all(&out)?;
            if i > 0 {
                if ui { &mut with_ui } else { &mut plain }.push(r.wall.as_secs_f64());
            }
        }
    }
    let (p, u) = (median(plain), median(with_ui));
    println!(
        "word count over {:.0} MB, {cores} cores, median of {runs} runs each",
        bytes as f64 / 1e6
    );
    println!("  wisp run:                         {p:>7.2} s");
    println!("  wisp run --ui (polled every 0.5 s): {u:>7.2} s");
    println!("  ratio --ui / plain wall time:       {:.3}", u / p);
    Ok(())
}
