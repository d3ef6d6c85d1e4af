//! A linear-Gaussian inverse problem `y = A θ + ε` with its exact Gaussian posterior p(θ | y).
//!
//! With a Gaussian prior `θ ~ N(μ₀, Σ₀)` and Gaussian noise `ε ~ N(0, σ² I)` the posterior is
//! Gaussian in closed form (Bishop 2006, "Pattern Recognition and Machine Learning", §2.3.3):
//! `Σ = (Σ₀⁻¹ + AᵀA/σ²)⁻¹`, `μ(y) = Σ (Σ₀⁻¹ μ₀ + Aᵀ y/σ²)`. A conditional model trained on
//! simulated pairs is scored against it: held-out NLL against
//! [`LinearGaussian::expected_posterior_nll`], and its posterior samples against
//! [`LinearGaussian::posterior_sample`] in a two-sample test.

use std::f64::consts::{E, PI};

use nalgebra::{Cholesky, DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;

use super::gaussian_mixture::{check_batch, check_finite, spd_cholesky};
use crate::{Error, Result};

/// The linear-Gaussian inverse problem `y = A θ + ε`, `θ ~ N(μ₀, Σ₀)`, `ε ~ N(0, σ² I_m)`, with
/// `θ ∈ ℝ^d` (the parameters, "x" of a conditional model) and `y ∈ ℝ^m` (the observation).
///
/// The exact posterior is `p(θ | y) = N(θ; μ(y), Σ)` with
///
/// ```text
/// Σ    = (Σ₀⁻¹ + AᵀA / σ²)⁻¹                    (independent of y, computed once)
/// μ(y) = Σ (Σ₀⁻¹ μ₀ + Aᵀ y / σ²)
/// ```
///
/// ```
/// use inn::data::toy::LinearGaussian;
/// use rand::SeedableRng;
/// let problem = LinearGaussian::standard();
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let (theta, y) = problem.simulate(100, &mut rng);
/// assert_eq!((theta.shape(), y.shape()), ((100, 5), (100, 8)));
/// let lp = problem.posterior_log_prob(&theta, &y)?;   // exact ln p(θᵢ | yᵢ), 100 × 1
/// let y0: Vec<f64> = y.row(0).iter().copied().collect();
/// let draws = problem.posterior_sample(&y0, 1000, &mut rng)?;   // 1000 × 5
/// assert_eq!((lp.shape(), draws.shape()), ((100, 1), (1000, 5)));
/// # Ok::<(), inn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LinearGaussian {
    /// The forward matrix `A`, `m × d`.
    a: DMatrix<f64>,
    /// The prior mean `μ₀`, length `d`.
    prior_mean: DVector<f64>,
    /// The prior covariance `Σ₀` (symmetrised), `d × d`.
    prior_cov: DMatrix<f64>,
    /// The noise standard deviation `σ > 0`.
    noise_std: f64,
    /// Lower Cholesky factor `L₀` of `Σ₀` (simulation draws `θ = μ₀ + L₀ z`).
    prior_factor: DMatrix<f64>,
    /// The posterior covariance `Σ`.
    posterior_cov: DMatrix<f64>,
    /// Lower Cholesky factor of `Σ` (posterior sampling).
    posterior_factor: DMatrix<f64>,
    /// Lower Cholesky factor `L_P` of the posterior precision `P = Σ⁻¹` (log-density:
    /// `rᵀ P r = ‖L_Pᵀ r‖²`).
    precision_factor: DMatrix<f64>,
    /// `Σ Σ₀⁻¹ μ₀`, the part of the posterior mean that does not depend on `y`.
    mean_offset: DVector<f64>,
    /// `Σ Aᵀ / σ²` (`d × m`), so that `μ(y) = mean_offset + gain · y`.
    gain: DMatrix<f64>,
    /// `ln det Σ`.
    posterior_log_det: f64,
}

