//! The typed settings of each process kind, each built from its `Conf` in one place: `wisp run`, `wisp master`, `wisp executor`, and one application.
//!
//! Each builder first refuses undeclared `wisp.*` keys (`Conf::validate`:
//! a `Conf` built with `set` is not checked otherwise). Every value comes from
//! a key declared in `crate::settings::keys` (with its default there); the only arithmetic here is the documented floors of the
//! cluster timers and local mode's cap of `wisp.task.cpus` at `--cores`.
//! This module sits above the scheduler and task types it fills in
//! (`crate::settings` stays below everything, so no module cycle runs
//! through the configuration).

use std::sync::Arc;
use std::time::Duration;

use crate::dag::SchedulerConfig;
use crate::memory::MemoryManager;
use crate::settings::{Conf, ConfigError, keys};
use crate::store::{Codec, StoreSettings, output_codec};
use crate::task::TaskLimits;

/// The least `wisp.network.timeout` and `wisp.network.livenessTimeout` used (shorter ones would drop healthy peers).
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
    /// How the driver reaches object stores (`wisp.s3.*`: listing and the output commit).
    pub(crate) store: StoreSettings,
    /// Compression of `save-as-text-file`'s part files (`wisp.output.compress`).
    pub(crate) output_codec: Codec,
    /// Largest broadcast variable (`wisp.broadcast.maxBytes`).
    pub(crate) max_broadcast_bytes: u64,
}

impl AppSettings {
    /// Reads an application's keys.
    pub(crate) fn from_conf(conf: &Conf) -> Result<AppSettings, ConfigError> {
        conf.validate()?;
        Ok(AppSettings {
            scheduler: SchedulerConfig::from_conf(conf)?,
            default_parallelism: conf.given(&keys::DEFAULT_PARALLELISM)?,
            max_split_bytes: conf.read(&keys::MAX_PARTITION_BYTES)?,
            store: StoreSettings::from_conf(conf)?,
            output_codec: output_codec(conf)?,
            max_broadcast_bytes: conf.read(&keys::BROADCAST_MAX_BYTES)?,
        })
    }
}

/// An executor's memory budget (`wisp.executor.memory`, `wisp.memory.storageFraction`) for its task slots.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MemorySettings {
    /// The budget in bytes.
    pub(crate) budget: u64,
    /// Fraction of the pool cached blocks keep against execution.
    pub(crate) storage_fraction: f64,
    /// Task slots (cores) sharing it.
    pub(crate) slots: u32,
    /// Fixed bytes per slot besides the buffers every slot has (fetch buffers in cluster mode).
    pub(crate) reserved_per_slot: u64,
}

impl MemorySettings {
    fn from_conf(
        conf: &Conf,
        slots: u32,
        reserved_per_slot: u64,
    ) -> Result<MemorySettings, ConfigError> {
        let budget =
            conf.given(&keys::EXECUTOR_MEMORY)?.unwrap_or_else(crate::memory::default_budget);
        let settings = MemorySettings {
            budget,
            storage_fraction: conf.read(&keys::MEMORY_STORAGE_FRACTION)?,
            slots,
            reserved_per_slot,
        };
        settings.manager()?;
        Ok(settings)
    }

    /// The executor's memory manager; a budget too small for the slots is the key's error.
    pub(crate) fn manager(&self) -> Result<Arc<MemoryManager>, ConfigError> {
        MemoryManager::new(self.budget, self.slots, self.reserved_per_slot, self.storage_fraction)
            .map(Arc::new)
            .map_err(|e| ConfigError::BadValue {
                key: keys::EXECUTOR_MEMORY.name.to_string(),
                value: keys::format_bytes(self.budget),
                reason: e.to_string(),
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
    /// The executor's memory budget for its `cores` task slots.
    pub(crate) memory: MemorySettings,
    /// Draw console progress (`wisp.ui.showConsoleProgress`).
    pub(crate) show_progress: bool,
    /// Nice levels the task threads run below this process's threads (`wisp.executor.taskNiceness`).
    pub(crate) task_niceness: u32,
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
            memory: MemorySettings::from_conf(conf, cores, 0)?,
            show_progress: conf.read(&keys::UI_SHOW_CONSOLE_PROGRESS)?,
            task_niceness: conf.read(&keys::EXECUTOR_TASK_NICENESS)?,
        })
    }
}

