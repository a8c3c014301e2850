//! The event queue: events ordered by `(time, sequence)`, near ones in a four-ary heap and far
//! ones (network deliveries, scheduled in bursts) in sorted runs.

use super::TimeNs;

/// A heap entry: when, in which order, and where the event itself lives. Events stay put in a
/// slab while the heap moves only these 24-byte keys around.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    time_ns: TimeNs,
    sequence: u64,
    slot: u32,
}

impl HeapKey for Entry {
    fn heap_key(&self) -> u128 {
        packed_key(self.time_ns, self.sequence)
    }
}

/// `(time, sequence)` as one integer with the same order: a heap compares it in one
/// branch-free comparison instead of two dependent ones.
fn packed_key(time_ns: TimeNs, sequence: u64) -> u128 {
    (u128::from(time_ns) << 64) | u128::from(sequence)
}

/// What a [`QuadHeap`] orders its items by (smallest first).
trait HeapKey {
    fn heap_key(&self) -> u128;
}

/// Events ordered by `(time, sequence)`: two events at the same time pop in the order they were
/// scheduled, so the order never depends on anything but the run itself.
///
/// The events wait in two places: a four-ary heap (`near`) for most events, and a queue of
/// sorted runs (`far`) for those scheduled with [`EventQueue::schedule_far`] — many at once, or
/// well ahead of the clock (a network buffer's arrival: at parallelism 64 one per channel, 4 096
/// after each flush round; the output flushers' rounds and the tasks' timers, one per task each,
/// waiting up to a buffer timeout or a watermark interval).
/// Kept apart, the events that come and go near the clock (task runs) sift through a heap of
/// tens, not thousands (at parallelism 64 about 65 where it was 193 with the flushers and
/// timers: a level less), and the far ones are sorted once per batch instead of sifted one by
/// one.
/// Where an event waits changes nothing but that cost: `pop` takes the smaller of the two fronts
/// by `(time, sequence)`, the sequence counting across both.
#[derive(Clone)]
pub struct EventQueue<E> {
    near: QuadHeap<Entry>,
    far: FarQueue<E>,
    /// The earliest time queued in either place (`peek_time_ns`, asked at every task run, reads
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
            near: QuadHeap::default(),
            far: FarQueue::default(),
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
        let (time_ns, sequence) = self.key(time_ns);
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
        self.near.push(Entry { time_ns, sequence, slot });
    }

    /// [`EventQueue::schedule`] for an event of a kind scheduled many at a time or well ahead
    /// of the clock: the same place in the order, kept in the far queue.
    pub fn schedule_far(&mut self, time_ns: TimeNs, event: E) {
        let (time_ns, sequence) = self.key(time_ns);
        self.far.push(Timed { time_ns, sequence, event });
    }

    /// The key of an event scheduled at `time_ns`: the time clamped to now, the next sequence
    /// number.
    fn key(&mut self, time_ns: TimeNs) -> (TimeNs, u64) {
        let time_ns = time_ns.max(self.now_ns);
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.first_ns = Some(self.first_ns.map_or(time_ns, |first| first.min(time_ns)));
        (time_ns, sequence)
    }

    /// Pop the next event and advance the clock to it.
    pub fn pop(&mut self) -> Option<(TimeNs, E)> {
        let near = self.near.peek().map(|e| (e.time_ns, e.sequence));
        let (time_ns, event) = match (near, self.far.first_key()) {
            (None, None) => return None,
            (Some(near), Some(far)) if near < far => self.pop_near(),
            (Some(_), None) => self.pop_near(),
            _ => self.far.pop().map(|t| (t.time_ns, t.event))?,
        };
        self.first_ns = self.earliest_front();
        self.now_ns = time_ns;
        Some((time_ns, event))
    }

    fn pop_near(&mut self) -> (TimeNs, E) {
        let entry = self.near.pop().expect("the caller saw a top");
        let event = self.slots[entry.slot as usize].take().expect("a scheduled slot holds its event");
        self.free_slots.push(entry.slot);
        (entry.time_ns, event)
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

    /// The earliest time at the front of either place.
    fn earliest_front(&self) -> Option<TimeNs> {
        let near = self.near.peek().map(|e| e.time_ns);
        let far = self.far.first_key().map(|(time_ns, _)| time_ns);
        match (near, far) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn len(&self) -> usize {
        self.near.len() + self.far.len()
    }
    pub fn is_empty(&self) -> bool {
        self.near.is_empty() && self.far.len() == 0
    }

    /// Every pending event with its time, in unspecified order.
    pub fn iter_unsorted(&self) -> impl Iterator<Item = (TimeNs, &E)> {
        self.near
            .iter()
            .map(|e| (e.time_ns, self.slots[e.slot as usize].as_ref().expect("scheduled")))
            .chain(self.far.iter().map(|t| (t.time_ns, &t.event)))
    }

    /// Drop every pending event for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        let slots = &mut self.slots;
        let free_slots = &mut self.free_slots;
        self.near.retain(|e| {
            let kept = keep(slots[e.slot as usize].as_ref().expect("scheduled"));
            if !kept {
                slots[e.slot as usize] = None;
                free_slots.push(e.slot);
            }
            kept
        });
        self.far.retain(|t| keep(&t.event));
        self.first_ns = self.earliest_front();
    }
}

