//! Test tolerances, in one place.

/// `inverse(forward(x))` against `x` in f64, absolute, for inputs of order 1.
pub(crate) const ROUND_TRIP: f64 = 1e-12;
/// The inverse's log-det against minus the forward one at the matching point, f64, absolute.
pub(crate) const INVERSE_LOG_DET: f64 = 1e-12;
/// Step of the central differences that build a numerical Jacobian.
pub(crate) const JACOBIAN_STEP: f64 = 1e-5;
/// A log-det against `ln|det|` of the numerical Jacobian (error O(h²) ≈ 1e-10 times the third
/// derivatives, plus rounding ≈ 1e-16 / h), absolute.
pub(crate) const JACOBIAN_LOG_DET: f64 = 1e-7;
/// Step of the central differences in parameter-gradient checks.
pub(crate) const GRAD_STEP: f64 = 1e-6;
/// Gradient checks: absolute tolerance.
pub(crate) const GRAD_ATOL: f64 = 1e-6;
/// Gradient checks: relative tolerance.
pub(crate) const GRAD_RTOL: f64 = 1e-5;
