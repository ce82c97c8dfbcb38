//! The job's entry point to the engine (Spark's `SparkContext`), the `main!`
//! glue, and small helpers for a job's arguments.

use serde::Serialize;

use crate::bindings::types::Batch;
use crate::bindings::wisp::task::driver;
use crate::error::{Error, Result};
use crate::rdd::Rdd;
use crate::shared::{Accumulator, Broadcast};
use crate::{Data, codec};

/// The job's handle on the engine, given to the job's `run` function.
#[derive(Debug)]
pub struct Context {
    _private: (),
}

impl Context {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// The lines of a file, or of every file in a directory (names starting
    /// with `.` or `_` skipped), split into at least `min_partitions`
    /// partitions. Invalid UTF-8 becomes U+FFFD; `\r\n` ends a line like `\n`.
    /// A missing path is reported by the first action on the result.
    pub fn text_file(&self, path: &str, min_partitions: u32) -> Rdd<String> {
        Rdd::from_driver(driver::text_file(path, min_partitions.max(1)))
    }

    /// An RDD of the given records, split into `num_slices` contiguous partitions.
    pub fn parallelize<T: Data>(
        &self,
        records: impl IntoIterator<Item = T>,
        num_slices: u32,
    ) -> Rdd<T> {
        match encode_batch(records) {
            Ok(batch) => Rdd::from_driver(driver::parallelize(&batch, num_slices.max(1))),
            Err(e) => Rdd::failed(e),
        }
    }

    /// The default number of partitions of shuffles (`wisp.default.parallelism`,
    /// else the executors' cores).
    #[must_use]
    pub fn default_parallelism(&self) -> u32 {
        driver::default_parallelism()
    }

    /// The value of a configuration key (`--conf key=value`), if set.
    #[must_use]
    pub fn conf(&self, key: &str) -> Option<String> {
        driver::conf(key)
    }

    /// Ships `value` to each executor once (Spark's `broadcast`); read it in a
    /// function with [`Broadcast::value`], passing the handle as the function's argument.
    ///
    /// # Errors
    ///
    /// When the encoded value exceeds `wisp.broadcast.maxBytes`.
    pub fn broadcast<T: Data>(&self, value: &T) -> Result<Broadcast<T>> {
        Broadcast::register(value)
    }

    /// The directory [`Rdd::checkpoint`] writes into (each application writes below it).
    ///
    /// # Errors
    ///
    /// When the directory cannot be created.
    pub fn set_checkpoint_dir(&self, path: &str) -> Result<()> {
        driver::set_checkpoint_dir(path).map_err(Error::msg)
    }

    /// The lines of a file or directory as raw bytes (no U+FFFD replacement, for
    /// Latin-1 and other non-UTF-8 data); `\r\n` ends a line like `\n`.
    pub fn binary_lines(&self, path: &str, min_partitions: u32) -> Rdd<serde_bytes::ByteBuf> {
        Rdd::from_driver(driver::binary_lines(path, min_partitions.max(1)))
    }

    /// One `(path, content)` pair per file of a directory (Spark's `wholeTextFiles`).
    pub fn whole_text_files(&self, path: &str, min_partitions: u32) -> Rdd<(String, String)> {
        Rdd::from_driver(driver::whole_text_files(path, min_partitions.max(1)))
    }

    /// A sum of `i64` (wrapping), 0 until tasks add.
    ///
    /// # Errors
    ///
    /// Never in practice (the driver refuses nothing here).
    pub fn long_accumulator(&self) -> Result<Accumulator<i64, i64>> {
        Accumulator::create(driver::AccumulatorKind::LongSum)
    }

    /// A sum of `f64`, 0.0 until tasks add.
    ///
    /// # Errors
    ///
    /// As [`long_accumulator`](Context::long_accumulator).
    pub fn double_accumulator(&self) -> Result<Accumulator<f64, f64>> {
        Accumulator::create(driver::AccumulatorKind::DoubleSum)
    }

    /// The smallest `i64` added (`None` before any).
    ///
    /// # Errors
    ///
    /// As [`long_accumulator`](Context::long_accumulator).
    pub fn long_min_accumulator(&self) -> Result<Accumulator<i64, Option<i64>>> {
        Accumulator::create(driver::AccumulatorKind::LongMin)
    }

