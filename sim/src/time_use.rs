//! How a subtask spends its time, the way Flink's web UI reports it: per second, the
//! milliseconds it was busy processing (`busyTimeMsPerSecond`), waiting for credit on a full
//! output channel (`backPressuredTimeMsPerSecond`), and idle waiting for input
//! (`idleTimeMsPerSecond`). Times are virtual; the three add up to 1000.

use serde::Serialize;

use crate::kernel::TimeNs;

/// One subtask's time over the whole run (every job attempt).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TimeUse {
    /// Processing: records, control messages, the synchronous part of snapshots.
    pub busy_ns: TimeNs,
    /// Waiting for credit: an output channel was full.
    pub backpressured_ns: TimeNs,
    /// Since when it has been waiting for credit, if it is now.
    backpressured_since: Option<TimeNs>,
}

/// Milliseconds per second of run time, as Flink names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MsPerSecond {
    pub busy: u64,
    pub backpressured: u64,
    pub idle: u64,
}

impl TimeUse {
    /// `cost_ns` of processing.
    pub fn work(&mut self, cost_ns: TimeNs) {
        self.busy_ns = self.busy_ns.saturating_add(cost_ns);
    }
    /// An output channel is full at `now` (nothing changes if it already was).
    pub fn blocked(&mut self, now: TimeNs) {
        self.backpressured_since.get_or_insert(now);
    }
    /// Credit came back (or the task died) at `now`.
    pub fn unblocked(&mut self, now: TimeNs) {
        if let Some(since) = self.backpressured_since.take() {
            self.backpressured_ns = self.backpressured_ns.saturating_add(now.saturating_sub(since));
        }
    }
    /// The shares of `elapsed_ns` (a wait still going on counts until `now`). Busy time is
    /// capped at the elapsed time (a task's last record may end after the run's end).
    pub fn per_second(&self, elapsed_ns: TimeNs, now: TimeNs) -> MsPerSecond {
        if elapsed_ns == 0 {
            return MsPerSecond::default();
        }
        let waiting = self.backpressured_since.map_or(0, |since| now.saturating_sub(since));
        let share = |ns: TimeNs| (u128::from(ns.min(elapsed_ns)) * 1000 / u128::from(elapsed_ns)) as u64;
        let busy = share(self.busy_ns);
        let backpressured = share(self.backpressured_ns.saturating_add(waiting)).min(1000 - busy);
        MsPerSecond { busy, backpressured, idle: 1000 - busy - backpressured }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shares_add_up_to_a_second() {
        let mut t = TimeUse::default();
        t.work(250_000_000);
        t.blocked(400_000_000);
        t.blocked(450_000_000); // already waiting: the wait started at 400 ms
        t.unblocked(600_000_000);
        assert_eq!(
            t.per_second(1_000_000_000, 1_000_000_000),
            MsPerSecond { busy: 250, backpressured: 200, idle: 550 }
        );
        // A wait still going on counts until now.
        t.blocked(900_000_000);
        assert_eq!(t.per_second(1_000_000_000, 1_000_000_000).backpressured, 300);
        assert_eq!(TimeUse::default().per_second(0, 0), MsPerSecond::default());
    }

    #[test]
    fn busy_beyond_the_run_is_capped() {
        let mut t = TimeUse::default();
        t.work(2_000_000_000);
        t.blocked(0);
        assert_eq!(t.per_second(1_000_000_000, 1_000_000_000), MsPerSecond { busy: 1000, backpressured: 0, idle: 0 });
    }
}
