//! The discrete-event kernel: a virtual clock, an event queue ordered by (time, sequence number),
//! and seeded randomness with a sub-seed per component.
//!
//! The event queue is in `queue.rs`; this file holds the clock's unit and the randomness.

mod queue;

pub use queue::EventQueue;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Virtual time in nanoseconds since the start of the run: the engine's [`engine::ProcTimeNs`]
/// (one type; this name is the simulator's spelling of it). Milliseconds become nanoseconds
/// through [`engine::ms_to_ns`] only.
pub type TimeNs = engine::ProcTimeNs;

/// Seeded randomness. The root generator only hands out sub-seeds, one per component, so that
/// adding a component does not shift every other component's random stream (TigerBeetle's VOPR
/// habit). All draws are integers.
#[derive(Clone, Debug)]
pub struct SimRng {
    rng: ChaCha8Rng,
}

/// Named random streams. Append new ones at the end; never reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Generator = 0,
    Network = 1,
    Faults = 2,
    Swarm = 3,
    /// Storm's tuple and root ids.
    StormIds = 4,
    /// The restart strategy's jitter (`sim::job`, from [`stream_seed`]).
    Restart = 5,
    /// A source reader's registration with the JobManager (`sim::world`, from [`stream_seed`]).
    SourceRegistration = 6,
}

/// The sub-seed of one component stream of a run with `root_seed` (what
/// [`SimRng::for_stream`] seeds its generator with), for a component that hashes it instead of
/// drawing from a generator.
pub fn stream_seed(root_seed: u64, stream: Stream) -> u64 {
    let mut root = ChaCha8Rng::seed_from_u64(root_seed);
    let mut sub = 0;
    for _ in 0..=stream as usize {
        sub = root.next_u64();
    }
    sub
}

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// The generator for one component stream of a run with `root_seed`.
    pub fn for_stream(root_seed: u64, stream: Stream) -> Self {
        SimRng::new(stream_seed(root_seed, stream))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift (bias below 2^-64 * n, irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `min..=max`.
    pub fn between(&mut self, min: u64, max: u64) -> u64 {
        if max <= min {
            return min;
        }
        min + self.below(max - min + 1)
    }

    /// True with probability `ppm` parts per million.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < ppm as u64
    }

    /// Approximately exponential with the given mean, in integers: a geometric number of
    /// "half-lives" plus a uniform fraction of one (piecewise-uniform between powers of two).
    pub fn exponential(&mut self, mean: u64) -> u64 {
        // X = step * (G + U) with G geometric (P(G >= k) = 2^-k) and U uniform in [0, 1): the tail
        // halves every `step`, like an exponential's. E[X] = 1.5 step, so step = 2/3 of the mean.
        // Bounded: a mean comes from a `*_ms` field (at most MAX_TIME_MS = 1e11 ms, 1e17 ns), so
        // step * 40 <= 2.7e18 fits a u64; step * fraction would not (found by a hostile file
        // with `Exponential(mean_ms: 100_000_000_000)`), so that product is taken in u128 and
        // is below `step`. Saturating all the same: a caller may pass any u64.
        let step = mean / 3 * 2 + mean % 3 * 2 / 3;
        let halvings = self.next_u64().trailing_zeros().min(40) as u64;
        let fraction = self.below(1024);
        let part = (u128::from(step) * u128::from(fraction) / 1024) as u64;
        step.saturating_mul(halvings).saturating_add(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1 = SimRng::for_stream(7, Stream::Network).next_u64();
        let a2 = SimRng::for_stream(7, Stream::Network).next_u64();
        let b = SimRng::for_stream(7, Stream::Generator).next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
    }

    #[test]
    fn exponential_mean_is_close() {
        let mut r = SimRng::new(1);
        let n = 100_000;
        let total: u64 = (0..n).map(|_| r.exponential(1_000_000)).sum();
        let mean = total / n;
        assert!((900_000..1_100_000).contains(&mean), "mean {mean}");
    }
}
