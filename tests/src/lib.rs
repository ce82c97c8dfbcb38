//! Shared helpers of the integration tests, the quick start and the benchmark: guest paths, the `wisp` binary, data generators and reference answers.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub mod moto;

/// The word-count example component.
pub const WORDCOUNT: &str = env!("WISP_GUEST_WORDCOUNT");
/// The join example component.
pub const JOIN: &str = env!("WISP_GUEST_JOIN");
/// The pagerank example component.
pub const PAGERANK: &str = env!("WISP_GUEST_PAGERANK");
/// The job written against the WIT with plain wit-bindgen (no SDK).
pub const RAW_GUEST: &str = env!("WISP_GUEST_RAW");
/// `RAW_GUEST` built against `wisp:task@0.1.0` (the compatibility fixture).
pub const RAW_GUEST_V0_1: &str = env!("WISP_GUEST_RAW_V0_1");
/// Broadcast variables, accumulators and checkpoints.
pub const SHARED_VARS: &str = env!("WISP_GUEST_SHARED_VARS");
/// The API-coverage job.
pub const API_JOB: &str = env!("WISP_GUEST_API_JOB");
/// Misbehaving and probing guests for the sandbox tests.
pub const HOSTILE: &str = env!("WISP_GUEST_HOSTILE");
/// The tokenizer example: a `functions` component (no main) with stable names.
pub const TOKENIZER: &str = env!("WISP_GUEST_TOKENIZER");
/// The repository root.
pub const REPO_ROOT: &str = env!("WISP_REPO_ROOT");

/// The `wisp` binary built next to the running test or tool (`target/<profile>/wisp`).
pub fn wisp_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("wisp");
    assert!(
        bin.exists(),
        "{} not found: build it with `cargo build --release -p wisp` (cargo test builds it)",
        bin.display()
    );
    bin
}

/// A finished `wisp` process.
#[derive(Debug)]
pub struct Run {
    /// Exit status code (None if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Whether it exited with 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `wisp` with arguments, killing it after `timeout`.
pub fn wisp(args: &[&str], timeout: Duration) -> Run {
    let mut cmd = Command::new(wisp_bin());
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    run_bounded(cmd, timeout)
}

/// Runs a command with a time bound; the child is killed when the bound passes.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> Run {
    let mut child = cmd.spawn().expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    assert!(status.is_some(), "process timed out after {timeout:?}; stderr: {stderr}");
    Run { code: status.and_then(|s| s.code()), stdout, stderr }
}

/// The lines of every `part-*` file of an output directory, in file order.
pub fn read_output_lines(dir: &Path) -> Vec<String> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("output dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-")))
        .collect();
    parts.sort();
    let mut lines = Vec::new();
    for p in parts {
        let text = std::fs::read_to_string(&p).expect("part file is UTF-8");
        lines.extend(text.lines().map(str::to_string));
    }
    lines
}

/// Word count computed independently: lines decoded as Spark does (lossy UTF-8,
/// `\n` or `\r\n`), words split on ASCII whitespace.
pub fn reference_word_count(bytes: &[u8]) -> HashMap<String, i64> {
    let mut counts = HashMap::new();
    let text = String::from_utf8_lossy(bytes);
    for w in text.split_ascii_whitespace() {
        *counts.entry(w.to_string()).or_insert(0) += 1;
    }
    counts
}

/// Parses `word<TAB>count` lines.
pub fn parse_counts(lines: &[String]) -> HashMap<String, i64> {
    let mut m = HashMap::new();
    for l in lines {
        let (w, c) = l.rsplit_once('\t').unwrap_or_else(|| panic!("line without a tab: {l:?}"));
        let prev = m.insert(
            w.to_string(),
            c.parse::<i64>().unwrap_or_else(|_| panic!("bad count in {l:?}")),
        );
        assert!(prev.is_none(), "word {w:?} appears twice in the output");
    }
    m
}

/// A small deterministic PRNG (xorshift64*), so test data is reproducible.
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A vocabulary of `n` distinct words with Zipf-like frequencies when sampled by `zipf_index`.
pub fn vocabulary(n: usize) -> Vec<String> {
    const SYL: &[&str] =
        &["ka", "lo", "mi", "ren", "sta", "wu", "pe", "dor", "ix", "qua", "ne", "tho"];
    (0..n)
        .map(|i| {
            let mut w = String::new();
            let mut x = i + 1;
            while x > 0 {
                w.push_str(SYL[x % SYL.len()]);
                x /= SYL.len();
            }
            w
        })
        .collect()
}

/// An index in `0..n` drawn with probability roughly proportional to 1/(i+1).
pub fn zipf_index(rng: &mut Rng, n: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let x = ((n as f64 + 1.0).ln() * u).exp() - 1.0;
    (x as usize).min(n - 1)
}

/// Writes roughly `bytes` of Zipf-distributed words, 4–16 words a line.
pub fn write_corpus(path: &Path, bytes: u64, seed: u64) -> std::io::Result<u64> {
    use std::io::Write;
    let vocab = vocabulary(50_000);
    let mut rng = Rng::new(seed);
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut written = 0u64;
    let mut line = String::new();
    while written < bytes {
        line.clear();
        let words = 4 + rng.below(13);
        for i in 0..words {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(&vocab[zipf_index(&mut rng, vocab.len())]);
        }
        line.push('\n');
        f.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    f.flush()?;
    Ok(written)
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves no process behind.
#[derive(Debug)]
pub struct ProcessGuard {
    child: Option<std::process::Child>,
    name: String,
}

impl ProcessGuard {
    /// Spawns `cmd` with stdin closed and stdout/stderr appended to `log` (and `log` with `.out` for stdout).
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> ProcessGuard {
        let err = std::fs::File::create(log).expect("create log file");
        let out = std::fs::File::create(log.with_extension("out")).expect("create stdout file");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        ProcessGuard { child: Some(child), name: name.to_string() }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills it with SIGKILL now and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends it SIGTERM (it is still reaped, or killed, on drop).
    pub fn terminate(&self) {
        let pid = self.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(status.success(), "kill -TERM {pid} ({}) failed", self.name);
    }

    /// Waits up to `timeout` for it to exit; its status, or `None` if it is still running (it is then left running).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            let status = self.child.as_mut()?.try_wait().ok()?;
            if status.is_some() || start.elapsed() > timeout {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Its name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` every 20 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Inner join of `key<TAB>value` lines (a line without a tab is a key with an empty value), computed directly.
pub fn reference_join(left: &str, right: &str) -> Vec<String> {
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

/// Text that stresses line and word splitting: blank lines, CRLF, tabs and other ASCII whitespace, invalid UTF-8,
/// non-ASCII whitespace (not a separator), a long line, no final newline.
pub fn awkward_bytes() -> Vec<u8> {
    let mut data = Vec::new();
    data.extend_from_slice(b"the quick brown fox\n\n\njumps over the lazy dog\r\n");
    data.extend_from_slice(
        b"  leading and trailing spaces  \r\n\tTabs\tand\x0bvertical\x0cfeeds\n",
    );
    data.extend_from_slice(b"invalid \xff\xfe utf8 \xc3\x28 here and a lone \xe2\x82 end\n");
    data.extend_from_slice(
        "unicode caf\u{e9} na\u{ef}ve \u{65e5}\u{672c} non\u{a0}breaking em\u{2003}space words\n"
            .as_bytes(),
    );
    data.extend_from_slice(&b"verylongline ".repeat(400));
    data.extend_from_slice(b"\nlast line without newline the end");
    data
}
