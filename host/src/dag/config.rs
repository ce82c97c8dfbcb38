//! Scheduler settings: the `wisp.task.*`, `wisp.stage.*`, `wisp.locality.*`, `wisp.speculation.*` and `wisp.excludeOnFailure.*` keys.
//!
//! Keys and defaults follow Spark's where the meaning matches. The keys the
//! scheduler alone reads are defined here (not in `crate::config`, which
//! holds the keys shared with the rest of the host).

use std::time::Duration;

use crate::config::{Conf, ConfigError, TASK_CPUS, TASK_MAX_FAILURES, TASK_RETRY_GUEST_FAILURES};
use crate::task::TaskLimits;

/// `wisp.stage.maxConsecutiveAttempts`: consecutive failed attempts (fetch failures) of a stage before its jobs fail.
pub const STAGE_MAX_CONSECUTIVE_ATTEMPTS: &str = "wisp.stage.maxConsecutiveAttempts";
/// `wisp.locality.wait`: how long a task set waits at each locality level before relaxing to the next (default 3s).
pub const LOCALITY_WAIT: &str = "wisp.locality.wait";
/// `wisp.locality.wait.process`: the wait at process-local (default: `wisp.locality.wait`).
pub const LOCALITY_WAIT_PROCESS: &str = "wisp.locality.wait.process";
/// `wisp.locality.wait.node`: the wait at node-local (default: `wisp.locality.wait`).
pub const LOCALITY_WAIT_NODE: &str = "wisp.locality.wait.node";
/// `wisp.locality.wait.rack`: the wait at rack-local (default: `wisp.locality.wait`).
pub const LOCALITY_WAIT_RACK: &str = "wisp.locality.wait.rack";
/// `wisp.speculation`: launch speculative copies of slow tasks (default false).
pub const SPECULATION: &str = "wisp.speculation";
/// `wisp.speculation.interval`: how often running tasks are checked for speculation (default 100ms).
pub const SPECULATION_INTERVAL: &str = "wisp.speculation.interval";
/// `wisp.speculation.multiplier`: how many times slower than the median a task must be (default 1.5).
pub const SPECULATION_MULTIPLIER: &str = "wisp.speculation.multiplier";
/// `wisp.speculation.quantile`: fraction of a stage's tasks that must finish before speculating (default 0.75).
pub const SPECULATION_QUANTILE: &str = "wisp.speculation.quantile";
/// `wisp.speculation.minTaskRuntime`: the least runtime of a task before it may be speculated (default 100ms).
pub const SPECULATION_MIN_TASK_RUNTIME: &str = "wisp.speculation.minTaskRuntime";
/// `wisp.excludeOnFailure.enabled`: exclude executors on which tasks failed (default false).
pub const EXCLUDE_ON_FAILURE_ENABLED: &str = "wisp.excludeOnFailure.enabled";
/// `wisp.excludeOnFailure.task.maxTaskAttemptsPerExecutor`: failures of one task on one executor before the task never runs there again (default 1).
pub const EXCLUDE_TASK_MAX_ATTEMPTS_PER_EXECUTOR: &str = "wisp.excludeOnFailure.task.maxTaskAttemptsPerExecutor";
/// `wisp.excludeOnFailure.stage.maxFailedTasksPerExecutor`: distinct tasks of a stage failing on one executor before it is excluded for the stage (default 2).
pub const EXCLUDE_STAGE_MAX_FAILED_TASKS_PER_EXECUTOR: &str = "wisp.excludeOnFailure.stage.maxFailedTasksPerExecutor";

/// Delay scheduling: how long a task set waits at each level before accepting a worse one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalityWaits {
    /// At process-local (`wisp.locality.wait.process`).
    pub process: Duration,
    /// At node-local (`wisp.locality.wait.node`).
    pub node: Duration,
    /// At rack-local (`wisp.locality.wait.rack`).
    pub rack: Duration,
}

impl LocalityWaits {
    /// The same wait at every level (0: no delay scheduling).
    pub fn uniform(wait: Duration) -> LocalityWaits {
        LocalityWaits { process: wait, node: wait, rack: wait }
    }
}

impl Default for LocalityWaits {
    fn default() -> Self {
        LocalityWaits::uniform(Duration::from_secs(3))
    }
}

