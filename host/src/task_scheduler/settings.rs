//! The task scheduler's settings: `wisp.task.maxFailures|cpus|retryGuestFailures`, `wisp.locality.wait*`, `wisp.speculation*` and `wisp.excludeOnFailure.*`.
//!
//! The keys, their defaults (Spark's where the meaning matches) and their
//! parsing are declared in `crate::settings::keys`; this file only gathers
//! them into the structs the task scheduler uses. The `Default` of each
//! struct is what an empty configuration gives.

use std::time::Duration;

use crate::settings::{Conf, ConfigError, keys};

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
        TaskSchedulerConfig::default().locality_waits
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
        TaskSchedulerConfig::default().speculation
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
        TaskSchedulerConfig::default().exclusion
    }
}

/// The task scheduler's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskSchedulerConfig {
    /// Attempts of one task (counted failures) before its job fails (`wisp.task.maxFailures`).
    pub max_task_failures: u32,
    /// Cores each task occupies (`wisp.task.cpus`).
    pub cpus_per_task: u32,
    /// Delay scheduling waits (`wisp.locality.wait*`).
    pub locality_waits: LocalityWaits,
    /// Speculation (`wisp.speculation*`).
    pub speculation: SpeculationConfig,
    /// Exclusion on failure (`wisp.excludeOnFailure.*`).
    pub exclusion: ExclusionConfig,
    /// Whether a deterministic guest failure (trap, panic, limit breach, error
    /// result) is retried (`wisp.task.retryGuestFailures`, as in Spark);
    /// infrastructure failures always are.
    pub retry_guest_failures: bool,
}

impl Default for TaskSchedulerConfig {
    /// The declared defaults.
    fn default() -> Self {
        TaskSchedulerConfig::from_conf(&Conf::default()).expect("the declared defaults are valid")
    }
}

impl TaskSchedulerConfig {
    /// Reads the task scheduler's keys of a configuration (declared defaults for absent keys).
    pub fn from_conf(conf: &Conf) -> Result<TaskSchedulerConfig, ConfigError> {
        Ok(TaskSchedulerConfig {
            max_task_failures: conf.read(&keys::TASK_MAX_FAILURES)?,
            cpus_per_task: conf.read(&keys::TASK_CPUS)?,
            locality_waits: LocalityWaits {
                process: conf.read(&keys::LOCALITY_WAIT_PROCESS)?,
                node: conf.read(&keys::LOCALITY_WAIT_NODE)?,
                rack: conf.read(&keys::LOCALITY_WAIT_RACK)?,
            },
            speculation: SpeculationConfig {
                enabled: conf.read(&keys::SPECULATION)?,
                interval: conf.read(&keys::SPECULATION_INTERVAL)?,
                multiplier: conf.read(&keys::SPECULATION_MULTIPLIER)?,
                quantile: conf.read(&keys::SPECULATION_QUANTILE)?,
                min_task_runtime: conf.read(&keys::SPECULATION_MIN_TASK_RUNTIME)?,
            },
            exclusion: ExclusionConfig {
                enabled: conf.read(&keys::EXCLUDE_ON_FAILURE_ENABLED)?,
                max_task_attempts_per_executor: conf
                    .read(&keys::EXCLUDE_TASK_MAX_ATTEMPTS_PER_EXECUTOR)?,
                max_failed_tasks_per_executor: conf
                    .read(&keys::EXCLUDE_STAGE_MAX_FAILED_TASKS_PER_EXECUTOR)?,
            },
            retry_guest_failures: conf.read(&keys::TASK_RETRY_GUEST_FAILURES)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sparks() {
        let c = TaskSchedulerConfig::default();
        assert_eq!((c.max_task_failures, c.cpus_per_task, c.retry_guest_failures), (4, 1, true));
        assert_eq!(c.locality_waits, LocalityWaits::uniform(Duration::from_secs(3)));
        assert!(!c.speculation.enabled);
        assert_eq!((c.speculation.multiplier, c.speculation.quantile), (1.5, 0.75));
        assert_eq!(c.speculation.interval, Duration::from_millis(100));
        assert_eq!(c.speculation.min_task_runtime, Duration::from_millis(100));
        assert!(!c.exclusion.enabled);
        assert_eq!(
            (c.exclusion.max_task_attempts_per_executor, c.exclusion.max_failed_tasks_per_executor),
            (1, 2)
        );
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
        let c = TaskSchedulerConfig::from_conf(&conf).unwrap();
        assert_eq!(
            c.locality_waits,
            LocalityWaits {
                process: Duration::from_secs(1),
                node: Duration::ZERO,
                rack: Duration::from_secs(1)
            }
        );
        assert!(c.speculation.enabled);
        assert_eq!(c.speculation.quantile, 0.5);
        assert!(c.exclusion.enabled);
        assert_eq!(c.exclusion.max_failed_tasks_per_executor, 3);
    }

    #[test]
    fn bad_values_name_the_key() {
        for arg in [
            "wisp.speculation=maybe",
            "wisp.speculation.quantile=2",
            "wisp.speculation.multiplier=0.5",
            "wisp.locality.wait=soon",
            "wisp.task.cpus=0",
        ] {
            let conf = Conf::from_args([arg]).unwrap();
            let err = TaskSchedulerConfig::from_conf(&conf).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "invalid value `{}` for {}: ",
                    arg.split_once('=').unwrap().1,
                    arg.split('=').next().unwrap()
                )),
                "{err}"
            );
        }
    }
}
