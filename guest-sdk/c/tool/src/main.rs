//! `wisp-c-tool`: generates the C bindings of a `wisp:task` world and turns a linked core wasm module into a component.
//!
//! Used by `guest-sdk/c/build.sh`; two subcommands:
//!
//! * `bindgen WIT_DIR WORLD OUT_DIR` writes wit-bindgen's C bindings
//!   (`WORLD.h`, `WORLD.c`) into `OUT_DIR`. No object file: the component
//!   type is embedded after linking instead.
//! * `component WIT_DIR WORLD CORE.wasm OUT.wasm` embeds the world's
//!   component type into the core module and encodes the component, with the
//!   WASI preview1 reactor adapter when the module imports
//!   `wasi_snapshot_preview1` (wasi-libc).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use wit_bindgen_core::wit_parser::{Resolve, WorldId};
use wit_component::{ComponentEncoder, StringEncoding};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wisp-c-tool: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    match args {
        [cmd, wit, world, out] if cmd == "bindgen" => {
            bindgen(Path::new(wit), world, Path::new(out))
        }
        [cmd, wit, world, core, out] if cmd == "component" => {
            component(Path::new(wit), world, Path::new(core), Path::new(out))
        }
        _ => bail!(
            "usage: wisp-c-tool bindgen WIT_DIR WORLD OUT_DIR | wisp-c-tool component WIT_DIR WORLD CORE.wasm OUT.wasm"
        ),
    }
}

/// Parses the WIT package in `dir` and selects `world`.
fn load(dir: &Path, world: &str) -> Result<(Resolve, WorldId)> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(dir)?;
    let id = resolve.select_world(&[pkg], Some(world))?;
    Ok((resolve, id))
}

fn bindgen(wit: &Path, world: &str, out: &Path) -> Result<()> {
    let (mut resolve, id) = load(wit, world)?;
    let opts = wit_bindgen_c::Opts { no_object_file: true, ..Default::default() };
    let mut files = wit_bindgen_core::Files::default();
    opts.build().generate(&mut resolve, id, &mut files)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, contents) in files.iter() {
        let path = out.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn component(wit: &Path, world: &str, core: &Path, out: &Path) -> Result<()> {
    let (resolve, id) = load(wit, world)?;
    let mut module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    wit_component::embed_component_metadata(&mut module, &resolve, id, StringEncoding::UTF8)?;
    let mut encoder = ComponentEncoder::default();
    encoder.module(&module)?.validate(true);
    let adapter_name =
        wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME;
    if imports_module(&module, adapter_name)? {
        encoder.adapter(
            adapter_name,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?;
    }
    let bytes = encoder.encode().context("encoding the component")?;
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// Whether the core module imports anything from module `name`.
fn imports_module(module: &[u8], name: &str) -> Result<bool> {
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ImportSection(imports) = payload? {
            for import in imports.into_imports() {
                if import?.module == name {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}