impl LinearGaussian {
    /// Builds the problem from the forward matrix `a` (`m × d`, `m, d ≥ 1`), the prior mean
    /// (length `d`) and covariance (`d × d`), and the noise standard deviation `σ`.
    ///
    /// Checks: shapes; all entries finite; `prior_cov` symmetric (to a relative `1e-10`, then
    /// symmetrised) and positive definite (its Cholesky factorisation succeeds); `σ` finite and
    /// `> 0`. `A` need not have full column rank: the prior keeps the posterior proper.
    ///
    /// Errors: [`Error::ShapeMismatch`], [`Error::NonFiniteInput`],
    /// [`Error::InvalidParameter`] (`noise_std`; `prior_cov` with its largest asymmetry or
    /// smallest eigenvalue; `prior_cov` also when the posterior precision is not numerically
    /// positive definite, which only an extremely ill-conditioned `Σ₀` can cause).
    pub fn new(
        a: DMatrix<f64>,
        prior_mean: DVector<f64>,
        prior_cov: DMatrix<f64>,
        noise_std: f64,
    ) -> Result<Self> {
        let (m, d) = a.shape();
        if m == 0 || d == 0 {
            return Err(Error::shape_mismatch(
                "forward matrix a",
                "an m×d matrix with m, d ≥ 1",
                (m, d),
            ));
        }
        check_finite(&a, "forward matrix a")?;
        if prior_mean.len() != d {
            return Err(Error::shape_mismatch(
                "prior_mean",
                "a d×1 vector, d the number of columns of a",
                (prior_mean.len(), 1),
            ));
        }
        check_finite(&prior_mean, "prior_mean")?;
        if prior_cov.shape() != (d, d) {
            return Err(Error::shape_mismatch(
                "prior_cov",
                "a d×d matrix, d the number of columns of a",
                prior_cov.shape(),
            ));
        }
        if !(noise_std.is_finite() && noise_std > 0.0) {
            return Err(Error::InvalidParameter {
                name: "noise_std",
                value: noise_std,
                reason: "the noise standard deviation must be finite and > 0",
            });
        }
        let (prior_cov, prior_chol) = spd_cholesky(&prior_cov, "prior_cov")?;
        let var = noise_std * noise_std;
        let precision = prior_chol.inverse() + a.transpose() * &a / var;
        let ill_conditioned = |value: f64| Error::InvalidParameter {
            name: "prior_cov",
            value,
            reason: "the posterior precision Σ₀⁻¹ + AᵀA/σ² is not numerically positive definite \
                     (value: the smallest prior eigenvalue)",
        };
        let smallest_prior_eigenvalue = || prior_cov.clone().symmetric_eigenvalues().min();
        let precision_chol = Cholesky::new((&precision + precision.transpose()) * 0.5)
            .ok_or_else(|| ill_conditioned(smallest_prior_eigenvalue()))?;
        let posterior_inverse = precision_chol.inverse();
        let posterior_cov = (&posterior_inverse + posterior_inverse.transpose()) * 0.5;
        let posterior_chol = Cholesky::new(posterior_cov.clone())
            .ok_or_else(|| ill_conditioned(smallest_prior_eigenvalue()))?;
        let precision_factor = precision_chol.l();
        let posterior_log_det = -2.0 * precision_factor.diagonal().map(f64::ln).sum();
        let mean_offset = precision_chol.solve(&prior_chol.solve(&prior_mean));
        let gain = precision_chol.solve(&a.transpose()) / var;
        Ok(Self {
            prior_factor: prior_chol.l(),
            a,
            prior_mean,
            prior_cov,
            noise_std,
            posterior_cov,
            posterior_factor: posterior_chol.l(),
            precision_factor,
            mean_offset,
            gain,
            posterior_log_det,
        })
    }

