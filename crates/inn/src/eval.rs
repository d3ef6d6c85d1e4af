//! Evaluation of trained inverse models: posterior MMD, the eight-modes "right mode" fraction,
//! forward accuracy, the calibration error of posterior quantiles, and the classifier two-sample
//! test.

use crate::data::LabelMap;
use crate::data::toy::EIGHT_MODES_SIGMA;
use crate::{Error, PosteriorSampler, Result};
use autodiff::Float;
use autodiff::nalgebra::DMatrix;
use discrepancy::{InverseMultiquadric, MultiScale, mmd2_biased};
use rand::Rng;
use serde::{Deserialize, Serialize};

mod c2st;
pub use c2st::{C2stConfig, C2stResult, c2st};

/// The kernel widths of the INN papers' MMD, `Σ_h h²/(h² + d²)` with `h ∈ {0.05, 0.2, 0.9}`.
pub use discrepancy::INN_KERNEL_WIDTHS;

/// The biased MMD² (V-statistic) between posterior samples (`n × d`) and reference samples
/// (`m × d`, e.g. exact posterior draws), one sample per row, with the multi-scale inverse
/// multiquadric `Σ_h h²/(h² + ‖a − b‖²)` over `widths` — the estimator the INN paper's code
/// reports. Computed in `f64`.
///
/// # Errors
/// [`Error::Discrepancy`] for an invalid width, mismatched widths, an empty sample or a
/// non-finite entry.
pub fn posterior_mmd<T: Float>(
    samples: &DMatrix<T>,
    reference: &DMatrix<T>,
    widths: &[f64],
) -> Result<f64> {
    let kernel = MultiScale::<InverseMultiquadric<f64>>::from_widths(widths)?;
    Ok(mmd2_biased(
        &samples.map(|v| v.to_f64()),
        &reference.map(|v| v.to_f64()),
        &kernel,
    )?)
}

/// Posterior quality for one label of the eight-modes toy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    /// The class label.
    pub label: usize,
    /// Number of modes carrying the label (the posterior's number of components).
    pub n_modes: usize,
    /// Fraction of posterior samples within 3σ (σ = 0.2) of a mode carrying the label
    /// (exact posterior samples score 0.989 in expectation).
    pub fraction_near_modes: f64,
    /// Biased MMD² ([`posterior_mmd`], [`INN_KERNEL_WIDTHS`]) between the first `n_mmd`
    /// posterior samples and `n_mmd` exact posterior samples.
    pub mmd: f64,
}

/// Evaluates a model's posterior on the eight-modes toy for every label of `labels`: draws
/// `n_samples` posterior samples for the one-hot observation of the label (the model must take
/// `y_dim = 8`, `x_dim = 2`), measures the fraction within 3σ of a right mode, and the MMD of the
/// first `n_mmd` samples against `n_mmd` exact posterior samples (the peer anchor uses 4000 and
/// 2000).
///
/// # Errors
/// [`Error::Config`] for a model of other widths or `n_mmd` outside `1..=n_samples`; errors of
/// the sampler and the estimators.
pub fn eight_modes_metrics<T: Float, M: PosteriorSampler<T>, R: Rng>(
    model: &M,
    labels: LabelMap,
    n_samples: usize,
    n_mmd: usize,
    rng: &mut R,
) -> Result<Vec<LabelMetrics>> {
    if model.x_dim() != 2 || model.y_dim() != 8 {
        return Err(Error::Config(format!(
            "eight_modes_metrics: the model maps y_dim {} to x_dim {}, expected 8 to 2",
            model.y_dim(),
            model.x_dim()
        )));
    }
    if n_mmd == 0 || n_mmd > n_samples {
        return Err(Error::Config(format!(
            "eight_modes_metrics: n_mmd = {n_mmd} must be in 1..={n_samples}"
        )));
    }
    (0..labels.n_labels())
        .map(|label| {
            let mut y = DMatrix::zeros(1, 8);
            y[(0, label)] = T::one();
            let samples = model
                .posterior(&y, n_samples, rng)?
                .remove(0)
                .map(|v| v.to_f64());
            let fraction = labels.fraction_near_modes(label, &samples, 3.0 * EIGHT_MODES_SIGMA)?;
            let reference = labels.posterior_sample(label, n_mmd, rng)?;
            let mmd = posterior_mmd(
                &samples.rows(0, n_mmd).into_owned(),
                &reference,
                &INN_KERNEL_WIDTHS,
            )?;
            Ok(LabelMetrics {
                label,
                n_modes: labels.modes_for_label(label).len(),
                fraction_near_modes: fraction,
                mmd,
            })
        })
        .collect()
}

