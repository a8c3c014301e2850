//! The event queue: events ordered by `(time, sequence)`, near ones in a four-ary heap and far
//! ones (network deliveries, scheduled in bursts) in sorted runs.

use super::TimeNs;

/// A heap entry: when, in which order, and where the event itself lives. Events stay put in a
/// [`Slab`] while the heaps move only these 24-byte keys around.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    time_ns: TimeNs,
    sequence: u64,
    slot: u32,
}

impl Entry {
    fn key(&self) -> u128 {
        packed_key(self.time_ns, self.sequence)
    }
}

/// `(time, sequence)` as one integer with the same order: compared in one branch-free
/// comparison instead of two dependent ones.
fn packed_key(time_ns: TimeNs, sequence: u64) -> u128 {
    (u128::from(time_ns) << 64) | u128::from(sequence)
}

/// The time of a packed key.
fn key_time_ns(key: u128) -> TimeNs {
    (key >> 64) as TimeNs
}

/// Events ordered by `(time, sequence)`: two events at the same time pop in the order they were
/// scheduled, so the order never depends on anything but the run itself.
///
/// The events wait in two places: a four-ary heap (`near`) for most events, and a queue of
/// sorted runs (`far`) for those scheduled with [`EventQueue::schedule_far`] — many at once, or
/// well ahead of the clock (a network buffer's arrival: at parallelism 64 one per channel, 4 096
/// after each flush round; the output flushers' rounds and the tasks' timers, one per task each,
/// waiting up to a buffer timeout or a watermark interval).
/// Kept apart, the events that come and go near the clock (task runs) wait among tens, not
/// thousands (at parallelism 64 about 65 where it was 193 with the flushers and timers), and
/// the far ones are sorted once per batch instead of sifted one by one.
/// Where an event waits changes nothing but that cost: `pop` takes the smaller of the two fronts
/// by `(time, sequence)`, the sequence counting across both. Keys are unique, so any correct
/// priority queue pops the one order.
#[derive(Clone)]
pub struct EventQueue<E> {
    near: QuadHeap,
    far: FarQueue<E>,
    /// The events of both heaps (the near one's, and the far queue's small bursts).
    events: Slab<E>,
    /// The earliest time queued in either place (`peek_time_ns`, asked at every task run, reads
    /// it without looking into both).
    first_ns: Option<TimeNs>,
    /// Events queued in both places, counted as they come and go: the world's work limit asks
    /// at every step, and the far queue's runs would have to be summed.
    len: usize,
    next_sequence: u64,
    now_ns: TimeNs,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            near: QuadHeap::default(),
            far: FarQueue::default(),
            events: Slab::default(),
            first_ns: None,
            len: 0,
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
        let slot = self.events.insert(event);
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
        self.len += 1;
        let time_ns = time_ns.max(self.now_ns);
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.first_ns = Some(self.first_ns.map_or(time_ns, |first| first.min(time_ns)));
        (time_ns, sequence)
    }

    /// Pop the next event and advance the clock to it.
    pub fn pop(&mut self) -> Option<(TimeNs, E)> {
        let near = self.near.peek().map(Entry::key);
        let far = self.far.first_key();
        let from_near = match (near, far) {
            (Some(near), Some(far)) => near < far,
            (near, _) => near.is_some(),
        };
        let (time_ns, event) = if from_near {
            let entry = self.near.pop()?;
            (entry.time_ns, self.events.take(entry.slot))
        } else {
            self.far.pop(&mut self.events)?
        };
        self.first_ns = self.earliest_front();
        self.now_ns = time_ns;
        self.len -= 1;
        Some((time_ns, event))
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
        let near = self.near.peek().map(Entry::key);
        let first = match (near, self.far.first_key()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        first.map(key_time_ns)
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every pending event with its time, in unspecified order.
    pub fn iter_unsorted(&self) -> impl Iterator<Item = (TimeNs, &E)> {
        let events = &self.events;
        self.near.iter().map(move |e| (e.time_ns, events.get(e.slot))).chain(self.far.iter(events))
    }

    /// Drop every pending event for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        self.near.retain(self.events.keeping(&mut keep));
        self.far.retain(&mut keep, &mut self.events);
        self.first_ns = self.earliest_front();
        self.len = self.near.len() + self.far.len();
    }
}

/// The events of heap entries, by slot; freed slots are reused.
#[derive(Clone)]
struct Slab<E> {
    slots: Vec<Option<E>>,
    free: Vec<u32>,
}

