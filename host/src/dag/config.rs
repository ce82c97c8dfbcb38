//! Scheduler settings: the DAG scheduler's own (`wisp.stage.maxConsecutiveAttempts`, the job's task limits) around the task scheduler's.
//!
//! The keys and their defaults are declared in `crate::settings::keys`; the
//! task scheduler's settings are its own (`crate::task_scheduler::TaskSchedulerConfig`).

use crate::settings::{Conf, ConfigError, keys};
use crate::task::TaskLimits;
use crate::task_scheduler::TaskSchedulerConfig;

/// Scheduler settings of one application.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Consecutive fetch-failed attempts of one stage before its jobs fail
    /// (`wisp.stage.maxConsecutiveAttempts`).
    pub max_stage_attempts: u32,
    /// The job's sandbox settings, carried by every task description (`wisp.task.memory|timeout|fuel|scratch`).
    pub task_limits: TaskLimits,
    /// The task scheduler's settings (retries, cores per task, locality, speculation, exclusion).
    pub task_scheduler: TaskSchedulerConfig,
}

impl Default for SchedulerConfig {
    /// The declared defaults.
    fn default() -> Self {
        SchedulerConfig::from_conf(&Conf::default()).expect("the declared defaults are valid")
    }
}

impl SchedulerConfig {
    /// Reads the scheduler keys of a configuration (declared defaults for absent keys).
    pub fn from_conf(conf: &Conf) -> Result<SchedulerConfig, ConfigError> {
        Ok(SchedulerConfig {
            max_stage_attempts: conf.read(&keys::STAGE_MAX_CONSECUTIVE_ATTEMPTS)?,
            task_limits: TaskLimits::from_conf(conf)?,
            task_scheduler: TaskSchedulerConfig::from_conf(conf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sparks() {
        let c = SchedulerConfig::default();
        assert_eq!(c.max_stage_attempts, 4);
        assert_eq!(c.task_limits, TaskLimits::default());
        assert_eq!(c.task_scheduler, TaskSchedulerConfig::default());
    }

    #[test]
    fn reads_both_schedulers_keys() {
        let conf = Conf::from_args([
            "wisp.stage.maxConsecutiveAttempts=2",
            "wisp.task.maxFailures=7",
            "wisp.task.timeout=2s",
        ])
        .unwrap();
        let c = SchedulerConfig::from_conf(&conf).unwrap();
        assert_eq!((c.max_stage_attempts, c.task_scheduler.max_task_failures), (2, 7));
        assert_eq!(c.task_limits.timeout, Some(std::time::Duration::from_secs(2)));
        let bad = Conf::from_args(["wisp.stage.maxConsecutiveAttempts=0"]).unwrap();
        let err = SchedulerConfig::from_conf(&bad).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid value `0` for wisp.stage.maxConsecutiveAttempts: expected a positive 32-bit integer"
        );
    }
}
