//! Calibration diagnostics: can the posterior of a model be trusted?
//!
//! A posterior `q(x | y)` is *calibrated* when its credible regions hold the truth as often as
//! they claim: over pairs `(x*, y)` from the joint distribution (the prior and the simulator),
//! `x*` falls inside the α-credible region of `q(· | y)` a fraction α of the time, for every α.
//! Equivalently (Talts et al. 2018, "Validating Bayesian inference algorithms with
//! simulation-based calibration"), the rank of `x*` among `L` posterior draws is uniform on
//! `{0, …, L}`. The checks here take `N` held-out pairs and `L` draws per observation
//! ([`PosteriorDraws`], from any [`Model`] that samples a posterior or from plain arrays, so the
//! output of other tools can be checked too) and report, per parameter:
//!
//! | check | what a calibrated model shows |
//! |---|---|
//! | [`sbc`]: ranks, χ² on binned ranks, the ECDF difference with a simultaneous band (Säilynoja, Bürkner & Vehtari 2022) | flat histogram, χ² p-value not small, ECDF difference inside the band |
//! | [`coverage`]: expected coverage of central (per parameter) and highest-density (joint) credible regions | coverage curve on the diagonal: coverage(α) ≈ α |
//! | [`recovery`]: posterior mean, median, credible interval against `x*`, R² | points along the diagonal where the data inform the parameter; R² is a measure of informativeness, not calibration |
//! | [`recovery`]: contraction `1 − Var_post / Var_prior` and z-score `(mean − x*)/sd` | mean z ≈ 0 and RMS z ≈ 1 whatever the contraction |
//! | [`c2st_against_reference`]: classifier two-sample test against reference draws | accuracy ≈ 0.5 |
//!
//! and a [`Verdict`] per parameter (calibrated / overconfident / underconfident / biased) with
//! the thresholds of [`Thresholds`]. Everything is computed in `f64`; the results serialise to
//! JSON (serde).
//!
//! ```
//! use inn::diagnostics::{DiagnosticsConfig, PosteriorDraws, VerdictKind, diagnose};
//! use inn::autodiff::nalgebra::DMatrix;
//! use rand::{Rng, SeedableRng};
//! use rand_distr::StandardNormal;
//!
//! // x* ~ N(0, 1), y = x* + ε with ε ~ N(0, 1): the posterior is N(y/2, 1/2).
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let (n, l) = (300, 200);
//! let truth = DMatrix::<f64>::from_fn(n, 1, |_, _| rng.sample(StandardNormal));
//! let y: Vec<f64> = (0..n).map(|i| truth[(i, 0)] + rng.sample::<f64, _>(StandardNormal)).collect();
//! let draws: Vec<DMatrix<f64>> = (0..n)
//!     .map(|i| DMatrix::from_fn(l, 1, |_, _| y[i] / 2.0 + 0.5f64.sqrt() * rng.sample::<f64, _>(StandardNormal)))
//!     .collect();
//! let input = PosteriorDraws::new(truth, draws)?;
//! let report = diagnose(&input, None, &DiagnosticsConfig::default(), &mut rng)?;
//! assert_eq!(report.verdicts[0].kind, VerdictKind::Calibrated);
//! assert!(report.coverage.central_largest_under_coverage < 0.1);
//! # Ok::<(), inn::Error>(())
//! ```

mod coverage;
mod recovery;
mod sbc;
mod verdict;

pub use coverage::{Coverage, coverage};
pub use recovery::{ParameterRecovery, recovery};
pub use sbc::{EcdfBand, SbcParameter, ecdf_band, sbc};
pub use verdict::{Thresholds, Verdict, VerdictKind, verdict};

use crate::eval::{C2stConfig, C2stResult, c2st};
use crate::{Error, Model, Result};
use autodiff::Float;
use autodiff::nalgebra::DMatrix;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

/// `N` held-out true parameters and `L` posterior draws for each of their observations, with
/// the posterior log-density of each where the model has one.
///
/// Invariants (checked by [`PosteriorDraws::new`]): `N ≥ 1`, `d ≥ 1`, `L ≥ 1`; `truth` is
/// `N × d` (one true `x*` per row); `draws[i]` is `L × d` (one draw of `q(x | yᵢ)` per row); every
/// value is finite.
#[derive(Clone, Debug)]
pub struct PosteriorDraws {
    truth: DMatrix<f64>,
    draws: Vec<DMatrix<f64>>,
    log_density: Option<LogDensities>,
}