    /// The largest `i64` added (`None` before any).
    ///
    /// # Errors
    ///
    /// As [`long_accumulator`](Context::long_accumulator).
    pub fn long_max_accumulator(&self) -> Result<Accumulator<i64, Option<i64>>> {
        Accumulator::create(driver::AccumulatorKind::LongMax)
    }

    /// The smallest `f64` added (`None` before any).
    ///
    /// # Errors
    ///
    /// As [`long_accumulator`](Context::long_accumulator).
    pub fn double_min_accumulator(&self) -> Result<Accumulator<f64, Option<f64>>> {
        Accumulator::create(driver::AccumulatorKind::DoubleMin)
    }

    /// The largest `f64` added (`None` before any).
    ///
    /// # Errors
    ///
    /// As [`long_accumulator`](Context::long_accumulator).
    pub fn double_max_accumulator(&self) -> Result<Accumulator<f64, Option<f64>>> {
        Accumulator::create(driver::AccumulatorKind::DoubleMax)
    }

    /// Every value added, in the order the partitions' updates were merged.
    ///
    /// # Errors
    ///
    /// As [`long_accumulator`](Context::long_accumulator).
    pub fn collection_accumulator<T: Data>(&self) -> Result<Accumulator<T, Vec<T>>> {
        Accumulator::create(driver::AccumulatorKind::Collection)
    }

    /// The partitions of all the given RDDs, in order (Spark's `union`).
    pub fn union<T: Data>(&self, rdds: &[&Rdd<T>]) -> Rdd<T> {
        match rdds.iter().map(|r| r.raw_id()).collect::<Result<Vec<u32>>>() {
            Ok(ids) => Rdd::from_driver(driver::union(&ids)),
            Err(e) => Rdd::failed(e),
        }
    }
}

/// Encodes records into one batch.
pub(crate) fn encode_batch<T: Serialize>(records: impl IntoIterator<Item = T>) -> Result<Batch> {
    let mut batch = Batch { data: Vec::new(), ends: Vec::new() };
    for record in records {
        codec::encode(&record, &mut batch.data)?;
        let end = u32::try_from(batch.data.len())
            .map_err(|_| Error::msg("records are larger than 4 GiB"))?;
        batch.ends.push(end);
    }
    Ok(batch)
}

/// Decodes every record of a batch as a `T`.
pub(crate) fn decode_batch<T: Data>(batch: &Batch) -> Result<Vec<T>> {
    crate::pipeline::check_batch(&batch.data, &batch.ends).map_err(Error::msg)?;
    let mut start = 0;
    batch
        .ends
        .iter()
        .map(|&end| {
            let record = &batch.data[start..end as usize];
            start = end as usize;
            crate::pipeline::decode_as::<T>(record).map_err(Error::msg)
        })
        .collect()
}

/// The job's arguments as an array of exactly `N`, or a usage error.
///
/// ```
/// let args = vec!["in.txt".to_owned(), "out".to_owned()];
/// let [input, output] = wisp_guest::args_array(args)?;
/// assert_eq!((input.as_str(), output.as_str()), ("in.txt", "out"));
/// assert!(wisp_guest::args_array::<2>(vec![]).is_err());
/// # Ok::<(), wisp_guest::Error>(())
/// ```
///
/// # Errors
///
/// When there are not exactly `N` arguments.
pub fn args_array<const N: usize>(args: Vec<String>) -> Result<[String; N]> {
    let got = args.len();
    args.try_into().map_err(|_| Error::msg(format!("expected {N} arguments, got {got}")))
}

/// Parses an argument, naming it in the error.
///
/// # Errors
///
/// When `value` does not parse as a `T`.
pub fn parse_arg<T>(name: &str, value: &str) -> Result<T>
where
    T: std::str::FromStr<Err: std::fmt::Display>,
{
    value.parse().map_err(|e| Error::msg(format!("bad {name} {value:?}: {e}")))
}

/// Runs the job's `run` function; the body of the exported `run`.
#[doc(hidden)]
pub fn run_main(
    args: Vec<String>,
    run: impl FnOnce(&Context, Vec<String>) -> Result<()>,
) -> std::result::Result<(), String> {
    run(&Context::new(), args).map_err(|e| e.to_string())
}
