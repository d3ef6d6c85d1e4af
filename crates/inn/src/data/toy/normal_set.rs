//! A normal with unknown mean and variance observed through a set of i.i.d. draws, with the
//! conjugate normal-inverse-gamma prior: the exact posterior is normal-inverse-gamma again, so a
//! summary network over the set (a deep set) is scored against exact posterior samples.
//!
//! Model (Murphy 2007, "Conjugate Bayesian analysis of the Gaussian distribution", §6):
//! `σ² ~ InvGamma(α₀, β₀)`, `μ | σ² ~ N(μ₀, σ²/κ₀)`, `y₁ … y_s | μ, σ² ~ N(μ, σ²)` i.i.d.
//! Given the set, with `ȳ` its mean and `S = Σᵢ (yᵢ − ȳ)²`:
//!
//! ```text
//! κₙ = κ₀ + s          μₙ = (κ₀ μ₀ + s ȳ) / κₙ
//! αₙ = α₀ + s/2        βₙ = β₀ + S/2 + κ₀ s (ȳ − μ₀)² / (2 κₙ)
//! ```
//!
//! The parameters `x` are `(μ, ln σ)` — both unconstrained, as a flow's outputs are — and the
//! observation `y` is the set as one row of `s` columns (observation `i` in column `i`).

use std::f64::consts::PI;

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::{Distribution, Gamma, StandardNormal};

use super::gaussian_mixture::{check_batch, check_finite};
use crate::{Error, Result};

/// A normal-inverse-gamma distribution `NIG(μ₀, κ₀, α₀, β₀)` over `(μ, σ²)`:
/// `σ² ~ InvGamma(α₀, β₀)` (density `β₀^α₀ / Γ(α₀) · (σ²)^(−α₀−1) · e^(−β₀/σ²)`),
/// `μ | σ² ~ N(μ₀, σ²/κ₀)`. Used as the prior and, updated by a set, as the posterior of a
/// [`NormalSet`]; it samples and scores `x = (μ, ln σ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalInverseGamma {
    /// Location `μ₀` of `μ`.
    pub mu: f64,
    /// Precision multiplier `κ₀ > 0`: `μ | σ² ~ N(μ₀, σ²/κ₀)`.
    pub kappa: f64,
    /// Shape `α₀ > 0` of the inverse gamma.
    pub alpha: f64,
    /// Scale `β₀ > 0` of the inverse gamma.
    pub beta: f64,
}

impl NormalInverseGamma {
    /// Checks that the numbers are finite and `κ, α, β > 0`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn new(mu: f64, kappa: f64, alpha: f64, beta: f64) -> Result<Self> {
        if !mu.is_finite() {
            return Err(Error::InvalidParameter {
                name: "mu",
                value: mu,
                reason: "the location must be finite",
            });
        }
        for (name, value) in [("kappa", kappa), ("alpha", alpha), ("beta", beta)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::InvalidParameter {
                    name,
                    value,
                    reason: "kappa, alpha and beta must be finite and > 0",
                });
            }
        }
        Ok(Self {
            mu,
            kappa,
            alpha,
            beta,
        })
    }

    /// The posterior after observing the draws `y` (the conjugate update in the module docs).
    pub fn update(&self, y: &[f64]) -> Self {
        if y.is_empty() {
            return *self;
        }
        let s = y.len() as f64;
        let mean = y.iter().sum::<f64>() / s;
        let ss: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
        let kappa = self.kappa + s;
        Self {
            mu: (self.kappa * self.mu + s * mean) / kappa,
            kappa,
            alpha: self.alpha + s / 2.0,
            beta: self.beta
                + ss / 2.0
                + self.kappa * s * (mean - self.mu) * (mean - self.mu) / (2.0 * kappa),
        }
    }

    /// `E[σ²] = β/(α − 1)` (infinite for `α ≤ 1`).
    pub fn mean_variance(&self) -> f64 {
        if self.alpha > 1.0 {
            self.beta / (self.alpha - 1.0)
        } else {
            f64::INFINITY
        }
    }

    /// `Var[μ] = β / (κ (α − 1))` (`μ` is Student-t with `2α` degrees of freedom; infinite
    /// for `α ≤ 1`).
    pub fn variance_of_mean(&self) -> f64 {
        self.mean_variance() / self.kappa
    }

    /// Draws `n` pairs `x = (μ, ln σ)`: `σ² = 1/g` with `g ~ Gamma(shape α, rate β)`, then
    /// `μ = μ₀ + σ z / √κ`, `z ~ N(0, 1)`. Returns an `n × 2` matrix, one draw per row.
    pub fn sample(&self, n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
        let gamma = Gamma::new(self.alpha, 1.0 / self.beta)
            .expect("alpha and beta are checked to be finite and > 0");
        let mut x = DMatrix::zeros(n, 2);
        for i in 0..n {
            let variance = 1.0 / gamma.sample(rng);
            let z: f64 = rng.sample(StandardNormal);
            x[(i, 0)] = self.mu + (variance / self.kappa).sqrt() * z;
            x[(i, 1)] = 0.5 * variance.ln();
        }
        x
    }

    /// The log-density of `x = (μ, ln σ)` (the density of `(μ, σ²)` times the Jacobian
    /// `dσ²/d ln σ = 2σ²`):
    /// `ln N(μ; μ₀, σ²/κ) + α ln β − ln Γ(α) − (α + 1) ln σ² − β/σ² + ln 2 + ln σ²`.
    pub fn log_prob(&self, mu: f64, log_sigma: f64) -> f64 {
        let ln_var = 2.0 * log_sigma;
        let var = ln_var.exp();
        let d = mu - self.mu;
        -0.5 * (2.0 * PI).ln() - 0.5 * (ln_var - self.kappa.ln()) - self.kappa * d * d / (2.0 * var)
            + self.alpha * self.beta.ln()
            - ln_gamma(self.alpha)
            - (self.alpha + 1.0) * ln_var
            - self.beta / var
            + 2f64.ln()
            + ln_var
    }
}

