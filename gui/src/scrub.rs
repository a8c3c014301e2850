//! A recorded run the workbench can scrub: the full trace, the final state, and world snapshots
//! every few thousand events, so that the world at any moment is "restore the nearest earlier
//! snapshot, step forward". The world is plain data, so this is exact, not approximate.
//!
//! One pass ([`RunRecorder`]), driven in bounded slices: before each snapshot the trace so far is
//! moved out of the world (a snapshot never carries trace), and snapshots share the sink store's
//! rows with the live world, so memory is the trace plus each snapshot's current state, linear in
//! the run's length (`scrub_bench memory` measures it against deep-copied snapshots).

use std::sync::Arc;

use engine::graph::ChannelId;
use sim::faults::Fault;
use sim::kernel::TimeNs;
use sim::recording::{TraceEvent, TraceKind};
use sim::{RunOptions, Scenario, StopReason, World};

use crate::time_control::Navigator;
use crate::view::markers::{self, Marker, MarkerKind};

/// How many trace events after a checkpoint's trigger "Next checkpoint" looks at for the first
/// barrier sent (it is a network hop away: a few hundred events at most in practice).
const BARRIER_SEARCH: usize = 100_000;

/// Keep a world snapshot every this many kernel events: restoring then costs at most this many
/// steps (about a millisecond per 10 000 on a laptop).
pub const SNAPSHOT_EVERY_EVENTS: u64 = 20_000;

/// How snapshots copy the world's history-sized stores (the sink store's rows).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SnapshotCopy {
    /// Share them with the live world (a snapshot costs the current state, plus the rows that
    /// changed since the previous snapshot).
    #[default]
    Shared,
    /// Copy them whole, as the recording did before the stores were shared: memory quadratic in
    /// the run's length. Only `scrub_bench` asks for this, to measure the difference.
    Deep,
    /// Share the rows but copy the upsert index whole, as before the index was shared (an
    /// idempotent sink's index has an entry per key and window ever written). Benchmarks only.
    CopyUpserts,
}

/// The world after `events` kernel events.
#[derive(Clone)]
pub struct Snapshot {
    pub events: u64,
    /// The earliest cursor this snapshot serves. Usually the world's clock; a fork's first
    /// snapshot serves from the fork's cursor on, although the world made there may read a
    /// later clock (a step can run a task past the time it was popped at).
    pub now_ns: TimeNs,
    /// Shared: a forked run reuses its parent's snapshots before the fork point.
    pub world: Arc<World>,
}

/// Where a run was forked from its parent, and what was done there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkInfo {
    pub parent: usize,
    pub at_ns: TimeNs,
    pub what: String,
}

/// A fault injected by hand at the cursor `cursor_ns`: it fires at `fired_ns`, the first whole
/// millisecond after the cursor at which nothing else was already due (see `fault_moment`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injection {
    pub cursor_ns: TimeNs,
    pub fired_ns: TimeNs,
    pub fault: Fault,
}

/// The hash a recorder folds from `trace`: equal to the world's own hash when the recording kept
/// every event once, in order (tests and `scrub_bench` check it).
pub fn trace_hash(trace: &[TraceEvent]) -> u64 {
    let mut r = sim::recording::Recorder::new(false);
    for e in trace {
        r.record_event(e);
    }
    r.hash()
}

/// A fresh world of `scenario` (with `faults` instead of the scenario's own, when given), with
/// the injections replayed at their moments.
#[cfg(test)]
fn replay(
    scenario: Arc<Scenario>,
    seed: u64,
    options: RunOptions,
    faults: Option<&[Fault]>,
    injections: &[Injection],
) -> World {
    let mut w = match faults {
        Some(f) => World::with_faults(scenario, seed, options, f.to_vec()),
        None => World::new(scenario, seed, options),
    };
    for i in injections {
        w.run_until(i.cursor_ns);
        w.add_fault(i.fault.clone());
    }
    w
}

/// Counters for the benchmark and the status line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScrubStats {
    /// Times a snapshot was restored (a jump backwards, or far forwards).
    pub restores: u64,
    /// Kernel events stepped to materialise cursors.
    pub events_stepped: u64,
}

