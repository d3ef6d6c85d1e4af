//! The laws every [`Bijector`] obeys, one checker per law (statrs' `check_continuous_distribution`).
//!
//! Every checker takes the block as `&dyn Bijector<f64>`, its parameter store, a batch
//! (`n × d`, one sample per row) and the optional condition (`n × cond_dim`). It returns the
//! measured error, normalised as the matching constant in [`crate::prec`] describes, or a
//! description of the first violation naming the sample, the numbers and the tolerance.

use crate::prec;
use autodiff::nalgebra::DMatrix;
use autodiff::{Params, Tape, Var};
use bijectors::Bijector;

/// What a law checker returns: the measured (normalised) error, or what went wrong.
pub type LawResult = Result<f64, String>;

/// `‖row‖∞` of row `i`.
fn row_max_abs(m: &DMatrix<f64>, i: usize) -> f64 {
    m.row(i).iter().fold(0.0, |a, &v| a.max(v.abs()))
}

fn forward(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> Result<(DMatrix<f64>, DMatrix<f64>), String> {
    block
        .forward_matrix_with(params, x, cond)
        .map_err(|e| format!("forward failed: {e}"))
}

fn inverse(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    y: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> Result<(DMatrix<f64>, DMatrix<f64>), String> {
    block
        .inverse_matrix_with(params, y, cond)
        .map_err(|e| format!("inverse failed: {e}"))
}

/// Checks the shapes a block returns for a batch: `n × d` out, `n × 1` log-det, all finite.
fn check_output(what: &str, x: &DMatrix<f64>, y: &DMatrix<f64>, ld: &DMatrix<f64>) -> LawResult {
    if y.shape() != x.shape() || ld.shape() != (x.nrows(), 1) {
        return Err(format!(
            "{what}: input {:?} gave output {:?} and log-det {:?}",
            x.shape(),
            y.shape(),
            ld.shape()
        ));
    }
    if let Some(k) = y.iter().chain(ld.iter()).position(|v| !v.is_finite()) {
        return Err(format!("{what}: non-finite output (flat index {k})"));
    }
    Ok(0.0)
}

/// Law 1, round trip: `‖x_i − f⁻¹(f(x_i))‖∞ ≤ tol · (1 + ‖x_i‖∞)` for every sample `i`.
///
/// Returns `max_i ‖x_i − f⁻¹(f(x_i))‖∞ / (1 + ‖x_i‖∞)`, checked against [`prec::ROUND_TRIP`].
pub fn round_trip(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> LawResult {
    let errors = round_trip_errors(block, params, x, cond)?;
    check_samples("round trip", x, &errors, |_, norm| {
        prec::ROUND_TRIP * (1.0 + norm)
    })?;
    Ok(errors
        .iter()
        .fold(0.0, |m, &(err, norm)| m.max(err / (1.0 + norm))))
}

/// Law 1 with a caller-given absolute bound per sample, `bound(i, ‖x_i‖∞)`, for blocks whose
/// inverse is iterative and reports its own error bound (i-ResNet's Banach bound).
///
/// Returns `max_i ‖x_i − f⁻¹(f(x_i))‖∞ / bound_i` (≤ 1 when the law holds).
pub fn round_trip_within(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
    bound: impl Fn(usize, f64) -> f64,
) -> LawResult {
    let errors = round_trip_errors(block, params, x, cond)?;
    check_samples("round trip", x, &errors, &bound)?;
    Ok(errors
        .iter()
        .enumerate()
        .fold(0.0, |m, (i, &(err, norm))| m.max(err / bound(i, norm))))
}

/// The round-trip error of law 1, `max_i ‖x_i − f⁻¹(f(x_i))‖∞ / (1 + ‖x_i‖∞)`, measured
/// without a tolerance (∞ when the block fails): for reporting quantities the suite does not
/// bound, such as a whole deep chain's round trip.
pub fn round_trip_error(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> f64 {
    round_trip_errors(block, params, x, cond).map_or(f64::INFINITY, |errors| {
        errors
            .iter()
            .fold(0.0, |m, &(err, norm)| m.max(err / (1.0 + norm)))
    })
}

/// `(‖x_i − f⁻¹(f(x_i))‖∞, ‖x_i‖∞)` for every sample.
fn round_trip_errors(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> Result<Vec<(f64, f64)>, String> {
    let (y, ld) = forward(block, params, x, cond)?;
    check_output("forward", x, &y, &ld)?;
    let (back, ld_inv) = inverse(block, params, &y, cond)?;
    check_output("inverse", &y, &back, &ld_inv)?;
    Ok((0..x.nrows())
        .map(|i| {
            let err = (0..x.ncols()).fold(0.0f64, |a, j| {
                let e = (x[(i, j)] - back[(i, j)]).abs();
                if e.is_nan() { f64::INFINITY } else { a.max(e) }
            });
            (err, row_max_abs(x, i))
        })
        .collect())
}

/// Errors with a description of the first sample whose error exceeds `allowed(i, ‖x_i‖∞)`.
fn check_samples(
    law: &str,
    x: &DMatrix<f64>,
    errors: &[(f64, f64)],
    allowed: impl Fn(usize, f64) -> f64,
) -> Result<(), String> {
    for (i, &(err, norm)) in errors.iter().enumerate() {
        let limit = allowed(i, norm);
        if !within(err, limit) {
            return Err(format!(
                "{law}: sample {i} x = {:?}: error {err:e} > allowed {limit:e} (‖x‖∞ = {norm:e})",
                x.row(i).iter().collect::<Vec<_>>()
            ));
        }
    }
    Ok(())
}

/// Law 2, inverse log-det: `ld_inv(f(x_i)) = −ld_f(x_i)` for every sample `i`.
///
/// Returns `max_i |ld_f(x_i) + ld_inv(f(x_i))| / (1 + |ld_f(x_i)|)`, checked against
/// [`prec::LOG_DET_SYMMETRY`] (or `tol` in [`inverse_log_det_within`]).
pub fn inverse_log_det(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> LawResult {
    inverse_log_det_within(block, params, x, cond, prec::LOG_DET_SYMMETRY)
}

/// Law 2 with a caller-given relative tolerance (for iterative inverses, whose `x` is only
/// recovered to the solver's tolerance).
pub fn inverse_log_det_within(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
    tol: f64,
) -> LawResult {
    let (y, ld) = forward(block, params, x, cond)?;
    check_output("forward", x, &y, &ld)?;
    let (_, ld_inv) = inverse(block, params, &y, cond)?;
    check_output("inverse", &y, &y, &ld_inv)?;
    let mut worst = 0.0f64;
    for i in 0..x.nrows() {
        let err = (ld[i] + ld_inv[i]).abs() / (1.0 + ld[i].abs());
        if !within(err, tol) {
            return Err(format!(
                "inverse log-det: sample {i}: forward {:e}, inverse {:e}, relative mismatch {err:e} > {tol:e}",
                ld[i], ld_inv[i]
            ));
        }
        worst = worst.max(err);
    }
    Ok(worst)
}

/// `ln|det A|` by LU with partial pivoting (nalgebra), summing `ln|u_kk|` so that nothing
/// overflows; `−∞` for a singular matrix.
pub fn log_abs_det(a: &DMatrix<f64>) -> f64 {
    let lu = a.clone().lu();
    lu.u().diagonal().iter().map(|u| u.abs().ln()).sum()
}

/// The Jacobian `∂f(x_i)/∂x_i` (`d × d`, entry `(r, j) = ∂y_r/∂x_j`) of every sample by
/// central differences with Richardson extrapolation and an adaptive step (numdifftools'
/// scheme): on the ladder `h_k = step · (1 + ‖x_i‖∞)^(1/5) · 2^(−k)`, `k = 0..=`
/// [`prec::FD_LADDER`], each entry's central quotients `D(h_k)` give the extrapolations
/// `R_k = (4·D(h_{k+1}) − D(h_k)) / 3` (error `O(h⁴)`), and the entry takes the `R_{k+1}`
/// whose neighbour `R_k` agrees best with it, `|R_k − R_{k+1}|` being the estimate of its error.
///
/// Why adaptive: the truncation error depends on the scale on which the map bends, which the
/// input does not tell. A RealNVP block with a tanh subnet at `x = [−1000, −1000, −1000, −0.15,
/// −0.08, 5.1]` (its first half multiplies `exp(s(x₂))`, so `∂y₁/∂x₂` bends on the scale of
/// `x₂` with an amplitude of 1000) lost 1.7e-4 of log-det at a fixed step of 4e-3, 1.7e-8 at
/// 4e-4, and 1e-9 at 1e-4; below that rounding (`≈ ε·|y|/h`) takes over. A fixed step fits one
/// of those regimes; the ladder finds the bottom of the error curve per entry. All
/// `2·(L + 1)·d·n` perturbed rows go through `eval` in one batch (blocks treat rows independently).
pub fn numerical_jacobians(
    eval: impl Fn(&DMatrix<f64>) -> Result<DMatrix<f64>, String>,
    x: &DMatrix<f64>,
    step: f64,
) -> Result<Vec<DMatrix<f64>>, String> {
    Ok(numerical_jacobians_with_error(eval, x, step)?
        .into_iter()
        .map(|j| j.value)
        .collect())
}

/// A Jacobian from finite differences with an estimate of its error per entry.
#[derive(Clone, Debug)]
pub struct NumericJacobian {
    /// The Jacobian, `d × d`.
    pub value: DMatrix<f64>,
    /// Per entry, `max(|R_k − R_{k+1}|, rounding)`: the disagreement of the two extrapolations
    /// at the chosen rung, floored by the rounding error of its quotients,
    /// `ε·(|f(x + h)| + |f(x − h)|)/h`.
    pub error: DMatrix<f64>,
}

impl NumericJacobian {
    /// `ln|det J|` ([`log_abs_det`]) and its first-order uncertainty from the entry errors,
    /// `Σ_rj |(J⁻¹)_jr|·E_rj` (from `δ ln|det J| = tr(J⁻¹ δJ)`; ∞ when `J` is singular).
    pub fn log_abs_det_with_error(&self) -> (f64, f64) {
        let ld = log_abs_det(&self.value);
        let spread = self
            .value
            .clone()
            .try_inverse()
            .map_or(f64::INFINITY, |inv| {
                inv.transpose().component_mul(&self.error).abs().sum()
            });
        (ld, spread)
    }
}

/// [`numerical_jacobians`] with the per-entry error estimates ([`NumericJacobian`]).
pub fn numerical_jacobians_with_error(
    eval: impl Fn(&DMatrix<f64>) -> Result<DMatrix<f64>, String>,
    x: &DMatrix<f64>,
    step: f64,
) -> Result<Vec<NumericJacobian>, String> {
    let (n, d) = x.shape();
    let levels = prec::FD_LADDER + 1;
    // Probe (k, ±) of entry (i, j) sits at row ((i·d + j)·levels + k)·2 + {0: +h_k, 1: −h_k}.
    let row = |i: usize, j: usize, k: usize, minus: usize| ((i * d + j) * levels + k) * 2 + minus;
    let mut probes = DMatrix::zeros(2 * levels * d * n, d);
    for i in 0..n {
        let h0 = step * (1.0 + row_max_abs(x, i)).powf(0.2);
        for j in 0..d {
            for k in 0..levels {
                let h = h0 * 0.5f64.powi(k as i32);
                for (minus, sign) in [(0, 1.0), (1, -1.0)] {
                    let r = row(i, j, k, minus);
                    probes.row_mut(r).copy_from(&x.row(i));
                    probes[(r, j)] += sign * h;
                }
            }
        }
    }
    let out = eval(&probes)?;
    if out.shape() != probes.shape() {
        return Err(format!(
            "numerical Jacobian: {:?} probes gave {:?}",
            probes.shape(),
            out.shape()
        ));
    }
    Ok((0..n)
        .map(|i| {
            let mut value = DMatrix::zeros(d, d);
            let mut error = DMatrix::zeros(d, d);
            for r in 0..d {
                for j in 0..d {
                    // Divide by the perturbations actually applied, after rounding x ± h;
                    // rounding of the quotient: ε·(|f(x + h)| + |f(x − h)|)/(2h)·2.
                    let quotient = |k: usize| {
                        let (a, b) = (row(i, j, k, 0), row(i, j, k, 1));
                        let h2 = probes[(a, j)] - probes[(b, j)];
                        let q = (out[(a, r)] - out[(b, r)]) / h2;
                        let rounding =
                            f64::EPSILON * (out[(a, r)].abs() + out[(b, r)].abs()) / h2.abs();
                        (q, rounding)
                    };
                    let q: Vec<(f64, f64)> = (0..levels).map(quotient).collect();
                    // R_k and the rounding it inherits (weights 4/3 and 1/3).
                    let extrapolated: Vec<(f64, f64)> = q
                        .windows(2)
                        .map(|w| ((4.0 * w[1].0 - w[0].0) / 3.0, (4.0 * w[1].1 + w[0].1) / 3.0))
                        .collect();
                    let (spread, (v, rounding)) = extrapolated
                        .windows(2)
                        .map(|w| ((w[0].0 - w[1].0).abs(), w[1]))
                        .min_by(|a, b| a.0.total_cmp(&b.0))
                        .unwrap_or((f64::INFINITY, extrapolated[0]));
                    value[(r, j)] = v;
                    error[(r, j)] = spread.max(rounding);
                }
            }
            NumericJacobian { value, error }
        })
        .collect())
}

/// Law 3, log-det against the numerical Jacobian: `ld_f(x_i) = ln|det ∂f/∂x(x_i)|`, with the
/// Jacobian from central differences ([`numerical_jacobians_with_error`], largest step
/// [`prec::FD_STEP`]) and its determinant from nalgebra's LU.
///
/// The reference is itself uncertain: where the Jacobian is ill-conditioned or the inputs are
/// large, the differences' own error `δ` (propagated to the log-det by
/// [`NumericJacobian::log_abs_det_with_error`]) can exceed the tolerance. The law is therefore
/// `|ld_f(x_i) − ln|det J_num|| ≤ LOG_DET_JACOBIAN·(1 + |ld_f(x_i)|) + FD_SAFETY·δ_i`
/// ([`prec::LOG_DET_JACOBIAN`], [`prec::FD_SAFETY`]); a wrong log-det is caught unless the
/// reference cannot tell it from right, and the message reports `δ`.
///
/// Returns `max_i |ld_f(x_i) − ln|det J_num|| / (1 + |ld_f(x_i)|)`.
pub fn log_det_matches_jacobian(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> LawResult {
    let mut worst = 0.0f64;
    for (i, (ld, numeric, delta)) in log_dets_and_jacobians(block, params, x, cond)?
        .into_iter()
        .enumerate()
    {
        let scale = 1.0 + ld.abs();
        let err = (ld - numeric).abs() / scale;
        let limit = prec::LOG_DET_JACOBIAN + prec::FD_SAFETY * delta / scale;
        if !within(err, limit) {
            return Err(format!(
                "log-det vs Jacobian: sample {i} x = {:?}: block says {ld:e}, ln|det J_num| = {numeric:e} (± {delta:e} from the differences), relative error {err:e} > {limit:e}",
                x.row(i).iter().collect::<Vec<_>>(),
            ));
        }
        worst = worst.max(err);
    }
    Ok(worst)
}

/// The error of law 3, `max_i |ld_f(x_i) − ln|det J_num|| / (1 + |ld_f(x_i)|)`, measured without
/// a tolerance (∞ when the block fails).
pub fn log_det_error(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> f64 {
    log_dets_and_jacobians(block, params, x, cond).map_or(f64::INFINITY, |rows| {
        rows.iter().fold(0.0, |m, &(ld, numeric, _)| {
            let e = (ld - numeric).abs() / (1.0 + ld.abs());
            if e.is_nan() { f64::INFINITY } else { m.max(e) }
        })
    })
}

/// `(ld_f(x_i), ln|det J_num(x_i)|, δ_i)` for every sample, `δ_i` the reference's uncertainty.
fn log_dets_and_jacobians(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> Result<Vec<(f64, f64, f64)>, String> {
    let (y, ld) = forward(block, params, x, cond)?;
    check_output("forward", x, &y, &ld)?;
    let d = x.ncols();
    // Every probe row of sample i carries sample i's condition.
    let per_sample = 2 * (prec::FD_LADDER + 1) * d;
    let cond_probes = cond.map(|c| {
        DMatrix::from_fn(per_sample * x.nrows(), c.ncols(), |r, k| {
            c[(r / per_sample, k)]
        })
    });
    let jacobians = numerical_jacobians_with_error(
        |probes| Ok(forward(block, params, probes, cond_probes.as_ref())?.0),
        x,
        prec::FD_STEP,
    )?;
    Ok(jacobians
        .iter()
        .enumerate()
        .map(|(i, jac)| {
            let (numeric, delta) = jac.log_abs_det_with_error();
            (ld[i], numeric, delta)
        })
        .collect())
}

/// Law 4, chain additivity: a chain's output equals its blocks applied in order, and its
/// log-det the sum of theirs, in both directions (the inverse applies the blocks reversed).
///
/// `parts` are the chain's blocks in order, all sharing `params` (and all receiving `cond`
/// when it is given and they take one). Returns the largest entrywise `|Δ| / (1 + |value|)`
/// over outputs and log-dets, checked against [`prec::CHAIN_SUM`].
pub fn chain_is_sum_of_parts(
    chain: &dyn Bijector<f64>,
    parts: &[&dyn Bijector<f64>],
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> LawResult {
    let part_cond = |b: &dyn Bijector<f64>| if b.cond_dim() > 0 { cond } else { None };
    let (y, ld) = forward(chain, params, x, cond)?;
    check_output("chain forward", x, &y, &ld)?;
    let mut h = x.clone();
    let mut sum = DMatrix::zeros(x.nrows(), 1);
    for (k, b) in parts.iter().enumerate() {
        let (next, l) =
            forward(*b, params, &h, part_cond(*b)).map_err(|e| format!("part {k}: {e}"))?;
        h = next;
        sum += l;
    }
    let fwd = max_rel_diff(&y, &h).max(max_rel_diff(&ld, &sum));
    let (back, ld_inv) = inverse(chain, params, &y, cond)?;
    let mut h = y.clone();
    let mut sum = DMatrix::zeros(x.nrows(), 1);
    for (k, b) in parts.iter().enumerate().rev() {
        let (prev, l) =
            inverse(*b, params, &h, part_cond(*b)).map_err(|e| format!("part {k}: {e}"))?;
        h = prev;
        sum += l;
    }
    let inv = max_rel_diff(&back, &h).max(max_rel_diff(&ld_inv, &sum));
    let worst = fwd.max(inv);
    if !within(worst, prec::CHAIN_SUM) {
        return Err(format!(
            "chain of {} blocks: forward mismatch {fwd:e}, inverse mismatch {inv:e} > {:e}",
            parts.len(),
            prec::CHAIN_SUM
        ));
    }
    Ok(worst)
}

/// `max |a − b| / (1 + |a|)` entrywise (∞ on a shape mismatch).
fn max_rel_diff(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    if a.shape() != b.shape() {
        return f64::INFINITY;
    }
    a.iter().zip(b.iter()).fold(0.0f64, |m, (&p, &q)| {
        let e = (p - q).abs() / (1.0 + p.abs());
        if e.is_nan() { f64::INFINITY } else { m.max(e) }
    })
}

/// Which way a gradient law pushes the batch through the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Through [`Bijector::forward_with`].
    Forward,
    /// Through [`Bijector::inverse_with`].
    Inverse,
}

/// The scalar loss of the gradient laws: `Σ w ⊙ out + Σ v ⊙ logdet` for fixed weights
/// `w` (`n × d`) and `v` (`n × 1`), through one direction of the block.
fn weighted_loss<'t>(
    block: &dyn Bijector<f64>,
    p: &autodiff::Bound<'t, f64>,
    input: Var<'t, f64>,
    cond: Option<Var<'t, f64>>,
    direction: Direction,
    w: &DMatrix<f64>,
    v: &DMatrix<f64>,
) -> autodiff::Result<Var<'t, f64>> {
    let tape = input.tape();
    let (out, ld) = match direction {
        Direction::Forward => block.forward_with(p, input, cond),
        Direction::Inverse => block.inverse_with(p, input, cond),
    }
    .map_err(to_autodiff)?;
    let a = out.mul(tape.constant(w.clone()))?.sum();
    let b = ld.mul(tape.constant(v.clone()))?.sum();
    a.add(b)
}

/// A block's error as an autodiff error, so it can leave a [`grad_check`] closure.
fn to_autodiff(e: bijectors::Error) -> autodiff::Error {
    match e {
        bijectors::Error::Autodiff(inner) => inner,
        other => autodiff::Error::InvalidArgument {
            op: "bijector",
            reason: other.to_string(),
        },
    }
}

/// Fixed, distinct loss weights for the gradient laws: `w` (`n × d`) and `v` (`n × 1`), a
/// deterministic function of the shape so that a shrunk failure reproduces.
pub fn loss_weights(n: usize, d: usize) -> (DMatrix<f64>, DMatrix<f64>) {
    let w = DMatrix::from_fn(n, d, |i, j| {
        ((1 + i * d + j) as f64 * 0.618_033_988_75).fract() - 0.5
    });
    let v = DMatrix::from_fn(n, 1, |i, _| {
        0.25 + ((1 + i) as f64 * 0.414_213_562_37).fract()
    });
    (w, v)
}

/// The point a gradient law differentiates at: `x` forward, `f(x)` inverse. Nothing is
/// evaluated beforehand, so a block's first call happens on the recording tape (a fresh
/// i-ResNet must normalise its weights there exactly as evaluation does).
fn differentiation_point(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
    direction: Direction,
) -> Result<DMatrix<f64>, String> {
    Ok(match direction {
        Direction::Forward => x.clone(),
        Direction::Inverse => forward(block, params, x, cond)?.0,
    })
}

/// Law 5, input gradients: the reverse-mode gradient of `Σ w ⊙ out + Σ v ⊙ logdet`
/// ([`loss_weights`]) with respect to the block's input, through `direction`, against central
/// differences with one Richardson extrapolation and the same rounding floor and tolerances
/// as [`param_gradient`] (a deep chain's input gradient came out 1.4e-6 off a plain central
/// difference — above `atol` — on a loss with large terms).
///
/// For [`Direction::Inverse`] the batch `x` is first mapped forward, so the inverse is checked
/// at `y = f(x)` (a point in the image of the moderate-magnitude batch).
///
/// Returns the largest relative error among entries whose gradient exceeds `atol`.
pub fn input_gradient(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
    direction: Direction,
) -> LawResult {
    let at = differentiation_point(block, params, x, cond, direction)?;
    let (w, v) = loss_weights(at.nrows(), at.ncols());
    let opts = prec::grad_check_options();
    let eval = |point: &DMatrix<f64>| -> Result<f64, String> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        let loss = weighted_loss(
            block,
            &p,
            tape.constant(point.clone()),
            c,
            direction,
            &w,
            &v,
        )
        .map_err(|e| e.to_string())?;
        Ok(loss.item())
    };
    let analytic = {
        let tape = Tape::new();
        let p = params.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        let xv = tape.var(at.clone());
        let loss = weighted_loss(block, &p, xv, c, direction, &w, &v)
            .map_err(|e| format!("{direction:?} input gradient: {e}"))?;
        let grads = tape.backward(loss).map_err(|e| e.to_string())?;
        grads.wrt(xv)
    };
    let noise = loss_rounding_floor(block, params, &at, cond, direction, &w, &v, opts.step)?;
    let mut probe = at.clone();
    let mut worst = 0.0f64;
    for k in 0..at.len() {
        let orig = at[k];
        let a = analytic[k];
        let numeric = numeric_derivative(a, orig, noise, |point| {
            probe[k] = point;
            let value = eval(&probe);
            probe[k] = orig;
            value
        })?;
        let Ok(numeric) = numeric else {
            let numeric = numeric.unwrap_err();
            let (r, c) = (k % at.nrows(), k / at.nrows());
            return Err(format!(
                "{direction:?} input gradient at ({r}, {c}): analytic {a:e}, numeric {numeric:e}"
            ));
        };
        let (err, scale) = ((a - numeric).abs(), a.abs().max(numeric.abs()));
        if scale > opts.atol {
            worst = worst.max(err / scale);
        }
    }
    Ok(worst)
}

/// `(4·D(h/2) − D(h)) / 3` with the central quotients `D(s) = (f(s) − f(−s)) / 2s` of
/// `f(shift)` (the loss with one entry moved by `shift`): error `O(h⁴)`.
fn richardson(h: f64, mut f: impl FnMut(f64) -> Result<f64, String>) -> Result<f64, String> {
    let mut quotient = |s: f64| -> Result<f64, String> { Ok((f(s)? - f(-s)?) / (2.0 * s)) };
    let wide = quotient(h)?;
    let narrow = quotient(h / 2.0)?;
    Ok((4.0 * narrow - wide) / 3.0)
}

/// Where a difference quotient looks from: both sides of the point, or one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Both,
    Right,
    Left,
}

/// The numerical derivative of `f` (the loss as a function of one entry, evaluated at an
/// absolute value of that entry) at `x0`, judged against the analytic `a`: `Ok(numeric)` when
/// they agree, `Err(numeric)` (the fixed-step estimate) when they do not.
///
/// First the fixed-step Richardson quotient of [`prec::grad_check_options`] (step `h`), with
/// `atol + rtol·max(|a|, |numeric|) + noise`. A fixed step fails a correct gradient in two
/// measured ways, so a miss is re-examined before it counts:
/// - **rounding inside the map**: through a chain's inverse, intermediates far larger than the
///   loss make every loss evaluation noisy; one case's quotients at `h = 1e-5` scattered by
///   4e-6 around a gradient of 0.2 that steps of 1e-3 and 1e-4 pinned to 1e-9;
/// - **a kink closer than `h`**: a rational-quadratic spline's `ln g′` is only continuous
///   across its knots (its second derivative jumps), so the log-det's gradient jumps where a
///   knot crosses an input. A case with a knot about 5e-6 to the right of the point gave a
///   central quotient of −1.57 at `h = 1e-5` against an analytic −1.8556, which the left-sided
///   quotients and every central quotient below 5e-6 reproduced to 1e-8.
///
/// The re-examination is a step ladder: central quotients from
/// [`prec::GRAD_LADDER_TOP`] down, then one-sided ones to the right and to the left (reverse
/// mode returns the derivative of the smooth piece the point lies in, which at a kink is one
/// of the one-sided derivatives). A ladder's estimate counts only if its own error `δ` (the
/// disagreement of neighbouring rungs) is within the law's tolerance, and the analytic value
/// must then lie within `atol + rtol·scale + noise + FD_SAFETY·δ` of it. In a smooth region
/// all three ladders estimate the same derivative, so a wrong gradient fails all of them.
pub fn numeric_derivative(
    a: f64,
    x0: f64,
    noise: f64,
    mut f: impl FnMut(f64) -> Result<f64, String>,
) -> Result<Result<f64, f64>, String> {
    let opts = prec::grad_check_options();
    let tolerance = |numeric: f64| opts.atol + opts.rtol * a.abs().max(numeric.abs());
    let numeric = richardson(opts.step, |shift| f(x0 + shift))?;
    if within((a - numeric).abs(), tolerance(numeric) + noise) {
        return Ok(Ok(numeric));
    }
    for side in [Side::Both, Side::Right, Side::Left] {
        let (estimate, delta) = ladder(x0, side, &mut f)?;
        if within(delta, tolerance(estimate))
            && within(
                (a - estimate).abs(),
                tolerance(estimate) + noise + prec::FD_SAFETY * delta,
            )
        {
            return Ok(Ok(estimate));
        }
    }
    Ok(Err(numeric))
}

/// The derivative of `f` at `x0` on a step ladder `h_k = GRAD_LADDER_TOP · 2^(−k)`,
/// `k = 0..=GRAD_LADDER` (numdifftools' scheme, as in [`numerical_jacobians_with_error`]):
/// quotients `Q(h_k)` from `side` (central, or one-sided `(f(x0 ± h) − f(x0)) / ±h`), their
/// Richardson extrapolations (`(4Q(h/2) − Q(h))/3` central, error `O(h⁴)`; `2Q(h/2) − Q(h)`
/// one-sided, error `O(h²)`), and the extrapolation whose neighbour agrees best with it.
/// Returns that estimate and its error, `max(|R_k − R_{k+1}|, rounding)`, where the rounding
/// of a quotient is `ε·(|f(x0 + h)| + |f(x0 − h)|)/h` (`f(x0)` in place of the unused side).
/// The step actually applied, `(x0 + h) − x0` after rounding, is the divisor.
fn ladder(
    x0: f64,
    side: Side,
    f: &mut impl FnMut(f64) -> Result<f64, String>,
) -> Result<(f64, f64), String> {
    let centre = if side == Side::Both { 0.0 } else { f(x0)? };
    let mut quotients = Vec::with_capacity(prec::GRAD_LADDER + 1);
    for k in 0..=prec::GRAD_LADDER {
        let h = prec::GRAD_LADDER_TOP * 0.5f64.powi(k as i32);
        let (up, down) = (x0 + h, x0 - h);
        let (hi, lo, span) = match side {
            Side::Both => (f(up)?, f(down)?, up - down),
            Side::Right => (f(up)?, centre, up - x0),
            Side::Left => (centre, f(down)?, x0 - down),
        };
        let rounding = f64::EPSILON * (hi.abs() + lo.abs()) / span;
        quotients.push(((hi - lo) / span, rounding));
    }
    // Richardson's weights: the error of a quotient shrinks by 4 per halving centrally, by 2
    // one-sidedly.
    let (wide, narrow) = if side == Side::Both {
        (-1.0 / 3.0, 4.0 / 3.0)
    } else {
        (-1.0, 2.0)
    };
    let extrapolated: Vec<(f64, f64)> = quotients
        .windows(2)
        .map(|q| {
            (
                narrow * q[1].0 + wide * q[0].0,
                narrow * q[1].1 - wide * q[0].1,
            )
        })
        .collect();
    let (spread, (estimate, rounding)) = extrapolated
        .windows(2)
        .map(|r| ((r[0].0 - r[1].0).abs(), r[1]))
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .unwrap_or((f64::INFINITY, extrapolated[0]));
    Ok((estimate, spread.max(rounding)))
}

/// The rounding floor of a difference quotient of the weighted loss at `at` with step `h`:
/// each loss evaluation is a sum whose terms have total magnitude Σ|w ⊙ out| + Σ|v ⊙ logdet|,
/// so it carries an error of a few ulps of that, divided by the step.
#[allow(clippy::too_many_arguments)]
fn loss_rounding_floor(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    at: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
    direction: Direction,
    w: &DMatrix<f64>,
    v: &DMatrix<f64>,
    h: f64,
) -> Result<f64, String> {
    let (out, ld) = match direction {
        Direction::Forward => forward(block, params, at, cond)?,
        Direction::Inverse => inverse(block, params, at, cond)?,
    };
    let magnitude = out.component_mul(w).abs().sum() + ld.component_mul(v).abs().sum();
    Ok(prec::FD_ROUNDING_ULPS * f64::EPSILON * magnitude / h)
}

/// Law 5 for parameters: the gradient of the same loss with respect to the block's
/// parameters, for up to `max_entries` parameter entries picked evenly over the store,
/// against central differences with one Richardson extrapolation (steps `h` and `h/2`, error
/// `O(h⁴)`; `h`, `atol`, `rtol` from [`prec::grad_check_options`]).
///
/// Besides `atol + rtol·|g|`, each comparison allows the difference quotient's rounding floor,
/// [`prec::FD_ROUNDING_ULPS`]`·ε·(Σ|w ⊙ out| + Σ|v ⊙ logdet|)/h`: deep chains map moderate
/// inputs to outputs of 1e3, and a loss of that size cannot be differenced to 1e-6 with a
/// step of 1e-6 (a correct chain's parameter gradient came out 1.5e-6 off without this floor).
///
/// Returns the largest relative error among entries whose gradient exceeds `atol`.
pub fn param_gradient(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
    direction: Direction,
    max_entries: usize,
) -> LawResult {
    let at = differentiation_point(block, params, x, cond, direction)?;
    let (w, v) = loss_weights(at.nrows(), at.ncols());
    let opts = prec::grad_check_options();
    let eval = |store: &Params<f64>| -> Result<f64, String> {
        let tape = Tape::no_grad();
        let p = store.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        let loss = weighted_loss(block, &p, tape.constant(at.clone()), c, direction, &w, &v)
            .map_err(|e| e.to_string())?;
        Ok(loss.item())
    };
    let analytic = {
        let tape = Tape::new();
        let p = params.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        let loss = weighted_loss(block, &p, tape.constant(at.clone()), c, direction, &w, &v)
            .map_err(|e| e.to_string())?;
        let mut grads = tape.backward(loss).map_err(|e| e.to_string())?;
        p.gradients(&mut grads)
    };
    // Rounding floor of the difference quotient: each loss evaluation is a sum whose terms
    // have total magnitude Σ|w ⊙ out| + Σ|v ⊙ logdet|, so it carries an error of a few ulps of
    // that, divided by the step (Richardson's weights 4/3 and 1/3 add up to 5/3 of it). A loss
    // whose terms reach 1e3 is differenced with ≈ 1e-7..1e-6 of rounding at h = 1e-6: the size
    // of the 1.5e-6 miss seen on a correct chain before this floor was added.
    let noise = loss_rounding_floor(block, params, &at, cond, direction, &w, &v, opts.step)?;
    let entries: Vec<(autodiff::ParamId, usize)> = params
        .iter()
        .flat_map(|(id, _, m)| (0..m.len()).map(move |k| (id, k)))
        .collect();
    let stride = entries.len().div_ceil(max_entries.max(1)).max(1);
    let mut probe = params.clone();
    let mut worst = 0.0f64;
    for &(id, k) in entries.iter().step_by(stride) {
        let orig = params.get(id)[k];
        let a = analytic[id.index()][k];
        let numeric = numeric_derivative(a, orig, noise, |point| {
            probe.get_mut(id)[k] = point;
            let value = eval(&probe);
            probe.get_mut(id)[k] = orig;
            value
        })?;
        let Ok(numeric) = numeric else {
            let numeric = numeric.unwrap_err();
            return Err(format!(
                "{direction:?} parameter gradient of {:?}[{k}]: analytic {a:e}, numeric {numeric:e}",
                params.name(id)
            ));
        };
        let (err, scale) = ((a - numeric).abs(), a.abs().max(numeric.abs()));
        if scale > opts.atol {
            worst = worst.max(err / scale);
        }
    }
    Ok(worst)
}

/// The primitive blocks of `block` in forward order: a chain (kind `"chain"`, nested ones
/// included) is opened through its spec, any other block is returned as is.
pub fn flatten(block: &dyn Bijector<f64>) -> Result<Vec<Box<dyn Bijector<f64>>>, String> {
    let spec = block.spec().map_err(|e| format!("spec: {e}"))?;
    if spec.kind == "chain" {
        let chain =
            bijectors::Chain::<f64>::from_spec(&spec).map_err(|e| format!("chain spec: {e}"))?;
        let mut out = Vec::new();
        for part in chain.blocks() {
            out.extend(flatten(part.as_ref())?);
        }
        Ok(out)
    } else {
        let rebuilt =
            bijectors::block_from_spec(&spec).map_err(|e| format!("block_from_spec: {e}"))?;
        Ok(vec![rebuilt])
    }
}

/// Runs `law` on every block of a chain at the point where the chain feeds it (`x` for the
/// first block, the previous block's output after that; conditional blocks get `cond`).
///
/// A composition loses accuracy with its condition number, which grows with depth, so the
/// per-block tolerances of [`prec`] bound each block at its own input; together with
/// [`chain_is_sum_of_parts`] this covers the chain. Returns the largest error; a failure
/// names the block's position and kind.
pub fn along_chain(
    parts: &[Box<dyn Bijector<f64>>],
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
    law: impl Fn(&dyn Bijector<f64>, &Params<f64>, &DMatrix<f64>, Option<&DMatrix<f64>>) -> LawResult,
) -> LawResult {
    let mut h = x.clone();
    let mut worst = 0.0f64;
    for (k, part) in parts.iter().enumerate() {
        let c = if part.cond_dim() > 0 { cond } else { None };
        let kind = part.spec().map(|s| s.kind).unwrap_or_default();
        worst = worst.max(
            law(part.as_ref(), params, &h, c).map_err(|e| format!("block {k} ({kind}): {e}"))?,
        );
        h = forward(part.as_ref(), params, &h, c)?.0;
    }
    Ok(worst)
}

/// `err ≤ limit`, false when either is NaN (so a NaN error fails its law).
fn within(err: f64, limit: f64) -> bool {
    err <= limit
}

/// Law 1 for an i-ResNet block: `‖x_i − f⁻¹(f(x_i))‖∞ ≤ error_bound + k·ε·(1 + ‖x_i‖∞)/(1 − L)`
/// with the a-posteriori Banach bound and the contraction constant `L` from the block's own
/// inversion report, and `k` = [`prec::IRESNET_ROUNDING_ULPS`] for the forward pass's rounding.
///
/// Returns the largest ratio of error to bound (≤ 1 when the law holds).
pub fn iresnet_round_trip(
    block: &bijectors::IResNet,
    params: &Params<f64>,
    x: &DMatrix<f64>,
) -> LawResult {
    let bound = |_: usize, norm: f64| {
        let (err, lip) = block
            .last_inversion()
            .map_or((f64::NAN, f64::NAN), |r| (r.error_bound, r.lipschitz));
        err + prec::IRESNET_ROUNDING_ULPS * f64::EPSILON * (1.0 + norm) / (1.0 - lip)
    };
    round_trip_within(block, params, x, None, bound)
}

/// Law 1 with each block's own error model: the Banach bound for i-ResNet blocks
/// ([`iresnet_round_trip`], the block decoded from its spec), [`round_trip`]'s fixed tolerance
/// for every other block. Returns the error normalised by the tolerance that applied, so
/// values ≤ 1 pass.
pub fn round_trip_reported(
    block: &dyn Bijector<f64>,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    cond: Option<&DMatrix<f64>>,
) -> LawResult {
    let spec = block.spec().map_err(|e| format!("spec: {e}"))?;
    if spec.kind == bijectors::IResNet::KIND {
        let iresnet: bijectors::IResNet = spec.decode().map_err(|e| format!("decode: {e}"))?;
        iresnet_round_trip(&iresnet, params, x)
    } else {
        Ok(round_trip(block, params, x, cond)? / prec::ROUND_TRIP)
    }
}