/// `ln q(x*ᵢ | yᵢ)` and `ln q(x | yᵢ)` at every draw.
#[derive(Clone, Debug)]
struct LogDensities {
    truth: Vec<f64>,
    draws: Vec<Vec<f64>>,
}

impl PosteriorDraws {
    /// Checks and wraps the true parameters (`N × d`, one per row) and the draws (`N` matrices of
    /// `L × d`, the `i`-th drawn for the observation of row `i`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for no observations, no parameters, no draws or draws of another
    /// count or width than the first; [`Error::NonFiniteInput`] naming the observation's row and
    /// column (`"truth"`) or, for a draw, the observation in `what` and the draw's row.
    pub fn new(truth: DMatrix<f64>, draws: Vec<DMatrix<f64>>) -> Result<Self> {
        let (n, d) = truth.shape();
        if n == 0 || d == 0 || draws.len() != n {
            return Err(Error::shape_mismatch(
                "diagnostics: truth",
                "an N×d matrix with N, d ≥ 1 and one draw matrix per row",
                (n, d),
            ));
        }
        finite(&truth, "diagnostics: truth")?;
        let l = draws[0].nrows();
        for m in &draws {
            if m.nrows() != l || m.ncols() != d || l == 0 {
                return Err(Error::shape_mismatch(
                    "diagnostics: draws",
                    "L×d draws for every observation, L ≥ 1, the same L throughout",
                    m.shape(),
                ));
            }
            finite(m, "diagnostics: draws (row = draw)")?;
        }
        Ok(Self {
            truth,
            draws,
            log_density: None,
        })
    }

    /// Adds the posterior log-densities `ln q(x*ᵢ | yᵢ)` (length `N`) and `ln q(draw | yᵢ)`
    /// (`N` vectors of length `L`), which enable the highest-density coverage. Only their order
    /// within an observation matters, so any constant offset (units) is harmless.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for other lengths, [`Error::NonFiniteInput`] (row = observation,
    /// column = draw) for NaN; `−∞` is allowed (a point outside the support).
    pub fn with_log_density(mut self, truth: Vec<f64>, draws: Vec<Vec<f64>>) -> Result<Self> {
        let (n, l) = (self.n_obs(), self.n_draws());
        if truth.len() != n || draws.len() != n || draws.iter().any(|v| v.len() != l) {
            return Err(Error::shape_mismatch(
                "diagnostics: log-densities",
                "N values for the truth and N vectors of L for the draws",
                (draws.len(), truth.len()),
            ));
        }
        let nan = |row: usize, column: usize, value: f64| Error::NonFiniteInput {
            what: "diagnostics: log-density (column = draw, or 0 for the truth)",
            row,
            column,
            value,
        };
        for (i, &v) in truth.iter().enumerate() {
            if v.is_nan() || v == f64::INFINITY {
                return Err(nan(i, 0, v));
            }
        }
        for (i, row) in draws.iter().enumerate() {
            if let Some(j) = row.iter().position(|v| v.is_nan() || *v == f64::INFINITY) {
                return Err(nan(i, j, row[j]));
            }
        }
        self.log_density = Some(LogDensities { truth, draws });
        Ok(self)
    }