/// For each channel, `(arrival, send)` of every message sent on it, sorted: in-flight messages
/// in the event queue carry only their arrival time, the trace knows when they left.
#[derive(Clone, Debug, Default)]
pub struct SendIndex {
    per_channel: Vec<Vec<(TimeNs, TimeNs)>>,
}

impl SendIndex {
    pub fn build(trace: &[TraceEvent], channels: usize) -> SendIndex {
        let mut per_channel: Vec<Vec<(TimeNs, TimeNs)>> = vec![Vec::new(); channels];
        for e in trace {
            if let (Some(arrival_ns), Some(list)) =
                (e.payload().arrival_ns(), per_channel.get_mut(e.channel_id().index()))
            {
                list.push((arrival_ns, e.time_ns));
            }
        }
        for list in &mut per_channel {
            // Arrivals are FIFO per channel within a job attempt; sort anyway for restarts.
            list.sort_unstable();
        }
        SendIndex { per_channel }
    }

    /// When the message arriving on `channel` at `arrival_ns` was sent, as seen at `cursor_ns`
    /// (several messages can share an arrival time; take the latest send not in the future).
    pub fn send_time(&self, channel: ChannelId, arrival_ns: TimeNs, cursor_ns: TimeNs) -> Option<TimeNs> {
        let list = self.per_channel.get(channel.index())?;
        let start = list.partition_point(|&(a, _)| a < arrival_ns);
        let end = list.partition_point(|&(a, _)| a <= arrival_ns);
        list[start..end].iter().rev().map(|&(_, s)| s).find(|&s| s <= cursor_ns)
    }
}

pub struct RecordedRun {
    /// What the workbench calls this run ("original", "crash tm-1 at 4.2 s").
    pub label: String,
    pub scenario: Arc<Scenario>,
    pub seed: u64,
    /// Every trace event, in time order.
    pub trace: Vec<TraceEvent>,
    /// The world at the end of the run (its trace moved into `trace`).
    pub final_world: World,
    pub stop: StopReason,
    pub end_ns: TimeNs,
    pub markers: Vec<Marker>,
    pub sends: SendIndex,
    pub fork: Option<ForkInfo>,
    /// Every fault injected by hand on the way to this run (a fork of a fork has two).
    pub injections: Vec<Injection>,
    /// The fault schedule the run was started with instead of the scenario's own (a run of the
    /// same clicked faults under another guarantee or sink); None: the scenario's.
    pub faults: Option<Vec<Fault>>,
    pub stats: ScrubStats,
    snapshots: Vec<Snapshot>,
    /// Snapshots before this index are the parent's (a fork's past): a world stepped on from
    /// one of them never had this run's fault, so it cannot serve a cursor past the fork.
    own_from: usize,
    every: u64,
    /// The last materialised world, kept so that small forward moves only step a few events.
    current: World,
    /// The snapshot `current` was restored from, and the cursor it was last stepped to (every
    /// event at or before it has happened; its clock may read later, see [`Snapshot::now_ns`]).
    current_from: usize,
    current_ns: TimeNs,
}

/// A run being recorded, a bounded number of kernel events at a time ([`RunRecorder::advance`]),
/// so that whoever drives it decides where the work happens: a worker thread natively
/// ([`crate::recording::Recording`]), slices between frames where there are no threads (the web),
/// or all at once (tests, benchmarks).
///
/// One pass: the world keeps its trace, and before every snapshot the trace so far is moved out
/// into the recording, so no snapshot carries any of it; snapshots share the sink store's rows
/// with the live world ([`sim::chunked::ChunkedVec`]). Snapshot memory follows the state at each
/// snapshot, not the history.
pub struct RunRecorder {
    label: String,
    world: World,
    trace: Vec<TraceEvent>,
    snapshots: Vec<Snapshot>,
    every: u64,
    last_snapshot: Option<u64>,
    copy: SnapshotCopy,
    fork: Option<ForkInfo>,
    injections: Vec<Injection>,
    faults: Option<Vec<Fault>>,
    stop: Option<StopReason>,
    /// How many of `snapshots` were inherited from a parent (see [`RecordedRun::own_from`]).
    inherited: usize,
}

