//! The aligned-checkpoint timeout on one subtask (Flink's alternating barrier handler):
//! a checkpoint starts aligned and switches to unaligned once the timeout has passed since its
//! trigger — the time the barrier carries.

use engine::checkpoint::{CheckpointId, CheckpointMode, SnapshotAlignment};
use engine::graph::{EdgeSpec, InputIndex, JobGraph, OperatorKind, OperatorSpec, SourceSpec, Stream};
use engine::message::{Barrier, Message, Record, SourceRef};
use engine::partition::Partitioning;
use engine::sink::SinkKind;
use engine::subtask::{Note, Output, SnapshotReport, Subtask};
use engine::transform::KeySelector;
use engine::watermark::WatermarkStrategy;
use engine::window::{Aggregate, WindowKind, WindowSpec};

const MS: u64 = 1_000_000;
const TIMEOUT_NS: u64 = 100 * MS;

/// Two sources shuffle into one window subtask (two inputs), which feeds a sink.
/// Input `i` of the window subtask.
fn input(i: u32) -> InputIndex {
    InputIndex::from_raw(i)
}

fn window_subtask(timeout_ns: Option<u64>) -> Subtask {
    let mut job = JobGraph::new();
    let op = |name: &str, parallelism, kind| OperatorSpec { name: name.into(), parallelism, kind };
    let s = job.add_operator(op(
        "src",
        2,
        OperatorKind::Source(SourceSpec { partitions: 2, watermarks: WatermarkStrategy::None }),
    ));
    let w = job.add_operator(op(
        "win",
        1,
        OperatorKind::Window(WindowSpec {
            kind: WindowKind::Tumbling { size_ms: 1_000, offset_ms: 0 },
            aggregate: Aggregate::Count,
            allowed_lateness_ms: 0,
            track_lineage: false,
        }),
    ));
    let k = job.add_operator(op("out", 1, OperatorKind::Sink(SinkKind::Plain)));
    job.connect(s, w, EdgeSpec { partitioning: Partitioning::Hash(KeySelector::Key), stream: Stream::Main });
    job.connect(w, k, EdgeSpec { partitioning: Partitioning::Forward, stream: Stream::Main });
    let plan = job.plan().unwrap();
    let id = plan.subtask_by_name("win[0]").unwrap();
    assert_eq!(plan.subtask(id).inputs.len(), 2);
    let mut subtask = Subtask::new(&plan, id, Some(CheckpointMode::Unaligned), 0, 0);
    subtask.set_aligned_checkpoint_timeout(timeout_ns);
    subtask
}

fn record(value: i64) -> Message {
    Message::Record(Record {
        key: 1,
        value,
        timestamp_ms: 10,
        source: SourceRef { partition: 0, offset: value as u64 },
        ingest_ns: 0,
        pane: None,
    })
}

fn barrier(id: u64, triggered_ns: u64) -> Message {
    Message::Barrier(Barrier { checkpoint_id: CheckpointId::from_raw(id), timestamp_ns: triggered_ns })
}

fn values(messages: &[Message]) -> Vec<i64> {
    messages.iter().filter_map(|m| if let Message::Record(r) = m { Some(r.value) } else { None }).collect()
}

fn drain(subtask: &mut Subtask) -> Vec<Output> {
    std::iter::from_fn(|| subtask.poll_output()).collect()
}

fn snapshot(outputs: &[Output]) -> Option<&SnapshotReport> {
    outputs.iter().find_map(|o| if let Output::Snapshot(r) = o { Some(&**r) } else { None })
}

fn forwarded_barrier(outputs: &[Output]) -> Option<Barrier> {
    outputs.iter().find_map(|o| match o {
        Output::Send { message: Message::Barrier(b), .. } => Some(*b),
        _ => None,
    })
}

