//! Differential property test: the engine's `WatermarkCombiner` against an executable statement
//! of Flink's `StatusWatermarkValve` (flink-streaming-java, `runtime.watermarkstatus`), written
//! from Flink's code, not from the engine's:
//!
//! - `inputWatermark`: ignored while the channel or the whole valve is idle, or when not above
//!   the channel's last watermark; a channel that was unaligned becomes aligned once its
//!   watermark reaches the last output; then the minimum over aligned channels is emitted if it
//!   is above the last output.
//! - `inputWatermarkStatus(IDLE)` on an active channel: it becomes idle and unaligned; if no
//!   channel is active any more, the maximum over all channels is emitted (if above the last
//!   output) and the valve goes idle; otherwise the minimum over the aligned channels is
//!   re-derived.
//! - `inputWatermarkStatus(ACTIVE)` on an idle channel: active again, aligned at once if its
//!   watermark is at least the last output; the valve becomes active; the minimum is re-derived.
//!
//! Two details follow FLINK-40475 (merged August 2026): the all-idle flush is unconditional, and
//! the minimum is re-derived when a channel comes back. Before it, Flink flushed only when the
//! last channel to go idle held the last output watermark, which made the result depend on the
//! order inputs went idle (the defect FLINK-7728 had fixed); the engine does what Flink does now.
//!
//! Inputs follow Flink's protocol: a channel sends ACTIVE before a watermark after IDLE (the
//! engine's sources and valves do, and Flink's `RecordWriterOutput` drops watermarks while
//! idle), so the engine's leniency towards a watermark on an idle channel is not exercised.

use engine::graph::InputIndex;
use engine::watermark::WatermarkCombiner;
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Step {
    Watermark(usize, i64),
    Idle(usize),
    Active(usize),
}

#[derive(Clone, Copy)]
struct Channel {
    watermark: i64,
    active: bool,
    aligned: bool,
}

/// `StatusWatermarkValve`, one subpartition per channel.
struct Valve {
    channels: Vec<Channel>,
    last_output: i64,
    idle: bool,
    /// What the valve emitted: `Ok(watermark)` or `Err(idle)` for a status.
    out: Vec<Result<i64, bool>>,
}

impl Valve {
    fn new(n: usize) -> Self {
        let channel = Channel { watermark: i64::MIN, active: true, aligned: true };
        Valve { channels: vec![channel; n], last_output: i64::MIN, idle: false, out: Vec::new() }
    }

    fn find_and_output_new_min(&mut self) {
        let min = self.channels.iter().filter(|c| c.aligned).map(|c| c.watermark).min();
        if let Some(min) = min.filter(|&m| m > self.last_output) {
            self.last_output = min;
            self.out.push(Ok(min));
        }
    }

    fn find_and_output_max(&mut self) {
        let max = self.channels.iter().map(|c| c.watermark).max().unwrap_or(i64::MIN);
        if max > self.last_output {
            self.last_output = max;
            self.out.push(Ok(max));
        }
    }

    fn input_watermark(&mut self, i: usize, w: i64) {
        if self.idle || !self.channels[i].active || w <= self.channels[i].watermark {
            return;
        }
        self.channels[i].watermark = w;
        if !self.channels[i].aligned && w >= self.last_output {
            self.channels[i].aligned = true;
        }
        self.find_and_output_new_min();
    }

    fn input_idle(&mut self, i: usize) {
        if !self.channels[i].active {
            return;
        }
        self.channels[i].active = false;
        self.channels[i].aligned = false;
        if !self.channels.iter().any(|c| c.active) {
            self.find_and_output_max();
            self.idle = true;
            self.out.push(Err(true));
        } else if self.channels[i].watermark == self.last_output {
            self.find_and_output_new_min();
        }
    }

    fn input_active(&mut self, i: usize) {
        if self.channels[i].active {
            return;
        }
        self.channels[i].active = true;
        if self.channels[i].watermark >= self.last_output {
            self.channels[i].aligned = true;
        }
        if self.idle {
            self.idle = false;
            self.out.push(Err(false));
        }
        self.find_and_output_new_min();
    }
}

fn engine(n: usize, steps: &[Step]) -> Vec<Result<i64, bool>> {
    let mut c = WatermarkCombiner::new(n);
    let mut out = Vec::new();
    for &step in steps {
        let update = match step {
            Step::Watermark(i, w) => c.on_watermark(InputIndex::from_raw(i as u32), w),
            Step::Idle(i) => c.on_idle(InputIndex::from_raw(i as u32), true),
            Step::Active(i) => c.on_idle(InputIndex::from_raw(i as u32), false),
        };
        // The order a subtask sends them in: coming back, the status first; going idle, the
        // flushed watermark first (`Subtask::apply_valve`).
        if update.idle == Some(false) {
            out.push(Err(false));
        }
        out.extend(update.watermark.map(Ok));
        if update.idle == Some(true) {
            out.push(Err(true));
        }
    }
    out
}