/// `ln Γ(a)` for `a > 0` (Lanczos approximation, g = 7, 9 terms; relative error below 1e-13
/// for the arguments used here, `a ≥ 0.5`).
fn ln_gamma(a: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if a < 0.5 {
        // Reflection: Γ(a) Γ(1 − a) = π / sin(πa).
        return (PI / (PI * a).sin()).ln() - ln_gamma(1.0 - a);
    }
    let a = a - 1.0;
    let t = a + G + 0.5;
    let series = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |acc, (k, c)| acc + c / (a + k as f64 + 1.0));
    0.5 * (2.0 * PI).ln() + (a + 0.5) * t.ln() - t + series.ln()
}

/// A normal `N(μ, σ²)` with unknown `x = (μ, ln σ)` observed through a set of `s` i.i.d. draws,
/// under a normal-inverse-gamma prior; the exact posterior is [`NormalInverseGamma::update`].
///
/// ```
/// use inn::data::toy::NormalSet;
/// use rand::SeedableRng;
/// let problem = NormalSet::standard(); // 50 draws per set
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let (x, y) = problem.simulate(100, &mut rng);
/// assert_eq!((x.shape(), y.shape()), ((100, 2), (100, 50)));
/// let y0: Vec<f64> = y.row(0).iter().copied().collect();
/// let draws = problem.posterior_sample(&y0, 1000, &mut rng)?; // 1000 × 2, exact
/// assert_eq!(draws.shape(), (1000, 2));
/// # Ok::<(), inn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalSet {
    prior: NormalInverseGamma,
    set_size: usize,
}

impl NormalSet {
    /// The problem with prior `prior` and `set_size ≥ 1` draws per observation.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `set_size = 0`.
    pub fn new(prior: NormalInverseGamma, set_size: usize) -> Result<Self> {
        if set_size == 0 {
            return Err(Error::InvalidParameter {
                name: "set_size",
                value: 0.0,
                reason: "a set holds at least one draw",
            });
        }
        Ok(Self { prior, set_size })
    }

    /// The benchmark instance: `s = 50` draws, prior `μ₀ = 0`, `κ₀ = 0.25`, `α₀ = 3`,
    /// `β₀ = 2`. So `E[σ²] = 1` with `sd[σ²] = 1` (σ mostly within 0.5–2), and `μ | σ² ~
    /// N(0, 4σ²)`, so `μ` mostly within ±4: every set looks different, and the posterior
    /// (`sd[μ] ≈ σ/7`, `sd[ln σ] ≈ 0.1`) is far narrower than the prior, which only good
    /// statistics of the set (its mean and variance) can pin down.
    pub fn standard() -> Self {
        let prior = NormalInverseGamma {
            mu: 0.0,
            kappa: 0.25,
            alpha: 3.0,
            beta: 2.0,
        };
        Self {
            prior,
            set_size: 50,
        }
    }

    /// The prior.
    pub fn prior(&self) -> &NormalInverseGamma {
        &self.prior
    }

    /// Draws per set (the width of `y`).
    pub fn set_size(&self) -> usize {
        self.set_size
    }

