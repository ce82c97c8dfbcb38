//! Wire mirrors: task descriptions with every plan variant and task reports survive host → wire → bytes → host.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::ids::{ExecutorId, JobId, RddId, ShuffleId, StageId, TaskId};
use crate::lineage::{
    CogroupOutput, FileSplit, HostStep, JoinKind, Op, OpKind, Partitioner, StorageLevel,
};
use crate::net::protocol::task::MAX_PLAN_DEPTH;
use crate::net::protocol::task::*;
use crate::records::Batch;
use crate::task::*;

fn component(tag: u8) -> Arc<ComponentBytes> {
    Arc::new(ComponentBytes {
        hash: format!("{tag:02x}").repeat(32),
        bytes: vec![0, 97, 115, 109, tag],
    })
}

/// A plan that uses every `Plan` and `Source` variant.
fn every_variant_plan(c1: &Arc<ComponentBytes>, c2: &Arc<ComponentBytes>) -> Plan {
    let file = Plan::Read(Source::File(FileSplit {
        path: PathBuf::from("/data/in put.txt"),
        start: 10,
        end: 99,
    }));
    let sampled = Plan::Host {
        input: Box::new(file),
        step: HostStep::Sample { with_replacement: true, fraction: 0.25, seed: 42 },
    };
    let guest = Plan::Guest {
        input: Box::new(sampled),
        component: c1.clone(),
        ops: vec![
            Op { kind: OpKind::FlatMap, name: "split".into(), args: vec![] },
            Op { kind: OpKind::KeyBy, name: "first".into(), args: vec![1, 2, 3] },
        ],
    };
    let shuffle = Source::Shuffle(ShuffleRead {
        shuffle: ShuffleId(3),
        reduce: 1,
        maps: vec![
            MapBlock { map: 0, executor: ExecutorId(1), bytes: 100 },
            MapBlock { map: 1, executor: ExecutorId(2), bytes: 0 },
        ],
    });
    let concat = Plan::Concat(vec![
        Plan::Read(Source::Slice(Arc::new(Batch::from_records(["a", "", "bc"])))),
        Plan::Read(Source::Cached {
            block: BlockId { rdd: RddId(5), partition: 2 },
            executor: ExecutorId(3),
        }),
        Plan::Read(shuffle),
    ]);
    let reduced =
        Plan::Reduce { input: Box::new(concat), step: ReduceStep::Sort { ascending: false } };
    let merged = Plan::Guest {
        input: Box::new(Plan::Reduce { input: Box::new(reduced), step: ReduceStep::Group }),
        component: c2.clone(),
        ops: vec![Op { kind: OpKind::Merge, name: "sum".into(), args: vec![9] }],
    };
    let cogroup = Plan::Cogroup {
        inputs: vec![
            guest,
            merged,
            Plan::Reduce { input: Box::new(Plan::Concat(vec![])), step: ReduceStep::Distinct },
        ],
        output: CogroupOutput::Join(JoinKind::FullOuter),
    };
    Plan::Cache {
        input: Box::new(cogroup),
        block: BlockId { rdd: RddId(9), partition: 4 },
        level: StorageLevel::MemoryAndDisk,
    }
}

fn task(plan: Plan, sink: TaskSink) -> TaskDesc {
    let limits = TaskLimits {
        memory: Some(64 << 20),
        timeout: Some(std::time::Duration::from_millis(1500)),
        fuel: Some(9),
        scratch: true,
    };
    let id = TaskAttempt {
        task: TaskId(77),
        job: JobId(2),
        stage: StageId(5),
        stage_attempt: 1,
        partition: 4,
        attempt: 2,
    };
    TaskDesc { id, plan, sink, limits, shared: Default::default() }
}

/// host → wire → postcard bytes → wire → host.
fn through_the_wire(t: &TaskDesc, cache: &dyn ComponentResolver) -> Result<TaskDesc, ConvertError> {
    let wire = WireTask::from(t);
    let bytes = postcard::to_stdvec(&wire).unwrap();
    let back: WireTask = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, wire);
    back.into_task(cache)
}

#[test]
fn task_desc_with_every_plan_variant_roundtrips() {
    let (c1, c2) = (component(1), component(2));
    let cache: HashMap<String, Arc<ComponentBytes>> =
        [(c1.hash.clone(), c1.clone()), (c2.hash.clone(), c2.clone())].into_iter().collect();
    let sinks = [
        TaskSink::ShuffleWrite {
            shuffle: ShuffleId(8),
            partitioner: Partitioner::Hash { partitions: 16 },
            map_side_combine: false,
        },
        TaskSink::ShuffleWrite {
            shuffle: ShuffleId(8),
            partitioner: Partitioner::Range {
                bounds: vec![b"g".to_vec(), b"p".to_vec()],
                ascending: true,
            },
            map_side_combine: false,
        },
        TaskSink::ShuffleWrite {
            shuffle: ShuffleId(8),
            partitioner: Partitioner::RecordHash { partitions: 3 },
            map_side_combine: false,
        },
        TaskSink::ShuffleWrite {
            shuffle: ShuffleId(8),
            partitioner: Partitioner::RoundRobin { partitions: 5 },
            map_side_combine: false,
        },
        TaskSink::Result(ResultKind::Count),
        TaskSink::Result(ResultKind::Collect),
        TaskSink::Result(ResultKind::Take(10)),
        TaskSink::Result(ResultKind::SaveText {
            dir: PathBuf::from("/out/_temporary/job-2"),
            codec: Codec::Zstd,
        }),
        TaskSink::Result(ResultKind::SampleKeys(20)),
    ];
    for sink in sinks {
        let t = task(every_variant_plan(&c1, &c2), sink);
        let back = through_the_wire(&t, &cache).unwrap();
        // Debug prints every field, including component hashes and the records of slices.
        assert_eq!(format!("{back:?}"), format!("{t:?}"));
    }
    // Components resolve to the cache's own Arcs, not copies.
    let back = through_the_wire(
        &task(every_variant_plan(&c1, &c2), TaskSink::Result(ResultKind::Count)),
        &cache,
    )
    .unwrap();
    let found = components_of(&back);
    assert_eq!(found.len(), 2);
    assert!(Arc::ptr_eq(&found[0], &c1) && Arc::ptr_eq(&found[1], &c2));
}

