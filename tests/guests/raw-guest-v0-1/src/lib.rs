//! The raw word-count job built against `wisp:task@0.1.0` (`wit/0.1.0/task.wit`): the
//! fixture proving the host runs 0.1.0 components unchanged. Identical to `raw-guest`
//! except for the WIT it is built from.
//!
//! Args `INPUT OUTPUT_DIR`; output lines `word<TAB>count`. The lineage is
//! `text-file` → `transform` (flat-map `split-words`, emitting `(word, 1)`
//! pairs) → `combine-by-key` (aggregator `sum`) → `transform` (map `format`)
//! → `save-as-text-file`. The record encodings (strings, s64, pairs) are
//! written by hand below.

use std::cell::RefCell;
use std::collections::HashMap;

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "job",
});

use exports::wisp::task::pipeline::{Guest as PipelineGuest, GuestTask, Task as TaskHandle};
use wisp::task::driver;
use wisp::task::types::{Batch, Op, OpKind};

/// The s64 record encoding: big-endian with the sign bit flipped.
fn encode_s64(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

fn decode_s64(bytes: &[u8]) -> Result<i64, String> {
    let bytes: [u8; 8] =
        bytes.try_into().map_err(|_| format!("record of {} bytes is not an s64", bytes.len()))?;
    Ok((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
}

/// Appends the pair record `u32le len(key) ++ key ++ value`.
fn write_pair(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// Splits a pair record into key and value bytes.
fn split_pair(record: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (len, rest) = record.split_first_chunk::<4>().ok_or("record is too short for a pair")?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > rest.len() {
        return Err(format!("pair key length {len} exceeds the record"));
    }
    Ok(rest.split_at(len))
}

fn op(kind: OpKind, name: &str) -> Op {
    Op { kind, name: name.to_owned(), args: Vec::new() }
}

struct Job;

impl Guest for Job {
    fn run(args: Vec<String>) -> Result<(), String> {
        // `malformed out-of-range|decreasing`: a map whose output batch lies about its offsets.
        if let [mode, kind] = args.as_slice()
            && mode == "malformed"
        {
            let records = Batch { data: b"abc".to_vec(), ends: vec![1, 2, 3] };
            let rdd = driver::parallelize(&records, 1)?;
            let bad = driver::transform(rdd, &op(OpKind::Map, &format!("malformed-{kind}")), 0)?;
            let got = driver::collect(bad)?;
            return Err(format!("the host accepted a malformed batch: {} records", got.ends.len()));
        }
        let [input, output]: [String; 2] = args.try_into().map_err(|a: Vec<String>| {
            format!("expected INPUT OUTPUT_DIR, got {} arguments", a.len())
        })?;
        let partitions = driver::default_parallelism().max(1);
        let lines = driver::text_file(&input, 8)?;
        let pairs = driver::transform(lines, &op(OpKind::FlatMap, "split-words"), 0)?;
        let counts =
            driver::combine_by_key(pairs, &op(OpKind::Combine, "sum"), 0, partitions, true)?;
        let formatted = driver::transform(counts, &op(OpKind::Map, "format"), 0)?;
        driver::save_as_text_file(formatted, &output)
    }
}

/// One op of a chain.
enum Step {
    /// `split-words`: a line in, `(word, 1)` pairs out.
    SplitWords,
    /// `format`: a `(word, count)` pair in, `word<TAB>count` out.
    Format,
    /// `sum` as `combine` or `merge`: both add s64 values per key.
    Sum(HashMap<Vec<u8>, i64>),
    /// `malformed-out-of-range` / `malformed-decreasing`: returns a batch whose
    /// offsets point past its data / go backwards (for the host's checks).
    Malformed { decreasing: bool },
}

struct Task {
    steps: RefCell<Vec<Step>>,
}

/// Runs `record` through `steps`, appending final records to `out`.
fn feed(steps: &mut [Step], record: &[u8], out: &mut Batch) -> Result<(), String> {
    let Some((step, rest)) = steps.split_first_mut() else {
        out.data.extend_from_slice(record);
        out.ends.push(out.data.len() as u32);
        return Ok(());
    };
    match step {
        Step::SplitWords => {
            let line =
                std::str::from_utf8(record).map_err(|e| format!("line is not UTF-8: {e}"))?;
            let one = encode_s64(1);
            let mut pair = Vec::new();
            for word in line.split_ascii_whitespace() {
                pair.clear();
                write_pair(&mut pair, word.as_bytes(), &one);
                feed(rest, &pair, out)?;
            }
            Ok(())
        }
        Step::Format => {
            let (word, count) = split_pair(record)?;
            let word = std::str::from_utf8(word).map_err(|e| format!("key is not UTF-8: {e}"))?;
            let line = format!("{word}\t{}", decode_s64(count)?);
            feed(rest, line.as_bytes(), out)
        }
        Step::Malformed { .. } => Err("malformed ops only run first in a chain".to_owned()),
        Step::Sum(table) => {
            let (key, value) = split_pair(record)?;
            let value = decode_s64(value)?;
            match table.get_mut(key) {
                Some(total) => *total += value,
                None => {
                    table.insert(key.to_vec(), value);
                }
            }
            Ok(())
        }
    }
}

impl GuestTask for Task {
    fn create(ops: Vec<Op>, _partition: u32) -> Result<TaskHandle, String> {
        let steps = ops
            .iter()
            .map(|op| match (op.kind, op.name.as_str()) {
                (OpKind::FlatMap, "split-words") => Ok(Step::SplitWords),
                (OpKind::Map, "format") => Ok(Step::Format),
                (OpKind::Combine | OpKind::Merge, "sum") => Ok(Step::Sum(HashMap::new())),
                (OpKind::Map, "malformed-out-of-range") => Ok(Step::Malformed { decreasing: false }),
                (OpKind::Map, "malformed-decreasing") => Ok(Step::Malformed { decreasing: true }),
                (_, name) => Err(format!("op name {name:?} does not name a function exported by this component (or not with this kind)")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TaskHandle::new(Task { steps: RefCell::new(steps) }))
    }

    fn push(&self, input: Batch) -> Result<Batch, String> {
        let mut out = Batch { data: Vec::new(), ends: Vec::new() };
        let mut steps = self.steps.borrow_mut();
        if let Some(Step::Malformed { decreasing }) = steps.first() {
            let ends = if *decreasing { vec![2, 1, 3] } else { vec![1, 4096] };
            return Ok(Batch { data: input.data, ends });
        }
        let mut start = 0usize;
        for &end in &input.ends {
            let end = end as usize;
            if end < start || end > input.data.len() {
                return Err(format!(
                    "malformed batch: end offset {end} out of order or past {} bytes",
                    input.data.len()
                ));
            }
            feed(&mut steps, &input.data[start..end], &mut out)?;
            start = end;
        }
        if start != input.data.len() {
            return Err(format!(
                "malformed batch: {} data bytes but records end at {start}",
                input.data.len()
            ));
        }
        Ok(out)
    }

    fn finish(&self) -> Result<Batch, String> {
        let mut out = Batch { data: Vec::new(), ends: Vec::new() };
        let mut steps = self.steps.borrow_mut();
        for i in 0..steps.len() {
            let (head, rest) = steps[i..].split_first_mut().expect("i < len");
            if let Step::Sum(table) = head {
                let mut pair = Vec::new();
                // The contract: combine/merge output in ascending order of the key bytes.
                let mut sorted: Vec<(Vec<u8>, i64)> = std::mem::take(table).into_iter().collect();
                sorted.sort_unstable();
                for (key, total) in sorted {
                    pair.clear();
                    write_pair(&mut pair, &key, &encode_s64(total));
                    feed(rest, &pair, &mut out)?;
                }
            }
        }
        Ok(out)
    }
}

impl PipelineGuest for Job {
    type Task = Task;
}

export!(Job);