    /// The benchmark instance: `d = 5` parameters, `m = 8` observations.
    ///
    /// - Prior mean `μ₀ = (0.5, −0.3, 0.0, 0.2, −0.1)`.
    /// - Prior covariance `Σ₀ = D R D` with `R_ij = 0.6^|i−j|` (an AR(1) correlation) and
    ///   `D = diag(1.0, 0.8, 1.2, 0.6, 1.0)`, so the prior standard deviations are `D`'s
    ///   diagonal and neighbouring parameters have correlation 0.6. Eigenvalues of `Σ₀`:
    ///   0.149, 0.241, 0.655, 0.980, 2.415.
    /// - Forward matrix `A_ij = sin(1 + i + 2j) + [i = j]` for `i < 8`, `j < 5` (0-based), i.e.
    ///   (rounded to 4 digits)
    ///
    ///   ```text
    ///   [ 1.8415  0.1411 −0.9589  0.6570  0.4121 ]
    ///   [ 0.9093  0.2432 −0.2794  0.9894 −0.5440 ]
    ///   [ 0.1411 −0.9589  1.6570  0.4121 −1.0000 ]
    ///   [−0.7568 −0.2794  0.9894  0.4560 −0.5366 ]
    ///   [−0.9589  0.6570  0.4121 −1.0000  1.4202 ]
    ///   [−0.2794  0.9894 −0.5440 −0.5366  0.9906 ]
    ///   [ 0.6570  0.4121 −1.0000  0.4202  0.6503 ]
    ///   [ 0.9894 −0.5440 −0.5366  0.9906 −0.2879 ]
    ///   ```
    ///
    ///   The sine part alone has rank 2 (`sin(a + b) = sin a cos b + cos a sin b`); adding the
    ///   identity makes `A` full column rank, with singular values 3.549, 3.395, 1.000, 0.821,
    ///   0.585.
    /// - Noise standard deviation `σ = 0.3`.
    ///
    /// The posterior is informative but not degenerate: its standard deviations are
    /// (0.223, 0.327, 0.232, 0.278, 0.279), i.e. 0.22, 0.41, 0.19, 0.46 and 0.28 of the prior
    /// ones; every component is well above 0.02 and below 0.9 of its prior standard deviation,
    /// so the specified `σ` is used unchanged. The expected posterior NLL is
    /// [`expected_posterior_nll`](Self::expected_posterior_nll) `≈ −1.15989`.
    pub fn standard() -> Self {
        let (m, d) = (8, 5);
        let a = DMatrix::from_fn(m, d, |i, j| {
            (1.0 + i as f64 + 2.0 * j as f64).sin() + if i == j { 1.0 } else { 0.0 }
        });
        let prior_mean = DVector::from_row_slice(&[0.5, -0.3, 0.0, 0.2, -0.1]);
        let scale = [1.0, 0.8, 1.2, 0.6, 1.0];
        let prior_cov = DMatrix::from_fn(d, d, |i, j| {
            scale[i] * 0.6_f64.powi(i.abs_diff(j) as i32) * scale[j]
        });
        Self::new(a, prior_mean, prior_cov, 0.3)
            .expect("the standard linear-Gaussian problem is valid (see its tests)")
    }

    /// The parameter dimension `d` (columns of `A`).
    pub fn x_dim(&self) -> usize {
        self.a.ncols()
    }

    /// The observation dimension `m` (rows of `A`).
    pub fn y_dim(&self) -> usize {
        self.a.nrows()
    }

    /// The forward matrix `A`, `m × d`.
    pub fn a(&self) -> &DMatrix<f64> {
        &self.a
    }

    /// The prior mean `μ₀`.
    pub fn prior_mean(&self) -> &DVector<f64> {
        &self.prior_mean
    }

    /// The prior covariance `Σ₀` (as stored: symmetrised).
    pub fn prior_cov(&self) -> &DMatrix<f64> {
        &self.prior_cov
    }

    /// The noise standard deviation `σ`.
    pub fn noise_std(&self) -> f64 {
        self.noise_std
    }

    /// The posterior covariance `Σ = (Σ₀⁻¹ + AᵀA/σ²)⁻¹`, the same for every observation.
    pub fn posterior_cov(&self) -> &DMatrix<f64> {
        &self.posterior_cov
    }

    /// Simulates `n` pairs from the joint distribution: `θ = μ₀ + L₀ z` with `Σ₀ = L₀ L₀ᵀ`,
    /// `y = A θ + σ ε`, `z ~ N(0, I_d)`, `ε ~ N(0, I_m)`; per pair, the `d` draws of `z` come
    /// before the `m` draws of `ε`.
    ///
    /// Returns `(θ, y)`: an `n × d` and an `n × m` matrix, one pair per row (row `i` of `y`
    /// observes row `i` of `θ`).
    pub fn simulate(&self, n: usize, rng: &mut impl Rng) -> (DMatrix<f64>, DMatrix<f64>) {
        let (m, d) = self.a.shape();
        let mut theta = DMatrix::zeros(n, d);
        let mut y = DMatrix::zeros(n, m);
        let mut z = DVector::zeros(d);
        let mut eps = DVector::zeros(m);
        for i in 0..n {
            z.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
            eps.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
            let t = &self.prior_mean + &self.prior_factor * &z;
            let yi = &self.a * &t + &eps * self.noise_std;
            theta.row_mut(i).copy_from(&t.transpose());
            y.row_mut(i).copy_from(&yi.transpose());
        }
        (theta, y)
    }