impl RunRecorder {
    /// Record `world` on from where it is; `trace` is what happened before (a fork's prefix),
    /// `snapshots` the snapshots before it.
    fn new(label: String, mut world: World, trace: Vec<TraceEvent>, snapshots: Vec<Snapshot>, every: u64) -> Self {
        world.recorder.keep_events(true);
        RunRecorder {
            label,
            world,
            trace,
            inherited: snapshots.len(),
            snapshots,
            every: every.max(1),
            last_snapshot: None,
            copy: SnapshotCopy::Shared,
            fork: None,
            injections: Vec::new(),
            faults: None,
            stop: None,
        }
    }

    /// The scenario's own run.
    pub fn original(scenario: Arc<Scenario>, seed: u64) -> Self {
        RunRecorder::new(
            "original run".into(),
            World::new(scenario, seed, traced_options()),
            Vec::new(),
            Vec::new(),
            SNAPSHOT_EVERY_EVENTS,
        )
    }

    /// `scenario` with this fault schedule instead of its own.
    pub fn with_faults(scenario: Arc<Scenario>, seed: u64, faults: Vec<Fault>, label: String) -> Self {
        let world = World::with_faults(scenario, seed, traced_options(), faults.clone());
        let mut r = RunRecorder::new(label, world, Vec::new(), Vec::new(), SNAPSHOT_EVERY_EVENTS);
        r.faults = Some(faults);
        r
    }

    /// Snapshot every `every` kernel events instead (tests use small recordings).
    pub fn every(mut self, every: u64) -> Self {
        self.every = every.max(1);
        self
    }

    /// How snapshots copy the sink store (benchmarks compare).
    pub fn copying(mut self, copy: SnapshotCopy) -> Self {
        self.copy = copy;
        self
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Call the run this instead (a fork's `what` too: it is the fork's label).
    pub fn labelled(mut self, label: String) -> Self {
        if let Some(fork) = &mut self.fork {
            fork.what = label.clone();
        }
        self.label = label;
        self
    }

    /// When the last fault injected by hand fires (a fork's: the first free whole millisecond
    /// after its cursor).
    pub fn fired_ns(&self) -> Option<TimeNs> {
        self.injections.last().map(|i| i.fired_ns)
    }

    /// Process at most `budget` kernel events (at least one); true once the run has ended.
    pub fn advance(&mut self, budget: u64) -> bool {
        if self.stop.is_some() {
            return true;
        }
        for _ in 0..budget.max(1) {
            if self.last_snapshot.is_none_or(|l| self.world.events_processed >= l + self.every) {
                self.snapshot();
            }
            if !self.world.step() {
                self.stop = self.world.stop_reason();
                return true;
            }
        }
        false
    }

    fn snapshot(&mut self) {
        self.last_snapshot = Some(self.world.events_processed);
        self.trace.extend(self.world.recorder.drain_events());
        let mut world = self.world.clone();
        world.recorder.keep_events(false);
        match self.copy {
            SnapshotCopy::Shared => {}
            SnapshotCopy::Deep => world.sink_store = world.sink_store.deep_clone(),
            SnapshotCopy::CopyUpserts => world.sink_store = world.sink_store.with_upserts_copied(),
        }
        // A fork's first snapshot is the world at its cursor: it must serve that cursor, even if
        // the world's clock reads later.
        let fork_point = self.fork.as_ref().filter(|_| self.snapshots.len() == self.inherited).map(|f| f.at_ns);
        let now_ns = fork_point.map_or(self.world.now_ns(), |at| at.min(self.world.now_ns()));
        self.snapshots.push(Snapshot { events: self.world.events_processed, now_ns, world: Arc::new(world) });
    }

    /// How far the run is, from 0 to 1: virtual time against the scenario's duration, scaled to
    /// 0.95 (a run that goes on past its duration, draining, stays there; the rest is indexing
    /// the trace once the run has ended).
    pub fn progress(&self) -> f32 {
        if self.stop.is_some() {
            return 0.95;
        }
        let duration_ns = self.world.scenario.duration_ms.saturating_mul(1_000_000).max(1);
        (self.world.now_ns() as f64 / duration_ns as f64 * 0.95).min(0.95) as f32
    }

    /// Kernel events processed so far.
    pub fn events(&self) -> u64 {
        self.world.events_processed
    }

    /// The recorded run (runs what is left first, if anything is).
    pub fn finish(mut self) -> RecordedRun {
        while !self.advance(u64::MAX) {}
        let mut final_world = self.world;
        let mut trace = self.trace;
        trace.extend(final_world.recorder.take_events());
        let stop = self.stop.unwrap_or(StopReason::Stalled);
        let scenario = final_world.scenario.clone();
        let markers = markers::collect(&trace);
        let sends = SendIndex::build(&trace, scenario.plan.channels.len());
        let (mut current, current_ns) = match self.snapshots.first() {
            Some(s) => ((*s.world).clone(), s.now_ns),
            None => (final_world.clone(), final_world.now_ns()),
        };
        current.recorder.keep_events(false);
        RecordedRun {
            label: self.label,
            seed: final_world.seed,
            scenario,
            end_ns: final_world.now_ns(),
            trace,
            stop,
            markers,
            sends,
            fork: self.fork,
            injections: self.injections,
            faults: self.faults,
            stats: ScrubStats::default(),
            snapshots: self.snapshots,
            own_from: self.inherited,
            every: self.every,
            current,
            current_from: 0,
            current_ns,
            final_world,
        }
    }
}

impl RecordedRun {
    /// Run `scenario` with `seed` to the end, recording it.
    pub fn record(scenario: Arc<Scenario>, seed: u64) -> RecordedRun {
        RunRecorder::original(scenario, seed).finish()
    }

