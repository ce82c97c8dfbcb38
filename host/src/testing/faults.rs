//! Test-only fault injection: rules an executor process reads from the file named by `WISP_TEST_FAULTS`.
//!
//! Only a `wisp` built with the `testing` feature (as `cargo test` builds it
//! for the integration tests) reads the variable; a shipped `wisp` has no
//! such code, so a user cannot trigger a fault. The integration tests use it
//! to make one executor misbehave in a precise way.
//!
//! One rule a line; `#` starts a comment. A rule is an action, then
//! `key=value` words:
//!
//! ```text
//! fail   [SELECTOR] [at=start|end] message=TEXT TO THE END OF THE LINE
//! sleep  [SELECTOR] ms=N
//! delete-shuffle (after-map-tasks=N | [SELECTOR] [at=start|end])
//! exit   (after-map-tasks=N | [SELECTOR] [at=start|end]) [code=N]
//! drop-launch [SELECTOR]
//! ```
//!
//! A selector matches task attempts by any of `stage=N`, `stage-attempt=N`,
//! `partition=N`, `attempt=N` (the partition's attempt within its stage
//! attempt, 0 first) and `kind=map|result`; a key left out matches anything.
//! `fail` makes every matching attempt fail with the message, as a guest
//! error, before it runs (`at=start`, the default) or after it ran, before
//! it is reported (`at=end`: its work done, its accumulator updates made,
//! then discarded as any failed attempt's). `sleep` delays every matching attempt before it
//! runs (a straggler), in 10 ms steps that check the cancel flag, so a
//! `KillTask` ends it at once. `delete-shuffle` removes every shuffle file of
//! the attempt's application on this executor, and `exit` ends the process
//! (`code`, default 3); each fires once, at the start or the end (default) of
//! the first matching attempt, or when this executor's N-th successful map
//! task ends (before it is reported, so that map output is lost too).
//! `drop-launch` resets the request stream of the first matching launch
//! instead of accepting it: to the master, a launch that failed in transport.

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::task::{TaskDesc, TaskFailure, TaskSink};

/// Why a fault file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FaultsError {
    /// The file could not be read.
    #[error("cannot read the fault file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a rule.
    #[error("fault file line {line}: {message}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Which task attempts a rule applies to (`None`: any).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Selector {
    stage: Option<u32>,
    stage_attempt: Option<u32>,
    partition: Option<u32>,
    attempt: Option<u32>,
    map: Option<bool>,
}

impl Selector {
    fn matches(&self, t: &TaskDesc) -> bool {
        let is_map = matches!(t.sink, TaskSink::ShuffleWrite { .. });
        self.stage.is_none_or(|s| s == t.id.stage.0)
            && self.stage_attempt.is_none_or(|a| a == t.id.stage_attempt)
            && self.partition.is_none_or(|p| p == t.id.partition)
            && self.attempt.is_none_or(|a| a == t.id.attempt)
            && self.map.is_none_or(|m| m == is_map)
    }
}

/// When a one-shot action fires.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Trigger {
    /// At the start of the first matching attempt.
    Start(Selector),
    /// At the end of the first matching attempt, before it is reported.
    End(Selector),
    /// When this executor's N-th successful map task ends, before it is reported.
    AfterMapTasks(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    Fail { select: Selector, message: String, at_end: bool },
    Sleep { select: Selector, ms: u64 },
    DeleteShuffle { trigger: Trigger },
    Exit { trigger: Trigger, code: i32 },
    DropLaunch { select: Selector },
}

/// The environment variable naming an executor process's fault file.
pub const FAULTS_ENV: &str = "WISP_TEST_FAULTS";

/// The rules of one executor process and what they have done so far.
#[derive(Debug)]
pub struct TestFaults {
    rules: Vec<Rule>,
    state: Mutex<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Successful map tasks ended on this executor.
    maps_ended: u32,
    /// One-shot rules that fired, by index.
    fired: Vec<usize>,
}

/// What a one-shot rule does when it fires.
enum Shot {
    DeleteShuffle,
    Exit(i32),
}

impl TestFaults {
    /// The rules of the file named by `WISP_TEST_FAULTS`, if set.
    pub fn from_env() -> Result<Option<Arc<TestFaults>>, FaultsError> {
        let Some(path) = std::env::var_os(FAULTS_ENV).filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let faults = TestFaults::load(Path::new(&path))?;
        tracing::warn!(
            "test fault injection is on ({FAULTS_ENV}): tasks will fail, stall or lose output on purpose"
        );
        Ok(Some(Arc::new(faults)))
    }