#[test]
fn unknown_component_is_a_conversion_error() {
    let (c1, c2) = (component(1), component(2));
    let only_c1 = |hash: &str| (hash == c1.hash).then(|| c1.clone());
    let t = task(every_variant_plan(&c1, &c2), TaskSink::Result(ResultKind::Count));
    let err = through_the_wire(&t, &only_c1).unwrap_err();
    assert!(matches!(&err, ConvertError::UnknownComponent { hash } if *hash == c2.hash), "{err}");
    assert_eq!(err.to_string(), format!("unknown component {}", c2.hash));
}

#[test]
fn malformed_plans_are_rejected() {
    let none = |_: &str| None;
    let read = || {
        WirePlanNode::Read(WireSource::Cached {
            block: WireBlockId { rdd: 0, partition: 0 },
            executor: 0,
        })
    };
    let reduce = |input| WirePlanNode::Reduce { input, step: WireReduceStep::Distinct };
    let cases: Vec<(Vec<WirePlanNode>, &str)> = vec![
        (vec![], "malformed plan: 0 nodes do not form one tree"),
        (vec![reduce(0)], "malformed plan: node 0 refers to input 0"),
        (vec![read(), reduce(5)], "malformed plan: node 1 refers to input 5"),
        (
            vec![read(), WirePlanNode::Concat(vec![0, 0])],
            "malformed plan: node 1 refers to input 0",
        ),
        (vec![read(), read(), reduce(1)], "malformed plan: 3 nodes do not form one tree"),
    ];
    for (nodes, message) in cases {
        let err = WirePlan { nodes }.into_plan(&none).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    // A chain deeper than the limit: rejected without recursion.
    let mut nodes = vec![read()];
    nodes.extend((0..MAX_PLAN_DEPTH as u32 + 10).map(reduce));
    let err = WirePlan { nodes }.into_plan(&none).unwrap_err();
    assert!(matches!(err, ConvertError::TooDeep { max: MAX_PLAN_DEPTH }), "{err}");
    // A malformed slice.
    let bad = WirePlan {
        nodes: vec![WirePlanNode::Read(WireSource::Slice(WireBatch {
            data: b"ab".to_vec(),
            ends: vec![5],
        }))],
    };
    assert!(matches!(bad.into_plan(&none).unwrap_err(), ConvertError::Batch { .. }));
}

#[test]
fn task_reports_roundtrip() {
    let reports = [
        Ok(TaskOutput::MapStatus { sizes: vec![0, 10, 2000] }),
        Ok(TaskOutput::Result(ResultValue::Count(12))),
        Ok(TaskOutput::Result(ResultValue::Records(Batch::from_records(["x", "yy"])))),
        Ok(TaskOutput::Result(ResultValue::Saved)),
        Ok(TaskOutput::Result(ResultValue::Staged(StagedPart {
            key: "out/part-00001.gz".into(),
            upload_id: "u-1".into(),
            parts: vec!["e1".into(), "e2".into()],
        }))),
        Err(TaskFailure::Guest { message: "trap: unreachable".into() }),
        Err(TaskFailure::Host { message: "disk full".into() }),
        Err(TaskFailure::FetchFailed {
            shuffle: ShuffleId(1),
            map: 2,
            executor: ExecutorId(3),
            message: "reset".into(),
        }),
        Err(TaskFailure::ExecutorLost),
        Err(TaskFailure::Killed),
    ];
    for result in reports {
        let r = TaskReport {
            accumulators: Vec::new(),
            task: TaskId(5),
            executor: ExecutorId(2),
            result,
            cached: vec![BlockId { rdd: RddId(1), partition: 0 }],
            metrics: TaskMetrics {
                records_read: 1,
                bytes_read: 2,
                records_written: 3,
                bytes_written: 4,
                shuffle_read_bytes: 5,
                shuffle_write_bytes: 6,
                times: TaskTimes {
                    instantiation_us: 7,
                    guest_us: 8,
                    input_read_us: 9,
                    fetch_wait_us: 10,
                    shuffle_write_us: 11,
                    output_write_us: 12,
                },
            },
            log: "hello from the guest\n".into(),
        };
        let wire = WireTaskReport::from(&r);
        let back: WireTaskReport =
            postcard::from_bytes(&postcard::to_stdvec(&wire).unwrap()).unwrap();
        let back = TaskReport::try_from(back).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
    }
    let bad = WireTaskReport {
        task: 1,
        executor: 1,
        result: Ok(WireTaskOutput::Result(WireResultValue::Records(WireBatch {
            data: vec![1],
            ends: vec![2],
        }))),
        cached: vec![],
        metrics: WireTaskMetrics::default(),
        log: String::new(),
        accumulators: vec![],
    };
    assert!(TaskReport::try_from(bad).is_err());
}