    pub fn record_every(scenario: Arc<Scenario>, seed: u64, every: u64) -> RecordedRun {
        RunRecorder::original(scenario, seed).every(every).finish()
    }

    /// Run `scenario` with this fault schedule instead of its own, recording it.
    pub fn record_with_faults(scenario: Arc<Scenario>, seed: u64, faults: Vec<Fault>, label: String) -> RecordedRun {
        RunRecorder::with_faults(scenario, seed, faults, label).finish()
    }

    /// A new run that is this one up to `at_ns`, then suffers `fault` (made by `make_fault` from
    /// the world's clock at that moment, so that its times are absolute) and runs on.
    pub fn fork(
        &mut self,
        parent: usize,
        at_ns: TimeNs,
        what: String,
        make_fault: impl Fn(TimeNs) -> Fault,
    ) -> RecordedRun {
        self.fork_recorder(parent, at_ns, what, make_fault).finish()
    }

    /// The recorder of [`RecordedRun::fork`]: the world at `at_ns` is made here (a restore and
    /// at most a snapshot interval of steps), the rest of the run is recorded by whoever drives it.
    pub fn fork_recorder(
        &mut self,
        parent: usize,
        at_ns: TimeNs,
        what: String,
        make_fault: impl Fn(TimeNs) -> Fault,
    ) -> RunRecorder {
        let mut world = self.world_at(at_ns).clone();
        let events = world.events_processed;
        // Every event at or before the cursor has happened, and a step may have run a task a
        // little past it: the fork's past is the parent's trace as far as this world traced it
        // (the trace is in the order the world emitted it), not only up to the cursor.
        let prefix = self.trace[..(world.recorder.count() as usize).min(self.trace.len())].to_vec();
        world.recorder.keep_events(true);
        // The fault fires at the next whole millisecond after the cursor (a scenario file counts
        // in milliseconds) at which nothing already queued happens: added to the schedule there,
        // the fork is exactly the run of a scenario file listing it (`save`'s promise).
        let (fired_ns, fault) = fault_moment(&world, at_ns, make_fault);
        world.add_fault(fault.clone());
        let mut injections: Vec<Injection> = self.injections.iter().filter(|i| i.cursor_ns <= at_ns).cloned().collect();
        injections.push(Injection { cursor_ns: at_ns, fired_ns, fault });
        // Snapshots strictly before the fork point belong to both runs; the fork's own first
        // snapshot is the changed world.
        let snapshots: Vec<Snapshot> = self.snapshots.iter().filter(|s| s.events < events).cloned().collect();
        let mut r = RunRecorder::new(what.clone(), world, prefix, snapshots, self.every);
        r.fork = Some(ForkInfo { parent, at_ns, what });
        r.injections = injections;
        r.faults = self.faults.clone();
        r
    }

    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }

