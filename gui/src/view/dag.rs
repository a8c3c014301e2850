//! The DAG view's model: where operators, subtasks and channels go (once per scenario), and what
//! is on the wires at the cursor (once per cursor position).
//!
//! Layout units: one column per topological depth; vertically, one unit per subtask row. The
//! panel scales units to pixels, so the layout is testable without egui.

use engine::checkpoint::CheckpointMode;
use engine::graph::{ChannelId, OperatorKind, Stream, SubtaskId};
use engine::message::Message;
use engine::CheckpointId;
use sim::kernel::TimeNs;
use sim::scenario::{NodeId, JOB_MANAGER};
use sim::{Scenario, World};

use crate::scrub::SendIndex;

/// Height of an operator box's title, in row units.
pub const HEADER_ROWS: f32 = 0.9;
/// Space between two operator boxes in one column, in row units.
pub const GAP_ROWS: f32 = 0.6;

#[derive(Clone, Debug, PartialEq)]
pub struct OperatorBox {
    pub operator: usize,
    pub name: String,
    /// "source", "window", ...
    pub kind: &'static str,
    /// One line about what it does ("tumbling 5 s, count").
    pub detail: String,
    pub column: usize,
    /// Top edge and height in row units.
    pub top: f32,
    pub height: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubtaskSlot {
    pub subtask: SubtaskId,
    pub operator: usize,
    pub name: String,
    pub task_manager: u32,
    pub column: usize,
    /// Vertical centre in row units.
    pub center: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChannelLine {
    pub channel: ChannelId,
    pub from: SubtaskId,
    pub to: SubtaskId,
    /// Carries a window's late-data side output.
    pub late: bool,
    /// Input index at the receiver, and how many inputs it has (to spread line ends).
    pub input: usize,
    pub inputs: usize,
    /// Position among the sender's output channels, and how many it has.
    pub output: usize,
    pub outputs: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DagLayout {
    pub columns: usize,
    /// Total height in row units.
    pub rows: f32,
    /// Indexed by operator id.
    pub operators: Vec<OperatorBox>,
    /// Indexed by subtask id.
    pub subtasks: Vec<SubtaskSlot>,
    /// Indexed by channel id.
    pub channels: Vec<ChannelLine>,
    pub task_managers: u32,
}

/// Longest path from a source, per operator: sources in column 0, each operator right of all
/// its inputs.
pub fn depths(scenario: &Scenario) -> Vec<usize> {
    let ops = &scenario.plan.operators;
    let mut depth: Vec<Option<usize>> = vec![None; ops.len()];
    // The graph is acyclic (the plan checked); relax until stable, at most one pass per operator.
    for _ in 0..=ops.len() {
        let mut changed = false;
        for (i, op) in ops.iter().enumerate() {
            let d = if op.upstream.is_empty() {
                Some(0)
            } else {
                op.upstream
                    .iter()
                    .map(|&u| depth[u].map(|d| d + 1))
                    .collect::<Option<Vec<_>>>()
                    .and_then(|v| v.into_iter().max())
            };
            if d.is_some() && d != depth[i] {
                depth[i] = d;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth.into_iter().map(|d| d.unwrap_or(0)).collect()
}

fn detail(kind: &OperatorKind) -> String {
    use engine::window::WindowKind;
    match kind {
        OperatorKind::Source(s) => format!("reads {} log partitions", s.partitions),
        OperatorKind::Map(f) => format!("{f:?}"),
        OperatorKind::Filter(f) => format!("{f:?}"),
        OperatorKind::Window(w) => {
            let shape = match w.kind {
                WindowKind::Tumbling { size_ms, offset_ms } => {
                    format!("tumbling {}{}", ms_text(size_ms), offset_text(offset_ms))
                }
                WindowKind::Sliding { size_ms, slide_ms, offset_ms } => {
                    format!("sliding {} every {}{}", ms_text(size_ms), ms_text(slide_ms), offset_text(offset_ms))
                }
                WindowKind::Session { gap_ms } => format!("session gap {}", ms_text(gap_ms)),
            };
            format!("{shape}, {:?}", w.aggregate).to_lowercase()
        }
        OperatorKind::Union => "merges its inputs".to_string(),
        OperatorKind::Sink(k) => format!("{} sink", k.label()),
    }
}

/// ", offset 5 s" for a shifted window, nothing for the usual offset 0.
fn offset_text(offset_ms: i64) -> String {
    if offset_ms == 0 {
        String::new()
    } else {
        format!(", offset {}", ms_text(offset_ms))
    }
}

fn ms_text(ms: i64) -> String {
    crate::view::duration_ms_text(ms)
}

impl DagLayout {
    pub fn build(scenario: &Scenario) -> DagLayout {
        let plan = &scenario.plan;
        let depth = depths(scenario);
        let columns = depth.iter().max().map_or(1, |d| d + 1);
        let height = |op: usize| HEADER_ROWS + plan.operators[op].parallelism as f32;
        let column_height = |c: usize| -> f32 {
            let boxes: Vec<usize> = (0..plan.operators.len()).filter(|&o| depth[o] == c).collect();
            boxes.iter().map(|&o| height(o)).sum::<f32>() + GAP_ROWS * boxes.len().saturating_sub(1) as f32
        };
        let rows = (0..columns).map(column_height).fold(0.0f32, f32::max);
        let mut operators = Vec::new();
        let mut subtasks: Vec<Option<SubtaskSlot>> = vec![None; plan.subtasks.len()];
        for column in 0..columns {
            // Centre each column so that short ones sit in the middle.
            let mut top = (rows - column_height(column)) / 2.0;
            for (o, op) in plan.operators.iter().enumerate().filter(|(o, _)| depth[*o] == column) {
                operators.push(OperatorBox {
                    operator: o,
                    name: op.name.clone(),
                    kind: op.kind.label(),
                    detail: detail(&op.kind),
                    column,
                    top,
                    height: height(o),
                });
                for (k, s) in op.subtasks().enumerate() {
                    subtasks[s.index()] = Some(SubtaskSlot {
                        subtask: s,
                        operator: o,
                        name: plan.subtask(s).name.clone(),
                        task_manager: scenario.placement[s.index()],
                        column,
                        center: top + HEADER_ROWS + k as f32 + 0.5,
                    });
                }
                top += height(o) + GAP_ROWS;
            }
        }
        // Indexed by operator id from here on.
        operators.sort_by_key(|o| o.operator);
        let mut output_of = vec![(0, 0); plan.channels.len()];
        for s in &plan.subtasks {
            let outs: Vec<ChannelId> = s.outputs.iter().flat_map(|g| g.channels.iter().copied()).collect();
            for (k, &c) in outs.iter().enumerate() {
                output_of[c.index()] = (k, outs.len());
            }
        }
        let channels = plan
            .channels
            .iter()
            .map(|c| ChannelLine {
                channel: c.id,
                from: c.from,
                to: c.to,
                late: c.stream == Stream::Late,
                input: c.input_index.index(),
                inputs: plan.subtask(c.to).inputs.len(),
                output: output_of[c.id.index()].0,
                outputs: output_of[c.id.index()].1,
            })
            .collect();
        DagLayout {
            columns,
            rows,
            operators,
            subtasks: subtasks.into_iter().map(|s| s.expect("every subtask belongs to an operator")).collect(),
            channels,
            task_managers: scenario.task_managers,
        }
    }
}

/// What a message on the wire is, for drawing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flight {
    Record,
    /// Event time, ms.
    Watermark(i64),
    Barrier(CheckpointId),
    Idle(bool),
    EndOfInput,
}

impl Flight {
    fn of(message: &Message) -> Flight {
        match message {
            Message::Record(_) => Flight::Record,
            Message::Watermark(w) => Flight::Watermark(*w),
            Message::Barrier(b) => Flight::Barrier(b.checkpoint_id),
            Message::Idle(i) => Flight::Idle(*i),
            Message::EndOfInput => Flight::EndOfInput,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct InFlight {
    pub channel: ChannelId,
    pub what: Flight,
    /// Unknown only if the trace lacks the send (it never should).
    pub send_ns: Option<TimeNs>,
    pub arrival_ns: TimeNs,
    /// 0 at the sender, 1 at the receiver.
    pub progress: f32,
    /// The receiver is down or cancelled (its region fails over): it will be dropped on arrival.
    pub doomed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelStatus {
    /// Messages on the wire.
    pub in_flight: usize,
    /// Messages arrived and waiting in the receiver's input buffer.
    pub queued: usize,
    /// The receiver does not read this input until a barrier arrives on its other inputs.
    pub blocked: bool,
    /// Every buffer of the channel is taken (credit-based flow control): the sender waits.
    pub full: bool,
    /// A partition between its two task managers is on: its messages wait.
    pub cut: bool,
    /// Extra latency on its link right now (a latency spike), in ns.
    pub delay_ns: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubtaskStatus {
    /// Its task manager's process is up (a crashed one loses its tasks until the job restarts).
    pub alive: bool,
    pub finished: bool,
    /// Sends "idle": does not hold downstream watermarks back.
    pub idle: bool,
    /// Checkpoint being aligned (some barrier seen, not all).
    pub aligning: Option<CheckpointId>,
    /// Still processing an earlier message at the cursor.
    pub busy: bool,
    /// Waiting for credit: an output channel is full (backpressure).
    pub backpressured: bool,
    pub records_in: u64,
    pub records_out: u64,
}

/// The wires at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DagState {
    /// Sorted by (channel, arrival): the heap's order is not something to show.
    pub in_flight: Vec<InFlight>,
    pub channels: Vec<ChannelStatus>,
    pub subtasks: Vec<SubtaskStatus>,
    /// Task managers (0-based) whose process is down.
    pub down: Vec<u32>,
    /// Per task manager (0-based): the network faults on its links at the cursor, in words
    /// ("cut off from the job manager", "partitioned from tm-2", "+200 ms to tm-1").
    pub link_faults: Vec<Vec<String>>,
    /// The job is between a detected failure and its restart.
    pub restarting: bool,
    /// Job attempt: 0, then +1 per restart.
    pub attempt: u32,
    /// What a subtask between a checkpoint's first and last barrier is doing: the checkpoint
    /// mode (None without checkpoints), and whether an aligned-checkpoint timeout applies.
    pub mode: Option<(CheckpointMode, bool)>,
}

impl DagState {
    pub fn build(world: &World, sends: &SendIndex, cursor_ns: TimeNs) -> DagState {
        let plan = &world.scenario.plan;
        let mut channels = vec![ChannelStatus::default(); plan.channels.len()];
        let mut in_flight = Vec::new();
        for (channel, arrival_ns, attempt, message) in world.in_flight() {
            // A buffer of an earlier attempt of its receiver is dropped on arrival: it is not
            // really there.
            if attempt != world.tasks[plan.channel(channel).to.index()].attempt {
                continue;
            }
            let send_ns = sends.send_time(channel, arrival_ns, cursor_ns);
            let progress = match send_ns {
                Some(s) if arrival_ns > s => {
                    (cursor_ns.saturating_sub(s) as f64 / (arrival_ns - s) as f64).clamp(0.0, 1.0) as f32
                }
                _ => 0.5,
            };
            channels[channel.index()].in_flight += 1;
            in_flight.push(InFlight {
                channel,
                what: Flight::of(message),
                send_ns,
                arrival_ns,
                progress,
                // A cancelled receiver (its region fails over) drops it on arrival.
                doomed: !world.tasks[plan.channel(channel).to.index()].alive,
            });
        }
        in_flight.sort_by(|a, b| {
            (a.channel, a.arrival_ns, a.send_ns, a.what).cmp(&(b.channel, b.arrival_ns, b.send_ns, b.what))
        });
        for c in &plan.channels {
            let subtask = &world.tasks[c.to.index()].subtask;
            channels[c.id.index()].queued = subtask.gate().queued_on(c.input_index);
            // A stopped task keeps its aligner until the restart replaces it: not "blocked".
            channels[c.id.index()].blocked = world.tasks[c.to.index()].alive && subtask.is_input_blocked(c.input_index);
            let status = &mut channels[c.id.index()];
            status.full = world.scenario.channel_capacity.is_some_and(|cap| world.channel_occupancy(c.id) >= cap);
        }
        let subtasks = world
            .tasks
            .iter()
            .map(|t| {
                let counters = t.subtask.counters();
                SubtaskStatus {
                    alive: t.alive,
                    finished: t.subtask.is_finished(),
                    idle: t.subtask.is_output_idle(),
                    aligning: t.subtask.aligner().pending().map(|p| p.checkpoint_id),
                    busy: t.busy_until_ns > cursor_ns,
                    backpressured: t.backpressured,
                    records_in: counters.records_in,
                    records_out: counters.records_out,
                }
            })
            .collect();
        let down = (1..world.nodes.len()).filter(|&n| !world.nodes[n].alive).map(|n| n as u32 - 1).collect();
        let link_faults = link_faults(world, cursor_ns, &mut channels);
        DagState {
            in_flight,
            channels,
            subtasks,
            down,
            link_faults,
            restarting: world.restarting(),
            attempt: world.attempt(),
            mode: checkpoint_mode(&world.scenario),
        }
    }

    /// A subtask's state while checkpoint `cp` has reached some of its inputs, long and short:
    /// only exactly-once aligns (blocks inputs); at-least-once counts barriers and blocks
    /// nothing, and an unaligned subtask has snapshotted and records the in-flight data.
    pub fn pending_checkpoint_text(&self, cp: CheckpointId) -> (String, String) {
        pending_checkpoint_text(self.mode, cp)
    }
}

/// A scenario's checkpoint mode, and whether an aligned-checkpoint timeout applies.
pub fn checkpoint_mode(scenario: &Scenario) -> Option<(CheckpointMode, bool)> {
    scenario.checkpoint_config().map(|c| (c.mode, c.aligned_timeout_ns.is_some()))
}

/// [`DagState::pending_checkpoint_text`] for a mode (the inspector's status says it too).
pub fn pending_checkpoint_text(mode: Option<(CheckpointMode, bool)>, cp: CheckpointId) -> (String, String) {
    match mode {
        Some((CheckpointMode::AtLeastOnce, _)) => (format!("barrier {cp}, not blocking"), format!("b. {cp}")),
        Some((CheckpointMode::Unaligned | CheckpointMode::ChandyLamport, false)) => {
            (format!("channel state {cp}"), format!("ch. {cp}"))
        }
        _ => (format!("aligning {cp}"), format!("al. {cp}")),
    }
}

/// The partitions and latency spikes on at `cursor_ns`: marked on the channels they hold up, and
/// described per task manager.
fn link_faults(world: &World, cursor_ns: TimeNs, channels: &mut [ChannelStatus]) -> Vec<Vec<String>> {
    use sim::faults::Fault;
    let tms = world.nodes.len().saturating_sub(1);
    let mut notes: Vec<Vec<String>> = vec![Vec::new(); tms];
    let name = |n: NodeId| if n == JOB_MANAGER { "the job manager".to_string() } else { n.name() };
    let same_link = |x: (NodeId, NodeId), y: (NodeId, NodeId)| x == y || x == (y.1, y.0);
    for fault in &world.faults {
        match *fault {
            Fault::Partition { a, b, from_ns, until_ns } if from_ns <= cursor_ns && cursor_ns < until_ns => {
                for (me, other) in [(a, b), (b, a)] {
                    if let Some(list) = me.task_manager_index().and_then(|i| notes.get_mut(i as usize)) {
                        list.push(if other == JOB_MANAGER {
                            "cut off from the job manager".to_string()
                        } else {
                            format!("partitioned from {}", name(other))
                        });
                    }
                }
                for c in &world.scenario.plan.channels {
                    let link = (world.tasks[c.from.index()].node, world.tasks[c.to.index()].node);
                    if same_link(link, (a, b)) {
                        if let Some(status) = channels.get_mut(c.id.index()) {
                            status.cut = true;
                        }
                    }
                }
            }
            Fault::LatencySpike { link, from_ns, until_ns, extra_ns }
                if from_ns <= cursor_ns && cursor_ns < until_ns =>
            {
                let extra = crate::view::duration_text(extra_ns);
                match link {
                    Some((a, b)) => {
                        for (me, other) in [(a, b), (b, a)] {
                            if let Some(list) = me.task_manager_index().and_then(|i| notes.get_mut(i as usize)) {
                                list.push(format!("+{extra} to {}", name(other)));
                            }
                        }
                    }
                    None => notes.iter_mut().for_each(|l| l.push(format!("+{extra} on every link"))),
                }
                for c in &world.scenario.plan.channels {
                    let here = (world.tasks[c.from.index()].node, world.tasks[c.to.index()].node);
                    if link.is_none_or(|l| same_link(here, l)) {
                        if let Some(status) = channels.get_mut(c.id.index()) {
                            status.delay_ns += extra_ns;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::scrub::RecordedRun;

    fn clickstream() -> Scenario {
        Scenario::default_scenario()
    }

    #[test]
    fn operators_go_left_to_right_by_depth_and_subtasks_stack_inside() {
        let layout = DagLayout::build(&clickstream());
        let column_of = |name: &str| layout.operators.iter().find(|o| o.name == name).unwrap().column;
        assert_eq!((column_of("clicks"), column_of("counts"), column_of("out"), column_of("late")), (0, 1, 2, 2));
        assert_eq!(layout.columns, 3);
        let counts = layout.operators.iter().find(|o| o.name == "counts").unwrap();
        let slots: Vec<&SubtaskSlot> = layout.subtasks.iter().filter(|s| s.operator == counts.operator).collect();
        assert_eq!(slots.len(), 3);
        for pair in slots.windows(2) {
            assert!((pair[1].center - pair[0].center - 1.0).abs() < 1e-6, "one row per subtask");
        }
        assert!(slots.iter().all(|s| s.center > counts.top && s.center < counts.top + counts.height));
        assert_eq!(counts.detail, "tumbling 5 s, count");
    }

    #[test]
    fn subtasks_carry_their_task_manager_and_late_edges_are_marked() {
        let scenario = clickstream();
        let layout = DagLayout::build(&scenario);
        for slot in &layout.subtasks {
            assert_eq!(slot.task_manager, scenario.placement[slot.subtask.index()]);
        }
        let late_sink = scenario.plan.operator_by_name("late").unwrap();
        let into_late: Vec<&ChannelLine> =
            layout.channels.iter().filter(|c| layout.subtasks[c.to.index()].operator == late_sink).collect();
        assert!(!into_late.is_empty() && into_late.iter().all(|c| c.late));
    }

    #[test]
    fn union_sits_right_of_both_branches() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/cluster-union.ron")).unwrap();
        let scenario = Scenario::parse(&text, "cluster-union.ron").unwrap();
        let d = depths(&scenario);
        let by = |n: &str| d[scenario.plan.operator_by_name(n).unwrap()];
        assert_eq!(
            (by("events"), by("small"), by("large"), by("scaled"), by("all"), by("max"), by("out")),
            (0, 1, 1, 2, 3, 4, 5)
        );
    }

    #[test]
    fn messages_in_flight_are_found_with_their_send_time() {
        let mut run = RecordedRun::record_every(Arc::new(clickstream()), 42, 20_000);
        let sends = run.sends.clone();
        // Some moment with something on the wire: the middle of the first cross-node send.
        let (send, arrival) = run
            .trace
            .iter()
            .find_map(|e| e.payload().arrival_ns().filter(|&arrival| arrival > e.time_ns + 2).map(|a| (*e, a)))
            .unwrap();
        let (t, channel) = (send.time_ns + (arrival - send.time_ns) / 2, send.channel_id());
        let world = run.world_at(t);
        let state = DagState::build(world, &sends, t);
        let flight =
            state.in_flight.iter().find(|f| f.channel == channel && f.arrival_ns == arrival).expect("on the wire");
        assert_eq!(flight.send_ns, Some(send.time_ns));
        assert!(flight.progress > 0.3 && flight.progress < 0.7, "{}", flight.progress);
        assert_eq!(
            state.channels[channel.index()].in_flight,
            state.in_flight.iter().filter(|f| f.channel == channel).count()
        );
        let sorted =
            state.in_flight.windows(2).all(|w| (w[0].channel, w[0].arrival_ns) <= (w[1].channel, w[1].arrival_ns));
        assert!(sorted);
    }

    #[test]
    fn a_slow_operator_fills_its_channels_and_backpressures_the_source() {
        let text = r#"Scenario(
            name: "backpressure",
            duration_ms: 3_000,
            cluster: (task_managers: 2, slots_per_task_manager: 1),
            network: (channel_capacity: 2),
            source: Generator((partitions: 1, rate_per_s: 2_000, keys: 4)),
            pipeline: [
                Source(name: "src", parallelism: 1),
                KeyBy(Key),
                Window(name: "slow", kind: Tumbling(size_ms: 1_000), aggregate: Count, parallelism: 1, cost_us: 2_000),
                Sink(name: "out", parallelism: 1),
            ],
        )"#;
        let scenario = Arc::new(Scenario::parse(text, "backpressure.ron").unwrap());
        let mut run = RecordedRun::record(scenario, 1);
        let sends = run.sends.clone();
        let at = run.end_ns / 4;
        let state = DagState::build(run.world_at(at), &sends, at);
        let into_slow = run.scenario.plan.subtask(run.scenario.plan.subtask_by_name("slow[0]").unwrap()).inputs[0];
        assert!(state.channels[into_slow.index()].full, "{:?}", state.channels[into_slow.index()]);
        assert!(state.subtasks[0].backpressured);
    }
}
