//! Grouping several pair inputs by key: cogroup `(k, (list<v1>, ..., list<vn>))`, or the four joins of two inputs — spilling to disk past its memory.

use super::group::pairs;
use super::key_table::{ByGroup, GroupedValues, KeyTable};
use super::spilled::{RankedOutput, for_each_item, rank_bytes, split_rank};
use super::{HostOpError, check_output, validate};
use crate::lineage::{CogroupOutput, JoinKind};
use crate::memory::Reservation;
use crate::records::{Batch, put_option, put_prefixed};
use crate::spill::{ExternalSorter, SpillSpace};

/// Least memory the in-memory table asks for at a time.
const TABLE_STEP: u64 = 1 << 20;

/// Groups the pairs of several inputs by key and emits, at the end, one record per key
/// (cogroup) or one per match (join), keys in first-seen order over all inputs.
///
/// * `Cogroup`: `(k, (list<v1>, ..., list<vn>))`, every list but the last
///   length-prefixed (the tuple encoding); with a single input, `(k, list<v1>)`.
/// * `Join(kind)` of two inputs, as Spark: for each key, the cartesian product
///   of its left values `v` and right values `w` in arrival order, `v` outer:
///   inner `(k, (v, w))`; left outer `(k, (v, option<w>))`; right outer
///   `(k, (option<v>, w))`; full outer `(k, (option<v>, option<w>))`, with
///   `none` on the side that has no values for the key.
///
/// Past its memory it spills items `(key, rank + input + value)` and groups
/// them back at the end (`spilled.rs`); the values of one key must fit in memory.
pub(crate) struct Cogroup {
    output: CogroupOutput,
    space: SpillSpace,
    reservation: Reservation,
    keys: KeyTable,
    inputs: Vec<GroupedValues>,
    spilling: Option<(ExternalSorter, u64)>,
    result: Result_,
}

/// What the cogroup hands out at the end.
enum Result_ {
    Pending,
    Table { keys: KeyTable, inputs: Vec<GroupedValues>, groups: Vec<ByGroup>, next: usize },
    Ranked(RankedOutput),
    Done,
}

impl Cogroup {
    /// A cogroup of `inputs` inputs spilling into `space`. A join needs exactly two and a
    /// cogroup at least one; another count is reported by `push_input` and `finish`.
    pub(crate) fn new(inputs: usize, output: CogroupOutput, space: &SpillSpace) -> Self {
        Cogroup {
            output,
            space: space.clone(),
            reservation: space.reservation(),
            keys: KeyTable::default(),
            inputs: (0..inputs).map(|_| GroupedValues::default()).collect(),
            spilling: None,
            result: Result_::Pending,
        }
    }

    /// Fails if the number of inputs does not suit the output.
    fn check_inputs(&self) -> Result<(), HostOpError> {
        let inputs = self.inputs.len();
        match self.output {
            CogroupOutput::Cogroup if inputs == 0 => {
                Err(HostOpError::InputCount { what: "cogroup", inputs })
            }
            CogroupOutput::Join(_) if inputs != 2 => {
                Err(HostOpError::InputCount { what: "join", inputs })
            }
            _ => Ok(()),
        }
    }