#[test]
fn a_slow_alignment_times_out_and_snapshots_the_in_flight_data() {
    let mut t = window_subtask(Some(TIMEOUT_NS));
    t.push_input(input(0), record(1));
    t.push_input(input(0), barrier(1, 5 * MS));
    t.push_input(input(0), record(2)); // after the barrier: the next epoch
    t.push_input(input(1), record(11));
    t.push_input(input(1), record(12));
    // The barrier's arrival starts the timer: trigger time + timeout.
    assert_eq!(t.next_timer_ns(), Some(105 * MS));
    while t.step(10 * MS).is_some() && !t.is_input_blocked(input(0)) {}
    assert!(t.is_input_blocked(input(0)), "aligned at first: input 0 waits for input 1's barrier");
    drain(&mut t);
    // Input 1 is read while input 0 is blocked: record 11 (and 12) are processed in order.
    t.step(20 * MS);
    assert_eq!(t.gate().queued_on(input(1)), 1);
    // Before the deadline nothing changes.
    t.handle_timer(104 * MS);
    assert!(t.is_input_blocked(input(0)) && t.unaligned_snapshot().is_none());
    // At the deadline the checkpoint switches to unaligned: snapshot now, with what is queued on
    // input 1 (its barrier has not come) as channel state; the barrier goes downstream at once.
    t.handle_timer(105 * MS);
    let out = drain(&mut t);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Note(Note::AlignmentTimedOut { checkpoint_id: CheckpointId::FIRST }))));
    assert_eq!(forwarded_barrier(&out), Some(Barrier { checkpoint_id: CheckpointId::FIRST, timestamp_ns: 5 * MS }));
    assert!(!t.is_input_blocked(input(0)), "a timed-out checkpoint blocks nothing");
    assert_eq!(t.next_timer_ns(), None);
    let u = t.unaligned_snapshot().expect("an unaligned snapshot in progress");
    assert_eq!(values(&u.channel_state[0]), Vec::<i64>::new(), "input 0's barrier was processed");
    assert_eq!(values(&u.channel_state[1]), vec![12]);
    // What arrives on input 1 before its barrier is recorded too; the barrier overtakes.
    t.push_input(input(1), record(13));
    t.push_input(input(1), barrier(1, 5 * MS));
    t.push_input(input(1), record(14));
    t.step(106 * MS);
    let out = drain(&mut t);
    let report = snapshot(&out).expect("the last barrier completes the snapshot");
    assert_eq!(report.alignment, SnapshotAlignment::TimedOut);
    assert_eq!(values(&report.channel_state[1]), vec![12, 13]);
    assert!(report.channel_state[0].is_empty());
}

#[test]
fn a_fast_alignment_stays_aligned() {
    let mut t = window_subtask(Some(TIMEOUT_NS));
    t.push_input(input(0), record(1));
    t.push_input(input(0), barrier(1, 0));
    t.push_input(input(1), record(11));
    t.push_input(input(1), barrier(1, 0));
    t.push_input(input(1), record(12));
    let mut out = Vec::new();
    while t.step(10 * MS).is_some() {
        out.extend(drain(&mut t));
    }
    let report = snapshot(&out).expect("aligned snapshot");
    assert_eq!(report.alignment, SnapshotAlignment::Aligned);
    assert!(report.channel_state.iter().all(Vec::is_empty), "aligned: no channel state");
    assert!(!out.iter().any(|o| matches!(o, Output::Note(Note::AlignmentTimedOut { .. }))));
    assert_eq!(t.next_timer_ns(), None, "nothing left to time out");
    t.handle_timer(TIMEOUT_NS);
    assert!(drain(&mut t).is_empty());
}

/// Timed out before any barrier was processed (the barrier waits behind a backlog): it
/// overtakes the backlog, which becomes channel state (Flink's `AlternatingWaitingForFirstBarrier`).
/// A barrier that arrives after the deadline overtakes at once.
#[test]
fn a_queued_barrier_overtakes_its_backlog_when_the_alignment_times_out() {
    let mut t = window_subtask(Some(TIMEOUT_NS));
    for v in 1..=3 {
        t.push_input(input(0), record(v));
    }
    t.push_input(input(0), barrier(1, 0));
    t.push_input(input(0), record(4));
    t.handle_timer(TIMEOUT_NS);
    t.step(TIMEOUT_NS).expect("the overtaking barrier is processed first");
    let out = drain(&mut t);
    assert!(forwarded_barrier(&out).is_some());
    let u = t.unaligned_snapshot().expect("unaligned snapshot");
    assert_eq!(values(&u.channel_state[0]), vec![1, 2, 3]);
    // Input 1's barrier arrives late, behind one record: it overtakes it, the record is saved.
    t.push_input(input(1), record(11));
    t.push_input(input(1), barrier(1, 0));
    t.step(TIMEOUT_NS + MS);
    let report = snapshot(&drain(&mut t)).cloned().expect("complete");
    assert_eq!(report.alignment, SnapshotAlignment::TimedOut);
    assert_eq!(values(&report.channel_state[1]), vec![11]);
    // The backlog is still processed afterwards, in order.
    let mut processed = 0;
    while t.step(TIMEOUT_NS + 2 * MS).is_some() {
        processed += 1;
    }
    assert_eq!(processed, 5, "records 1–4 and 11");
}

/// A timeout of 0 (Flink's default) means always unaligned; exactly-once ignores the setting.
#[test]
fn timeout_zero_is_always_unaligned() {
    let mut t = window_subtask(Some(0));
    t.push_input(input(0), record(1));
    t.push_input(input(0), barrier(1, 0));
    assert_eq!(t.next_timer_ns(), None);
    t.step(MS).expect("the barrier overtakes");
    assert!(t.unaligned_snapshot().is_some_and(|u| values(&u.channel_state[0]) == vec![1]));
    t.push_input(input(1), barrier(1, 0));
    t.step(MS);
    assert_eq!(snapshot(&drain(&mut t)).map(|r| r.alignment), Some(SnapshotAlignment::Unaligned));
}
