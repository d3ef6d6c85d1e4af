//! Simulation-based calibration: the rank of each true parameter among its posterior draws, a
//! χ² test of their uniformity, and the ECDF difference with a simultaneous confidence band.

use super::PosteriorDraws;
use crate::eval::quantile_sorted;
use crate::{Error, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF};

/// A simultaneous confidence band for the ECDF difference `F̂(z) − z` of `n` independent
/// uniform values, at the points `grid` (Säilynoja, Bürkner & Vehtari 2022, "Graphical test for
/// discrete uniformity and its applications in goodness-of-fit evaluation and multiple sample
/// comparison", Statistics and Computing 32, the simulation method).
///
/// With probability `level` the whole ECDF difference of `n` uniform values stays inside
/// `[lower_k, upper_k]` at every `grid[k]` at once (up to the Monte Carlo error of the
/// simulation), so one excursion anywhere rejects uniformity at level `1 − level`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EcdfBand {
    /// Number of values `n` the band is for.
    pub n: usize,
    /// The simultaneous coverage `1 − α`.
    pub level: f64,
    /// Simulated uniform samples.
    pub simulations: usize,
    /// The points `z_k = k/K`, `k = 1, …, K − 1`.
    pub grid: Vec<f64>,
    /// The pointwise level `γ` whose binomial intervals together cover with `level`.
    pub gamma: f64,
    /// Lower bound of `F̂(z_k) − z_k`: `Binom⁻¹(γ/2; n, z_k)/n − z_k`.
    pub lower: Vec<f64>,
    /// Upper bound of `F̂(z_k) − z_k`: `Binom⁻¹(1 − γ/2; n, z_k)/n − z_k`.
    pub upper: Vec<f64>,
}

/// The band of [`EcdfBand`] for `n` values at `K − 1` points, `K = max(2, min(n, max_points))`:
/// `simulations` samples of `n` uniform values are drawn with `rng`; for each, the smallest
/// two-sided binomial tail probability `2·min(P(B ≤ c_k), P(B ≥ c_k))` of its counts `c_k =
/// n F̂(z_k)` over the grid (`B ~ Binomial(n, z_k)`) is recorded; `γ` is the `(1 − level)`
/// quantile of these minima, and the band is the binomial `γ/2` and `1 − γ/2` quantiles.
///
/// # Errors
/// [`Error::Config`] for `n = 0`, `max_points < 2`, `simulations = 0` or `level` outside (0, 1).
pub fn ecdf_band<R: Rng + ?Sized>(
    n: usize,
    max_points: usize,
    level: f64,
    simulations: usize,
    rng: &mut R,
) -> Result<EcdfBand> {
    if n == 0 || max_points < 2 || simulations == 0 || !(level > 0.0 && level < 1.0) {
        return Err(Error::Config(format!(
            "ecdf_band: n = {n}, max_points = {max_points}, simulations = {simulations} and \
             level = {level} must be ≥ 1, ≥ 2, ≥ 1 and in (0, 1)"
        )));
    }
    let k_points = n.min(max_points).max(2);
    let grid: Vec<f64> = (1..k_points).map(|k| k as f64 / k_points as f64).collect();
    let binomials = grid
        .iter()
        .map(|&z| Binomial::new(z, n as u64))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("ecdf_band: {e}")))?;
    // tail[k][c] = min(1, 2·min(P(B ≤ c), P(B ≥ c))), tabulated once for every count c.
    let tail: Vec<Vec<f64>> = binomials
        .iter()
        .map(|b| {
            (0..=n as u64)
                .map(|c| {
                    let at_least = if c == 0 { 1.0 } else { b.sf(c - 1) };
                    (2.0 * b.cdf(c).min(at_least)).min(1.0)
                })
                .collect()
        })
        .collect();
    let mut minima = Vec::with_capacity(simulations);
    let mut u = vec![0.0f64; n];
    for _ in 0..simulations {
        u.iter_mut().for_each(|v| *v = rng.random::<f64>());
        u.sort_by(f64::total_cmp);
        let mut count = 0;
        let mut smallest = 1.0f64;
        for (k, &z) in grid.iter().enumerate() {
            while count < n && u[count] <= z {
                count += 1;
            }
            smallest = smallest.min(tail[k][count]);
        }
        minima.push(smallest);
    }
    minima.sort_by(f64::total_cmp);
    let gamma = quantile_sorted(&minima, 1.0 - level).unwrap_or(0.0);
    let nf = n as f64;
    let lower = binomials
        .iter()
        .zip(&grid)
        .map(|(b, z)| b.inverse_cdf(gamma / 2.0) as f64 / nf - z)
        .collect();
    let upper = binomials
        .iter()
        .zip(&grid)
        .map(|(b, z)| b.inverse_cdf(1.0 - gamma / 2.0) as f64 / nf - z)
        .collect();
    Ok(EcdfBand {
        n,
        level,
        simulations,
        grid,
        gamma,
        lower,
        upper,
    })
}

