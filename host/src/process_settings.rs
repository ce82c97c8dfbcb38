//! The typed settings of each process kind, each built from its `Conf` in one place: `wisp run`, `wisp master`, `wisp executor`, and one application.
//!
//! Each builder first refuses undeclared `wisp.*` keys (`Conf::validate`:
//! a `Conf` built with `set` is not checked otherwise). Every value comes from
//! a key declared in `crate::settings::keys` (with its default there); the only arithmetic here is the documented floors of the
//! cluster timers and local mode's cap of `wisp.task.cpus` at `--cores`.
//! This module sits above the scheduler and task types it fills in
//! (`crate::settings` stays below everything, so no module cycle runs
//! through the configuration).

use std::time::Duration;

use crate::dag::SchedulerConfig;
use crate::settings::{Conf, ConfigError, keys};
use crate::task::TaskLimits;

/// The least `wisp.network.timeout` used (a shorter one would drop healthy peers).
const MIN_NETWORK_TIMEOUT: Duration = Duration::from_millis(500);
/// The least `wisp.executor.heartbeatInterval` used.
const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);

/// What one application reads: in `wisp run`, or on the master for a submitted job (the master's conf with the job's on top).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AppSettings {
    /// The DAG and task schedulers' settings, with the job's task limits.
    pub(crate) scheduler: SchedulerConfig,
    /// Partitions of shuffles when the job does not say (`wisp.default.parallelism`;
    /// `None`: the executors' total cores, known only once they are).
    pub(crate) default_parallelism: Option<u32>,
    /// Largest input split (`wisp.files.maxPartitionBytes`).
    pub(crate) max_split_bytes: u64,
}

impl AppSettings {
    /// Reads an application's keys.
    pub(crate) fn from_conf(conf: &Conf) -> Result<AppSettings, ConfigError> {
        conf.validate()?;
        Ok(AppSettings {
            scheduler: SchedulerConfig::from_conf(conf)?,
            default_parallelism: conf.given(&keys::DEFAULT_PARALLELISM)?,
            max_split_bytes: conf.read(&keys::MAX_PARTITION_BYTES)?,
        })
    }
}

/// Settings of `wisp run`: one application, its executor threads and the guests of this process.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LocalSettings {
    /// The application's settings (`wisp.task.cpus` capped at `--cores`).
    pub(crate) app: AppSettings,
    /// This process's guest limits (the runtime's defaults; the same keys as the job's).
    pub(crate) task_limits: TaskLimits,
    /// Bytes a shuffle writer buffers before spilling (`wisp.shuffle.spill.memory`).
    pub(crate) shuffle_spill_memory: usize,
}

impl LocalSettings {
    /// Reads `wisp run`'s configuration for `cores` task slots.
    pub(crate) fn from_conf(conf: &Conf, cores: u32) -> Result<LocalSettings, ConfigError> {
        let mut app = AppSettings::from_conf(conf)?;
        let tasks = &mut app.scheduler.task_scheduler;
        tasks.cpus_per_task = tasks.cpus_per_task.clamp(1, cores.max(1));
        Ok(LocalSettings {
            app,
            task_limits: TaskLimits::from_conf(conf)?,
            shuffle_spill_memory: conf.read(&keys::SHUFFLE_SPILL_MEMORY)?,
        })
    }
}

/// Settings of `wisp master`: its connections and the guests (job mains) it runs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MasterSettings {
    /// Idle timeout of its connections; an executor silent this long is lost (`wisp.network.timeout`, at least 500ms).
    pub(crate) network_timeout: Duration,
    /// This process's guest limits (job mains run here).
    pub(crate) task_limits: TaskLimits,
}

impl MasterSettings {
    /// Reads `wisp master`'s configuration; its application keys (every job's
    /// defaults) are checked too, so that a bad one fails the master at start.
    pub(crate) fn from_conf(conf: &Conf) -> Result<MasterSettings, ConfigError> {
        AppSettings::from_conf(conf)?;
        Ok(MasterSettings {
            network_timeout: network_timeout(conf)?,
            task_limits: TaskLimits::from_conf(conf)?,
        })
    }
}

/// Settings of `wisp executor`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ExecutorProcessSettings {
    /// Idle timeout of its connections (`wisp.network.timeout`, at least 500ms).
    pub(crate) network_timeout: Duration,
    /// How often it heartbeats (`wisp.executor.heartbeatInterval`, at least 50ms).
    pub(crate) heartbeat_interval: Duration,
    /// Remote shuffle bytes a reduce task fetches at once (`wisp.reducer.maxBytesInFlight`).
    pub(crate) max_bytes_in_flight: u64,
    /// Bytes a shuffle writer buffers before spilling (`wisp.shuffle.spill.memory`).
    pub(crate) shuffle_spill_memory: usize,
    /// This process's guest limits: defaults for jobs that set none, and its memory limit a cap.
    pub(crate) task_limits: TaskLimits,
}