impl<E> Default for Slab<E> {
    fn default() -> Self {
        Slab { slots: Vec::new(), free: Vec::new() }
    }
}

impl<E> Slab<E> {
    fn insert(&mut self, event: E) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 events wait at once")
            }
        }
    }
    fn take(&mut self, slot: u32) -> E {
        self.free.push(slot);
        self.slots[slot as usize].take().expect("a queued entry's slot holds its event")
    }
    fn get(&self, slot: u32) -> &E {
        self.slots[slot as usize].as_ref().expect("a queued entry's slot holds its event")
    }
    /// A filter for [`QuadHeap::retain`]: an entry stays when `keep` keeps its event; the
    /// slot of one dropped is freed.
    fn keeping<'a>(&'a mut self, keep: &'a mut impl FnMut(&E) -> bool) -> impl FnMut(&Entry) -> bool + 'a {
        move |entry| {
            let kept = keep(self.get(entry.slot));
            if !kept {
                self.take(entry.slot);
            }
            kept
        }
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
    fn key(&self) -> u128 {
        packed_key(self.time_ns, self.sequence)
    }
}

/// The far events: pushed in bursts, popped in order. A burst is appended unsorted to
/// `pending` (whose smallest key is tracked) and sorted only when its first event is due, into
/// one sorted run; a run is then popped from its end, in memory order. Small bursts go into a
/// heap instead (their events into the queue's slab), so that the runs stay few (the front is
/// the smallest of their ends). At parallelism 64 a flush round's 4 096 arrivals become one
/// run: a sort of a block in cache instead of 4 096 sifts through a heap larger than the
/// first-level cache.
#[derive(Clone)]
struct FarQueue<E> {
    /// Pushed since the last sort, in push order.
    pending: Vec<Timed<E>>,
    /// The smallest key in `pending`.
    pending_first: Option<u128>,
    /// Sorted runs, each descending by key (its first event last).
    runs: Vec<Vec<Timed<E>>>,
    /// Bursts too small for a run of their own (their events in the queue's slab).
    small: QuadHeap,
    /// Storage of finished runs, reused for the next bursts.
    spare: Vec<Vec<Timed<E>>>,
    /// The smallest key queued (asked at every pop of either place: kept, not searched).
    first: Option<u128>,
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
    fn first_key(&self) -> Option<u128> {
        self.first
    }

    /// The smallest key queued, searched: the smallest of the runs' ends, the heap's top and
    /// the pending burst's first.
    fn find_first_key(&self) -> Option<u128> {
        let runs = self.runs.iter().filter_map(|run| run.last().map(Timed::key));
        let small = self.small.peek().map(Entry::key);
        runs.chain(small).chain(self.pending_first).min()
    }

    /// Take out the event with the smallest key (from `events` when it waited in the heap).
    fn pop(&mut self, events: &mut Slab<E>) -> Option<(TimeNs, E)> {
        let popped = self.take_first(events);
        self.first = self.find_first_key();
        popped
    }

    fn take_first(&mut self, events: &mut Slab<E>) -> Option<(TimeNs, E)> {
        let first = self.first?;
        if self.pending_first == Some(first) {
            self.sort_pending(events);
        }
        if self.small.peek().is_some_and(|e| e.key() == first) {
            let entry = self.small.pop()?;
            return Some((entry.time_ns, events.take(entry.slot)));
        }
        let index = self.runs.iter().position(|run| run.last().is_some_and(|t| t.key() == first))?;
        let timed = self.runs[index].pop();
        if self.runs[index].is_empty() {
            self.spare.push(self.runs.swap_remove(index));
        }
        timed.map(|t| (t.time_ns, t.event))
    }

