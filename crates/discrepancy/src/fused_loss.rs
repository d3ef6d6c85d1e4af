//! The differentiable MMD² loss computed in fused loops, for training at large batch sizes.

use crate::samples::check_pair;
use crate::scalar::{dot_diff, sum_f64};
use crate::{DifferentiableKernel, Error, Estimator, Result};
use autodiff::{Float, Var};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// The MMD² loss between the batches `x` (`n × d`) and `y` (`m × d`), one sample per row, as a
/// `1 × 1` variable that gradients flow through (to either or both inputs): the same value and
/// gradients as [`crate::mmd_loss`], computed without kernel matrices.
///
/// The value and the exact gradients `G_x = ∂MMD²/∂x`, `G_y = ∂MMD²/∂y` are computed in fused
/// loops over plain matrices (squared distances, kernel and derivative
/// [`DifferentiableKernel::accumulate_sq_with_slope`], sums and gradient rows in one pass per
/// row, rayon over rows, kernel sums accumulated in `f64`, `O(n + m)` memory per thread). With
/// `∇ₓ k(x, y) = 2κ'(‖x − y‖²)(x − y)`:
///
/// `∂/∂xᵢ = 2c_XX Σⱼ κ'(‖xᵢ − xⱼ‖²)(xᵢ − xⱼ) − (4/(nm)) Σⱼ κ'(‖xᵢ − yⱼ‖²)(xᵢ − yⱼ)`,
///
/// `c_XX = 2/n²` ([`Estimator::Biased`]) or `2/(n(n−1))` ([`Estimator::Unbiased`]; the diagonal
/// terms have zero gradient), and symmetrically for `y`. They go on the tape as
/// `MMD² + Σ (⟨x, G_x⟩ − stop(⟨x, G_x⟩))`: its value is the estimate (rounded once to `T`) and
/// its first derivatives, all that reverse mode uses, are exact. Second derivatives through it
/// are not available (the tape has none anyway). Gradients are computed only for inputs that
/// [`Var::needs_grad`].
///
/// Against [`crate::mmd_loss`], which records the `n × n`, `m × m` and `n × m` distance and
/// kernel matrices and about ten elementwise passes over them, this does no allocation of size
/// `n·m` and no tape work of that size: for the INN training loss at batch 1600 it is several
/// times faster. Use [`crate::mmd_loss`] when second-order structure or the kernel matrices
/// on the tape are wanted.
///
/// # Errors
/// [`Error::DimensionMismatch`], [`Error::ZeroDimension`], [`Error::TooFewSamples`] (per
/// [`Estimator::min_samples`]), [`Error::NonFinite`] for a bad input row, and
/// [`Error::Autodiff`] when `x` and `y` live on different tapes.
///
/// ```
/// use autodiff::Tape;
/// use discrepancy::{Estimator, InverseMultiquadric, MultiScale, mmd2_biased, mmd_loss_fused};
/// use nalgebra::DMatrix;
///
/// let tape = Tape::<f64>::new();
/// let (xm, ym) = (
///     DMatrix::from_fn(16, 2, |i, j| (i + 2 * j) as f64 * 0.1),
///     DMatrix::from_fn(16, 2, |i, j| (i * j) as f64 * 0.05),
/// );
/// let x = tape.var(xm.clone());
/// let kernel = MultiScale::<InverseMultiquadric<f64>>::inn_default();
/// let loss = mmd_loss_fused(x, tape.constant(ym.clone()), &kernel, Estimator::Biased)?;
/// assert!((loss.item() - mmd2_biased(&xm, &ym, &kernel)?).abs() < 1e-12);
/// let grads = tape.backward(loss)?;
/// assert_eq!(grads.wrt(x).shape(), (16, 2));
/// # Ok::<(), discrepancy::Error>(())
/// ```
pub fn mmd_loss_fused<'t, T, K>(
    x: Var<'t, T>,
    y: Var<'t, T>,
    kernel: &K,
    estimator: Estimator,
) -> Result<Var<'t, T>>
where
    T: Float,
    K: DifferentiableKernel<T> + ?Sized,
{
    let (xv, yv) = (x.value(), y.value());
    check_pair(&xv, &yv, estimator.min_samples())?;
    let tape = x.tape();
    if !std::ptr::eq(tape, y.tape()) {
        return Err(Error::Autodiff(autodiff::Error::InvalidArgument {
            op: "mmd_loss_fused",
            reason: "x and y live on different tapes".into(),
        }));
    }
    let parts = fused_parts(&xv, &yv, kernel, estimator, x.needs_grad(), y.needs_grad());
    let mut loss = tape.scalar(T::of_f64(parts.value));
    for (v, grad) in [(x, parts.grad_x), (y, parts.grad_y)] {
        if let Some(g) = grad {
            let linear = v.mul(tape.constant(g))?.sum();
            loss = loss.add(linear.sub(linear.detach())?)?;
        }
    }
    Ok(loss)
}

