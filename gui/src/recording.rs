//! Recording off the UI thread, behind one interface: a [`Recording`] drives anything
//! [`Incremental`] (a run being recorded, a reference run) either on a worker thread, where the
//! platform has threads, or in bounded slices between frames (eframe's web target has none), or
//! to the end at once (tests that want the old, synchronous behaviour). The app only polls it:
//! each frame asks how far it is, and takes the result once it is there.
//!
//! Another runtime's recording plugs in by implementing [`Incremental`] for its recorder.

use sim::stepped::SteppedWorld;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use crate::scrub::{RecordedRun, RunRecorder};

/// Work that advances a bounded amount per call.
pub trait Incremental: Send + 'static {
    type Output: Send + 'static;
    /// Do at most about `budget` units of work (kernel events); true once there is nothing left.
    fn advance(&mut self, budget: u64) -> bool;
    /// How far it is, from 0 to 1.
    fn progress(&self) -> f32;
    /// The result (finishing whatever is left).
    fn finish(self) -> Self::Output;
}

impl Incremental for RunRecorder {
    type Output = RecordedRun;
    fn advance(&mut self, budget: u64) -> bool {
        RunRecorder::advance(self, budget)
    }
    fn progress(&self) -> f32 {
        RunRecorder::progress(self)
    }
    fn finish(self) -> RecordedRun {
        RunRecorder::finish(self)
    }
}

/// Kernel events per slice: about a millisecond of work, so a slice between frames never costs a
/// frame, and a worker thread notices a cancel at once.
pub const SLICE_EVENTS: u64 = 5_000;

/// Where the work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// On a worker thread (native).
    Thread,
    /// `slice` events per call of [`Recording::poll`], on the caller's thread (the web; tests
    /// that step frames by hand).
    Slices { slice: u64 },
    /// All of it in the first poll (tests and benchmarks that want results at once).
    Blocking,
}

impl Driver {
    /// The platform's choice: a thread where there are threads.
    pub fn native() -> Driver {
        if cfg!(target_arch = "wasm32") {
            Driver::Slices { slice: SLICE_EVENTS }
        } else {
            Driver::Thread
        }
    }
}

/// What a poll found.
pub enum Poll<T> {
    Running { progress: f32 },
    Done(T),
    Cancelled,
}

enum State<W: Incremental> {
    Thread(Receiver<Option<W::Output>>),
    Here(Box<W>, u64),
    Over,
}

/// Work under way. Dropping it cancels it.
pub struct Recording<W: Incremental> {
    /// What is being done ("recording crash tm-1 at 4.2 s"), for the progress bar.
    pub what: String,
    /// Progress in millionths (written by the worker).
    progress: Arc<AtomicU32>,
    cancel: Arc<AtomicBool>,
    state: State<W>,
}

