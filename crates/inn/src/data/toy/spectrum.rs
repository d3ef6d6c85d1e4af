//! A spectrum of three Lorentzian peaks on a grid of bins plus Gaussian noise: a 1-D signal
//! for convolutional summary networks, with its simulator, prior and likelihood.
//!
//! Parameters `x = (p₁, p₂, p₃, w₁, w₂, w₃, a₁, a₂, a₃)` — positions, half widths at half
//! maximum and heights of the peaks — and observation `y` (one row of `bins` columns):
//!
//! ```text
//! y_j = Σ_k a_k / (1 + ((u_j − p_k) / w_k)²) + σ ε_j,   u_j = (j + ½) / bins,   ε_j ~ N(0, 1)
//! ```
//!
//! Prior: the positions are three independent `U[0.1, 0.9]` draws **sorted** (`p₁ ≤ p₂ ≤ p₃`),
//! widths `U[0.005, 0.03]` and heights `U[0.5, 1.5]`, independently. Sorting is the
//! identifiability fix: the spectrum is the same for any relabelling of the peaks, so without
//! an order the posterior would have 3! = 6 symmetric copies (label switching), and a
//! posterior estimate could not be compared component-wise; with it, the prior density is
//! `3!/0.8³` on the ordered region.
//!
//! Reference posterior: [`LorentzSpectrum::posterior_sample_mcmc`] (adaptive Metropolis on the
//! prior times the likelihood, started at the simulated truth).

use std::f64::consts::PI;

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

use super::gaussian_mixture::{check_batch, check_finite};
use super::mcmc::{McmcOptions, adaptive_metropolis};
use crate::{Error, Result};

/// Number of peaks of a [`LorentzSpectrum`].
pub const PEAKS: usize = 3;

/// The three-peak Lorentzian spectrum problem (see the module docs for the formulas).
///
/// ```
/// use inn::data::toy::LorentzSpectrum;
/// use rand::SeedableRng;
/// let problem = LorentzSpectrum::standard(); // 200 bins, noise σ = 0.05
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let (x, y) = problem.simulate(10, &mut rng);
/// assert_eq!((x.shape(), y.shape()), ((10, 9), (10, 200)));
/// let ll = problem.log_likelihood(&x, &y)?; // 10 × 1
/// assert!(ll.iter().all(|v| v.is_finite()));
/// # Ok::<(), inn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LorentzSpectrum {
    bins: usize,
    noise_std: f64,
}

impl LorentzSpectrum {
    /// Range of the (unsorted) positions.
    pub const POSITION_RANGE: (f64, f64) = (0.1, 0.9);
    /// Range of the half widths at half maximum: from about one bin (at 200 bins) to six.
    pub const WIDTH_RANGE: (f64, f64) = (0.005, 0.03);
    /// Range of the peak heights, 10–30 times the standard noise.
    pub const HEIGHT_RANGE: (f64, f64) = (0.5, 1.5);

    /// The problem on `bins ≥ 1` bins with noise standard deviation `noise_std > 0`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `bins = 0` or a noise that is not finite and positive.
    pub fn new(bins: usize, noise_std: f64) -> Result<Self> {
        if bins == 0 {
            return Err(Error::InvalidParameter {
                name: "bins",
                value: 0.0,
                reason: "a spectrum has at least one bin",
            });
        }
        if !(noise_std.is_finite() && noise_std > 0.0) {
            return Err(Error::InvalidParameter {
                name: "noise_std",
                value: noise_std,
                reason: "the noise standard deviation must be finite and > 0",
            });
        }
        Ok(Self { bins, noise_std })
    }

    /// The benchmark instance: 200 bins, noise `σ = 0.05` (a twentieth of a typical height).
    pub fn standard() -> Self {
        Self {
            bins: 200,
            noise_std: 0.05,
        }
    }

    /// Width of `x`: 9 (three positions, three widths, three heights).
    pub fn x_dim(&self) -> usize {
        3 * PEAKS
    }
    /// Width of `y`: the number of bins.
    pub fn y_dim(&self) -> usize {
        self.bins
    }
    /// The noise standard deviation `σ`.
    pub fn noise_std(&self) -> f64 {
        self.noise_std
    }

