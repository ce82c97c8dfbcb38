//! Configuration keys (`--conf key=value`), their defaults and parsing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration value that could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--conf` argument without `=`.
    #[error("invalid --conf `{arg}`: expected key=value")]
    NotKeyValue { arg: String },
    /// A value of the wrong type.
    #[error("invalid value `{value}` for {key}: {reason}")]
    BadValue { key: String, value: String, reason: String },
}

/// All configuration of an application, as given.
#[derive(Clone, Debug, Default)]
pub struct Conf {
    values: BTreeMap<String, String>,
}

impl Conf {
    /// Parses `key=value` arguments.
    pub fn from_args<I, S>(args: I) -> Result<Conf, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut conf = Conf::default();
        for a in args {
            let a = a.as_ref();
            let (k, v) = a.split_once('=').ok_or_else(|| ConfigError::NotKeyValue { arg: a.to_string() })?;
            conf.set(k.trim(), v.trim());
        }
        Ok(conf)
    }

    /// Sets a key.
    pub fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_string(), value.to_string());
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A key parsed as an unsigned integer, or the default.
    pub fn get_u64(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e: std::num::ParseIntError| ConfigError::BadValue {
                key: key.to_string(),
                value: v.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// A key parsed as a byte size (`64m`, `1g`, `4096`), or the default.
    pub fn get_bytes(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_bytes(v).ok_or_else(|| ConfigError::BadValue {
                key: key.to_string(),
                value: v.to_string(),
                reason: "expected a size such as 512k, 64m or 1g".to_string(),
            }),
        }
    }

    /// A key parsed as a duration (`500ms`, `3s`, `2m`, bare number = seconds), or the default.
    pub fn get_duration(&self, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_duration(v).ok_or_else(|| ConfigError::BadValue {
                key: key.to_string(),
                value: v.to_string(),
                reason: "expected a duration such as 500ms, 3s or 2m".to_string(),
            }),
        }
    }

    /// A key parsed as a boolean (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`), or the default.
    pub fn get_bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(v) => {
                Err(ConfigError::BadValue { key: key.to_string(), value: v.to_string(), reason: "expected true or false".to_string() })
            }
        }
    }
}

/// Directory for compiled components (`$WISP_CACHE_DIR`, else `$XDG_CACHE_HOME/wisp`, else `~/.cache/wisp`).
pub(crate) fn compile_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("WISP_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("wisp").join("compiled"))
}

fn parse_bytes(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let v = v.strip_suffix('b').unwrap_or(&v);
    let (num, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1u64 << 10),
        'm' => (&v[..v.len() - 1], 1 << 20),
        'g' => (&v[..v.len() - 1], 1 << 30),
        't' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Some(n) = v.strip_suffix("ms") {
        return n.trim().parse().ok().map(Duration::from_millis);
    }
    if let Some(n) = v.strip_suffix("min").or_else(|| v.strip_suffix('m')) {
        return n.trim().parse::<u64>().ok().map(|m| Duration::from_secs(m * 60));
    }
    if let Some(n) = v.strip_suffix('s') {
        return n.trim().parse::<f64>().ok().filter(|s| *s >= 0.0).map(Duration::from_secs_f64);
    }
    v.parse::<f64>().ok().filter(|s| *s >= 0.0).map(Duration::from_secs_f64)
}

/// `wisp.task.maxFailures`: attempts of one task before its job fails.
pub const TASK_MAX_FAILURES: &str = "wisp.task.maxFailures";
/// `wisp.task.cpus`: cores each task occupies.
pub const TASK_CPUS: &str = "wisp.task.cpus";
/// `wisp.default.parallelism`: default partition count of shuffles.
pub const DEFAULT_PARALLELISM: &str = "wisp.default.parallelism";
/// `wisp.files.maxPartitionBytes`: largest input split.
pub const MAX_PARTITION_BYTES: &str = "wisp.files.maxPartitionBytes";
/// `wisp.task.memory`: largest linear memory of one guest task.
pub const TASK_MEMORY: &str = "wisp.task.memory";
/// `wisp.task.timeout`: wall-time limit of one guest task (unset: none).
pub const TASK_TIMEOUT: &str = "wisp.task.timeout";
/// `wisp.task.fuel`: instructions-ish budget of one guest task (wasmtime fuel; unset: unmetered).
pub const TASK_FUEL: &str = "wisp.task.fuel";
/// `wisp.task.scratch`: give every task a private scratch directory, `/scratch` in the guest (default false).
pub const TASK_SCRATCH: &str = "wisp.task.scratch";
/// `wisp.task.retryGuestFailures`: retry a task whose guest failed deterministically (trap, panic, limit; default true, as Spark).
pub const TASK_RETRY_GUEST_FAILURES: &str = "wisp.task.retryGuestFailures";
/// `wisp.shuffle.spill.memory`: bytes a shuffle writer buffers before spilling.
pub const SHUFFLE_SPILL_MEMORY: &str = "wisp.shuffle.spill.memory";
/// `wisp.reducer.maxBytesInFlight`: shuffle bytes a reduce task fetches from other executors at once (default 48m).
pub const REDUCER_MAX_BYTES_IN_FLIGHT: &str = "wisp.reducer.maxBytesInFlight";
/// `wisp.network.timeout`: an executor silent for this long is declared lost (default 30s).
pub const NETWORK_TIMEOUT: &str = "wisp.network.timeout";
/// `wisp.executor.heartbeatInterval`: how often executors send heartbeats (default 10s).
pub const EXECUTOR_HEARTBEAT_INTERVAL: &str = "wisp.executor.heartbeatInterval";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(parse_bytes("64m"), Some(64 << 20));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("x"), None);
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        let c = Conf::from_args(["a=1", "b = x"]).unwrap();
        assert_eq!(c.get("b"), Some("x"));
        assert!(Conf::from_args(["nokey"]).is_err());
    }
}
