//! A recorded run the workbench can scrub: the full trace and final state from one pass, and
//! world snapshots from a second pass, so that the world at any moment is "restore the nearest
//! earlier snapshot, step forward". The world is plain data, so this is exact, not approximate.
//!
//! Why two passes: a `World` that keeps its trace would copy the whole trace into every snapshot
//! (quadratic memory). The snapshot pass runs without a trace (`keep_trace: false` changes what is
//! kept, never what happens); the traced pass runs at the same time on the other core.

use std::sync::Arc;

use sim::faults::Fault;
use sim::kernel::TimeNs;
use sim::recording::TraceEvent;
use sim::{RunOptions, Scenario, StopReason, World};

use crate::time_control::Navigator;
use crate::view::markers::{self, Marker};

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
}

/// The world after `events` kernel events.
#[derive(Clone)]
pub struct Snapshot {
    pub events: u64,
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

/// A fault injected by hand: at the cursor `cursor_ns` (the world's clock then read
/// `fired_ns`, the time of the last event at or before the cursor, which is when it happens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injection {
    pub cursor_ns: TimeNs,
    pub fired_ns: TimeNs,
    pub fault: Fault,
}

/// A fresh world of `scenario` (with `faults` instead of the scenario's own, when given), with
/// the injections replayed at their moments.
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
        w.inject(i.fault.clone());
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
        for e in trace.iter().filter(|e| markers::is_send(e.kind)) {
            if let Some(list) = per_channel.get_mut(e.channel as usize) {
                list.push((e.a as TimeNs, e.time_ns));
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
    pub fn send_time(&self, channel: usize, arrival_ns: TimeNs, cursor_ns: TimeNs) -> Option<TimeNs> {
        let list = self.per_channel.get(channel)?;
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
    /// The snapshot pass's trace hash: equal to the traced pass's, or the two passes diverged.
    pub snapshot_pass_hash: u64,
    pub stats: ScrubStats,
    snapshots: Vec<Snapshot>,
    every: u64,
    /// The last materialised world, kept so that small forward moves only step a few events.
    current: World,
}

impl RecordedRun {
    /// Run `scenario` with `seed` to the end, recording it.
    pub fn record(scenario: Arc<Scenario>, seed: u64) -> RecordedRun {
        RecordedRun::record_every(scenario, seed, SNAPSHOT_EVERY_EVENTS)
    }

    pub fn record_every(scenario: Arc<Scenario>, seed: u64, every: u64) -> RecordedRun {
        RecordedRun::record_copying(scenario, seed, every, SnapshotCopy::Shared)
    }

    /// As [`RecordedRun::record_every`], with the snapshots' copying chosen (for benchmarks).
    pub fn record_copying(scenario: Arc<Scenario>, seed: u64, every: u64, copy: SnapshotCopy) -> RecordedRun {
        let untraced = World::new(scenario.clone(), seed, untraced_options());
        let traced = {
            let scenario = scenario.clone();
            move || World::new(scenario, seed, traced_options())
        };
        RecordedRun::finish("original run".into(), traced, untraced, Vec::new(), every, None, copy)
    }

    /// Run `scenario` with this fault schedule instead of its own, recording it.
    pub fn record_with_faults(scenario: Arc<Scenario>, seed: u64, faults: Vec<Fault>, label: String) -> RecordedRun {
        let untraced = World::with_faults(scenario.clone(), seed, untraced_options(), faults.clone());
        let traced = {
            let (scenario, faults) = (scenario.clone(), faults.clone());
            move || World::with_faults(scenario, seed, traced_options(), faults)
        };
        let mut run =
            RecordedRun::finish(label, traced, untraced, Vec::new(), SNAPSHOT_EVERY_EVENTS, None, SnapshotCopy::Shared);
        run.faults = Some(faults);
        run
    }

    /// A new run that is this one up to `at_ns`, then suffers `fault` (made by `make_fault` from
    /// the world's clock at that moment, so that its times are absolute) and runs on.
    pub fn fork(
        &mut self,
        parent: usize,
        at_ns: TimeNs,
        what: String,
        make_fault: impl FnOnce(TimeNs) -> Fault,
    ) -> RecordedRun {
        let mut untraced = self.world_at(at_ns).clone();
        let events = untraced.events_processed;
        let fired_ns = untraced.now_ns();
        let fault = make_fault(fired_ns);
        untraced.inject(fault.clone());
        let mut injections: Vec<Injection> = self.injections.iter().filter(|i| i.cursor_ns <= at_ns).cloned().collect();
        injections.push(Injection { cursor_ns: at_ns, fired_ns, fault });
        let (scenario, seed, faults) = (self.scenario.clone(), self.seed, self.faults.clone());
        let replayed = injections.clone();
        // The traced copy replays the prefix from the start: the snapshots carry no trace.
        let traced = move || replay(scenario, seed, traced_options(), faults.as_deref(), &replayed);
        // Snapshots strictly before the fork point belong to both runs; the fork's own first
        // snapshot is the changed world.
        let prefix: Vec<Snapshot> = self.snapshots.iter().filter(|s| s.events < events).cloned().collect();
        let fork = ForkInfo { parent, at_ns, what: what.clone() };
        let mut run = RecordedRun::finish(what, traced, untraced, prefix, self.every, Some(fork), SnapshotCopy::Shared);
        run.injections = injections;
        run.faults = self.faults.clone();
        run
    }

    fn finish(
        label: String,
        traced: impl FnOnce() -> World + Send,
        mut untraced: World,
        mut snapshots: Vec<Snapshot>,
        every: u64,
        fork: Option<ForkInfo>,
        copy: SnapshotCopy,
    ) -> RecordedRun {
        let every = every.max(1);
        let (mut final_world, stop) = std::thread::scope(|scope| {
            let traced = scope.spawn(move || {
                let mut w = traced();
                let stop = w.run();
                (w, stop)
            });
            // This thread takes the snapshots meanwhile.
            let mut last = None;
            loop {
                if last.is_none_or(|l| untraced.events_processed >= l + every) {
                    last = Some(untraced.events_processed);
                    let mut world = untraced.clone();
                    if copy == SnapshotCopy::Deep {
                        world.sink_store = world.sink_store.deep_clone();
                    }
                    snapshots.push(Snapshot {
                        events: untraced.events_processed,
                        now_ns: untraced.now_ns(),
                        world: Arc::new(world),
                    });
                }
                if !untraced.step() {
                    break;
                }
            }
            traced.join().expect("the traced pass does not panic")
        });
        let trace = final_world.recorder.take_events();
        let scenario = final_world.scenario.clone();
        let markers = markers::collect(&trace);
        let sends = SendIndex::build(&trace, scenario.plan.channels.len());
        let current = (*snapshots[0].world).clone();
        RecordedRun {
            label,
            seed: final_world.seed,
            scenario,
            end_ns: final_world.now_ns(),
            trace,
            stop,
            markers,
            sends,
            fork,
            injections: Vec::new(),
            faults: None,
            snapshot_pass_hash: untraced.recorder.hash(),
            stats: ScrubStats::default(),
            snapshots,
            every,
            current,
            final_world,
        }
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
        let current_usable = self.current.now_ns() <= t && self.current.events_processed >= snapshot.events;
        if !current_usable {
            self.current = (*snapshot.world).clone();
            self.stats.restores += 1;
        }
        let before = self.current.events_processed;
        self.current.run_until(t);
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

fn traced_options() -> RunOptions {
    RunOptions { keep_trace: true, ..RunOptions::default() }
}

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
    fn next_checkpoint_after(&self, t: TimeNs) -> Option<TimeNs> {
        self.markers.iter().find(|m| m.time_ns > t && m.kind.is_checkpoint()).map(|m| m.time_ns)
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
    fn both_passes_see_the_same_run() {
        let run = RecordedRun::record_every(scenario(), 42, 5_000);
        assert_eq!(run.snapshot_pass_hash, run.final_world.recorder.hash());
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

    fn crash(node: usize, restart_after_ns: Option<TimeNs>) -> impl FnOnce(TimeNs) -> Fault {
        move |now| Fault::Crash { node, at: sim::faults::Trigger::At(now), restart_after_ns }
    }

    #[test]
    fn a_fork_shares_the_past_and_changes_the_future() {
        let mut run = RecordedRun::record_every(scenario(), 3, 5_000);
        let at = run.end_ns / 3;
        let mut fork = run.fork(0, at, "crash tm-1".into(), crash(2, Some(1_000_000_000)));
        assert_eq!(fork.snapshot_pass_hash, fork.final_world.recorder.hash(), "both passes of the fork agree");
        assert_ne!(fork.final_world.recorder.hash(), run.final_world.recorder.hash());
        let split = fork.trace.iter().zip(&run.trace).position(|(a, b)| a != b).expect("the runs differ");
        assert!(fork.trace[split].time_ns <= at && fork.trace[..split].iter().all(|e| e.time_ns <= at));
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
        assert!(!fork.world_at(later).nodes[2].alive || fork.final_world.restarts > 0);
    }

    #[test]
    fn a_fork_of_a_fork_replays_both_faults() {
        let mut run = RecordedRun::record_every(scenario(), 5, 5_000);
        let first = run.end_ns / 4;
        let mut fork = run.fork(0, first, "crash tm-0".into(), crash(1, Some(500_000_000)));
        let second = run.end_ns / 2;
        let fork2 = fork.fork(1, second, "crash tm-2".into(), crash(3, None));
        assert_eq!(fork2.injections.len(), 2);
        assert_eq!(fork2.snapshot_pass_hash, fork2.final_world.recorder.hash(), "the replay met the snapshots");
        let crashes = fork2.markers.iter().filter(|m| m.kind == crate::view::markers::MarkerKind::NodeCrashed).count();
        assert!(crashes >= 2);
    }

    #[test]
    fn send_index_finds_when_a_message_left() {
        let run = RecordedRun::record_every(scenario(), 42, 20_000);
        let send = run.trace.iter().find(|e| markers::is_send(e.kind)).expect("something was sent");
        let found = run.sends.send_time(send.channel as usize, send.a as TimeNs, send.time_ns);
        assert_eq!(found, Some(send.time_ns));
        assert_eq!(run.sends.send_time(send.channel as usize, send.a as TimeNs, send.time_ns - 1), None);
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
        let cp = run.next_checkpoint_after(0).expect("the default scenario checkpoints");
        assert!(run.markers.iter().any(|m| m.time_ns == cp && m.kind.is_checkpoint()));
    }
}
