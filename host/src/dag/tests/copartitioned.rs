//! Co-partitioned cogroups: an input already partitioned like the cogroup is read one-to-one (no shuffle).

use std::collections::BTreeSet;

use super::harness::*;
use crate::dag::StageKind;
use crate::ids::{RddId, ShuffleId, StageId};
use crate::lineage::{CogroupDep, CogroupOutput, JoinKind, Lineage, MapSideCombine, RddKind};
use crate::task::{Plan, ResultKind, Source};
use crate::task_scheduler::TaskLocality;

const LEFT: &[&[&str]] = &[&["a b c", "d a"], &["e f g"], &["h b"]];
const RIGHT: &[&[&str]] = &[&["b d"], &["f g x", "h a"], &["z y"], &["b"]];

/// The distinct words of `parts` (component `component`), hash-partitioned into 3.
fn words3(l: &mut Lineage, parts: &[&[&str]], component: u32) -> RddId {
    let text = parallel(l, parts);
    let words = guest(l, text, component, &["words"]);
    distinct(l, words, 3)
}

/// The simulation's join of `deps`: records present in every input.
fn join(l: &mut Lineage, deps: Vec<CogroupDep>) -> RddId {
    l.add(RddKind::CoGrouped { deps, output: CogroupOutput::Join(JoinKind::Inner) }, 3, None)
}

/// The words in both texts, sorted: the independent answer.
fn common_words() -> Vec<String> {
    let right: BTreeSet<String> = distinct_words(RIGHT).into_iter().collect();
    distinct_words(LEFT).into_iter().filter(|w| right.contains(w)).collect()
}

fn kinds(sim: &Sim) -> Vec<StageKind> {
    sim.submissions().iter().map(|s| s.2).collect()
}

#[test]
fn join_of_two_co_partitioned_inputs_runs_no_shuffle_of_its_own() {
    use StageKind::{Result, ShuffleMap};
    let mut l = Lineage::default();
    let left = words3(&mut l, LEFT, 0);
    let right = words3(&mut l, RIGHT, 1);
    let narrow = join(&mut l, vec![CogroupDep::Narrow(left), CogroupDep::Narrow(right)]);
    // The same join with both inputs shuffled again (what every cogroup did before).
    let ld = shuffle_dep(&mut l, left, 3, MapSideCombine::None);
    let rd = shuffle_dep(&mut l, right, 3, MapSideCombine::None);
    let shuffled = join(&mut l, vec![CogroupDep::Shuffle(ld), CogroupDep::Shuffle(rd)]);

    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, narrow);
    sim.run();
    assert_eq!(sim.collected(job), common_words());
    assert_eq!(kinds(&sim), vec![ShuffleMap, ShuffleMap, Result], "the two distinct shuffles only");
    // Each result task reads partition p of both inputs: their reduce-side reads of partition p.
    for (_, t) in sim.launched.iter().filter(|(_, t)| t.id.stage == StageId(2)) {
        let Plan::Cogroup { inputs, .. } = &t.plan else { panic!("{:?}", t.plan) };
        let reads: Vec<(ShuffleId, u32)> = inputs
            .iter()
            .map(|i| match i {
                Plan::Reduce { input, .. } => match &**input {
                    Plan::Read(Source::Shuffle(r)) => (r.shuffle, r.reduce),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            })
            .collect();
        let p = t.id.partition;
        assert_eq!(reads, vec![(ShuffleId(0), p), (ShuffleId(1), p)]);
    }

    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, shuffled);
    sim.run();
    assert_eq!(sim.collected(job), common_words());
    assert_eq!(kinds(&sim), vec![ShuffleMap, ShuffleMap, ShuffleMap, ShuffleMap, Result]);
}

#[test]
fn join_with_one_co_partitioned_input_shuffles_only_the_other() {
    use StageKind::{Result, ShuffleMap};
    let mut l = Lineage::default();
    let left = words3(&mut l, LEFT, 0);
    let text = parallel(&mut l, RIGHT);
    let right = guest(&mut l, text, 1, &["words"]);
    let rd = shuffle_dep(&mut l, right, 3, MapSideCombine::None);
    let joined = join(&mut l, vec![CogroupDep::Narrow(left), CogroupDep::Shuffle(rd.clone())]);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, joined);
    sim.run();
    assert_eq!(sim.collected(job), common_words());
    assert_eq!(kinds(&sim), vec![ShuffleMap, ShuffleMap, Result]);
    let result = sim.submissions()[2].0;
    let (_, t) = sim.launched.iter().find(|(_, t)| t.id.stage == result).unwrap();
    let Plan::Cogroup { inputs, .. } = &t.plan else { panic!("{:?}", t.plan) };
    assert!(matches!(&inputs[0], Plan::Reduce { .. }), "the left input's own reduce: {inputs:?}");
    assert!(matches!(&inputs[1], Plan::Read(Source::Shuffle(r)) if r.shuffle == rd.shuffle));
}

#[test]
fn a_join_of_a_co_partitioned_join_is_narrow_too() {
    use StageKind::{Result, ShuffleMap};
    let mut l = Lineage::default();
    let left = words3(&mut l, LEFT, 0);
    let right = words3(&mut l, RIGHT, 1);
    let first = join(&mut l, vec![CogroupDep::Narrow(left), CogroupDep::Narrow(right)]);
    let again = guest(&mut l, first, 2, &["identity"]);
    let second = join(&mut l, vec![CogroupDep::Narrow(again), CogroupDep::Narrow(left)]);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, second);
    sim.run();
    assert_eq!(sim.collected(job), common_words());
    assert_eq!(kinds(&sim), vec![ShuffleMap, ShuffleMap, Result]);
}