/// The timers of a cluster process's connections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NetTimers {
    /// An executor sending no heartbeat this long is lost; a listening endpoint's idle timeout;
    /// the handshake deadline derives from it (`wisp.network.timeout`, at least 500ms).
    pub(crate) network_timeout: Duration,
    /// Idle timeout of the connections this process opens, kept up by keep-alives
    /// (`wisp.network.livenessTimeout`, at least 500ms).
    pub(crate) liveness_timeout: Duration,
}

impl NetTimers {
    fn from_conf(conf: &Conf) -> Result<NetTimers, ConfigError> {
        let read = |key| -> Result<Duration, ConfigError> {
            Ok(conf.read::<Duration>(key)?.max(MIN_NETWORK_TIMEOUT))
        };
        Ok(NetTimers {
            network_timeout: read(&keys::NETWORK_TIMEOUT)?,
            liveness_timeout: read(&keys::NETWORK_LIVENESS_TIMEOUT)?,
        })
    }
}

/// Settings of `wisp master`: its connections and the guests (job mains) it runs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MasterSettings {
    /// Its connections' timers.
    pub(crate) net: NetTimers,
    /// This process's guest limits (job mains run here).
    pub(crate) task_limits: TaskLimits,
}

impl MasterSettings {
    /// Reads `wisp master`'s configuration; its application keys (every job's
    /// defaults) are checked too, so that a bad one fails the master at start.
    pub(crate) fn from_conf(conf: &Conf) -> Result<MasterSettings, ConfigError> {
        AppSettings::from_conf(conf)?;
        Ok(MasterSettings {
            net: NetTimers::from_conf(conf)?,
            task_limits: TaskLimits::from_conf(conf)?,
        })
    }
}

/// Settings of `wisp executor`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ExecutorProcessSettings {
    /// Its connections' timers.
    pub(crate) net: NetTimers,
    /// How often it heartbeats (`wisp.executor.heartbeatInterval`, at least 50ms).
    pub(crate) heartbeat_interval: Duration,
    /// How long it tries to register again after losing its master (`wisp.executor.reconnectTimeout`).
    pub(crate) reconnect_timeout: Duration,
    /// Remote shuffle bytes a reduce task fetches at once (`wisp.reducer.maxBytesInFlight`).
    pub(crate) max_bytes_in_flight: u64,
    /// Bytes a shuffle writer buffers before spilling (`wisp.shuffle.spill.memory`).
    pub(crate) shuffle_spill_memory: usize,
    /// This process's guest limits: defaults for jobs that set none, and its memory limit a cap.
    pub(crate) task_limits: TaskLimits,
    /// Its memory budget for its `cores` task slots (each with its fetch buffers).
    pub(crate) memory: MemorySettings,
    /// How its tasks reach object stores (`wisp.s3.*`, over its own AWS environment).
    pub(crate) store: StoreSettings,
    /// Nice levels its task threads run below its network threads (`wisp.executor.taskNiceness`).
    pub(crate) task_niceness: u32,
}

impl ExecutorProcessSettings {
    /// Reads `wisp executor`'s configuration for `cores` task slots.
    pub(crate) fn from_conf(
        conf: &Conf,
        cores: u32,
    ) -> Result<ExecutorProcessSettings, ConfigError> {
        conf.validate()?;
        let heartbeat: Duration = conf.read(&keys::EXECUTOR_HEARTBEAT_INTERVAL)?;
        let max_bytes_in_flight = conf.read(&keys::REDUCER_MAX_BYTES_IN_FLIGHT)?;
        Ok(ExecutorProcessSettings {
            net: NetTimers::from_conf(conf)?,
            heartbeat_interval: heartbeat.max(MIN_HEARTBEAT_INTERVAL),
            reconnect_timeout: conf.read(&keys::EXECUTOR_RECONNECT_TIMEOUT)?,
            max_bytes_in_flight,
            shuffle_spill_memory: conf.read(&keys::SHUFFLE_SPILL_MEMORY)?,
            task_limits: TaskLimits::from_conf(conf)?,
            memory: MemorySettings::from_conf(conf, cores, max_bytes_in_flight)?,
            store: StoreSettings::from_conf(conf)?,
            task_niceness: conf.read(&keys::EXECUTOR_TASK_NICENESS)?,
        })
    }
}

