//! Configuration: the raw `--conf` map (`Conf`), checked against the declared keys (`keys`), and typed reads of them.
//!
//! Every `wisp.*` key is declared once, with its kind and default, in
//! `keys.rs`; `Conf` refuses undeclared `wisp.*` keys (suggesting the nearest
//! declared one) and leaves other keys to the job (`ctx.conf(key)`). The
//! settings of each process kind are built from a `Conf` in one place each
//! (`crate::process_settings`), through `Conf::read` and `Conf::given`, so no
//! call site writes a default.

pub(crate) mod keys;

#[cfg(test)]
mod docs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keys::{DefaultValue, Key, Value};

/// A configuration that could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--conf` argument without `=`.
    #[error("invalid --conf `{arg}`: expected key=value")]
    NotKeyValue { arg: String },
    /// A value of the wrong type.
    #[error("invalid value `{value}` for {key}: {reason}")]
    BadValue { key: String, value: String, reason: String },
    /// A `wisp.*` key that is not declared (a typo, or a Spark key Wisp does not have).
    #[error("unknown configuration key {key} ({})", match .suggestion {
        Some(s) => format!("did you mean {s}?"),
        None => "the known keys are listed in docs/configuration.md".to_string(),
    })]
    UnknownKey {
        /// The key as given.
        key: String,
        /// The declared key it most likely meant.
        suggestion: Option<&'static str>,
    },
}

/// All configuration of an application or process, as given (`key=value` pairs).
#[derive(Clone, Debug, Default)]
pub struct Conf {
    values: BTreeMap<String, String>,
}