    /// The pending burst becomes a sorted run (or goes into the heap, when small).
    fn sort_pending(&mut self, events: &mut Slab<E>) {
        self.pending_first = None;
        if self.pending.len() < MIN_RUN {
            for Timed { time_ns, sequence, event } in self.pending.drain(..) {
                self.small.push(Entry { time_ns, sequence, slot: events.insert(event) });
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

    fn iter<'a>(&'a self, events: &'a Slab<E>) -> impl Iterator<Item = (TimeNs, &'a E)> {
        let small = self.small.iter().map(move |e| (e.time_ns, events.get(e.slot)));
        self.pending.iter().chain(self.runs.iter().flatten()).map(|t| (t.time_ns, &t.event)).chain(small)
    }

    fn retain(&mut self, keep: &mut impl FnMut(&E) -> bool, events: &mut Slab<E>) {
        self.pending.retain(|t| keep(&t.event));
        self.pending_first = self.pending.iter().map(Timed::key).min();
        for run in &mut self.runs {
            run.retain(|t| keep(&t.event));
        }
        self.runs.retain(|run| !run.is_empty());
        self.small.retain(events.keeping(keep));
        self.first = self.find_first_key();
    }
}

/// A min-heap of entries with four children per node: half the levels of a binary heap, and a
/// node's children side by side in memory (the near heap holds about 65 keys at parallelism
/// 64, and every task run that is not taken inline pushes and pops one). An entry moving up or
/// down leaves a hole that the others move into, and is written once where it stops.
#[derive(Clone, Default)]
struct QuadHeap {
    items: Vec<Entry>,
}

impl QuadHeap {
    fn peek(&self) -> Option<&Entry> {
        self.items.first()
    }
    fn len(&self) -> usize {
        self.items.len()
    }
    fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.items.iter()
    }
    fn push(&mut self, entry: Entry) {
        let hole = self.items.len();
        self.items.push(entry);
        self.sift_up(hole, entry);
    }
    /// Take out the least entry. The last entry fills its place, bottom-up (Wegener): the hole
    /// goes down to a leaf along the least children, then the last entry, most often among the
    /// latest (it was a leaf), moves up from there. That leaves out the comparison with it at
    /// every level on the way down, a branch that goes either way (at parallelism 64 one
    /// mispredicted in three), for one at the end that mostly stops at once.
    fn pop(&mut self) -> Option<Entry> {
        let last = self.items.pop()?;
        let Some(&top) = self.items.first() else {
            return Some(last);
        };
        let n = self.items.len();
        let mut hole = 0;
        loop {
            let first = 4 * hole + 1;
            if first >= n {
                break;
            }
            let (least, _) = if first + 4 <= n { self.least_of_four(first) } else { self.least_of(first..n) };
            self.items[hole] = self.items[least];
            hole = least;
        }
        self.sift_up(hole, last);
        Some(top)
    }
    /// Put `entry` at `hole` (empty), moving the parents down while they are greater.
    fn sift_up(&mut self, mut hole: usize, entry: Entry) {
        let key = entry.key();
        while hole > 0 {
            let parent = (hole - 1) / 4;
            let above = self.items[parent];
            if above.key() <= key {
                break;
            }
            self.items[hole] = above;
            hole = parent;
        }
        self.items[hole] = entry;
    }
    /// Put `entry` at `hole` (whose entry is gone), moving the least child up while it is
    /// less.
    fn sift_down(&mut self, mut hole: usize, entry: Entry) {
        let key = entry.key();
        let n = self.items.len();
        loop {
            let first = 4 * hole + 1;
            if first >= n {
                break;
            }
            let (least, least_key) = if first + 4 <= n { self.least_of_four(first) } else { self.least_of(first..n) };
            if key <= least_key {
                break;
            }
            self.items[hole] = self.items[least];
            hole = least;
        }
        self.items[hole] = entry;
    }
    /// The smallest of the four children starting at `first`, as a tournament of pairs. The
    /// winners are picked by index, not by branch: which child is least is a coin toss, and as
    /// branches (what the compiler made of `if`s on 128-bit keys) one in three was mispredicted.
    fn least_of_four(&self, first: usize) -> (usize, u128) {
        let children = &self.items[first..first + 4];
        let keys = [children[0].key(), children[1].key(), children[2].key(), children[3].key()];
        let a = usize::from(keys[1] < keys[0]);
        let b = 2 + usize::from(keys[3] < keys[2]);
        let least = [a, b][usize::from(keys[b] < keys[a])];
        (first + least, keys[least])
    }
    /// The smallest of the children in `range` (a last node with fewer than four).
    fn least_of(&self, range: std::ops::Range<usize>) -> (usize, u128) {
        let first = range.start;
        range.fold((first, self.items[first].key()), |(least, least_key), child| {
            let key = self.items[child].key();
            if key < least_key {
                (child, key)
            } else {
                (least, least_key)
            }
        })
    }
    fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        self.items.retain(keep);
        // Restore the heap order bottom-up from the last node with children.
        for i in (0..self.items.len().div_ceil(4)).rev() {
            let entry = self.items[i];
            self.sift_down(i, entry);
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