    /// The world as it is at `t`: every event at or before `t` has happened.
    pub fn world_at(&mut self, t: TimeNs) -> &World {
        // The cached world has processed exactly the events up to its clock, so it serves any
        // later moment; a snapshot serves better if it is further along.
        let nearest = self.snapshots.partition_point(|s| s.now_ns <= t).saturating_sub(1);
        let snapshot = &self.snapshots[nearest];
        // Compared by the cursor it was stepped to, not its clock, which may read later: a
        // world stepped to a cursor serves any later one. A world of the parent's past does not
        // serve a cursor past the fork, however many events it has processed.
        let same_run = nearest < self.own_from || self.current_from >= self.own_from;
        let current_usable = same_run && self.current_ns <= t && self.current.events_processed >= snapshot.events;
        if !current_usable {
            self.current = (*snapshot.world).clone();
            self.current_from = nearest;
            self.stats.restores += 1;
        }
        let before = self.current.events_processed;
        self.current.run_until(t);
        self.current_ns = t;
        self.stats.events_stepped += self.current.events_processed - before;
        &self.current
    }

    /// The last materialised world (whatever cursor it was made for).
    pub fn current(&self) -> &World {
        &self.current
    }

    /// Trace events at or before `t`.
    pub fn trace_until(&self, t: TimeNs) -> &[TraceEvent] {
        &self.trace[..self.trace.partition_point(|e| e.time_ns <= t)]
    }
}

/// The first whole millisecond after `at_ns` (within a second of it) at which `make_fault`'s fault
/// can join `world`'s schedule as if it had been listed from the start (else the first candidate).
fn fault_moment(world: &World, at_ns: TimeNs, make_fault: impl Fn(TimeNs) -> Fault) -> (TimeNs, Fault) {
    const MS: TimeNs = 1_000_000;
    let first = (at_ns / MS + 1) * MS;
    (0..1_000)
        .map(|k| first + k * MS)
        .map(|t| (t, make_fault(t)))
        .find(|(_, f)| world.fault_times_free(f))
        .unwrap_or_else(|| (first, make_fault(first)))
}

fn traced_options() -> RunOptions {
    RunOptions { keep_trace: true, ..RunOptions::default() }
}

#[cfg(test)]
fn untraced_options() -> RunOptions {
    RunOptions { keep_trace: false, ..RunOptions::default() }
}

