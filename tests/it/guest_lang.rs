//! What the tests of the non-Rust SDKs share: building their jobs once per test process with the SDK's build script, and comparing word-count outputs part file for part file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use wisp_tests::{REPO_ROOT, WORDCOUNT, run_bounded, wisp};

use crate::RUN_TIMEOUT;

/// The first build installs the SDK's toolchain from the registries; later ones are offline no-ops.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Runs `script` (relative to the repository root) once per argument list, the first time any test of this
/// process asks (`built` remembers the outcome), and panics with the script's output if a build failed.
pub(crate) fn build_once(
    built: &'static OnceLock<Result<(), String>>,
    script: &str,
    builds: &[&[&str]],
) {
    let result = built.get_or_init(|| {
        let root = Path::new(REPO_ROOT);
        for args in builds {
            let mut cmd = Command::new(root.join(script));
            cmd.current_dir(root)
                .args(*args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let run = run_bounded(cmd, BUILD_TIMEOUT);
            if !run.ok() {
                return Err(format!("{script} {args:?} failed: {}{}", run.stdout, run.stderr));
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every `part-*` file of an output directory: name → its bytes.
pub(crate) fn parts(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut parts = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("output dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        if name.starts_with("part-") {
            parts.insert(name, std::fs::read(&path).expect("part file"));
        }
    }
    parts
}

/// Asserts that two output directories hold the same part files, byte for byte.
pub(crate) fn assert_same_parts(got: &Path, want: &Path, what: &str) {
    let (got, want) = (parts(got), parts(want));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: part files"
    );
    for (name, bytes) in &want {
        assert!(got[name] == *bytes, "{what}: {name} differs from the Rust word count's");
    }
}

/// Runs a word count (`JOB INPUT OUTPUT`) and the Rust guest on `input` with 256 KiB splits and 3 reduce partitions,
/// asserts both succeeded and wrote the same 3 part files byte for byte, and returns the job's output directory.
pub(crate) fn wordcount_matches_rust(job: &Path, input: &Path, dir: &Path, what: &str) -> PathBuf {
    let conf = [
        "--cores",
        "2",
        "--conf",
        "wisp.files.maxPartitionBytes=256k",
        "--conf",
        "wisp.default.parallelism=3",
    ];
    let run_job = |component: &str, out: &Path| {
        let mut args = vec!["run", component];
        args.extend_from_slice(&conf);
        args.extend_from_slice(&["--", input.to_str().unwrap(), out.to_str().unwrap()]);
        let run = wisp(&args, RUN_TIMEOUT);
        assert!(run.ok(), "{component} failed: {}", run.stderr);
        assert!(out.join("_SUCCESS").exists(), "no _SUCCESS marker from {component}");
    };
    let (out, rust_out) = (dir.join(what), dir.join("rust"));
    run_job(job.to_str().unwrap(), &out);
    run_job(WORDCOUNT, &rust_out);
    // Byte-identical: the host partitions by key hash, and combine/merge emit in key-byte order in every SDK.
    assert_eq!(parts(&out).len(), 3, "wisp.default.parallelism=3 reduce partitions");
    assert_same_parts(&out, &rust_out, what);
    out
}
