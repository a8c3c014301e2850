//! The snapshot-consistency check: Chandy–Lamport's conserved quantity over one completed
//! checkpoint, computed from what its snapshots hold.
//!
//! Records are conserved across every channel of a consistent cut: what the sender's snapshot
//! had sent on the channel equals what the receiver's snapshot had taken in from it plus the
//! records in the receiver's channel state for it. At the sources the same holds against the
//! log: the records before the snapshotted offsets are the records the source had sent. Aligned
//! barriers (nothing in flight), unaligned checkpoints and Chandy–Lamport markers (the in-flight
//! records in the channel state) all keep it; at-least-once barrier tracking does not when
//! records of the next epoch slipped into a snapshot (the receiver took in more than the sender
//! had sent) — which is why tracking promises at-least-once only.

use std::collections::BTreeMap;
use std::fmt;

use engine::graph::{ChannelId, PhysicalPlan, Stream, SubtaskId};
use engine::message::Message;
use engine::partition::Partitioning;
use engine::subtask::{ChannelCounts, OperatorState};
use serde::Serialize;

/// The conserved quantity of one completed checkpoint, summed over its channels, and the
/// channels (or sources) where it does not hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotConsistency {
    /// Records the snapshotted senders had sent, over all channels.
    pub sent: u64,
    /// Records the snapshotted receivers had taken in, over all channels.
    pub received: u64,
    /// Records in the snapshotted channel state, over all channels.
    pub in_channel_state: u64,
    /// Records before the snapshotted source offsets, over all sources.
    pub read_from_log: u64,
    /// Records the snapshotted sources had sent (with a broadcasting source, each record once
    /// per channel).
    pub sent_by_sources: u64,
    /// Where the quantity is not conserved.
    pub broken: Vec<Imbalance>,
}

/// One place where a checkpoint's snapshots disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Imbalance {
    /// `sent` on the channel by its sender's snapshot ≠ `received` by its receiver's snapshot +
    /// `in_channel_state`.
    Channel { channel: ChannelId, sent: u64, received: u64, in_channel_state: u64 },
    /// A source's snapshotted offsets cover `read` records but its snapshot had sent `sent`.
    Source { subtask: SubtaskId, read: u64, sent: u64 },
}

impl SnapshotConsistency {
    pub fn is_consistent(&self) -> bool {
        self.broken.is_empty()
    }
}

impl fmt::Display for SnapshotConsistency {
    /// `consistent (sent 1204 = received 1180 + 24 in channel state; 600 records before the
    /// source offsets)`, or `INCONSISTENT (…): channel 3: sent 40 ≠ received 43
    /// + 0 in channel state, …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.is_consistent() { "consistent" } else { "INCONSISTENT" };
        let relation = if self.sent == self.received + self.in_channel_state { "=" } else { "≠" };
        write!(
            f,
            "{verdict} (sent {} {relation} received {} + {} in channel state; {} records before the source offsets)",
            self.sent, self.received, self.in_channel_state, self.read_from_log,
        )?;
        for (i, b) in self.broken.iter().take(3).enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            match b {
                Imbalance::Channel { channel, sent, received, in_channel_state } => write!(
                    f,
                    "channel {channel}: sent {sent} ≠ received {received} + {in_channel_state} in channel state"
                )?,
                Imbalance::Source { subtask, read, sent } => {
                    write!(f, "source subtask {subtask}: sent {sent} for the {read} records before its offsets")?
                }
            }
        }
        if self.broken.len() > 3 {
            write!(f, " and {} more", self.broken.len() - 3)?;
        }
        Ok(())
    }
}

/// What one completed checkpoint's storage holds for the check, per subtask.
pub struct CheckpointContents<'a> {
    pub states: &'a BTreeMap<SubtaskId, OperatorState>,
    pub counts: &'a BTreeMap<SubtaskId, ChannelCounts>,
    pub channel_states: Option<&'a BTreeMap<SubtaskId, Vec<Vec<Message>>>>,
}

/// Check the conserved quantity over every channel of `plan` and every source. None when the
/// checkpoint lacks a subtask's counts (a snapshot that carried none cannot be judged).
pub fn check(plan: &PhysicalPlan, contents: &CheckpointContents<'_>) -> Option<SnapshotConsistency> {
    let mut result = SnapshotConsistency::default();
    for channel in &plan.channels {
        let sender = contents.counts.get(&channel.from)?;
        let receiver = contents.counts.get(&channel.to)?;
        let sent = sender.sent.iter().find(|(c, _)| *c == channel.id).map_or(0, |&(_, n)| n);
        let received = receiver.received.get(channel.input_index.index()).copied().unwrap_or(0);
        let in_channel_state = contents
            .channel_states
            .and_then(|m| m.get(&channel.to))
            .and_then(|inputs| inputs.get(channel.input_index.index()))
            .map_or(0, |messages| messages.iter().filter(|m| matches!(m, Message::Record(_))).count() as u64);
        result.sent += sent;
        result.received += received;
        result.in_channel_state += in_channel_state;
        if sent != received + in_channel_state {
            result.broken.push(Imbalance::Channel { channel: channel.id, sent, received, in_channel_state });
        }
    }
    for (subtask, state) in contents.states {
        let OperatorState::Source(source) = state else {
            continue;
        };
        let read: u64 = source.partitions.iter().map(|p| p.next_offset).sum();
        let sent: u64 = contents.counts.get(subtask)?.sent.iter().map(|&(_, n)| n).sum();
        // A source emits each record it reads once on every output gate: on one of its
        // channels, or on all of them when the gate broadcasts.
        let fan_out: u64 = plan
            .subtask(*subtask)
            .outputs
            .iter()
            .filter(|gate| gate.stream == Stream::Main)
            .map(|gate| if gate.partitioning == Partitioning::Broadcast { gate.channels.len() as u64 } else { 1 })
            .sum();
        result.read_from_log += read;
        result.sent_by_sources += sent;
        if sent != read * fan_out {
            result.broken.push(Imbalance::Source { subtask: *subtask, read, sent });
        }
    }
    Some(result)
}