impl ExecutorProcessSettings {
    /// Reads `wisp executor`'s configuration.
    pub(crate) fn from_conf(conf: &Conf) -> Result<ExecutorProcessSettings, ConfigError> {
        conf.validate()?;
        let heartbeat: Duration = conf.read(&keys::EXECUTOR_HEARTBEAT_INTERVAL)?;
        Ok(ExecutorProcessSettings {
            network_timeout: network_timeout(conf)?,
            heartbeat_interval: heartbeat.max(MIN_HEARTBEAT_INTERVAL),
            max_bytes_in_flight: conf.read(&keys::REDUCER_MAX_BYTES_IN_FLIGHT)?,
            shuffle_spill_memory: conf.read(&keys::SHUFFLE_SPILL_MEMORY)?,
            task_limits: TaskLimits::from_conf(conf)?,
        })
    }
}

fn network_timeout(conf: &Conf) -> Result<Duration, ConfigError> {
    Ok(conf.read::<Duration>(&keys::NETWORK_TIMEOUT)?.max(MIN_NETWORK_TIMEOUT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::keys::{DefaultValue, KEYS};
    use crate::task::DEFAULT_TASK_MEMORY;

    #[test]
    fn empty_configurations_give_the_declared_defaults() {
        let empty = Conf::default();
        let local = LocalSettings::from_conf(&empty, 4).unwrap();
        assert_eq!(local.app.scheduler, SchedulerConfig::default());
        assert_eq!((local.app.default_parallelism, local.app.max_split_bytes), (None, 32 << 20));
        assert_eq!(
            (local.task_limits.clone(), local.shuffle_spill_memory),
            (TaskLimits::default(), 64 << 20)
        );
        let master = MasterSettings::from_conf(&empty).unwrap();
        assert_eq!(master.network_timeout, Duration::from_secs(30));
        let executor = ExecutorProcessSettings::from_conf(&empty).unwrap();
        assert_eq!(
            (executor.network_timeout, executor.heartbeat_interval),
            (Duration::from_secs(30), Duration::from_secs(10))
        );
        assert_eq!(
            (executor.max_bytes_in_flight, executor.shuffle_spill_memory),
            (48 << 20, 64 << 20)
        );
        // The runtime's fallback for an unset `wisp.task.memory` is its declared default.
        assert_eq!(empty.read::<u64>(&keys::TASK_MEMORY).unwrap(), DEFAULT_TASK_MEMORY);
    }

    /// Every key set (to its default, or a sample for those without one) is read with a matching type by some process.
    #[test]
    fn every_key_is_read_with_its_own_kind() {
        let args: Vec<String> = KEYS
            .iter()
            .map(|k| {
                let value = match k.default {
                    DefaultValue::Value(text) => text,
                    DefaultValue::SameAs(_) => "250ms",
                    DefaultValue::Unset(_) | DefaultValue::Derived(_)
                        if k.kind == keys::Kind::Duration =>
                    {
                        "2s"
                    }
                    DefaultValue::Unset(_) | DefaultValue::Derived(_) => "7",
                };
                format!("{}={value}", k.name)
            })
            .collect();
        let conf = Conf::from_args(&args).unwrap();
        let local = LocalSettings::from_conf(&conf, 2).unwrap();
        assert_eq!(local.app.default_parallelism, Some(7));
        assert_eq!(
            local.app.scheduler.task_limits,
            TaskLimits {
                memory: Some(1 << 30),
                timeout: Some(Duration::from_secs(2)),
                fuel: Some(7),
                scratch: false
            }
        );
        assert_eq!(
            local.app.scheduler.task_scheduler.locality_waits.node,
            Duration::from_millis(250)
        );
        MasterSettings::from_conf(&conf).unwrap();
        ExecutorProcessSettings::from_conf(&conf).unwrap();
    }

    #[test]
    fn local_mode_caps_cores_per_task_and_cluster_timers_have_floors() {
        let conf = Conf::from_args([
            "wisp.task.cpus=8",
            "wisp.network.timeout=10ms",
            "wisp.executor.heartbeatInterval=1ms",
        ])
        .unwrap();
        assert_eq!(
            LocalSettings::from_conf(&conf, 2).unwrap().app.scheduler.task_scheduler.cpus_per_task,
            2
        );
        let executor = ExecutorProcessSettings::from_conf(&conf).unwrap();
        assert_eq!(
            (executor.network_timeout, executor.heartbeat_interval),
            (MIN_NETWORK_TIMEOUT, MIN_HEARTBEAT_INTERVAL)
        );
        let bad = Conf::from_args(["wisp.speculation.quantile=2"]).unwrap();
        let err = MasterSettings::from_conf(&bad).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid value `2` for wisp.speculation.quantile: expected a number between 0 and 1"
        );
    }
}