    /// The exact posterior of one observation `y` (a slice of length `m`): the mean
    /// `μ(y) = Σ (Σ₀⁻¹ μ₀ + Aᵀ y/σ²)` and the covariance `Σ = (Σ₀⁻¹ + AᵀA/σ²)⁻¹` (a copy of
    /// [`posterior_cov`](Self::posterior_cov)).
    ///
    /// Errors: [`Error::ShapeMismatch`] (reported as `1 × len`) when `y.len() ≠ m`,
    /// [`Error::NonFiniteInput`].
    pub fn posterior(&self, y: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
        Ok((self.posterior_mean(y)?, self.posterior_cov.clone()))
    }

    /// `μ(y) = mean_offset + gain · y` for one checked observation.
    fn posterior_mean(&self, y: &[f64]) -> Result<DVector<f64>> {
        if y.len() != self.y_dim() {
            return Err(Error::shape_mismatch(
                "observation y",
                "one observation of length m = y_dim()",
                (1, y.len()),
            ));
        }
        let y = DVector::from_column_slice(y);
        check_finite(&y.transpose(), "observation y")?;
        Ok(&self.mean_offset + &self.gain * y)
    }

    /// Draws `n` exact posterior samples `θ = μ(y) + L z`, `Σ = L Lᵀ`, `z ~ N(0, I_d)`, for one
    /// observation `y` (a slice of length `m`).
    ///
    /// Returns an `n × d` matrix, one sample per row. Errors as
    /// [`posterior`](Self::posterior).
    pub fn posterior_sample(
        &self,
        y: &[f64],
        n: usize,
        rng: &mut impl Rng,
    ) -> Result<DMatrix<f64>> {
        let mean = self.posterior_mean(y)?;
        let d = self.x_dim();
        let z = DMatrix::from_fn(d, n, |_, _| rng.sample::<f64, _>(StandardNormal));
        let mut theta = (&self.posterior_factor * z).transpose();
        for mut row in theta.row_iter_mut() {
            row += mean.transpose();
        }
        Ok(theta)
    }

    /// The exact posterior log-density of each pair,
    /// `ln p(θᵢ | yᵢ) = −½ (d ln 2π + ln det Σ + (θᵢ − μ(yᵢ))ᵀ Σ⁻¹ (θᵢ − μ(yᵢ)))`.
    ///
    /// `theta` is an `n × d` batch and `y` an `n × m` batch, one sample per row, `n ≥ 1`; row
    /// `i` of `y` conditions row `i` of `theta`. Returns an `n × 1` column.
    ///
    /// Errors: [`Error::ShapeMismatch`] (wrong widths, no rows, or different row counts),
    /// [`Error::NonFiniteInput`] naming the first bad entry in reading order.
    pub fn posterior_log_prob(
        &self,
        theta: &DMatrix<f64>,
        y: &DMatrix<f64>,
    ) -> Result<DMatrix<f64>> {
        let (m, d) = self.a.shape();
        check_batch(
            theta,
            (None, d),
            "posterior_log_prob theta",
            "an n×d batch with n ≥ 1, d = x_dim()",
        )?;
        check_batch(
            y,
            (Some(theta.nrows()), m),
            "posterior_log_prob y",
            "an n×m batch, n the rows of theta, m = y_dim()",
        )?;
        // Row i of `residual` is (θᵢ − μ(yᵢ))ᵀ; row i of `whitened` is (L_Pᵀ (θᵢ − μ(yᵢ)))ᵀ.
        let mut residual = theta - y * self.gain.transpose();
        for mut row in residual.row_iter_mut() {
            row -= self.mean_offset.transpose();
        }
        let whitened = residual * &self.precision_factor;
        let constant = -0.5 * (d as f64 * (2.0 * PI).ln() + self.posterior_log_det);
        Ok(DMatrix::from_fn(theta.nrows(), 1, |i, _| {
            constant - 0.5 * whitened.row(i).norm_squared()
        }))
    }