/// The fraction of rows of `predicted` (`n × k` scores, e.g. a predicted one-hot `y`) whose
/// argmax is the row's label (`labels[i] < k`).
///
/// # Errors
/// [`Error::Config`] when the lengths differ, the batch is empty, a label is out of range or a
/// score is not finite (naming the first bad row).
pub fn forward_accuracy<T: Float>(predicted: &DMatrix<T>, labels: &[usize]) -> Result<f64> {
    let (n, k) = predicted.shape();
    if n == 0 || k == 0 || n != labels.len() {
        return Err(Error::Config(format!(
            "forward_accuracy: {n} x {k} predictions for {} labels",
            labels.len()
        )));
    }
    let mut right = 0usize;
    for (i, row) in predicted.row_iter().enumerate() {
        if labels[i] >= k {
            return Err(Error::Config(format!(
                "forward_accuracy: label {} of row {i} is not below {k}",
                labels[i]
            )));
        }
        if row.iter().any(|v| !v.is_finite()) {
            return Err(Error::Config(format!(
                "forward_accuracy: non-finite score in row {i}"
            )));
        }
        // First maximum wins ties, as numpy's argmax.
        let mut best = 0;
        for j in 1..k {
            if row[j] > row[best] {
                best = j;
            }
        }
        right += usize::from(best == labels[i]);
    }
    Ok(right as f64 / n as f64)
}

/// The `q`-quantile of sorted values by linear interpolation between order statistics
/// (numpy's default, "type 7"): position `q·(n − 1)`.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// `k − 1` evenly spaced quantile levels `1/k, 2/k, …, (k−1)/k` (`k = 20`: 0.05 … 0.95).
pub fn calibration_levels(k: usize) -> Vec<f64> {
    (1..k).map(|i| i as f64 / k as f64).collect()
}

/// The calibration of posterior quantiles, per 1-D marginal (Ardizzone et al. 2018, Sec. 4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The quantile levels `q`.
    pub levels: Vec<f64>,
    /// `fractions[j][k]`: over the observations, the fraction of true `x_j` at or below the
    /// `levels[k]`-quantile of the posterior samples of `x_j` (ideal: `levels[k]`).
    pub fractions: Vec<Vec<f64>>,
    /// Per dimension `j`: the mean over levels of `|fractions[j][k] − levels[k]|`.
    pub per_dim_error: Vec<f64>,
    /// The mean of `per_dim_error` over dimensions.
    pub error: f64,
}

