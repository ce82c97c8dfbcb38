//! Newtype identifiers for the scheduler's nouns; never pass bare integers across modules.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// One action's run: one job, one DAG.
    JobId, "job-");
id_type!(
    /// A stage: the narrow ops between shuffle boundaries.
    StageId, "stage-");
id_type!(
    /// A task: one partition of one stage attempt (unique per application).
    TaskId, "task-");
id_type!(
    /// An executor: a process (or, in local mode, the driver's thread pool).
    ExecutorId, "executor-");
id_type!(
    /// A node of the lineage graph.
    RddId, "rdd-");
id_type!(
    /// The output of one shuffle-map stage, keyed by the shuffle dependency.
    ShuffleId, "shuffle-");
id_type!(
    /// A component loaded by a job (0 is the job's own component).
    ComponentId, "component-");
id_type!(
    /// An application: one job component's run (`wisp run`, or one `wisp submit` on a master).
    /// Task, RDD and shuffle ids are per application.
    AppId, "app-");
id_type!(
    /// A broadcast variable of an application.
    BroadcastId, "broadcast-");
id_type!(
    /// An accumulator of an application.
    AccumulatorId, "accumulator-");
