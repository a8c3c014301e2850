//! The network: links with latency and network faults ([`crate::network`]), per-channel FIFO
//! order and credit-based flow control.

use super::*;
use crate::credit::Credits;

#[derive(Clone, Copy, Debug, Default)]
struct ChannelState {
    /// Arrival time of the last message sent: a later message never arrives earlier (FIFO).
    last_arrival_ns: TimeNs,
}

/// The network's own state: per channel, FIFO order and buffer occupancy (counted per sender,
/// [`Credits`]), and the random stream that draws latencies. The rest of the world reaches it
/// only through these methods.
#[derive(Clone, Debug)]
pub struct Network {
    channels: Vec<ChannelState>,
    credits: Credits,
    rng: SimRng,
}

impl Network {
    pub fn new(plan: &engine::PhysicalPlan, capacity: Option<u32>, seed: u64) -> Network {
        Network {
            channels: vec![ChannelState::default(); plan.channels.len()],
            credits: Credits::new(plan, capacity),
            rng: SimRng::for_stream(seed, Stream::Network),
        }
    }

    /// When a message sent now from `from` reaches `to`: latency, plus whatever network faults
    /// are active (a partition holds it until it heals; loss costs retransmissions).
    pub fn transit_arrival(
        &mut self,
        scenario: &Scenario,
        faults: &[Fault],
        from: NodeId,
        to: NodeId,
        now: TimeNs,
    ) -> TimeNs {
        crate::network::transit_arrival(scenario, faults, &mut self.rng, from, to, now)
    }

    /// A message goes on `channel`, due at `arrival`: it never arrives before the previous one
    /// (FIFO), and it occupies a buffer of the receiver until taken. Returns its arrival time.
    pub fn enqueue(&mut self, channel: usize, arrival: TimeNs) -> TimeNs {
        let state = &mut self.channels[channel];
        let arrival = arrival.max(state.last_arrival_ns);
        state.last_arrival_ns = arrival;
        self.credits.add(channel, 1);
        arrival
    }

    /// Is there a free buffer on every output channel of `sender` (one comparison: full
    /// channels are counted per sender)?
    pub fn has_room(&self, sender: SubtaskId) -> bool {
        self.credits.has_credit(sender)
    }

    /// A message left `channel`'s buffers (taken by the receiver, or dropped with it).
    pub fn free(&mut self, channel: usize) {
        self.credits.release_one(channel);
    }

    /// The receiver's buffers are gone (its process died): their credit goes back to the sender.
    pub fn drop_buffers(&mut self, channel: usize) {
        self.credits.clear(channel);
    }

    /// A fresh channel for a (re)deployed receiver.
    pub fn reset(&mut self, channel: usize) {
        self.channels[channel] = ChannelState::default();
        self.credits.clear(channel);
    }

    /// Restored in-flight data re-enters the channel: it occupies buffers.
    pub fn occupy(&mut self, channel: usize, messages: u32) {
        self.credits.add(channel, messages);
    }
}

impl World {
    /// Can this task emit? Not while any output channel is full.
    pub(super) fn has_credit(&self, id: SubtaskId) -> bool {
        self.network.has_room(id)
    }

    /// The receiver took a message off `channel`: a buffer is free again; wake a waiting sender.
    pub(super) fn release_credit(&mut self, channel: usize, now: TimeNs) {
        self.network.free(channel);
        let from = self.scenario.plan.channels[channel].from;
        if self.tasks[from].backpressured && self.tasks[from].alive && self.has_credit(from) {
            self.tasks[from].backpressured = false;
            self.time_use[from].unblocked(now);
            let at = self.tasks[from].busy_until_ns.max(now);
            self.schedule_run(from, at);
        }
    }

    // ---- the network --------------------------------------------------------------------------

    /// When a message sent now from `from` reaches `to`: latency, plus whatever network faults
    /// are active (a partition holds it until it heals; loss costs retransmissions).
    pub(super) fn transit_arrival(&mut self, from: NodeId, to: NodeId, now: TimeNs) -> TimeNs {
        self.network.transit_arrival(&self.scenario, &self.faults, from, to, now)
    }

    pub(super) fn send(&mut self, from: SubtaskId, channel: usize, message: Message, now: TimeNs) {
        let to = self.scenario.plan.channels[channel].to;
        let arrival = self.transit_arrival(self.tasks[from].node, self.tasks[to].node, now);
        let arrival = self.network.enqueue(channel, arrival);
        if let Err(violation) = self.tasks[from].checks.on_send(channel, &message) {
            self.violate(now, Some(from), violation);
        }
        let arrival_ns = arrival;
        let payload = match &message {
            Message::Record(r) => Payload::SendRecord { arrival_ns, value: r.value },
            Message::Watermark(w) => Payload::SendWatermark { arrival_ns, watermark_ms: *w },
            Message::Barrier(b) => Payload::SendBarrier { arrival_ns, checkpoint: b.checkpoint_id },
            Message::Idle(idle) => Payload::SendIdle { arrival_ns, idle: *idle },
            Message::EndOfInput => Payload::SendEndOfInput { arrival_ns },
        };
        self.recorder.record_payload(now, from as u32, channel as u32, payload);
        let attempt = self.tasks[from].attempt;
        self.queue.schedule(arrival, Event::Deliver { channel: channel as u32, attempt, message });
    }
}