fn flink(n: usize, steps: &[Step]) -> Vec<Result<i64, bool>> {
    let mut v = Valve::new(n);
    for &step in steps {
        match step {
            Step::Watermark(i, w) => v.input_watermark(i, w),
            Step::Idle(i) => v.input_idle(i),
            Step::Active(i) => v.input_active(i),
        }
    }
    v.out
}

/// Steps that keep Flink's protocol: watermarks only on channels that are active.
fn steps(n: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec((0..n, 0u8..10, 0i64..60), 1..80).prop_map(move |raw| {
        let mut active = vec![true; n];
        raw.into_iter()
            .map(|(i, kind, w)| match kind {
                0 | 1 if active[i] => {
                    active[i] = false;
                    Step::Idle(i)
                }
                _ if !active[i] => {
                    active[i] = true;
                    Step::Active(i)
                }
                _ => Step::Watermark(i, w),
            })
            .collect()
    })
}

/// The case FLINK-40475 is about: channel 2 comes back behind the output (unaligned), the
/// others go idle, then channel 2: the valve flushes channel 0's 100, whichever went idle last.
#[test]
fn all_idle_flushes_the_maximum_even_when_the_last_channel_lags() {
    use Step::*;
    let steps = [
        Watermark(0, 100),
        Watermark(1, 50),
        Watermark(2, 60),
        Idle(0),
        Idle(2),
        Watermark(1, 80),
        Active(2),
        Idle(1),
        Idle(2),
    ];
    assert_eq!(flink(3, &steps), vec![Ok(50), Ok(80), Ok(100), Err(true)]);
    assert_eq!(engine(3, &steps), flink(3, &steps));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn combiner_matches_flinks_valve((n, steps) in (1usize..=5).prop_flat_map(|n| (Just(n), steps(n)))) {
        prop_assert_eq!(engine(n, &steps), flink(n, &steps));
    }
}

/// A subtask whose inputs were all idle and one comes back ahead of the output: it announces
/// itself active before it forwards the watermark (Flink drops watermarks on an idle channel);
/// going idle, it forwards the flushed maximum first.
#[test]
fn a_subtask_sends_active_before_and_idle_after_the_watermark() {
    use engine::graph::{EdgeSpec, JobGraph, OperatorKind, OperatorSpec, SourceSpec, Stream};
    use engine::message::Message;
    use engine::partition::Partitioning;
    use engine::sink::SinkKind;
    use engine::subtask::{Output, Subtask};
    use engine::transform::{KeySelector, MapFn};
    use engine::watermark::WatermarkStrategy;

    let mut job = JobGraph::new();
    let op = |name: &str, parallelism, kind| OperatorSpec { name: name.into(), parallelism, kind };
    let spec = SourceSpec { partitions: 2, watermarks: WatermarkStrategy::None };
    let s = job.add_operator(op("src", 2, OperatorKind::Source(spec)));
    let m = job.add_operator(op("map", 1, OperatorKind::Map(MapFn::AddToValue(0))));
    let k = job.add_operator(op("out", 1, OperatorKind::Sink(SinkKind::Plain)));
    job.connect(s, m, EdgeSpec { partitioning: Partitioning::Hash(KeySelector::Key), stream: Stream::Main });
    job.connect(m, k, EdgeSpec { partitioning: Partitioning::Forward, stream: Stream::Main });
    let plan = job.plan().unwrap();
    let mut t = Subtask::new(&plan, plan.subtask_by_name("map[0]").unwrap(), None, 0, 0);
    let input = |i| InputIndex::from_raw(i);
    for message in [
        (0, Message::Watermark(10)),
        (1, Message::Watermark(20)),
        (0, Message::Idle(true)),
        (1, Message::Idle(true)),
        (0, Message::Watermark(30)),
        (0, Message::Idle(false)),
        (0, Message::Watermark(40)),
    ] {
        t.push_input(input(message.0), message.1);
    }
    while t.step(0).is_some() {}
    let sent: Vec<Message> = std::iter::from_fn(|| t.poll_output())
        .filter_map(|o| if let Output::Send { message, .. } = o { Some(message) } else { None })
        .collect();
    // The watermark 30 on the idle input 0 is Flink-dropped upstream; the engine takes it as
    // activity, and still sends the status first.
    assert_eq!(
        sent,
        vec![
            Message::Watermark(10),
            Message::Watermark(20),
            Message::Idle(true),
            Message::Idle(false),
            Message::Watermark(30),
            Message::Watermark(40),
        ]
    );
}
