//! The timeline's view: which stretch of the run is visible (zoom and pan), where its ticks go,
//! what "fit to activity" frames, the bookmarks (faults and checkpoints) and, when zoomed in, how
//! busy each subtask is along the visible stretch. Plain data, tested without egui.

use sim::faults::Fault;
use sim::kernel::TimeNs;
use sim::recording::{TraceEvent, TraceKind};
use sim::Scenario;

use crate::view::markers::{self, Marker, MarkerKind};
use crate::view::time_text;

/// The narrowest stretch the timeline zooms to, in seconds-clock scenarios: 10 ms (a network hop
/// takes one or two, so they stay visible; ticks never need finer than a millisecond).
pub const MIN_SPAN_NS: TimeNs = 10_000_000;
/// The narrowest stretch for clock-time scenarios, whose ticks read to the second: 10 s.
pub const MIN_CLOCK_SPAN_NS: TimeNs = 10_000_000_000;
/// One wheel notch (or button press) zooms by this factor.
pub const ZOOM_STEP: f64 = 0.8;

/// The visible stretch `[start_ns, end_ns]` of a run that ends at `run_end_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    pub start_ns: TimeNs,
    pub end_ns: TimeNs,
}

impl TimeWindow {
    /// The whole run.
    pub fn whole(run_end_ns: TimeNs) -> TimeWindow {
        TimeWindow { start_ns: 0, end_ns: run_end_ns.max(1) }
    }

    pub fn span(&self) -> TimeNs {
        self.end_ns.saturating_sub(self.start_ns).max(1)
    }

    /// Inside `[0, run_end]`, at least `min_span` wide (or the whole run when that is shorter),
    /// moved rather than cut when it sticks out.
    pub fn clamped(self, run_end_ns: TimeNs, min_span: TimeNs) -> TimeWindow {
        let run_end = run_end_ns.max(1);
        let span = self.end_ns.saturating_sub(self.start_ns).max(min_span.min(run_end)).min(run_end);
        let start = self.start_ns.min(run_end - span);
        TimeWindow { start_ns: start, end_ns: start + span }
    }

    /// Does it show less than the whole run?
    pub fn is_zoomed(&self, run_end_ns: TimeNs) -> bool {
        self.start_ns > 0 || self.end_ns < run_end_ns.max(1)
    }

    /// Where `t` falls, 0.0 at the start and 1.0 at the end (outside for times outside).
    pub fn fraction(&self, t: TimeNs) -> f64 {
        (t as f64 - self.start_ns as f64) / self.span() as f64
    }

    /// The time at `fraction` of the way (clamped to the window).
    pub fn time_at(&self, fraction: f64) -> TimeNs {
        let f = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.0 };
        self.start_ns + (f * self.span() as f64).round() as TimeNs
    }

    /// Zoom by `factor` (< 1 zooms in) keeping `anchor_ns` where it is on screen.
    pub fn zoom(self, anchor_ns: TimeNs, factor: f64, run_end_ns: TimeNs, min_span: TimeNs) -> TimeWindow {
        let factor = if factor.is_finite() && factor > 0.0 { factor } else { 1.0 };
        let anchor = anchor_ns.clamp(self.start_ns, self.end_ns);
        let f = self.fraction(anchor).clamp(0.0, 1.0);
        let span = ((self.span() as f64 * factor).round() as TimeNs).max(min_span.min(run_end_ns.max(1)));
        let start = anchor.saturating_sub((f * span as f64).round() as TimeNs);
        TimeWindow { start_ns: start, end_ns: start.saturating_add(span) }.clamped(run_end_ns, min_span)
    }

    /// Move by `delta_ns` (positive: later), keeping the width.
    pub fn pan(self, delta_ns: i64, run_end_ns: TimeNs, min_span: TimeNs) -> TimeWindow {
        let span = self.span();
        let start = if delta_ns >= 0 {
            self.start_ns.saturating_add(delta_ns as TimeNs)
        } else {
            self.start_ns.saturating_sub(delta_ns.unsigned_abs())
        };
        TimeWindow { start_ns: start, end_ns: start.saturating_add(span) }.clamped(run_end_ns, min_span)
    }

    /// The same window with `t` in view (moved as little as possible).
    pub fn showing(self, t: TimeNs, run_end_ns: TimeNs, min_span: TimeNs) -> TimeWindow {
        if t < self.start_ns {
            self.pan(-((self.start_ns - t) as i64), run_end_ns, min_span)
        } else if t > self.end_ns {
            self.pan((t - self.end_ns) as i64, run_end_ns, min_span)
        } else {
            self
        }
    }
}

