//! wasm (in progress)
