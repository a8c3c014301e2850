//! Where a subtask's output goes: records routed onto the output gates' channels, control
//! messages broadcast, sink effects and notes queued in the outbox, and the counters of it all.
//! Operators write here through [`Outlet`], so routing is written once for every kind.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{Counters, Note, Output};
use crate::graph::{ChannelId, OutputGate, Stream, SubtaskIndex};
use crate::message::{Message, Record, SourceRef};
use crate::partition::{subtask_for_key, Partitioning};
use crate::sink::SinkEffect;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Outlet {
    outputs: Vec<OutputGate>,
    /// Per output gate, the channel a rebalancing gate sends its next record on.
    rebalance_next: Vec<usize>,
    pub(super) counters: Counters,
    /// Records sent per output channel (gates in order, each gate's channels in order), since
    /// the job's first attempt: restored with the state, compared by the snapshot-consistency
    /// check.
    sent: Vec<u64>,
    /// Per output gate, the position of its first channel in `sent`.
    gate_first: Vec<usize>,
    outbox: VecDeque<Output>,
    /// Reused buffers, empty between calls: an operator's results before they are routed.
    #[serde(skip)]
    scratch_records: Vec<Record>,
    #[serde(skip)]
    scratch_effects: Vec<SinkEffect>,
}

impl Outlet {
    /// Rebalancing gates start at the subtask's own index, so that parallel subtasks spread out.
    pub(super) fn new(outputs: Vec<OutputGate>, subtask_index: SubtaskIndex) -> Self {
        let mut gate_first = Vec::with_capacity(outputs.len());
        let mut channels = 0;
        for gate in &outputs {
            gate_first.push(channels);
            channels += gate.channels.len();
        }
        Outlet {
            rebalance_next: vec![subtask_index.index(); outputs.len()],
            outputs,
            sent: vec![0; channels],
            gate_first,
            counters: Counters::default(),
            outbox: VecDeque::new(),
            scratch_records: Vec::new(),
            scratch_effects: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, output: Output) {
        self.outbox.push_back(output);
    }
    pub(super) fn note(&mut self, note: Note) {
        self.outbox.push_back(Output::Note(note));
    }
    #[inline]
    pub(super) fn pop(&mut self) -> Option<Output> {
        let output = self.outbox.pop_front();
        if output.is_some() && self.outbox.is_empty() {
            // Drained: the next output goes to the front of the storage again (`clear` starts
            // the ring over), a cache line the last one used, not the next one along the ring
            // (a source's outbox holds a broadcast to all its channels, 64 x 72 B at p = 64).
            // Only after taking the last one: a drain that found nothing pays nothing.
            self.outbox.clear();
        }
        output
    }

    /// Let a sink protocol step write its effects, and queue them in order.
    pub(super) fn sink_effects(&mut self, step: impl FnOnce(&mut Vec<SinkEffect>)) {
        step(&mut self.scratch_effects);
        self.outbox.extend(self.scratch_effects.drain(..).map(|effect| Output::Sink(Box::new(effect))));
    }

    /// An empty buffer for an operator's results; hand it back through [`Outlet::emit_all`].
    pub(super) fn take_scratch_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.scratch_records)
    }
    /// Emit `records` on `stream` in order, keeping the emptied buffer for the next call.
    pub(super) fn emit_all(&mut self, stream: Stream, mut records: Vec<Record>) {
        // Most calls (a window's record that fired nothing) bring none: no drain to set up.
        if !records.is_empty() {
            for r in records.drain(..) {
                self.emit(stream, r);
            }
        }
        self.scratch_records = records;
    }

    /// Send `message` on every output channel.
    pub(super) fn broadcast(&mut self, message: Message) {
        for gate in &self.outputs {
            for &channel in &gate.channels {
                self.outbox.push_back(Output::Send { channel, message: message.clone() });
            }
        }
    }

    /// Route `record` to every output gate of `stream`, each by its partitioning.
    pub(super) fn emit(&mut self, stream: Stream, mut record: Record) {
        let gates = self.outputs.len();
        for g in 0..gates {
            let gate = &self.outputs[g];
            if gate.stream != stream {
                continue;
            }
            let n = gate.channels.len();
            match gate.partitioning {
                Partitioning::Forward => {
                    self.counters.records_out += 1;
                    self.send_record(g, 0, &mut record, g + 1 < gates);
                }
                Partitioning::Hash(selector) => {
                    record.key = selector.select(&record);
                    let to = subtask_for_key(record.key, n as u32);
                    self.counters.records_out += 1;
                    self.send_record(g, to.index(), &mut record, g + 1 < gates);
                }
                Partitioning::Rebalance => {
                    let next = &mut self.rebalance_next[g];
                    let i = *next % n;
                    *next = (*next + 1) % n;
                    self.counters.records_out += 1;
                    self.send_record(g, i, &mut record, g + 1 < gates);
                }
                Partitioning::Broadcast => {
                    for i in 0..n {
                        self.counters.records_out += 1;
                        self.send_record(g, i, &mut record, true);
                    }
                }
            }
        }
    }

    /// Records sent so far on each output channel.
    pub(super) fn sent_per_channel(&self) -> Vec<(ChannelId, u64)> {
        let channels = self.outputs.iter().flat_map(|gate| gate.channels.iter().copied());
        channels.zip(self.sent.iter().copied()).collect()
    }

    /// Continue the per-channel sent counts from a snapshot's (channels it does not name: 0).
    pub(super) fn restore_sent(&mut self, sent: &[(ChannelId, u64)]) {
        let channels = self.outputs.iter().flat_map(|gate| gate.channels.iter());
        for (count, channel) in self.sent.iter_mut().zip(channels) {
            *count = sent.iter().find(|(c, _)| c == channel).map_or(0, |&(_, n)| n);
        }
    }

    /// Send a record on channel `i` of output gate `g`, moving it when no later gate needs it.
    fn send_record(&mut self, g: usize, i: usize, record: &mut Record, keep: bool) {
        let channel = self.outputs[g].channels[i];
        self.sent[self.gate_first[g] + i] += 1;
        let message = if keep {
            Message::Record(record.clone())
        } else {
            Message::Record(std::mem::replace(record, placeholder_record()))
        };
        self.outbox.push_back(Output::Send { channel, message });
    }
}

fn placeholder_record() -> Record {
    Record { key: 0, value: 0, timestamp_ms: 0, source: SourceRef::default(), ingest_ns: 0, pane: None }
}
