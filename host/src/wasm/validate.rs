//! Checks that a file is a Wisp component, and turns wasmtime errors into one-line causes.

/// Why a component cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ComponentError {
    /// Not a WebAssembly binary at all.
    #[error("not a WebAssembly file (bad magic number)")]
    NotWasm,
    /// A core module rather than a component.
    #[error("a core WebAssembly module, not a component (build it for the wasm32-wasip2 target)")]
    CoreModule,
    /// Truncated or otherwise unparsable.
    #[error("invalid component: {message}")]
    Invalid { message: String },
    /// Built against another version of the `wisp:task` contract.
    #[error(
        "component was built against wisp:task@{theirs}; this host implements wisp:task@{ours} and 0.1.0 (rebuild it with this Wisp's wit/ and SDK)"
    )]
    OtherVersion {
        /// The version the component imports or exports.
        theirs: String,
        /// This host's.
        ours: &'static str,
    },
    /// Imports something Wisp does not provide (a denied capability, an unknown interface).
    #[error("component cannot be linked: {message}")]
    Link { message: String },
    /// Does not export `wisp:task/pipeline`.
    #[error(
        "component does not export the wisp:task/pipeline interface (version 0.2.0 or 0.1.0): {message}"
    )]
    NotPipeline { message: String },
    /// Does not implement the `job` world (no `run` export).
    #[error(
        "component does not implement the wisp:task job world (version 0.2.0 or 0.1.0): {message}"
    )]
    NotJob { message: String },
    /// The engine could not be set up.
    #[error("wasm engine: {message}")]
    Engine { message: String },
}

/// Checks the 8-byte header: `\0asm` then the component-model version/layer.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), ComponentError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(ComponentError::NotWasm);
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(ComponentError::CoreModule),
        [_, _, 1, 0] => Ok(()),
        _ => Err(ComponentError::Invalid { message: "unknown binary version".to_string() }),
    }
}

/// The `wisp:task` version this host implements (it also runs components built against 0.1.0).
pub(super) const WIT_VERSION: &str = "0.2.0";

/// The older `wisp:task` versions this host still runs unchanged.
const OLDER_WIT_VERSIONS: [&str; 1] = ["0.1.0"];

/// A `wisp:task` version other than ours among a component's imports and exports, if any.
pub(super) fn other_wit_version(
    component: &wasmtime::component::Component,
    engine: &wasmtime::Engine,
) -> Option<String> {
    let ty = component.component_type();
    let names: Vec<String> = ty
        .imports(engine)
        .map(|(n, _)| n.to_string())
        .chain(ty.exports(engine).map(|(n, _)| n.to_string()))
        .collect();
    names.iter().find_map(|name| {
        let version = name.strip_prefix("wisp:task/")?.split_once('@')?.1;
        (version != WIT_VERSION && !OLDER_WIT_VERSIONS.contains(&version))
            .then(|| version.to_string())
    })
}

/// The innermost cause of a wasmtime error, on one line.
pub(crate) fn root_message(e: &wasmtime::Error) -> String {
    one_line(&e.root_cause().to_string())
}

pub(crate) fn link_error(e: &wasmtime::Error) -> ComponentError {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    ComponentError::Link { message: one_line(&chain.join(": ")) }
}

/// Joins lines with `; ` and trims.
pub(crate) fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert!(matches!(check_header(b"hello world"), Err(ComponentError::NotWasm)));
        assert!(matches!(check_header(b"\0asm\x01\0\0\0"), Err(ComponentError::CoreModule)));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
        assert!(matches!(check_header(b"\0as"), Err(ComponentError::NotWasm)));
    }
}
