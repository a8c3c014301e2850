//! The loop every model's kernel world runs (Storm's, Spark's and Kafka Streams'): through the
//! event queue until the run stops, or until a time (`replay --until`, the workbench). Each
//! world says how it takes one step; the loop around the steps is written here once.

use crate::kernel::TimeNs;
use crate::world::StopReason;

/// A kernel world driven one event at a time (see the module docs).
pub trait SteppedWorld {
    /// Virtual time: the time of the last event taken.
    fn now_ns(&self) -> TimeNs;
    /// When the next queued event is due; None when nothing is queued.
    fn next_event_ns(&self) -> Option<TimeNs>;
    /// Why the run stopped; None while it runs.
    fn stop_reason(&self) -> Option<StopReason>;
    /// Take the next event; false once the run has stopped (`stop_reason` says why).
    fn step(&mut self) -> bool;

    /// Step while the next event is due at or before `until_ns` and the run has not stopped.
    fn run_until(&mut self, until_ns: TimeNs) {
        while self.stop_reason().is_none() && self.next_event_ns().is_some_and(|t| t <= until_ns) {
            self.step();
        }
    }

    /// Is nothing left to process (the next step stops the run)?
    fn queue_is_empty(&self) -> bool {
        self.next_event_ns().is_none()
    }

    /// Run to the end.
    fn run(&mut self) -> StopReason {
        while self.step() {}
        self.stop_reason().unwrap_or(StopReason::Stalled)
    }

    /// `replay`'s run: paused at `until_ns` (when nothing is left by then, the step that stops
    /// the run is taken too), or to the end.
    fn run_to(&mut self, until_ns: Option<TimeNs>) {
        match until_ns {
            Some(until_ns) => {
                self.run_until(until_ns);
                if self.queue_is_empty() {
                    self.step();
                }
            }
            None => {
                self.run();
            }
        }
    }
}
