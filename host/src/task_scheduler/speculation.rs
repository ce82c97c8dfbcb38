//! Speculation: finding running tasks much slower than their set's median and queueing one copy of each.
//!
//! Checked at most once per `wisp.speculation.interval` of the `now` given to
//! the scheduler. A task set is eligible once `quantile` of its tasks
//! succeeded; a running task is then speculated when it has run longer than
//! `multiplier` × the median successful runtime (and `minTaskRuntime`), has
//! exactly one running attempt, and had no copy yet. Copies launch after the
//! set's regular tasks, never on an executor (nor, when other hosts exist, a
//! host) running the task; the first attempt to succeed wins and the others
//! are killed (`TaskOutcome::Succeeded`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::TaskScheduler;
use crate::ids::TaskId;

/// Running median of durations: a max-heap of the lower half and a min-heap of the upper half (Spark's `MedianHeap`).
#[derive(Debug, Default)]
pub(crate) struct MedianHeap {
    lower: BinaryHeap<Duration>,
    upper: BinaryHeap<Reverse<Duration>>,
}

impl MedianHeap {
    pub(crate) fn push(&mut self, d: Duration) {
        if self.lower.peek().is_none_or(|top| d <= *top) {
            self.lower.push(d);
        } else {
            self.upper.push(Reverse(d));
        }
        if self.lower.len() > self.upper.len() + 1 {
            let top = self.lower.pop().expect("non-empty");
            self.upper.push(Reverse(top));
        } else if self.upper.len() > self.lower.len() {
            let Reverse(top) = self.upper.pop().expect("non-empty");
            self.lower.push(top);
        }
    }

    /// The median (the mean of the two middle values for an even count).
    pub(crate) fn median(&self) -> Option<Duration> {
        let low = *self.lower.peek()?;
        if self.lower.len() == self.upper.len() {
            let Reverse(high) = *self.upper.peek().expect("same length");
            Some((low + high) / 2)
        } else {
            Some(low)
        }
    }
}

impl TaskScheduler {
    /// Queues speculative copies of slow running tasks, if speculation is on
    /// and the interval has passed since the last check; returns whether any was queued.
    pub fn check_speculation(&mut self, now: Duration) -> bool {
        let config = self.speculation;
        if !config.enabled || now < self.next_speculation_check {
            return false;
        }
        self.next_speculation_check = now + config.interval;
        let thresholds: Vec<_> = self
            .sets
            .iter()
            .filter_map(|(key, set)| Some((*key, set.speculation_threshold(&config)?)))
            .collect();
        if thresholds.is_empty() {
            return false;
        }
        let mut slow: Vec<(TaskId, usize, super::SetKey)> = self
            .running
            .iter()
            .filter(|(_, run)| {
                thresholds
                    .iter()
                    .any(|(key, limit)| *key == run.key && now.saturating_sub(run.start) > *limit)
            })
            .map(|(task, run)| (*task, run.index, run.key))
            .collect();
        slow.sort_by_key(|s| s.0);
        let mut queued = false;
        for (task, index, key) in slow {
            let set = self.sets.get_mut(&key).expect("thresholds of live sets");
            if set.speculate(index) {
                tracing::info!(%task, stage = %key.stage, partition = set.partition(index), "speculating slow task");
                queued = true;
            }
        }
        queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let mut m = MedianHeap::default();
        assert_eq!(m.median(), None);
        for ms in [50, 10, 40, 20, 30] {
            m.push(Duration::from_millis(ms));
        }
        assert_eq!(m.median(), Some(Duration::from_millis(30)));
        m.push(Duration::from_millis(1000));
        assert_eq!(m.median(), Some(Duration::from_millis(35)));
    }
}
