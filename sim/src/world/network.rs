//! The network: links with latency and network faults ([`crate::network`]), and Flink's network
//! stack as it is — records serialised into a network buffer per output channel (subpartition),
//! a buffer sent when full, when the output flusher's buffer timeout fires, or ahead of an event;
//! per-channel FIFO order; credit-based flow control counted in buffers.
//!
//! What goes into a buffer and what is an event follows Flink's `RecordWriter` and
//! `PipelinedSubpartition`: records, watermarks and watermark status (idleness) are stream
//! elements serialised into the data buffers (`emit` / `broadcastEmit`, no flush of their own);
//! checkpoint barriers and the end of a partition are events (`broadcastEvent`), which finish the
//! buffer being filled, so that it goes out first, and need no credit. An unaligned barrier is a
//! priority event: it overtakes the buffers queued at the receiver (the input gate's priority
//! list), and the data it overtakes — buffers in flight and queued — is the snapshot's channel
//! state. (Flink persists the sender's not-yet-sent buffers as output state and the receiver's as
//! input state; here every buffer ahead of the barrier is sent before it, so the receiver records
//! both: the same records in the same snapshot.)
//!
//! A channel's buffers in flight wait in its own FIFO; only its head has a `Deliver` event in the
//! kernel's queue (scheduled far, [`EventQueue::schedule_far`]: a flush round sends a buffer on
//! every channel at once).

use std::collections::VecDeque;

use super::*;
use crate::credit::Credits;

/// Stream elements per network buffer: Flink's 32 KiB buffers (`taskmanager.memory.segment-size`)
/// at about 32 serialised bytes per element.
pub const BUFFER_ELEMENTS: usize = 1024;

/// One buffer (or one event) on the wire; its messages are the next `len` of its channel's
/// `messages` ring (no storage of its own).
#[derive(Clone, Copy, Debug)]
struct Packet {
    arrival_ns: TimeNs,
    /// The sender's job attempt when it sent it.
    attempt: u32,
    /// Messages it carries (at least one, at most [`BUFFER_ELEMENTS`]).
    len: u16,
    /// A data buffer (takes a credit), not an event.
    data: bool,
}

// A buffer's length and its unread count fit a `u16`.
const _: () = assert!(BUFFER_ELEMENTS <= u16::MAX as usize);

/// A message in a channel's ring, on a cache line of its own. A message is 64 bytes; in a ring
/// aligned as the allocator gives it (16 bytes) most of them straddle two lines, and at
/// parallelism 64 every message is cold each time it is touched (written at its send, read
/// for the trace at its buffer's flush and again at its delivery): two misses instead of one.
#[derive(Clone, Debug)]
#[repr(align(64))]
struct Line(Message);

/// What every send and delivery on a channel touches, in one cache line: at parallelism 64 the
/// 4 096 channels' states do not stay in cache, and each cache line of one is a miss. The
/// oldest buffer on the wire and the oldest count of unread elements live here; the rest of
/// those FIFOs (rare: a channel mostly holds one buffer at a time) in [`ChannelOverflow`].
#[derive(Clone, Debug, Default)]
#[repr(align(64))]
struct ChannelState {
    /// The messages of the buffers on the wire (in order, the packets' lengths split them),
    /// then those of the buffer being filled: one ring per channel, its storage reused.
    messages: VecDeque<Line>,
    /// Arrival time of the last buffer sent: a later one never arrives earlier (FIFO).
    last_arrival_ns: TimeNs,
    /// The oldest buffer on the wire (its `Deliver` is in the kernel's queue): arrival, the
    /// sender's attempt, and its length (0: nothing on the wire).
    head_arrival_ns: TimeNs,
    head_attempt: u32,
    /// Bumped when the channel is reset: a queued `Deliver` of an older generation is void.
    generation: u32,
    head_len: u16,
    /// Sender side: how many of `messages`, at the back, are the buffer being filled (Flink's
    /// `BufferBuilder`).
    filling: u16,
    /// Receiver side: the elements not yet processed of the oldest buffer taken into the input
    /// gate (0: none; its credit comes back when it is read through).
    unread_head: u16,
    /// [`HEAD_DATA`], [`LISTED`], [`MORE_IN_FLIGHT`], [`MORE_UNREAD`].
    flags: u8,
}

