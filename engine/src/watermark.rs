//! Watermarks: generation at the sources, and the per-subtask min-combiner ("valve") downstream.

use serde::{Deserialize, Serialize};

use crate::graph::InputIndex;
use crate::mintree::MinTree;
use crate::{EventTimeMs, ProcTimeNs, WATERMARK_MAX, WATERMARK_MIN};

/// When a bounded-out-of-orderness generator emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Emission {
    /// Every `interval_ms` of processing time (Flink's `autoWatermarkInterval`, default 200 ms).
    Periodic { interval_ms: u64 },
    /// After every record that advances it ("punctuated").
    PerRecord,
}

/// How a source derives watermarks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatermarkStrategy {
    /// `W = max_ts - bound - 1`, per source partition; a partition without records for
    /// `idle_timeout_ms` of processing time is idle and does not hold the watermark back.
    BoundedOutOfOrderness { bound_ms: i64, emission: Emission, idle_timeout_ms: Option<u64> },
    /// A fixed schedule: at processing time `at`, the watermark becomes `watermark`
    /// (how textbook examples state a perfect or heuristic watermark).
    Explicit(Vec<ExplicitWatermark>),
    /// No watermarks: event-time windows fire only at end of input.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplicitWatermark {
    pub at_ns: ProcTimeNs,
    pub watermark_ms: EventTimeMs,
}

/// Bounded out-of-orderness over one partition: tracks the largest timestamp seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundedGenerator {
    pub bound_ms: i64,
    pub max_timestamp_ms: EventTimeMs,
}

impl BoundedGenerator {
    pub fn new(bound_ms: i64) -> Self {
        BoundedGenerator { bound_ms, max_timestamp_ms: WATERMARK_MIN }
    }
    pub fn observe(&mut self, ts: EventTimeMs) {
        self.max_timestamp_ms = self.max_timestamp_ms.max(ts);
    }
    /// `max_ts - bound - 1`, or no watermark before the first record.
    pub fn current(&self) -> EventTimeMs {
        if self.max_timestamp_ms == WATERMARK_MIN {
            WATERMARK_MIN
        } else {
            self.max_timestamp_ms.saturating_sub(self.bound_ms).saturating_sub(1)
        }
    }
}

/// Watermark and status of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputWatermark {
    pub watermark: EventTimeMs,
    pub idle: bool,
    /// An input that came back from idleness behind the combined watermark takes part in the
    /// minimum again only once it catches up (otherwise the combined watermark would go back).
    pub aligned: bool,
    /// End of input seen: watermark +infinity for good.
    pub finished: bool,
}

/// What changed when the combiner saw an input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CombinerUpdate {
    /// The combined watermark advanced to this; forward it.
    pub watermark: Option<EventTimeMs>,
    /// The subtask as a whole became idle (`Some(true)`) or active (`Some(false)`).
    pub idle: Option<bool>,
}

/// Per-subtask min-combiner over input channels with idleness, like Flink's
/// `StatusWatermarkValve`: the combined watermark is the minimum over active, aligned inputs and
/// only ever increases. The minimum is kept in a tournament tree ([`MinTree`]) and the idle
/// inputs are counted, so an input's watermark costs O(log n) in the number of inputs, not a
/// scan of all of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkCombiner {
    inputs: Vec<InputWatermark>,
    combined: EventTimeMs,
    idle: bool,
    /// Per input `(left out of the minimum, watermark, finished)`: the root is the minimum over
    /// active, aligned inputs (unfinished ones first among equals, then the lowest index).
    tree: MinTree<(bool, EventTimeMs, bool)>,
    /// Inputs idle, and inputs idle or finished (an input is never both).
    idle_inputs: usize,
    idle_or_finished: usize,
}

fn tree_key(i: &InputWatermark) -> (bool, EventTimeMs, bool) {
    (i.idle || !i.aligned, i.watermark, i.finished)
}

impl WatermarkCombiner {
    pub fn new(input_count: usize) -> Self {
        let input = InputWatermark { watermark: WATERMARK_MIN, idle: false, aligned: true, finished: false };
        WatermarkCombiner {
            inputs: vec![input; input_count],
            combined: WATERMARK_MIN,
            idle: false,
            tree: MinTree::new(vec![tree_key(&input); input_count]),
            idle_inputs: 0,
            idle_or_finished: 0,
        }
    }

    pub fn combined(&self) -> EventTimeMs {
        self.combined
    }
    pub fn is_idle(&self) -> bool {
        self.idle
    }
    pub fn inputs(&self) -> &[InputWatermark] {
        &self.inputs
    }

    /// The input holding the combined watermark back, if any: the answer to "why has my window
    /// not fired?". Ties go to the lowest index.
    pub fn holding_back(&self) -> Option<InputIndex> {
        match self.tree.min() {
            Some((index, (false, _, false))) => InputIndex::all(self.inputs.len()).nth(index),
            _ => None,
        }
    }

