//! Chandy–Lamport markers on one subtask with k inputs, against a small executable statement of
//! the rule (Chandy and Lamport 1985, on a DAG):
//!
//! - messages are received in FIFO order per channel; markers do not overtake data and no input
//!   is ever blocked, so the subtask takes its inputs in arrival order;
//! - at the first marker it takes in, the process records its state (here: the records taken in
//!   per input so far) and sends markers on every output at once;
//! - every record it then takes in on another input before that input's marker is that
//!   channel's state (the first marker's channel is recorded empty);
//! - the snapshot is complete when every input has delivered its marker.

use engine::checkpoint::{CheckpointId, CheckpointMode, SnapshotAlignment};
use engine::graph::{EdgeSpec, InputIndex, JobGraph, OperatorKind, OperatorSpec, SourceSpec, Stream};
use engine::message::{Barrier, Message, MessageKind, Record, SourceRef};
use engine::partition::Partitioning;
use engine::sink::SinkKind;
use engine::subtask::{Output, SnapshotReport, Subtask};
use engine::transform::KeySelector;
use engine::watermark::WatermarkStrategy;
use engine::window::{Aggregate, WindowKind, WindowSpec};
use proptest::prelude::*;

const CHECKPOINT: CheckpointId = CheckpointId::FIRST;