    /// Draws `n_draws` posterior samples for every row of `y` (`N × y_dim`) from `model`, and
    /// where the model has a density, the log-densities of the draws and of `x_true` (`N × d`,
    /// row `i` generated `y` row `i`). `progress` is called with the number of observations
    /// done after each chunk.
    ///
    /// # Errors
    /// [`Error::Config`] for a model without posterior (a density over `x` alone), `n_draws =
    /// 0` or `x_true`/`y` of other row counts; the model's errors; those of [`Self::new`].
    pub fn from_model<T: Float>(
        model: &dyn Model<T>,
        x_true: &DMatrix<T>,
        y: &DMatrix<T>,
        n_draws: usize,
        rng: &mut dyn RngCore,
        mut progress: impl FnMut(usize),
    ) -> Result<Self> {
        let n = y.nrows();
        if x_true.nrows() != n || n_draws == 0 {
            return Err(Error::Config(format!(
                "diagnostics: {} true parameters for {n} observations and {n_draws} draws each \
                 (need equal counts and at least one draw)",
                x_true.nrows()
            )));
        }
        // Chunks of observations bound the memory of one call and pace the progress.
        let chunk = (20_000 / n_draws).clamp(1, 64);
        let mut draws = Vec::with_capacity(n);
        let mut log_draws = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let rows = chunk.min(n - start);
            let y_chunk = y.rows(start, rows).into_owned();
            let samples = model.posterior(&y_chunk, n_draws, rng).ok_or_else(|| {
                Error::Config(format!(
                    "diagnostics: a {} model has no posterior p(x | y) to check",
                    model.kind()
                ))
            })??;
            for (k, s) in samples.into_iter().enumerate() {
                let y_rep = DMatrix::from_fn(n_draws, y.ncols(), |_, j| y_chunk[(k, j)]);
                if let Some(lp) = model.log_density(&s, Some(&y_rep)) {
                    log_draws.push(lp?.iter().map(|v| v.to_f64()).collect::<Vec<f64>>());
                }
                draws.push(s.map(|v| v.to_f64()));
            }
            start += rows;
            progress(start);
        }
        let out = Self::new(x_true.map(|v| v.to_f64()), draws)?;
        match model.log_density(x_true, Some(y)) {
            Some(lp) if log_draws.len() == n => {
                let truth = lp?.iter().map(|v| v.to_f64()).collect();
                out.with_log_density(truth, log_draws)
            }
            _ => Ok(out),
        }
    }

    /// Number of observations `N`.
    pub fn n_obs(&self) -> usize {
        self.truth.nrows()
    }

    /// Number of parameters `d`.
    pub fn dim(&self) -> usize {
        self.truth.ncols()
    }

    /// Draws per observation `L`.
    pub fn n_draws(&self) -> usize {
        self.draws[0].nrows()
    }

    /// The true parameters, `N × d`.
    pub fn truth(&self) -> &DMatrix<f64> {
        &self.truth
    }

    /// The draws, `N` matrices of `L × d`.
    pub fn draws(&self) -> &[DMatrix<f64>] {
        &self.draws
    }

    /// Whether log-densities were given (the highest-density coverage needs them).
    pub fn has_log_density(&self) -> bool {
        self.log_density.is_some()
    }

    /// The same draws with every value mapped to `a_j + b_j·v` per column `j` (`b_j > 0`), e.g.
    /// from standardised to data units; ranks, coverage, z-scores and contraction do not change,
    /// the recovery is reported in the new units.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `offset` or `scale` do not have `d` entries;
    /// [`Error::Config`] for a scale that is not positive and finite.
    pub fn affine(mut self, offset: &[f64], scale: &[f64]) -> Result<Self> {
        let d = self.dim();
        if offset.len() != d || scale.len() != d {
            return Err(Error::shape_mismatch(
                "diagnostics: affine offset and scale",
                "d entries each",
                (offset.len(), scale.len()),
            ));
        }
        if let Some(j) = scale.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::Config(format!(
                "diagnostics: scale {} of column {j} is not positive and finite",
                scale[j]
            )));
        }
        let map = |m: &mut DMatrix<f64>| {
            for (j, mut col) in m.column_iter_mut().enumerate() {
                col.iter_mut().for_each(|v| *v = offset[j] + scale[j] * *v);
            }
        };
        map(&mut self.truth);
        self.draws.iter_mut().for_each(map);
        Ok(self)
    }
}

fn finite(m: &DMatrix<f64>, what: &'static str) -> Result<()> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            if !m[(i, j)].is_finite() {
                return Err(Error::NonFiniteInput {
                    what,
                    row: i,
                    column: j,
                    value: m[(i, j)],
                });
            }
        }
    }
    Ok(())
}

