//! A real S3-compatible server for the tests and the benchmark: moto in server mode (from PyPI, installed into `target/moto-venv` by `tests/moto/install.sh` on first use) on 127.0.0.1, and a small blocking client to seed and inspect it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt};

use crate::{ProcessGuard, REPO_ROOT, run_bounded, wait_for};

/// The access key the tests give every process (moto accepts any).
pub const ACCESS_KEY: &str = "wisp-test-access-key";
/// The secret key the tests give every process: it must never appear in a log, an event log or a message.
pub const SECRET_KEY: &str = "wisp-test-secret-5f1c0ffee";
/// The region the tests sign for.
pub const REGION: &str = "us-east-1";

/// The first install downloads moto and its dependencies; later ones are no-ops.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
/// Bound on the server answering after its start.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The `moto_server` executable, installed once per process.
fn moto_server_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        let root = Path::new(REPO_ROOT);
        let mut cmd = Command::new(root.join("tests/moto/install.sh"));
        cmd.current_dir(root).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let run = run_bounded(cmd, INSTALL_TIMEOUT);
        if !run.ok() {
            return Err(format!("tests/moto/install.sh failed: {}{}", run.stdout, run.stderr));
        }
        Ok(PathBuf::from(run.stdout.trim()))
    });
    bin.clone().unwrap_or_else(|e| panic!("{e}"))
}

/// A moto server on 127.0.0.1, killed when dropped.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
    client_rt: tokio::runtime::Runtime,
    _process: ProcessGuard,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Starts a server on a free port and waits (bounded) until it answers.
    pub fn start() -> Moto {
        let bin = moto_server_bin();
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().expect("addr").port()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let process = ProcessGuard::spawn("moto", cmd, &dir.path().join("moto.log"));
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_for("the moto server to answer", READY_TIMEOUT, || {
            raw_request(port, "GET", "/").ok().filter(|status| *status == 200).map(drop)
        });
        let client_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        Moto { endpoint, port, client_rt, _process: process, _dir: dir }
    }

    /// The environment every `wisp` process talking to this server gets (the standard AWS variables).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
    }

    /// The server's request log so far (one line per request).
    pub fn requests(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("moto.log")).unwrap_or_default()
    }

    /// Creates a bucket (moto creates it on an unsigned `PUT /bucket`).
    pub fn create_bucket(&self, bucket: &str) {
        let status = raw_request(self.port, "PUT", &format!("/{bucket}")).expect("PUT bucket");
        assert_eq!(status, 200, "creating bucket {bucket}");
    }

    fn client(&self, bucket: &str) -> Arc<AmazonS3> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let s3 = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(&self.endpoint)
            .with_region(REGION)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_client_options(ClientOptions::new().with_allow_http(true))
            .build()
            .expect("client");
        Arc::new(s3)
    }

    /// Writes an object.
    pub fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let c = self.client(bucket);
        self.client_rt
            .block_on(c.put(&ObjectPath::from(key), bytes.into()))
            .unwrap_or_else(|e| panic!("put {bucket}/{key}: {e}"));
    }

    /// Reads an object.
    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let c = self.client(bucket);
        self.client_rt
            .block_on(async { c.get(&ObjectPath::from(key)).await?.bytes().await })
            .unwrap_or_else(|e| panic!("get {bucket}/{key}: {e}"))
            .to_vec()
    }

    /// Bytes `range` of an object (one ranged GET).
    pub fn get_range(&self, bucket: &str, key: &str, range: std::ops::Range<u64>) -> Vec<u8> {
        let c = self.client(bucket);
        self.client_rt
            .block_on(c.get_range(&ObjectPath::from(key), range))
            .unwrap_or_else(|e| panic!("get {bucket}/{key}: {e}"))
            .to_vec()
    }

    /// Every object below `prefix` (recursive): key and size, sorted by key.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let c = self.client(bucket);
        let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
        let mut out: Vec<(String, u64)> = self.client_rt.block_on(async {
            c.list(prefix.as_ref())
                .map(|m| {
                    let m = m.expect("list");
                    (m.location.to_string(), m.size)
                })
                .collect()
                .await
        });
        out.sort();
        out
    }

    /// The `part-*` objects below `prefix`: name → bytes.
    pub fn parts(&self, bucket: &str, prefix: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
        self.list(bucket, prefix)
            .into_iter()
            .filter_map(|(key, _)| {
                let name = key.rsplit('/').next()?.to_string();
                name.starts_with("part-").then(|| (name, self.get(bucket, &key)))
            })
            .collect()
    }
}

/// One plain HTTP/1.1 request to the server; its status code.
fn raw_request(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    s.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response {text:?}")))
}
