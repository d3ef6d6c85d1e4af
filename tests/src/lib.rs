//! The workspace property-test suite lives in `tests/`; this library holds shared strategies and law checkers.
//!
//! - [`laws`]: one checker per law every [`bijectors::Bijector`] obeys (round trip, inverse
//!   log-det, log-det against the numerical Jacobian, chain additivity, gradients through both
//!   directions), each returning the measured error or a description of the violation.
//! - [`prec`]: every tolerance those checkers use.
//! - [`strategies`]: proptest strategies for batches spanning 1e-3 to 1e3, conditions, block
//!   configurations and random chains.
//! - [`blocks`]: building the blocks those configurations describe, with random parameters.
//! - [`tally`]: the worst error seen per block and law, for the suite's summary.

pub mod blocks;
pub mod laws;
pub mod prec;
pub mod strategies;
pub mod tally;