/// The head buffer is a data buffer (not an event).
const HEAD_DATA: u8 = 1;
/// On its sender's list of channels with a buffer to flush.
const LISTED: u8 = 2;
/// More buffers on the wire behind the head ([`ChannelOverflow::in_flight`]).
const MORE_IN_FLIGHT: u8 = 4;
/// More buffers' unread counts behind the head ([`ChannelOverflow::unread`]).
const MORE_UNREAD: u8 = 8;

/// The rest of a channel's FIFOs: buffers on the wire behind the head, and unread counts of the
/// buffers behind the oldest one taken into the gate.
#[derive(Clone, Debug, Default)]
struct ChannelOverflow {
    in_flight: VecDeque<Packet>,
    unread: VecDeque<u16>,
}

impl ChannelState {
    fn flag(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
    fn set_flag(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    /// The oldest buffer on the wire.
    fn head(&self) -> Option<Packet> {
        (self.head_len > 0).then(|| Packet {
            arrival_ns: self.head_arrival_ns,
            attempt: self.head_attempt,
            len: self.head_len,
            data: self.flag(HEAD_DATA),
        })
    }
    fn set_head(&mut self, packet: Option<Packet>) {
        let packet = packet.unwrap_or(Packet { arrival_ns: 0, attempt: 0, len: 0, data: false });
        self.head_arrival_ns = packet.arrival_ns;
        self.head_attempt = packet.attempt;
        self.head_len = packet.len;
        self.set_flag(HEAD_DATA, packet.data);
    }
    /// A buffer goes on the wire behind the others.
    fn push_packet(&mut self, overflow: &mut ChannelOverflow, packet: Packet) {
        if self.head_len == 0 {
            self.set_head(Some(packet));
        } else {
            overflow.in_flight.push_back(packet);
            self.set_flag(MORE_IN_FLIGHT, true);
        }
    }
    /// The oldest buffer leaves the wire; the next one becomes the head.
    fn pop_packet(&mut self, overflow: &mut ChannelOverflow) -> Option<Packet> {
        let head = self.head()?;
        let mut next = None;
        if self.flag(MORE_IN_FLIGHT) {
            next = overflow.in_flight.pop_front();
            self.set_flag(MORE_IN_FLIGHT, !overflow.in_flight.is_empty());
        }
        self.set_head(next);
        Some(head)
    }
    /// Every buffer on the wire, oldest first.
    fn packets<'a>(&self, overflow: &'a ChannelOverflow) -> impl Iterator<Item = Packet> + 'a {
        self.head().into_iter().chain(overflow.in_flight.iter().copied())
    }
    /// A buffer of `len` elements was taken into the receiver's gate.
    fn push_unread(&mut self, overflow: &mut ChannelOverflow, len: u16) {
        if self.unread_head == 0 {
            self.unread_head = len;
        } else {
            overflow.unread.push_back(len);
            self.set_flag(MORE_UNREAD, true);
        }
    }
    /// One element of the oldest unread buffer was processed: true when that read it through
    /// (the next buffer's count becomes the head).
    fn read_one(&mut self, overflow: &mut ChannelOverflow) -> bool {
        if self.unread_head == 0 {
            return false;
        }
        self.unread_head -= 1;
        if self.unread_head > 0 {
            return false;
        }
        if self.flag(MORE_UNREAD) {
            self.unread_head = overflow.unread.pop_front().unwrap_or(0);
            self.set_flag(MORE_UNREAD, !overflow.unread.is_empty());
        }
        true
    }
    fn clear_unread(&mut self, overflow: &mut ChannelOverflow) {
        self.unread_head = 0;
        overflow.unread.clear();
        self.set_flag(MORE_UNREAD, false);
    }
}