/// The estimate and, where requested, its gradients.
struct FusedParts<T> {
    value: f64,
    grad_x: Option<DMatrix<T>>,
    grad_y: Option<DMatrix<T>>,
}

/// The fused computation behind [`mmd_loss_fused`], on checked inputs.
fn fused_parts<T, K>(
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    kernel: &K,
    estimator: Estimator,
    grad_x: bool,
    grad_y: bool,
) -> FusedParts<T>
where
    T: Float,
    K: DifferentiableKernel<T> + ?Sized,
{
    let (nf, mf) = (x.nrows() as f64, y.nrows() as f64);
    // Pairs in each within-sample mean.
    let (pairs_x, pairs_y) = match estimator {
        Estimator::Biased => (nf * nf, mf * mf),
        Estimator::Unbiased => (nf * (nf - 1.0), mf * (mf - 1.0)),
    };
    let cross = -4.0 / (nf * mf);
    // The cross sum is needed once: from the x side when it has a gradient or y has none.
    let x_cross = (grad_x || !grad_y).then_some((y, cross));
    let x_side = kernel_side(x, x_cross, kernel, 4.0 / pairs_x, grad_x);
    let y_side = kernel_side(
        y,
        grad_y.then_some((x, cross)),
        kernel,
        4.0 / pairs_y,
        grad_y,
    );
    let s_xy = if x_cross.is_some() {
        x_side.cross
    } else {
        y_side.cross
    };
    let diagonal = kernel.diagonal().to_f64();
    let (s_xx, s_yy) = match estimator {
        Estimator::Biased => (x_side.within + nf * diagonal, y_side.within + mf * diagonal),
        Estimator::Unbiased => (x_side.within, y_side.within),
    };
    FusedParts {
        value: s_xx / pairs_x + s_yy / pairs_y - 2.0 * s_xy / (nf * mf),
        grad_x: x_side.grad,
        grad_y: y_side.grad,
    }
}

/// One sample's share of the sums and its gradient.
struct Side<T> {
    /// `Σ_{i≠j} k(pᵢ, pⱼ)`.
    within: f64,
    /// `Σ_{i,j} k(pᵢ, qⱼ)` (0 without `q`).
    cross: f64,
    /// Rows `c_pp Σⱼ κ'(‖pᵢ − pⱼ‖²)(pᵢ − pⱼ) + c_pq Σⱼ κ'(‖pᵢ − qⱼ‖²)(pᵢ − qⱼ)`.
    grad: Option<DMatrix<T>>,
}

/// For every row `pᵢ` of `p`: the kernel sums against `p` (diagonal excluded) and against `q`,
/// and with `grad` the gradient row with the coefficients `c_pp` and the one given with `q`.
/// The inner loops run over contiguous columns so that they vectorise.
fn kernel_side<T, K>(
    p: &DMatrix<T>,
    q: Option<(&DMatrix<T>, f64)>,
    kernel: &K,
    c_pp: f64,
    grad: bool,
) -> Side<T>
where
    T: Float,
    K: DifferentiableKernel<T> + ?Sized,
{
    let (n, d) = p.shape();
    let mut others = vec![(p, c_pp)];
    others.extend(q);
    let rows: Vec<([f64; 2], Vec<T>)> = (0..n)
        .into_par_iter()
        .map_init(
            || (Vec::<T>::new(), Vec::<T>::new(), Vec::<T>::new()),
            |buffers, i| {
                autodiff::simd::dispatch(
                    #[inline(always)]
                    || kernel_row(p, i, &others, kernel, grad, buffers),
                )
            },
        )
        .collect();
    Side {
        within: rows.iter().map(|r| r.0[0]).sum(),
        cross: rows.iter().map(|r| r.0[1]).sum(),
        grad: grad.then(|| DMatrix::from_fn(n, d, |i, k| rows[i].1[k])),
    }
}