/// `k` sources shuffle into one window subtask (k inputs), which feeds a sink.
fn window_subtask(k: usize, mode: CheckpointMode) -> Subtask {
    let mut job = JobGraph::new();
    let op = |name: &str, parallelism, kind| OperatorSpec { name: name.into(), parallelism, kind };
    let s = job.add_operator(op(
        "src",
        k as u32,
        OperatorKind::Source(SourceSpec { partitions: k as u32, watermarks: WatermarkStrategy::None }),
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
    let sink = job.add_operator(op("out", 1, OperatorKind::Sink(SinkKind::Plain)));
    job.connect(s, w, EdgeSpec { partitioning: Partitioning::Hash(KeySelector::Key), stream: Stream::Main });
    job.connect(w, sink, EdgeSpec { partitioning: Partitioning::Forward, stream: Stream::Main });
    let plan = job.plan().expect("a valid job");
    let id = plan.subtask_by_name("win[0]").expect("win[0]");
    assert_eq!(plan.subtask(id).inputs.len(), k);
    Subtask::new(&plan, id, Some(mode), 0, 0)
}

/// Record `n` of input `input` (its value names both).
fn record(input: usize, n: usize) -> Message {
    let value = (input * 1_000 + n) as i64;
    Message::Record(Record {
        key: 1,
        value,
        timestamp_ms: 10,
        source: SourceRef { partition: input as u32, offset: n as u64 },
        ingest_ns: 0,
        pane: None,
    })
}

fn marker() -> Message {
    Message::Barrier(Barrier { checkpoint_id: CHECKPOINT, timestamp_ns: 0 })
}

/// What the rule says happens, from the order in which the subtask takes its messages in.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    /// The step (0-based, over the messages taken in) at which the state is recorded and the
    /// markers go out; None: no marker arrived.
    snapshot_at: Option<usize>,
    /// Records taken in per input before the snapshot.
    received: Vec<u64>,
    /// Per input, the records taken in after the snapshot and before that input's marker.
    channel_state: Vec<Vec<Message>>,
    /// The step at which the last marker is taken in (the snapshot completes).
    complete_at: Option<usize>,
}

/// The rule, stated over the sequence of (input, message) in the order taken in.
fn chandy_lamport(k: usize, taken_in: &[(usize, Message)]) -> Expected {
    let mut e = Expected { received: vec![0; k], channel_state: vec![Vec::new(); k], ..Expected::default() };
    let mut marker_seen = vec![false; k];
    for (step, (input, message)) in taken_in.iter().enumerate() {
        match message {
            Message::Barrier(_) => {
                if e.snapshot_at.is_none() {
                    e.snapshot_at = Some(step);
                }
                marker_seen[*input] = true;
                if marker_seen.iter().all(|&m| m) {
                    e.complete_at = Some(step);
                }
            }
            Message::Record(_) if e.snapshot_at.is_none() => e.received[*input] += 1,
            Message::Record(_) if !marker_seen[*input] => e.channel_state[*input].push(message.clone()),
            _ => {}
        }
    }
    if e.snapshot_at.is_none() {
        e.received = vec![0; k];
    }
    e
}

/// One input's messages: records, with the marker after `marker_at` of them (None: no marker).
fn channel(input: usize, records: usize, marker_at: Option<usize>) -> Vec<Message> {
    let mut messages: Vec<Message> = (0..records).map(|n| record(input, n)).collect();
    if let Some(at) = marker_at {
        messages.insert(at.min(records), marker());
    }
    messages
}

/// What the subtask did, step by step: the messages in the order taken in, and at which step
/// it forwarded the marker and reported its snapshot.
struct Observed {
    taken_in: Vec<(usize, Message)>,
    forwarded_at: Option<usize>,
    report: Option<(usize, SnapshotReport)>,
    blocked_ever: bool,
}

/// Push the channels' messages in the order `choices` interleaves arrivals and steps, then the
/// rest, then step until nothing is left.
fn drive(subtask: &mut Subtask, channels: &[Vec<Message>], choices: &[u8]) -> Observed {
    let k = channels.len();
    let mut next = vec![0; k];
    let mut pushed: std::collections::VecDeque<(usize, Message)> = Default::default();
    let mut observed = Observed { taken_in: Vec::new(), forwarded_at: None, report: None, blocked_ever: false };
    let mut step = |subtask: &mut Subtask, pushed: &mut std::collections::VecDeque<(usize, Message)>| {
        let Some(taken) = subtask.step(0) else {
            assert!(pushed.is_empty(), "a message waits but the subtask takes none in: an input is blocked");
            return false;
        };
        let (input, message) = pushed.pop_front().expect("the subtask took in a message never pushed");
        assert_eq!(taken.input.index(), input, "not the oldest arrival: a marker overtook data or an input blocked");
        assert_eq!(taken.kind, message.kind());
        let n = observed.taken_in.len();
        observed.taken_in.push((input, message));
        for output in std::iter::from_fn(|| subtask.poll_output()) {
            match output {
                Output::Send { message: Message::Barrier(b), .. } if b.checkpoint_id == CHECKPOINT => {
                    observed.forwarded_at.get_or_insert(n);
                }
                Output::Snapshot(report) => {
                    assert!(observed.report.is_none(), "two snapshots for one checkpoint");
                    observed.report = Some((n, *report));
                }
                _ => {}
            }
        }
        observed.blocked_ever |= (0..k).any(|i| subtask.is_input_blocked(InputIndex::from_raw(i as u32)));
        true
    };
    let mut push = |subtask: &mut Subtask, input: usize, pushed: &mut std::collections::VecDeque<_>| {
        if let Some(message) = channels[input].get(next[input]) {
            next[input] += 1;
            subtask.push_input(InputIndex::from_raw(input as u32), message.clone());
            pushed.push_back((input, message.clone()));
        }
    };
    for &c in choices {
        let c = usize::from(c) % (k + 1);
        if c == k {
            step(subtask, &mut pushed);
        } else {
            push(subtask, c, &mut pushed);
        }
    }
    for (input, messages) in channels.iter().enumerate() {
        for _ in 0..messages.len() {
            push(subtask, input, &mut pushed);
        }
    }
    while step(subtask, &mut pushed) {}
    observed
}

fn scenario() -> impl Strategy<Value = (Vec<Vec<Message>>, Vec<u8>)> {
    (1usize..=4)
        .prop_flat_map(|k| {
            let one = (0usize..6).prop_flat_map(|records| (Just(records), prop::option::weighted(0.85, 0..=records)));
            (prop::collection::vec(one, k), prop::collection::vec(any::<u8>(), 0..40))
        })
        .prop_map(|(inputs, choices)| {
            let channels =
                inputs.iter().enumerate().map(|(i, &(records, marker_at))| channel(i, records, marker_at)).collect();
            (channels, choices)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random interleavings of records and markers on k inputs: the subtask takes its messages
    /// in arrival order, snapshots and forwards at the first marker, records exactly the
    /// channel state the rule says, and completes at the last marker — never earlier, never
    /// without every marker.
    #[test]
    fn the_subtask_follows_the_chandy_lamport_rule((channels, choices) in scenario()) {
        let k = channels.len();
        let mut subtask = window_subtask(k, CheckpointMode::ChandyLamport);
        let observed = drive(&mut subtask, &channels, &choices);
        let expected = chandy_lamport(k, &observed.taken_in);
        prop_assert!(!observed.blocked_ever, "Chandy–Lamport never blocks an input");
        prop_assert_eq!(observed.forwarded_at, expected.snapshot_at, "markers go out at the first marker");
        match (&observed.report, expected.complete_at) {
            (Some((at, report)), Some(complete_at)) => {
                prop_assert_eq!(*at, complete_at, "the snapshot completes at the last marker");
                prop_assert_eq!(report.alignment, SnapshotAlignment::ChandyLamport);
                prop_assert_eq!(&report.counts.received, &expected.received, "state recorded at the first marker");
                // A snapshot completed at its first marker carries no channel state at all.
                let mut channel_state = report.channel_state.clone();
                channel_state.resize(k, Vec::new());
                prop_assert_eq!(&channel_state, &expected.channel_state);
            }
            (None, None) => {}
            (report, complete_at) => {
                prop_assert!(false, "reported at {:?}, expected at {:?}", report.as_ref().map(|r| r.0), complete_at)
            }
        }
    }
}

/// The same arrivals under aligned barriers: an input that delivered its barrier is blocked
/// (records that arrived after it wait) — what Chandy–Lamport never does.
#[test]
fn aligned_barriers_block_where_markers_do_not() {
    let channels = vec![channel(0, 3, Some(0)), channel(1, 3, Some(3))];
    // Everything arrives first (input 0's barrier at its head), then the subtask runs.
    let arrive_all = [0u8, 0, 0, 0, 1, 1, 1, 1];
    let mut aligned = window_subtask(2, CheckpointMode::ExactlyOnce);
    let mut pushed = 0;
    for (i, c) in channels.iter().enumerate() {
        for m in c {
            aligned.push_input(InputIndex::from_raw(i as u32), m.clone());
            pushed += 1;
        }
    }
    assert_eq!(pushed, arrive_all.len());
    let mut order = Vec::new();
    while let Some(step) = aligned.step(0) {
        order.push((step.input.index(), step.kind));
    }
    // Aligned: input 0's barrier first, then input 1 drains up to its barrier while input 0's
    // records wait.
    assert_eq!(order[0], (0, MessageKind::Barrier));
    assert_eq!(&order[1..4], &[(1, MessageKind::Record); 3]);
    let mut cl = window_subtask(2, CheckpointMode::ChandyLamport);
    let observed = drive(&mut cl, &channels, &arrive_all);
    let order: Vec<(usize, MessageKind)> = observed.taken_in.iter().map(|(i, m)| (*i, m.kind())).collect();
    // Chandy–Lamport: in arrival order, input 0's records right after its marker.
    assert_eq!(
        &order[..4],
        &[(0, MessageKind::Barrier), (0, MessageKind::Record), (0, MessageKind::Record), (0, MessageKind::Record)]
    );
    assert!(!observed.blocked_ever);
    let (_, report) = observed.report.expect("complete");
    assert_eq!(report.channel_state[1].len(), 3, "input 1's three records were in flight");
}

/// The same arrivals under unaligned barriers: the barrier overtakes the records queued before
/// it — what a Chandy–Lamport marker never does.
#[test]
fn unaligned_barriers_overtake_where_markers_do_not() {
    let channels = vec![channel(0, 3, Some(3)), channel(1, 0, Some(0))];
    let mut unaligned = window_subtask(2, CheckpointMode::Unaligned);
    for (i, c) in channels.iter().enumerate() {
        for m in c {
            unaligned.push_input(InputIndex::from_raw(i as u32), m.clone());
        }
    }
    let first = unaligned.step(0).expect("a step");
    assert_eq!((first.input.index(), first.kind), (0, MessageKind::Barrier), "unaligned: the barrier goes first");
    let mut cl = window_subtask(2, CheckpointMode::ChandyLamport);
    let observed = drive(&mut cl, &channels, &[0, 0, 0, 0, 1]);
    let order: Vec<(usize, MessageKind)> = observed.taken_in.iter().map(|(i, m)| (*i, m.kind())).collect();
    assert_eq!(order[0], (0, MessageKind::Record), "Chandy–Lamport: the marker waits behind input 0's records");
    assert_eq!(order[3], (0, MessageKind::Barrier));
    let (_, report) = observed.report.expect("complete");
    assert_eq!(report.counts.received, vec![3, 0], "the state holds the three records taken in before the marker");
    assert!(report.channel_state.iter().all(Vec::is_empty));
}
