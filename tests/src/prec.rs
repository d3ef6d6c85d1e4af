//! Tolerances of every law checker, in one place (statrs' `prec` style).
//!
//! Each constant names the law it belongs to and the quantity it bounds; the checkers in
//! [`crate::laws`] compare their measured, normalised error against these and nothing else.

use autodiff::GradCheckOptions;

/// Round trip: `max_i ‖x_i − f⁻¹(f(x_i))‖∞ / (1 + ‖x_i‖∞)` per sample (row).
pub const ROUND_TRIP: f64 = 1e-9;

/// Inverse log-det symmetry: `|ld_f(x_i) + ld_inv(f(x_i))| / (1 + |ld_f(x_i)|)` per sample.
pub const LOG_DET_SYMMETRY: f64 = 1e-9;

/// Log-det against the numerical Jacobian: `|ld_f(x_i) − ln|det J_num(x_i)|| / (1 + |ld_f(x_i)|)`.
pub const LOG_DET_JACOBIAN: f64 = 1e-5;

/// Finite-difference step of the numerical Jacobian: entries of sample `i` move by
/// `±FD_STEP · (1 + ‖x_i‖∞)^(1/5)` (and half that, for one Richardson extrapolation; see
/// [`crate::laws::numerical_jacobians`]). About `ε^(1/5)`: with an `O(h⁴)` scheme this balances
/// truncation (≈ h⁴ ≈ 1e-11 for unit-scale nonlinearities) against rounding (≈ ε·|y|/h).
/// A second-order quotient with a step of 1e-6 was measured to lose 1.4e-4 of log-det on an
/// ill-conditioned (cond ≈ 5e7) but correct RealNVP Jacobian, where this scheme loses 2e-7.
pub const FD_STEP: f64 = 1e-3;

/// Chain additivity: the chain's output and log-det against its blocks applied one after the
/// other, `|Δ| / (1 + |value|)` entrywise.
pub const CHAIN_SUM: f64 = 1e-12;

/// Options for [`autodiff::grad_check`] in the gradient laws: central differences with step
/// `1e-6`, `|analytic − numeric| ≤ 1e-6 + 1e-5 · max(|analytic|, |numeric|)` per entry
/// (autodiff's documented defaults).
pub fn grad_check_options() -> GradCheckOptions {
    GradCheckOptions::default()
}

/// Entries of batches fed to the gradient laws have magnitudes `10^u`, `u ∈ [GRAD_MIN_EXP,
/// GRAD_MAX_EXP]` (so `|x| ∈ [1e-2, 1]`). `grad_check`'s central differences use a fixed step
/// of 1e-6: at entries of 1e3 their rounding error (≈ ε·|loss|/h) and, through inverses of
/// expanding chains, their truncation error (≈ h²·|f‴|) swamp the comparison. Measured: on a
/// chain's inverse at inputs up to 10, central differences at 1e-6 were 1.4e-5 off the
/// analytic gradient, which Richardson extrapolation confirmed to 1e-10.
pub const GRAD_MIN_EXP: f64 = -2.0;
/// Upper end of the gradient laws' magnitude exponent; see [`GRAD_MIN_EXP`].
pub const GRAD_MAX_EXP: f64 = 0.0;

/// Magnitude exponents of the general batches: entries `sign · 10^u` with `u ∈ [−3, 3]`.
pub const MIN_EXP: f64 = -3.0;
/// Upper end of the general batches' magnitude exponent; see [`MIN_EXP`].
pub const MAX_EXP: f64 = 3.0;