/// Simulation-based calibration of one parameter.
///
/// A calibrated posterior gives ranks uniform on `{0, …, L}`: a flat histogram, a χ² p-value
/// that is not small (it is itself uniform), an ECDF difference inside the band, `pit_mean ≈ 1/2`
/// and `pit_spread ≈ 1/4`. An overconfident (too narrow) posterior puts the truth in its tails
/// (∪-shaped histogram, `pit_spread > 1/4`, ECDF difference above zero on the left and below on
/// the right); an underconfident one puts it in the middle (∩-shaped, `pit_spread < 1/4`); a
/// biased one piles ranks at one end (`pit_mean ≠ 1/2`, an ECDF difference of one sign).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SbcParameter {
    /// Rank of `x*_j` among the draws of its observation, `#{draws < x*_j}` (ties broken at
    /// random), in `0..=L`, per observation.
    pub ranks: Vec<usize>,
    /// The randomised probability integral transform `uᵢ = (#{draws < x*} + V·(#{draws = x*}
    /// + 1))/(L + 1)`, `V ~ U(0, 1)`: exactly uniform on (0, 1) for a calibrated posterior.
    pub pit: Vec<f64>,
    /// Counts of `pit` in `B` equal bins.
    pub histogram: Vec<usize>,
    /// Pearson's `χ² = Σ_b (count_b − N/B)² / (N/B)`, with `B − 1` degrees of freedom.
    pub chi2: f64,
    /// Its p-value `P(χ²_{B−1} ≥ chi2)`.
    pub chi2_p: f64,
    /// `F̂(z_k) − z_k` at the band's grid, `F̂` the ECDF of `pit`.
    pub ecdf_diff: Vec<f64>,
    /// Whether the ECDF difference leaves the simultaneous band anywhere.
    pub outside_band: bool,
    /// `mean(u)`, 1/2 when calibrated (standard error `√(1/(12N))`).
    pub pit_mean: f64,
    /// `mean |u − 1/2|`, 1/4 when calibrated (standard error `√(1/(48N))`).
    pub pit_spread: f64,
}

/// [`SbcParameter`] for every parameter of `draws`, compared with `band` (made for `N` values),
/// with `B = min(bins, max(2, ⌊N/5⌋))` histogram bins. `rng` breaks ties, observation by
/// observation and parameter by parameter.
///
/// # Errors
/// [`Error::Config`] when the band is for another `N` or `bins < 2`.
pub fn sbc<R: Rng + ?Sized>(
    draws: &PosteriorDraws,
    band: &EcdfBand,
    bins: usize,
    rng: &mut R,
) -> Result<Vec<SbcParameter>> {
    let (n, d, l) = (draws.n_obs(), draws.dim(), draws.n_draws());
    if band.n != n || bins < 2 {
        return Err(Error::Config(format!(
            "sbc: a band for {} values and {bins} bins for {n} observations (need the same \
             count and at least 2 bins)",
            band.n
        )));
    }
    let mut ranks = vec![Vec::with_capacity(n); d];
    let mut pit = vec![Vec::with_capacity(n); d];
    for (i, sample) in draws.draws().iter().enumerate() {
        for j in 0..d {
            let t = draws.truth()[(i, j)];
            let (less, equal) = sample.column(j).iter().fold((0, 0), |(lt, eq), &v| {
                (lt + usize::from(v < t), eq + usize::from(v == t))
            });
            let u = (less as f64 + rng.random::<f64>() * (equal + 1) as f64) / (l + 1) as f64;
            pit[j].push(u);
            ranks[j].push(((u * (l + 1) as f64) as usize).min(l));
        }
    }
    let n_bins = bins.min((n / 5).max(2));
    let chi2_dist =
        ChiSquared::new((n_bins - 1) as f64).map_err(|e| Error::Config(format!("sbc: {e}")))?;
    Ok(ranks
        .into_iter()
        .zip(pit)
        .map(|(ranks, pit)| {
            let mut histogram = vec![0usize; n_bins];
            for &u in &pit {
                histogram[((u * n_bins as f64) as usize).min(n_bins - 1)] += 1;
            }
            let expected = n as f64 / n_bins as f64;
            let chi2 = histogram
                .iter()
                .map(|&c| (c as f64 - expected).powi(2) / expected)
                .sum::<f64>();
            let mut sorted = pit.clone();
            sorted.sort_by(f64::total_cmp);
            let mut count = 0;
            let ecdf_diff: Vec<f64> = band
                .grid
                .iter()
                .map(|&z| {
                    while count < n && sorted[count] <= z {
                        count += 1;
                    }
                    count as f64 / n as f64 - z
                })
                .collect();
            // A small tolerance so that a count exactly on a bound is inside.
            let outside_band = ecdf_diff
                .iter()
                .zip(band.lower.iter().zip(&band.upper))
                .any(|(e, (lo, hi))| *e < lo - 1e-12 || *e > hi + 1e-12);
            let pit_mean = pit.iter().sum::<f64>() / n as f64;
            let pit_spread = pit.iter().map(|u| (u - 0.5).abs()).sum::<f64>() / n as f64;
            SbcParameter {
                ranks,
                pit,
                histogram,
                chi2,
                chi2_p: chi2_dist.sf(chi2),
                ecdf_diff,
                outside_band,
                pit_mean,
                pit_spread,
            }
        })
        .collect())
}
