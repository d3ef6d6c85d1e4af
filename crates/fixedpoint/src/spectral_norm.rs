//! Spectral norm (largest singular value) of a matrix: by power iteration with warm start, or
//! exactly (to rounding) through nalgebra's SVD.

use crate::check;
use crate::error::{Error, Result};
use crate::scalar::eps_tolerance;
use nalgebra::{DMatrix, DVector, RealField, SVD};

/// Options of [`spectral_norm`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralNormOptions<T> {
    /// Maximum number of power iterations; default 500.
    pub max_iter: usize,
    /// Stop when |σₖ − σₖ₋₁| ≤ `tol`·σₖ; default max(1e-12, 100·ε) (1e-12 for f64, ≈1.2e-5 for
    /// f32).
    pub tol: T,
    /// Warm start for the left singular vector u (length = rows of W), e.g. the `u` of a
    /// previous call; default: the column of W with the largest norm.
    pub u0: Option<DVector<T>>,
}

impl<T: RealField + Copy> Default for SpectralNormOptions<T> {
    fn default() -> Self {
        Self {
            max_iter: 500,
            tol: eps_tolerance(1e-12, 100.0),
            u0: None,
        }
    }
}

/// The result of [`spectral_norm`]: σ̂ = uᵀWv with unit vectors u (left) and v (right).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralNorm<T> {
    /// The estimate σ̂ ≤ σ_max(W) (power iteration approaches σ_max from below).
    pub sigma: T,
    /// Left singular vector estimate (length = rows of W); pass it back as `u0` to warm-start.
    pub u: DVector<T>,
    /// Right singular vector estimate (length = columns of W).
    pub v: DVector<T>,
    /// Power iterations performed.
    pub iterations: usize,
    /// Whether the relative change of σ̂ fell below the tolerance.
    pub converged: bool,
}

/// Largest singular value of `w` by power iteration: v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖,
/// σ̂ = ‖Wv‖ = uᵀWv (Miyato et al. 2018 run one such step per training step).
///
/// σ̂ never exceeds σ_max; an unconverged estimate under-estimates it, so use the converged
/// value (or [`spectral_norm_exact`]) when a guaranteed Lipschitz bound is needed.
///
/// Errors: an empty or non-finite `w`, a `u0` of the wrong length, zero or non-finite.
///
/// ```
/// use fixedpoint::{spectral_norm, SpectralNormOptions};
/// use nalgebra::DMatrix;
/// let w = DMatrix::from_row_slice(2, 2, &[3.0, 0.0, 4.0, 5.0]);
/// let s = spectral_norm(&w, &SpectralNormOptions::default())?;
/// assert!(s.converged && (s.sigma - 45f64.sqrt()).abs() < 1e-10);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn spectral_norm<T: RealField + Copy>(
    w: &DMatrix<T>,
    opts: &SpectralNormOptions<T>,
) -> Result<SpectralNorm<T>> {
    check::non_empty("W", w)?;
    check::finite_matrix("W", w)?;
    check::positive("tol", opts.tol)?;
    let mut u = match &opts.u0 {
        Some(u0) => {
            if u0.len() != w.nrows() {
                return Err(Error::InvalidInput(format!(
                    "u0 has length {} but W is {} × {}",
                    u0.len(),
                    w.nrows(),
                    w.ncols()
                )));
            }
            let norm = u0.norm();
            if !(norm.is_finite() && norm > T::zero()) {
                return Err(Error::InvalidInput("u0 must be finite and non-zero".into()));
            }
            u0 / norm
        }
        None => {
            let j = w
                .column_iter()
                .enumerate()
                .fold((0, T::zero()), |best, (j, c)| {
                    let n = c.norm_squared();
                    if n > best.1 { (j, n) } else { best }
                });
            if j.1 == T::zero() {
                // W = 0: σ = 0 with any unit vectors.
                let mut u = DVector::zeros(w.nrows());
                u[0] = T::one();
                let mut v = DVector::zeros(w.ncols());
                v[0] = T::one();
                return Ok(SpectralNorm {
                    sigma: T::zero(),
                    u,
                    v,
                    iterations: 0,
                    converged: true,
                });
            }
            w.column(j.0).normalize()
        }
    };
    let mut sigma = T::zero();
    let mut iteration = 0;
    loop {
        iteration += 1;
        let wtu = w.tr_mul(&u);
        let norm = wtu.norm();
        if norm == T::zero() {
            // u is orthogonal to the range of W (a bad warm start): restart from W's columns.
            return spectral_norm(
                w,
                &SpectralNormOptions {
                    u0: None,
                    ..opts.clone()
                },
            );
        }
        let v = wtu / norm;
        let wv = w * &v;
        let new_sigma = wv.norm();
        u = wv / new_sigma;
        let converged = (new_sigma - sigma).abs() <= opts.tol * new_sigma;
        sigma = new_sigma;
        if converged || iteration >= opts.max_iter {
            return Ok(SpectralNorm {
                sigma,
                u,
                v,
                iterations: iteration,
                converged,
            });
        }
    }
}

