//! Copies `wit/task.wit` into `OUT_DIR` for `wit_bindgen::generate!`, escaping
//! the enum case `map` (a keyword in current WIT parsers) as `%map`.
//!
//! The escaped identifier names the same case (`map`) in the component type,
//! so the generated bindings are exactly those of the unmodified contract.
//! The rewrite is a no-op once the contract itself spells the case `%map`.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let source = manifest.join("../wit/task.wit");
    println!("cargo::rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
    let mut patched = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        let body = line.trim_start();
        if body.trim_end() == "map," || body.trim_end() == "map" {
            let indent = &line[..line.len() - body.len()];
            patched.push_str(indent);
            patched.push('%');
            patched.push_str(body);
        } else {
            patched.push_str(line);
        }
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("wit");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("cannot create {}: {e}", out.display()));
    std::fs::write(out.join("task.wit"), patched).unwrap_or_else(|e| panic!("cannot write task.wit: {e}"));
}
