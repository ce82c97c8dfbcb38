//! Shared variables on the driver: broadcast variables (registered, shipped by hash with tasks, destroyed) and accumulators (created, read).

use std::sync::Arc;

use super::{Context, ContextError};
use crate::accumulators::AccumulatorKind;
use crate::ids::{AccumulatorId, BroadcastId};
use crate::task::{ComponentBytes, SharedVars};
use crate::wasm::content_hash;

impl Context {
    /// Registers a broadcast value; its bytes go to each executor once, with the first task there after this.
    pub(crate) fn broadcast(&mut self, value: Vec<u8>) -> Result<BroadcastId, ContextError> {
        let bytes = value.len() as u64;
        if bytes > self.io.max_broadcast_bytes {
            return Err(ContextError::BroadcastTooLarge {
                bytes,
                max: self.io.max_broadcast_bytes,
            });
        }
        let blob = Arc::new(ComponentBytes { hash: content_hash(&value), bytes: value });
        self.broadcasts.push(Some(blob));
        let id = BroadcastId(self.broadcasts.len() as u32 - 1);
        tracing::debug!(%id, bytes, "broadcast registered");
        Ok(id)
    }

    /// Forgets a broadcast: jobs submitted from now on cannot read it.
    pub(crate) fn destroy_broadcast(&mut self, id: BroadcastId) -> Result<(), ContextError> {
        match self.broadcasts.get_mut(id.0 as usize) {
            Some(slot @ Some(_)) => {
                if let Some(value) = slot.take() {
                    self.backend.drop_shipped(value.hash.clone());
                }
                Ok(())
            }
            _ => Err(ContextError::NoBroadcast { id: id.0 }),
        }
    }

    /// A live broadcast's bytes (the job's main reads its own broadcasts too).
    pub(crate) fn broadcast_value(&self, id: BroadcastId) -> Result<Vec<u8>, ContextError> {
        match self.broadcasts.get(id.0 as usize) {
            Some(Some(b)) => Ok(b.bytes.clone()),
            _ => Err(ContextError::NoBroadcast { id: id.0 }),
        }
    }

    /// A new accumulator.
    pub(crate) fn accumulator(&mut self, kind: AccumulatorKind) -> AccumulatorId {
        self.backend.accumulators().create(kind)
    }

    /// An accumulator's value, in its record encoding.
    pub(crate) fn accumulator_value(&self, id: AccumulatorId) -> Result<Vec<u8>, ContextError> {
        self.backend.accumulators().encoded(id).ok_or(ContextError::UnknownAccumulator { id: id.0 })
    }

    /// What every task of a job submitted now may use.
    pub(crate) fn shared_vars(&self) -> SharedVars {
        let broadcasts = self
            .broadcasts
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.as_ref().map(|b| (BroadcastId(i as u32), b.clone())))
            .collect();
        SharedVars {
            broadcasts: Arc::new(broadcasts),
            accumulators: Arc::new(self.backend.accumulators().kinds()),
        }
    }
}
