//! Integer-valued distributions used by the network model and the data generator.

use serde::{Deserialize, Serialize};

use crate::kernel::SimRng;

/// A delay distribution that cannot be sampled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DelayError {
    #[error("min_ms ({min_ms}) is larger than max_ms ({max_ms})")]
    EmptyRange { min_ms: u64, max_ms: u64 },
    #[error("doubling_ppm must be below 1000000, got {doubling_ppm}")]
    EndlessTail { doubling_ppm: u32 },
}

/// A delay distribution. Scenario files write it in milliseconds; samples are nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Delay {
    /// No delay at all.
    #[default]
    Zero,
    Constant {
        ms: u64,
    },
    /// Uniform in `[min_ms, max_ms]`, with microsecond resolution.
    Uniform {
        min_ms: u64,
        max_ms: u64,
    },
    /// Exponential-like with the given mean (see [`SimRng::exponential`]).
    Exponential {
        mean_ms: u64,
    },
    /// Heavy-tailed (Pareto-like): `min_ms` doubled once more with probability `doubling_ppm`
    /// each time, plus up to the same again uniformly. 500_000 ppm gives a tail where one
    /// sample in a thousand is ~1000x the minimum.
    LongTail {
        min_ms: u64,
        doubling_ppm: u32,
    },
}

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_US: u64 = 1_000;
/// The longest delay a distribution gives: MAX_TIME_MS (1e11 ms) in ns.
pub const MAX_DELAY_NS: u64 = 100_000_000_000 * NS_PER_MS;

impl Delay {
    /// Bounded: every `*_ms` here is at most MAX_TIME_MS (1e11 ms, `scenario::limits`), so
    /// `ms * NS_PER_MS` <= 1e17 fits a u64; the long tail doubles up to 20 times and saturates.
    /// A sample is capped at [`MAX_DELAY_NS`] (about three years, "never" for any run), so that
    /// times made of it (`now + latency`, a metrics bucket after it) stay far from overflowing:
    /// a saturated sample once made the metrics tick wrap and loop (a hostile file with
    /// `LongTail(min_ms: 100_000_000_000, ...)`).
    pub fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        self.sample_uncapped_ns(rng).min(MAX_DELAY_NS)
    }

    fn sample_uncapped_ns(&self, rng: &mut SimRng) -> u64 {
        match *self {
            Delay::Zero => 0,
            Delay::Constant { ms } => ms * NS_PER_MS,
            Delay::Uniform { min_ms, max_ms } => rng.between(min_ms * 1000, max_ms * 1000) * NS_PER_US,
            Delay::Exponential { mean_ms } => rng.exponential(mean_ms * NS_PER_MS),
            Delay::LongTail { min_ms, doubling_ppm } => {
                let mut scale = min_ms * NS_PER_MS;
                for _ in 0..20 {
                    if !rng.chance_ppm(doubling_ppm) {
                        break;
                    }
                    scale = scale.saturating_mul(2);
                }
                scale.saturating_add(rng.below(scale.max(1)))
            }
        }
    }

    /// Does the distribution make sense? (Used by scenario validation.)
    pub fn check(&self) -> Result<(), DelayError> {
        match *self {
            Delay::Uniform { min_ms, max_ms } if min_ms > max_ms => Err(DelayError::EmptyRange { min_ms, max_ms }),
            Delay::LongTail { doubling_ppm, .. } if doubling_ppm >= 1_000_000 => {
                Err(DelayError::EndlessTail { doubling_ppm })
            }
            _ => Ok(()),
        }
    }

    pub fn describe(&self) -> String {
        match *self {
            Delay::Zero => "0".into(),
            Delay::Constant { ms } => format!("{ms} ms"),
            Delay::Uniform { min_ms, max_ms } => format!("uniform {min_ms}..{max_ms} ms"),
            Delay::Exponential { mean_ms } => format!("exponential, mean {mean_ms} ms"),
            Delay::LongTail { min_ms, doubling_ppm } => {
                format!("long tail from {min_ms} ms, doubling {doubling_ppm} ppm")
            }
        }
    }
}