/// Options of [`diagnose`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticsConfig {
    /// Credible levels α of the coverage curves. Default 0.01, 0.02, …, 0.99.
    pub levels: Vec<f64>,
    /// Level of the central credible interval of the recovery plot. Default 0.9.
    pub interval: f64,
    /// Simultaneous confidence level of the ECDF band. Default 0.95.
    pub band_level: f64,
    /// Uniform samples simulated to find the band. Default 1000.
    pub band_simulations: usize,
    /// Most evaluation points of the ECDF (`K = min(N, this)`). Default 100.
    pub ecdf_points: usize,
    /// Most bins of the rank histogram and its χ² test (`B = min(this, max(2, ⌊N/5⌋))`, so
    /// that each bin expects at least 5 ranks where `N` allows). Default 20.
    pub bins: usize,
    /// Thresholds of the verdict.
    pub thresholds: Thresholds,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        Self {
            levels: (1..100).map(|k| f64::from(k) / 100.0).collect(),
            interval: 0.9,
            band_level: 0.95,
            band_simulations: 1000,
            ecdf_points: 100,
            bins: 20,
            thresholds: Thresholds::default(),
        }
    }
}

/// Everything [`diagnose`] measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Observations `N`.
    pub n_obs: usize,
    /// Draws per observation `L`.
    pub n_draws: usize,
    /// The simultaneous ECDF band all parameters are compared with.
    pub band: EcdfBand,
    /// Per parameter: ranks, their χ² test and ECDF difference.
    pub sbc: Vec<SbcParameter>,
    /// Expected coverage, central per parameter and joint highest-density.
    pub coverage: Coverage,
    /// Per parameter: recovery, contraction and z-scores.
    pub recovery: Vec<ParameterRecovery>,
    /// Per parameter: the verdict.
    pub verdicts: Vec<Verdict>,
}

/// Runs every check on `draws`: [`sbc`] against the [`ecdf_band`], [`coverage`], [`recovery`]
/// (prior variances `prior_var`, one per parameter, e.g. of the training table; `None` takes the
/// variance of the true parameters, which are draws from the prior) and a [`verdict`] per
/// parameter. `rng` breaks rank ties (the randomised PIT) and simulates the band, so a fixed
/// seed gives the same report.
///
/// # Errors
/// [`Error::Config`] for options out of range (a level outside (0, 1), zero simulations or
/// points) or a prior variance that is not positive and finite; [`Error::ShapeMismatch`] for
/// `prior_var` of another length.
pub fn diagnose<R: Rng + ?Sized>(
    draws: &PosteriorDraws,
    prior_var: Option<&[f64]>,
    config: &DiagnosticsConfig,
    rng: &mut R,
) -> Result<Diagnostics> {
    let band = ecdf_band(
        draws.n_obs(),
        config.ecdf_points,
        config.band_level,
        config.band_simulations,
        rng,
    )?;
    let sbc = sbc(draws, &band, config.bins, rng)?;
    let coverage = coverage(draws, &sbc, &config.levels, rng)?;
    let recovery = recovery(draws, prior_var, config.interval)?;
    let verdicts = sbc
        .iter()
        .zip(&recovery)
        .map(|(s, r)| verdict(s, r, &config.thresholds))
        .collect();
    Ok(Diagnostics {
        n_obs: draws.n_obs(),
        n_draws: draws.n_draws(),
        band,
        sbc,
        coverage,
        recovery,
        verdicts,
    })
}

/// The classifier two-sample test ([`crate::eval::c2st`]) of the posterior draws of each
/// observation against reference draws of the same observation (`references[i]`, `Lᵢ × d`, e.g.
/// from the exact posterior or a trusted sampler), for the observations `which`.
///
/// A calibrated and accurate posterior gives accuracy ≈ 0.5 for every observation (the
/// classifier cannot tell the samples apart); 1.0 means they do not overlap. Calibration alone
/// does not imply 0.5: a posterior that is the prior passes SBC but fails C2ST.
///
/// # Errors
/// [`Error::ShapeMismatch`] when there are not `N` references or an index is out of range;
/// errors of [`c2st`].
pub fn c2st_against_reference<R: Rng + ?Sized>(
    draws: &PosteriorDraws,
    references: &[DMatrix<f64>],
    which: &[usize],
    config: &C2stConfig,
    rng: &mut R,
) -> Result<Vec<C2stResult>> {
    if references.len() != draws.n_obs() || which.iter().any(|&i| i >= draws.n_obs()) {
        return Err(Error::shape_mismatch(
            "c2st_against_reference: references",
            "one reference matrix per observation, indices below N",
            (references.len(), draws.dim()),
        ));
    }
    which
        .iter()
        .map(|&i| c2st(&draws.draws()[i], &references[i], config, rng))
        .collect()
}

#[cfg(test)]
mod tests;
