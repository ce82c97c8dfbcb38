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

/// Sleeps `secs` seconds (a monotonic-clock pollable the host waits on); first leaves
/// `/scratch/sleeping` behind when the job grants a scratch directory, so a test sees it asleep.
fn sleep_secs(secs: u64) -> u64 {
    let _ = std::fs::write("/scratch/sleeping", b"");
    std::thread::sleep(std::time::Duration::from_secs(secs));
    secs
}

/// Milliseconds since the Unix epoch (the wall clock).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Partition 0 sleeps an hour if it starts before `until_ms` (wall clock); others, and later attempts, return at once.
fn straggle((partition, until_ms): (u64, u64)) -> u64 {
    if partition == 0 && now_ms() < until_ms {
        sleep_secs(3600);
    }
    partition
}

/// Sleeps 50 ms at a time, without end: each nap is short, their sum is not.
fn nap_forever(n: u64) -> u64 {
    let mut naps = n;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        naps = std::hint::black_box(naps + 1);
        if naps == u64::MAX {
            return naps;
        }
    }
}

/// Reads the task's stdin to its end.
fn read_stdin(_: u64) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    match std::io::stdin().read_to_end(&mut bytes) {
        Ok(n) => format!("{n} bytes, then end of stream"),
        Err(e) => format!("error: {e}"),
    }
}

/// Writes 50 MiB to `stream` (stdout or stderr), ignoring every write error, then returns normally.
fn flood_ignoring_errors(stream: String) -> String {
    use std::io::Write;
    let line = [b'x'; 1023];
    let mut failed = 0u64;
    for _ in 0..(50u64 << 10) {
        let wrote = if stream == "stderr" {
            std::io::stderr().write_all(&line).and_then(|()| std::io::stderr().write_all(b"\n"))
        } else {
            std::io::stdout().write_all(&line).and_then(|()| std::io::stdout().write_all(b"\n"))
        };
        failed += u64::from(wrote.is_err());
    }
    format!("wrote 50 MiB to {stream}, {failed} writes failed")
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
        "sleep" => {
            let secs = arg.parse().unwrap_or(3600);
            println!("slept={}", ctx.parallelize(vec![secs], 1).map(sleep_secs).count()?);
            Ok(())
        }
        "speculate" => {
            // Warm up every executor, then a job whose partition 0 sleeps in its first attempt only.
            ctx.parallelize(0..8u64, 8).count()?;
            let until = now_ms() + 3000;
            let parts: Vec<(u64, u64)> = (0..8u64).map(|p| (p, until)).collect();
            println!("sum={}", ctx.parallelize(parts, 8).map(straggle).fold(0, |a, b| a + b)?);
            // A later job: the event log then holds the loser's end too.
            println!("slept={}", ctx.parallelize(vec![3u64], 1).map(sleep_secs).count()?);
            Ok(())
        }
        "naps" => {
            println!("naps={}", ctx.parallelize(vec![0u64], 1).map(nap_forever).count()?);
            Ok(())
        }
        "stdin" => report("stdin", &ctx.parallelize(vec![0u64], 1).map(read_stdin).collect()?),
        "flood-ignore" => {
            // args: flood-ignore STREAM OUTPUT-DIR
            let out = args.get(2).cloned().unwrap_or_default();
            ctx.parallelize(vec![arg], 1).map(flood_ignoring_errors).save_as_text_file(&out)?;
            println!("saved={out}");
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
