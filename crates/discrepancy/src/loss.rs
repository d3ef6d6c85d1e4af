//! The differentiable MMD² loss on `autodiff` variables, for training.

use crate::samples::check_pair;
use crate::{Estimator, Kernel, Result};
use autodiff::{Float, Var};
use nalgebra::DMatrix;

/// A [`Kernel`] that can also be applied to a matrix of squared distances on an `autodiff`
/// tape, with elementwise ops, so that gradients flow through it.
///
/// Laws: `eval_sq_var(D)` has the value `κ` applied entrywise to `D`, i.e. the same as
/// [`Kernel::eval_sq`] (checked in the tests together with the gradients), and
/// [`DifferentiableKernel::eval_sq_with_slope`] returns `κ(r)` and its derivative `κ'(r)`
/// (checked against central differences).
///
/// Implemented for [`crate::Gaussian`], [`crate::InverseMultiquadric`] and
/// [`crate::MultiScale`] sums of them. Not for [`crate::Laplace`]: `exp(−√r/h)` has an infinite
/// derivative in `r` at `r = 0`, which the diagonal of `K_XX` always hits, so its gradient is
/// not defined there.
pub trait DifferentiableKernel<T: Float>: Kernel<T> {
    /// `κ(D)` entrywise for a matrix `D` of squared distances (all `≥ 0`).
    ///
    /// # Errors
    /// Propagates shape errors of the tape's ops (none for matrices of one shape).
    fn eval_sq_var<'t>(&self, d2: Var<'t, T>) -> Result<Var<'t, T>>;

    /// `(κ(r), κ'(r))`: the kernel and its derivative in the squared distance `r ≥ 0`, so that
    /// `∇ₓ k(x, y) = 2 κ'(‖x − y‖²)(x − y)`. Used by [`crate::mmd_loss_fused`].
    fn eval_sq_with_slope(&self, d2: T) -> (T, T);

    /// Adds `κ(d2[i])` to `value[i]` and `κ'(d2[i])` to `slope[i]` for every
    /// `i < min(d2.len(), value.len(), slope.len())`: the batch form of
    /// [`DifferentiableKernel::eval_sq_with_slope`], equal to it up to rounding. A kernel may
    /// override it with a loop the compiler vectorises.
    #[inline(always)]
    fn accumulate_sq_with_slope(&self, d2: &[T], value: &mut [T], slope: &mut [T]) {
        for ((v, s), &r) in value.iter_mut().zip(slope.iter_mut()).zip(d2) {
            let (k, dk) = self.eval_sq_with_slope(r);
            *v += k;
            *s += dk;
        }
    }
}

