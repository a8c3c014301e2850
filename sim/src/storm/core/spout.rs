//! Spouts: `nextTuple` over the source log (replays first), end of input, and Kafka's committed
//! offsets.

use std::collections::BTreeMap;

use engine::message::Record;
use engine::storm::anchor::MessageId;
use engine::storm::spout::SpoutExecutor;
use engine::storm::RootId;
use engine::SourceRef;

use crate::kernel::TimeNs;
use crate::recording::{About, AckerMessage, Payload};

use super::{Msg, Role, StormCore};

#[derive(Clone, Debug)]
pub(super) struct SpoutTask {
    pub(super) exec: SpoutExecutor,
    pub(super) partitions: Vec<u32>,
    pub(super) ended: bool,
    /// Trident: the batch (txid, attempt) of each root this task emitted and is not done.
    pub(super) batch_roots: BTreeMap<RootId, (u64, u32)>,
}

impl StormCore {
    /// The spout's `nextTuple`: a replay first, else the earliest readable new entry. Returns
    /// the processing time used, or None when there is nothing to do now (a later Run is armed
    /// for the next arrival).
    pub(super) fn spout_next(&mut self, task: usize, now: TimeNs) -> Option<u64> {
        let Role::Spout(s) = &self.execs[task].role else { return None };
        if !s.exec.can_emit() {
            return None; // an ack will wake it
        }
        let (source, replay) = match s.exec.next_replay() {
            Some(r) => (r, true),
            None => {
                let mut best: Option<(TimeNs, SourceRef)> = None;
                let mut exhausted = true;
                for at in s.exec.next_new() {
                    if let Some(e) = self.log.entry(at) {
                        exhausted = false;
                        if best.is_none_or(|(t, b)| (e.append_ns, at.partition) < (t, b.partition)) {
                            best = Some((e.append_ns, at));
                        }
                    }
                }
                match best {
                    Some((t, at)) if t <= now => (at, false),
                    Some((t, _)) => {
                        self.schedule_run(task, t);
                        return None;
                    }
                    None => {
                        if exhausted && !s.ended {
                            self.spout_end(task, now);
                        }
                        return None;
                    }
                }
            }
        };
        let entry = *self.log.entry(source)?;
        let record = Record {
            key: entry.key,
            value: entry.value,
            timestamp_ms: entry.timestamp_ms,
            source,
            // Latency counts from the record's arrival in the log: spout backlog and replay delays are
            // part of what a reader waits for.
            ingest_ns: entry.append_ns,
            pane: None,
        };
        let acking = self.config.ackers > 0;
        let root = if acking { self.id_rng.next_u64() } else { 0 };
        let targets = self.targets(task, &record);
        let mut init = 0u64;
        for to in targets {
            let id = if acking {
                let edge = self.id_rng.next_u64();
                init ^= edge;
                MessageId::spout(root, edge)
            } else {
                MessageId::default()
            };
            self.send(task, to, Msg::Tuple { record: record.clone(), id, batch: None }, now);
        }
        let emit = Payload::StormEmit { partition: source.partition, offset: source.offset, replay };
        self.recorder.record_payload(now, About::Executor(task), None, emit);
        self.stats.spout_emitted += 1;
        self.stats.replays += replay as u64;
        self.stats.rereads += self.emitted_high.on_emit(source.partition, source.offset, replay) as u64;
        self.execs[task].records_in += 1;
        if let Role::Spout(s) = &mut self.execs[task].role {
            s.exec.emitted(source, root, now);
        }
        if let Some(acker) = self.acker_of(root) {
            self.recorder.record_payload(
                now,
                About::Executor(task),
                None,
                Payload::StormAckerMessage { message: AckerMessage::Init, root, value: init },
            );
            self.send(task, acker, Msg::AckerInit { root, value: init, spout: task as u32 }, now);
        }
        self.update_committed(task);
        let op = self.scenario.plan.subtask(self.execs[task].subtask?).operator;
        Some(self.scenario.record_cost_ns[op])
    }

    pub(super) fn spout_end(&mut self, task: usize, now: TimeNs) {
        if let Role::Spout(s) = &mut self.execs[task].role {
            s.ended = true;
        }
        let Some(id) = self.execs[task].subtask else { return };
        self.send_end_downstream(task, id, now);
    }

    pub(super) fn update_committed(&mut self, task: usize) {
        if let Role::Spout(s) = &self.execs[task].role {
            for (p, offset) in s.exec.committed() {
                self.committed[p as usize] = self.committed[p as usize].max(offset);
            }
        }
    }
}
