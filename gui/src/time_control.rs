//! Where the workbench is in the run, and how it moves: a plain struct changed through commands
//! (rerun's `TimeControl` model). No egui, no wall clock: playing advances by the frame time the
//! caller passes in, so tests drive it with fixed steps.

use sim::kernel::TimeNs;

/// Playback speeds offered, in virtual nanoseconds per wall-clock second, with their labels.
/// Slow speeds exist for watching single messages travel (a network hop takes milliseconds).
pub const SPEEDS: [(TimeNs, &str); 8] = [
    (1_000_000, "1 ms per second"),
    (10_000_000, "10 ms per second"),
    (100_000_000, "0.1 s per second"),
    (1_000_000_000, "1 s per second (real time)"),
    (5_000_000_000, "5 s per second"),
    (20_000_000_000, "20 s per second"),
    (60_000_000_000, "1 min per second"),
    (600_000_000_000, "10 min per second"),
];

/// Facts about the displayed run the commands need. The workbench implements it on a recorded
/// run; tests implement it on a list of times.
pub trait Navigator {
    /// Time of the first recorded event strictly after `t`.
    fn next_event_after(&self, t: TimeNs) -> Option<TimeNs>;
    /// Time of the last recorded event strictly before `t`.
    fn prev_event_before(&self, t: TimeNs) -> Option<TimeNs>;
    /// Next checkpoint event (triggered, completed or aborted) strictly after `t`.
    fn next_checkpoint_after(&self, t: TimeNs) -> Option<TimeNs>;
    /// Next fault or recovery event (crash, restart, partition) strictly after `t`.
    fn next_fault_after(&self, t: TimeNs) -> Option<TimeNs>;
    /// The last moment of the run.
    fn end_ns(&self) -> TimeNs;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Play,
    Pause,
    TogglePlay,
    /// Move to the next moment at which something was recorded.
    StepEvent,
    /// Move to the previous moment at which something was recorded.
    StepBack,
    JumpNextCheckpoint,
    JumpNextFault,
    /// Move by a signed amount of virtual time.
    SeekBy(i64),
    /// Move by a signed number of thousandths of the run.
    SeekByPermille(i64),
    Seek(TimeNs),
    ToStart,
    ToEnd,
    /// Index into [`SPEEDS`].
    SetSpeed(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimeControl {
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// The moment shown: every event at or before it has happened.
    pub cursor_ns: TimeNs,
    /// Virtual time not yet applied to the cursor (sub-nanosecond remainders of slow playback).
    carry_ns: f64,
}

impl Default for TimeControl {
    fn default() -> Self {
        TimeControl { playing: false, speed: 3, cursor_ns: 0, carry_ns: 0.0 }
    }
}

impl TimeControl {
    /// Paused at the start, at the given speed (an index into [`SPEEDS`]).
    pub fn new(speed: usize) -> Self {
        TimeControl { speed: speed.min(SPEEDS.len() - 1), ..TimeControl::default() }
    }

    /// A speed that plays a run of `end_ns` in roughly half a minute (never slower than real time
    /// for short runs: a student wants to see something move on day one).
    pub fn suggested_speed(end_ns: TimeNs) -> usize {
        // The fastest speed that still takes at least ~30 s, and never faster than needed.
        let wanted = end_ns / 30;
        SPEEDS.iter().rposition(|(s, _)| *s <= wanted).unwrap_or(0).max(3)
    }

    pub fn speed_ns_per_s(&self) -> TimeNs {
        SPEEDS[self.speed.min(SPEEDS.len() - 1)].0
    }

    pub fn apply(&mut self, command: Command, nav: &impl Navigator) {
        let end = nav.end_ns();
        match command {
            Command::Play => {
                if self.cursor_ns >= end {
                    // Playing at the end would stop at once; start over, like a media player.
                    self.cursor_ns = 0;
                }
                self.playing = true;
            }
            Command::Pause => self.playing = false,
            Command::TogglePlay => {
                let command = if self.playing { Command::Pause } else { Command::Play };
                self.apply(command, nav);
            }
            Command::StepEvent => {
                self.playing = false;
                self.cursor_ns = nav.next_event_after(self.cursor_ns).unwrap_or(end);
            }
            Command::StepBack => {
                self.playing = false;
                self.cursor_ns = nav.prev_event_before(self.cursor_ns).unwrap_or(0);
            }
            Command::JumpNextCheckpoint => {
                if let Some(t) = nav.next_checkpoint_after(self.cursor_ns) {
                    self.playing = false;
                    self.cursor_ns = t;
                }
            }
            Command::JumpNextFault => {
                if let Some(t) = nav.next_fault_after(self.cursor_ns) {
                    self.playing = false;
                    self.cursor_ns = t;
                }
            }
            Command::SeekBy(delta) => {
                self.cursor_ns = self.cursor_ns.saturating_add_signed(delta).min(end);
            }
            Command::SeekByPermille(p) => {
                let delta = (end as i128 * p as i128 / 1000) as i64;
                self.cursor_ns = self.cursor_ns.saturating_add_signed(delta).min(end);
            }
            Command::Seek(t) => self.cursor_ns = t.min(end),
            Command::ToStart => self.cursor_ns = 0,
            Command::ToEnd => {
                self.playing = false;
                self.cursor_ns = end;
            }
            Command::SetSpeed(i) => self.speed = i.min(SPEEDS.len() - 1),
        }
        self.carry_ns = 0.0;
    }

    /// Advance by `dt_s` seconds of wall time when playing; stops at the end of the run.
    /// Returns whether the cursor moved.
    pub fn tick(&mut self, dt_s: f32, end_ns: TimeNs) -> bool {
        if !self.playing {
            return false;
        }
        // Long frames (a stall, a breakpoint) should not make the run leap ahead.
        let dt_s = dt_s.clamp(0.0, 0.25) as f64;
        let advance = dt_s * self.speed_ns_per_s() as f64 + self.carry_ns;
        // Frame times come as f32 (0.000001 is 0.99999... µs): a thousandth of a nanosecond of
        // slack keeps whole nanoseconds whole.
        let whole = (advance + 1e-3).floor();
        self.carry_ns = advance - whole;
        let before = self.cursor_ns;
        self.cursor_ns = self.cursor_ns.saturating_add(whole as TimeNs).min(end_ns);
        if self.cursor_ns >= end_ns {
            self.playing = false;
        }
        self.cursor_ns != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run with events at the listed times, checkpoints and faults at some of them.
    struct Fake {
        events: Vec<TimeNs>,
        checkpoints: Vec<TimeNs>,
        faults: Vec<TimeNs>,
        end: TimeNs,
    }

    impl Navigator for Fake {
        fn next_event_after(&self, t: TimeNs) -> Option<TimeNs> {
            self.events.iter().copied().find(|&e| e > t)
        }
        fn prev_event_before(&self, t: TimeNs) -> Option<TimeNs> {
            self.events.iter().copied().rev().find(|&e| e < t)
        }
        fn next_checkpoint_after(&self, t: TimeNs) -> Option<TimeNs> {
            self.checkpoints.iter().copied().find(|&e| e > t)
        }
        fn next_fault_after(&self, t: TimeNs) -> Option<TimeNs> {
            self.faults.iter().copied().find(|&e| e > t)
        }
        fn end_ns(&self) -> TimeNs {
            self.end
        }
    }

    fn fake() -> Fake {
        Fake { events: vec![0, 10, 10, 25, 40, 90], checkpoints: vec![25], faults: vec![40], end: 100 }
    }

    /// Apply `commands` from a fresh control; compare the cursor after each.
    fn check(commands: &[Command], cursors: &[TimeNs]) {
        let nav = fake();
        let mut tc = TimeControl::default();
        let seen: Vec<TimeNs> = commands
            .iter()
            .map(|&c| {
                tc.apply(c, &nav);
                tc.cursor_ns
            })
            .collect();
        assert_eq!(seen, cursors);
    }

    #[test]
    fn stepping_visits_each_distinct_event_time() {
        use Command::*;
        check(&[StepEvent, StepEvent, StepEvent, StepBack, StepBack, StepBack], &[10, 25, 40, 25, 10, 0]);
    }

    #[test]
    fn stepping_past_the_last_event_stops_at_the_end() {
        use Command::*;
        check(&[Seek(90), StepEvent, StepEvent], &[90, 100, 100]);
    }

    #[test]
    fn jumps_go_to_the_next_checkpoint_or_fault_and_stay_when_there_is_none() {
        use Command::*;
        check(&[JumpNextCheckpoint, JumpNextFault, JumpNextCheckpoint, JumpNextFault], &[25, 40, 40, 40]);
    }

    #[test]
    fn seeks_are_clamped_to_the_run() {
        use Command::*;
        check(&[Seek(500), SeekBy(-30), SeekBy(-1000), SeekBy(7), ToEnd, ToStart], &[100, 70, 0, 7, 100, 0]);
        check(&[SeekByPermille(250), SeekByPermille(-100), SeekByPermille(5000)], &[25, 15, 100]);
    }

    #[test]
    fn play_advances_by_speed_times_frame_time_and_stops_at_the_end() {
        let nav = fake();
        let mut tc = TimeControl::default();
        tc.apply(Command::SetSpeed(0), &nav); // 1 ms of virtual time per second
        tc.apply(Command::Play, &nav);
        // At 1 ms of virtual time per second, 1 µs of wall time is 1 ns.
        assert!(!tc.tick(0.0, 10_000_000));
        assert!(tc.tick(0.000_001, 10_000_000));
        assert_eq!(tc.cursor_ns, 1);
        assert!(tc.tick(0.25, 10_000_000));
        assert_eq!(tc.cursor_ns, 250_001);
        tc.cursor_ns = 9_999_999;
        tc.tick(0.25, 10_000_000);
        assert_eq!(tc.cursor_ns, 10_000_000);
        assert!(!tc.playing, "playback stops at the end");
    }

    #[test]
    fn slow_playback_accumulates_fractions() {
        let nav = Fake { end: 1_000, ..fake() };
        let mut tc = TimeControl::default();
        tc.apply(Command::SetSpeed(0), &nav);
        tc.apply(Command::Play, &nav);
        for _ in 0..4 {
            tc.tick(0.000_000_25, 1_000); // a quarter of a nanosecond each
        }
        assert_eq!(tc.cursor_ns, 1);
    }

    #[test]
    fn play_at_the_end_starts_over_and_pause_stops() {
        let nav = fake();
        let mut tc = TimeControl { cursor_ns: 100, ..TimeControl::default() };
        tc.apply(Command::TogglePlay, &nav);
        assert!(tc.playing);
        assert_eq!(tc.cursor_ns, 0);
        tc.apply(Command::TogglePlay, &nav);
        assert!(!tc.playing);
        assert!(!tc.tick(1.0, 100), "a paused control never moves");
    }

    #[test]
    fn suggested_speed_plays_a_run_in_about_half_a_minute() {
        assert_eq!(TimeControl::suggested_speed(1_000_000_000), 3, "short runs play in real time");
        assert_eq!(SPEEDS[TimeControl::suggested_speed(600_000_000_000)].0, 20_000_000_000);
    }
}