    /// Change input `index` and keep the tree and the counts in step.
    fn update(&mut self, input: InputIndex, change: impl FnOnce(&mut InputWatermark)) {
        let index = input.index();
        let old = self.inputs[index];
        change(&mut self.inputs[index]);
        let new = self.inputs[index];
        self.idle_inputs = self.idle_inputs + usize::from(new.idle) - usize::from(old.idle);
        self.idle_or_finished =
            self.idle_or_finished + usize::from(new.idle || new.finished) - usize::from(old.idle || old.finished);
        if tree_key(&old) != tree_key(&new) {
            self.tree.set(index, tree_key(&new));
        }
    }

    pub fn on_watermark(&mut self, input: InputIndex, watermark: EventTimeMs) -> CombinerUpdate {
        let slot = self.inputs[input.index()];
        if watermark <= slot.watermark {
            // Never backwards on a channel: a stale or repeated watermark changes nothing.
            return CombinerUpdate::default();
        }
        let combined = self.combined;
        self.update(input, |slot| {
            slot.watermark = watermark;
            if !slot.aligned && watermark >= combined {
                slot.aligned = true;
            }
            // A watermark implies activity (sources send `Idle(false)` first, but be robust).
            slot.idle = false;
        });
        let mut update = CombinerUpdate::default();
        if slot.idle {
            update.idle = self.refresh_idle();
        }
        update.watermark = self.recompute();
        update
    }

    pub fn on_idle(&mut self, input: InputIndex, idle: bool) -> CombinerUpdate {
        let combined = self.combined;
        let slot = self.inputs[input.index()];
        if slot.idle == idle || slot.finished {
            return CombinerUpdate::default();
        }
        self.update(input, |slot| {
            slot.idle = idle;
            slot.aligned = !idle && slot.watermark >= combined;
        });
        let idle_change = self.refresh_idle();
        let mut watermark = self.recompute();
        if idle_change == Some(true) {
            // Everything went idle: release the largest watermark any input reached, so that
            // downstream windows do not wait for inputs that have nothing to say (Flink does this).
            let max = self.inputs.iter().filter(|i| !i.finished).map(|i| i.watermark).max();
            if let Some(max) = max {
                if max > self.combined {
                    self.combined = max;
                    watermark = Some(max);
                }
            }
        }
        CombinerUpdate { watermark, idle: idle_change }
    }

    /// End of input on one input: it stands for watermark +infinity from now on.
    pub fn on_end_of_input(&mut self, input: InputIndex) -> CombinerUpdate {
        self.update(input, |slot| {
            slot.finished = true;
            slot.idle = false;
            slot.aligned = true;
            slot.watermark = WATERMARK_MAX;
        });
        let idle = self.refresh_idle();
        CombinerUpdate { watermark: self.recompute(), idle }
    }

    fn refresh_idle(&mut self) -> Option<bool> {
        let all_idle = self.idle_or_finished == self.inputs.len() && self.idle_inputs > 0;
        if all_idle != self.idle {
            self.idle = all_idle;
            Some(all_idle)
        } else {
            None
        }
    }

