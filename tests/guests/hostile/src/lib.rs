//! Hostile guest behaviour for the sandbox tests: each scenario (`args[0]`) misbehaves inside a task, or probes what it may reach.
//!
//! Probes print one `name=result` line from the job's main, where the result
//! is what the task saw (`denied: <error>` or `ALLOWED`); misbehaving
//! scenarios make their task fail and let the test check the job's error.

use wisp_guest::prelude::*;

/// Tries to read a file from inside a task.
fn read_file(path: String) -> String {
    match std::fs::read(&path) {
        Ok(bytes) => format!("ALLOWED ({} bytes)", bytes.len()),
        Err(e) => format!("denied: {e}"),
    }
}

/// Tries to open a TCP connection from inside a task.
fn connect(addr: String) -> String {
    match std::net::TcpStream::connect(addr.as_str()) {
        Ok(_) => "ALLOWED".to_owned(),
        Err(e) => format!("denied: {e}"),
    }
}

/// Reads an environment variable from inside a task.
fn env_var(name: String) -> String {
    match std::env::var(&name) {
        Ok(v) => format!("ALLOWED ({v})"),
        Err(e) => format!("denied: {e}"),
    }
}

/// Uses the task's scratch directory (`/scratch`, granted by `wisp.task.scratch`), then tries to leave it.
fn scratch(name: String) -> String {
    let path = format!("/scratch/{name}");
    let wrote = std::fs::write(&path, b"kept for the task").and_then(|()| std::fs::read(&path));
    let inside = match wrote {
        Ok(bytes) if bytes == b"kept for the task" => "ok".to_owned(),
        Ok(bytes) => format!("read back {} other bytes", bytes.len()),
        Err(e) => format!("denied: {e}"),
    };
    let outside = match std::fs::read("/scratch/../../../../etc/passwd") {
        Ok(bytes) => format!("ALLOWED ({} bytes)", bytes.len()),
        Err(e) => format!("denied: {e}"),
    };
    format!("inside:{inside}|outside:{outside}")
}

/// Loops without end (until its time or fuel limit stops it).
fn spin(n: u64) -> u64 {
    let mut x = n;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        if x == u64::MAX - n {
            return x;
        }
    }
}

/// Recurses without end (a stack overflow).
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX { 0 } else { std::hint::black_box(recurse(depth + 1)) + 1 }
}

/// Writes to stdout until something stops it.
fn flood(n: u64) -> u64 {
    let line = "x".repeat(1023);
    for i in 0..(n << 20) {
        println!("{line}");
        if i == u64::MAX {
            return i;
        }
    }
    n
}

/// Allocates without end, touching every page.
fn hoard(n: u64) -> u64 {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![1u8; 1 << 20]);
        if kept.len() as u64 == u64::MAX - n {
            return kept.len() as u64;
        }
    }
}

/// Panics in the middle of a partition.
fn panic_midway(n: u64) -> u64 {
    assert!(n < 500, "hostile guest panicked at record {n}");
    n
}

fn report(name: &str, seen: &[String]) -> Result<()> {
    println!("{name}={}", seen.join(";"));
    Ok(())
}

fn run(ctx: &Context, args: Vec<String>) -> Result<()> {
    let scenario = args.first().cloned().unwrap_or_default();
    let arg = args.get(1).cloned().unwrap_or_default();
    match scenario.as_str() {
        "read-file" => {
            report("read-file", &ctx.parallelize(vec![arg], 1).map(read_file).collect()?)
        }
        "connect" => report("connect", &ctx.parallelize(vec![arg], 1).map(connect).collect()?),
        "env" => report("env", &ctx.parallelize(vec![arg], 1).map(env_var).collect()?),
        "scratch" => report("scratch", &ctx.parallelize(vec![arg], 1).map(scratch).collect()?),
        "spin" => {
            println!("spun={}", ctx.parallelize(vec![1u64], 1).map(spin).count()?);
            Ok(())
        }
        "recurse" => {
            println!("depth={}", ctx.parallelize(vec![0u64], 1).map(recurse).count()?);
            Ok(())
        }
        "flood" => {
            println!("lines={:?}", ctx.parallelize(vec![1024u64], 1).map(flood).collect()?);
            Ok(())
        }
        "hoard" => {
            println!("kept={:?}", ctx.parallelize(vec![0u64], 1).map(hoard).collect()?);
            Ok(())
        }
        "panic-midway" => {
            println!("count={}", ctx.parallelize(0..1000u64, 1).map(panic_midway).count()?);
            Ok(())
        }
        other => wisp_guest::bail!("unknown scenario {other:?}"),
    }
}

wisp_guest::main!(run);
