//! Stage splitting, stage reuse across jobs, the cache cut, op fusion and preferred locations.

use std::collections::BTreeSet;

use super::harness::*;
use crate::dag::{EventRecord, StageKind};
use crate::ids::{ExecutorId, StageId};
use crate::lineage::{
    CogroupDep, CogroupOutput, JoinKind, Lineage, MapSideCombine, RddKind, ReduceSide,
};
use crate::task::{Plan, ReduceStep, ResultKind, ResultValue, Source, TaskSink};
use crate::task_scheduler::TaskLocation;

#[test]
fn two_shuffles_make_three_stages_run_in_order() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, TEXT);
    let words = guest(&mut l, text, 0, &["words"]);
    let d1 = distinct(&mut l, words, 3);
    let upper = guest(&mut l, d1, 0, &["upper"]);
    let d2 = distinct(&mut l, upper, 2);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, d2);
    sim.run();
    let expected: Vec<String> =
        distinct_words(TEXT).into_iter().map(|w| w.to_uppercase()).collect();
    assert_eq!(sim.collected(job), expected);

    let subs = sim.submissions();
    assert_eq!(
        subs,
        vec![
            (StageId(0), 0, StageKind::ShuffleMap, 4),
            (StageId(1), 0, StageKind::ShuffleMap, 3),
            (StageId(2), 0, StageKind::Result, 2),
        ]
    );
    // Every task of a stage launched before any task of its child.
    let order = sim.launched_stages();
    let last = |s: u32| order.iter().rposition(|x| *x == StageId(s)).unwrap();
    let first = |s: u32| order.iter().position(|x| *x == StageId(s)).unwrap();
    assert!(last(0) < first(1) && last(1) < first(2), "{order:?}");
    // The job lists its three stages; stage 1 reads stage 0, stage 2 reads stage 1.
    assert!(
        sim.records.contains(&EventRecord::JobStarted {
            job,
            time: sim
                .records
                .iter()
                .find_map(|r| match r {
                    EventRecord::JobStarted { time, .. } => Some(*time),
                    _ => None,
                })
                .unwrap(),
            stages: vec![StageId(0), StageId(1), StageId(2)],
        })
    );
    let parents: Vec<(StageId, Vec<StageId>, Vec<u32>)> = sim
        .records
        .iter()
        .filter_map(|r| match r {
            EventRecord::StageSubmitted { stage, parents, rdds, .. } => {
                Some((*stage, parents.clone(), rdds.iter().map(|r| r.0).collect()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        parents,
        vec![
            (StageId(0), vec![], vec![text.0, words.0]),
            (StageId(1), vec![StageId(0)], vec![d1.0, upper.0]),
            (StageId(2), vec![StageId(1)], vec![d2.0]),
        ]
    );
}

#[test]
fn join_of_two_shuffled_lineages_is_one_job() {
    let left: &[&[&str]] = &[&["a b c", "d"], &["e f"]];
    let right: &[&[&str]] = &[&["b d"], &["f g", "h a"], &["z"]];
    let mut l = Lineage::default();
    let lt = parallel(&mut l, left);
    let lw = guest(&mut l, lt, 0, &["words"]);
    let rt = parallel(&mut l, right);
    let rw = guest(&mut l, rt, 1, &["words"]);
    let ld = shuffle_dep(&mut l, lw, 2, MapSideCombine::None);
    let rd = shuffle_dep(&mut l, rw, 2, MapSideCombine::None);
    let joined = l.add(
        RddKind::CoGrouped {
            deps: vec![CogroupDep::Shuffle(ld), CogroupDep::Shuffle(rd)],
            output: CogroupOutput::Join(JoinKind::Inner),
        },
        2,
        None,
    );
    let mut sim = Sim::new(2, 1);
    let job = sim.collect(&l, joined);
    sim.run();
    assert_eq!(sim.collected(job), vec!["a", "b", "d", "f"]);
    let kinds: Vec<StageKind> = sim.submissions().iter().map(|s| s.2).collect();
    assert_eq!(kinds, vec![StageKind::ShuffleMap, StageKind::ShuffleMap, StageKind::Result]);
    assert_eq!(sim.finished.len(), 1);
    // The result tasks read both shuffles.
    let (_, t) = sim.launched.iter().find(|(_, t)| t.id.stage == StageId(2)).unwrap();
    let Plan::Cogroup { inputs, .. } = &t.plan else { panic!("{:?}", t.plan) };
    assert_eq!(inputs.len(), 2);
    assert!(inputs.iter().all(
        |p| matches!(p, Plan::Read(Source::Shuffle(r)) if r.maps.len() == 2 || r.maps.len() == 3)
    ));
}

#[test]
fn second_action_on_a_shuffled_rdd_runs_no_map_tasks() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, TEXT);
    let words = guest(&mut l, text, 0, &["words"]);
    let d = distinct(&mut l, words, 3);
    let mut sim = Sim::new(2, 2);
    let first = sim.collect(&l, d);
    sim.run();
    let map_tasks = sim.launches_of(StageId(0)).len();
    assert_eq!(map_tasks, 4);
    // A later action, with a longer lineage snapshot, over the same shuffle.
    let up = guest(&mut l, d, 1, &["upper"]);
    let second = sim.submit(&l, up, vec![0, 1, 2], ResultKind::Count);
    sim.run();
    assert_eq!(sim.launches_of(StageId(0)).len(), map_tasks, "map stage reused, not rerun");
    let counted: u64 =
        sim.ok(second).iter().map(|v| if let ResultValue::Count(n) = v { *n } else { 0 }).sum();
    assert_eq!(counted as usize, sim.collected(first).len());
    // The second job's DAG names the shared map stage, which is skipped.
    let started: Vec<_> = sim
        .records
        .iter()
        .filter_map(|r| {
            if let EventRecord::JobStarted { stages, .. } = r { Some(stages.clone()) } else { None }
        })
        .collect();
    assert_eq!(started, vec![vec![StageId(0), StageId(1)], vec![StageId(0), StageId(2)]]);
    assert_eq!(sim.submissions().last().unwrap().0, StageId(2));
    assert_eq!(sim.submissions().len(), 3);
}

#[test]
fn fully_cached_rdd_cuts_the_lineage() {
    // text -> words -> distinct (shuffle 0) -> upper [persisted] -> distinct (shuffle 1)
    let mut l = Lineage::default();
    let text = parallel(&mut l, TEXT);
    let words = guest(&mut l, text, 0, &["words"]);
    let d = distinct(&mut l, words, 2);
    let up = guest(&mut l, d, 0, &["upper"]);
    persist(&mut l, up);
    let mut sim = Sim::new(2, 1);
    let first = sim.submit(&l, up, vec![0, 1], ResultKind::Count);
    sim.run();
    sim.ok(first);
    assert!(sim.sched.cache().fully_cached(up, 2));
    // The result tasks cached what they computed.
    let cache_plans =
        sim.launched.iter().filter(|(_, t)| matches!(t.plan, Plan::Cache { .. })).count();
    assert_eq!(cache_plans, 2);

    // Lose the map outputs of shuffle 0 without losing the cache: the cached
    // RDD is a starting point, so stage 0 is not rerun.
    let shuffle0 = match &l.node(d).kind {
        RddKind::Shuffled { dep, .. } => dep.shuffle,
        _ => unreachable!(),
    };
    let holders: BTreeSet<ExecutorId> = sim
        .sched
        .map_outputs()
        .statuses(shuffle0)
        .iter()
        .map(|s| s.as_ref().unwrap().executor)
        .collect();
    for e in holders {
        let epoch = sim.sched.outputs.epoch();
        sim.sched.outputs.executor_lost(e, epoch);
    }
    assert_eq!(sim.sched.map_outputs().missing(shuffle0).len(), 4);
    let again = distinct(&mut l, up, 2);
    let before = sim.submissions().len();
    let second = sim.collect(&l, again);
    sim.run();
    let expected: Vec<String> =
        distinct_words(TEXT).into_iter().map(|w| w.to_uppercase()).collect();
    assert_eq!(sim.collected(second), expected);
    let new: Vec<_> = sim.submissions()[before..].to_vec();
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(new.iter().all(|s| s.0 != StageId(0)), "ancestor stage resubmitted: {new:?}");
    // Its map tasks read the cached blocks, nothing else.
    let map_stage = new.iter().find(|s| s.2 == StageKind::ShuffleMap).unwrap().0;
    for (e, t) in sim.launched.iter().filter(|(_, t)| t.id.stage == map_stage) {
        match &t.plan {
            Plan::Reduce { input, step: ReduceStep::Distinct } => match &**input {
                Plan::Read(Source::Cached { block, executor }) => {
                    assert_eq!((block.rdd, block.partition), (up, t.id.partition));
                    assert_eq!(executor, e, "launched where the block is");
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }
    let rdds = sim.records.iter().rev().find_map(|r| match r {
        EventRecord::StageSubmitted { stage, rdds, .. } if *stage == map_stage => {
            Some(rdds.clone())
        }
        _ => None,
    });
    assert_eq!(rdds, Some(vec![up]), "the walk stops at the cached RDD");
}

#[test]
fn guest_ops_of_one_component_are_fused() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, &[&["x"]]);
    let a = guest(&mut l, text, 0, &["words"]);
    let b = guest(&mut l, a, 0, &["upper", "id"]);
    let c = guest(&mut l, b, 1, &["dedup"]);
    let d = guest(&mut l, c, 1, &["id"]);
    let s = shuffled(
        &mut l,
        d,
        2,
        MapSideCombine::Guest(ops(1, &["combine"])),
        ReduceSide::Guest(ops(2, &["merge"])),
    );
    let t = guest(&mut l, s, 2, &["finish"]);
    let mut sim = Sim::new(1, 1);
    let job = sim.submit(&l, t, vec![0, 1], ResultKind::Count);
    let (_, map) = sim.launched[0].clone();
    // Map task: component 0 (words, upper, id) then component 1 (dedup, id, combine).
    let Plan::Guest { input, component, ops: outer } = &map.plan else { panic!("{:?}", map.plan) };
    assert_eq!(component.hash, "c1");
    assert_eq!(
        outer.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["dedup", "id", "combine"]
    );
    let Plan::Guest { input, component, ops: inner } = &**input else { panic!("{input:?}") };
    assert_eq!(component.hash, "c0");
    assert_eq!(inner.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["words", "upper", "id"]);
    assert!(matches!(**input, Plan::Read(Source::Slice(_))));
    assert!(matches!(&map.sink, TaskSink::ShuffleWrite { shuffle, .. } if shuffle.0 == 0));
    sim.run();
    // Result task: the reduce-side merge and the next op of the same component, fused.
    let (_, res) = sim.launched.iter().find(|(_, t)| t.id.stage == StageId(1)).unwrap().clone();
    let Plan::Guest { input, component, ops } = &res.plan else { panic!("{:?}", res.plan) };
    assert_eq!(component.hash, "c2");
    assert_eq!(ops.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["merge", "finish"]);
    assert!(matches!(**input, Plan::Read(Source::Shuffle(_))));
    assert!(matches!(res.sink, TaskSink::Result(ResultKind::Count)));
    sim.ok(job);
}

#[test]
fn fusion_stops_at_a_persisted_rdd() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, &[&["x"]]);
    let a = guest(&mut l, text, 0, &["words"]);
    persist(&mut l, a);
    let b = guest(&mut l, a, 0, &["upper"]);
    let mut sim = Sim::new(1, 1);
    sim.submit(&l, b, vec![0], ResultKind::Count);
    let plan = sim.launched[0].1.plan.clone();
    let Plan::Guest { input, ops, .. } = plan else { panic!() };
    assert_eq!(ops.len(), 1);
    let Plan::Cache { input, block, .. } = *input else { panic!("{input:?}") };
    assert_eq!(block.rdd, a);
    assert!(matches!(*input, Plan::Guest { ref ops, .. } if ops.len() == 1));
}