    /// The expected negative log posterior density over pairs from the joint distribution,
    /// `E_{θ,y}[−ln p(θ | y)] = ½ ln det(2πe Σ) = ½ (d ln(2πe) + ln det Σ)`: the entropy of
    /// `N(·, Σ)`, the same for every `y` because `Σ` does not depend on `y`.
    ///
    /// This is the held-out NLL the exact posterior scores on average; no conditional model can
    /// do better in expectation (the gap is the expected KL divergence to the true posterior).
    pub fn expected_posterior_nll(&self) -> f64 {
        0.5 * (self.x_dim() as f64 * (2.0 * PI * E).ln() + self.posterior_log_det)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    #[test]
    fn standard_instance_is_as_documented() {
        let p = LinearGaussian::standard();
        assert_eq!((p.x_dim(), p.y_dim(), p.noise_std()), (5, 8, 0.3));
        assert!((p.a()[(2, 1)] - (5.0_f64.sin())).abs() < 1e-15);
        assert!((p.a()[(3, 3)] - (1.0 + 10.0_f64.sin())).abs() < 1e-15);
        let sv = p.a().clone().singular_values();
        let mut sv: Vec<f64> = sv.iter().copied().collect();
        sv.sort_by(|a, b| b.total_cmp(a));
        for (s, doc) in sv.iter().zip([3.549, 3.395, 1.000, 0.821, 0.585]) {
            assert!((s - doc).abs() < 5e-4, "singular value {s} vs {doc}");
        }
        let prior_std: Vec<f64> = p.prior_cov().diagonal().iter().map(|v| v.sqrt()).collect();
        let post_std: Vec<f64> = p
            .posterior_cov()
            .diagonal()
            .iter()
            .map(|v| v.sqrt())
            .collect();
        eprintln!("linear-Gaussian prior std     {prior_std:.4?}");
        eprintln!("linear-Gaussian posterior std {post_std:.4?}");
        eprintln!(
            "linear-Gaussian expected posterior NLL {:.6}",
            p.expected_posterior_nll()
        );
        for (j, doc) in [0.223, 0.327, 0.232, 0.278, 0.279].into_iter().enumerate() {
            assert!((post_std[j] - doc).abs() < 5e-4, "component {j}");
            assert!(post_std[j] > 0.02 && post_std[j] < 0.9 * prior_std[j]);
        }
        assert!((prior_std[2] - 1.2).abs() < 1e-15);
        assert!((p.prior_cov()[(0, 1)] - 0.6 * 0.8).abs() < 1e-15);
        assert!((p.expected_posterior_nll() - (-1.15989)).abs() < 1e-5);
    }

    #[test]
    fn posterior_agrees_with_the_joint_gaussian_conditional() {
        // Conditioning the joint Gaussian of (θ, y): Σ = Σ₀ − Σ₀Aᵀ S⁻¹ AΣ₀ and
        // μ = μ₀ + Σ₀Aᵀ S⁻¹ (y − Aμ₀), with S = AΣ₀Aᵀ + σ²I the covariance of y.
        let p = LinearGaussian::standard();
        let (a, s0, mu0) = (p.a(), p.prior_cov(), p.prior_mean());
        let s = a * s0 * a.transpose() + DMatrix::identity(8, 8) * 0.09;
        let s_inv = s.try_inverse().unwrap();
        let cov = s0 - s0 * a.transpose() * &s_inv * a * s0;
        let (_, y) = p.simulate(20, &mut rng(1));
        for yi in y.row_iter() {
            let yv: Vec<f64> = yi.iter().copied().collect();
            let (mean, post_cov) = p.posterior(&yv).unwrap();
            let expected = mu0 + s0 * a.transpose() * &s_inv * (yi.transpose() - a * mu0);
            assert!((&post_cov - &cov).amax() < 1e-10);
            assert!((mean - expected).amax() < 1e-10);
        }
        // A non-square, rank-deficient A with a 1-D observation works too.
        let a = DMatrix::from_row_slice(1, 3, &[1.0, -2.0, 0.5]);
        let s0 = DMatrix::from_row_slice(3, 3, &[2.0, 0.3, 0.0, 0.3, 1.0, -0.2, 0.0, -0.2, 0.5]);
        let mu0 = DVector::from_row_slice(&[1.0, 0.0, -1.0]);
        let q = LinearGaussian::new(a.clone(), mu0.clone(), s0.clone(), 0.5).unwrap();
        let s = (&a * &s0 * a.transpose())[0] + 0.25;
        let cov = &s0 - &s0 * a.transpose() * &a * &s0 / s;
        let mean = &mu0 + &s0 * a.transpose() * ((0.7 - (&a * &mu0)[0]) / s);
        let (m, c) = q.posterior(&[0.7]).unwrap();
        assert!((c - cov).amax() < 1e-12 && (m - mean).amax() < 1e-12);
    }

    #[test]
    fn posterior_samples_have_the_exact_moments() {
        let p = LinearGaussian::standard();
        let y = [0.3, -0.2, 1.0, 0.5, -0.8, 0.1, 0.0, 0.4];
        let (mean, cov) = p.posterior(&y).unwrap();
        let n = 200_000;
        let x = p.posterior_sample(&y, n, &mut rng(2)).unwrap();
        assert_eq!(x.shape(), (n, 5));
        let m = x.row_mean().transpose();
        let c = DMatrix::from_fn(n, 5, |i, j| x[(i, j)] - m[j]);
        let c = c.transpose() * &c / (n - 1) as f64;
        // Posterior variances are ≤ 0.11, so the standard error of a mean is ≤ √(0.11/n) ≈
        // 7.4e-4 and of a covariance entry ≤ 0.11·√(2/n) ≈ 3.5e-4; tolerances ≈ 5 of them.
        assert!((m - mean).amax() < 4e-3);
        assert!((c - cov).amax() < 2e-3);
        assert_eq!(x, p.posterior_sample(&y, n, &mut rng(2)).unwrap());
    }

    #[test]
    fn simulated_pairs_follow_the_joint_distribution() {
        let p = LinearGaussian::standard();
        let n = 100_000;
        let (theta, y) = p.simulate(n, &mut rng(3));
        assert_eq!((theta.shape(), y.shape()), ((n, 5), (n, 8)));
        let tm = theta.row_mean().transpose();
        assert!((tm - p.prior_mean()).amax() < 0.02);
        // The residual y − Aθ is the noise: mean 0, standard deviation σ in every column.
        let eps = &y - &theta * p.a().transpose();
        for j in 0..8 {
            let col = eps.column(j);
            assert!(col.mean().abs() < 0.005);
            assert!((col.variance().sqrt() - 0.3).abs() < 0.005);
        }
    }

    #[test]
    fn log_prob_matches_the_gaussian_entropy_and_formula() {
        let p = LinearGaussian::standard();
        // Over joint pairs, −ln p(θ | y) averages to the entropy; its per-pair variance is d/2
        // (half a χ²_d), so the standard error at n = 100 000 is √(2.5/n) = 0.005.
        let (theta, y) = p.simulate(100_000, &mut rng(4));
        let lp = p.posterior_log_prob(&theta, &y).unwrap();
        assert_eq!(lp.shape(), (100_000, 1));
        let nll = -lp.mean();
        assert!((nll - p.expected_posterior_nll()).abs() < 0.025, "{nll}");
        // The same with exact posterior samples of one observation.
        let y0 = [0.3, -0.2, 1.0, 0.5, -0.8, 0.1, 0.0, 0.4];
        let x = p.posterior_sample(&y0, 100_000, &mut rng(5)).unwrap();
        let ys = DMatrix::from_fn(100_000, 8, |_, j| y0[j]);
        let nll = -p.posterior_log_prob(&x, &ys).unwrap().mean();
        assert!((nll - p.expected_posterior_nll()).abs() < 0.025, "{nll}");
        // At the posterior mean, the density is (2π)^{−d/2} det(Σ)^{−1/2}; one σ-ellipsoid step
        // along the first Cholesky column lowers it by ½.
        let (mean, cov) = p.posterior(&y0).unwrap();
        let l = cov.clone().cholesky().unwrap().l();
        let at = DMatrix::from_fn(2, 5, |i, j| mean[j] + if i == 1 { l[(j, 0)] } else { 0.0 });
        let lp = p
            .posterior_log_prob(&at, &ys.rows(0, 2).into_owned())
            .unwrap();
        let peak = -0.5 * (5.0 * (2.0 * PI).ln() + cov.determinant().ln());
        assert!((lp[0] - peak).abs() < 1e-10);
        assert!((lp[1] - (peak - 0.5)).abs() < 1e-10);
    }

    #[test]
    fn log_prob_integrates_to_one_in_1d() {
        let q = LinearGaussian::new(
            DMatrix::from_element(2, 1, 1.0),
            DVector::from_element(1, 0.5),
            DMatrix::from_element(1, 1, 2.0),
            0.7,
        )
        .unwrap();
        let h = 1e-3;
        let k = 12_000;
        let theta = DMatrix::from_fn(k, 1, |i, _| -6.0 + h * (i as f64 + 0.5));
        let y = DMatrix::from_fn(k, 2, |_, j| [0.4, 1.1][j]);
        let mass: f64 = q
            .posterior_log_prob(&theta, &y)
            .unwrap()
            .iter()
            .map(|l| l.exp())
            .sum::<f64>()
            * h;
        assert!((mass - 1.0).abs() < 1e-9, "{mass}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let eye = DMatrix::<f64>::identity(2, 2);
        let a = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let mu = DVector::zeros(2);
        let new = |a: DMatrix<f64>, mu: DVector<f64>, c: DMatrix<f64>, s: f64| {
            LinearGaussian::new(a, mu, c, s).unwrap_err()
        };
        assert!(matches!(
            new(DMatrix::zeros(0, 2), mu.clone(), eye.clone(), 1.0),
            Error::ShapeMismatch {
                what: "forward matrix a",
                rows: 0,
                ..
            }
        ));
        assert!(matches!(
            new(a.clone(), DVector::zeros(3), eye.clone(), 1.0),
            Error::ShapeMismatch {
                what: "prior_mean",
                rows: 3,
                ..
            }
        ));
        assert!(matches!(
            new(a.clone(), mu.clone(), DMatrix::identity(3, 3), 1.0),
            Error::ShapeMismatch {
                what: "prior_cov",
                rows: 3,
                columns: 3,
                ..
            }
        ));
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                new(a.clone(), mu.clone(), eye.clone(), s),
                Error::InvalidParameter {
                    name: "noise_std",
                    ..
                }
            ));
        }
        let mut bad_a = a.clone();
        bad_a[(2, 1)] = f64::NAN;
        assert!(matches!(
            new(bad_a, mu.clone(), eye.clone(), 1.0),
            Error::NonFiniteInput {
                row: 2,
                column: 1,
                ..
            }
        ));
        let indefinite = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, -0.5]);
        let err = new(a.clone(), mu.clone(), indefinite, 1.0);
        let Error::InvalidParameter { name, value, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((name, value), ("prior_cov", -0.5));
        let asym = DMatrix::from_row_slice(2, 2, &[1.0, 0.1, 0.0, 1.0]);
        assert!(matches!(
            new(a.clone(), mu.clone(), asym, 1.0),
            Error::InvalidParameter {
                name: "prior_cov",
                ..
            }
        ));

        let p = LinearGaussian::new(a, mu, eye, 1.0).unwrap();
        assert!(matches!(
            p.posterior(&[1.0, 2.0]),
            Err(Error::ShapeMismatch {
                rows: 1,
                columns: 2,
                ..
            })
        ));
        let err = p
            .posterior_sample(&[1.0, f64::NAN, 0.0], 3, &mut rng(0))
            .unwrap_err();
        assert!(matches!(
            err,
            Error::NonFiniteInput {
                row: 0,
                column: 1,
                ..
            }
        ));
        let theta = DMatrix::zeros(4, 2);
        let y = DMatrix::zeros(4, 3);
        assert!(p.posterior_log_prob(&theta, &y).is_ok());
        assert!(matches!(
            p.posterior_log_prob(&DMatrix::zeros(4, 3), &y),
            Err(Error::ShapeMismatch {
                what: "posterior_log_prob theta",
                ..
            })
        ));
        assert!(matches!(
            p.posterior_log_prob(&DMatrix::zeros(0, 2), &DMatrix::zeros(0, 3)),
            Err(Error::ShapeMismatch { rows: 0, .. })
        ));
        assert!(matches!(
            p.posterior_log_prob(&theta, &DMatrix::zeros(5, 3)),
            Err(Error::ShapeMismatch {
                what: "posterior_log_prob y",
                rows: 5,
                ..
            })
        ));
        let mut bad_y = y.clone();
        bad_y[(3, 2)] = f64::NEG_INFINITY;
        let err = p.posterior_log_prob(&theta, &bad_y).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFiniteInput {
                row: 3,
                column: 2,
                ..
            }
        ));
        assert!(err.to_string().contains("row 3, column 2"), "{err}");
    }
}
