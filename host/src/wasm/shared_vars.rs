//! A task attempt's shared variables: the broadcast values its guests read by handle and the accumulator updates they make.

use std::collections::HashMap;
use std::sync::Arc;

use crate::accumulators::{AccumUpdate, TaskAccumulators};
use crate::ids::AccumulatorId;
use crate::task::{ComponentBytes, SharedVars};

/// Shared by every guest instance of one task attempt.
#[derive(Debug, Default)]
pub(crate) struct TaskShared {
    broadcasts: HashMap<u32, Arc<ComponentBytes>>,
    accumulators: TaskAccumulators,
}

impl TaskShared {
    /// The shared variables of a task with these.
    pub(crate) fn new(vars: &SharedVars) -> TaskShared {
        TaskShared {
            broadcasts: vars.broadcasts.iter().map(|(id, b)| (id.0, b.clone())).collect(),
            accumulators: TaskAccumulators::new(vars.accumulators.clone()),
        }
    }

    /// A broadcast value's bytes (a copy goes into the guest's memory).
    pub(crate) fn broadcast_value(&self, id: u32) -> Result<Vec<u8>, String> {
        self.broadcasts.get(&id).map(|b| b.bytes.clone()).ok_or_else(|| {
            format!("broadcast {id} does not exist or was destroyed before this job started")
        })
    }

    /// Adds one value to an accumulator.
    pub(crate) fn accumulator_add(&self, id: u32, value: Vec<u8>) -> Result<(), String> {
        self.accumulators.add(AccumulatorId(id), value).map_err(|e| e.to_string())
    }

    /// The attempt's updates.
    pub(crate) fn take_updates(&self) -> Vec<AccumUpdate> {
        self.accumulators.take()
    }
}