#[test]
fn a_cached_co_partitioned_input_is_read_where_its_blocks_are() {
    let mut l = Lineage::default();
    let left = words3(&mut l, LEFT, 0);
    persist(&mut l, left);
    let text = parallel(&mut l, RIGHT);
    let right = guest(&mut l, text, 1, &["words"]);
    let rd = shuffle_dep(&mut l, right, 3, MapSideCombine::None);
    let joined = join(&mut l, vec![CogroupDep::Narrow(left), CogroupDep::Shuffle(rd)]);
    let mut sim = Sim::new(2, 2);
    let first = sim.submit(&l, left, vec![0, 1, 2], ResultKind::Count);
    sim.run();
    sim.ok(first);
    assert!(sim.sched.cache().fully_cached(left, 3));
    let left_maps = sim.launches_of(StageId(0)).len();
    let job = sim.collect(&l, joined);
    sim.run();
    assert_eq!(sim.collected(job), common_words());
    assert_eq!(sim.launches_of(StageId(0)).len(), left_maps, "the cached input is not recomputed");
    let result_stage = sim.submissions().last().unwrap().0;
    let in_result = |s: &Start| {
        sim.launched.iter().any(|(_, t)| t.id.task == s.task && t.id.stage == result_stage)
    };
    let result: Vec<Start> = sim.starts().into_iter().filter(|s| in_result(s)).collect();
    assert_eq!(result.len(), 3);
    for s in result {
        let holder =
            sim.sched.cache().locations(crate::task::BlockId { rdd: left, partition: s.partition })
                [0];
        assert_eq!((s.executor, s.locality), (holder, TaskLocality::ProcessLocal), "{s:?}");
        let (e, t) = sim.launched.iter().find(|(_, t)| t.id.task == s.task).unwrap();
        let Plan::Cogroup { inputs, .. } = &t.plan else { panic!("{:?}", t.plan) };
        // Read from the cache of the executor it runs on (computed again only if evicted there).
        assert!(
            matches!(&inputs[0], Plan::Cache { block, .. } if sim.cache_holders(*block) == vec![*e]),
            "{inputs:?}"
        );
    }
}

#[test]
fn fetch_failure_under_a_co_partitioned_input_reruns_its_map_stage() {
    use StageKind::{Result, ShuffleMap};
    let mut l = Lineage::default();
    let left = words3(&mut l, LEFT, 0);
    let right = words3(&mut l, RIGHT, 1);
    let joined = join(&mut l, vec![CogroupDep::Narrow(left), CogroupDep::Narrow(right)]);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, joined);
    while sim.running.values().any(|(_, t)| t.id.stage != StageId(2)) {
        let t = *sim.running.keys().next().unwrap();
        sim.answer(t, Step::Run);
    }
    // Map 1 of the left input's shuffle vanishes before the join reads it: the
    // failure names its executor, whose outputs (of both shuffles) are rerun.
    let holder = sim
        .launched
        .iter()
        .find(|(_, t)| t.id.stage == StageId(0) && t.id.partition == 1)
        .unwrap()
        .0;
    sim.files.remove(&(ShuffleId(0), 1, holder));
    sim.run();
    assert_eq!(sim.collected(job), common_words());
    let subs: Vec<(StageId, u32, StageKind)> =
        sim.submissions().iter().map(|s| (s.0, s.1, s.2)).collect();
    assert_eq!(
        subs[..4],
        [
            (StageId(0), 0, ShuffleMap),
            (StageId(1), 0, ShuffleMap),
            (StageId(2), 0, Result),
            (StageId(0), 1, ShuffleMap),
        ]
    );
    assert_eq!(subs.last(), Some(&(StageId(2), 1, Result)));
}

/// `Plan::Cache` nodes in a plan.
fn caches(plan: &Plan) -> usize {
    match plan {
        Plan::Read(_) => 0,
        Plan::Cache { input, .. } => 1 + caches(input),
        Plan::Guest { input, .. } | Plan::Host { input, .. } | Plan::Reduce { input, .. } => {
            caches(input)
        }
        Plan::Concat(inputs) | Plan::Cogroup { inputs, .. } => inputs.iter().map(caches).sum(),
    }
}

#[test]
fn a_persisted_rdd_under_both_inputs_of_a_task_is_cached_once() {
    // PageRank's first iteration: `links.join(links.map_values(...))`, links persisted.
    let mut l = Lineage::default();
    let links = words3(&mut l, LEFT, 0);
    persist(&mut l, links);
    let ranks = guest(&mut l, links, 1, &["identity"]);
    let joined = join(&mut l, vec![CogroupDep::Narrow(links), CogroupDep::Narrow(ranks)]);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, joined);
    sim.run();
    assert_eq!(sim.collected(job), distinct_words(LEFT));
    let results: Vec<&Plan> = sim
        .launched
        .iter()
        .filter(|(_, t)| t.id.stage == StageId(1))
        .map(|(_, t)| &t.plan)
        .collect();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|p| caches(p) == 1), "{results:?}");
    assert!(sim.sched.cache().fully_cached(links, 3));
}