    /// `n` draws of `x` from the prior: an `n × 9` matrix, one draw per row (positions sorted).
    pub fn sample_prior(&self, n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
        let uniform = |rng: &mut dyn rand::RngCore, (lo, hi): (f64, f64)| {
            lo + (hi - lo) * rng.random::<f64>()
        };
        let mut x = DMatrix::zeros(n, self.x_dim());
        for i in 0..n {
            let mut pos = [0.0; PEAKS];
            pos.iter_mut()
                .for_each(|p| *p = uniform(rng, Self::POSITION_RANGE));
            pos.sort_by(f64::total_cmp);
            for k in 0..PEAKS {
                x[(i, k)] = pos[k];
                x[(i, PEAKS + k)] = uniform(rng, Self::WIDTH_RANGE);
                x[(i, 2 * PEAKS + k)] = uniform(rng, Self::HEIGHT_RANGE);
            }
        }
        x
    }

    /// The noise-free spectrum of one parameter vector (length 9): `bins` values.
    fn clean(&self, x: &[f64]) -> Vec<f64> {
        (0..self.bins)
            .map(|j| {
                let u = (j as f64 + 0.5) / self.bins as f64;
                (0..PEAKS)
                    .map(|k| {
                        let r = (u - x[k]) / x[PEAKS + k];
                        x[2 * PEAKS + k] / (1.0 + r * r)
                    })
                    .sum()
            })
            .collect()
    }

    /// The noise-free spectra of the rows of `x` (`n × 9`): `n × bins`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a width other than 9, [`Error::NonFiniteInput`].
    pub fn clean_spectra(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.check_x(x, "clean_spectra x")?;
        let mut y = DMatrix::zeros(x.nrows(), self.bins);
        for (i, row) in x.row_iter().enumerate() {
            let params: Vec<f64> = row.iter().copied().collect();
            for (j, v) in self.clean(&params).into_iter().enumerate() {
                y[(i, j)] = v;
            }
        }
        Ok(y)
    }

    /// Simulates `n` pairs: `x` from the prior ([`LorentzSpectrum::sample_prior`]), then the
    /// spectrum plus noise. Returns `(x, y)`: `n × 9` and `n × bins`, one pair per row.
    pub fn simulate(&self, n: usize, rng: &mut impl Rng) -> (DMatrix<f64>, DMatrix<f64>) {
        let x = self.sample_prior(n, rng);
        let mut y = self
            .clean_spectra(&x)
            .expect("prior draws have the right width and are finite");
        y.iter_mut()
            .for_each(|v| *v += self.noise_std * rng.sample::<f64, _>(StandardNormal));
        (x, y)
    }

    /// `ln p(x)` of each row of `x` (`n × 9`): `ln(3!/0.8³) − 3 ln 0.025 − 3 ln 1` inside the
    /// support (positions sorted within their range, widths and heights within theirs),
    /// `−∞` outside. Returns an `n × 1` column.
    ///
    /// # Errors
    /// As [`LorentzSpectrum::clean_spectra`].
    pub fn log_prior(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.check_x(x, "log_prior x")?;
        let span = |(lo, hi): (f64, f64)| hi - lo;
        let inside = |v: f64, (lo, hi): (f64, f64)| (lo..=hi).contains(&v);
        let log_density = (6.0f64).ln()
            - PEAKS as f64
                * (span(Self::POSITION_RANGE).ln()
                    + span(Self::WIDTH_RANGE).ln()
                    + span(Self::HEIGHT_RANGE).ln());
        Ok(DMatrix::from_fn(x.nrows(), 1, |i, _| {
            let ok = (0..PEAKS).all(|k| {
                inside(x[(i, k)], Self::POSITION_RANGE)
                    && inside(x[(i, PEAKS + k)], Self::WIDTH_RANGE)
                    && inside(x[(i, 2 * PEAKS + k)], Self::HEIGHT_RANGE)
                    && (k == 0 || x[(i, k - 1)] <= x[(i, k)])
            });
            if ok { log_density } else { f64::NEG_INFINITY }
        }))
    }

    /// `ln p(yᵢ | xᵢ) = −½ Σ_j (y_ij − f_j(xᵢ))² / σ² − (bins/2) ln 2πσ²` of each pair: `x` is
    /// `n × 9`, `y` is `n × bins`, `n ≥ 1`; returns an `n × 1` column. With
    /// [`LorentzSpectrum::log_prior`] it gives the unnormalised posterior for a reference
    /// sampler (MCMC, importance sampling).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NonFiniteInput`].
    pub fn log_likelihood(&self, x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.check_x(x, "log_likelihood x")?;
        check_batch(
            y,
            (Some(x.nrows()), self.bins),
            "log_likelihood y",
            "an n×bins batch, n the rows of x",
        )?;
        let f = self.clean_spectra(x)?;
        let var = self.noise_std * self.noise_std;
        let constant = -0.5 * self.bins as f64 * (2.0 * PI * var).ln();
        Ok(DMatrix::from_fn(x.nrows(), 1, |i, _| {
            let sq: f64 = (0..self.bins)
                .map(|j| (y[(i, j)] - f[(i, j)]).powi(2))
                .sum();
            constant - 0.5 * sq / var
        }))
    }