impl Conf {
    /// Parses `key=value` arguments, refusing undeclared `wisp.*` keys.
    pub fn from_args<I, S>(args: I) -> Result<Conf, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut conf = Conf::default();
        for a in args {
            let a = a.as_ref();
            let (k, v) =
                a.split_once('=').ok_or_else(|| ConfigError::NotKeyValue { arg: a.to_string() })?;
            check_key(k.trim())?;
            conf.set(k.trim(), v.trim());
        }
        Ok(conf)
    }

    /// Builds a configuration from `(key, value)` pairs (a submitted job's), refusing undeclared `wisp.*` keys.
    pub fn from_pairs<'a, I>(pairs: I) -> Result<Conf, ConfigError>
    where
        I: IntoIterator<Item = &'a (String, String)>,
    {
        let mut conf = Conf::default();
        for (k, v) in pairs {
            check_key(k.trim())?;
            conf.set(k.trim(), v.trim());
        }
        Ok(conf)
    }

    /// Sets a key (not checked: `validate` does).
    pub fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_string(), value.to_string());
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Every key and value as given, in key order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Refuses the first undeclared `wisp.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.values.keys().try_for_each(|k| check_key(k))
    }

    /// This configuration with `top`'s keys set over it.
    pub(crate) fn overlaid(&self, top: &Conf) -> Conf {
        let mut conf = self.clone();
        conf.values.extend(top.values.iter().map(|(k, v)| (k.clone(), v.clone())));
        conf
    }

    /// A declared key's value: as given, else its declared default (`SameAs`:
    /// the other key's value). Panics on a key declared without a default
    /// value (`Unset`, `Derived`): those are read with `given`.
    pub(crate) fn read<T: FromValue>(&self, key: &'static Key) -> Result<T, ConfigError> {
        if let Some(v) = self.given(key)? {
            return Ok(v);
        }
        match key.default {
            DefaultValue::Value(text) => {
                let value = key
                    .kind
                    .parse(text)
                    .unwrap_or_else(|e| panic!("declared default `{text}` of {key}: {e}"));
                Ok(typed(key, value))
            }
            DefaultValue::SameAs(other) => self.read(other),
            DefaultValue::Unset(_) | DefaultValue::Derived(_) => {
                panic!("{key} has no default value: read it with Conf::given")
            }
        }
    }

    /// A declared key's value if given (its default is the caller's to resolve: unset, or another process's value).
    pub(crate) fn given<T: FromValue>(&self, key: &'static Key) -> Result<Option<T>, ConfigError> {
        debug_assert!(
            keys::lookup(key.name).is_some_and(|k| std::ptr::eq(k, key)),
            "{key} is not listed in keys::KEYS"
        );
        let Some(text) = self.get(key.name) else { return Ok(None) };
        let value = key.kind.parse(text).map_err(|reason| ConfigError::BadValue {
            key: key.name.to_string(),
            value: text.to_string(),
            reason,
        })?;
        Ok(Some(typed(key, value)))
    }
}

/// Refuses an undeclared key under `wisp.`; other keys are the job's own.
fn check_key(name: &str) -> Result<(), ConfigError> {
    if !name.starts_with(keys::RESERVED_PREFIX) || keys::lookup(name).is_some() {
        return Ok(());
    }
    Err(ConfigError::UnknownKey {
        key: name.to_string(),
        suggestion: keys::nearest(name).map(|k| k.name),
    })
}

/// A Rust type a key's parsed value is read as.
pub(crate) trait FromValue: Sized {
    /// The value as this type, if the key's kind gives one.
    fn from_value(value: Value) -> Option<Self>;
}

impl FromValue for u32 {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Int(n) => u32::try_from(n).ok(),
            _ => None,
        }
    }
}

impl FromValue for u64 {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Int(n) | Value::Bytes(n) => Some(n),
            _ => None,
        }
    }
}

impl FromValue for usize {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Bytes(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => None,
        }
    }
}

impl FromValue for Duration {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Duration(d) => Some(d),
            _ => None,
        }
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Number(f) => Some(f),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Text(t) => Some(t),
            Value::Choice(w) => Some(w.to_string()),
            _ => None,
        }
    }
}

/// A parsed value as `T`; a mismatch is a programming error (a key read as the wrong type).
fn typed<T: FromValue>(key: &Key, value: Value) -> T {
    T::from_value(value)
        .unwrap_or_else(|| panic!("{key} ({:?}) read as {}", key.kind, std::any::type_name::<T>()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_value_arguments() {
        let c = Conf::from_args(["a=1", "b = x", "wisp.task.cpus=2"]).unwrap();
        assert_eq!(c.get("b"), Some("x"));
        assert_eq!(c.get("wisp.task.cpus"), Some("2"));
        assert_eq!(
            Conf::from_args(["nokey"]).unwrap_err().to_string(),
            "invalid --conf `nokey`: expected key=value"
        );
    }

    #[test]
    fn unknown_wisp_keys_are_refused_with_the_nearest_known_key() {
        let err = Conf::from_args(["wisp.task.cpus=1", "wisp.task.memmory=1g"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown configuration key wisp.task.memmory (did you mean wisp.task.memory?)"
        );
        let err = Conf::from_args(["wisp.executor.fuel=5"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown configuration key wisp.executor.fuel (did you mean wisp.task.fuel?)"
        );
        let err = Conf::from_args(["wisp.nothing.like.it=1"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown configuration key wisp.nothing.like.it (the known keys are listed in docs/configuration.md)"
        );
        let pairs = [("wisp.speculation.quantil".to_string(), "0.5".to_string())];
        let err = Conf::from_pairs(&pairs).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown configuration key wisp.speculation.quantil (did you mean wisp.speculation.quantile?)"
        );
        // Keys outside `wisp.` are the job's own.
        let own = Conf::from_args(["myjob.greeting=hello", "spark.executor.memory=1g", "wispy=1"])
            .unwrap();
        assert_eq!(own.get("myjob.greeting"), Some("hello"));
        let mut set = Conf::default();
        set.set("wisp.task.maxFailure", "2");
        assert!(matches!(
            set.validate(),
            Err(ConfigError::UnknownKey { suggestion: Some("wisp.task.maxFailures"), .. })
        ));
    }

    #[test]
    fn reads_take_declared_defaults_and_name_the_key_on_bad_values() {
        let empty = Conf::default();
        assert_eq!(empty.read::<u32>(&keys::TASK_MAX_FAILURES).unwrap(), 4);
        assert_eq!(empty.read::<u64>(&keys::SHUFFLE_SPILL_MEMORY).unwrap(), 64 << 20);
        assert_eq!(
            empty.read::<Duration>(&keys::LOCALITY_WAIT_NODE).unwrap(),
            Duration::from_secs(3)
        );
        assert_eq!(empty.given::<Duration>(&keys::TASK_TIMEOUT).unwrap(), None);
        let conf = Conf::from_args(["wisp.locality.wait=1s", "wisp.task.cpus=x"]).unwrap();
        assert_eq!(
            conf.read::<Duration>(&keys::LOCALITY_WAIT_RACK).unwrap(),
            Duration::from_secs(1)
        );
        assert_eq!(
            conf.read::<u32>(&keys::TASK_CPUS).unwrap_err().to_string(),
            "invalid value `x` for wisp.task.cpus: expected a positive 32-bit integer"
        );
        let top = Conf::from_args(["wisp.task.cpus=2"]).unwrap();
        assert_eq!(conf.overlaid(&top).get("wisp.task.cpus"), Some("2"));
        assert_eq!(conf.overlaid(&top).get("wisp.locality.wait"), Some("1s"));
    }
}