/// Speculative execution of slow tasks (Spark's `spark.speculation.*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeculationConfig {
    /// Whether copies are launched at all (`wisp.speculation`).
    pub enabled: bool,
    /// How often running tasks are checked (`wisp.speculation.interval`).
    pub interval: Duration,
    /// A task slower than `multiplier` × the median successful runtime is speculated.
    pub multiplier: f64,
    /// Fraction of the task set that must have succeeded first.
    pub quantile: f64,
    /// Tasks running less than this are never speculated.
    pub min_task_runtime: Duration,
}

impl Default for SpeculationConfig {
    fn default() -> Self {
        SpeculationConfig {
            enabled: false,
            interval: Duration::from_millis(100),
            multiplier: 1.5,
            quantile: 0.75,
            min_task_runtime: Duration::from_millis(100),
        }
    }
}

/// Excluding executors on which tasks failed (Spark's `spark.excludeOnFailure.*`).
///
/// Whether enabled or not, a task whose attempt failed on an executor avoids
/// that executor while another usable one exists. Enabled, the exclusion is
/// strict: a task never runs again where it failed
/// `max_task_attempts_per_executor` times, an executor on which
/// `max_failed_tasks_per_executor` distinct tasks of a stage attempt failed
/// runs no more of its tasks, and a task that cannot run anywhere fails its stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExclusionConfig {
    /// `wisp.excludeOnFailure.enabled`.
    pub enabled: bool,
    /// `wisp.excludeOnFailure.task.maxTaskAttemptsPerExecutor`.
    pub max_task_attempts_per_executor: u32,
    /// `wisp.excludeOnFailure.stage.maxFailedTasksPerExecutor`.
    pub max_failed_tasks_per_executor: u32,
}

impl Default for ExclusionConfig {
    fn default() -> Self {
        ExclusionConfig { enabled: false, max_task_attempts_per_executor: 1, max_failed_tasks_per_executor: 2 }
    }
}

/// Scheduler settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Attempts of one task (counted failures) before its job fails (`wisp.task.maxFailures`, default 4).
    pub max_task_failures: u32,
    /// Cores each task occupies (`wisp.task.cpus`, default 1).
    pub cpus_per_task: u32,
    /// Consecutive fetch-failed attempts of one stage before its jobs fail
    /// (`wisp.stage.maxConsecutiveAttempts`, default 4).
    pub max_stage_attempts: u32,
    /// Delay scheduling waits (`wisp.locality.wait*`, default 3s each).
    pub locality_waits: LocalityWaits,
    /// Speculation (`wisp.speculation*`, off by default).
    pub speculation: SpeculationConfig,
    /// Exclusion on failure (`wisp.excludeOnFailure.*`, off by default).
    pub exclusion: ExclusionConfig,
    /// Whether a deterministic guest failure (trap, panic, limit breach, error
    /// result) is retried (`wisp.task.retryGuestFailures`, default true as in
    /// Spark); infrastructure failures always are.
    pub retry_guest_failures: bool,
    /// The job's sandbox settings, carried by every task description (`wisp.task.memory|timeout|fuel|scratch`).
    pub task_limits: TaskLimits,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_task_failures: 4,
            cpus_per_task: 1,
            max_stage_attempts: 4,
            locality_waits: LocalityWaits::default(),
            speculation: SpeculationConfig::default(),
            exclusion: ExclusionConfig::default(),
            retry_guest_failures: true,
            task_limits: TaskLimits::default(),
        }
    }
}

fn bad(key: &str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError::BadValue { key: key.to_string(), value: value.to_string(), reason: reason.to_string() }
}

fn positive_u32(conf: &Conf, key: &str, default: u32) -> Result<u32, ConfigError> {
    let v = conf.get_u64(key, default as u64)?;
    u32::try_from(v).ok().filter(|v| *v > 0).ok_or_else(|| bad(key, v, "expected a positive 32-bit integer"))
}

/// A finite float accepted by `ok`, or the default.
fn float(conf: &Conf, key: &str, default: f64, ok: impl Fn(f64) -> bool, reason: &str) -> Result<f64, ConfigError> {
    match conf.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse::<f64>().ok().filter(|f| f.is_finite() && ok(*f)).ok_or_else(|| bad(key, v, reason)),
    }
}