/// Settings of `wisp submit` (read from its own `--conf`, which also travels with the job).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SubmitSettings {
    /// Its connection's timers.
    pub(crate) net: NetTimers,
}

impl SubmitSettings {
    /// Reads the keys `wisp submit` uses itself from the job's `--conf` pairs; every
    /// other pair is the master's to check (it refuses a job with an unknown key).
    pub(crate) fn from_pairs(pairs: &[(String, String)]) -> Result<SubmitSettings, ConfigError> {
        let own = pairs.iter().filter(|(k, _)| k.trim() == keys::NETWORK_LIVENESS_TIMEOUT.name);
        Ok(SubmitSettings { net: NetTimers::from_conf(&Conf::from_pairs(own)?)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::keys::{DefaultValue, KEYS};
    use crate::task::DEFAULT_TASK_MEMORY;

    const SECS_3: Duration = Duration::from_secs(3);

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
        let timers =
            NetTimers { network_timeout: Duration::from_secs(30), liveness_timeout: SECS_3 };
        assert_eq!(master.net, timers);
        assert_eq!(SubmitSettings::from_pairs(&[]).unwrap().net, timers);
        let executor = ExecutorProcessSettings::from_conf(&empty, 2).unwrap();
        assert_eq!(
            (executor.net, executor.heartbeat_interval, executor.reconnect_timeout),
            (timers, Duration::from_secs(10), Duration::from_secs(300))
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
                        if matches!(k.kind, keys::Kind::Bytes { .. }) =>
                    {
                        "4g"
                    }
                    DefaultValue::Unset(_) | DefaultValue::Derived(_)
                        if k.kind == keys::Kind::Duration =>
                    {
                        "2s"
                    }
                    DefaultValue::Unset(_) | DefaultValue::Derived(_)
                        if k.kind == keys::Kind::Bool =>
                    {
                        "true"
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
        ExecutorProcessSettings::from_conf(&conf, 2).unwrap();
        let pairs =
            args.iter().map(|a| a.split_once('=').unwrap()).map(|(k, v)| (k.into(), v.into()));
        let submit = SubmitSettings::from_pairs(&pairs.collect::<Vec<_>>()).unwrap();
        assert_eq!(submit.net.liveness_timeout, Duration::from_secs(3));
    }

    #[test]
    fn local_mode_caps_cores_per_task_and_cluster_timers_have_floors() {
        let conf = Conf::from_args([
            "wisp.task.cpus=8",
            "wisp.network.timeout=10ms",
            "wisp.network.livenessTimeout=0",
            "wisp.executor.heartbeatInterval=1ms",
        ])
        .unwrap();
        assert_eq!(
            LocalSettings::from_conf(&conf, 2).unwrap().app.scheduler.task_scheduler.cpus_per_task,
            2
        );
        let executor = ExecutorProcessSettings::from_conf(&conf, 2).unwrap();
        assert_eq!(
            (executor.net.network_timeout, executor.net.liveness_timeout),
            (MIN_NETWORK_TIMEOUT, MIN_NETWORK_TIMEOUT)
        );
        assert_eq!(executor.heartbeat_interval, MIN_HEARTBEAT_INTERVAL);
        let bad = Conf::from_args(["wisp.speculation.quantile=2"]).unwrap();
        let err = MasterSettings::from_conf(&bad).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid value `2` for wisp.speculation.quantile: expected a number between 0 and 1"
        );
    }
}
