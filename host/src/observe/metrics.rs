//! The process's Prometheus metrics (prometheus-client): counters fed by the event-log lines of its applications, plus the wasm runtime's gauges read at scrape time.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use crate::event_log::LogLine;
use crate::event_log::lines::Outcome;
use crate::wasm::RuntimeStats;

type Labels = [(&'static str, &'static str); 1];

/// The metrics of one process (every application it runs adds to them).
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    tasks_started: Counter,
    tasks_finished: Family<Labels, Counter>,
    tasks_running: Gauge,
    stages_completed: Family<Labels, Counter>,
    jobs_finished: Family<Labels, Counter>,
    jobs_running: Gauge,
    applications_running: Gauge,
    executors: Gauge,
    shuffle_written: Counter,
    shuffle_fetched: Counter,
    fetch_wait: Counter<f64, AtomicU64>,
    instantiation: Counter<f64, AtomicU64>,
}

/// Reads the wasm runtime's counters at each scrape.
#[derive(Debug)]
struct RuntimeCollector(Arc<RuntimeStats>);

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = self.0.snapshot();
        let counters = [
            ("wisp_guest_instantiations", "guest instances created (a fresh store each)", s.instantiations),
            ("wisp_compile_cache_hits", "component loads served by the in-memory or on-disk compile cache", s.cache_hits),
            ("wisp_component_compiles", "components compiled (cache misses)", s.compiles),
        ];
        for (name, help, value) in counters {
            let c = ConstCounter::new(value);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let gauges = [
            ("wisp_wasm_memory_bytes", "guest linear memory in use now, bytes", s.memory_bytes as i64),
            ("wisp_guest_instances", "guest instances alive now", s.live_instances as i64),
        ];
        for (name, help, value) in gauges {
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

fn result_label(outcome: Outcome) -> Labels {
    [("result", match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
    })]
}

impl Metrics {
    /// The metrics of a process; `runtime` adds the wasm runtime's (where guests run here).
    pub(crate) fn new(runtime: Option<Arc<RuntimeStats>>) -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("wisp");
        let m = Metrics {
            registry: Registry::default(),
            tasks_started: Counter::default(),
            tasks_finished: Family::default(),
            tasks_running: Gauge::default(),
            stages_completed: Family::default(),
            jobs_finished: Family::default(),
            jobs_running: Gauge::default(),
            applications_running: Gauge::default(),
            executors: Gauge::default(),
            shuffle_written: Counter::default(),
            shuffle_fetched: Counter::default(),
            fetch_wait: Counter::default(),
            instantiation: Counter::default(),
        };
        registry.register("tasks_started", "task attempts launched", m.tasks_started.clone());
        registry.register("tasks_finished", "task attempts ended, by result", m.tasks_finished.clone());
        registry.register("tasks_running", "task attempts running now", m.tasks_running.clone());
        registry.register("stages_completed", "stage attempts ended, by result", m.stages_completed.clone());
        registry.register("jobs_finished", "jobs ended, by result", m.jobs_finished.clone());
        registry.register("jobs_running", "jobs running now", m.jobs_running.clone());
        registry.register("applications_running", "applications running now", m.applications_running.clone());
        registry.register("executors", "executors registered with running applications (summed over them)", m.executors.clone());
        registry.register("shuffle_written_bytes", "shuffle data file bytes written by ended tasks", m.shuffle_written.clone());
        registry.register("shuffle_fetched_bytes", "shuffle block bytes read by ended tasks", m.shuffle_fetched.clone());
        registry.register("shuffle_fetch_wait_seconds", "time ended tasks waited for remote shuffle blocks", m.fetch_wait.clone());
        registry.register("guest_instantiation_seconds", "time ended tasks spent instantiating guests", m.instantiation.clone());
        if let Some(stats) = runtime {
            registry.register_collector(Box::new(RuntimeCollector(stats)));
        }
        Arc::new(Metrics { registry, ..m })
    }

    /// Counts one event-log line.
    pub(crate) fn observe(&self, line: &LogLine) {
        match line {
            LogLine::AppStart { .. } => {
                self.applications_running.inc();
            }
            LogLine::AppEnd { .. } => {
                self.applications_running.dec();
            }
            LogLine::ExecutorAdded { .. } => {
                self.executors.inc();
            }
            LogLine::ExecutorRemoved { .. } => {
                self.executors.dec();
            }
            LogLine::JobStart { .. } => {
                self.jobs_running.inc();
            }
            LogLine::JobEnd { result, .. } => {
                self.jobs_running.dec();
                self.jobs_finished.get_or_create(&result_label(*result)).inc();
            }
            LogLine::StageSubmitted { .. } => {}
            LogLine::StageCompleted { result, .. } => {
                self.stages_completed.get_or_create(&result_label(*result)).inc();
            }
            LogLine::TaskStart { .. } => {
                self.tasks_started.inc();
                self.tasks_running.inc();
            }
            LogLine::TaskEnd { result, metrics, .. } => {
                self.tasks_running.dec();
                self.tasks_finished.get_or_create(&result_label(*result)).inc();
                self.shuffle_written.inc_by(metrics.shuffle_write_bytes);
                self.shuffle_fetched.inc_by(metrics.shuffle_read_bytes);
                self.fetch_wait.inc_by(metrics.fetch_wait_ms / 1000.0);
                self.instantiation.inc_by(metrics.instantiation_ms / 1000.0);
            }
        }
    }

    /// An application ended without its end line (its executors leave with it).
    pub(crate) fn executors_left(&self, count: i64) {
        self.executors.dec_by(count);
    }

    /// The metrics in the Prometheus text exposition format (OpenMetrics flavour).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