/// The network's own state: per channel, FIFO order, the buffers in flight and being filled, and
/// buffer occupancy (counted per sender, [`Credits`]); per sender, its output flusher; and the
/// random stream that draws latencies. The rest of the world reaches it only through these
/// methods.
#[derive(Clone, Debug)]
pub struct Network {
    channels: Vec<ChannelState>,
    /// Per channel, the rest of its FIFOs (apart: seldom touched).
    overflow: Vec<ChannelOverflow>,
    credits: Credits,
    rng: SimRng,
    /// Per sender, the channels whose buffer may hold elements (the flusher's round).
    to_flush: Vec<Vec<ChannelId>>,
    /// Per sender, when its output flusher runs next (a `Flush` event is queued for it).
    flush_at: Vec<Option<TimeNs>>,
    /// `execution.buffer-timeout` (0: every element is sent at once).
    timeout_ns: TimeNs,
}

/// Is `message` a stream element serialised into data buffers (as opposed to an event)?
fn is_element(message: &Message) -> bool {
    matches!(message, Message::Record(_) | Message::Watermark(_) | Message::Idle(_))
}

impl Network {
    pub fn new(plan: &engine::PhysicalPlan, capacity: Option<u32>, timeout_ns: TimeNs, seed: u64) -> Network {
        Network {
            channels: vec![ChannelState::default(); plan.channels.len()],
            overflow: vec![ChannelOverflow::default(); plan.channels.len()],
            credits: Credits::new(plan, capacity),
            rng: SimRng::for_stream(seed, Stream::Network),
            to_flush: vec![Vec::new(); plan.subtasks.len()],
            flush_at: vec![None; plan.subtasks.len()],
            timeout_ns,
        }
    }

    /// When a message sent now from `from` reaches `to`: latency, plus whatever network faults
    /// are active (a partition holds it until it heals; loss costs retransmissions).
    pub fn transit_arrival(
        &mut self,
        scenario: &Scenario,
        faults: &crate::network::NetworkFaults,
        from: NodeId,
        to: NodeId,
        now: TimeNs,
    ) -> TimeNs {
        crate::network::transit_arrival(scenario, faults, &mut self.rng, from, to, now)
    }

    /// Is there a free buffer on every output channel of `sender` (one comparison: full
    /// channels are counted per sender)?
    pub fn has_room(&self, sender: SubtaskId) -> bool {
        self.credits.has_credit(sender)
    }

    /// Buffers (data and events) on the wire of every channel, with their arrival time, the
    /// sender's attempt and their messages: what the workbench draws in flight.
    pub fn in_flight(&self) -> impl Iterator<Item = (ChannelId, TimeNs, u32, &Message)> + '_ {
        let channels = self.channels.iter().zip(&self.overflow).zip(ChannelId::all(self.channels.len()));
        channels.flat_map(|((state, overflow), c)| {
            state
                .packets(overflow)
                .scan(0usize, |start, p| {
                    let range = *start..*start + p.len as usize;
                    *start = range.end;
                    Some((range, p))
                })
                .flat_map(move |(range, p)| {
                    state.messages.range(range).map(move |m| (c, p.arrival_ns, p.attempt, &m.0))
                })
        })
    }

    /// Elements waiting in `channel`'s buffer being filled at its sender.
    pub fn buffered(&self, channel: ChannelId) -> usize {
        usize::from(self.channels[channel.index()].filling)
    }

    /// The receiver's buffers are gone (its process died): their credit goes back to the sender.
    pub fn drop_buffers(&mut self, channel: ChannelId) {
        self.channels[channel.index()].clear_unread(&mut self.overflow[channel.index()]);
        self.credits.clear(channel);
    }

    /// The sender's process died: the buffer it was filling is gone.
    pub fn drop_filling(&mut self, channel: ChannelId) {
        let state = &mut self.channels[channel.index()];
        let kept = state.messages.len() - usize::from(state.filling);
        state.messages.truncate(kept);
        state.filling = 0;
    }

    /// A (re)deployed sender's flusher starts idle.
    pub fn reset_sender(&mut self, sender: SubtaskId) {
        self.flush_at[sender.index()] = None;
        for &c in &self.to_flush[sender.index()] {
            self.channels[c.index()].set_flag(LISTED, false);
        }
        self.to_flush[sender.index()].clear();
    }

    /// A fresh channel for a (re)deployed receiver: nothing in flight (a queued `Deliver` is
    /// void), nothing queued, nothing being filled.
    pub fn reset(&mut self, channel: ChannelId) {
        let state = &mut self.channels[channel.index()];
        let generation = state.generation.wrapping_add(1);
        let listed = state.flags & LISTED;
        let mut messages = std::mem::take(&mut state.messages);
        messages.clear();
        *state = ChannelState { generation, flags: listed, messages, ..ChannelState::default() };
        let overflow = &mut self.overflow[channel.index()];
        overflow.in_flight.clear();
        overflow.unread.clear();
        self.credits.clear(channel);
    }

    /// Restored in-flight data (`elements` stream elements) re-enters the channel ahead of
    /// anything new: it occupies buffers until read.
    pub fn occupy(&mut self, channel: ChannelId, elements: u32) {
        let mut left = elements as usize;
        while left > 0 {
            let n = left.min(BUFFER_ELEMENTS);
            self.channels[channel.index()].push_unread(&mut self.overflow[channel.index()], n as u16);
            self.credits.add(channel, 1);
            left -= n;
        }
    }

    /// The receiver processed one message of `channel`: when it was the last element of a
    /// buffer, the buffer's credit comes back (returns true).
    pub fn consumed(&mut self, channel: ChannelId, kind: MessageKind) -> bool {
        if !matches!(kind, MessageKind::Record | MessageKind::Watermark | MessageKind::Idle) {
            return false; // events take no buffer of the receiver's credit
        }
        if !self.channels[channel.index()].read_one(&mut self.overflow[channel.index()]) {
            return false;
        }
        self.credits.release_one(channel);
        true
    }
}