impl Navigator for RecordedRun {
    fn next_event_after(&self, t: TimeNs) -> Option<TimeNs> {
        self.trace.get(self.trace.partition_point(|e| e.time_ns <= t)).map(|e| e.time_ns)
    }
    fn prev_event_before(&self, t: TimeNs) -> Option<TimeNs> {
        let i = self.trace.partition_point(|e| e.time_ns < t);
        i.checked_sub(1).map(|i| self.trace[i].time_ns)
    }
    /// The next checkpoint moment: a checkpoint's end, or its start — where its barrier is first
    /// visible (the first source sends it), not the job manager's trigger a hop earlier, when
    /// nothing can be seen yet.
    fn next_checkpoint_after(&self, t: TimeNs) -> Option<TimeNs> {
        let m = self.markers.iter().find(|m| m.time_ns > t && m.kind.is_checkpoint())?;
        if m.kind != MarkerKind::CheckpointTriggered {
            return Some(m.time_ns);
        }
        let start = self.trace.partition_point(|e| e.time_ns < m.time_ns);
        let first_send = self.trace[start..]
            .iter()
            .take(BARRIER_SEARCH)
            .find(|e| e.kind == TraceKind::SendBarrier && e.payload().checkpoint() == m.checkpoint());
        Some(first_send.map_or(m.time_ns, |e| e.time_ns))
    }
    fn next_fault_after(&self, t: TimeNs) -> Option<TimeNs> {
        self.markers.iter().find(|m| m.time_ns > t && m.kind.is_fault()).map(|m| m.time_ns)
    }
    fn end_ns(&self) -> TimeNs {
        self.end_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Arc<Scenario> {
        Arc::new(Scenario::default_scenario())
    }

    #[test]
    fn one_pass_traces_every_event_once() {
        let run = RecordedRun::record_every(scenario(), 42, 5_000);
        assert_eq!(trace_hash(&run.trace), run.final_world.recorder.hash(), "every event traced once");
        assert!(run.snapshot_count() > 2);
        assert_eq!(run.trace.len() as u64, run.final_world.recorder.count());
    }

    #[test]
    fn scrubbing_back_and_forth_gives_the_world_of_a_straight_run() {
        let mut run = RecordedRun::record_every(scenario(), 7, 3_000);
        let end = run.end_ns;
        // Forward, far back, a little forward, to the end: each compared with a fresh run.
        for t in [end / 2, end / 10, end / 10 + 3_000_000, end / 3, end] {
            let mut fresh = World::new(run.scenario.clone(), 7, untraced_options());
            fresh.run_until(t);
            let world = run.world_at(t);
            assert_eq!(world.events_processed, fresh.events_processed, "at {t}");
            assert_eq!(world.recorder.hash(), fresh.recorder.hash(), "at {t}");
            assert!(world.queue.peek_time_ns().is_none_or(|p| p > t));
        }
        assert!(run.stats.restores >= 2, "going back restores a snapshot");
    }

    /// Crash task manager `tm-{tm}`.
    fn crash(tm: u32, restart_after_ns: Option<TimeNs>) -> impl Fn(TimeNs) -> Fault {
        let node = sim::scenario::NodeId::task_manager(tm);
        move |now| Fault::Crash { node, at: sim::faults::Trigger::At(now), restart_after_ns }
    }

    #[test]
    fn a_fork_shares_the_past_and_changes_the_future() {
        let mut run = RecordedRun::record_every(scenario(), 3, 5_000);
        let at = run.end_ns / 3;
        let mut fork = run.fork(0, at, "crash tm-1".into(), crash(1, Some(1_000_000_000)));
        assert_eq!(trace_hash(&fork.trace), fork.final_world.recorder.hash(), "the parent's past and the fork's own");
        assert_ne!(fork.final_world.recorder.hash(), run.final_world.recorder.hash());
        let split = fork.trace.iter().zip(&run.trace).position(|(a, b)| a != b).expect("the runs differ");
        // The fault fires after the cursor, at the next free whole millisecond.
        // Between the cursor and that moment both runs do the same.
        let fired = fork.injections[0].fired_ns;
        assert!(fired > at && fork.trace[..split].iter().all(|e| e.time_ns <= fired));
        assert_eq!(fork.trace[split].time_ns, fired);
        assert_eq!(fork.injections[0].fired_ns % 1_000_000, 0);
        assert!(fork.markers.iter().any(|m| m.kind == crate::view::markers::MarkerKind::NodeCrashed));
        // Before the fork point the fork's world is the original's.
        let before = at / 2;
        let (a, b) = (run.world_at(before).recorder.hash(), fork.world_at(before).recorder.hash());
        assert_eq!(a, b);
        // After it, scrubbing the fork gives the same world as a straight replay.
        let later = at + (fork.end_ns - at) / 2;
        let mut straight = replay(run.scenario.clone(), 3, untraced_options(), None, &fork.injections);
        straight.run_until(later);
        assert_eq!(fork.world_at(later).recorder.hash(), straight.recorder.hash());
        assert!(!fork.world_at(later).nodes[2].alive || fork.final_world.restarts() > 0);
    }

    /// Playing a fork on from its cursor shows the fork's world, not the parent's. At this
    /// cursor the world made by `run_until` reads a later clock than the cursor (a step ran a
    /// task past the time it was popped at); the fork's first snapshot was once filed under that
    /// clock, so the cursor restored the parent's snapshot instead, and every later moment
    /// stepped on from that world: no crash on screen although the trace had one.
    #[test]
    fn playing_a_fork_from_its_cursor_shows_the_fault() {
        let mut run = RecordedRun::record_every(scenario(), 42, SNAPSHOT_EVERY_EVENTS);
        let at = 18_003_278_000;
        assert!(run.world_at(at).now_ns() > at, "the case needs a world whose clock reads past the cursor");
        let mut fork = run.fork(0, at, "crash tm-1".into(), crash(1, Some(2_000_000_000)));
        // Its trace is the straight run's: what the world did past the cursor before the fork
        // is in it too (the event log, Perfetto and the counts agree with `streamlab run`).
        assert_eq!(fork.trace.len() as u64, fork.final_world.recorder.count());
        assert_eq!(trace_hash(&fork.trace), fork.final_world.recorder.hash());
        let fired = fork.injections[0].fired_ns;
        let mut straight = replay(run.scenario.clone(), 42, untraced_options(), None, &fork.injections);
        for t in [at, fired - 1, fired, fired + 28_000, fired + 100_000_000, fired + 1_000_000_000] {
            straight.run_until(t);
            let world = fork.world_at(t);
            assert_eq!(world.faults.len(), 1, "at {t}: the fork's fault is in its world");
            assert_eq!(world.recorder.hash(), straight.recorder.hash(), "at {t}");
            assert_eq!(world.nodes[2].alive, t < fired, "at {t}: tm-1 is down from the crash on");
        }
    }

    #[test]
    fn a_fork_of_a_fork_replays_both_faults() {
        let mut run = RecordedRun::record_every(scenario(), 5, 5_000);
        let first = run.end_ns / 4;
        let mut fork = run.fork(0, first, "crash tm-0".into(), crash(0, Some(500_000_000)));
        let second = run.end_ns / 2;
        let fork2 = fork.fork(1, second, "crash tm-2".into(), crash(2, None));
        assert_eq!(fork2.injections.len(), 2);
        assert_eq!(trace_hash(&fork2.trace), fork2.final_world.recorder.hash());
        let mut straight = replay(run.scenario.clone(), 5, untraced_options(), None, &fork2.injections);
        straight.run();
        assert_eq!(straight.recorder.hash(), fork2.final_world.recorder.hash(), "a straight replay of both faults");
        let crashes = fork2.markers.iter().filter(|m| m.kind == crate::view::markers::MarkerKind::NodeCrashed).count();
        assert!(crashes >= 2);
    }

    /// A fork is the run of its fault list from the start: what a saved scenario file replays.
    #[test]
    fn a_fork_is_the_run_of_its_whole_fault_schedule() {
        let mut run = RecordedRun::record_every(scenario(), 9, 5_000);
        let mut fork = run.fork(0, run.end_ns / 3 + 123_456, "crash tm-1".into(), crash(1, Some(700_000_000)));
        let fork2 = fork.fork(1, run.end_ns / 2 + 7, "crash tm-0".into(), crash(0, Some(300_000_000)));
        for f in [&fork, &fork2] {
            let mut fresh =
                World::with_faults(run.scenario.clone(), 9, untraced_options(), f.final_world.faults.clone());
            fresh.run();
            assert_eq!(fresh.recorder.hash(), f.final_world.recorder.hash(), "{}", f.label);
        }
        assert_ne!(fork2.final_world.recorder.hash(), fork.final_world.recorder.hash());
    }

    #[test]
    fn send_index_finds_when_a_message_left() {
        let run = RecordedRun::record_every(scenario(), 42, 20_000);
        let (send, arrival_ns) =
            run.trace.iter().find_map(|e| Some((e, e.payload().arrival_ns()?))).expect("something was sent");
        let found = run.sends.send_time(send.channel_id(), arrival_ns, send.time_ns);
        assert_eq!(found, Some(send.time_ns));
        assert_eq!(run.sends.send_time(send.channel_id(), arrival_ns, send.time_ns - 1), None);
    }

    #[test]
    fn navigation_follows_the_trace() {
        let run = RecordedRun::record_every(scenario(), 42, 20_000);
        let first = run.trace[0].time_ns;
        let next = run.next_event_after(first).expect("more than one event time");
        assert!(next > first);
        assert_eq!(
            run.prev_event_before(next),
            Some(run.trace.iter().rev().find(|e| e.time_ns < next).unwrap().time_ns)
        );
        // "Next checkpoint" stops where checkpoint 1's barrier is first visible: its first send.
        let cp = run.next_checkpoint_after(0).expect("the default scenario checkpoints");
        let trigger = run.markers.iter().find(|m| m.kind == MarkerKind::CheckpointTriggered).unwrap();
        let first_send = run
            .trace
            .iter()
            .find(|e| e.kind == TraceKind::SendBarrier && e.payload().checkpoint() == trigger.checkpoint())
            .unwrap();
        assert_eq!(cp, first_send.time_ns);
        assert!(cp > trigger.time_ns, "a hop after the trigger");
        // From there, the next stop is that checkpoint's end (or the next one's barrier).
        let next = run.next_checkpoint_after(cp).unwrap();
        assert!(next > cp);
        assert!(
            run.markers.iter().any(|m| m.time_ns == next && m.kind.is_checkpoint())
                || run.trace.iter().any(|e| e.time_ns == next && e.kind == TraceKind::SendBarrier)
        );
    }
}
