//! Workers dying and coming back: executors lose their state and queues and restart fresh (a
//! spout from the committed offsets); when the topology has finished.

use crate::kernel::TimeNs;
use crate::recording::Payload;
use crate::scenario::NodeId;

use super::{executor_of, Msg, Role, StormCore};

impl StormCore {
    /// A worker dies: its executors lose their state and queues (messages to them are dropped
    /// from now on). Nimbus (`jm`) dying stops nothing: running workers keep running. Returns
    /// false if the node was already dead. Bringing it back ([`StormCore::node_back`]) or
    /// moving its executors ([`StormCore::reassign`]) is the world's call.
    pub fn crash_node(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) -> bool {
        if !self.nodes_alive.get(node.index()).is_some_and(|&a| a) {
            return false;
        }
        self.nodes_alive[node.index()] = false;
        self.node_incarnation[node.index()] += 1;
        self.recorder.record_payload(now, node, None, Payload::NodeCrashed { back_after_ns: restart_after_ns });
        for e in self.execs.iter_mut().filter(|e| e.node == node) {
            e.alive = false;
            self.inboxed -= e.inbox.len() as u64;
            e.inbox.clear();
        }
        true
    }

    /// The supervisor restarted the worker on `node`: fresh executors for it.
    pub fn node_back(&mut self, node: NodeId, now: TimeNs) {
        if self.nodes_alive.get(node.index()).is_none_or(|&a| a) {
            return;
        }
        self.nodes_alive[node.index()] = true;
        self.recorder.record_payload(now, node, None, Payload::StormWorkerRestarted);
        let tasks: Vec<usize> = (0..self.execs.len()).filter(|&t| self.execs[t].node == node).collect();
        for t in tasks {
            self.restart_exec(t, now);
        }
    }

    /// A fresh executor in place of a dead one (empty state; a spout resumes from the committed
    /// offsets). Upstream tasks that already ended tell it again.
    pub(super) fn restart_exec(&mut self, task: usize, now: TimeNs) {
        self.stats.worker_restarts += 1;
        let (subtask, node, incarnation) =
            (self.execs[task].subtask, self.execs[task].node, self.execs[task].incarnation + 1);
        let rr = std::mem::take(&mut self.execs[task].rr);
        let records_in = self.execs[task].records_in;
        let mut fresh = self.fresh_exec(subtask, node, incarnation, now);
        fresh.records_in = records_in;
        if !rr.is_empty() {
            fresh.rr = rr;
        }
        self.inboxed -= self.execs[task].inbox.len() as u64;
        self.execs[task] = fresh;
        if let Some(id) = subtask {
            let upstream: Vec<usize> = self
                .scenario
                .plan
                .subtask(id)
                .inputs
                .iter()
                .map(|&c| executor_of(self.scenario.plan.channel(c).from))
                .collect();
            for u in upstream {
                if self.execs[u].alive && self.has_ended(u) {
                    self.send(u, task, Msg::End, now);
                }
            }
        }
        self.start_exec(task, now);
        // A Trident spout that restarts mid-batch: its parts of batches in flight are lost.
        if let (Some(t), Role::Spout(_)) = (self.trident.as_mut(), &self.execs[task].role) {
            let lost: Vec<u64> = t.parts.iter().filter(|(_, p)| p.contains(&task)).map(|(x, _)| *x).collect();
            for txid in lost {
                t.coordinator.fail(txid);
                t.parts.remove(&txid);
                t.began.remove(&txid);
                t.commits.remove(&txid);
            }
        }
    }

    pub(super) fn has_ended(&self, task: usize) -> bool {
        let Some(id) = self.execs[task].subtask else { return false };
        match &self.execs[task].role {
            Role::Spout(s) => s.ended,
            Role::Bolt { ends, .. } => *ends >= self.scenario.plan.subtask(id).inputs.len(),
            Role::Acker(_) => false,
        }
    }

    /// Has the topology done all its work (every spout ended with nothing pending, every bolt
    /// saw every input end; Trident: the last batch committed)? Sets `finished_at_ns`.
    pub fn check_finished(&mut self, now: TimeNs) {
        if self.finished_at_ns.is_some() {
            return;
        }
        let done = match &self.trident {
            Some(t) => t.done,
            None => self.execs.iter().enumerate().all(|(i, e)| {
                e.alive
                    && e.inbox.is_empty()
                    && match &e.role {
                        Role::Spout(s) => s.ended && s.exec.is_idle(),
                        Role::Bolt { .. } => self.has_ended(i),
                        Role::Acker(_) => true,
                    }
            }),
        };
        if done {
            self.finished_at_ns = Some(now);
        }
    }
}