/// The calibration error of posterior quantiles: observation `i` has posterior samples
/// `samples[i]` (`n_i × d`, one sample per row) and ground truth `truth` row `i` (`1 × d`).
/// For each dimension `j` and level `q`, the fraction of observations whose true `x_j` lies at
/// or below the `q`-quantile ([`quantile_sorted`]) of the samples' `x_j` should be `q`; the
/// error is the mean `|fraction − q|` over levels (then over dimensions).
///
/// # Errors
/// [`Error::Config`] when `samples` and `truth` disagree in count or width, a sample set is
/// empty, a level is outside `[0, 1]`, there are no levels, or a value is not finite.
pub fn calibration_error<T: Float>(
    samples: &[DMatrix<T>],
    truth: &DMatrix<T>,
    levels: &[f64],
) -> Result<Calibration> {
    let (m, d) = truth.shape();
    if m == 0 || d == 0 || samples.len() != m {
        return Err(Error::Config(format!(
            "calibration_error: {} sample sets for {m} x {d} ground truth",
            samples.len()
        )));
    }
    if levels.is_empty() || levels.iter().any(|q| !(0.0..=1.0).contains(q)) {
        return Err(Error::Config(
            "calibration_error: levels must be a non-empty list in [0, 1]".into(),
        ));
    }
    if let Some(i) = truth
        .row_iter()
        .position(|r| r.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::Config(format!(
            "calibration_error: non-finite ground truth in row {i}"
        )));
    }
    let mut below = vec![vec![0usize; levels.len()]; d];
    for (i, s) in samples.iter().enumerate() {
        if s.nrows() == 0 || s.ncols() != d {
            return Err(Error::Config(format!(
                "calibration_error: sample set {i} is {} x {}, expected n x {d} with n >= 1",
                s.nrows(),
                s.ncols()
            )));
        }
        for j in 0..d {
            let mut col: Vec<f64> = s.column(j).iter().map(|v| v.to_f64()).collect();
            if col.iter().any(|v| !v.is_finite()) {
                return Err(Error::Config(format!(
                    "calibration_error: non-finite sample in set {i}, column {j}"
                )));
            }
            col.sort_by(f64::total_cmp);
            let t = truth[(i, j)].to_f64();
            for (k, &q) in levels.iter().enumerate() {
                // Levels and samples were checked above, so the quantile exists.
                if quantile_sorted(&col, q).is_some_and(|v| t <= v) {
                    below[j][k] += 1;
                }
            }
        }
    }
    let fractions: Vec<Vec<f64>> = below
        .iter()
        .map(|b| b.iter().map(|&c| c as f64 / m as f64).collect())
        .collect();
    let per_dim_error: Vec<f64> = fractions
        .iter()
        .map(|f| {
            f.iter()
                .zip(levels)
                .map(|(fr, q)| (fr - q).abs())
                .sum::<f64>()
                / levels.len() as f64
        })
        .collect();
    let error = per_dim_error.iter().sum::<f64>() / d as f64;
    Ok(Calibration {
        levels: levels.to_vec(),
        fractions,
        per_dim_error,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(quantile_sorted(&v, 1.0), Some(8.0));
        // numpy.quantile([1, 2, 4, 8], 0.5) = 3.0, 0.25 → 1.75.
        assert_eq!(quantile_sorted(&v, 0.5), Some(3.0));
        assert_eq!(quantile_sorted(&v, 0.25), Some(1.75));
        assert_eq!(quantile_sorted(&[], 0.5), None);
        assert_eq!(quantile_sorted(&v, 1.5), None);
    }

    /// Exact posteriors are calibrated; too narrow ones are not.
    #[test]
    fn calibration_of_exact_and_overconfident_posteriors() {
        let mut rng = StdRng::seed_from_u64(3);
        let normal = Normal::new(0.0, 1.0).unwrap();
        let m = 400;
        // Observation i: posterior N(μ_i, 1) in 2-D; the truth is one draw from it.
        let mu: Vec<f64> = (0..m).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let truth = DMatrix::from_fn(m, 2, |i, _| mu[i] + normal.sample(&mut rng));
        let exact: Vec<DMatrix<f64>> = (0..m)
            .map(|i| DMatrix::from_fn(500, 2, |_, _| mu[i] + normal.sample(&mut rng)))
            .collect();
        let narrow: Vec<DMatrix<f64>> = (0..m)
            .map(|i| DMatrix::from_fn(500, 2, |_, _| mu[i] + 0.3 * normal.sample(&mut rng)))
            .collect();
        let levels = calibration_levels(20);
        let good = calibration_error(&exact, &truth, &levels).unwrap();
        let bad = calibration_error(&narrow, &truth, &levels).unwrap();
        assert_eq!(good.fractions.len(), 2);
        assert!(good.error < 0.03, "{}", good.error);
        // With σ = 0.3 instead of 1, the fraction below the q-quantile is Φ(0.3 Φ⁻¹(q)):
        // the mean |Φ(0.3 z_q) − q| over these levels is about 0.16.
        assert!(bad.error > 0.12, "{}", bad.error);
    }

    #[test]
    fn forward_accuracy_counts_argmax_hits() {
        let p = DMatrix::from_row_slice(3, 3, &[0.9, 0.1, 0.0, 0.2, 0.3, 0.1, 0.0, 0.0, 1.0]);
        assert_eq!(forward_accuracy(&p, &[0, 0, 2]).unwrap(), 2.0 / 3.0);
        assert!(forward_accuracy(&p, &[0, 0]).is_err());
        assert!(forward_accuracy(&p, &[0, 3, 2]).is_err());
        let mut bad = p.clone();
        bad[(1, 1)] = f64::NAN;
        assert!(
            matches!(forward_accuracy(&bad, &[0, 0, 2]), Err(Error::Config(m)) if m.contains("row 1"))
        );
    }

    #[test]
    fn calibration_rejects_bad_inputs() {
        let truth = DMatrix::<f64>::zeros(2, 1);
        let s = vec![DMatrix::zeros(3, 1), DMatrix::zeros(3, 1)];
        assert!(calibration_error(&s, &truth, &[0.5]).is_ok());
        assert!(calibration_error(&s[..1], &truth, &[0.5]).is_err());
        assert!(calibration_error(&s, &truth, &[]).is_err());
        assert!(calibration_error(&s, &truth, &[1.5]).is_err());
        let wide = vec![DMatrix::zeros(3, 2), DMatrix::zeros(3, 1)];
        assert!(calibration_error(&wide, &truth, &[0.5]).is_err());
        let mut nan = truth.clone();
        nan[(1, 0)] = f64::NAN;
        assert!(calibration_error(&s, &nan, &[0.5]).is_err());
    }

    #[test]
    fn posterior_mmd_is_zero_for_equal_samples_and_rejects_bad_widths() {
        let x = DMatrix::from_fn(50, 2, |i, j| (i as f64 * 0.1 + j as f64).sin());
        assert!(posterior_mmd(&x, &x, &INN_KERNEL_WIDTHS).unwrap().abs() < 1e-12);
        assert!(posterior_mmd(&x, &x.add_scalar(0.5), &INN_KERNEL_WIDTHS).unwrap() > 0.01);
        assert!(matches!(
            posterior_mmd(&x, &x, &[0.1, -1.0]),
            Err(Error::Discrepancy(_))
        ));
    }
}