/// An event with its place in the order, stored inline (no slab: far events are popped in an
/// order unrelated to their slots', and every lookup would be a cache miss).
#[derive(Clone)]
struct Timed<E> {
    time_ns: TimeNs,
    sequence: u64,
    event: E,
}

impl<E> Timed<E> {
    fn key(&self) -> (TimeNs, u64) {
        (self.time_ns, self.sequence)
    }
}

/// The far events: pushed in bursts, popped in order. A burst is appended unsorted to
/// `pending` (whose smallest key is tracked) and sorted only when its first event is due, into
/// one sorted run; a run is then popped from its end, in memory order. Small bursts go into a
/// heap instead, so that the runs stay few (the front is the smallest of their ends). At
/// parallelism 64 a flush round's 4 096 arrivals become one run: a sort of a block in cache
/// instead of 4 096 sifts through a heap larger than the first-level cache.
#[derive(Clone)]
struct FarQueue<E> {
    /// Pushed since the last sort, in push order.
    pending: Vec<Timed<E>>,
    /// The smallest key in `pending`.
    pending_first: Option<(TimeNs, u64)>,
    /// Sorted runs, each descending by key (its first event last).
    runs: Vec<Vec<Timed<E>>>,
    /// Events of bursts too small for a run of their own.
    small: QuadHeap<Timed<E>>,
    /// Storage of finished runs, reused for the next bursts.
    spare: Vec<Vec<Timed<E>>>,
    /// The smallest key queued (asked at every pop of either place: kept, not searched).
    first: Option<(TimeNs, u64)>,
}

impl<E> Default for FarQueue<E> {
    fn default() -> Self {
        FarQueue {
            pending: Vec::new(),
            pending_first: None,
            runs: Vec::new(),
            small: QuadHeap::default(),
            spare: Vec::new(),
            first: None,
        }
    }
}

/// Bursts of fewer far events than this go into the heap, larger ones become a sorted run.
const MIN_RUN: usize = 32;
/// More runs than this are merged into one (the front is a scan over their ends).
const MAX_RUNS: usize = 8;

impl<E> FarQueue<E> {
    fn push(&mut self, timed: Timed<E>) {
        let key = timed.key();
        self.pending_first = Some(self.pending_first.map_or(key, |first| first.min(key)));
        self.first = Some(self.first.map_or(key, |first| first.min(key)));
        self.pending.push(timed);
    }

    fn len(&self) -> usize {
        self.pending.len() + self.runs.iter().map(Vec::len).sum::<usize>() + self.small.len()
    }

    /// The smallest key queued.
    fn first_key(&self) -> Option<(TimeNs, u64)> {
        self.first
    }