/// The MMD² loss between the batches `x` (`n × d`) and `y` (`m × d`), one sample per row, as a
/// `1 × 1` variable that gradients flow through (to either or both inputs).
///
/// Built from the tape's ops: [`Var::pairwise_sq_dist`] for the three distance matrices, the
/// kernel as elementwise ops ([`DifferentiableKernel`]), then means:
/// - [`Estimator::Biased`]: `mean(K_XX) + mean(K_YY) − 2·mean(K_XY)` (the INN training loss);
/// - [`Estimator::Unbiased`]: the diagonals of `K_XX`, `K_YY` masked out,
///   `Σ_{i≠j}K_XX/(n(n−1)) + Σ_{i≠j}K_YY/(m(m−1)) − 2·mean(K_XY)` (may be negative).
///
/// Its value equals [`crate::mmd2_biased`] / [`crate::mmd2_unbiased`] up to rounding. Unlike
/// those it forms the `n × n`, `m × m` and `n × m` kernel matrices on the tape (the backward
/// pass needs them), so it is meant for training batches (`n` up to a few thousand).
///
/// # Errors
/// [`crate::Error::DimensionMismatch`], [`crate::Error::ZeroDimension`],
/// [`crate::Error::TooFewSamples`] (per [`Estimator::min_samples`]), [`crate::Error::NonFinite`]
/// for a bad input row, and [`crate::Error::Autodiff`] when `x` and `y` live on different tapes.
///
/// ```
/// use autodiff::Tape;
/// use discrepancy::{Estimator, InverseMultiquadric, MultiScale, mmd_loss};
/// use nalgebra::DMatrix;
///
/// let tape = Tape::<f64>::new();
/// let x = tape.var(DMatrix::from_fn(16, 2, |i, j| (i + 2 * j) as f64 * 0.1));
/// let y = tape.constant(DMatrix::from_fn(16, 2, |i, j| (i * j) as f64 * 0.05));
/// let kernel = MultiScale::<InverseMultiquadric<f64>>::inn_default();
/// let loss = mmd_loss(x, y, &kernel, Estimator::Biased)?;
/// let grads = tape.backward(loss)?;
/// assert_eq!(grads.wrt(x).shape(), (16, 2));
/// # Ok::<(), discrepancy::Error>(())
/// ```
pub fn mmd_loss<'t, T, K>(
    x: Var<'t, T>,
    y: Var<'t, T>,
    kernel: &K,
    estimator: Estimator,
) -> Result<Var<'t, T>>
where
    T: Float,
    K: DifferentiableKernel<T> + ?Sized,
{
    check_pair(&x.value(), &y.value(), estimator.min_samples())?;
    let (n, m) = (x.nrows(), y.nrows());
    let k_xx = kernel.eval_sq_var(x.pairwise_sq_dist(x)?)?;
    let k_yy = kernel.eval_sq_var(y.pairwise_sq_dist(y)?)?;
    let k_xy = kernel.eval_sq_var(x.pairwise_sq_dist(y)?)?;
    let two = autodiff::lit::<T>(2.0);
    let cross = k_xy.mean().scale(two);
    let within = match estimator {
        Estimator::Biased => k_xx.mean().add(k_yy.mean())?,
        Estimator::Unbiased => {
            let off_diagonal_mean = |k: Var<'t, T>, rows: usize| -> Result<Var<'t, T>> {
                let mask =
                    DMatrix::from_fn(rows, rows, |i, j| if i == j { T::zero() } else { T::one() });
                let pairs = (rows * (rows - 1)) as f64;
                Ok(k.mul(k.tape().constant(mask))?
                    .sum()
                    .scale(autodiff::lit::<T>(1.0 / pairs)))
            };
            off_diagonal_mean(k_xx, n)?.add(off_diagonal_mean(k_yy, m)?)?
        }
    };
    Ok(within.sub(cross)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::{Gaussian, InverseMultiquadric, MultiScale, mmd2_biased, mmd2_unbiased};
    use autodiff::{GradCheckOptions, Tape, grad_check};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    fn sample(rows: usize, cols: usize, sd: f64, rng: &mut StdRng) -> DMatrix<f64> {
        let normal = Normal::new(0.0, sd).unwrap();
        DMatrix::from_fn(rows, cols, |_, _| normal.sample(rng))
    }

    /// The two differentiable losses, [`mmd_loss`] and [`crate::mmd_loss_fused`], by name.
    fn losses<K: DifferentiableKernel<f64>>() -> [(&'static str, LossFn<K>); 2] {
        [
            ("mmd_loss", mmd_loss::<f64, K>),
            ("mmd_loss_fused", crate::mmd_loss_fused::<f64, K>),
        ]
    }

    type LossFn<K> = for<'t> fn(Var<'t, f64>, Var<'t, f64>, &K, Estimator) -> Result<Var<'t, f64>>;

    fn leaf<'t>(tape: &'t Tape<f64>, m: &DMatrix<f64>, grad: bool) -> Var<'t, f64> {
        if grad {
            tape.var(m.clone())
        } else {
            tape.constant(m.clone())
        }
    }

    /// For both losses: value against the blocked estimator, and gradients with respect to both
    /// inputs against central differences. Then the fused loss against the tape-built one in
    /// value and gradient, for every combination of inputs that need gradients.
    fn check_loss<K: DifferentiableKernel<f64>>(kernel: &K, scale: f64) {
        let mut rng = StdRng::seed_from_u64(21);
        let x = sample(6, 3, scale, &mut rng);
        let y = sample(5, 3, 1.5 * scale, &mut rng);
        for estimator in [Estimator::Biased, Estimator::Unbiased] {
            for (name, loss_fn) in losses::<K>() {
                let tape = Tape::new();
                let loss = loss_fn(tape.var(x.clone()), tape.var(y.clone()), kernel, estimator);
                let expected = match estimator {
                    Estimator::Biased => mmd2_biased(&x, &y, kernel).unwrap(),
                    Estimator::Unbiased => mmd2_unbiased(&x, &y, kernel).unwrap(),
                };
                let value = loss.unwrap().item();
                assert!(
                    (value - expected).abs() < 1e-12,
                    "{name}: {value} vs {expected}"
                );
                let report = grad_check(
                    |_tape, v| {
                        loss_fn(v[0], v[1], kernel, estimator).map_err(|e| {
                            autodiff::Error::InvalidArgument {
                                op: name,
                                reason: e.to_string(),
                            }
                        })
                    },
                    &[x.clone(), y.clone()],
                    GradCheckOptions::default(),
                )
                .unwrap();
                assert_eq!(report.entries, 33);
            }
            for (grad_x, grad_y) in [(true, true), (true, false), (false, true), (false, false)] {
                let fused = Tape::new();
                let (fx, fy) = (leaf(&fused, &x, grad_x), leaf(&fused, &y, grad_y));
                let lf = crate::mmd_loss_fused(fx, fy, kernel, estimator).unwrap();
                let dense = Tape::new();
                let (dx, dy) = (leaf(&dense, &x, grad_x), leaf(&dense, &y, grad_y));
                let ld = mmd_loss(dx, dy, kernel, estimator).unwrap();
                assert!((lf.item() - ld.item()).abs() < 1e-13, "{lf:?} vs {ld:?}");
                if !(grad_x || grad_y) {
                    continue;
                }
                let (gf, gd) = (fused.backward(lf).unwrap(), dense.backward(ld).unwrap());
                assert_eq!(gf.get(fx).is_some(), grad_x);
                assert_eq!(gf.get(fy).is_some(), grad_y);
                assert!((gf.wrt(fx) - gd.wrt(dx)).amax() < 1e-12);
                assert!((gf.wrt(fy) - gd.wrt(dy)).amax() < 1e-12);
                let g = if grad_x { gf.wrt(fx) } else { gf.wrt(fy) };
                assert!(g.amax() > 1e-6, "a gradient that can be wrong");
            }
        }
    }

    #[test]
    fn loss_matches_estimators_and_finite_differences() {
        check_loss(&Gaussian::new(0.9).unwrap(), 1.0);
        check_loss(&InverseMultiquadric::new(0.7).unwrap(), 1.0);
        // The INN widths suit data at scale ~0.3.
        check_loss(&MultiScale::<InverseMultiquadric<f64>>::inn_default(), 0.3);
        check_loss(
            &MultiScale::<Gaussian<f64>>::from_widths(&[0.3, 1.0, 3.0]).unwrap(),
            1.0,
        );
    }

    /// `eval_sq_with_slope` against `eval_sq` and central differences, and the batch form
    /// against the scalar one.
    fn check_slope<K: DifferentiableKernel<f64>>(kernel: &K) {
        let d2 = [0.0, 1e-3, 0.02, 0.3, 1.0, 2.5, 9.0, 40.0];
        let (mut value, mut slope) = (vec![1.0; d2.len()], vec![-1.0; d2.len()]);
        kernel.accumulate_sq_with_slope(&d2, &mut value, &mut slope);
        for (i, &r) in d2.iter().enumerate() {
            let (k, dk) = kernel.eval_sq_with_slope(r);
            assert!((k - kernel.eval_sq(r)).abs() < 1e-15);
            let step = 1e-6 * r.max(1e-3);
            let numeric = (kernel.eval_sq(r + step) - kernel.eval_sq((r - step).max(0.0)))
                / (r + step - (r - step).max(0.0));
            assert!(
                (dk - numeric).abs() < 1e-6 * dk.abs().max(1e-3) + 1e-6,
                "r {r}: {dk} vs {numeric}"
            );
            assert!(dk < 0.0);
            assert!((value[i] - 1.0 - k).abs() < 1e-14);
            assert!((slope[i] + 1.0 - dk).abs() < 1e-12 * dk.abs().max(1.0));
        }
    }

    #[test]
    fn slopes_are_the_derivatives_of_the_kernels() {
        check_slope(&Gaussian::new(0.9).unwrap());
        check_slope(&InverseMultiquadric::new(0.7).unwrap());
        check_slope(&MultiScale::<InverseMultiquadric<f64>>::inn_default());
        check_slope(&MultiScale::<Gaussian<f64>>::from_widths(&[0.3, 1.0, 3.0]).unwrap());
    }

    #[test]
    fn f32_loss_tracks_the_estimator() {
        let mut rng = StdRng::seed_from_u64(22);
        let x = sample(40, 2, 0.5, &mut rng).map(|v| v as f32);
        let y = sample(30, 2, 0.7, &mut rng).map(|v| v as f32);
        let kernel = MultiScale::<InverseMultiquadric<f32>>::inn_default();
        let tape = Tape::new();
        let xv = tape.var(x.clone());
        let loss = mmd_loss(xv, tape.constant(y.clone()), &kernel, Estimator::Unbiased).unwrap();
        let expected = mmd2_unbiased(&x, &y, &kernel).unwrap();
        assert!((f64::from(loss.item()) - expected).abs() < 1e-5);
        let grad = tape.backward(loss).unwrap().wrt(xv);
        assert!(grad.iter().all(|v| v.is_finite()) && grad.amax() > 0.0);
    }

    #[test]
    fn losses_reject_bad_inputs() {
        let tape = Tape::<f64>::new();
        let k = Gaussian::new(1.0).unwrap();
        let x = tape.var(DMatrix::zeros(4, 2));
        for (name, loss) in losses::<Gaussian<f64>>() {
            assert_eq!(
                loss(x, tape.var(DMatrix::zeros(4, 3)), &k, Estimator::Biased).err(),
                Some(Error::DimensionMismatch {
                    x_cols: 2,
                    y_cols: 3
                }),
                "{name}"
            );
            assert!(matches!(
                loss(x, tape.var(DMatrix::zeros(1, 2)), &k, Estimator::Unbiased),
                Err(Error::TooFewSamples {
                    rows: 1,
                    needed: 2,
                    ..
                })
            ));
            assert!(matches!(
                loss(x, tape.var(DMatrix::zeros(0, 2)), &k, Estimator::Biased),
                Err(Error::TooFewSamples { rows: 0, .. })
            ));
            let empty = tape.var(DMatrix::zeros(3, 0));
            assert_eq!(
                loss(empty, empty, &k, Estimator::Biased).err(),
                Some(Error::ZeroDimension)
            );
            let mut bad = DMatrix::zeros(3, 2);
            bad[(2, 1)] = f64::NAN;
            assert!(matches!(
                loss(x, tape.var(bad), &k, Estimator::Biased),
                Err(Error::NonFinite { row: 2, .. })
            ));
            let other = Tape::<f64>::new();
            assert!(matches!(
                loss(x, other.var(DMatrix::zeros(4, 2)), &k, Estimator::Biased),
                Err(Error::Autodiff(_))
            ));
        }
    }
}