impl SchedulerConfig {
    /// Reads the scheduler keys of a configuration (defaults for absent keys).
    pub fn from_conf(conf: &Conf) -> Result<SchedulerConfig, ConfigError> {
        let d = SchedulerConfig::default();
        let wait = conf.get_duration(LOCALITY_WAIT, d.locality_waits.process)?;
        let locality_waits = LocalityWaits {
            process: conf.get_duration(LOCALITY_WAIT_PROCESS, wait)?,
            node: conf.get_duration(LOCALITY_WAIT_NODE, wait)?,
            rack: conf.get_duration(LOCALITY_WAIT_RACK, wait)?,
        };
        let s = d.speculation;
        let speculation = SpeculationConfig {
            enabled: conf.get_bool(SPECULATION, s.enabled)?,
            interval: conf.get_duration(SPECULATION_INTERVAL, s.interval)?,
            multiplier: float(conf, SPECULATION_MULTIPLIER, s.multiplier, |f| f >= 1.0, "expected a number of at least 1")?,
            quantile: float(conf, SPECULATION_QUANTILE, s.quantile, |f| (0.0..=1.0).contains(&f), "expected a number between 0 and 1")?,
            min_task_runtime: conf.get_duration(SPECULATION_MIN_TASK_RUNTIME, s.min_task_runtime)?,
        };
        let e = d.exclusion;
        let exclusion = ExclusionConfig {
            enabled: conf.get_bool(EXCLUDE_ON_FAILURE_ENABLED, e.enabled)?,
            max_task_attempts_per_executor: positive_u32(conf, EXCLUDE_TASK_MAX_ATTEMPTS_PER_EXECUTOR, e.max_task_attempts_per_executor)?,
            max_failed_tasks_per_executor: positive_u32(
                conf,
                EXCLUDE_STAGE_MAX_FAILED_TASKS_PER_EXECUTOR,
                e.max_failed_tasks_per_executor,
            )?,
        };
        Ok(SchedulerConfig {
            max_task_failures: positive_u32(conf, TASK_MAX_FAILURES, d.max_task_failures)?,
            cpus_per_task: positive_u32(conf, TASK_CPUS, d.cpus_per_task)?,
            max_stage_attempts: positive_u32(conf, STAGE_MAX_CONSECUTIVE_ATTEMPTS, d.max_stage_attempts)?,
            locality_waits,
            speculation,
            exclusion,
            retry_guest_failures: conf.get_bool(TASK_RETRY_GUEST_FAILURES, d.retry_guest_failures)?,
            task_limits: TaskLimits::from_conf(conf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sparks() {
        let c = SchedulerConfig::from_conf(&Conf::default()).unwrap();
        assert_eq!(c, SchedulerConfig::default());
        assert_eq!(c.locality_waits, LocalityWaits::uniform(Duration::from_secs(3)));
        assert!(!c.speculation.enabled);
        assert_eq!((c.speculation.multiplier, c.speculation.quantile), (1.5, 0.75));
        assert_eq!(c.speculation.interval, Duration::from_millis(100));
        assert_eq!(c.speculation.min_task_runtime, Duration::from_millis(100));
        assert!(!c.exclusion.enabled);
        assert_eq!((c.exclusion.max_task_attempts_per_executor, c.exclusion.max_failed_tasks_per_executor), (1, 2));
    }

    #[test]
    fn level_waits_override_the_general_wait() {
        let conf = Conf::from_args([
            "wisp.locality.wait=1s",
            "wisp.locality.wait.node=0",
            "wisp.speculation=true",
            "wisp.speculation.quantile=0.5",
            "wisp.excludeOnFailure.enabled=true",
            "wisp.excludeOnFailure.stage.maxFailedTasksPerExecutor=3",
        ])
        .unwrap();
        let c = SchedulerConfig::from_conf(&conf).unwrap();
        assert_eq!(c.locality_waits, LocalityWaits { process: Duration::from_secs(1), node: Duration::ZERO, rack: Duration::from_secs(1) });
        assert!(c.speculation.enabled);
        assert_eq!(c.speculation.quantile, 0.5);
        assert!(c.exclusion.enabled);
        assert_eq!(c.exclusion.max_failed_tasks_per_executor, 3);
    }

    #[test]
    fn bad_values_name_the_key() {
        for arg in ["wisp.speculation=maybe", "wisp.speculation.quantile=2", "wisp.speculation.multiplier=0.5", "wisp.locality.wait=soon"] {
            let conf = Conf::from_args([arg]).unwrap();
            let err = SchedulerConfig::from_conf(&conf).unwrap_err().to_string();
            assert!(err.contains(arg.split('=').next().unwrap()), "{err}");
        }
    }
}
