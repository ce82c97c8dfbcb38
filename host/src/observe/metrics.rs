//! The process's Prometheus metrics (prometheus-client): counters fed by the event-log lines of its applications (or, on an executor, by its task threads), plus the wasm runtime's and the memory pool's gauges read at scrape time.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use crate::event_log::LogLine;
use crate::event_log::lines::{Metrics as TaskLineMetrics, Outcome};
use crate::memory::MemoryManager;
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
            (
                "guest_instantiations",
                "guest instances created (a fresh store each)",
                s.instantiations,
            ),
            (
                "compile_cache_hits",
                "component loads served by the in-memory or on-disk compile cache",
                s.cache_hits,
            ),
            ("component_compiles", "components compiled (cache misses)", s.compiles),
        ];
        for (name, help, value) in counters {
            let c = ConstCounter::new(value);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let gauges = [
            ("wasm_memory_bytes", "guest linear memory in use now, bytes", s.memory_bytes as i64),
            ("guest_instances", "guest instances alive now", s.live_instances as i64),
        ];
        for (name, help, value) in gauges {
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

/// Reads the executor's memory pool at each scrape.
struct MemoryCollector(Arc<MemoryManager>);

impl std::fmt::Debug for MemoryCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryCollector")
    }
}

impl Collector for MemoryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = self.0.usage();
        let gauges = [
            (
                "memory_pool_bytes",
                "the executor memory pool execution and storage share (wisp.executor.memory less fixed buffers)",
                m.pool,
            ),
            ("memory_operators_bytes", "pool memory held by host operators now", m.operators),
            ("memory_guests_bytes", "pool memory counted for guests' linear memory now", m.guests),
            ("memory_storage_bytes", "pool memory held by cached blocks now", m.storage),
        ];
        for (name, help, value) in gauges {
            let g = ConstGauge::new(value as i64);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

fn result_label(outcome: Outcome) -> Labels {
    [(
        "result",
        match outcome {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
        },
    )]
}

impl Metrics {
    /// The metrics of a process; `runtime` adds the wasm runtime's and `memory` the executor
    /// memory pool's (where tasks run here).
    pub(crate) fn new(
        runtime: Option<Arc<RuntimeStats>>,
        memory: Option<Arc<MemoryManager>>,
    ) -> Arc<Metrics> {
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
        registry.register(
            "tasks_finished",
            "task attempts ended, by result",
            m.tasks_finished.clone(),
        );
        registry.register("tasks_running", "task attempts running now", m.tasks_running.clone());
        registry.register(
            "stages_completed",
            "stage attempts ended, by result",
            m.stages_completed.clone(),
        );
        registry.register("jobs_finished", "jobs ended, by result", m.jobs_finished.clone());
        registry.register("jobs_running", "jobs running now", m.jobs_running.clone());
        registry.register(
            "applications_running",
            "applications running now",
            m.applications_running.clone(),
        );
        registry.register(
            "executors",
            "executors registered with running applications (summed over them)",
            m.executors.clone(),
        );
        registry.register(
            "shuffle_written_bytes",
            "shuffle data file bytes written by ended tasks",
            m.shuffle_written.clone(),
        );
        registry.register(
            "shuffle_fetched_bytes",
            "shuffle block bytes read by ended tasks",
            m.shuffle_fetched.clone(),
        );
        registry.register(
            "shuffle_fetch_wait_seconds",
            "time ended tasks waited for remote shuffle blocks",
            m.fetch_wait.clone(),
        );
        registry.register(
            "guest_instantiation_seconds",
            "time ended tasks spent instantiating guests",
            m.instantiation.clone(),
        );
        if let Some(stats) = runtime {
            registry.register_collector(Box::new(RuntimeCollector(stats)));
        }
        if let Some(memory) = memory {
            registry.register_collector(Box::new(MemoryCollector(memory)));
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
            LogLine::TaskStart { .. } => self.task_started(),
            LogLine::TaskEnd { result, metrics, .. } => self.task_ended(*result, metrics),
        }
    }

    /// A task attempt started (driver side: its `task_start` line; executor side: its thread took it).
    pub(crate) fn task_started(&self) {
        self.tasks_started.inc();
        self.tasks_running.inc();
    }

    /// A task attempt ended with `metrics`.
    pub(crate) fn task_ended(&self, result: Outcome, metrics: &TaskLineMetrics) {
        self.tasks_running.dec();
        self.tasks_finished.get_or_create(&result_label(result)).inc();
        self.shuffle_written.inc_by(metrics.shuffle_write_bytes);
        self.shuffle_fetched.inc_by(metrics.shuffle_read_bytes);
        self.fetch_wait.inc_by(metrics.fetch_wait_ms / 1000.0);
        self.instantiation.inc_by(metrics.instantiation_ms / 1000.0);
    }

    /// An application ended without its end line (its executors leave with it).
    pub(crate) fn executors_left(&self, count: i64) {
        self.executors.dec_by(count);
    }

    /// The metrics in the OpenMetrics text format (what prometheus-client writes).
    pub(crate) fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The metrics in Prometheus's classic text format (0.0.4), which `promtool` and scrapers
    /// that do not ask for OpenMetrics read.
    pub(crate) fn render_prometheus(&self) -> String {
        to_prometheus_text(&self.render_openmetrics())
    }
}

/// OpenMetrics text → Prometheus text 0.0.4: a counter family is named with its `_total`
/// suffix (as its samples are), and there is no `# EOF` line.
fn to_prometheus_text(open: &str) -> String {
    let counters: Vec<&str> =
        open.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(open.len() + counters.len() * 16);
    for line in open.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(&name).then(|| format!("{p}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counters_keep_their_total_suffix_in_the_prometheus_text_format() {
        let open = "# HELP wisp_tasks_started task attempts launched.\n# TYPE wisp_tasks_started counter\nwisp_tasks_started_total 3\n# HELP wisp_tasks_running running.\n# TYPE wisp_tasks_running gauge\nwisp_tasks_running 1\n# EOF\n";
        assert_eq!(
            super::to_prometheus_text(open),
            "# HELP wisp_tasks_started_total task attempts launched.\n# TYPE wisp_tasks_started_total counter\nwisp_tasks_started_total 3\n# HELP wisp_tasks_running running.\n# TYPE wisp_tasks_running gauge\nwisp_tasks_running 1\n"
        );
    }
}