/// Largest singular value of `w` from nalgebra's SVD: exact up to rounding, so a safe factor in
/// a Lipschitz upper bound. Errors for an empty or non-finite `w` (or if the SVD does not
/// converge).
pub fn spectral_norm_exact<T: RealField + Copy>(w: &DMatrix<T>) -> Result<T> {
    check::non_empty("W", w)?;
    check::finite_matrix("W", w)?;
    let max_niter = 1000 * (w.nrows() + w.ncols());
    let svd = SVD::try_new(w.clone(), false, false, T::default_epsilon(), max_niter)
        .ok_or_else(|| Error::InvalidInput("the SVD did not converge".into()))?;
    Ok(svd.singular_values.iter().fold(T::zero(), |a, &b| a.max(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn random_matrix(rows: usize, cols: usize, rng: &mut StdRng) -> DMatrix<f64> {
        DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
    }

    #[test]
    fn matches_the_svd_largest_singular_value() {
        let mut rng = StdRng::seed_from_u64(7);
        for &(r, c) in &[(1, 1), (2, 5), (20, 30), (64, 16), (50, 50)] {
            let w = random_matrix(r, c, &mut rng);
            let exact = w.singular_values().max();
            let s = spectral_norm(
                &w,
                &SpectralNormOptions {
                    max_iter: 5000,
                    ..Default::default()
                },
            )
            .unwrap();
            assert!(s.converged, "{r}×{c} did not converge");
            assert!(
                (s.sigma - exact).abs() <= 1e-8 * exact,
                "{r}×{c}: {} vs {exact}",
                s.sigma
            );
            assert!((spectral_norm_exact(&w).unwrap() - exact).abs() <= 1e-12 * exact);
            // σ̂ = uᵀWv with unit u, v.
            assert!((s.u.dot(&(&w * &s.v)) - s.sigma).abs() < 1e-10 * exact);
        }
    }

    #[test]
    fn warm_start_converges_at_once() {
        let mut rng = StdRng::seed_from_u64(8);
        let w = random_matrix(10, 12, &mut rng);
        let cold = spectral_norm(&w, &SpectralNormOptions::default()).unwrap();
        let warm = spectral_norm(
            &w,
            &SpectralNormOptions {
                u0: Some(cold.u.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            warm.converged && warm.iterations <= 2,
            "{} iterations",
            warm.iterations
        );
        assert!(cold.iterations > warm.iterations);
    }

    #[test]
    fn under_estimates_when_stopped_early() {
        let mut rng = StdRng::seed_from_u64(9);
        let w = random_matrix(30, 30, &mut rng);
        let s = spectral_norm(
            &w,
            &SpectralNormOptions {
                max_iter: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!s.converged && s.iterations == 1);
        assert!(s.sigma <= w.singular_values().max());
    }

    #[test]
    fn zero_matrix_and_bad_inputs() {
        let z = DMatrix::<f64>::zeros(3, 2);
        assert_eq!(
            spectral_norm(&z, &SpectralNormOptions::default())
                .unwrap()
                .sigma,
            0.0
        );
        let mut w = DMatrix::<f64>::identity(3, 3);
        w[(1, 2)] = f64::NAN;
        assert!(
            matches!(spectral_norm(&w, &SpectralNormOptions::default()), Err(Error::InvalidInput(m)) if m.contains("(1, 2)"))
        );
        assert!(
            spectral_norm(
                &DMatrix::<f64>::zeros(0, 3),
                &SpectralNormOptions::default()
            )
            .is_err()
        );
        let bad = SpectralNormOptions {
            u0: Some(DVector::from_element(2, 1.0)),
            ..Default::default()
        };
        assert!(spectral_norm(&DMatrix::<f64>::identity(3, 3), &bad).is_err());
    }
}
