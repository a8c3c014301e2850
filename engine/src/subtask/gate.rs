//! The input gate: per-channel FIFO buffers, and the unaligned barriers that overtake them.

use crate::graph::InputIndex;
use crate::CheckpointId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::message::Message;
use crate::ProcTimeNs;

/// Per-channel FIFO buffers of a subtask's inputs; the next message is the oldest arrival on an
/// input that alignment does not block. Unaligned barriers skip the queues: they wait in
/// `priority` with the number of messages they overtook.
///
/// The buffers share one ring in arrival order (`arrivals`): while no input is blocked, the
/// next message is simply the oldest one, and a subtask with 64 inputs touches one ring, not 64
/// queues of its own. Messages of a blocked input that reach the front of the ring are
/// `parked` in their input's queue (older than everything in the ring); an input's buffer is its
/// parked messages, then its messages in the ring.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct InputGate {
    /// Per input, the messages taken out of the ring while it was blocked, with their arrival
    /// numbers.
    parked: Vec<VecDeque<(u64, Message)>>,
    /// Every other queued message with its input, in arrival order; the arrival numbers of its
    /// messages follow each other from `arrivals_first`.
    arrivals: VecDeque<(InputIndex, Message)>,
    arrivals_first: u64,
    next_sequence: u64,
    queued: usize,
    pub(super) priority: VecDeque<PriorityBarrier>,
    /// The arrival number at the head of every non-empty parked queue, oldest on top, plus
    /// stale entries of heads taken out of order (dropped when they reach the top).
    heads: BinaryHeap<Reverse<(u64, InputIndex)>>,
}

/// Two gates are equal when every input holds the same messages with the same arrival numbers
/// and the same barriers overtook them, however the messages are split between ring and parked
/// queues.
impl PartialEq for InputGate {
    fn eq(&self, other: &Self) -> bool {
        self.input_count() == other.input_count()
            && self.next_sequence == other.next_sequence
            && self.priority == other.priority
            && InputIndex::all(self.input_count()).all(|input| self.entries(input).eq(other.entries(input)))
    }
}
impl Eq for InputGate {}

/// An unaligned barrier that overtook `overtaken` messages queued on `input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityBarrier {
    pub input: InputIndex,
    pub checkpoint_id: CheckpointId,
    pub overtaken: usize,
    /// The barrier's trigger time ([`crate::message::Barrier::timestamp_ns`]).
    pub timestamp_ns: ProcTimeNs,
}

