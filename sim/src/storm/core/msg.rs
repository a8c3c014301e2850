//! What the core and its world exchange: messages between executors, timers, and the
//! core's requests to its world.

use engine::message::Record;
use engine::storm::anchor::MessageId;
use engine::storm::RootId;

use crate::kernel::TimeNs;

/// A message between executors.
#[derive(Clone, Debug)]
pub enum Msg {
    Tuple {
        record: Record,
        id: MessageId,
        batch: Option<(u64, u32)>,
    },
    /// The upstream task emitted every offset of the log once (Storm has no end of input; the
    /// simulation needs one to close the last windows).
    End,
    AckerInit {
        root: RootId,
        value: u64,
        spout: u32,
    },
    AckerAck {
        root: RootId,
        value: u64,
    },
    /// A bolt failed a tuple of the tree (`collector.fail`).
    AckerFail {
        root: RootId,
    },
    SpoutAck {
        root: RootId,
    },
    SpoutFail {
        root: RootId,
    },
    /// Trident: the coordinator asks a spout task to emit its part of a batch.
    EmitBatch {
        txid: u64,
        attempt: u32,
        from_ns: TimeNs,
        until_ns: TimeNs,
    },
    /// Trident: a spout task's part of attempt `attempt` of a batch completed (or failed).
    BatchPartDone {
        txid: u64,
        attempt: u32,
        from: u32,
    },
    /// Trident: store the batch's updates (the batch began at `began_ns`).
    Commit {
        txid: u64,
        attempt: u32,
        began_ns: TimeNs,
    },
    /// Trident: a bolt stored (or refused) attempt `attempt`'s updates.
    CommitDone {
        txid: u64,
        attempt: u32,
        ok: bool,
        from: u32,
    },
}

impl Msg {
    pub(super) fn is_ack_traffic(&self) -> bool {
        matches!(
            self,
            Msg::AckerInit { .. }
                | Msg::AckerAck { .. }
                | Msg::AckerFail { .. }
                | Msg::SpoutAck { .. }
                | Msg::SpoutFail { .. }
        )
    }
}

/// A timer the core asks its world to set; the world hands it back with [`super::StormCore::fire`] at
/// `at` (or later: a world may be late, never early).
#[derive(Clone, Debug)]
pub enum Timer {
    /// An executor's next step (the token tells a stale timer from the current one).
    Run { task: u32, incarnation: u32, token: u64 },
    /// `topology.message.timeout.secs` tick of a spout or acker (rotate its buckets).
    Rotate { task: u32, incarnation: u32 },
    /// Trident: the coordinator's clock (begin batches, time out batches).
    TridentTick,
}

/// What the core wants its world to do.
#[derive(Clone, Debug)]
pub enum Out {
    /// Carry `msg` from executor `from` to executor `to` (its `incarnation` when sent: a message
    /// for an executor that restarted since is dropped on delivery), FIFO per (from, to).
    Send { from: u32, to: u32, incarnation: u32, msg: Msg },
    /// Call [`super::StormCore::fire`] with `timer` at virtual time `at`.
    Timer { at: TimeNs, timer: Timer },
}
