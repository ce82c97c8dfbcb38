//! Grouping several pair inputs by key: cogroup `(k, (list<v1>, ..., list<vn>))`, or the four joins of two inputs.

use super::group::pairs;
use super::key_table::{ByGroup, GroupedValues, KeyTable};
use super::{HostOpError, check_output, validate};
use crate::lineage::{CogroupOutput, JoinKind};
use crate::records::{Batch, put_option, put_prefixed};

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
pub(crate) struct Cogroup {
    output: CogroupOutput,
    keys: KeyTable,
    inputs: Vec<GroupedValues>,
}

impl Cogroup {
    /// A cogroup of `inputs` inputs. A join needs exactly two and a cogroup at
    /// least one; another count is reported by `push_input` and `finish`.
    pub(crate) fn new(inputs: usize, output: CogroupOutput) -> Self {
        Cogroup {
            output,
            keys: KeyTable::default(),
            inputs: (0..inputs).map(|_| GroupedValues::default()).collect(),
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

    /// Consumes a batch of pairs of input `input`.
    pub(crate) fn push_input(&mut self, input: usize, batch: &Batch) -> Result<(), HostOpError> {
        self.check_inputs()?;
        let inputs = self.inputs.len();
        let values =
            self.inputs.get_mut(input).ok_or(HostOpError::NoSuchInput { input, inputs })?;
        validate("cogroup", batch)?;
        for pair in pairs("cogroup", batch) {
            let (key, value) = pair?;
            let (id, _) = self.keys.intern(key);
            values.push(id, value);
        }
        Ok(())
    }

    /// Ends every input and appends the output records to `out`.
    pub(crate) fn finish(&mut self, out: &mut Batch) -> Result<(), HostOpError> {
        self.check_inputs()?;
        let keys = std::mem::take(&mut self.keys);
        let inputs = std::mem::take(&mut self.inputs);
        let groups: Vec<ByGroup> = inputs.iter().map(|v| v.by_group(keys.len())).collect();
        let op = match self.output {
            CogroupOutput::Cogroup => "cogroup",
            CogroupOutput::Join(_) => "join",
        };
        let (mut left, mut right): (Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new());
        for g in 0..keys.len() {
            let key = keys.key(g as u32);
            match self.output {
                CogroupOutput::Cogroup => {
                    let last = inputs.len() - 1;
                    out.push_with(|data| {
                        put_prefixed(data, key);
                        for (i, (values, by_group)) in inputs.iter().zip(&groups).enumerate() {
                            let ids = by_group.of(g);
                            if i < last {
                                let len: usize =
                                    ids.iter().map(|&v| 4 + values.value(v).len()).sum();
                                data.extend_from_slice(&(len as u32).to_le_bytes());
                            }
                            for &v in ids {
                                put_prefixed(data, values.value(v));
                            }
                        }
                    });
                }
                CogroupOutput::Join(kind) => {
                    left.clear();
                    left.extend(groups[0].of(g).iter().map(|&v| inputs[0].value(v)));
                    right.clear();
                    right.extend(groups[1].of(g).iter().map(|&v| inputs[1].value(v)));
                    join_key(kind, key, &left, &right, out);
                }
            }
            check_output(op, out)?;
        }
        Ok(())
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
