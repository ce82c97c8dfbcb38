//! Lost map outputs by executor and epoch: a fetch failure or a lost executor forgets every output of that executor at once; reports from before the loss change nothing.

use std::collections::BTreeSet;

use super::harness::*;
use crate::dag::outputs::MapStatus;
use crate::dag::{EventRecord, MapOutputs, StageKind};
use crate::ids::{ExecutorId, ShuffleId, StageId};
use crate::lineage::Lineage;

/// `n` partitions of text, each a few words drawn from a small vocabulary.
fn text(n: usize) -> Vec<Vec<String>> {
    let words = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay"];
    (0..n).map(|i| vec![format!("{} {} {}", words[i % 10], words[(i * 3) % 10], i)]).collect()
}

fn parallel_owned(l: &mut Lineage, parts: &[Vec<String>]) -> crate::ids::RddId {
    let refs: Vec<Vec<&str>> =
        parts.iter().map(|p| p.iter().map(String::as_str).collect()).collect();
    let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    parallel(l, &slices)
}

fn expected(parts: &[Vec<String>]) -> Vec<String> {
    let refs: Vec<Vec<&str>> =
        parts.iter().map(|p| p.iter().map(String::as_str).collect()).collect();
    let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    distinct_words(&slices)
}

/// Map partitions of `shuffle` whose registered output is on `executor`.
fn outputs_on(sim: &Sim, shuffle: ShuffleId, executor: ExecutorId) -> BTreeSet<u32> {
    sim.sched
        .map_outputs()
        .statuses(shuffle)
        .iter()
        .enumerate()
        .filter(|(_, s)| s.as_ref().is_some_and(|s| s.executor == executor))
        .map(|(m, _)| m as u32)
        .collect()
}

#[test]
fn a_fetch_failure_reruns_every_map_output_of_its_executor_in_one_attempt() {
    let parts = text(12);
    let mut l = Lineage::default();
    let x = parallel_owned(&mut l, &parts);
    let words = guest(&mut l, x, 0, &["words"]);
    let d = distinct(&mut l, words, 3);
    let mut sim = Sim::new(3, 4);
    let job = sim.collect(&l, d);
    while sim.running.values().any(|(_, t)| t.id.stage == StageId(0)) {
        let t = *sim.running.keys().next().unwrap();
        sim.answer(t, Step::Run);
    }
    let victim = ExecutorId(1);
    let held = outputs_on(&sim, ShuffleId(0), victim);
    assert!(held.len() >= 4, "many map outputs on {victim}: {held:?}");
    // Its disk is gone, the executor stays: every fetch from it fails.
    sim.files.retain(|k, _| k.2 != victim);
    sim.run();
    assert_eq!(sim.collected(job), expected(&parts));
    let map_attempts: Vec<(u32, u32)> = sim
        .submissions()
        .iter()
        .filter(|s| s.0 == StageId(0))
        .map(|s| {
            assert_eq!(s.2, StageKind::ShuffleMap);
            (s.1, s.3)
        })
        .collect();
    assert_eq!(map_attempts, vec![(0, 12), (1, held.len() as u32)], "one rerun of the map stage");
    let rerun: BTreeSet<u32> =
        sim.launches_of(StageId(0)).iter().filter(|x| x.0 == 1).map(|x| x.1).collect();
    assert_eq!(rerun, held, "the rerun covers every output the executor held");
    let fetch_failures = sim
        .records
        .iter()
        .filter(|r| matches!(r, EventRecord::TaskEnded { failure: Some(f), .. } if f.starts_with("fetch of")))
        .count();
    assert_eq!(fetch_failures, 1, "one fetch failure was enough");
    assert_eq!(sim.sched.map_outputs().epoch(), 1);
}

#[test]
fn a_lost_executor_loses_its_outputs_of_every_shuffle_at_once() {
    // text -> words -> distinct (shuffle 0) -> upper -> distinct (shuffle 1)
    let parts = text(8);
    let mut l = Lineage::default();
    let x = parallel_owned(&mut l, &parts);
    let words = guest(&mut l, x, 0, &["words"]);
    let d1 = distinct(&mut l, words, 4);
    let upper = guest(&mut l, d1, 0, &["upper"]);
    let d2 = distinct(&mut l, upper, 2);
    let mut sim = Sim::new(2, 2);
    let first = sim.collect(&l, d2);
    sim.run();
    let victim = ExecutorId(1);
    let held0 = outputs_on(&sim, ShuffleId(0), victim);
    let held1 = outputs_on(&sim, ShuffleId(1), victim);
    assert!(!held0.is_empty() && !held1.is_empty(), "{held0:?} {held1:?}");
    sim.lose(victim.0);
    for (shuffle, held) in [(ShuffleId(0), &held0), (ShuffleId(1), &held1)] {
        let missing: BTreeSet<u32> = sim.sched.map_outputs().missing(shuffle).into_iter().collect();
        assert_eq!(&missing, held, "{shuffle}: every output of {victim} and nothing else");
    }
    assert_eq!(sim.sched.map_outputs().epoch(), 1);
    // The next job reruns each map stage once, over exactly what was lost.
    let before = sim.submissions().len();
    let second = sim.collect(&l, d2);
    sim.run();
    assert_eq!(sim.collected(second), sim.collected(first));
    let new: Vec<(StageId, u32)> = sim.submissions()[before..].iter().map(|s| (s.0, s.3)).collect();
    assert_eq!(
        new,
        vec![(StageId(0), held0.len() as u32), (StageId(1), held1.len() as u32), (StageId(3), 2)]
    );
}

