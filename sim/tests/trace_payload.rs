//! Every trace event's typed payload encodes back to the same words (`sim::recording::Payload`):
//! readers that match on `TraceEvent::payload` see exactly what was recorded, and the trace hash
//! does not depend on whether an event was written as a payload or as words.

use std::path::Path;
use std::sync::Arc;

use engine::CheckpointId;
use sim::recording::{Payload, TraceEvent, TraceKind};
use sim::run::run_scenario;
use sim::storm::run_storm;
use sim::{RunOptions, Scenario};

fn load(name: &str) -> Arc<Scenario> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios").join(name);
    Arc::new(Scenario::load(&path).expect("shipped scenario loads"))
}

fn round_trips(events: &[TraceEvent]) -> std::collections::BTreeSet<TraceKind> {
    let mut kinds = std::collections::BTreeSet::new();
    for e in events {
        let payload = e.payload();
        // Equal events are equal in every word (`TraceEvent` compares them all).
        assert_eq!(
            TraceEvent::from_payload(e.time_ns, e.subtask(), Some(e.channel_id()), payload),
            *e,
            "{e:?} as {payload:?}"
        );
        kinds.insert(e.kind);
    }
    kinds
}

#[test]
fn every_recorded_payload_round_trips() {
    let mut kinds = std::collections::BTreeSet::new();
    for name in [
        "crash-during-checkpoint.ron",
        "crash-before-commit.ron",
        "swarm.ron",
        "aligned-timeout-under-backpressure.ron",
    ] {
        let result = run_scenario(load(name), 42, RunOptions::default());
        kinds.extend(round_trips(result.world.recorder.events()));
    }
    for name in ["storm-word-count.ron", "storm-trident.ron"] {
        let run = run_storm(load(name), 42, true);
        kinds.extend(round_trips(run.world.recorder.events()));
    }
    // Kafka Streams under both guarantees (exactly-once v2 aborts the crashed instance's
    // transaction).
    let kstreams = load("kafka-streams-failover.ron");
    for g in [sim::scenario::Guarantee::AtLeastOnce, sim::scenario::Guarantee::ExactlyOnce] {
        let variant = Arc::new(kstreams.with_runtime_variant(sim::scenario::Runtime::KafkaStreams, g, None));
        let run = sim::kstreams::run_kstreams(variant, 42, true);
        kinds.extend(round_trips(run.world.recorder.events()));
    }
    // The runs cover the kinds that carry data in their words.
    for kind in [
        TraceKind::SendBarrier,
        TraceKind::ProcessBarrier,
        TraceKind::SinkPreCommit,
        TraceKind::JobRestarted,
        TraceKind::NodeCrashed,
        TraceKind::StormAckerMessage,
        TraceKind::TridentCommit,
        TraceKind::AlignmentTimedOut,
        TraceKind::KStreamsProcess,
        TraceKind::KStreamsCommit,
        TraceKind::KStreamsRestore,
        TraceKind::KStreamsResume,
        TraceKind::KStreamsTxnAborted,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} not seen");
    }
}

#[test]
fn a_restart_says_what_it_restores() {
    let result = run_scenario(load("crash-during-checkpoint.ron"), 42, RunOptions::default());
    let restored: Vec<Option<CheckpointId>> = result
        .world
        .recorder
        .events()
        .iter()
        .filter_map(|e| match e.payload() {
            Payload::JobRestarted { restored_from, .. } => Some(restored_from),
            _ => None,
        })
        .collect();
    assert!(!restored.is_empty(), "the crash restarts the job");
    assert!(restored.iter().all(Option::is_some), "exactly-once restores a completed checkpoint: {restored:?}");
}