/// Row `i` of [`kernel_side`]: its kernel sums against every other sample and, with `grad`,
/// its gradient row. Inlined into [`autodiff::simd::dispatch`] so that its loops are compiled
/// for the widest vector instructions available.
#[inline(always)]
fn kernel_row<T, K>(
    p: &DMatrix<T>,
    i: usize,
    others: &[(&DMatrix<T>, f64)],
    kernel: &K,
    grad: bool,
    (d2, value, slope): &mut (Vec<T>, Vec<T>, Vec<T>),
) -> ([f64; 2], Vec<T>)
where
    T: Float,
    K: DifferentiableKernel<T> + ?Sized,
{
    let d = p.ncols();
    let pi: Vec<T> = (0..d).map(|k| p[(i, k)]).collect();
    let mut g = vec![T::zero(); if grad { d } else { 0 }];
    let mut sums = [0.0f64; 2];
    for (slot, &(other, coef)) in others.iter().enumerate() {
        let len = other.nrows();
        // Column-major storage: column k is the contiguous slice k·len .. (k+1)·len.
        let data = other.as_slice();
        d2.clear();
        d2.resize(len, T::zero());
        for (k, &c) in pi.iter().enumerate() {
            let col = &data[k * len..(k + 1) * len];
            for (r, &o) in d2.iter_mut().zip(col) {
                let t = c - o;
                *r += t * t;
            }
        }
        value.clear();
        value.resize(len, T::zero());
        slope.clear();
        slope.resize(len, T::zero());
        kernel.accumulate_sq_with_slope(d2, value, slope);
        if slot == 0 {
            // The diagonal k(pᵢ, pᵢ) = κ(0) is added back by the caller when wanted; its
            // gradient term is zero (pᵢ − pᵢ = 0).
            value[i] = T::zero();
        }
        sums[slot] = sum_f64(value);
        if grad {
            // Σⱼ κ'ⱼ (pᵢ − oⱼ) directly, not pᵢ Σ κ'ⱼ − Σ κ'ⱼ oⱼ: the self term κ'(0) is large
            // for narrow kernels and would cancel badly in f32.
            let coef = T::of_f64(coef);
            for (k, gk) in g.iter_mut().enumerate() {
                let c = pi[k];
                let col = &data[k * len..(k + 1) * len];
                *gk += coef * dot_diff(slope, col, c);
            }
        }
    }
    (sums, g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InverseMultiquadric, MultiScale};
    use autodiff::Tape;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    fn sample(rows: usize, cols: usize, sd: f64, rng: &mut StdRng) -> DMatrix<f64> {
        let normal = Normal::new(0.0, sd).unwrap();
        DMatrix::from_fn(rows, cols, |_, _| normal.sample(rng))
    }

    /// A hand-computed case: x = {0, 1}, y = {3} in one dimension with the inverse multiquadric
    /// of width 1, κ(r) = 1/(1 + r), κ'(r) = −1/(1 + r)².
    #[test]
    fn hand_computed_value_and_gradient() {
        let kernel = InverseMultiquadric::new(1.0).unwrap();
        let tape = Tape::<f64>::new();
        let x = tape.var(DMatrix::from_column_slice(2, 1, &[0.0, 1.0]));
        let y = tape.constant(DMatrix::from_column_slice(1, 1, &[3.0]));
        let loss = mmd_loss_fused(x, y, &kernel, Estimator::Biased).unwrap();
        // (2 + 2·½)/4 + 1 − 2·(1/10 + 1/5)/2.
        let expected = 0.75 + 1.0 - 0.3;
        assert!((loss.item() - expected).abs() < 1e-15);
        let g = tape.backward(loss).unwrap().wrt(x);
        // ∂/∂x₀ = (4/4)·κ'(1)·(0 − 1) − (4/2)·κ'(9)·(0 − 3) = ¼ − 6/100,
        // ∂/∂x₁ = (4/4)·κ'(1)·(1 − 0) − (4/2)·κ'(4)·(1 − 3) = −¼ − 4/25.
        assert!((g[0] - (0.25 - 0.06)).abs() < 1e-15, "{}", g[0]);
        assert!((g[1] - (-0.25 - 0.16)).abs() < 1e-15, "{}", g[1]);
    }

    #[test]
    fn f32_fused_loss_tracks_the_f64_estimator() {
        let mut rng = StdRng::seed_from_u64(32);
        let x64 = sample(300, 2, 0.5, &mut rng);
        let y64 = sample(200, 2, 0.7, &mut rng);
        let kernel32 = MultiScale::<InverseMultiquadric<f32>>::inn_default();
        let kernel64 = MultiScale::<InverseMultiquadric<f64>>::inn_default();
        for estimator in [Estimator::Biased, Estimator::Unbiased] {
            let tape = Tape::<f32>::new();
            let xv = tape.var(x64.map(|v| v as f32));
            let yv = tape.constant(y64.map(|v| v as f32));
            let loss = mmd_loss_fused(xv, yv, &kernel32, estimator).unwrap();
            let x = x64.map(|v| f64::from(v as f32));
            let y = y64.map(|v| f64::from(v as f32));
            let expected = estimator.estimate(&x, &y, &kernel64).unwrap();
            let value_err = (f64::from(loss.item()) - expected).abs();
            assert!(value_err < 1e-7, "{value_err:e}");
            let grad = tape.backward(loss).unwrap().wrt(xv);
            let reference = Tape::<f64>::new();
            let xr = reference.var(x.clone());
            let lr = mmd_loss_fused(xr, reference.constant(y), &kernel64, estimator).unwrap();
            let g64 = reference.backward(lr).unwrap().wrt(xr);
            let err = (grad.map(f64::from) - &g64).amax();
            assert!(err < 1e-5 * g64.amax(), "{err} vs {}", g64.amax());
        }
    }
}
