//! The course's labs (book chapter "Labs"): students implement a piece of the engine against a
//! small trait, and an open grading suite of seeded sweeps and invariant checks grades it.
//!
//! - Lab 1, [`lab1::Aligner`]: exactly-once barrier alignment. The suite drives a subtask with
//!   several input channels through seeded interleavings, snapshots at each completed checkpoint,
//!   crashes, restores and replays, and checks that the counts equal the fault-free counts. An
//!   aligner that does not block (at-least-once) produces the over-count the book describes.
//! - Lab 2, [`lab2::Acker`]: Storm's XOR acker. The suite builds seeded random tuple trees,
//!   delivers the acker's messages in random orders, and checks that a tree completes exactly
//!   with its last message, once, and that a fail is reported.
//!
//! The engine's own `BarrierAligner` and `storm::acker::Acker` implement the same traits
//! ([`lab1::EngineAligner`], [`lab2::EngineAcker`]) and pass the same suites.
//!
//! Student code is in `student/`, the reference solutions in `reference/` (kept apart: a
//! student works in `student/` only). `cargo test -p streamlab-labs` grades the references and
//! shows that the suites fail the stubs and known-wrong variants; `cargo test -p streamlab-labs
//! --features student` grades the student's code.

pub mod lab1;
pub mod lab2;

/// The student's code (the stubs until a student fills them in): `book/labs/student/`.
#[path = "../student/mod.rs"]
pub mod student;

/// The reference solutions: `book/labs/reference/`.
#[path = "../reference/mod.rs"]
pub mod reference;

/// SplitMix64: the suites' seeded randomness (no dependency, the same sequence everywhere).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}
