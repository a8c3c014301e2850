//! The discrete-event kernel: a virtual clock, an event queue ordered by (time, sequence number),
//! and seeded randomness with a sub-seed per component.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Virtual time in nanoseconds since the start of the run: the engine's [`engine::ProcTimeNs`]
/// (one type; this name is the simulator's spelling of it). Milliseconds become nanoseconds
/// through [`engine::ms_to_ns`] only.
pub type TimeNs = engine::ProcTimeNs;

/// A heap entry: when, in which order, and where the event itself lives. Events stay put in a
/// slab while the heap moves only these 24-byte keys around (events are ~90 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    time_ns: TimeNs,
    sequence: u64,
    slot: u32,
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest (time, sequence) pops first.
        (other.time_ns, other.sequence).cmp(&(self.time_ns, self.sequence))
    }
}

/// Events ordered by `(time, sequence)`: two events at the same time pop in the order they were
/// scheduled, so the order never depends on anything but the run itself.
///
/// The keys wait in two heaps: `near` for most events, `far` for those scheduled with
/// [`EventQueue::schedule_far`] — many at once and well ahead of the clock (a network buffer's
/// arrival: at parallelism 64 one per channel, 4 096 after each flush round). Kept apart, the
/// events that come and go near the clock (task runs) sift through a heap of tens, not
/// thousands. Which heap holds an event changes nothing but that cost: `pop` takes the smaller
/// of the two tops by `(time, sequence)`, the sequence counting across both.
#[derive(Clone)]
pub struct EventQueue<E> {
    near: BinaryHeap<Entry>,
    far: BinaryHeap<Entry>,
    /// The earliest time queued in either heap (`peek_time_ns`, asked at every task run, reads
    /// it without looking into both).
    first_ns: Option<TimeNs>,
    slots: Vec<Option<E>>,
    free_slots: Vec<u32>,
    next_sequence: u64,
    now_ns: TimeNs,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            near: BinaryHeap::new(),
            far: BinaryHeap::new(),
            first_ns: None,
            slots: Vec::new(),
            free_slots: Vec::new(),
            next_sequence: 0,
            now_ns: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn now_ns(&self) -> TimeNs {
        self.now_ns
    }

    /// Schedule `event` at `time_ns` (never in the past: clamped to now).
    pub fn schedule(&mut self, time_ns: TimeNs, event: E) {
        let entry = self.entry(time_ns, event);
        self.near.push(entry);
    }

    /// [`EventQueue::schedule`] for an event of a kind scheduled many at a time and well ahead
    /// of the clock: the same place in the order, kept in the other heap.
    pub fn schedule_far(&mut self, time_ns: TimeNs, event: E) {
        let entry = self.entry(time_ns, event);
        self.far.push(entry);
    }

    /// Store `event` and give it its key: `time_ns` clamped to now, the next sequence number.
    fn entry(&mut self, time_ns: TimeNs, event: E) -> Entry {
        let time_ns = time_ns.max(self.now_ns);
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        let entry = Entry { time_ns, sequence: self.next_sequence, slot };
        self.next_sequence += 1;
        self.first_ns = Some(self.first_ns.map_or(time_ns, |first| first.min(time_ns)));
        entry
    }

    /// The heap whose top comes first (`near` on an empty queue).
    fn first_heap(&mut self) -> &mut BinaryHeap<Entry> {
        match (self.near.peek(), self.far.peek()) {
            // `Entry`'s order is reversed (max-heap): the greater entry comes first.
            (Some(near), Some(far)) if far > near => &mut self.far,
            (None, Some(_)) => &mut self.far,
            _ => &mut self.near,
        }
    }

    /// Pop the next event and advance the clock to it.
    pub fn pop(&mut self) -> Option<(TimeNs, E)> {
        let entry = self.first_heap().pop()?;
        self.first_ns = self.earliest_top();
        self.now_ns = entry.time_ns;
        let event = self.slots[entry.slot as usize].take().expect("a scheduled slot holds its event");
        self.free_slots.push(entry.slot);
        Some((entry.time_ns, event))
    }

    /// Move the clock forward to `time_ns` without an event: the world does so when the event it
    /// would schedule is the next one anyway (`time_ns` before every queued event).
    pub fn advance_to(&mut self, time_ns: TimeNs) {
        debug_assert!(self.peek_time_ns().is_none_or(|t| time_ns < t));
        self.now_ns = self.now_ns.max(time_ns);
    }

    pub fn peek_time_ns(&self) -> Option<TimeNs> {
        self.first_ns
    }

    /// The earliest time on top of either heap.
    fn earliest_top(&self) -> Option<TimeNs> {
        let near = self.near.peek().map(|e| e.time_ns);
        let far = self.far.peek().map(|e| e.time_ns);
        match (near, far) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn len(&self) -> usize {
        self.near.len() + self.far.len()
    }
    pub fn is_empty(&self) -> bool {
        self.near.is_empty() && self.far.is_empty()
    }

    /// Every pending event with its time, in unspecified (heap) order.
    pub fn iter_unsorted(&self) -> impl Iterator<Item = (TimeNs, &E)> {
        self.near
            .iter()
            .chain(self.far.iter())
            .map(|e| (e.time_ns, self.slots[e.slot as usize].as_ref().expect("scheduled")))
    }

    /// Drop every pending event for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        let slots = &mut self.slots;
        let free_slots = &mut self.free_slots;
        for heap in [&mut self.near, &mut self.far] {
            heap.retain(|e| {
                let kept = keep(slots[e.slot as usize].as_ref().expect("scheduled"));
                if !kept {
                    slots[e.slot as usize] = None;
                    free_slots.push(e.slot);
                }
                kept
            });
        }
        self.first_ns = self.earliest_top();
    }
}