/// What the timeline shows, kept by the app: None is the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimelineState {
    pub window: Option<TimeWindow>,
    /// The cursor when last drawn: a cursor that moved out of view brings the window along.
    pub last_cursor_ns: TimeNs,
}

impl TimelineState {
    /// The visible window of a run ending at `run_end_ns`.
    pub fn window(&self, run_end_ns: TimeNs, min_span: TimeNs) -> TimeWindow {
        match self.window {
            Some(w) => w.clamped(run_end_ns, min_span),
            None => TimeWindow::whole(run_end_ns),
        }
    }

    /// Show `w` (the whole run again is None).
    pub fn set(&mut self, w: TimeWindow, run_end_ns: TimeNs) {
        self.window = w.is_zoomed(run_end_ns).then_some(w);
    }

    /// Where the cursor moved (playback, a seek, a bookmark) and left the window, pan to it; a
    /// window panned away from a cursor that stays put is left alone.
    pub fn follow(&mut self, cursor_ns: TimeNs, run_end_ns: TimeNs, min_span: TimeNs) {
        if cursor_ns != self.last_cursor_ns {
            self.last_cursor_ns = cursor_ns;
            if let Some(w) = self.window {
                self.window = Some(w.clamped(run_end_ns, min_span).showing(cursor_ns, run_end_ns, min_span));
            }
        }
    }
}

/// The narrowest window for this scenario's clock.
pub fn min_span(scenario: &Scenario) -> TimeNs {
    if scenario.clock_times {
        MIN_CLOCK_SPAN_NS
    } else {
        MIN_SPAN_NS
    }
}

/// The part of the run where something happens: from the first trace event to the last, with a
/// twentieth of that on either side. A textbook scenario whose records carry clock times sits
/// idle until its first record (twelve hours of nothing before nine minutes of data); this frames
/// the nine minutes.
pub fn activity(trace: &[TraceEvent], run_end_ns: TimeNs, min_span: TimeNs) -> TimeWindow {
    let (Some(first), Some(last)) = (trace.first(), trace.last()) else {
        return TimeWindow::whole(run_end_ns);
    };
    let (a, b) = (first.time_ns, last.time_ns);
    let margin = (b - a) / 20;
    let start = a.saturating_sub(margin);
    TimeWindow { start_ns: start, end_ns: b.saturating_add(margin).max(start + 1) }.clamped(run_end_ns, min_span)
}

/// Round tick steps: 1, 2, 5 times a power of ten nanoseconds from a millisecond up; for clock
/// times whole seconds, minutes and hours.
const CLOCK_STEPS_S: [u64; 15] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600];

/// Tick times inside `window`: the roundest step giving at most `max_ticks`, at multiples of it.
pub fn ticks(window: TimeWindow, clock_times: bool, max_ticks: u64) -> Vec<TimeNs> {
    let max_ticks = max_ticks.max(1);
    let span = window.span();
    let step = if clock_times {
        CLOCK_STEPS_S
            .iter()
            .map(|s| s * 1_000_000_000)
            .find(|step| span / step < max_ticks)
            .unwrap_or_else(|| span.div_ceil(max_ticks).div_ceil(3_600_000_000_000) * 3_600_000_000_000)
    } else {
        let mut base: TimeNs = 1_000_000;
        loop {
            if let Some(step) = [base, base * 2, base * 5].into_iter().find(|step| span / step < max_ticks) {
                break step;
            }
            match base.checked_mul(10) {
                Some(b) => base = b,
                None => break TimeNs::MAX,
            }
        }
    };
    let first = window.start_ns.div_ceil(step).saturating_mul(step);
    (0..)
        .map(|k: u64| first.saturating_add(k.saturating_mul(step)))
        .take_while(|&t| t <= window.end_ns)
        .take(max_ticks as usize + 1)
        .collect()
}

/// A moment worth jumping to: a fault, a checkpoint's end, the fork point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bookmark {
    pub time_ns: TimeNs,
    pub fault: bool,
    /// "4.200 s — tm-1 crashed (back after 2 s)": what the list shows.
    pub text: String,
}

