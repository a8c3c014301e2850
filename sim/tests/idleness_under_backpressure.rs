//! Watermark idleness under backpressure, as the book states it (event time chapter, "Idle
//! partitions"): streamlab counts the idle timeout in plain processing time, so a source that
//! cannot emit under backpressure reads nothing and its partition goes idle although records
//! wait for it in the log — as Flink did before FLINK-35886 (FLIP-471), which pauses the
//! countdown while the source is backpressured. If the engine learns Flink's rule, this test
//! and the book's simplification change together.

use std::sync::Arc;

use sim::recording::Payload;
use sim::Scenario;

#[test]
fn a_backpressured_source_goes_idle_with_records_waiting_in_its_log() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/chandy-lamport.ron");
    let text = std::fs::read_to_string(&path).expect("the shipped scenario");
    let strategy = "emit: Periodic(interval_ms: 100))";
    assert_eq!(text.matches(strategy).count(), 1, "the scenario's watermark strategy");
    let idle_timeout_ns = 300_000_000;
    let text = text.replace(strategy, "emit: Periodic(interval_ms: 100), idle_timeout_ms: Some(300))");
    let scenario = Arc::new(Scenario::parse(&text, "chandy-lamport.ron with an idle timeout").expect("valid"));
    let run = sim::run::run_scenario(scenario, sim::run::DEFAULT_SEED, Default::default());
    let log = &run.world.log;
    // Per partition, the next offset its source reads (two source subtasks, a partition each).
    let mut next_offset = vec![0u64; log.partitions.len()];
    let mut partition_of_subtask = [None::<u32>; 2];
    let mut idle_with_records_waiting = 0;
    for e in run.world.recorder.events() {
        let subtask = e.subtask().index();
        match e.payload() {
            Payload::SourceRead { partition, offset } => {
                next_offset[partition as usize] = offset + 1;
                partition_of_subtask[subtask] = Some(partition);
            }
            Payload::SendIdle { idle: true, .. } if subtask < 2 => {
                let Some(p) = partition_of_subtask[subtask] else { continue };
                let waiting = log.partitions[p as usize].get(next_offset[p as usize] as usize);
                if waiting.is_some_and(|r| r.append_ns + idle_timeout_ns < e.time_ns) {
                    idle_with_records_waiting += 1;
                }
            }
            _ => {}
        }
    }
    assert!(idle_with_records_waiting > 0, "no source went idle while its log held records older than the timeout");
    // The consequence the book shows: the other source's watermark runs ahead, records come late.
    assert!(run.late_dropped() > 0);
}
