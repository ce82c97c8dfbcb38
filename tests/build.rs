//! Builds the guest components (examples and test guests) from source for wasm32-wasip2 and exposes their paths.
//!
//! Runs a nested `cargo build` into its own target directory (so it never
//! waits on the outer build's lock) and installs the `wasm32-wasip2` target
//! through rustup when it is missing, so a fresh machine needs nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, env var holding the built component's path)
const GUESTS: &[(&str, &str)] = &[
    ("wordcount", "WISP_GUEST_WORDCOUNT"),
    ("join", "WISP_GUEST_JOIN"),
    ("pagerank", "WISP_GUEST_PAGERANK"),
    ("raw-guest", "WISP_GUEST_RAW"),
    ("api-job", "WISP_GUEST_API_JOB"),
    ("hostile", "WISP_GUEST_HOSTILE"),
    ("tokenizer", "WISP_GUEST_TOKENIZER"),
    ("raw-guest-v0-1", "WISP_GUEST_RAW_V0_1"),
    ("shared-vars", "WISP_GUEST_SHARED_VARS"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("workspace root").to_path_buf();
    for dir in ["guest-sdk", "examples", "tests/guests", "wit", ".cargo", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ensure_wasm_target();
    let target_dir = root.join("target").join("wasm-guests");
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    for (pkg, _) in GUESTS {
        cmd.args(["-p", pkg]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    // The outer build's profile settings must not leak into the guests.
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_PROFILE_")
            || k.starts_with("CARGO_CFG_")
            || k == "CARGO_PRIMARY_PACKAGE"
        {
            cmd.env_remove(k);
        }
    }
    // Guests are small: whole-program optimisation is cheap for them and worth ~6% of word-count time.
    cmd.env("CARGO_PROFILE_RELEASE_LTO", "fat").env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    let status = cmd.status().expect("failed to run cargo for the guest components");
    assert!(status.success(), "building the guest components for wasm32-wasip2 failed");
    for (pkg, var) in GUESTS {
        let file = target_dir
            .join("wasm32-wasip2")
            .join("release")
            .join(format!("{}.wasm", pkg.replace('-', "_")));
        assert!(file.exists(), "guest component {} was not produced", file.display());
        println!("cargo:rustc-env={var}={}", file.display());
    }
    println!("cargo:rustc-env=WISP_REPO_ROOT={}", root.display());
}

fn ensure_wasm_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-wasip2"))
        .unwrap_or(false);
    if !installed {
        let ok = Command::new("rustup")
            .args(["target", "add", "wasm32-wasip2"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok || sysroot_has_target(),
            "could not install the wasm32-wasip2 target with rustup"
        );
    }
}

fn sysroot_has_target() -> bool {
    let out = Command::new("rustc").args(["--print", "sysroot"]).output();
    out.map(|o| {
        Path::new(String::from_utf8_lossy(&o.stdout).trim())
            .join("lib/rustlib/wasm32-wasip2")
            .exists()
    })
    .unwrap_or(false)
}
