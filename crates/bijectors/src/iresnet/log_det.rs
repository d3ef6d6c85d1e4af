//! ln det(I + J_g) per sample: exactly by LU elimination written in tape operations, or by the
//! truncated power series with Hutchinson's trace estimator (Behrmann et al. 2019, eq. 6).

use super::branch::Branch;
use crate::Result;
use autodiff::nalgebra::DMatrix;
use autodiff::{Float, Var, lit};
use rand::Rng;

/// Exact ln|det(I + M)| per sample (`n × 1`), M = ∂g/∂x from d Jacobian-vector products.
///
/// The d × d matrix A = I + M of every sample is held as d² columns (`n × 1` each) and reduced
/// by Gaussian elimination without pivoting; ln|det A| = Σₖ ln|pivotₖ|. Every step is a tape
/// operation, so the result is differentiable with respect to the input and the weights.
/// No pivoting is needed for a contractive branch: ‖M‖₂ < 1 makes the symmetric part of A
/// positive definite, a property every Schur complement inherits, so every pivot is positive
/// (and so is det A). Cost: O(n·d³) elementwise operations plus d JVPs.
pub(crate) fn exact<'t, T: Float>(
    branch: &Branch<'t, T>,
    slopes: &[Var<'t, T>],
    n: usize,
    d: usize,
) -> Result<Var<'t, T>> {
    let rows = branch.jacobian_rows(slopes, n, d)?;
    let mut a: Vec<Vec<Var<'t, T>>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (0..d)
                .map(|j| {
                    let e = r.slice_cols(j, 1)?;
                    Ok(if i == j { e.add_scalar(T::one()) } else { e })
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut log_det: Option<Var<'t, T>> = None;
    for k in 0..d {
        let pivot = a[k][k];
        let term = pivot.abs().ln();
        log_det = Some(match log_det {
            Some(acc) => acc.add(term)?,
            None => term,
        });
        let (top, bottom) = a.split_at_mut(k + 1);
        let row_k = &top[k];
        for row_i in bottom.iter_mut() {
            let l = row_i[k].div(pivot)?;
            for (aij, &akj) in row_i.iter_mut().zip(row_k).skip(k + 1) {
                *aij = aij.sub(l.mul(akj)?)?;
            }
        }
    }
    // d ≥ 1 is checked at construction, so the loop ran at least once.
    log_det.ok_or_else(|| crate::Error::Config("i-ResNet: dimension 0".into()))
}

/// Σₖ₌₁ⁿ (−1)ᵏ⁺¹ tr(Mᵏ)/k per sample (`n × 1`) with tr(Mᵏ) ≈ mean over probes v of v·(v Mᵏ)
/// (Hutchinson). The probes are `n × d` batches (one probe vector per sample). Differentiable
/// with respect to input and weights through the slopes σ'(z).
pub(crate) fn series<'t, T: Float>(
    branch: &Branch<'t, T>,
    slopes: &[Var<'t, T>],
    terms: usize,
    probes: &[DMatrix<T>],
) -> Result<Var<'t, T>> {
    let tape = branch.layers[0].0.tape();
    let mut total: Option<Var<'t, T>> = None;
    for probe in probes {
        let v = tape.constant(probe.clone());
        let mut w = v;
        for k in 1..=terms {
            w = branch.jvp(slopes, w)?;
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            let term = w
                .mul(v)?
                .sum_cols()
                .scale(lit(sign / (k as f64 * probes.len() as f64)));
            total = Some(match total {
                Some(acc) => acc.add(term)?,
                None => term,
            });
        }
    }
    total.ok_or_else(|| {
        crate::Error::Config("i-ResNet: the log-det series needs terms ≥ 1 and probes ≥ 1".into())
    })
}

/// `m` Rademacher probe batches (`n × d`, entries ±1 with probability ½ each).
pub(crate) fn rademacher<T: Float, R: Rng + ?Sized>(
    rng: &mut R,
    n: usize,
    d: usize,
    m: usize,
) -> Vec<DMatrix<T>> {
    (0..m)
        .map(|_| {
            DMatrix::from_fn(n, d, |_, _| {
                if rng.random::<bool>() {
                    T::one()
                } else {
                    -T::one()
                }
            })
        })
        .collect()
}

/// The bound −d(ln(1 − c) + Σₖ₌₁ⁿ cᵏ/k) on the truncation error of the n-term series for a
/// branch with Lip(g) ≤ c < 1 (Behrmann et al. 2019, Theorem 3); +∞ for c ≥ 1.
pub fn series_truncation_bound(d: usize, c: f64, terms: usize) -> f64 {
    if !(0.0..1.0).contains(&c) {
        return f64::INFINITY;
    }
    let partial: f64 = (1..=terms).map(|k| c.powi(k as i32) / k as f64).sum();
    // −ln(1 − c) − Σ cᵏ/k = Σ_{k>n} cᵏ/k ≥ 0; clamp the rounding of the difference at 0.
    (-(d as f64) * ((1.0 - c).ln() + partial)).max(0.0)
}
