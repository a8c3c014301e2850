//! Apache Storm's reliability protocol as pure state machines (sans-IO: time and tuple ids are
//! passed in by the caller, which draws ids from its seeded randomness; nothing here reads a
//! clock or a random source).
//!
//! - [`rotating`]: Storm's `RotatingMap`, the bucketed expiry behind message timeouts (a tuple
//!   times out between T and ~2T after it was emitted);
//! - [`acker`]: the XOR acker: per spout tuple (root id) the XOR of every edge id created and
//!   acked; zero with the spout's init seen means the tuple tree completed;
//! - [`anchor`]: anchored emits and acks on the bolt side (each emitted tuple edge gets a fresh
//!   64-bit id, XORed into the input tuple's ack value);
//! - [`spout`]: the spout executor: message ids, `topology.max.spout.pending`, ack / fail /
//!   timeout, the replay queue and the committed offset (Kafka spout style);
//! - [`window`]: `BaseWindowedBolt` with event time: tumbling and sliding windows, a watermark of
//!   the latest tuple time minus the lag, tuples held (un-acked) until they leave every window;
//! - [`trident`]: Trident's batches with transaction ids committed in order, and transactional
//!   and opaque-transactional state.
//!
//! The simulator's Storm world (`sim::storm`) drives these; the book's Storm chapter lists the
//! simplifications against Storm 2.x.

pub mod acker;
pub mod anchor;
pub mod rotating;
pub mod spout;
pub mod trident;
pub mod window;

/// A spout tuple's id in the acker (Storm's root id).
pub type RootId = u64;
/// The id of one tuple edge (Storm's anchor id).
pub type EdgeId = u64;