impl<W: Incremental> Recording<W> {
    pub fn start(what: String, work: W, driver: Driver) -> Recording<W> {
        let progress = Arc::new(AtomicU32::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let state = match driver {
            Driver::Thread => {
                let (sender, receiver) = std::sync::mpsc::channel();
                let (p, c) = (progress.clone(), cancel.clone());
                let mut work = work;
                std::thread::spawn(move || {
                    loop {
                        if c.load(Ordering::Relaxed) {
                            let _ = sender.send(None);
                            return;
                        }
                        let done = work.advance(SLICE_EVENTS);
                        p.store((work.progress() * 1e6) as u32, Ordering::Relaxed);
                        if done {
                            break;
                        }
                    }
                    // The window may have moved on (receiver dropped): nothing to do then.
                    let _ = sender.send(Some(work.finish()));
                });
                State::Thread(receiver)
            }
            Driver::Slices { slice } => State::Here(Box::new(work), slice.max(1)),
            Driver::Blocking => State::Here(Box::new(work), u64::MAX),
        };
        Recording { what, progress, cancel, state }
    }

    /// Ask for it to stop; the next poll says `Cancelled` (a thread stops within a slice).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// How far it is, from 0 to 1 (as of the last slice).
    pub fn progress(&self) -> f32 {
        self.progress.load(Ordering::Relaxed) as f32 / 1e6
    }

    /// Run a slice here (for `Slices`) and say where things are.
    pub fn poll(&mut self) -> Poll<W::Output> {
        if self.cancel.load(Ordering::Relaxed) {
            self.state = State::Over;
            return Poll::Cancelled;
        }
        match &mut self.state {
            State::Thread(receiver) => match receiver.try_recv() {
                Ok(Some(output)) => {
                    self.state = State::Over;
                    Poll::Done(output)
                }
                Ok(None) | Err(TryRecvError::Disconnected) => {
                    self.state = State::Over;
                    Poll::Cancelled
                }
                Err(TryRecvError::Empty) => Poll::Running { progress: self.progress() },
            },
            State::Here(work, slice) => {
                let done = work.advance(*slice);
                self.progress.store((work.progress() * 1e6) as u32, Ordering::Relaxed);
                if !done {
                    return Poll::Running { progress: self.progress() };
                }
                match std::mem::replace(&mut self.state, State::Over) {
                    State::Here(work, _) => Poll::Done(work.finish()),
                    _ => Poll::Cancelled,
                }
            }
            State::Over => Poll::Cancelled,
        }
    }
}

impl<W: Incremental> Drop for Recording<W> {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// A fault-free reference run (the Outcome tab's comparison), recorded incrementally like a run.
pub struct ReferenceRecorder {
    world: sim::World,
}

impl ReferenceRecorder {
    pub fn new(scenario: &sim::Scenario, seed: u64) -> ReferenceRecorder {
        // What `sim::run::reference_run` runs, a slice at a time.
        let options = sim::RunOptions { keep_trace: false, ..sim::RunOptions::default() };
        ReferenceRecorder { world: sim::World::new(Arc::new(scenario.without_faults()), seed, options) }
    }
}

impl Incremental for ReferenceRecorder {
    type Output = sim::World;
    fn advance(&mut self, budget: u64) -> bool {
        for _ in 0..budget.max(1) {
            if !self.world.step() {
                return true;
            }
        }
        false
    }
    fn progress(&self) -> f32 {
        let duration_ns = self.world.scenario.duration_ms.saturating_mul(1_000_000).max(1);
        (self.world.now_ns() as f64 / duration_ns as f64).min(0.99) as f32
    }
    fn finish(mut self) -> sim::World {
        while !self.advance(u64::MAX) {}
        self.world
    }
}

/// A Storm scenario's run (the workbench's Storm view), recorded incrementally like a Flink run.
pub struct StormRecorder {
    origin: crate::view::storm::StormOrigin,
    seed: u64,
    world: sim::storm::StormWorld,
}

impl StormRecorder {
    pub fn new(origin: crate::view::storm::StormOrigin, seed: u64) -> StormRecorder {
        let world = sim::storm::StormWorld::new(origin.scenario(), seed, true);
        StormRecorder { origin, seed, world }
    }
}

impl Incremental for StormRecorder {
    type Output = crate::view::storm::StormSession;
    fn advance(&mut self, budget: u64) -> bool {
        for _ in 0..budget.max(1) {
            if !self.world.step() {
                return true;
            }
        }
        false
    }
    fn progress(&self) -> f32 {
        let duration_ns = self.world.scenario.duration_ms.saturating_mul(1_000_000).max(1);
        (self.world.now_ns() as f64 / duration_ns as f64 * 0.95).min(0.95) as f32
    }
    fn finish(mut self) -> crate::view::storm::StormSession {
        let stop = self.world.run();
        let run = sim::storm::StormRun { world: self.world, stop };
        crate::view::storm::StormSession::from_run(self.origin, self.seed, run)
    }
}

/// A kernel world of another model (Spark's, Kafka Streams') stepped to its end a slice at a
/// time, then turned into what its view shows by `finish` — on the worker thread too, so that
/// the judging (a fault-free reference run) never runs on the UI thread either.
pub struct WorldRecorder<W, T> {
    world: W,
    duration_ns: u64,
    finish: Box<dyn FnOnce(W, sim::world::StopReason) -> T + Send>,
}

impl<W: SteppedWorld, T> WorldRecorder<W, T> {
    /// `duration_ns`: the scenario's input duration (the progress bar's scale).
    pub fn new(
        world: W,
        duration_ns: u64,
        finish: impl FnOnce(W, sim::world::StopReason) -> T + Send + 'static,
    ) -> WorldRecorder<W, T> {
        WorldRecorder { world, duration_ns: duration_ns.max(1), finish: Box::new(finish) }
    }
}

impl<W: SteppedWorld + Send + 'static, T: Send + 'static> Incremental for WorldRecorder<W, T> {
    type Output = T;
    fn advance(&mut self, budget: u64) -> bool {
        for _ in 0..budget.max(1) {
            if !self.world.step() {
                return true;
            }
        }
        false
    }
    fn progress(&self) -> f32 {
        // The last 5 %: judging against the fault-free run, in `finish`.
        (self.world.now_ns() as f64 / self.duration_ns as f64 * 0.95).min(0.95) as f32
    }
    fn finish(mut self) -> T {
        let stop = self.world.run();
        (self.finish)(self.world, stop)
    }
}

/// A Spark scenario's run (the workbench's Spark view), recorded off the UI thread.
pub type SparkRecorder = WorldRecorder<sim::spark::SparkWorld, crate::view::spark::SparkSession>;

/// Start recording `origin`'s query with `seed` (its trace and the core's watch kept).
pub fn spark_recorder(origin: crate::view::spark::SparkOrigin, seed: u64) -> SparkRecorder {
    let scenario = origin.scenario();
    let duration_ns = scenario.duration_ms.saturating_mul(1_000_000);
    let world = sim::spark::SparkWorld::new(scenario, seed, true);
    WorldRecorder::new(world, duration_ns, move |world, stop| {
        crate::view::spark::SparkSession::from_run(origin, seed, sim::spark::SparkRun { world, stop })
    })
}

/// A Kafka Streams scenario's run (the workbench's Kafka Streams view), recorded off the UI
/// thread: a big application no longer freezes the window while it runs.
pub type KStreamsRecorder = WorldRecorder<sim::kstreams::KStreamsWorld, crate::view::kstreams::KStreamsShown>;

/// Start recording `origin`'s application with `seed` (its trace kept).
pub fn kstreams_recorder(origin: crate::view::kstreams::KStreamsOrigin, seed: u64) -> KStreamsRecorder {
    let scenario = origin.scenario();
    let duration_ns = scenario.duration_ms.saturating_mul(1_000_000);
    let world = sim::kstreams::KStreamsWorld::new(scenario, seed, true);
    WorldRecorder::new(world, duration_ns, move |world, stop| {
        crate::view::kstreams::KStreamsShown::from_run(origin, seed, sim::kstreams::KStreamsRun { world, stop })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> RunRecorder {
        RunRecorder::original(Arc::new(sim::Scenario::default_scenario()), 42).every(5_000)
    }

    fn wait<W: Incremental>(r: &mut Recording<W>) -> Option<W::Output> {
        // Not timed: it waits as long as the work takes.
        loop {
            match r.poll() {
                Poll::Running { .. } => std::thread::yield_now(),
                Poll::Done(out) => return Some(out),
                Poll::Cancelled => return None,
            }
        }
    }

    #[test]
    fn every_driver_records_the_same_run() {
        let straight = RecordedRun::record_every(Arc::new(sim::Scenario::default_scenario()), 42, 5_000);
        for driver in [Driver::Thread, Driver::Slices { slice: 1_000 }, Driver::Blocking] {
            let mut r = Recording::start("test".into(), recorder(), driver);
            let run = wait(&mut r).expect("not cancelled");
            assert_eq!(run.final_world.recorder.hash(), straight.final_world.recorder.hash(), "{driver:?}");
            assert_eq!(run.trace, straight.trace, "{driver:?}");
            assert_eq!(run.snapshot_count(), straight.snapshot_count(), "{driver:?}");
        }
    }

    #[test]
    fn slices_report_progress_and_stop_when_cancelled() {
        let mut r = Recording::start("test".into(), recorder(), Driver::Slices { slice: 1_000 });
        let Poll::Running { progress } = r.poll() else { panic!("a slice of 1 000 events does not finish the run") };
        assert!(progress > 0.0 && progress < 1.0, "{progress}");
        let Poll::Running { progress: later } = r.poll() else { panic!("nor do two") };
        assert!(later > progress);
        r.cancel();
        assert!(matches!(r.poll(), Poll::Cancelled));
        assert!(matches!(r.poll(), Poll::Cancelled), "stays cancelled");
    }

    #[test]
    fn a_thread_stops_when_cancelled() {
        let mut r = Recording::start("test".into(), recorder(), Driver::Thread);
        r.cancel();
        assert!(wait(&mut r).is_none());
    }

    /// Recorded off the UI thread, a Spark run is the one `run_spark` gives, and so is a Kafka
    /// Streams run `run_kstreams`'s.
    #[test]
    fn the_spark_and_kafka_streams_recorders_record_the_runs_the_models_run() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let spark = Arc::new(sim::Scenario::load(&dir.join("spark-micro-batch.ron")).expect("loads"));
        let origin = crate::view::spark::SparkOrigin::new(spark.clone(), crate::app::ScenarioSource::Embedded);
        let mut r = Recording::start("spark".into(), spark_recorder(origin, 42), Driver::Thread);
        let shown = wait(&mut r).expect("not cancelled");
        assert_eq!(shown.run.trace_hash(), sim::spark::run_spark(spark, 42, false).trace_hash());

        let kstreams = Arc::new(sim::Scenario::load(&dir.join("kafka-streams-failover.ron")).expect("loads"));
        let mut r = Recording::start(
            "kstreams".into(),
            kstreams_recorder(
                crate::view::kstreams::KStreamsOrigin::new(kstreams.clone(), crate::app::ScenarioSource::Embedded),
                42,
            ),
            Driver::Slices { slice: 100 },
        );
        let Poll::Running { .. } = r.poll() else { panic!("100 events do not finish the application's run") };
        let shown = wait(&mut r).expect("not cancelled");
        assert_eq!(shown.trace_hash, sim::kstreams::run_kstreams(kstreams, 42, false).trace_hash());
    }

    #[test]
    fn the_reference_recorder_is_the_reference_run() {
        let scenario = sim::Scenario::default_scenario();
        let mut r = Recording::start(
            "reference".into(),
            ReferenceRecorder::new(&scenario, 42),
            Driver::Slices { slice: 2_000 },
        );
        let world = wait(&mut r).expect("not cancelled");
        let reference = sim::run::reference_run(&scenario, 42);
        assert_eq!(world.recorder.hash(), reference.world.recorder.hash());
    }
}