    /// `n` reference posterior samples of `x` given one spectrum `y` (length `bins`), from an
    /// adaptive random-walk Metropolis chain ([`McmcOptions`]) on `ln p(x) + ln p(y | x)`,
    /// started at `start` (length 9, inside the prior's support). Start it at the `x` that
    /// simulated `y`: a pair from the joint distribution makes that `x` an exact posterior draw
    /// for `y`, so the chain starts in its stationary distribution (no burn-in bias, and no
    /// search for the mode among the peaks' assignments). Returns an `n × 9` matrix.
    ///
    /// The posterior of an isolated peak is close to Gaussian; when two peaks overlap it is
    /// not, and a random walk mixes slowly there: check such cases with longer chains.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for lengths other than `bins` and 9,
    /// [`Error::NonFiniteInput`], [`Error::InvalidParameter`] (`start`) for a start outside the
    /// support.
    pub fn posterior_sample_mcmc(
        &self,
        y: &[f64],
        start: &[f64],
        n: usize,
        options: McmcOptions,
        rng: &mut impl Rng,
    ) -> Result<DMatrix<f64>> {
        if y.len() != self.bins {
            return Err(Error::shape_mismatch(
                "posterior_sample_mcmc y",
                "one spectrum of bins values",
                (1, y.len()),
            ));
        }
        check_finite(
            &DMatrix::from_row_slice(1, y.len(), y),
            "posterior_sample_mcmc y",
        )?;
        let start_row = DMatrix::from_row_slice(1, start.len(), start);
        self.check_x(&start_row, "posterior_sample_mcmc start")?;
        let log_prior = self.log_prior(&start_row)?[(0, 0)];
        let var = self.noise_std * self.noise_std;
        let log_density = |x: &[f64]| {
            let prior = self
                .log_prior(&DMatrix::from_row_slice(1, x.len(), x))
                .map_or(f64::NEG_INFINITY, |lp| lp[(0, 0)]);
            if !prior.is_finite() {
                return f64::NEG_INFINITY;
            }
            let sq: f64 = self
                .clean(x)
                .iter()
                .zip(y)
                .map(|(f, v)| (v - f) * (v - f))
                .sum();
            prior - 0.5 * sq / var
        };
        if !log_prior.is_finite() {
            return Err(Error::InvalidParameter {
                name: "start",
                value: log_prior,
                reason: "the chain must start inside the prior's support (sorted positions)",
            });
        }
        // Initial proposal scales: 1% of each prior range.
        let span = |(lo, hi): (f64, f64)| 0.01 * (hi - lo);
        let scales: Vec<f64> = [Self::POSITION_RANGE, Self::WIDTH_RANGE, Self::HEIGHT_RANGE]
            .iter()
            .flat_map(|&r| std::iter::repeat_n(span(r), PEAKS))
            .collect();
        adaptive_metropolis(log_density, start, &scales, n, options, rng)
    }