/// Seeded randomness. The root generator only hands out sub-seeds, one per component, so that
/// adding a component does not shift every other component's random stream (TigerBeetle's VOPR
/// habit). All draws are integers.
#[derive(Clone, Debug)]
pub struct SimRng {
    rng: ChaCha8Rng,
}

/// Named random streams. Append new ones at the end; never reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Generator = 0,
    Network = 1,
    Faults = 2,
    Swarm = 3,
    /// Storm's tuple and root ids.
    StormIds = 4,
    /// The restart strategy's jitter (`sim::job`, from [`stream_seed`]).
    Restart = 5,
}

/// The sub-seed of one component stream of a run with `root_seed` (what
/// [`SimRng::for_stream`] seeds its generator with), for a component that hashes it instead of
/// drawing from a generator.
pub fn stream_seed(root_seed: u64, stream: Stream) -> u64 {
    let mut root = ChaCha8Rng::seed_from_u64(root_seed);
    let mut sub = 0;
    for _ in 0..=stream as usize {
        sub = root.next_u64();
    }
    sub
}

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// The generator for one component stream of a run with `root_seed`.
    pub fn for_stream(root_seed: u64, stream: Stream) -> Self {
        SimRng::new(stream_seed(root_seed, stream))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift (bias below 2^-64 * n, irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `min..=max`.
    pub fn between(&mut self, min: u64, max: u64) -> u64 {
        if max <= min {
            return min;
        }
        min + self.below(max - min + 1)
    }

    /// True with probability `ppm` parts per million.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < ppm as u64
    }

    /// Approximately exponential with the given mean, in integers: a geometric number of
    /// "half-lives" plus a uniform fraction of one (piecewise-uniform between powers of two).
    pub fn exponential(&mut self, mean: u64) -> u64 {
        // X = step * (G + U) with G geometric (P(G >= k) = 2^-k) and U uniform in [0, 1): the tail
        // halves every `step`, like an exponential's. E[X] = 1.5 step, so step = 2/3 of the mean.
        // Bounded: a mean comes from a `*_ms` field (at most MAX_TIME_MS = 1e11 ms, 1e17 ns), so
        // step * 40 <= 2.7e18 fits a u64; step * fraction would not (found by a hostile file
        // with `Exponential(mean_ms: 100_000_000_000)`), so that product is taken in u128 and
        // is below `step`. Saturating all the same: a caller may pass any u64.
        let step = mean / 3 * 2 + mean % 3 * 2 / 3;
        let halvings = self.next_u64().trailing_zeros().min(40) as u64;
        let fraction = self.below(1024);
        let part = (u128::from(step) * u128::from(fraction) / 1024) as u64;
        step.saturating_mul(halvings).saturating_add(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_events_pop_in_schedule_order() {
        let mut q = EventQueue::default();
        q.schedule(10, "b");
        q.schedule(5, "a");
        q.schedule(10, "c");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(5, "a"), (10, "b"), (10, "c")]);
    }

    /// Events scheduled far and near pop in one `(time, sequence)` order, as if in one heap:
    /// checked against a plain sorted list fed the same pushes and pops (times random within
    /// 50 ns of the clock, so ties are common).
    #[test]
    fn far_and_near_events_pop_in_one_order() {
        let mut queue = EventQueue::default();
        let mut list: Vec<(TimeNs, u64)> = Vec::new();
        let (mut from_queue, mut from_list) = (Vec::new(), Vec::new());
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in 0..5_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let time = queue.now_ns() + x % 50;
            if x % 3 == 0 {
                queue.schedule_far(time, n);
            } else {
                queue.schedule(time, n);
            }
            // `n` is the sequence number: (time, n) is the queue's order.
            list.push((time, n));
            if x % 5 < 2 {
                from_queue.extend(queue.pop());
                list.sort_unstable();
                from_list.push(list.remove(0));
            }
            assert_eq!(queue.peek_time_ns(), list.iter().map(|&(t, _)| t).min());
        }
        from_queue.extend(std::iter::from_fn(|| queue.pop()));
        list.sort_unstable();
        from_list.extend(list);
        assert_eq!(from_queue, from_list);
        assert!(from_queue.windows(2).any(|w| w[0].0 == w[1].0), "ties were exercised");
    }

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1 = SimRng::for_stream(7, Stream::Network).next_u64();
        let a2 = SimRng::for_stream(7, Stream::Network).next_u64();
        let b = SimRng::for_stream(7, Stream::Generator).next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
    }

    #[test]
    fn exponential_mean_is_close() {
        let mut r = SimRng::new(1);
        let n = 100_000;
        let total: u64 = (0..n).map(|_| r.exponential(1_000_000)).sum();
        let mean = total / n;
        assert!((900_000..1_100_000).contains(&mean), "mean {mean}");
    }
}