impl InputGate {
    pub fn new(input_count: usize) -> Self {
        InputGate { parked: vec![VecDeque::new(); input_count], ..InputGate::default() }
    }
    // Inline: called for every message delivered (out of line since it restarts the ring).
    #[inline]
    pub fn push(&mut self, input: InputIndex, message: Message) {
        if self.arrivals.is_empty() {
            self.arrivals_first = self.next_sequence;
            // Start the empty ring over at the front of its storage (`clear` does): a gate
            // that mostly holds a message or two then reuses the same cache lines, instead of
            // walking its whole storage (cold at parallelism 64, where 128 tasks take turns).
            self.arrivals.clear();
        }
        self.arrivals.push_back((input, message));
        self.next_sequence += 1;
        self.queued += 1;
    }
    pub fn input_count(&self) -> usize {
        self.parked.len()
    }
    /// Messages waiting on `input`.
    pub fn queued_on(&self, input: InputIndex) -> usize {
        self.entries(input).count()
    }
    pub fn queued(&self) -> usize {
        self.queued
    }
    /// The messages waiting on `input`, oldest first.
    pub fn queue(&self, input: InputIndex) -> impl Iterator<Item = &Message> {
        self.entries(input).map(|(_, m)| m)
    }
    /// The messages waiting on `input` with their arrival numbers, oldest first.
    fn entries(&self, input: InputIndex) -> impl Iterator<Item = (u64, &Message)> {
        let parked = self.parked[input.index()].iter().map(|(seq, m)| (*seq, m));
        let first = self.arrivals_first;
        let in_ring = self.arrivals.iter().zip(first..).filter(move |((i, _), _)| *i == input);
        parked.chain(in_ring.map(|((_, m), seq)| (seq, m)))
    }
    /// The input whose head arrived first among those not blocked. Parked messages are older
    /// than the ring's: an unblocked parked head comes first (the oldest on top of the heap;
    /// only while alignment blocks it are the parked queues scanned); otherwise the front of
    /// the ring, once the blocked messages before it are parked.
    pub(super) fn next_input(&mut self, blocked: impl Fn(InputIndex) -> bool) -> Option<InputIndex> {
        if let Some(&Reverse((_, top))) = self.heads.peek() {
            if !blocked(top) {
                return Some(top);
            }
            let mut best: Option<(u64, InputIndex)> = None;
            for (input, queue) in InputIndex::all(self.parked.len()).zip(&self.parked) {
                if let Some(&(seq, _)) = queue.front() {
                    if !blocked(input) && best.is_none_or(|(s, _)| seq < s) {
                        best = Some((seq, input));
                    }
                }
            }
            if let Some((_, input)) = best {
                return Some(input);
            }
        }
        while let Some(&(input, _)) = self.arrivals.front() {
            if !blocked(input) {
                return Some(input);
            }
            self.park_front();
        }
        None
    }
    /// The message [`InputGate::pop`] would hand out for `input` next.
    pub(super) fn front(&self, input: InputIndex) -> Option<&Message> {
        if !self.heads.is_empty() {
            if let Some((_, message)) = self.parked[input.index()].front() {
                return Some(message);
            }
        }
        self.arrivals.iter().find(|(i, _)| *i == input).map(|(_, m)| m)
    }
    /// Take the oldest message of `input` (the caller checked there is one).
    pub(super) fn pop(&mut self, input: InputIndex) -> Message {
        self.queued -= 1;
        // Nothing parked (no heads: every non-empty parked queue has one), the usual case:
        // leave the 64 parked queues of a wide gate untouched, or each pop costs a cold line.
        if let Some((seq, message)) = self.pop_parked(input) {
            if self.heads.peek() == Some(&Reverse((seq, input))) {
                self.heads.pop();
            }
            if let Some(&(next, _)) = self.parked[input.index()].front() {
                self.heads.push(Reverse((next, input)));
            }
            self.drop_stale_heads();
            return message;
        }
        while self.arrivals.front().is_some_and(|&(i, _)| i != input) {
            self.park_front();
        }
        let (_, message) = self.arrivals.pop_front().expect("caller checked");
        self.arrivals_first += 1;
        message
    }
    /// The oldest parked message of `input`, if it has one.
    fn pop_parked(&mut self, input: InputIndex) -> Option<(u64, Message)> {
        if self.heads.is_empty() {
            return None;
        }
        self.parked[input.index()].pop_front()
    }
    /// Move the ring's oldest message to its input's parked queue.
    fn park_front(&mut self) {
        let Some((input, message)) = self.arrivals.pop_front() else {
            return;
        };
        let seq = self.arrivals_first;
        self.arrivals_first += 1;
        if self.parked[input.index()].is_empty() {
            self.heads.push(Reverse((seq, input)));
        }
        self.parked[input.index()].push_back((seq, message));
    }
    /// Alignment timed out: the barrier `checkpoint_id` still queued on each input leaves its
    /// queue for the priority list, overtaking the messages before it.
    pub(super) fn prioritize_barriers(&mut self, checkpoint_id: CheckpointId) {
        while !self.arrivals.is_empty() {
            self.park_front();
        }
        for input in InputIndex::all(self.parked.len()) {
            let found = self.parked[input.index()].iter().enumerate().find_map(|(i, (_, m))| match m {
                Message::Barrier(b) if b.checkpoint_id == checkpoint_id => Some((i, b.timestamp_ns)),
                _ => None,
            });
            let Some((position, timestamp_ns)) = found else {
                continue;
            };
            self.parked[input.index()].remove(position);
            self.queued -= 1;
            if position == 0 {
                if let Some(&(next, _)) = self.parked[input.index()].front() {
                    self.heads.push(Reverse((next, input)));
                }
                self.drop_stale_heads();
            }
            self.priority.push_back(PriorityBarrier { input, checkpoint_id, overtaken: position, timestamp_ns });
        }
    }
    /// Drop heads taken out of order, so that the top is live.
    fn drop_stale_heads(&mut self) {
        while let Some(&Reverse((seq, input))) = self.heads.peek() {
            if self.parked[input.index()].front().is_some_and(|&(s, _)| s == seq) {
                break;
            }
            self.heads.pop();
        }
    }
    pub(super) fn clear(&mut self) {
        for q in &mut self.parked {
            q.clear();
        }
        self.arrivals.clear();
        self.queued = 0;
        self.priority.clear();
        self.heads.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Barrier;

    /// The gate as it was specified: one FIFO per input, the next input the one whose head
    /// arrived first among those not blocked.
    #[derive(Default)]
    struct Reference {
        queues: Vec<VecDeque<(u64, Message)>>,
        next_sequence: u64,
        priority: Vec<PriorityBarrier>,
    }

    impl Reference {
        fn next_input(&self, blocked: &[bool]) -> Option<usize> {
            let heads = self.queues.iter().enumerate().filter(|(i, _)| !blocked[*i]);
            heads.filter_map(|(i, q)| q.front().map(|(seq, _)| (*seq, i))).min().map(|(_, i)| i)
        }
        fn prioritize_barriers(&mut self, checkpoint_id: CheckpointId) {
            for (input, queue) in self.queues.iter_mut().enumerate() {
                let position = queue
                    .iter()
                    .position(|(_, m)| matches!(m, Message::Barrier(b) if b.checkpoint_id == checkpoint_id));
                if let Some(position) = position {
                    let (_, message) = queue.remove(position).expect("found");
                    let Message::Barrier(b) = message else { unreachable!() };
                    self.priority.push(PriorityBarrier {
                        input: InputIndex::from_raw(input as u32),
                        checkpoint_id,
                        overtaken: position,
                        timestamp_ns: b.timestamp_ns,
                    });
                }
            }
        }
    }

    /// Random pushes, blocked sets, pops and timed-out alignments: the gate picks the same input
    /// and hands out the same message as the reference every time, and holds the same queues.
    #[test]
    fn the_ring_serves_inputs_as_per_input_queues_would() {
        let inputs = 6;
        let mut gate = InputGate::new(inputs);
        let mut reference = Reference { queues: vec![VecDeque::new(); inputs], ..Reference::default() };
        let mut blocked = vec![false; inputs];
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut pops, mut parked_pops, mut prioritized) = (0, 0, 0);
        for step in 0..20_000u64 {
            match next() % 10 {
                0..=3 => {
                    let input = (next() % inputs as u64) as usize;
                    let message = if next() % 8 == 0 {
                        let checkpoint_id = CheckpointId::from_raw(1 + next() % 3);
                        Message::Barrier(Barrier { checkpoint_id, timestamp_ns: step })
                    } else {
                        Message::Watermark(step as i64)
                    };
                    gate.push(InputIndex::from_raw(input as u32), message.clone());
                    reference.queues[input].push_back((reference.next_sequence, message));
                    reference.next_sequence += 1;
                }
                4 => {
                    // Usually nothing blocked, sometimes a few inputs.
                    let mask = if next() % 3 == 0 { next() } else { 0 };
                    for (i, b) in blocked.iter_mut().enumerate() {
                        *b = mask >> i & 1 == 1;
                    }
                }
                5 if next() % 20 == 0 => {
                    let checkpoint_id = CheckpointId::from_raw(1 + next() % 3);
                    gate.prioritize_barriers(checkpoint_id);
                    reference.prioritize_barriers(checkpoint_id);
                    prioritized += 1;
                }
                _ => {
                    let expected = reference.next_input(&blocked);
                    let chosen = gate.next_input(|i| blocked[i.index()]);
                    assert_eq!(chosen.map(InputIndex::index), expected, "step {step}");
                    if let Some(input) = chosen {
                        let from_parked = !gate.parked[input.index()].is_empty();
                        let (_, message) = reference.queues[input.index()].pop_front().expect("a head");
                        assert_eq!(gate.pop(input), message, "step {step}");
                        pops += 1;
                        parked_pops += usize::from(from_parked);
                    }
                }
            }
            let queued: usize = reference.queues.iter().map(VecDeque::len).sum();
            assert_eq!(gate.queued(), queued);
            for (input, queue) in InputIndex::all(inputs).zip(&reference.queues) {
                assert!(gate.entries(input).eq(queue.iter().map(|(seq, m)| (*seq, m))), "step {step}");
            }
            assert!(gate.priority.iter().eq(reference.priority.iter()));
        }
        assert!(pops > 5_000 && parked_pops > 500 && prioritized > 10, "{pops} {parked_pops} {prioritized}");
    }
}
