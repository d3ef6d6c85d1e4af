//! The verdict per parameter: calibrated, overconfident, underconfident or biased.

use super::{ParameterRecovery, SbcParameter};
use serde::{Deserialize, Serialize};

/// What the checks say about one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// No miscalibration of practical size detected at this `N`.
    Calibrated,
    /// Too narrow: credible regions miss the truth more often than they claim.
    Overconfident,
    /// Too wide: credible regions hold the truth more often than they claim.
    Underconfident,
    /// Shifted: the truth lies systematically on one side of the posterior.
    Biased,
}

impl VerdictKind {
    /// The name used in reports (`"calibrated"`, …).
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Calibrated => "calibrated",
            VerdictKind::Overconfident => "overconfident",
            VerdictKind::Underconfident => "underconfident",
            VerdictKind::Biased => "biased",
        }
    }
}

/// Thresholds of [`verdict`]. A deviation counts when it is both statistically significant
/// (more than `sigmas` standard errors under calibration, so a calibrated model is flagged with
/// probability about 0.3 % per test at the default) and practically relevant (at least the
/// tolerance, so a huge `N` does not flag negligible deviations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Standard errors a statistic must leave its calibrated value by. Default 3.
    pub sigmas: f64,
    /// Tolerance of `|pit_mean − 1/2|`. Default 0.05 (a Gaussian posterior shifted by about
    /// 0.18 of its standard deviation; a shift by half a standard deviation gives 0.14).
    pub bias: f64,
    /// Tolerance of `|pit_spread − 1/4|`. Default 0.02 (for a Gaussian, a posterior about 15 %
    /// too narrow or 12 % too wide: `pit_spread = arctan(1/s)/π` for a spread `s` times the
    /// right one, 0.306 at `s = 0.7` and 0.209 at `s = 1.3`).
    pub spread: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            sigmas: 3.0,
            bias: 0.05,
            spread: 0.02,
        }
    }
}

/// The verdict on one parameter, with the numbers behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The verdict.
    pub kind: VerdictKind,
    /// `pit_mean − 1/2`.
    pub bias: f64,
    /// Its standard error under calibration, `√(1/(12N))`.
    pub bias_se: f64,
    /// `pit_spread − 1/4` (positive: too narrow).
    pub spread: f64,
    /// Its standard error under calibration, `√(1/(48N))`.
    pub spread_se: f64,
    /// Whether the SBC ECDF difference leaves its simultaneous band (step 4 of [`verdict`]).
    pub outside_band: bool,
    /// Mean and RMS z-score, for the reader.
    pub z_mean: f64,
    /// RMS z-score.
    pub z_rms: f64,
    /// One sentence for reports.
    pub reason: String,
}

/// The verdict from the PIT values `u` of one parameter (exactly uniform under calibration),
/// with `b = mean(u) − 1/2` (standard error `s_b = √(1/(12N))`) and `s = mean|u − 1/2| − 1/4`
/// (`s_s = √(1/(48N))`):
///
/// 1. **biased** when `|b| > max(sigmas·s_b, bias)`;
/// 2. else **overconfident** when `s > max(sigmas·s_s, spread)`;
/// 3. else **underconfident** when `−s > max(sigmas·s_s, spread)`;
/// 4. else, when the rank ECDF leaves its simultaneous band (a test at the band's level that
///    looks at every rank, not only two moments) and `|b| > bias` or `|s| > spread`: the larger
///    of `|b|/s_b` and `|s|/s_s` names the kind as above;
/// 5. else **calibrated**: no miscalibration of practical size is detectable at this `N`.
///
/// Bias comes first because a shifted posterior also puts the truth in its tails.
pub fn verdict(sbc: &SbcParameter, recovery: &ParameterRecovery, t: &Thresholds) -> Verdict {
    let n = sbc.pit.len().max(1) as f64;
    let bias = sbc.pit_mean - 0.5;
    let spread = sbc.pit_spread - 0.25;
    let bias_se = (1.0 / (12.0 * n)).sqrt();
    let spread_se = (1.0 / (48.0 * n)).sqrt();
    let bias_limit = (t.sigmas * bias_se).max(t.bias);
    let spread_limit = (t.sigmas * spread_se).max(t.spread);
    // Step 4: the band detected a deviation that the moments alone call too small.
    let band_kind =
        (sbc.outside_band && (bias.abs() > t.bias || spread.abs() > t.spread)).then(|| {
            if bias.abs() / bias_se >= spread.abs() / spread_se {
                VerdictKind::Biased
            } else if spread > 0.0 {
                VerdictKind::Overconfident
            } else {
                VerdictKind::Underconfident
            }
        });
    let by_band = |kind: VerdictKind| {
        if band_kind == Some(kind) {
            " (the rank ECDF leaves its simultaneous band)"
        } else {
            ""
        }
    };
    let (kind, reason) = if bias.abs() > bias_limit || band_kind == Some(VerdictKind::Biased) {
        let side = if bias > 0.0 { "below" } else { "above" };
        (
            VerdictKind::Biased,
            format!(
                "the posterior lies {side} the truth: mean PIT {:.3} (calibrated: 0.5 ± {bias_limit:.3}), mean z-score {:+.2}{}",
                sbc.pit_mean,
                recovery.z_mean,
                by_band(VerdictKind::Biased)
            ),
        )
    } else if spread > spread_limit || band_kind == Some(VerdictKind::Overconfident) {
        (
            VerdictKind::Overconfident,
            format!(
                "too narrow: mean |PIT − 0.5| {:.3} (calibrated: 0.25 ± {spread_limit:.3}), RMS z-score {:.2}{}",
                sbc.pit_spread,
                recovery.z_rms,
                by_band(VerdictKind::Overconfident)
            ),
        )
    } else if -spread > spread_limit || band_kind == Some(VerdictKind::Underconfident) {
        (
            VerdictKind::Underconfident,
            format!(
                "too wide: mean |PIT − 0.5| {:.3} (calibrated: 0.25 ± {spread_limit:.3}), RMS z-score {:.2}{}",
                sbc.pit_spread,
                recovery.z_rms,
                by_band(VerdictKind::Underconfident)
            ),
        )
    } else {
        (
            VerdictKind::Calibrated,
            format!(
                "mean PIT {:.3}, mean |PIT − 0.5| {:.3} within tolerance; RMS z-score {:.2}{}",
                sbc.pit_mean,
                sbc.pit_spread,
                recovery.z_rms,
                if sbc.outside_band {
                    "; but the rank ECDF leaves its simultaneous band (a misshapen posterior?)"
                } else {
                    ""
                }
            ),
        )
    };
    Verdict {
        kind,
        bias,
        bias_se,
        spread,
        spread_se,
        outside_band: sbc.outside_band,
        z_mean: recovery.z_mean,
        z_rms: recovery.z_rms,
        reason,
    }
}
