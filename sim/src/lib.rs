//! streamlab's deterministic world: the discrete-event kernel, the network model, the external
//! systems (source log, checkpoint storage, sink store), the recording, scenario files, and the
//! reports the headless CLI prints.
//!
//! Determinism rules: no wall clock, no OS randomness, no iteration over hash maps into anything
//! observable; integer time (ns); all randomness from one seed, a sub-seed per component.

pub mod atomic_write;
pub mod chunked;
pub mod consistency;
pub mod credit;
pub mod dist;
pub mod exercise;
pub mod export;
pub mod external;
pub mod faults;
pub mod invariants;
pub mod job;
pub mod kernel;
pub mod kstreams;
pub mod model_world;
pub mod network;
pub mod oracle;
pub mod recording;
pub mod report;
pub mod run;
pub mod runtime;
pub mod scenario;
pub mod shrink;
pub mod source_cursor;
pub mod spark;
pub mod stepped;
pub mod storm;
pub mod strategies;
pub mod testing;
pub mod time_use;
pub mod world;

pub use run::{run_scenario, RunResult};
pub use scenario::{Scenario, ScenarioError};
pub use world::{RunOptions, StopReason, World};