    /// Simulates `n` pairs: `x = (μ, ln σ)` from the prior, then `s` draws `N(μ, σ²)`.
    /// Returns `(x, y)`: `n × 2` and `n × s`, one pair per row.
    pub fn simulate(&self, n: usize, rng: &mut impl Rng) -> (DMatrix<f64>, DMatrix<f64>) {
        let x = self.prior.sample(n, rng);
        let mut y = DMatrix::zeros(n, self.set_size);
        for i in 0..n {
            let (mu, sigma) = (x[(i, 0)], x[(i, 1)].exp());
            for j in 0..self.set_size {
                y[(i, j)] = mu + sigma * rng.sample::<f64, _>(StandardNormal);
            }
        }
        (x, y)
    }

    /// The exact posterior `NIG(μₙ, κₙ, αₙ, βₙ)` of one observed set `y` (length `s`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (reported as `1 × len`) for a set of another size,
    /// [`Error::NonFiniteInput`].
    pub fn posterior(&self, y: &[f64]) -> Result<NormalInverseGamma> {
        if y.len() != self.set_size {
            return Err(Error::shape_mismatch(
                "observed set y",
                "one set of set_size() draws",
                (1, y.len()),
            ));
        }
        check_finite(&DMatrix::from_row_slice(1, y.len(), y), "observed set y")?;
        Ok(self.prior.update(y))
    }

    /// `n` exact posterior draws of `x = (μ, ln σ)` given one set `y`: an `n × 2` matrix.
    ///
    /// # Errors
    /// As [`NormalSet::posterior`].
    pub fn posterior_sample(
        &self,
        y: &[f64],
        n: usize,
        rng: &mut impl Rng,
    ) -> Result<DMatrix<f64>> {
        Ok(self.posterior(y)?.sample(n, rng))
    }

