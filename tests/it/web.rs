//! Helpers of the web UI tests: a plain HTTP GET, Debian packages installed on demand (chromium, prometheus, tmux), headless chromium's DOM and screenshots.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use wisp_tests::{REPO_ROOT, run_bounded};

/// Time for one chromium run (start, load, render).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// One apt run at a time across the tests of this process.
static APT: Mutex<()> = Mutex::new(());

/// `GET path` over HTTP/1.0; the status code and the body.
pub(crate) fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, body.to_string())
}

/// `GET path` as JSON (status 200 asserted).
pub(crate) fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let (code, body) = http_get(addr, path);
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Makes sure `program` exists, installing Debian's `package` with apt-get when it does not
/// (a fresh machine has apt but not chromium or promtool).
pub(crate) fn ensure_program(program: &str, package: &str) -> PathBuf {
    let which = |p: &str| {
        let out = Command::new("sh").args(["-c", &format!("command -v {p}")]).output().ok()?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
    };
    if let Some(p) = which(program) {
        return p;
    }
    let _apt = APT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = which(program) {
        return p;
    }
    let sudo = if is_root() { "" } else { "sudo -n " };
    let script = format!(
        "{sudo}apt-get update -q && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -q {package}"
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let run = run_bounded(cmd, Duration::from_secs(900));
    assert!(run.ok(), "installing {package} failed: {}\n{}", run.stdout, run.stderr);
    which(program).unwrap_or_else(|| panic!("{package} installed but {program} not found"))
}

/// Whether this process runs as root (then apt-get needs no sudo).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn chromium_cmd(profile: &Path) -> Command {
    let bin = ensure_program("chromium", "chromium");
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=1400,1000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// The DOM of `url` after chromium loaded and ran it.
pub(crate) fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = chromium_cmd(profile.path());
    cmd.arg("--dump-dom").arg(url);
    let run = run_bounded(cmd, BROWSER_TIMEOUT);
    assert!(run.ok(), "chromium --dump-dom {url} failed: {}", run.stderr);
    run.stdout
}

/// Saves a screenshot of `url` as `target/ui-screenshots/NAME.png` (a test artifact).
pub(crate) fn screenshot(url: &str, name: &str) -> PathBuf {
    let dir = Path::new(REPO_ROOT).join("target").join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&path);
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = chromium_cmd(profile.path());
    cmd.arg(format!("--screenshot={}", path.display())).arg(url);
    let run = run_bounded(cmd, BROWSER_TIMEOUT);
    assert!(run.ok() && path.exists(), "chromium --screenshot {url} failed: {}", run.stderr);
    path
}

/// How many times `needle` occurs in `text`.
pub(crate) fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}
