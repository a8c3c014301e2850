//! The kernel's Spark world: [`SparkCore`] (the driver, the executors and every decision)
//! driven by the shared kernel world ([`ModelWorld`]: the event queue, the shared network rules
//! with FIFO per RPC connection between nodes, the fault schedule). A crashed node comes back
//! after `restart_after` — or, without one, after the heartbeat timeout (the cluster manager
//! relaunches a supervised driver, or gives the application a replacement executor).

use engine::ms_to_ns;

use crate::kernel::TimeNs;
use crate::model_world::{Command, ModelCore, ModelWorld, Return};
use crate::scenario::NodeId;

pub use super::core::{Msg, Out, SparkCore, Timer};

/// A Spark run on the kernel. Derefs to its [`SparkCore`] (stats, sink store, recorder, ...).
pub type SparkWorld = ModelWorld<SparkCore>;

impl ModelCore for SparkCore {
    /// A node (the driver is on `jm`).
    type End = NodeId;
    /// A message to a dead node is dropped when it arrives.
    type To = NodeId;
    type Msg = Msg;
    type Timer = Timer;
    type Out = Out;

    crate::model_world::model_core_fields!(SparkCore);
    fn command(&self, out: Out) -> Command<SparkCore> {
        match out {
            Out::Send { from, to, msg } => Command::Send { link: (from, to), nodes: Some((from, to)), to, msg },
            Out::Timer { at, timer } => Command::Timer { at, timer },
        }
    }
    fn deliver(&mut self, to: NodeId, msg: Msg, now: TimeNs) {
        SparkCore::deliver(self, to, msg, now)
    }
    fn fire(&mut self, timer: Timer, now: TimeNs) {
        SparkCore::fire(self, timer, now)
    }
    /// A node dies; it comes back after `restart_after_ns`, or after the heartbeat timeout.
    fn crash(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) -> Option<Return> {
        if !self.node_alive(node) {
            return None;
        }
        self.crash_node(node, now);
        Some(Return::After(
            restart_after_ns.unwrap_or_else(|| ms_to_ns(self.scenario.failure_detection.heartbeat_timeout_ms)),
        ))
    }
    fn node_back(&mut self, node: NodeId, now: TimeNs) {
        SparkCore::node_back(self, node, now)
    }
}