    /// Whether the launch of `task` must be dropped (the first matching launch of each `drop-launch` rule).
    pub(crate) fn drop_launch(&self, task: &TaskDesc) -> bool {
        for (i, rule) in self.rules.iter().enumerate() {
            if let Rule::DropLaunch { select } = rule
                && select.matches(task)
            {
                let mut st = lock(&self.state);
                if !st.fired.contains(&i) {
                    st.fired.push(i);
                    tracing::warn!(task = %task.id.task, "test fault: dropping the launch");
                    return true;
                }
            }
        }
        false
    }

    /// Reads and parses a fault file.
    pub fn load(path: &Path) -> Result<TestFaults, FaultsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| FaultsError::Read { path: path.display().to_string(), source })?;
        TestFaults::parse(&text)
    }

    /// Parses the text of a fault file.
    pub fn parse(text: &str) -> Result<TestFaults, FaultsError> {
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split_once('#').map_or(line, |(l, _)| l).trim();
            if !line.is_empty() {
                rules.push(
                    parse_rule(line)
                        .map_err(|message| FaultsError::Parse { line: i + 1, message })?,
                );
            }
        }
        Ok(TestFaults { rules, state: Mutex::default() })
    }

    /// Applies the rules due before `task` runs: `Err` is the attempt's failure (it does not run).
    pub(crate) fn before(
        &self,
        task: &TaskDesc,
        cancel: &AtomicBool,
        shuffle_dir: &Path,
    ) -> Result<(), TaskFailure> {
        for (i, rule) in self.rules.iter().enumerate() {
            match rule {
                Rule::Fail { select, message, at_end: false } if select.matches(task) => {
                    tracing::warn!(task = %task.id.task, %message, "test fault: failing the task");
                    return Err(TaskFailure::Guest { message: message.clone() });
                }
                Rule::Sleep { select, ms } if select.matches(task) => {
                    tracing::warn!(task = %task.id.task, ms, "test fault: delaying the task");
                    let until = Instant::now() + Duration::from_millis(*ms);
                    while Instant::now() < until {
                        if cancel.load(Ordering::Relaxed) {
                            return Err(TaskFailure::Killed);
                        }
                        std::thread::sleep(
                            Duration::from_millis(10)
                                .min(until.saturating_duration_since(Instant::now())),
                        );
                    }
                }
                Rule::DeleteShuffle { trigger: Trigger::Start(s) } if s.matches(task) => {
                    self.fire(i, Shot::DeleteShuffle, shuffle_dir)
                }
                Rule::Exit { trigger: Trigger::Start(s), code } if s.matches(task) => {
                    self.fire(i, Shot::Exit(*code), shuffle_dir)
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Applies the rules due after `task` ran, before it is reported: `Some` is the failure a
    /// successful attempt ends with instead (`fail at=end`).
    pub(crate) fn after(
        &self,
        task: &TaskDesc,
        succeeded: bool,
        shuffle_dir: &Path,
    ) -> Option<TaskFailure> {
        let failure = self.rules.iter().find_map(|rule| match rule {
            Rule::Fail { select, message, at_end: true } if succeeded && select.matches(task) => {
                tracing::warn!(task = %task.id.task, %message, "test fault: failing the task after it ran");
                Some(TaskFailure::Guest { message: message.clone() })
            }
            _ => None,
        });
        let succeeded = succeeded && failure.is_none();
        let maps_ended = {
            let mut st = lock(&self.state);
            if succeeded && matches!(task.sink, TaskSink::ShuffleWrite { .. }) {
                st.maps_ended += 1;
            }
            st.maps_ended
        };
        for (i, rule) in self.rules.iter().enumerate() {
            let (trigger, shot) = match rule {
                Rule::DeleteShuffle { trigger } => (trigger, Shot::DeleteShuffle),
                Rule::Exit { trigger, code } => (trigger, Shot::Exit(*code)),
                _ => continue,
            };
            let due = match trigger {
                Trigger::Start(_) => false,
                Trigger::End(s) => s.matches(task),
                Trigger::AfterMapTasks(n) => maps_ended >= *n,
            };
            if due {
                self.fire(i, shot, shuffle_dir);
            }
        }
        failure
    }

    /// Fires one-shot rule `i` unless it fired already.
    fn fire(&self, i: usize, shot: Shot, shuffle_dir: &Path) {
        {
            let mut st = lock(&self.state);
            if st.fired.contains(&i) {
                return;
            }
            st.fired.push(i);
        }
        match shot {
            Shot::DeleteShuffle => {
                let removed = remove_files(shuffle_dir);
                tracing::warn!(dir = %shuffle_dir.display(), removed, "test fault: deleted this executor's shuffle files");
            }
            Shot::Exit(code) => {
                tracing::warn!(code, "test fault: exiting");
                std::process::exit(code);
            }
        }
    }
}

/// Removes every file below `dir` (keeping the directories); how many it removed.
fn remove_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            removed += remove_files(&p);
        } else if std::fs::remove_file(&p).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_rule(line: &str) -> Result<Rule, String> {
    let (action, mut rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let mut select = Selector::default();
    let (mut message, mut ms, mut at, mut after_maps, mut code) = (None, None, None, None, None);
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(m) = rest.strip_prefix("message=") {
            message = Some(m.trim_end().to_string());
            break;
        }
        let (word, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        rest = tail;
        let (key, value) =
            word.split_once('=').ok_or_else(|| format!("expected key=value, found {word:?}"))?;
        let number =
            || value.parse::<u64>().map_err(|_| format!("{key} must be a number, not {value:?}"));
        let small =
            || number().and_then(|n| u32::try_from(n).map_err(|_| format!("{key} is too large")));
        match key {
            "stage" => select.stage = Some(small()?),
            "stage-attempt" => select.stage_attempt = Some(small()?),
            "partition" => select.partition = Some(small()?),
            "attempt" => select.attempt = Some(small()?),
            "kind" => {
                select.map = Some(match value {
                    "map" => true,
                    "result" => false,
                    _ => return Err(format!("kind must be map or result, not {value:?}")),
                })
            }
            "ms" => ms = Some(number()?),
            "at" => at = Some(value.to_string()),
            "after-map-tasks" => after_maps = Some(small()?),
            "code" => code = Some(small()? as i32),
            _ => return Err(format!("unknown key {key:?}")),
        }
    }
    let trigger = |select: Selector| -> Result<Trigger, String> {
        match (after_maps, at.as_deref()) {
            (Some(_), Some(_)) => Err("after-map-tasks and at exclude each other".into()),
            (Some(n), None) if select == Selector::default() => {
                Ok(Trigger::AfterMapTasks(n.max(1)))
            }
            (Some(_), None) => Err("after-map-tasks takes no task selector".into()),
            (None, Some("start")) => Ok(Trigger::Start(select)),
            (None, None | Some("end")) => Ok(Trigger::End(select)),
            (None, Some(other)) => Err(format!("at must be start or end, not {other:?}")),
        }
    };
    let only_for = |what: &str, ok: bool| {
        if ok { Ok(()) } else { Err(format!("{what} does not apply to {action}")) }
    };
    match action {
        "fail" => {
            only_for(
                "ms, after-map-tasks or code",
                ms.is_none() && after_maps.is_none() && code.is_none(),
            )?;
            let message = message.filter(|m| !m.is_empty()).ok_or("fail needs message=TEXT")?;
            let at_end = match at.as_deref() {
                None | Some("start") => false,
                Some("end") => true,
                Some(other) => return Err(format!("at must be start or end, not {other:?}")),
            };
            Ok(Rule::Fail { select, message, at_end })
        }
        "sleep" => {
            only_for(
                "message, at, after-map-tasks or code",
                message.is_none() && at.is_none() && after_maps.is_none() && code.is_none(),
            )?;
            Ok(Rule::Sleep { select, ms: ms.ok_or("sleep needs ms=N")? })
        }
        "delete-shuffle" => {
            only_for("message, ms or code", message.is_none() && ms.is_none() && code.is_none())?;
            Ok(Rule::DeleteShuffle { trigger: trigger(select)? })
        }
        "exit" => {
            only_for("message or ms", message.is_none() && ms.is_none())?;
            Ok(Rule::Exit { trigger: trigger(select)?, code: code.unwrap_or(3) })
        }
        "drop-launch" => {
            only_for(
                "message, ms, at, after-map-tasks or code",
                message.is_none()
                    && ms.is_none()
                    && at.is_none()
                    && after_maps.is_none()
                    && code.is_none(),
            )?;
            Ok(Rule::DropLaunch { select })
        }
        _ => Err(format!(
            "unknown action {action:?} (fail, sleep, delete-shuffle, exit or drop-launch)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{JobId, ShuffleId, StageId, TaskId};
    use crate::task::{Plan, ResultKind, Source, TaskAttempt};

    fn task(stage: u32, partition: u32, attempt: u32, map: bool) -> TaskDesc {
        let sink = if map {
            TaskSink::ShuffleWrite {
                shuffle: ShuffleId(0),
                partitioner: crate::lineage::Partitioner::Hash { partitions: 2 },
                map_side_combine: false,
            }
        } else {
            TaskSink::Result(ResultKind::Count)
        };
        TaskDesc {
            id: TaskAttempt {
                task: TaskId(7),
                job: JobId(0),
                stage: StageId(stage),
                stage_attempt: 0,
                partition,
                attempt,
            },
            plan: Plan::Read(Source::Slice(Default::default())),
            sink,
            limits: Default::default(),
            shared: Default::default(),
        }
    }

    #[test]
    fn parses_every_action_and_rejects_mistakes() {
        let f = TestFaults::parse(
            "# comment\n\
             fail stage=1 partition=2 attempt=0 message=boom: record 3 # not a comment? it is\n\
             sleep kind=result partition=0 ms=250\n\
             delete-shuffle after-map-tasks=2\n\
             exit stage=3 at=start code=9\n",
        )
        .unwrap();
        assert_eq!(f.rules.len(), 4);
        assert_eq!(
            f.rules[0],
            Rule::Fail {
                select: Selector {
                    stage: Some(1),
                    partition: Some(2),
                    attempt: Some(0),
                    ..Selector::default()
                },
                message: "boom: record 3".into(),
                at_end: false,
            }
        );
        assert_eq!(
            f.rules[1],
            Rule::Sleep {
                select: Selector { partition: Some(0), map: Some(false), ..Selector::default() },
                ms: 250
            }
        );
        assert_eq!(f.rules[2], Rule::DeleteShuffle { trigger: Trigger::AfterMapTasks(2) });
        assert_eq!(
            f.rules[3],
            Rule::Exit {
                trigger: Trigger::Start(Selector { stage: Some(3), ..Selector::default() }),
                code: 9
            }
        );
        for bad in [
            "explode",
            "fail stage=1",
            "sleep",
            "sleep ms=x",
            "fail message=",
            "exit at=middle",
            "delete-shuffle stage=1 after-map-tasks=1",
            "sleep ms=1 color=red",
        ] {
            let err =
                TestFaults::parse(bad).err().unwrap_or_else(|| panic!("{bad:?} should be refused"));
            assert!(err.to_string().starts_with("fault file line 1: "), "{err}");
        }
    }

    #[test]
    fn drop_launch_fires_once_for_its_selector() {
        let f = TestFaults::parse("drop-launch stage=1 partition=0").unwrap();
        assert!(!f.drop_launch(&task(0, 0, 0, true)), "another stage");
        assert!(f.drop_launch(&task(1, 0, 0, true)), "the first matching launch");
        assert!(!f.drop_launch(&task(1, 0, 1, true)), "only once");
        assert!(TestFaults::parse("drop-launch ms=3").is_err());
    }

    #[test]
    fn fail_matches_its_selector_only() {
        let f = TestFaults::parse("fail stage=1 partition=2 attempt=0 message=no").unwrap();
        let (cancel, dir) = (AtomicBool::new(false), Path::new("/nonexistent"));
        assert_eq!(
            f.before(&task(1, 2, 0, true), &cancel, dir),
            Err(TaskFailure::Guest { message: "no".into() })
        );
        assert_eq!(f.before(&task(1, 2, 1, true), &cancel, dir), Ok(()));
        assert_eq!(f.before(&task(1, 3, 0, true), &cancel, dir), Ok(()));
        assert_eq!(f.before(&task(2, 2, 0, true), &cancel, dir), Ok(()));
    }

    #[test]
    fn a_sleeping_task_ends_as_killed_when_cancelled() {
        let f = TestFaults::parse("sleep ms=60000").unwrap();
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            flag.store(true, Ordering::Relaxed);
        });
        let start = Instant::now();
        assert_eq!(
            f.before(&task(0, 0, 0, false), &cancel, Path::new("/nonexistent")),
            Err(TaskFailure::Killed)
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the sleep must end soon after the cancel"
        );
        killer.join().unwrap();
    }

    #[test]
    fn delete_shuffle_fires_once_after_the_nth_successful_map_task() {
        let dir = tempfile::tempdir().unwrap();
        let f = TestFaults::parse("delete-shuffle after-map-tasks=2").unwrap();
        let file = dir.path().join("shuffle_0_0.data");
        std::fs::write(&file, b"x").unwrap();
        f.after(&task(0, 0, 0, true), true, dir.path());
        f.after(&task(1, 0, 0, false), true, dir.path());
        f.after(&task(0, 1, 0, true), false, dir.path());
        assert!(file.exists(), "a result task and a failed map task do not count");
        f.after(&task(0, 1, 1, true), true, dir.path());
        assert!(!file.exists(), "deleted when the second map task ended");
        std::fs::write(&file, b"x").unwrap();
        f.after(&task(0, 2, 0, true), true, dir.path());
        assert!(file.exists(), "the rule fires once");
    }

    #[test]
    fn fail_at_end_fails_an_attempt_after_it_ran_and_at_must_be_start_or_end() {
        let f = TestFaults::parse("fail partition=1 at=end message=late\n").unwrap();
        assert_eq!(
            f.rules,
            vec![Rule::Fail {
                select: Selector { partition: Some(1), ..Selector::default() },
                message: "late".into(),
                at_end: true,
            }]
        );
        let e = TestFaults::parse("fail at=middle message=x\n").err().unwrap();
        assert_eq!(e.to_string(), "fault file line 1: at must be start or end, not \"middle\"");
    }
}
