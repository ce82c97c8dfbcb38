//! A shuffle map task's map-side guest combiner, restarted in generations so that its guest's memory stays bounded.
//!
//! A map-side combiner (`combine`, the last op of a map task's guest chain,
//! fed record by record by the ops before it) holds one combiner per distinct
//! key of its split until the input ends, so with many distinct keys its
//! guest grows with the split. Its output is partial anyway: the reduce side
//! merges the combiners of a key from every map task. So when the instance's
//! linear memory has grown by more than a generation
//! (`reduce_combine::generation_bytes`: a quarter of the guest's memory limit
//! or of a task slot's share of the executor's memory) since it started, the
//! host finishes it — its combiners go to the shuffle writer — and feeds the
//! rest of the split to a fresh instance, whose memory starts small again.
//! A key then appears once per generation in the map output instead of once,
//! as with Spark's map-side combine when it spills; the reduce side's result
//! is the same. Only chains whose earlier ops are record-wise qualify
//! (restarting them between records changes nothing); others run in one
//! instance as before.

use std::sync::Arc;
use std::time::Instant;

use super::plan_run::{elapsed_us, guest_error, push_nonempty, run_plan};
use super::reduce_combine::{Starter, generation_bytes};
use super::{BatchSink, TaskState};
use crate::lineage::{Op, OpKind};
use crate::records::Batch;
use crate::task::{ComponentBytes, Plan, TaskFailure};
use crate::wasm::{GuestInstance, GuestOutput};

/// The parts of a map task's plan that may run in generations: its input, component and ops.
pub(super) fn generational(
    plan: &Plan,
    map_side_combine: bool,
) -> Option<(&Plan, &Arc<ComponentBytes>, &[Op])> {
    if !map_side_combine {
        return None;
    }
    let Plan::Guest { input, component, ops } = plan else { return None };
    if component.is_builtins() {
        return None; // run in the host, no guest to bound
    }
    let (last, before) = ops.split_last()?;
    let fits = last.kind == OpKind::Combine && before.iter().all(|op| op.kind.is_record_wise());
    fits.then_some((input.as_ref(), component, ops.as_slice()))
}

/// Runs the chain over the input, restarting its instance whenever it grew by a generation.
pub(super) fn run(
    st: &mut TaskState<'_>,
    input: &Plan,
    component: &Arc<ComponentBytes>,
    ops: &[Op],
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    let starter = Starter::new(st, component)?;
    let limit = generation_bytes(&starter.sandbox);
    let mut sink = Restarting {
        starter: &starter,
        ops,
        guest: None,
        start_bytes: 0,
        limit,
        out,
        generations: 0,
        guest_us: 0,
        instantiation_us: 0,
        logs: Vec::new(),
    };
    let result = run_plan(st, input, &mut sink).and_then(|()| sink.end());
    if sink.generations > 1 {
        tracing::debug!(
            generations = sink.generations,
            generation = limit,
            "map-side combiner ran in generations"
        );
    }
    st.metrics.times.guest_us += sink.guest_us;
    st.metrics.times.instantiation_us += sink.instantiation_us;
    for log in &sink.logs {
        st.keep_output(log);
    }
    result
}

/// Feeds the chain's instance of the current generation; starts the next one when it grew too much.
struct Restarting<'s, 'a> {
    starter: &'s Starter<'a>,
    ops: &'s [Op],
    guest: Option<GuestInstance>,
    /// The instance's memory when it started.
    start_bytes: u64,
    /// Growth past which the generation ends.
    limit: u64,
    out: &'s mut dyn BatchSink,
    /// Generations started.
    generations: u32,
    guest_us: u64,
    instantiation_us: u64,
    logs: Vec<GuestOutput>,
}

impl Restarting<'_, '_> {
    fn guest(&mut self) -> Result<&mut GuestInstance, TaskFailure> {
        if self.guest.is_none() {
            let t = Instant::now();
            let guest = self.starter.start(self.ops)?;
            self.instantiation_us += elapsed_us(t);
            self.start_bytes = guest.memory_bytes();
            self.generations += 1;
            self.guest = Some(guest);
        }
        Ok(self.guest.as_mut().expect("started above"))
    }

    /// Finishes the current instance: its combiners go on.
    fn end_generation(&mut self) -> Result<(), TaskFailure> {
        let Some(mut guest) = self.guest.take() else { return Ok(()) };
        let t = Instant::now();
        let rest = guest.finish().map_err(guest_error);
        self.guest_us += elapsed_us(t);
        self.logs.push(guest.output());
        push_nonempty(self.out, &rest?)
    }

    /// The input ended (an empty input still runs one instance, as one instance would).
    fn end(&mut self) -> Result<(), TaskFailure> {
        if self.generations == 0 {
            self.guest()?;
        }
        self.end_generation()
    }
}

impl BatchSink for Restarting<'_, '_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        let guest = self.guest()?;
        let t = Instant::now();
        let produced = guest.push(batch).map_err(guest_error);
        let grown = guest.memory_bytes().saturating_sub(self.start_bytes);
        self.guest_us += elapsed_us(t);
        push_nonempty(self.out, &produced?)?;
        if grown > self.limit {
            self.end_generation()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(kinds: &[OpKind]) -> Plan {
        let component = Arc::new(ComponentBytes { hash: "00".into(), bytes: Vec::new() });
        let ops = kinds.iter().map(|&kind| Op { kind, name: "f".into(), args: Vec::new() });
        Plan::Guest {
            input: Box::new(Plan::Read(crate::task::Source::Slice(Arc::default()))),
            component,
            ops: ops.collect(),
        }
    }

    #[test]
    fn only_a_shuffles_map_side_combiner_after_record_wise_ops_runs_in_generations() {
        use OpKind::*;
        let ok = guest(&[Map, Filter, FlatMap, KeyBy, MapValues, FlatMapValues, Combine]);
        assert!(generational(&ok, true).is_some());
        assert!(generational(&guest(&[Combine]), true).is_some());
        // A combine aggregating in place (already partitioned) is final, whatever its plan looks like.
        assert!(generational(&ok, false).is_none());
        // A whole-partition op before it may depend on seeing every record in one instance.
        assert!(generational(&guest(&[MapPartitions, Combine]), true).is_none());
        assert!(generational(&guest(&[Combine, Map]), true).is_none());
        let read = Plan::Read(crate::task::Source::Slice(Arc::default()));
        assert!(generational(&read, true).is_none());
        // Built-ins run in the host: there is no guest to restart.
        let Plan::Guest { input, ops, .. } = ok else { unreachable!() };
        let builtins = Arc::new(ComponentBytes::builtins());
        assert!(generational(&Plan::Guest { input, component: builtins, ops }, true).is_none());
    }
}
