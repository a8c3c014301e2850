//! Watermark idleness under backpressure, as Flink 2 does it (FLINK-35886, FLIP-471; the book's
//! event time chapter, "Idle partitions"): the idle timeout is counted on a clock that stands
//! still while the source's output is backpressured. A source that cannot emit reads nothing,
//! and that is not idleness: its partitions do not go idle while records wait for it in the
//! log. (Before, the timeout ran on plain processing time and chandy-lamport.ron with a 300 ms
//! timeout dropped 783 records as late.) `engine/tests/flink_source_watermarks.rs` checks the
//! rule itself against Flink's classes with random backpressure spans.

use std::sync::Arc;

use sim::recording::Payload;
use sim::Scenario;

#[test]
fn a_backpressured_source_does_not_go_idle_with_records_waiting_in_its_log() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/chandy-lamport.ron");
    let text = std::fs::read_to_string(&path).expect("the shipped scenario");
    let strategy = "emit: Periodic(interval_ms: 100))";
    assert_eq!(text.matches(strategy).count(), 1, "the scenario's watermark strategy");
    let idle_timeout_ns = 300_000_000;
    let original = text.clone();
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
    assert_eq!(idle_with_records_waiting, 0, "a source went idle while its log held records older than the timeout");
    // Backpressure was there to pause it: a source was blocked for longer than the timeout in all.
    assert!(
        run.world.time_use.iter().take(2).any(|t| t.backpressured_ns > idle_timeout_ns),
        "the sources were not backpressured"
    );
    // And no record comes late for it: the scenario without an idle timeout drops as many.
    let plain = Arc::new(Scenario::parse(&original, "chandy-lamport.ron").expect("valid"));
    let without_timeout = sim::run::run_scenario(plain, sim::run::DEFAULT_SEED, Default::default());
    assert_eq!(run.late_dropped(), without_timeout.late_dropped());
}