    /// The exact posterior log-density `ln p(xᵢ | yᵢ)` of each pair: `x` is `n × 2` (`μ`,
    /// `ln σ`), `y` is `n × s`, `n ≥ 1`; returns an `n × 1` column.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NonFiniteInput`].
    pub fn posterior_log_prob(&self, x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_batch(
            x,
            (None, 2),
            "posterior_log_prob x",
            "an n×2 batch (μ, ln σ) with n ≥ 1",
        )?;
        check_batch(
            y,
            (Some(x.nrows()), self.set_size),
            "posterior_log_prob y",
            "an n×s batch, n the rows of x, s = set_size()",
        )?;
        Ok(DMatrix::from_fn(x.nrows(), 1, |i, _| {
            let set: Vec<f64> = y.row(i).iter().copied().collect();
            self.prior.update(&set).log_prob(x[(i, 0)], x[(i, 1)])
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ln_gamma_matches_known_values() {
        let cases = [
            (1.0, 0.0),
            (2.0, 0.0),
            (0.5, 0.5 * PI.ln()),
            (10.0, 362_880f64.ln()),
            (28.0, (1..28).map(|k| (k as f64).ln()).sum::<f64>()),
            (0.25, 1.288_022_524_698_077_5),
        ];
        for (a, expected) in cases {
            let got = ln_gamma(a);
            assert!(
                (got - expected).abs() < 1e-12 * (1.0 + expected.abs()),
                "lnΓ({a}) = {got}"
            );
        }
    }

    /// The conjugate update is Bayes' rule: ln posterior − (ln prior + ln likelihood) is the
    /// same constant (−ln evidence) at every `x`.
    #[test]
    fn posterior_is_prior_times_likelihood() {
        let problem = NormalSet::standard();
        let mut rng = StdRng::seed_from_u64(1);
        let (_, y) = problem.simulate(1, &mut rng);
        let set: Vec<f64> = y.row(0).iter().copied().collect();
        let post = problem.posterior(&set).unwrap();
        let log_lik = |mu: f64, log_sigma: f64| {
            let var = (2.0 * log_sigma).exp();
            set.iter()
                .map(|v| -0.5 * (2.0 * PI * var).ln() - (v - mu) * (v - mu) / (2.0 * var))
                .sum::<f64>()
        };
        let gap = |mu: f64, ls: f64| {
            post.log_prob(mu, ls) - problem.prior().log_prob(mu, ls) - log_lik(mu, ls)
        };
        let reference = gap(post.mu, 0.0);
        for (mu, ls) in [(-1.0, -0.5), (0.3, 0.2), (2.0, 0.7), (post.mu + 0.1, -0.1)] {
            assert!((gap(mu, ls) - reference).abs() < 1e-9, "{mu}, {ls}");
        }
    }

    /// The density of `(μ, ln σ)` integrates to one (a grid over the bulk of the prior).
    #[test]
    fn log_prob_is_normalised() {
        let prior = NormalSet::standard().prior;
        let (k, mu_half, ls_lo, ls_hi) = (600, 25.0, -3.0, 3.0);
        let (dmu, dls) = (2.0 * mu_half / k as f64, (ls_hi - ls_lo) / k as f64);
        let mut mass = 0.0;
        for i in 0..k {
            for j in 0..k {
                let mu = -mu_half + (i as f64 + 0.5) * dmu;
                let ls = ls_lo + (j as f64 + 0.5) * dls;
                mass += prior.log_prob(mu, ls).exp() * dmu * dls;
            }
        }
        assert!((mass - 1.0).abs() < 2e-3, "mass {mass}");
    }

    /// Exact posterior draws have the closed-form moments: `E[μ] = μₙ`,
    /// `Var[μ] = βₙ/(κₙ(αₙ − 1))`, `E[σ²] = βₙ/(αₙ − 1)`, `E[1/σ²] = αₙ/βₙ`.
    #[test]
    fn posterior_samples_have_the_closed_form_moments() {
        let problem = NormalSet::standard();
        let mut rng = StdRng::seed_from_u64(2);
        let (x, y) = problem.simulate(3, &mut rng);
        for r in 0..3 {
            let set: Vec<f64> = y.row(r).iter().copied().collect();
            let post = problem.posterior(&set).unwrap();
            let n = 200_000;
            let draws = problem.posterior_sample(&set, n, &mut rng).unwrap();
            let mean = |f: &dyn Fn(f64, f64) -> f64| {
                draws.row_iter().map(|d| f(d[0], d[1])).sum::<f64>() / n as f64
            };
            let m_mu = mean(&|mu, _| mu);
            let v_mu = mean(&|mu, _| (mu - m_mu) * (mu - m_mu));
            let m_var = mean(&|_, ls| (2.0 * ls).exp());
            let m_prec = mean(&|_, ls| (-2.0 * ls).exp());
            let sd_mu = post.variance_of_mean().sqrt();
            assert!(
                (m_mu - post.mu).abs() < 5.0 * sd_mu / (n as f64).sqrt(),
                "{m_mu} vs {}",
                post.mu
            );
            assert!(
                (v_mu / post.variance_of_mean() - 1.0).abs() < 0.02,
                "{v_mu}"
            );
            assert!((m_var / post.mean_variance() - 1.0).abs() < 0.01, "{m_var}");
            assert!(
                (m_prec / (post.alpha / post.beta) - 1.0).abs() < 0.01,
                "{m_prec}"
            );
            // The posterior concentrates near the simulated truth.
            assert!((post.mu - x[(r, 0)]).abs() < 5.0 * sd_mu);
            assert!((0.5 * post.mean_variance().ln() - x[(r, 1)]).abs() < 0.5);
        }
        // posterior_log_prob is the row-wise density of the updated NIG.
        let lp = problem.posterior_log_prob(&x, &y).unwrap();
        let set0: Vec<f64> = y.row(0).iter().copied().collect();
        let direct = problem
            .posterior(&set0)
            .unwrap()
            .log_prob(x[(0, 0)], x[(0, 1)]);
        assert_eq!(lp.shape(), (3, 1));
        assert_eq!(lp[(0, 0)], direct);
    }

    #[test]
    fn simulation_is_seeded_and_bad_inputs_are_errors() {
        let problem = NormalSet::standard();
        let a = problem.simulate(5, &mut StdRng::seed_from_u64(3));
        assert_eq!(a, problem.simulate(5, &mut StdRng::seed_from_u64(3)));
        assert!(matches!(
            NormalInverseGamma::new(0.0, 0.0, 1.0, 1.0),
            Err(Error::InvalidParameter { name: "kappa", .. })
        ));
        assert!(matches!(
            NormalSet::new(*problem.prior(), 0),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            problem.posterior(&[0.0; 3]),
            Err(Error::ShapeMismatch { columns: 3, .. })
        ));
        let mut set = vec![0.0; 50];
        set[7] = f64::NAN;
        assert!(matches!(
            problem.posterior(&set),
            Err(Error::NonFiniteInput { column: 7, .. })
        ));
        assert!(
            problem
                .posterior_log_prob(&DMatrix::zeros(2, 3), &DMatrix::zeros(2, 50))
                .is_err()
        );
        assert!(
            problem
                .posterior_log_prob(&DMatrix::zeros(2, 2), &DMatrix::zeros(3, 50))
                .is_err()
        );
    }
}