impl World {
    /// Can this task emit? Not while any output channel is full.
    pub(super) fn has_credit(&self, id: SubtaskId) -> bool {
        self.network.has_room(id)
    }

    /// What is on the wire of every channel: (channel, arrival, sender's attempt, message).
    pub fn in_flight(&self) -> impl Iterator<Item = (ChannelId, TimeNs, u32, &Message)> + '_ {
        self.network.in_flight()
    }

    /// Network buffers `channel` holds (in flight, or in the receiver's gate not yet read
    /// through): what its credit counts against `channel_capacity`.
    pub fn channel_occupancy(&self, channel: ChannelId) -> u32 {
        self.network.credits.occupancy(channel)
    }

    /// Stream elements waiting in `channel`'s buffer at its sender (not yet sent).
    pub fn buffered(&self, channel: ChannelId) -> usize {
        self.network.buffered(channel)
    }

    /// The receiver processed a message of `channel`; when that read a buffer through, its
    /// credit is back: wake a waiting sender.
    pub(super) fn took_input(&mut self, channel: ChannelId, kind: MessageKind, now: TimeNs) {
        if !self.network.consumed(channel, kind) {
            return;
        }
        let from = self.scenario.plan.channels[channel.index()].from;
        if self.tasks[from.index()].backpressured && self.tasks[from.index()].alive && self.has_credit(from) {
            self.tasks[from.index()].backpressured = false;
            self.tasks[from.index()].subtask.set_output_blocked(false, now);
            self.arm_timer(from);
            self.time_use[from.index()].unblocked(now);
            let at = self.tasks[from.index()].busy_until_ns.max(now);
            self.schedule_run(from, at);
        }
    }

    // ---- the network --------------------------------------------------------------------------

    /// When a message sent now from `from` reaches `to`: latency, plus whatever network faults
    /// are active (a partition holds it until it heals; loss costs retransmissions).
    pub(super) fn transit_arrival(&mut self, from: NodeId, to: NodeId, now: TimeNs) -> TimeNs {
        self.network.transit_arrival(&self.scenario, &self.network_faults, from, to, now)
    }

    /// A task emits `message` on `channel`: a stream element goes into the channel's buffer (sent
    /// when full, or at once with a buffer timeout of 0); an event finishes the buffer (it goes
    /// first) and is sent right behind it.
    pub(super) fn send(&mut self, from: SubtaskId, channel: ChannelId, message: Message, now: TimeNs) {
        if let Err(message) = self.tasks[from.index()].checks.on_send(channel, &message) {
            self.violate(now, Some(from), message);
        }
        if !is_element(&message) {
            self.flush_channel(from, channel, now);
            self.network.channels[channel.index()].messages.push_back(Line(message));
            self.transmit(from, channel, 1, false, now);
            return;
        }
        let network = &mut self.network;
        let state = &mut network.channels[channel.index()];
        state.messages.push_back(Line(message));
        state.filling += 1;
        if network.timeout_ns == 0 || usize::from(state.filling) >= BUFFER_ELEMENTS {
            self.flush_channel(from, channel, now);
            return;
        }
        if !state.flag(LISTED) {
            state.set_flag(LISTED, true);
            network.to_flush[from.index()].push(channel);
        }
        if network.flush_at[from.index()].is_none() {
            // Flink's output flusher runs every `timeout` on its own; here its rounds sit on the
            // timeout's grid and are scheduled only while a buffer holds something.
            let at = (now / network.timeout_ns + 1).saturating_mul(network.timeout_ns);
            network.flush_at[from.index()] = Some(at);
            let attempt = self.tasks[from.index()].attempt;
            // Far: every sender's round waits on the same grid point, up to a whole timeout
            // ahead; in the near heap they would make every task run's sift deeper.
            self.queue.schedule_far(at, Event::Flush { subtask: from, attempt, at_ns: at });
        }
    }

    /// The output flusher's round: every buffer of `from` holding something is sent.
    pub(super) fn flush_all(&mut self, from: SubtaskId, at_ns: TimeNs, now: TimeNs) {
        if self.network.flush_at[from.index()] != Some(at_ns) {
            return;
        }
        self.network.flush_at[from.index()] = None;
        // Keep the list's storage: take it out for the round, put it back empty.
        let mut round = std::mem::take(&mut self.network.to_flush[from.index()]);
        for &c in &round {
            self.network.channels[c.index()].set_flag(LISTED, false);
            self.flush_channel(from, c, now);
        }
        round.clear();
        if self.network.to_flush[from.index()].is_empty() {
            self.network.to_flush[from.index()] = round;
        }
    }

    /// Send `channel`'s buffer being filled, if it holds anything.
    fn flush_channel(&mut self, from: SubtaskId, channel: ChannelId, now: TimeNs) {
        let len = usize::from(std::mem::take(&mut self.network.channels[channel.index()].filling));
        if len == 0 {
            return;
        }
        self.transmit(from, channel, len, true, now);
    }

    /// Put a buffer (or an event) on the wire of `channel`: its `len` messages, the last pushed
    /// onto the channel's ring; it arrives after the one before it.
    fn transmit(&mut self, from: SubtaskId, channel: ChannelId, len: usize, data: bool, now: TimeNs) {
        let to = self.scenario.plan.channels[channel.index()].to;
        let arrival = self.transit_arrival(self.tasks[from.index()].node, self.tasks[to.index()].node, now);
        let attempt = self.tasks[from.index()].attempt;
        let state = &mut self.network.channels[channel.index()];
        let arrival_ns = arrival.max(state.last_arrival_ns);
        state.last_arrival_ns = arrival_ns;
        let start = state.messages.len() - len;
        for Line(message) in self.network.channels[channel.index()].messages.range(start..) {
            let payload = match message {
                Message::Record(r) => Payload::SendRecord { arrival_ns, value: r.value },
                Message::Watermark(w) => Payload::SendWatermark { arrival_ns, watermark_ms: *w },
                Message::Barrier(b) => Payload::SendBarrier { arrival_ns, checkpoint: b.checkpoint_id },
                Message::Idle(idle) => Payload::SendIdle { arrival_ns, idle: *idle },
                Message::EndOfInput => Payload::SendEndOfInput { arrival_ns },
            };
            self.recorder.record_payload(now, from, Some(channel), payload);
        }
        let state = &mut self.network.channels[channel.index()];
        let head = state.head_len == 0;
        let packet = Packet { arrival_ns, attempt, len: len as u16, data };
        state.push_packet(&mut self.network.overflow[channel.index()], packet);
        let generation = state.generation;
        if data {
            self.network.credits.add(channel, 1);
        }
        if head {
            self.queue.schedule_far(arrival_ns, Event::Deliver { channel, generation });
        }
    }

    /// The head buffer of `channel` arrives: its messages go into the receiver's input gate, and
    /// the next buffer on the wire becomes the head. Returns the receiver when it may run.
    pub(super) fn deliver(&mut self, channel: ChannelId, generation: u32, now: TimeNs) -> Option<SubtaskId> {
        let state = &mut self.network.channels[channel.index()];
        if state.generation != generation {
            return None; // the channel was reset since: this buffer is gone
        }
        let packet = state.pop_packet(&mut self.network.overflow[channel.index()])?;
        if let Some(next) = state.head() {
            self.queue.schedule_far(next.arrival_ns, Event::Deliver { channel, generation });
        }
        let info = self.scenario.plan.channels[channel.index()];
        let to = info.to;
        if packet.attempt != self.tasks[to.index()].attempt || !self.tasks[to.index()].alive {
            // Its messages are gone.
            self.network.channels[channel.index()].messages.drain(..packet.len as usize);
        }
        if packet.attempt != self.tasks[to.index()].attempt {
            return None;
        }
        if !self.tasks[to.index()].alive {
            // The receiver's process is gone, and its buffers with it.
            if packet.data {
                self.network.credits.release_one(channel);
            }
            return None;
        }
        if packet.data {
            self.network.channels[channel.index()].push_unread(&mut self.network.overflow[channel.index()], packet.len);
        }
        let mut barrier = false;
        for _ in 0..packet.len {
            let Some(Line(message)) = self.network.channels[channel.index()].messages.pop_front() else {
                break;
            };
            if let Message::Barrier(b) = &message {
                barrier = true;
                let task = &mut self.tasks[to.index()];
                if task.barrier_seen_ns.is_none_or(|(cp, _)| cp < b.checkpoint_id) {
                    task.barrier_seen_ns = Some((b.checkpoint_id, now));
                }
            }
            self.tasks[to.index()].subtask.push_input(info.input_index, message);
        }
        let messages = &mut self.network.channels[channel.index()].messages;
        if messages.is_empty() {
            // Start the ring over at the front of its storage (`clear` does), so that a channel
            // mostly holding a buffer or two uses the same cache lines each time.
            messages.clear();
        }
        if barrier {
            // A barrier's arrival may start the aligned-checkpoint timeout's timer.
            self.arm_timer(to);
        }
        Some(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A channel's hot state is one cache line (what the layout is for), and so is a message
    /// in its ring.
    #[test]
    fn channel_state_and_ring_messages_are_one_cache_line_each() {
        assert_eq!(std::mem::size_of::<ChannelState>(), 64);
        assert_eq!(std::mem::align_of::<ChannelState>(), 64);
        assert_eq!(std::mem::size_of::<Line>(), 64);
        assert_eq!(std::mem::align_of::<Line>(), 64);
    }

    /// The inline heads and the overflow queues behave as one FIFO each.
    #[test]
    fn packets_and_unread_counts_stay_in_order() {
        let mut state = ChannelState::default();
        let mut overflow = ChannelOverflow::default();
        let packet = |n: u16| Packet { arrival_ns: u64::from(n) * 10, attempt: 1, len: n, data: n % 2 == 0 };
        for n in 1..=5 {
            state.push_packet(&mut overflow, packet(n));
            state.push_unread(&mut overflow, n);
        }
        assert_eq!(state.packets(&overflow).map(|p| p.len).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        for n in 1..=3 {
            let p = state.pop_packet(&mut overflow).expect("queued");
            assert_eq!((p.len, p.arrival_ns, p.data), (n, u64::from(n) * 10, n % 2 == 0));
        }
        state.push_packet(&mut overflow, packet(6));
        let rest: Vec<u16> = std::iter::from_fn(|| state.pop_packet(&mut overflow)).map(|p| p.len).collect();
        assert_eq!(rest, vec![4, 5, 6]);
        assert!(state.head().is_none() && !state.flag(MORE_IN_FLIGHT));
        // Unread counts 1..=5: a buffer is read through after its count of elements.
        let mut read_through = Vec::new();
        for element in 0..15 {
            if state.read_one(&mut overflow) {
                read_through.push(element);
            }
        }
        assert_eq!(read_through, vec![0, 2, 5, 9, 14]);
        assert!(!state.read_one(&mut overflow));
    }
}