#[test]
fn union_and_coalesce_map_partitions_to_their_parents() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["x0"], &["x1"]]);
    let y = parallel(&mut l, &[&["y0"], &["y1"], &["y2"]]);
    let u = l.add(RddKind::Union { parents: vec![x, y] }, 5, None);
    let c =
        l.add(RddKind::Coalesce { parent: u, groups: vec![vec![0, 3], vec![1, 2, 4]] }, 2, None);
    let mut sim = Sim::new(1, 2);
    let job = sim.collect(&l, c);
    sim.run();
    let parts: Vec<Vec<String>> = sim
        .ok(job)
        .iter()
        .map(|v| match v {
            ResultValue::Records(b) => {
                b.iter().map(|r| String::from_utf8(r.to_vec()).unwrap()).collect()
            }
            _ => panic!(),
        })
        .collect();
    assert_eq!(parts, vec![vec!["x0", "y1"], vec!["x1", "y0", "y2"]]);
}

#[test]
fn reduce_tasks_prefer_hosts_holding_most_bytes_and_executors_caching_blocks() {
    let mut l = Lineage::default();
    // Partition 0 is big; everything lands on whichever executor runs map 0.
    let big: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    let x = parallel(&mut l, &[&big, &["tiny"]]);
    let d = shuffled(&mut l, x, 2, MapSideCombine::None, ReduceSide::Group);
    persist(&mut l, d);
    let mut sim = Sim::new(2, 1);
    sim.collect(&l, d);
    // Run the two map tasks only.
    let maps: Vec<_> = sim.running.keys().copied().collect();
    for t in maps {
        sim.answer(t, Step::Run);
    }
    let big_holder = sim.launched.iter().find(|(_, t)| t.id.partition == 0).unwrap().0;
    for p in 0..2 {
        let prefs = sim.sched.task_scheduler().preferred_locations(StageId(1), 0, p).unwrap();
        assert_eq!(prefs, vec![TaskLocation::Host(format!("h{}", big_holder.0))], "reduce {p}");
    }
    // Delay scheduling: the other executor does not take a reduce task within
    // the locality wait; both run node-local on the holder, one after the other.
    assert_eq!(sim.launches_of(StageId(1)), vec![(0, 0, big_holder)]);
    sim.run();
    assert_eq!(sim.launches_of(StageId(1)), vec![(0, 0, big_holder), (0, 1, big_holder)]);
    // A second job over the cached RDD prefers the executors caching each block.
    let job = sim.submit(&l, d, vec![0, 1], ResultKind::Count);
    for (e, t) in sim.launched.iter().filter(|(_, t)| t.id.job == job) {
        let Plan::Cache { block, .. } = &t.plan else { panic!("{:?}", t.plan) };
        assert_eq!(sim.cache_holders(*block), vec![*e], "launched where its block is cached");
    }
    sim.run();
    sim.ok(job);
}

#[test]
fn concurrent_jobs_share_a_running_map_stage() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, TEXT);
    let words = guest(&mut l, text, 0, &["words"]);
    let d = distinct(&mut l, words, 2);
    let mut sim = Sim::new(1, 1);
    let a = sim.submit(&l, d, vec![0, 1], ResultKind::Count);
    let b = sim.submit(&l, d, vec![1], ResultKind::Collect);
    sim.run();
    sim.ok(a);
    sim.ok(b);
    assert_eq!(sim.launches_of(StageId(0)).len(), 4, "one map task per partition for both jobs");
    assert_eq!(sim.submissions().iter().filter(|s| s.0 == StageId(0)).count(), 1);
}