    fn op(&self) -> &'static str {
        match self.output {
            CogroupOutput::Cogroup => "cogroup",
            CogroupOutput::Join(_) => "join",
        }
    }

    /// Consumes a batch of pairs of input `input`.
    pub(crate) fn push_input(&mut self, input: usize, batch: &Batch) -> Result<(), HostOpError> {
        self.check_inputs()?;
        let inputs = self.inputs.len();
        if input >= inputs {
            return Err(HostOpError::NoSuchInput { input, inputs });
        }
        validate("cogroup", batch)?;
        if self.spilling.is_none() {
            let (n, bytes) = (batch.len(), batch.byte_len());
            let planned = self.keys.planned_bytes(n, bytes)
                + self.inputs.iter().map(|v| v.planned_bytes(n, bytes)).sum::<u64>();
            let empty = self.inputs.iter().all(|v| v.len() == 0);
            if self.reservation.ensure(planned, TABLE_STEP) || empty {
                self.keys.reserve(n, bytes);
                let values = &mut self.inputs[input];
                values.reserve(n, bytes);
                for pair in pairs("cogroup", batch) {
                    let (key, value) = pair?;
                    let (id, _) = self.keys.intern(key);
                    values.push(id, value);
                }
                return Ok(());
            }
            self.start_spilling()?;
        }
        let (sorter, next_rank) = self.spilling.as_mut().expect("spilling");
        let tag = [input as u8];
        for pair in pairs("cogroup", batch) {
            let (key, value) = pair?;
            let rank = rank_bytes(*next_rank);
            *next_rank += 1;
            sorter.push_parts(key, &[&rank, &tag, value])?;
        }
        Ok(())
    }

    /// Writes the table as one sorted run (payload: rank, input, value) and spills from now on.
    fn start_spilling(&mut self) -> Result<(), HostOpError> {
        let keys = std::mem::take(&mut self.keys);
        let inputs: Vec<GroupedValues> = self.inputs.iter_mut().map(std::mem::take).collect();
        let groups: Vec<ByGroup> = inputs.iter().map(|v| v.by_group(keys.len())).collect();
        let mut sorter = ExternalSorter::new(&self.space, false);
        sorter.add_sorted_run(|w| {
            for id in keys.ids_by_key() {
                let rank = rank_bytes(u64::from(id));
                for (i, (values, by_group)) in inputs.iter().zip(&groups).enumerate() {
                    for &v in by_group.of(id as usize) {
                        w.item(keys.key(id), &[&rank, &[i as u8], values.value(v)])?;
                    }
                }
            }
            Ok(())
        })?;
        let next_rank = keys.len() as u64;
        drop((keys, inputs, groups));
        self.reservation.shrink_to(0);
        self.spilling = Some((sorter, next_rank));
        Ok(())
    }

    /// Ends every input (first call) and appends output records to `out`
    /// until it holds `max_bytes`; true once everything was handed out.
    pub(crate) fn finish(
        &mut self,
        out: &mut Batch,
        max_bytes: usize,
    ) -> Result<bool, HostOpError> {
        self.check_inputs()?;
        let op = self.op();
        if let Result_::Pending = self.result {
            self.result = match self.spilling.take() {
                None => {
                    let keys = std::mem::take(&mut self.keys);
                    let inputs: Vec<GroupedValues> =
                        self.inputs.iter_mut().map(std::mem::take).collect();
                    let groups = inputs.iter().map(|v| v.by_group(keys.len())).collect();
                    Result_::Table { keys, inputs, groups, next: 0 }
                }
                Some((sorter, _)) => Result_::Ranked(self.regroup(sorter)?),
            };
        }
        let output = self.output;
        let done = match &mut self.result {
            Result_::Pending | Result_::Done => true,
            Result_::Table { keys, inputs, groups, next } => {
                let (inputs, groups) = (&*inputs, &*groups);
                let (mut left, mut right): (Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new());
                while *next < keys.len() && out.byte_len() < max_bytes {
                    let g = *next;
                    let key = keys.key(g as u32);
                    let values =
                        |i: usize| groups[i].of(g).iter().map(move |&v| inputs[i].value(v));
                    if let CogroupOutput::Join(kind) = output {
                        left.clear();
                        left.extend(values(0));
                        right.clear();
                        right.extend(values(1));
                        join_key(kind, key, &left, &right, out);
                    } else {
                        let lists: Vec<Vec<&[u8]>> =
                            (0..inputs.len()).map(|i| values(i).collect()).collect();
                        emit_key(output, key, &lists, out);
                    }
                    check_output(op, out)?;
                    *next += 1;
                }
                *next == keys.len()
            }
            Result_::Ranked(ranked) => {
                let done = ranked.drain(out, max_bytes)?;
                check_output(op, out)?;
                done
            }
        };
        if done {
            self.result = Result_::Done;
            self.reservation.shrink_to(0);
        }
        Ok(done)
    }

    /// The output records of the merged items, in first-seen order of their keys.
    fn regroup(&self, sorter: ExternalSorter) -> Result<RankedOutput, HostOpError> {
        let mut sorted = sorter.finish()?;
        let mut ranked = RankedOutput::new(&self.space);
        let n = self.inputs.len();
        let output = self.output;
        // The current key's values per input, and its rank.
        let mut key: Vec<u8> = Vec::new();
        let mut lists: Vec<Vec<Vec<u8>>> = vec![Vec::new(); n];
        let mut rank = 0u64;
        let mut records = Batch::default();
        let mut flush = |key: &[u8], lists: &mut Vec<Vec<Vec<u8>>>, rank: u64| {
            let views: Vec<Vec<&[u8]>> =
                lists.iter().map(|l| l.iter().map(Vec::as_slice).collect()).collect();
            records.clear();
            emit_key(output, key, &views, &mut records);
            for l in lists.iter_mut() {
                l.clear();
            }
            ranked.push_batch(rank, &records)
        };
        let mut any = false;
        for_each_item(&mut sorted, |first, k, payload| {
            let (r, rest) = split_rank(payload);
            if first {
                if any {
                    flush(&key, &mut lists, rank)?;
                }
                any = true;
                key.clear();
                key.extend_from_slice(k);
                rank = r;
            }
            let (input, value) = rest.split_first().expect("spilled items carry their input");
            lists[*input as usize].push(value.to_vec());
            Ok(())
        })?;
        if any {
            flush(&key, &mut lists, rank)?;
        }
        Ok(ranked)
    }
}