    /// The smallest key queued, searched: the smallest of the runs' ends, the heap's top and
    /// the pending burst's first.
    fn find_first_key(&self) -> Option<(TimeNs, u64)> {
        let runs = self.runs.iter().filter_map(|run| run.last().map(Timed::key));
        let small = self.small.peek().map(Timed::key);
        runs.chain(small).chain(self.pending_first).min()
    }

    /// Take out the event with the smallest key.
    fn pop(&mut self) -> Option<Timed<E>> {
        let timed = self.take_first();
        self.first = self.find_first_key();
        timed
    }

    fn take_first(&mut self) -> Option<Timed<E>> {
        let first = self.first?;
        if self.pending_first == Some(first) {
            self.sort_pending();
        }
        if self.small.peek().is_some_and(|t| t.key() == first) {
            return self.small.pop();
        }
        let index = self.runs.iter().position(|run| run.last().is_some_and(|t| t.key() == first))?;
        let timed = self.runs[index].pop();
        if self.runs[index].is_empty() {
            self.spare.push(self.runs.swap_remove(index));
        }
        timed
    }

    /// The pending burst becomes a sorted run (or goes into the heap, when small).
    fn sort_pending(&mut self) {
        self.pending_first = None;
        if self.pending.len() < MIN_RUN {
            for timed in self.pending.drain(..) {
                self.small.push(timed);
            }
            return;
        }
        let mut run = std::mem::replace(&mut self.pending, self.spare.pop().unwrap_or_default());
        if self.runs.len() >= MAX_RUNS {
            for mut other in std::mem::take(&mut self.runs) {
                run.append(&mut other);
                self.spare.push(other);
            }
        }
        // Keys are unique (the sequence is): the unstable sort gives the one order.
        run.sort_unstable_by_key(|t| std::cmp::Reverse(t.key()));
        self.runs.push(run);
    }

    fn iter(&self) -> impl Iterator<Item = &Timed<E>> {
        self.pending.iter().chain(self.runs.iter().flatten()).chain(self.small.iter())
    }

    fn retain(&mut self, mut keep: impl FnMut(&Timed<E>) -> bool) {
        self.pending.retain(&mut keep);
        self.pending_first = self.pending.iter().map(Timed::key).min();
        for run in &mut self.runs {
            run.retain(&mut keep);
        }
        self.runs.retain(|run| !run.is_empty());
        self.small.retain(keep);
        self.first = self.find_first_key();
    }
}

/// Far events order by their key alone (unique: the sequence is).
impl<E> HeapKey for Timed<E> {
    fn heap_key(&self) -> u128 {
        packed_key(self.time_ns, self.sequence)
    }
}

/// A min-heap with four children per node: half the levels of a binary heap, and a node's
/// children side by side in memory (the near heap holds a few hundred keys at parallelism 64,
/// and every task run that is not taken inline pushes and pops one).
#[derive(Clone, Debug)]
struct QuadHeap<T> {
    items: Vec<T>,
}

impl<T> Default for QuadHeap<T> {
    fn default() -> Self {
        QuadHeap { items: Vec::new() }
    }
}