/// Faults, completed or aborted checkpoints and divergences from a fork or parent, in time order.
pub fn bookmarks(scenario: &Scenario, faults: &[Fault], marks: &[Marker]) -> Vec<Bookmark> {
    marks
        .iter()
        .filter(|m| {
            m.kind.is_fault()
                || m.kind.is_divergence()
                || matches!(m.kind, MarkerKind::CheckpointCompleted | MarkerKind::CheckpointAborted)
        })
        .map(|m| Bookmark {
            time_ns: m.time_ns,
            fault: m.kind.is_fault(),
            text: format!("{} — {}", time_text(scenario, m.time_ns), markers::describe(scenario, faults, m)),
        })
        .collect()
}

/// The bookmark nearest to `t` within `tolerance_ns`, if any (a click on a marker snaps to it).
pub fn nearest_bookmark(bookmarks: &[Bookmark], t: TimeNs, tolerance_ns: TimeNs) -> Option<&Bookmark> {
    bookmarks.iter().filter(|b| b.time_ns.abs_diff(t) <= tolerance_ns).min_by_key(|b| b.time_ns.abs_diff(t))
}

/// Does this trace event count as work done by its subtask (a lane's activity)?
fn is_work(kind: TraceKind) -> bool {
    matches!(
        kind,
        TraceKind::ProcessRecord
            | TraceKind::ProcessWatermark
            | TraceKind::ProcessBarrier
            | TraceKind::ProcessIdle
            | TraceKind::ProcessEndOfInput
            | TraceKind::SourceRead
            | TraceKind::SinkAppend
            | TraceKind::SinkUpsert
            | TraceKind::SinkTxnWrite
    )
}

/// At most this many trace events are read per lanes build; past it every n-th is read and
/// counted n times (the lanes show where work happens, not exact counts).
pub const LANE_EVENT_BUDGET: usize = 200_000;

/// One lane per subtask over the visible window, in `buckets` columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lanes {
    /// `work[subtask][bucket]`: events processed there (estimated when sampled).
    pub work: Vec<Vec<u32>>,
    /// `(subtask, time)` of snapshots taken in the window.
    pub snapshots: Vec<(usize, TimeNs)>,
    /// `(subtask, time)` of late records dropped in the window.
    pub late: Vec<(usize, TimeNs)>,
    /// Every n-th event was read (1: all).
    pub stride: usize,
}