/// Appends the output of one key given its values per input.
fn emit_key(output: CogroupOutput, key: &[u8], lists: &[Vec<&[u8]>], out: &mut Batch) {
    match output {
        CogroupOutput::Cogroup => {
            let last = lists.len() - 1;
            out.push_with(|data| {
                put_prefixed(data, key);
                for (i, values) in lists.iter().enumerate() {
                    if i < last {
                        let len: usize = values.iter().map(|v| 4 + v.len()).sum();
                        data.extend_from_slice(&(len as u32).to_le_bytes());
                    }
                    for v in values {
                        put_prefixed(data, v);
                    }
                }
            });
        }
        CogroupOutput::Join(kind) => join_key(kind, key, &lists[0], &lists[1], out),
    }
}

/// Appends the join output of one key.
fn join_key(kind: JoinKind, key: &[u8], left: &[&[u8]], right: &[&[u8]], out: &mut Batch) {
    // The left element is length-prefixed (not the tuple's last); the right one is not.
    let emit = |out: &mut Batch,
                v: Option<&[u8]>,
                w: Option<&[u8]>,
                left_optional: bool,
                right_optional: bool| {
        out.push_with(|data| {
            put_prefixed(data, key);
            if left_optional {
                let len = v.map_or(1, |v| 1 + v.len());
                data.extend_from_slice(&(len as u32).to_le_bytes());
                put_option(data, v);
            } else {
                put_prefixed(data, v.unwrap_or_default());
            }
            if right_optional {
                put_option(data, w);
            } else {
                data.extend_from_slice(w.unwrap_or_default());
            }
        });
    };
    let (left_opt, right_opt) = match kind {
        JoinKind::Inner => (false, false),
        JoinKind::LeftOuter => (false, true),
        JoinKind::RightOuter => (true, false),
        JoinKind::FullOuter => (true, true),
    };
    if right.is_empty() && right_opt {
        for &v in left {
            emit(out, Some(v), None, left_opt, right_opt);
        }
    } else if left.is_empty() && left_opt {
        for &w in right {
            emit(out, None, Some(w), left_opt, right_opt);
        }
    } else {
        for &v in left {
            for &w in right {
                emit(out, Some(v), Some(w), left_opt, right_opt);
            }
        }
    }
}