    fn check_x(&self, x: &DMatrix<f64>, what: &'static str) -> Result<()> {
        let expected = "an n×9 batch (3 positions, 3 widths, 3 heights) with n ≥ 1";
        check_batch(x, (None, self.x_dim()), what, expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn prior_draws_are_sorted_and_inside_the_support() {
        let problem = LorentzSpectrum::standard();
        let mut rng = StdRng::seed_from_u64(0);
        let x = problem.sample_prior(5000, &mut rng);
        assert_eq!(x.shape(), (5000, 9));
        let lp = problem.log_prior(&x).unwrap();
        let expected = 6f64.ln() - 3.0 * (0.8f64.ln() + 0.025f64.ln() + 1f64.ln());
        assert!(lp.iter().all(|&v| (v - expected).abs() < 1e-12));
        // Order statistics of U[0.1, 0.9]: means 0.1 + 0.8·k/4.
        for k in 0..3 {
            let m = x.column(k).mean();
            assert!(
                (m - (0.1 + 0.8 * (k + 1) as f64 / 4.0)).abs() < 0.01,
                "{k}: {m}"
            );
        }
        let mut unsorted = x.rows(0, 1).into_owned();
        unsorted.swap_columns(0, 2);
        assert_eq!(
            problem.log_prior(&unsorted).unwrap()[(0, 0)],
            f64::NEG_INFINITY
        );
    }

    #[test]
    fn spectra_have_their_peaks_and_the_noise_its_variance() {
        let problem = LorentzSpectrum::standard();
        let mut rng = StdRng::seed_from_u64(1);
        let (x, y) = problem.simulate(200, &mut rng);
        assert_eq!(y.shape(), (200, 200));
        let clean = problem.clean_spectra(&x).unwrap();
        let resid = &y - &clean;
        let var = resid.iter().map(|v| v * v).sum::<f64>() / resid.len() as f64;
        assert!((var / 0.0025 - 1.0).abs() < 0.02, "{var}");
        // A single peak at a bin centre reaches its height there and half of it at ±w.
        let one =
            DMatrix::from_row_slice(1, 9, &[0.5025, 0.8, 0.9, 0.02, 0.01, 0.01, 1.2, 0.0, 0.0]);
        let f = problem.clean_spectra(&one).unwrap();
        let peak_bin = 100; // u = 100.5/200 = 0.5025
        assert!(f[(0, peak_bin)] > 1.2 - 1e-3);
        let at_w = problem
            .clean_spectra(&DMatrix::from_row_slice(
                1,
                9,
                &[0.5025 - 0.02, 0.8, 0.9, 0.02, 0.01, 0.01, 1.2, 0.0, 0.0],
            ))
            .unwrap();
        assert!((at_w[(0, peak_bin)] - 0.6).abs() < 1e-12);
        // The likelihood prefers the truth to a shifted peak.
        let ll = problem
            .log_likelihood(&x.rows(0, 1).into_owned(), &y.rows(0, 1).into_owned())
            .unwrap();
        let mut moved = x.rows(0, 1).into_owned();
        moved[(0, 1)] += 0.05;
        let ll_moved = problem
            .log_likelihood(&moved, &y.rows(0, 1).into_owned())
            .unwrap();
        assert!(ll[(0, 0)] > ll_moved[(0, 0)] + 10.0);
    }

    /// Reference samples stay in the support, centre on the truth (within a few posterior
    /// standard deviations) and are much narrower than the prior.
    #[test]
    fn mcmc_posterior_concentrates_on_the_truth() {
        let problem = LorentzSpectrum::standard();
        let mut rng = StdRng::seed_from_u64(5);
        let (x, y) = problem.simulate(1, &mut rng);
        let truth: Vec<f64> = x.row(0).iter().copied().collect();
        let obs: Vec<f64> = y.row(0).iter().copied().collect();
        let draws = problem
            .posterior_sample_mcmc(&obs, &truth, 2000, McmcOptions::default(), &mut rng)
            .unwrap();
        assert_eq!(draws.shape(), (2000, 9));
        assert!(
            problem
                .log_prior(&draws)
                .unwrap()
                .iter()
                .all(|v| v.is_finite())
        );
        for (k, (col, t)) in draws.column_iter().zip(&truth).enumerate() {
            let m = col.mean();
            let sd = col.variance().sqrt();
            assert!(sd > 0.0, "coordinate {k} never moved");
            assert!((m - t).abs() < 5.0 * sd, "{k}: {m} ± {sd} vs {t}");
        }
        // Positions are pinned to a small fraction of their 0.8-wide prior range.
        assert!(draws.column(0).variance().sqrt() < 0.01);
        assert!(matches!(
            problem.posterior_sample_mcmc(
                &obs,
                &[0.5, 0.4, 0.3, 0.01, 0.01, 0.01, 1.0, 1.0, 1.0],
                5,
                McmcOptions::default(),
                &mut rng
            ),
            Err(Error::InvalidParameter { name: "start", .. })
        ));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let problem = LorentzSpectrum::standard();
        assert!(LorentzSpectrum::new(0, 0.1).is_err());
        assert!(LorentzSpectrum::new(10, -0.1).is_err());
        assert!(matches!(
            problem.clean_spectra(&DMatrix::zeros(2, 8)),
            Err(Error::ShapeMismatch { columns: 8, .. })
        ));
        let x = problem.sample_prior(2, &mut StdRng::seed_from_u64(2));
        assert!(problem.log_likelihood(&x, &DMatrix::zeros(2, 199)).is_err());
        let mut y = DMatrix::zeros(2, 200);
        y[(1, 3)] = f64::NAN;
        assert!(matches!(
            problem.log_likelihood(&x, &y),
            Err(Error::NonFiniteInput {
                row: 1,
                column: 3,
                ..
            })
        ));
    }
}
