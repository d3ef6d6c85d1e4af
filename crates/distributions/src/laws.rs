//! Law checkers for [`Density`] implementations: normalisation on a grid, sample moments, and
//! agreement of a flow's one-pass log-densities with `log_prob`.

use crate::{Density, Error, Result, TransformedDistribution};
use autodiff::nalgebra::DMatrix;
use autodiff::{Float, Params};
use rand::RngCore;

/// Most grid points [`grid_integral`] evaluates (keeps a check fast and its memory bounded).
pub const MAX_GRID_POINTS: usize = 4_000_000;

/// `∫ exp(log_prob(x)) dx` over the box `[lower, upper]` by the midpoint rule with
/// `points_per_axis` cells per axis (the normalisation law: close to 1 when the box holds
/// almost all of the mass). The density's dimension must equal the box's; at most
/// [`MAX_GRID_POINTS`] points in total.
pub fn grid_integral<T: Float>(
    density: &dyn Density<T>,
    params: &Params<T>,
    lower: &[f64],
    upper: &[f64],
    points_per_axis: usize,
) -> Result<f64> {
    let d = density.dim();
    if lower.len() != d || upper.len() != d || points_per_axis == 0 {
        return Err(Error::Config(format!(
            "grid_integral: a {d}-dimensional density needs {d} lower and upper bounds and \
             points_per_axis >= 1, got {}, {} and {points_per_axis}",
            lower.len(),
            upper.len()
        )));
    }
    let total = u32::try_from(d)
        .ok()
        .and_then(|e| points_per_axis.checked_pow(e))
        .filter(|&t| t <= MAX_GRID_POINTS)
        .ok_or_else(|| {
            Error::Config(format!(
                "grid_integral: {points_per_axis}^{d} points exceed {MAX_GRID_POINTS}"
            ))
        })?;
    let step: Vec<f64> = (0..d)
        .map(|j| (upper[j] - lower[j]) / points_per_axis as f64)
        .collect();
    let cell: f64 = step.iter().product();
    // Evaluate in chunks so that memory stays small for fine grids.
    let chunk = 65_536.min(total);
    let mut sum = 0.0;
    let mut start = 0;
    while start < total {
        let len = chunk.min(total - start);
        let x = DMatrix::from_fn(len, d, |i, j| {
            let index = (start + i) / points_per_axis.pow(j as u32) % points_per_axis;
            T::of_f64(lower[j] + (index as f64 + 0.5) * step[j])
        });
        let lp = density.log_prob_matrix(params, &x)?;
        sum += lp.iter().map(|v| v.to_f64().exp()).sum::<f64>();
        start += len;
    }
    Ok(sum * cell)
}

/// Sample mean (`d` values) and unbiased sample covariance (`d × d`) of a batch `n × d`
/// (`n ≥ 2`), in f64.
pub fn sample_moments<T: Float>(x: &DMatrix<T>) -> Result<(Vec<f64>, DMatrix<f64>)> {
    let (n, d) = x.shape();
    if n < 2 {
        return Err(Error::EmptyBatch {
            what: "sample_moments (needs 2 rows)",
        });
    }
    let x = x.map(|v| v.to_f64());
    let mean: Vec<f64> = (0..d).map(|j| x.column(j).mean()).collect();
    let cov = DMatrix::from_fn(d, d, |a, b| {
        (0..n)
            .map(|i| (x[(i, a)] - mean[a]) * (x[(i, b)] - mean[b]))
            .sum::<f64>()
            / (n as f64 - 1.0)
    });
    Ok((mean, cov))
}

/// Largest `|log p|` difference between [`TransformedDistribution::sample_and_log_prob`] and
/// `log_prob` re-evaluated on the same `n` samples (the one-pass law; limited only by the
/// bijector's round-trip error).
pub fn sample_log_prob_gap<T: Float>(
    flow: &TransformedDistribution<T>,
    params: &Params<T>,
    n: usize,
    rng: &mut dyn RngCore,
) -> Result<f64> {
    let (x, log_p) = flow.sample_and_log_prob(params, n, rng)?;
    let again = flow.log_prob_matrix(params, &x)?;
    Ok(log_p
        .iter()
        .zip(again.iter())
        .map(|(a, b)| (a.to_f64() - b.to_f64()).abs())
        .fold(0.0, f64::max))
}
