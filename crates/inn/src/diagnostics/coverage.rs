//! Expected coverage: how often the truth lies inside the posterior's α-credible regions.

use super::{PosteriorDraws, SbcParameter};
use crate::{Error, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Expected coverage of credible regions at the levels α.
///
/// A calibrated posterior covers the truth a fraction α of the time at every level: the
/// coverage curve lies on the diagonal, within the binomial error `√(α(1−α)/N)`. A curve below
/// the diagonal (positive under-coverage `α − coverage(α)`) is an overconfident posterior whose
/// regions are too small or misplaced; above it, an underconfident one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The levels α.
    pub levels: Vec<f64>,
    /// `central[j][k]`: fraction of observations whose `x*_j` lies in the central
    /// `levels[k]`-interval of the draws of `x_j` (between their `(1 − α)/2` and `(1 + α)/2`
    /// quantiles, decided by the randomised PIT: `|u − 1/2| ≤ α/2`).
    pub central: Vec<Vec<f64>>,
    /// Per parameter, the largest under-coverage `max_k (α_k − central[j][k])` (negative when
    /// every level over-covers).
    pub central_under_coverage: Vec<f64>,
    /// The largest of `central_under_coverage`.
    pub central_largest_under_coverage: f64,
    /// Fraction of observations whose `x*` lies in the joint highest-density α-region of the
    /// posterior, where log-densities were given: `x*` is inside iff the fraction of draws
    /// with `ln q(draw | y) > ln q(x* | y)` (ties broken at random, over `L + 1`) is at most α.
    pub hpd: Option<Vec<f64>>,
    /// `max_k (α_k − hpd[k])`, where `hpd` is given.
    pub hpd_largest_under_coverage: Option<f64>,
    /// The binomial standard error `√(α(1 − α)/N)` of a coverage at each level.
    pub standard_error: Vec<f64>,
}

/// The [`Coverage`] of `draws` at `levels` (each in (0, 1)), central from the PIT values of
/// `sbc` (one per parameter), highest-density from the log-densities of `draws` where it has
/// them; `rng` breaks log-density ties.
///
/// # Errors
/// [`Error::Config`] for no levels, a level outside (0, 1) or `sbc` of another shape.
pub fn coverage<R: Rng + ?Sized>(
    draws: &PosteriorDraws,
    sbc: &[SbcParameter],
    levels: &[f64],
    rng: &mut R,
) -> Result<Coverage> {
    let n = draws.n_obs();
    if levels.is_empty() || levels.iter().any(|a| !(*a > 0.0 && *a < 1.0)) {
        return Err(Error::Config(
            "coverage: levels must be a non-empty list in (0, 1)".into(),
        ));
    }
    if sbc.len() != draws.dim() || sbc.iter().any(|s| s.pit.len() != n) {
        return Err(Error::Config(
            "coverage: the SBC results are for other draws".into(),
        ));
    }
    let fraction = |inside: &dyn Fn(f64, f64) -> bool, values: &[f64]| -> Vec<f64> {
        levels
            .iter()
            .map(|&a| values.iter().filter(|&&u| inside(u, a)).count() as f64 / n as f64)
            .collect()
    };
    let under = |cov: &[f64]| {
        levels
            .iter()
            .zip(cov)
            .map(|(a, c)| a - c)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let central: Vec<Vec<f64>> = sbc
        .iter()
        .map(|s| fraction(&|u, a| (u - 0.5).abs() <= a / 2.0, &s.pit))
        .collect();
    let central_under_coverage: Vec<f64> = central.iter().map(|c| under(c)).collect();
    let central_largest_under_coverage = central_under_coverage
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let hpd = draws.log_density.as_ref().map(|lq| {
        let l = draws.n_draws();
        let v: Vec<f64> = lq
            .truth
            .iter()
            .zip(&lq.draws)
            .map(|(&t, row)| {
                let (above, equal) = row.iter().fold((0, 0), |(gt, eq), &v| {
                    (gt + usize::from(v > t), eq + usize::from(v == t))
                });
                (above as f64 + rng.random::<f64>() * (equal + 1) as f64) / (l + 1) as f64
            })
            .collect();
        fraction(&|v, a| v <= a, &v)
    });
    let hpd_largest_under_coverage = hpd.as_deref().map(under);
    Ok(Coverage {
        levels: levels.to_vec(),
        central,
        central_under_coverage,
        central_largest_under_coverage,
        hpd,
        hpd_largest_under_coverage,
        standard_error: levels
            .iter()
            .map(|a| (a * (1.0 - a) / n as f64).sqrt())
            .collect(),
    })
}
