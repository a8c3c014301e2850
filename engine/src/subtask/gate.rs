//! The input gate: per-channel FIFO buffers, and the unaligned barriers that overtake them.

use crate::CheckpointId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::graph::InputIndex;
use crate::message::Message;
use crate::ProcTimeNs;

/// Per-channel FIFO buffers of a subtask's inputs; the next message is the oldest arrival on an
/// input that alignment does not block. Unaligned barriers skip the queues: they wait in
/// `priority` with the number of messages they overtook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputGate {
    pub(super) queues: Vec<VecDeque<(u64, Message)>>,
    next_sequence: u64,
    queued: usize,
    pub(super) priority: VecDeque<PriorityBarrier>,
    /// The arrival number at the head of every non-empty queue, oldest on top: the next input
    /// without scanning all of them.
    heads: HeadOrder,
}

/// A min-heap of `(arrival number, input)`, one entry per non-empty queue's head, plus stale
/// entries of heads taken out of order (while alignment blocked the oldest input) that are
/// dropped when they reach the top. The top is always a live head. Derived from the queues,
/// so it takes no part in comparing two gates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct HeadOrder(BinaryHeap<Reverse<(u64, InputIndex)>>);

impl PartialEq for HeadOrder {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for HeadOrder {}

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
        InputGate {
            queues: vec![VecDeque::new(); input_count],
            next_sequence: 0,
            queued: 0,
            priority: VecDeque::new(),
            heads: HeadOrder::default(),
        }
    }
    pub fn push(&mut self, input: InputIndex, message: Message) {
        let queue = &mut self.queues[input.index()];
        if queue.is_empty() {
            self.heads.0.push(Reverse((self.next_sequence, input)));
        }
        queue.push_back((self.next_sequence, message));
        self.next_sequence += 1;
        self.queued += 1;
    }
    /// Messages waiting on `input`.
    pub fn queued_on(&self, input: InputIndex) -> usize {
        self.queues[input.index()].len()
    }
    pub fn queued(&self) -> usize {
        self.queued
    }
    /// The messages waiting on `input`, oldest first.
    pub fn queue(&self, input: InputIndex) -> impl Iterator<Item = &Message> {
        self.queues[input.index()].iter().map(|(_, m)| m)
    }
    /// The input whose head arrived first among those not blocked. The oldest head is on top
    /// of the heap; only while alignment blocks it are the queues scanned.
    pub(super) fn next_input(&self, blocked: impl Fn(InputIndex) -> bool) -> Option<InputIndex> {
        let &Reverse((_, top)) = self.heads.0.peek()?;
        if !blocked(top) {
            return Some(top);
        }
        let mut best: Option<(u64, InputIndex)> = None;
        for (input, queue) in InputIndex::all(self.queues.len()).zip(&self.queues) {
            if let Some(&(seq, _)) = queue.front() {
                if !blocked(input) && best.is_none_or(|(s, _)| seq < s) {
                    best = Some((seq, input));
                }
            }
        }
        best.map(|(_, input)| input)
    }
    pub(super) fn pop(&mut self, input: InputIndex) -> Message {
        self.queued -= 1;
        let (seq, message) = self.queues[input.index()].pop_front().expect("caller checked");
        if self.heads.0.peek() == Some(&Reverse((seq, input))) {
            self.heads.0.pop();
        }
        if let Some(&(next, _)) = self.queues[input.index()].front() {
            self.heads.0.push(Reverse((next, input)));
        }
        self.drop_stale_heads();
        message
    }
    /// Alignment timed out: the barrier `checkpoint_id` still queued on each input leaves its
    /// queue for the priority list, overtaking the messages before it.
    pub(super) fn prioritize_barriers(&mut self, checkpoint_id: CheckpointId) {
        for input in InputIndex::all(self.queues.len()) {
            let found = self.queues[input.index()].iter().enumerate().find_map(|(i, (_, m))| match m {
                Message::Barrier(b) if b.checkpoint_id == checkpoint_id => Some((i, b.timestamp_ns)),
                _ => None,
            });
            let Some((position, timestamp_ns)) = found else {
                continue;
            };
            self.queues[input.index()].remove(position);
            self.queued -= 1;
            if position == 0 {
                if let Some(&(next, _)) = self.queues[input.index()].front() {
                    self.heads.0.push(Reverse((next, input)));
                }
                self.drop_stale_heads();
            }
            self.priority.push_back(PriorityBarrier { input, checkpoint_id, overtaken: position, timestamp_ns });
        }
    }
    /// Drop heads taken out of order, so that the top is live.
    fn drop_stale_heads(&mut self) {
        while let Some(&Reverse((seq, input))) = self.heads.0.peek() {
            if self.queues[input.index()].front().is_some_and(|&(s, _)| s == seq) {
                break;
            }
            self.heads.0.pop();
        }
    }
    pub(super) fn clear(&mut self) {
        for q in &mut self.queues {
            q.clear();
        }
        self.queued = 0;
        self.priority.clear();
        self.heads.0.clear();
    }
}
