//! Recovery of the true parameters: posterior summaries against `x*`, contraction and z-scores.

use super::PosteriorDraws;
use crate::eval::quantile_sorted;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Posterior summaries of one parameter against its true values, one entry per observation.
///
/// Calibration shows in the z-scores: for every observation `E[(mean − x*)/sd] = 0` and
/// `E[((mean − x*)/sd)²] = 1` under a calibrated posterior, whatever its shape, so `z_mean ≈ 0`
/// and `z_rms ≈ 1`; `z_rms > 1` is overconfidence, `< 1` underconfidence. Recovery (`r2`) and
/// contraction measure how much the data say about the parameter, not calibration: the prior
/// itself is calibrated with contraction 0 and R² ≈ 0; a well identified parameter has
/// contraction near 1 and points near the diagonal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterRecovery {
    /// The true values `x*_j`.
    pub truth: Vec<f64>,
    /// Posterior means.
    pub mean: Vec<f64>,
    /// Posterior medians.
    pub median: Vec<f64>,
    /// Posterior standard deviations (`L − 1` denominator).
    pub sd: Vec<f64>,
    /// Level of the central interval `[lower, upper]`.
    pub interval: f64,
    /// The `(1 − interval)/2` quantiles of the draws.
    pub lower: Vec<f64>,
    /// The `(1 + interval)/2` quantiles of the draws.
    pub upper: Vec<f64>,
    /// `R² = 1 − Σᵢ (meanᵢ − x*ᵢ)² / Σᵢ (x*ᵢ − mean(x*))²` (1: perfect recovery; 0: no better
    /// than the mean of the truths; 0 when the truths do not vary).
    pub r2: f64,
    /// The prior variance the contraction is measured against.
    pub prior_var: f64,
    /// Posterior contraction `1 − sdᵢ² / prior_var`.
    pub contraction: Vec<f64>,
    /// Mean contraction.
    pub mean_contraction: f64,
    /// Posterior z-scores `(meanᵢ − x*ᵢ) / sdᵢ` (a posterior without spread gets `±1e300`, or 0
    /// where the mean is exact).
    pub z: Vec<f64>,
    /// Mean z-score.
    pub z_mean: f64,
    /// Root mean square z-score.
    pub z_rms: f64,
}

/// [`ParameterRecovery`] of every parameter of `draws`, with the central `interval` (in (0, 1))
/// and the prior variances `prior_var` (one per parameter; `None`: the variance of the true
/// values, `N − 1` denominator, which are draws from the prior; 1 when that is zero).
///
/// # Errors
/// [`Error::Config`] for fewer than 2 draws (no standard deviation), `interval` outside (0, 1)
/// or a prior variance that is not positive and finite; [`Error::ShapeMismatch`] for
/// `prior_var` of another length.
pub fn recovery(
    draws: &PosteriorDraws,
    prior_var: Option<&[f64]>,
    interval: f64,
) -> Result<Vec<ParameterRecovery>> {
    let (n, d, l) = (draws.n_obs(), draws.dim(), draws.n_draws());
    if l < 2 || !(interval > 0.0 && interval < 1.0) {
        return Err(Error::Config(format!(
            "recovery: {l} draws per observation and interval {interval} (need at least 2 draws \
             and an interval in (0, 1))"
        )));
    }
    let prior_var: Vec<f64> = match prior_var {
        Some(v) if v.len() != d => {
            return Err(Error::shape_mismatch(
                "recovery: prior_var",
                "one prior variance per parameter",
                (v.len(), 1),
            ));
        }
        Some(v) => v.to_vec(),
        None => (0..d)
            .map(|j| {
                let v = if n > 1 {
                    draws.truth().column(j).variance() * n as f64 / (n - 1) as f64
                } else {
                    0.0
                };
                if v > 0.0 { v } else { 1.0 }
            })
            .collect(),
    };
    if let Some(j) = prior_var.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(Error::Config(format!(
            "recovery: prior variance {} of parameter {j} is not positive and finite",
            prior_var[j]
        )));
    }
    let lo_q = (1.0 - interval) / 2.0;
    Ok((0..d)
        .map(|j| {
            let truth: Vec<f64> = draws.truth().column(j).iter().copied().collect();
            let mut out = ParameterRecovery {
                truth,
                mean: Vec::with_capacity(n),
                median: Vec::with_capacity(n),
                sd: Vec::with_capacity(n),
                interval,
                lower: Vec::with_capacity(n),
                upper: Vec::with_capacity(n),
                r2: 0.0,
                prior_var: prior_var[j],
                contraction: Vec::with_capacity(n),
                mean_contraction: 0.0,
                z: Vec::with_capacity(n),
                z_mean: 0.0,
                z_rms: 0.0,
            };
            for (i, sample) in draws.draws().iter().enumerate() {
                let mut col: Vec<f64> = sample.column(j).iter().copied().collect();
                col.sort_by(f64::total_cmp);
                let mean = col.iter().sum::<f64>() / l as f64;
                let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (l - 1) as f64;
                let sd = var.sqrt();
                let err = mean - out.truth[i];
                let z = if sd > 0.0 {
                    err / sd
                } else if err == 0.0 {
                    0.0
                } else {
                    err.signum() * 1e300
                };
                out.mean.push(mean);
                // The levels are in [0, 1] and the column is not empty.
                out.median.push(quantile_sorted(&col, 0.5).unwrap_or(mean));
                out.lower.push(quantile_sorted(&col, lo_q).unwrap_or(mean));
                out.upper
                    .push(quantile_sorted(&col, 1.0 - lo_q).unwrap_or(mean));
                out.sd.push(sd);
                out.contraction.push(1.0 - var / prior_var[j]);
                out.z.push(z);
            }
            let nf = n as f64;
            let t_mean = out.truth.iter().sum::<f64>() / nf;
            let ss_tot: f64 = out.truth.iter().map(|t| (t - t_mean).powi(2)).sum();
            let ss_res: f64 = out
                .mean
                .iter()
                .zip(&out.truth)
                .map(|(m, t)| (m - t).powi(2))
                .sum();
            out.r2 = if ss_tot > 0.0 {
                1.0 - ss_res / ss_tot
            } else {
                0.0
            };
            out.mean_contraction = out.contraction.iter().sum::<f64>() / nf;
            out.z_mean = out.z.iter().sum::<f64>() / nf;
            out.z_rms = (out.z.iter().map(|z| z * z).sum::<f64>() / nf).sqrt();
            out
        })
        .collect())
}
