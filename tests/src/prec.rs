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

/// Multiple of the numerical reference's own propagated uncertainty `δ` allowed on top of
/// [`LOG_DET_JACOBIAN`] (see [`crate::laws::log_det_matches_jacobian`]). The estimate is
/// conservative: over the 9431 samples of one run of the block and chain Jacobian laws, the
/// largest observed `|ld − ln|det J_num|| / δ` was 0.50 (median `δ` 7e-9, 99th percentile
/// 2e-3, reached only by chains that blow inputs of 1e3 up to 1e5–1e6). Twice `δ` leaves a
/// fourfold margin.
pub const FD_SAFETY: f64 = 2.0;

/// Largest finite-difference step of the numerical Jacobian: entries of sample `i` move by
/// `±FD_STEP · (1 + ‖x_i‖∞)^(1/5) · 2^(−k)`, `k = 0..=FD_LADDER`, and each Jacobian entry takes
/// the Richardson extrapolation on the rung where neighbouring rungs agree best (see
/// [`crate::laws::numerical_jacobians`]). About `ε^(1/5)`: with an `O(h⁴)` scheme this balances
/// truncation (≈ h⁴ ≈ 1e-11 for unit-scale nonlinearities) against rounding (≈ ε·|y|/h); maps
/// that bend faster are handled by the smaller rungs. A second-order quotient with a step of
/// 1e-6 was measured to lose 1.4e-4 of log-det on an ill-conditioned (cond ≈ 5e7) but correct
/// RealNVP Jacobian, where extrapolation at this step loses 2e-7.
pub const FD_STEP: f64 = 1e-3;

/// Rungs below [`FD_STEP`] on the numerical Jacobian's step ladder (halving each time, so the
/// smallest step is `FD_STEP / 2^FD_LADDER ≈ 1e-6`, where rounding overtakes truncation for
/// outputs up to ≈ 1e4).
pub const FD_LADDER: usize = 10;

/// Chain additivity: the chain's output and log-det against its blocks applied one after the
/// other, `|Δ| / (1 + |value|)` entrywise.
pub const CHAIN_SUM: f64 = 1e-12;

/// Options for [`autodiff::grad_check`] in the gradient laws: central differences with step
/// `1e-5`, `|analytic − numeric| ≤ 1e-6 + 1e-5 · max(|analytic|, |numeric|)` per entry
/// (autodiff's default tolerances). The step is 10× autodiff's default: the truncation error
/// (≈ h²·|f‴|/6 ≈ 2e-11 for unit-scale curvature) stays negligible, while the rounding error
/// (≈ ε·|loss|/h) and the noise of an iterative inverse (≈ tol/h, see
/// [`IRESNET_GRADIENT_INVERSE_TOL`]) shrink tenfold.
pub fn grad_check_options() -> GradCheckOptions {
    GradCheckOptions {
        step: 1e-5,
        ..GradCheckOptions::default()
    }
}

/// Largest step of the gradient laws' step ladder, which re-examines an entry whose
/// fixed-step quotient missed (see `laws::numeric_derivative`): large enough to average over
/// rounding inside a chain, where steps of 1e-3 pinned a gradient that 1e-5 scattered by 4e-6.
pub const GRAD_LADDER_TOP: f64 = 1e-3;

/// Rungs below [`GRAD_LADDER_TOP`] (halving each time, down to `1e-3 / 2^20 ≈ 1e-9`): the
/// small rungs resolve kinks closer than the fixed step (a spline knot 5e-6 from the point
/// was measured; central quotients below it agreed with the analytic gradient to 1e-8).
pub const GRAD_LADDER: usize = 20;

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

/// i-ResNet inverse tolerance in the gradient laws. Finite differences of an iterative inverse
/// are off by about `tol / h`: with `h = 1e-5` the block's default 1e-10 would leave 1e-5 of
/// noise in every difference quotient, 1e-12 leaves 1e-7 (below `atol`). Tighter is not
/// reachable: inside chains the iteration's steps stall at rounding level (measured: 1.2e-14,
/// so with L ≈ 0.9 the a-posteriori bound cannot go below ≈ 1e-13).
pub const IRESNET_GRADIENT_INVERSE_TOL: f64 = 1e-12;

/// i-ResNet round trip: besides the reported Banach bound (the distance to the exact fixed
/// point of the *computed* `y`), `x` differs from that fixed point by the forward pass's own
/// rounding, at most about `ε·(1 + ‖x‖∞)/(1 − L)` per ulp; this many ulps are allowed.
pub const IRESNET_ROUNDING_ULPS: f64 = 8.0;

/// Hutchinson probes per sample when the i-ResNet series log-det is compared with the exact
/// truncated series.
pub const HUTCHINSON_PROBES: usize = 64;

/// How many standard deviations of the Hutchinson estimator (computed exactly from the
/// numerical Jacobian) the series estimate may stray from its expectation: a 6σ event has
/// probability below 1e-8 per sample for the near-Gaussian mean of 64 probes.
pub const HUTCHINSON_SIGMAS: f64 = 6.0;

/// Slack for the numerical Jacobian in the i-ResNet series law, relative to `1 + |log-det|`
/// (the same as [`LOG_DET_JACOBIAN`]).
pub const SERIES_JACOBIAN_SLACK: f64 = LOG_DET_JACOBIAN;

/// Ulps of the loss's total magnitude that one loss evaluation may be off by, in the rounding
/// floor of the parameter-gradient law's difference quotients.
pub const FD_ROUNDING_ULPS: f64 = 8.0;