#[test]
fn a_map_output_reported_from_before_its_executors_loss_is_ignored() {
    // Job A reads shuffle 0; job B writes shuffle 1 meanwhile, one of its map
    // tasks running on the executor a fetch failure of job A then names.
    let mut l = Lineage::default();
    let a_words = {
        let x = parallel(&mut l, TEXT);
        guest(&mut l, x, 0, &["words"])
    };
    let a = distinct(&mut l, a_words, 3);
    let b_text: &[&[&str]] = &[&["red green"], &["blue red"]];
    let b_words = {
        let x = parallel(&mut l, b_text);
        guest(&mut l, x, 0, &["words"])
    };
    let b = distinct(&mut l, b_words, 2);
    let mut sim = Sim::new(2, 2);
    let job_a = sim.collect(&l, a);
    while sim.running.values().any(|(_, t)| t.id.stage == StageId(0)) {
        let t = *sim.running.keys().next().unwrap();
        sim.answer(t, Step::Run);
    }
    assert_eq!(sim.running.len(), 3, "job A's reduce tasks run; one core is free");
    let job_b = sim.collect(&l, b);
    let (&b_task, (victim, b_desc)) =
        sim.running.iter().find(|(_, (_, t))| t.id.job == job_b).expect("a map task of job B");
    let (victim, b_map, b_stage) = (*victim, b_desc.id.partition, b_desc.id.stage);
    assert!(!outputs_on(&sim, ShuffleId(0), victim).is_empty());
    // The victim's shuffle-0 files vanish; a reduce task of job A fails to fetch one.
    sim.files.retain(|k, _| !(k.0 == ShuffleId(0) && k.2 == victim));
    let a_reduce = *sim.running.iter().find(|(_, (_, t))| t.id.job == job_a).unwrap().0;
    sim.answer(a_reduce, Step::Run);
    assert!(sim.records.iter().any(|r| matches!(r,
        EventRecord::TaskEnded { failure: Some(f), .. } if f.contains(&format!("from {victim}")))));
    assert_eq!(sim.sched.map_outputs().epoch(), 1);
    assert!(sim.running.contains_key(&b_task), "job B's map task still runs");
    // Job B's map task, launched before the loss, reports success: not registered.
    sim.answer(b_task, Step::Run);
    assert_eq!(sim.sched.map_outputs().statuses(ShuffleId(1))[b_map as usize], None);
    sim.run();
    assert_eq!(sim.collected(job_a), distinct_words(TEXT));
    assert_eq!(sim.collected(job_b), distinct_words(b_text));
    let b_runs: Vec<u32> =
        sim.launches_of(b_stage).iter().filter(|x| x.1 == b_map).map(|x| x.0).collect();
    assert_eq!(b_runs.len(), 2, "map {b_map} of job B ran again: {b_runs:?}");
    assert!(
        sim.sched.map_outputs().statuses(ShuffleId(1))[b_map as usize].is_some(),
        "the rerun's output, launched after the loss, is registered"
    );
}

#[test]
fn a_late_fetch_failure_from_before_a_loss_keeps_the_outputs_registered_since() {
    let (e, other) = (ExecutorId(1), ExecutorId(2));
    let status = |executor| MapStatus { executor, sizes: vec![1, 1] };
    let mut outputs = MapOutputs::default();
    outputs.register_shuffle(ShuffleId(0), 3);
    outputs.register_shuffle(ShuffleId(1), 2);
    for (shuffle, map, executor) in
        [(ShuffleId(0), 0, e), (ShuffleId(0), 1, other), (ShuffleId(0), 2, e), (ShuffleId(1), 1, e)]
    {
        assert!(outputs.register(shuffle, map, status(executor), 0));
    }
    // A fetch failure of an attempt launched at epoch 0 names `e`: all three of its outputs go.
    assert_eq!(outputs.executor_lost(e, 0), Some(3));
    assert_eq!(outputs.epoch(), 1);
    assert_eq!(outputs.missing(ShuffleId(0)), vec![0, 2]);
    assert_eq!(outputs.missing(ShuffleId(1)), vec![0, 1]);
    // A map task launched at epoch 0 on `e` reports late: ignored; one launched since: kept.
    assert!(!outputs.register(ShuffleId(0), 0, status(e), 0));
    assert!(outputs.register(ShuffleId(0), 2, status(e), 1));
    assert!(outputs.register(ShuffleId(0), 0, status(other), 0), "other executors are unaffected");
    // Another attempt from epoch 0 names `e` too: the outputs registered since stay.
    assert_eq!(outputs.executor_lost(e, 0), None);
    assert_eq!(outputs.epoch(), 1);
    assert!(outputs.is_available(ShuffleId(0)));
    // A failure of an attempt launched after the loss is a new loss.
    assert_eq!(outputs.executor_lost(e, 1), Some(1));
    assert_eq!(outputs.epoch(), 2);
    assert_eq!(outputs.missing(ShuffleId(0)), vec![2]);
    assert!(!outputs.predates_loss(other, 0));
    assert!(outputs.predates_loss(e, 1) && !outputs.predates_loss(e, 2));
}