    fn recompute(&mut self) -> Option<EventTimeMs> {
        let (_, (left_out, min, _)) = self.tree.min()?;
        if left_out {
            return None;
        }
        if min > self.combined {
            self.combined = min;
            Some(min)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Step {
        W(usize, EventTimeMs),
        Idle(usize, bool),
        End(usize),
    }
    use Step::*;

    /// Input `i` of the subtask under test.
    fn input(i: u32) -> InputIndex {
        InputIndex::from_raw(i)
    }

    /// Feed steps to a combiner of `inputs` channels; compare the forwarded watermarks.
    fn check(inputs: usize, steps: &[Step], expected: &[EventTimeMs]) {
        let mut c = WatermarkCombiner::new(inputs);
        let mut forwarded = Vec::new();
        for step in steps {
            let update = match *step {
                W(i, w) => c.on_watermark(input(i as u32), w),
                Idle(i, idle) => c.on_idle(input(i as u32), idle),
                End(i) => c.on_end_of_input(input(i as u32)),
            };
            forwarded.extend(update.watermark);
        }
        assert_eq!(forwarded, expected);
    }

    #[test]
    fn minimum_over_channels() {
        check(2, &[W(0, 10), W(1, 5), W(1, 20), W(0, 30)], &[5, 10, 20]);
    }

    #[test]
    fn never_backwards_on_a_channel_or_downstream() {
        check(2, &[W(0, 10), W(1, 10), W(0, 4), W(1, 12), W(0, 11)], &[10, 11]);
    }

    #[test]
    fn idle_channel_is_ignored_until_it_catches_up() {
        // Channel 1 idles; channel 0 alone drives. Channel 1 comes back behind: not counted until
        // it reaches the combined watermark, so the output never goes back.
        check(
            2,
            &[W(0, 10), W(1, 10), Idle(1, true), W(0, 20), Idle(1, false), W(1, 15), W(0, 30), W(1, 35), W(0, 40)],
            &[10, 20, 30, 35],
        );
    }

    #[test]
    fn all_idle_releases_the_maximum() {
        check(2, &[W(0, 10), W(1, 3), Idle(1, true), Idle(0, true)], &[3, 10]);
    }

    #[test]
    fn end_of_input_is_plus_infinity() {
        check(2, &[W(0, 10), End(1), End(0)], &[10, WATERMARK_MAX]);
    }

    #[test]
    fn holding_back_names_the_slowest_channel() {
        let mut c = WatermarkCombiner::new(3);
        c.on_watermark(input(0), 10);
        c.on_watermark(input(1), 4);
        c.on_watermark(input(2), 7);
        assert_eq!(c.holding_back(), Some(input(1)));
    }

    /// The combiner as it was before the tournament tree: every update scans all inputs.
    struct Scanning {
        inputs: Vec<InputWatermark>,
        combined: EventTimeMs,
        idle: bool,
    }

    impl Scanning {
        fn refresh_idle(&mut self) -> Option<bool> {
            let all_idle = self.inputs.iter().all(|i| i.idle || i.finished) && self.inputs.iter().any(|i| i.idle);
            (all_idle != self.idle).then(|| {
                self.idle = all_idle;
                all_idle
            })
        }
        fn recompute(&mut self) -> Option<EventTimeMs> {
            let min = self.inputs.iter().filter(|i| !i.idle && i.aligned).map(|i| i.watermark).min()?;
            (min > self.combined).then(|| {
                self.combined = min;
                min
            })
        }
        fn step(&mut self, step: &Step) -> CombinerUpdate {
            match *step {
                W(i, w) => {
                    if w <= self.inputs[i].watermark {
                        return CombinerUpdate::default();
                    }
                    let combined = self.combined;
                    let slot = &mut self.inputs[i];
                    slot.watermark = w;
                    if !slot.aligned && w >= combined {
                        slot.aligned = true;
                    }
                    let mut update = CombinerUpdate::default();
                    if slot.idle {
                        slot.idle = false;
                        update.idle = self.refresh_idle();
                    }
                    update.watermark = self.recompute();
                    update
                }
                Idle(i, idle) => {
                    let combined = self.combined;
                    let slot = &mut self.inputs[i];
                    if slot.idle == idle || slot.finished {
                        return CombinerUpdate::default();
                    }
                    slot.idle = idle;
                    slot.aligned = !idle && slot.watermark >= combined;
                    let idle_change = self.refresh_idle();
                    let mut watermark = self.recompute();
                    if idle_change == Some(true) {
                        let max = self.inputs.iter().filter(|i| !i.finished).map(|i| i.watermark).max();
                        if let Some(max) = max.filter(|&m| m > self.combined) {
                            self.combined = max;
                            watermark = Some(max);
                        }
                    }
                    CombinerUpdate { watermark, idle: idle_change }
                }
                End(i) => {
                    let slot = &mut self.inputs[i];
                    slot.finished = true;
                    slot.idle = false;
                    slot.aligned = true;
                    slot.watermark = WATERMARK_MAX;
                    let idle = self.refresh_idle();
                    CombinerUpdate { watermark: self.recompute(), idle }
                }
            }
        }
        fn holding_back(&self) -> Option<usize> {
            self.inputs
                .iter()
                .enumerate()
                .filter(|(_, i)| !i.idle && i.aligned && !i.finished)
                .min_by_key(|(idx, i)| (i.watermark, *idx))
                .map(|(idx, _)| idx)
        }
    }

    /// The tree-based combiner forwards exactly what the scanning one did, step for step, over
    /// deterministic pseudo-random sequences of watermarks, idleness and ends of input.
    #[test]
    fn same_updates_as_a_scan_over_all_inputs() {
        for inputs in [1usize, 2, 3, 7, 16] {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ inputs as u64;
            let mut tree = WatermarkCombiner::new(inputs);
            let start = InputWatermark { watermark: WATERMARK_MIN, idle: false, aligned: true, finished: false };
            let mut scan = Scanning { inputs: vec![start; inputs], combined: WATERMARK_MIN, idle: false };
            for _ in 0..2_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % inputs as u64) as usize;
                let step = match (x >> 16) % 100 {
                    0 => End(i),
                    1..=20 => Idle(i, (x >> 30) % 2 == 0),
                    _ => W(i, ((x >> 32) % 200) as i64),
                };
                let expected = scan.step(&step);
                let got = match step {
                    W(i, w) => tree.on_watermark(input(i as u32), w),
                    Idle(i, idle) => tree.on_idle(input(i as u32), idle),
                    End(i) => tree.on_end_of_input(input(i as u32)),
                };
                assert_eq!(got, expected, "{inputs} inputs");
                assert_eq!(tree.inputs(), scan.inputs.as_slice());
                assert_eq!((tree.combined(), tree.is_idle()), (scan.combined, scan.idle));
                assert_eq!(tree.holding_back().map(InputIndex::index), scan.holding_back());
            }
        }
    }

    #[test]
    fn bounded_generator() {
        let mut g = BoundedGenerator::new(500);
        assert_eq!(g.current(), WATERMARK_MIN);
        g.observe(1000);
        g.observe(800);
        assert_eq!(g.current(), 499);
    }
}