impl<T: HeapKey> QuadHeap<T> {
    fn peek(&self) -> Option<&T> {
        self.items.first()
    }
    fn len(&self) -> usize {
        self.items.len()
    }
    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
    fn push(&mut self, item: T) {
        let key = item.heap_key();
        self.items.push(item);
        let mut i = self.items.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.items[parent].heap_key() <= key {
                break;
            }
            self.items.swap(parent, i);
            i = parent;
        }
    }
    fn pop(&mut self) -> Option<T> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.items[0], last);
        self.sift_down(0);
        Some(top)
    }
    fn sift_down(&mut self, mut i: usize) {
        let n = self.items.len();
        let key = match self.items.get(i) {
            Some(item) => item.heap_key(),
            None => return,
        };
        loop {
            let first = 4 * i + 1;
            if first >= n {
                return;
            }
            let (least, least_key) = if first + 4 <= n { self.least_of_four(first) } else { self.least_of(first..n) };
            if key <= least_key {
                return;
            }
            self.items.swap(i, least);
            i = least;
        }
    }
    /// The smallest of the four children starting at `first`, as a tournament of pairs: the
    /// comparisons do not depend on each other (no chain of branches to mispredict).
    fn least_of_four(&self, first: usize) -> (usize, u128) {
        let children = &self.items[first..first + 4];
        let keys = [children[0].heap_key(), children[1].heap_key(), children[2].heap_key(), children[3].heap_key()];
        let (a, key_a) = if keys[1] < keys[0] { (1, keys[1]) } else { (0, keys[0]) };
        let (b, key_b) = if keys[3] < keys[2] { (3, keys[3]) } else { (2, keys[2]) };
        if key_b < key_a {
            (first + b, key_b)
        } else {
            (first + a, key_a)
        }
    }
    /// The smallest of the children in `range` (a last node with fewer than four).
    fn least_of(&self, range: std::ops::Range<usize>) -> (usize, u128) {
        let first = range.start;
        range.fold((first, self.items[first].heap_key()), |(least, least_key), child| {
            let key = self.items[child].heap_key();
            if key < least_key {
                (child, key)
            } else {
                (least, least_key)
            }
        })
    }
    fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
        // Restore the heap order bottom-up from the last node with children.
        for i in (0..self.items.len() / 4 + 1).rev() {
            self.sift_down(i);
        }
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

    /// A xorshift generator from `seed`: the tests' random schedules, the same on every run.
    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Events scheduled far and near pop in one `(time, sequence)` order, as if in one heap:
    /// checked against a plain sorted list fed the same pushes and pops (times random within
    /// 50 ns of the clock, so ties are common).
    #[test]
    fn far_and_near_events_pop_in_one_order() {
        let mut queue = EventQueue::default();
        let mut list: Vec<(TimeNs, u64)> = Vec::new();
        let (mut from_queue, mut from_list) = (Vec::new(), Vec::new());
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for n in 0..5_000u64 {
            let x = next();
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

    /// Far events in bursts large enough to become sorted runs (and many of them, so that runs
    /// are merged), small ones, near events and `retain` between the pops: still the one
    /// `(time, sequence)` order of a sorted list fed the same pushes and pops.
    #[test]
    fn bursts_of_far_events_pop_in_one_order() {
        let mut queue = EventQueue::default();
        let mut list: Vec<(TimeNs, u64)> = Vec::new();
        let (mut from_queue, mut from_list) = (Vec::new(), Vec::new());
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut n = 0u64;
        for round in 0..400 {
            let burst = next() % 4 * 40; // 0, 40, 80 or 120: below and above MIN_RUN
            for _ in 0..burst {
                let time = queue.now_ns() + next() % 2_000;
                queue.schedule_far(time, n);
                list.push((time, n));
                n += 1;
            }
            for _ in 0..next() % 5 {
                let time = queue.now_ns() + next() % 2_000;
                if next() % 2 == 0 {
                    queue.schedule_far(time, n);
                } else {
                    queue.schedule(time, n);
                }
                list.push((time, n));
                n += 1;
            }
            if round % 50 == 49 {
                // Drop every event whose number is divisible by 7.
                queue.retain(|&e| e % 7 != 0);
                list.retain(|&(_, e)| e % 7 != 0);
            }
            list.sort_unstable();
            for _ in 0..next() % 100 {
                assert_eq!(queue.peek_time_ns(), list.first().map(|&(t, _)| t));
                let Some(popped) = queue.pop() else { break };
                from_queue.push(popped);
                from_list.push(list.remove(0));
            }
            assert_eq!(queue.len(), list.len());
        }
        from_queue.extend(std::iter::from_fn(|| queue.pop()));
        from_list.extend(list);
        assert_eq!(from_queue, from_list);
        assert!(n > 10_000, "the bursts were large: {n} events");
    }
}
