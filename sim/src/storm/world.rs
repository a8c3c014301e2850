//! The kernel's Storm world: [`StormCore`] (the topology and every decision of the runtime)
//! driven by the shared kernel world ([`ModelWorld`]: the event queue, the shared network rules
//! with FIFO per executor pair as Netty's TCP gives it, the fault schedule). A worker comes back
//! after `restart_after`, or Nimbus reassigns its executors after the heartbeat timeout. The
//! madsim world (`sim/madsim-world`) drives the same core on madsim's network instead.

use engine::ms_to_ns;

use crate::kernel::TimeNs;
use crate::model_world::{Command, ModelCore, ModelWorld, Return};
use crate::scenario::{Model, NodeId, Scenario, JOB_MANAGER};

pub use super::core::{Msg, Out, Partial, StormCore, StormStats, Timer};

/// A Storm run on the kernel. Derefs to its [`StormCore`] (stats, sink store, recorder, ...).
pub type StormWorld = ModelWorld<StormCore>;

impl ModelCore for StormCore {
    /// An executor (task index).
    type End = u32;
    /// An executor and its incarnation when the message was sent (a message for an executor
    /// that restarted since is dropped on delivery).
    type To = (u32, u32);
    type Msg = Msg;
    type Timer = Timer;
    type Out = Out;

    crate::model_world::model_core_fields!(StormCore);
    fn inboxed_messages(&self) -> u64 {
        StormCore::inboxed_messages(self)
    }
    fn command(&self, out: Out) -> Command<StormCore> {
        match out {
            Out::Send { from, to, incarnation, msg } => Command::Send {
                link: (from, to),
                nodes: self.node_of(from).zip(self.node_of(to)),
                to: (to, incarnation),
                msg,
            },
            Out::Timer { at, timer } => Command::Timer { at, timer },
        }
    }
    fn deliver(&mut self, (task, incarnation): (u32, u32), msg: Msg, now: TimeNs) {
        StormCore::deliver(self, task, incarnation, msg, now)
    }
    fn fire(&mut self, timer: Timer, now: TimeNs) {
        StormCore::fire(self, timer, now)
    }
    /// A worker dies; the supervisor restarts it after `restart_after_ns`, or else Nimbus
    /// reassigns its executors after the heartbeat timeout. Nimbus (`jm`) is only restarted.
    fn crash(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) -> Option<Return> {
        if !self.crash_node(node, restart_after_ns, now) {
            return None;
        }
        match restart_after_ns {
            Some(d) => Some(Return::After(d)),
            None if node == JOB_MANAGER => None,
            None => {
                let after = ms_to_ns(self.scenario.failure_detection.heartbeat_timeout_ms);
                let incarnation = self.node_state(node).map_or(0, |(_, i)| i);
                Some(Return::ReassignAfter(after, incarnation))
            }
        }
    }
    fn node_back(&mut self, node: NodeId, now: TimeNs) {
        StormCore::node_back(self, node, now)
    }
    fn reassign(&mut self, node: NodeId, incarnation: u32, now: TimeNs) {
        StormCore::reassign(self, node, incarnation, now)
    }
    fn after_event(&mut self, now: TimeNs) {
        self.check_finished(now)
    }
}

impl StormWorld {
    /// Does `scenario` run on the Storm runtime (its `model` is `Storm(..)`)?
    pub fn is_storm(scenario: &Scenario) -> bool {
        matches!(scenario.model, Model::Storm(_))
    }
}
