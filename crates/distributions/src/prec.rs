//! Tolerances shared by this crate's tests, each with the reason for its size.

/// Closed-form log-densities in f64: a few ulps of accumulated rounding.
pub const LOG_PROB_F64: f64 = 1e-10;
/// Grid integrals of normalised densities: midpoint-rule error on the test grids plus the
/// mass outside the box (both far below this).
pub const INTEGRAL: f64 = 1e-2;
/// One-pass versus re-evaluated log-densities of a flow, in f64.
pub const ONE_PASS_F64: f64 = 1e-9;
/// How many standard errors a sample mean may be from its target before a test fails.
pub const STANDARD_ERRORS: f64 = 4.0;