/// How busy each of `subtasks` subtasks is across `window` (`trace` and `marks` in time order).
pub fn lanes(trace: &[TraceEvent], marks: &[Marker], subtasks: usize, window: TimeWindow, buckets: usize) -> Lanes {
    let buckets = buckets.max(1);
    let from = trace.partition_point(|e| e.time_ns < window.start_ns);
    let to = trace.partition_point(|e| e.time_ns <= window.end_ns);
    let visible = trace.get(from..to).unwrap_or(&[]);
    let stride = visible.len().div_ceil(LANE_EVENT_BUDGET).max(1);
    let mut lanes = Lanes { work: vec![vec![0; buckets]; subtasks], snapshots: Vec::new(), late: Vec::new(), stride };
    let bucket_of = |t: TimeNs| ((window.fraction(t) * buckets as f64) as usize).min(buckets - 1);
    for e in visible.iter().step_by(stride) {
        let s = e.subtask().index();
        if s >= subtasks {
            continue;
        }
        if is_work(e.kind) {
            let cell = &mut lanes.work[s][bucket_of(e.time_ns)];
            *cell = cell.saturating_add(stride as u32);
        }
    }
    // Snapshots are rare, but finding them means reading every event: only when nothing is
    // skipped anyway.
    if stride == 1 {
        lanes.snapshots = visible
            .iter()
            .filter(|e| e.kind == TraceKind::Snapshot && (e.subtask().index()) < subtasks)
            .map(|e| (e.subtask().index(), e.time_ns))
            .collect();
    }
    // Late drops are markers (kept apart from the trace): all of them.
    let from = marks.partition_point(|m| m.time_ns < window.start_ns);
    let to = marks.partition_point(|m| m.time_ns <= window.end_ns);
    lanes.late = marks
        .get(from..to)
        .unwrap_or(&[])
        .iter()
        .filter(|m| m.kind == MarkerKind::LateDropped && (m.subtask as usize) < subtasks)
        .map(|m| (m.subtask as usize, m.time_ns))
        .collect();
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::graph::{InputIndex, SubtaskId};
    use sim::recording::Payload;

    const S: TimeNs = 1_000_000_000;

    #[test]
    fn zoom_keeps_the_anchor_in_place_and_stays_inside_the_run() {
        let w = TimeWindow::whole(100 * S);
        let z = w.zoom(25 * S, 0.5, 100 * S, MIN_SPAN_NS);
        assert_eq!(z.span(), 50 * S);
        assert!((z.fraction(25 * S) - 0.25).abs() < 1e-9, "{z:?}");
        // Zooming out past the run gives the whole run back.
        assert_eq!(z.zoom(25 * S, 10.0, 100 * S, MIN_SPAN_NS), w);
        // Zooming in far stops at the narrowest span.
        let mut deep = w;
        for _ in 0..200 {
            deep = deep.zoom(99 * S, 0.5, 100 * S, MIN_SPAN_NS);
        }
        assert_eq!(deep.span(), MIN_SPAN_NS);
        assert!(deep.start_ns <= 99 * S && 99 * S <= deep.end_ns);
        assert!(!w.is_zoomed(100 * S) && z.is_zoomed(100 * S));
    }

    #[test]
    fn pan_keeps_the_width_and_stops_at_the_ends() {
        let w = TimeWindow { start_ns: 10 * S, end_ns: 20 * S };
        assert_eq!(w.pan(5 * S as i64, 100 * S, MIN_SPAN_NS), TimeWindow { start_ns: 15 * S, end_ns: 25 * S });
        assert_eq!(w.pan(-50 * S as i64, 100 * S, MIN_SPAN_NS), TimeWindow { start_ns: 0, end_ns: 10 * S });
        assert_eq!(w.pan(500 * S as i64, 100 * S, MIN_SPAN_NS), TimeWindow { start_ns: 90 * S, end_ns: 100 * S });
        assert_eq!(w.pan(i64::MIN, 100 * S, MIN_SPAN_NS).start_ns, 0);
        assert_eq!(w.pan(i64::MAX, 100 * S, MIN_SPAN_NS).end_ns, 100 * S);
        assert_eq!(w.showing(50 * S, 100 * S, MIN_SPAN_NS), TimeWindow { start_ns: 40 * S, end_ns: 50 * S });
        assert_eq!(w.showing(15 * S, 100 * S, MIN_SPAN_NS), w);
    }

    #[test]
    fn the_window_follows_a_moving_cursor_only() {
        let mut st = TimelineState::default();
        st.follow(50 * S, 100 * S, MIN_SPAN_NS);
        assert_eq!(st.window(100 * S, MIN_SPAN_NS), TimeWindow::whole(100 * S));
        st.set(TimeWindow { start_ns: 0, end_ns: 10 * S }, 100 * S);
        st.follow(60 * S, 100 * S, MIN_SPAN_NS);
        assert_eq!(st.window, Some(TimeWindow { start_ns: 50 * S, end_ns: 60 * S }));
        // Panned away, the same cursor does not pull it back.
        st.set(TimeWindow { start_ns: 0, end_ns: 10 * S }, 100 * S);
        st.follow(60 * S, 100 * S, MIN_SPAN_NS);
        assert_eq!(st.window, Some(TimeWindow { start_ns: 0, end_ns: 10 * S }));
        st.set(TimeWindow::whole(100 * S), 100 * S);
        assert_eq!(st.window, None);
    }

    #[test]
    fn time_at_and_fraction_agree() {
        let w = TimeWindow { start_ns: 10 * S, end_ns: 20 * S };
        assert_eq!(w.time_at(0.5), 15 * S);
        assert_eq!(w.time_at(-3.0), 10 * S);
        assert_eq!(w.time_at(f64::NAN), 10 * S);
        assert_eq!(w.time_at(7.0), 20 * S);
        assert!((w.fraction(12 * S) - 0.2).abs() < 1e-9);
    }

    fn ev(t: TimeNs, payload: Payload, subtask: u32) -> TraceEvent {
        TraceEvent::from_payload(t, SubtaskId::from_raw(subtask), None, payload)
    }
    const RECORD: Payload = Payload::ProcessRecord { input: InputIndex::from_raw(1), checkpoint: None };

    #[test]
    fn activity_frames_the_nine_minutes_of_a_twelve_hour_run() {
        let noon = 12 * 3600 * S;
        let trace: Vec<TraceEvent> = (0..=9).map(|m| ev(noon + m * 60 * S, RECORD, 0)).collect();
        let w = activity(&trace, noon + 9 * 60 * S, MIN_CLOCK_SPAN_NS);
        assert!(w.start_ns <= noon && w.start_ns > noon - 60 * S, "{w:?}");
        assert_eq!(w.end_ns, noon + 9 * 60 * S, "not past the run's end");
        assert!(w.span() < 11 * 60 * S);
        assert_eq!(activity(&[], 5 * S, MIN_SPAN_NS), TimeWindow::whole(5 * S));
    }

    #[test]
    fn ticks_are_round_and_inside_the_window() {
        let w = TimeWindow { start_ns: 1_234_000_000, end_ns: 9_100_000_000 };
        let t = ticks(w, false, 8);
        assert_eq!(t, [2, 3, 4, 5, 6, 7, 8, 9].map(|s| s * S));
        let noon = 12 * 3600 * S;
        let c = ticks(TimeWindow { start_ns: noon - 30 * S, end_ns: noon + 9 * 60 * S }, true, 8);
        assert_eq!(c.first(), Some(&noon));
        assert!(c.windows(2).all(|p| p[1] - p[0] == 120 * S), "{c:?}");
        let fine = ticks(TimeWindow { start_ns: 0, end_ns: MIN_SPAN_NS }, false, 8);
        assert!(fine.len() >= 3 && fine.iter().all(|t| t % 1_000_000 == 0), "{fine:?}");
        assert!(ticks(TimeWindow { start_ns: 0, end_ns: u64::MAX }, false, 8).len() <= 9);
        assert!(ticks(TimeWindow { start_ns: 0, end_ns: u64::MAX }, true, 8).len() <= 9);
    }

    #[test]
    fn lanes_count_work_per_subtask_and_bucket() {
        let trace = vec![
            ev(S, RECORD, 0),
            ev(2 * S, Payload::SourceRead { partition: 1, offset: 0 }, 1),
            ev(3 * S, Payload::Snapshot { checkpoint: engine::CheckpointId::FIRST, state_bytes: 0 }, 1),
            ev(9 * S, RECORD, 0),
            ev(9 * S, Payload::LateDropped { key: 1, timestamp_ms: 0 }, 0),
            ev(9 * S, Payload::NodeCrashed { back_after_ns: Some(1) }, 7),
            ev(20 * S, RECORD, 0),
        ];
        let l = lanes(&trace, &markers::collect(&trace), 2, TimeWindow { start_ns: 0, end_ns: 10 * S }, 10);
        assert_eq!(l.stride, 1);
        assert_eq!(l.work[0].iter().sum::<u32>(), 2, "the event at 20 s is outside");
        assert_eq!((l.work[0][1], l.work[0][9], l.work[1][2]), (1, 1, 1));
        assert_eq!((l.snapshots.clone(), l.late.clone()), (vec![(1, 3 * S)], vec![(0, 9 * S)]));
    }

    #[test]
    fn bookmarks_are_faults_and_finished_checkpoints() {
        let s = Scenario::default_scenario();
        let marks = markers::collect(&[
            ev(S, Payload::CheckpointTriggered { checkpoint: engine::CheckpointId::FIRST }, 0),
            ev(2 * S, Payload::CheckpointCompleted { checkpoint: engine::CheckpointId::FIRST }, 0),
            ev(3 * S, Payload::NodeCrashed { back_after_ns: None }, 1),
        ]);
        let b = bookmarks(&s, &[], &marks);
        assert_eq!(b.iter().map(|b| (b.time_ns, b.fault)).collect::<Vec<_>>(), [(2 * S, false), (3 * S, true)]);
        assert!(b[0].text.starts_with("2.000 s — checkpoint 1 completed"), "{}", b[0].text);
        assert_eq!(nearest_bookmark(&b, 3 * S + 10, 100).map(|b| b.time_ns), Some(3 * S));
        assert_eq!(nearest_bookmark(&b, 5 * S, 100), None);
    }
}
