//! The eight-modes toy of Ardizzone et al. 2018 with its exact posterior p(x | label).
//!
//! Ardizzone, Kruse, Wirkert, Rahner, Pellegrini, Klessen, Maier-Hein, Rother, Köthe (2018),
//! "Analyzing inverse problems with invertible neural networks", section 4.1 and the
//! `toy_8-modes` notebook of FrEIA's experiments: eight isotropic Gaussians of standard deviation
//! σ = 0.2 at the vertices of an octagon ([`EIGHT_MODES_VERTICES`]), each mode carrying a class
//! label given by a [`LabelMap`]. The INN learns x ↦ (label, z) and samples x given a label; the
//! true posterior is the uniform mixture of the modes with that label, available here in closed
//! form for evaluation.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

use super::gaussian_mixture::check_batch;
use crate::{Error, Result};

/// The octagon vertices (the eight mode centres), in the order of the reference code.
pub const EIGHT_MODES_VERTICES: [[f64; 2]; 8] = [
    [-2.4142, 1.0],
    [-1.0, 2.4142],
    [1.0, 2.4142],
    [2.4142, 1.0],
    [2.4142, -1.0],
    [1.0, -2.4142],
    [-1.0, -2.4142],
    [-2.4142, -1.0],
];

/// Standard deviation of each mode, in both coordinates.
pub const EIGHT_MODES_SIGMA: f64 = 0.2;

/// Which class label each of the eight modes carries (the reference code's `label_maps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelMap {
    /// `"all"`: mode `k` has label `k` (8 labels, the posterior is unimodal).
    All,
    /// `"some"`: labels `[0, 0, 0, 0, 1, 1, 2, 3]` (4 labels; label 0 covers four modes).
    Some,
    /// `"none"`: every mode has label 0 (1 label, the posterior is the whole prior).
    None,
}

impl LabelMap {
    /// All label maps, in a fixed order.
    pub const ALL: [LabelMap; 3] = [LabelMap::All, LabelMap::Some, LabelMap::None];

    /// The label of each mode, indexed by mode.
    pub fn labels(self) -> [usize; 8] {
        match self {
            LabelMap::All => [0, 1, 2, 3, 4, 5, 6, 7],
            LabelMap::Some => [0, 0, 0, 0, 1, 1, 2, 3],
            LabelMap::None => [0; 8],
        }
    }

    /// Number of distinct labels (8, 4, 1); labels are `0..n_labels()`. The one-hot encoding of
    /// [`EightModes::y_onehot`] is 8 wide regardless, as in the reference code.
    pub fn n_labels(self) -> usize {
        match self {
            LabelMap::All => 8,
            LabelMap::Some => 4,
            LabelMap::None => 1,
        }
    }

    /// The name used by the reference code and by [`FromStr`]: `"all"`, `"some"`, `"none"`.
    pub fn name(self) -> &'static str {
        match self {
            LabelMap::All => "all",
            LabelMap::Some => "some",
            LabelMap::None => "none",
        }
    }

    /// The label of `mode`, or `None` when `mode ≥ 8`.
    pub fn label_of_mode(self, mode: usize) -> Option<usize> {
        self.labels().get(mode).copied()
    }

    /// The modes (indices into [`EIGHT_MODES_VERTICES`]) that carry `label`, in increasing order;
    /// empty when the map does not use `label`.
    pub fn modes_for_label(self, label: usize) -> Vec<usize> {
        (0..8).filter(|&m| self.labels()[m] == label).collect()
    }

    /// The modes of `label`, or [`Error::InvalidLabel`] when there are none.
    fn checked_modes(self, label: usize) -> Result<Vec<usize>> {
        let modes = self.modes_for_label(label);
        if modes.is_empty() {
            return Err(Error::InvalidLabel {
                label,
                map: self.name(),
                n_labels: self.n_labels(),
            });
        }
        Ok(modes)
    }

    /// Draws `n` samples of the exact posterior p(x | label): pick one of the modes carrying
    /// `label` uniformly, add `σ · N(0, I)` with σ = [`EIGHT_MODES_SIGMA`].
    ///
    /// Returns an `n × 2` matrix, one sample per row. Errors with [`Error::InvalidLabel`]
    /// when the map does not use `label`.
    pub fn posterior_sample(
        self,
        label: usize,
        n: usize,
        rng: &mut impl Rng,
    ) -> Result<DMatrix<f64>> {
        let modes = self.checked_modes(label)?;
        let mut x = DMatrix::zeros(n, 2);
        for i in 0..n {
            let v = EIGHT_MODES_VERTICES[modes[rng.random_range(0..modes.len())]];
            for (j, &c) in v.iter().enumerate() {
                x[(i, j)] = c + EIGHT_MODES_SIGMA * rng.sample::<f64, _>(StandardNormal);
            }
        }
        Ok(x)
    }

    /// The exact posterior log-density
    /// `log p(x | label) = log( (1/|M|) Σ_{m ∈ M} N(x; v_m, σ² I) )`, M the modes with `label`,
    /// computed with a log-sum-exp so far-away points give large negative values, not −∞.
    ///
    /// `x` is an `n × 2` batch, one point per row, `n ≥ 1`, all entries finite; returns an
    /// `n × 1` column. Errors: [`Error::InvalidLabel`], [`Error::ShapeMismatch`],
    /// [`Error::NonFiniteInput`] (naming the first bad entry).
    pub fn posterior_log_prob(self, label: usize, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let modes = self.checked_modes(label)?;
        check_points(x, "posterior_log_prob input")?;
        let var = EIGHT_MODES_SIGMA * EIGHT_MODES_SIGMA;
        let log_norm = -(2.0 * PI * var).ln() - (modes.len() as f64).ln();
        Ok(DMatrix::from_fn(x.nrows(), 1, |i, _| {
            let exps: Vec<f64> = modes
                .iter()
                .map(|&m| -squared_distance(x, i, m) / (2.0 * var))
                .collect();
            let max = exps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            log_norm + max + exps.iter().map(|e| (e - max).exp()).sum::<f64>().ln()
        }))
    }

    /// For each point of `x` (an `n × 2` batch, one point per row), the Euclidean distance to
    /// the nearest mode centre carrying `label`; returns an `n × 1` column.
    ///
    /// Errors as [`LabelMap::posterior_log_prob`].
    pub fn nearest_mode_distance(self, label: usize, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let modes = self.checked_modes(label)?;
        check_points(x, "nearest_mode_distance input")?;
        Ok(DMatrix::from_fn(x.nrows(), 1, |i, _| {
            modes
                .iter()
                .map(|&m| squared_distance(x, i, m))
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        }))
    }

    /// The fraction of the points of `x` (an `n × 2` batch, one point per row) that lie within
    /// Euclidean distance `radius` of a mode carrying `label`: the "correct mode" metric used to
    /// evaluate conditional samples on this toy, with `radius = 3σ = 0.6` by convention.
    ///
    /// For exact posterior samples the expected value is `P(‖σ z‖ ≤ radius)` for a 2-D standard
    /// normal `z`, i.e. `1 − exp(−radius² / (2σ²))`: 0.98889 at `radius = 3σ` (the
    /// 1-D "99.7% within 3σ" rule does not hold in 2-D).
    ///
    /// Errors as [`LabelMap::posterior_log_prob`], and [`Error::InvalidParameter`] when
    /// `radius` is negative or not finite.
    pub fn fraction_near_modes(self, label: usize, x: &DMatrix<f64>, radius: f64) -> Result<f64> {
        if !(radius.is_finite() && radius >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "radius",
                value: radius,
                reason: "the radius must be finite and ≥ 0",
            });
        }
        let d = self.nearest_mode_distance(label, x)?;
        let near = d.iter().filter(|&&di| di <= radius).count();
        Ok(near as f64 / d.nrows() as f64)
    }
}

/// Squared distance between row `i` of `x` and the centre of `mode`.
fn squared_distance(x: &DMatrix<f64>, i: usize, mode: usize) -> f64 {
    let v = EIGHT_MODES_VERTICES[mode];
    (x[(i, 0)] - v[0]).powi(2) + (x[(i, 1)] - v[1]).powi(2)
}

/// Checks that `x` is a non-empty `n × 2` batch of finite numbers.
fn check_points(x: &DMatrix<f64>, what: &'static str) -> Result<()> {
    check_batch(x, (None, 2), what, "an n×2 batch with n ≥ 1")
}

impl fmt::Display for LabelMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LabelMap {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        LabelMap::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownName {
                what: "label map",
                name: s.to_owned(),
                known: LabelMap::ALL.iter().map(|m| m.name()).collect(),
            })
    }
}

/// A labelled eight-modes data set: `n` samples with their modes and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct EightModes {
    /// The points, `n × 2`, one sample per row.
    pub x: DMatrix<f64>,
    /// One-hot labels, `n × 8`: row `i` has a single 1 in column `label[i]`.
    pub y_onehot: DMatrix<f64>,
    /// The class label of each sample, `label[i] = labels.labels()[mode[i]]`.
    pub label: Vec<usize>,
    /// The mode (index into [`EIGHT_MODES_VERTICES`]) each sample was drawn from.
    pub mode: Vec<usize>,
    /// The label map used.
    pub labels: LabelMap,
}

/// Draws `n` samples of the eight-modes toy: each sample picks a mode uniformly, its point is the
/// mode's vertex plus `σ · N(0, I)` (σ = [`EIGHT_MODES_SIGMA`]), its label is given by `labels`.
///
/// The reference code instead fills `⌊n/8⌋` rows per mode and shuffles (its `n mod 8` leftover
/// rows stay at the origin with an all-zero label); drawing the mode i.i.d. gives the same
/// distribution for every `n`.
pub fn eight_modes(n: usize, labels: LabelMap, rng: &mut impl Rng) -> EightModes {
    let map = labels.labels();
    let mut x = DMatrix::zeros(n, 2);
    let mut y_onehot = DMatrix::zeros(n, 8);
    let mut label = Vec::with_capacity(n);
    let mut mode = Vec::with_capacity(n);
    for i in 0..n {
        let m = rng.random_range(0..8);
        let v = EIGHT_MODES_VERTICES[m];
        for (j, &c) in v.iter().enumerate() {
            x[(i, j)] = c + EIGHT_MODES_SIGMA * rng.sample::<f64, _>(StandardNormal);
        }
        y_onehot[(i, map[m])] = 1.0;
        label.push(map[m]);
        mode.push(m);
    }
    EightModes {
        x,
        y_onehot,
        label,
        mode,
        labels,
    }
}

impl EightModes {
    /// The modes carrying `label` under this data set's label map
    /// (see [`LabelMap::modes_for_label`]).
    pub fn modes_for_label(&self, label: usize) -> Vec<usize> {
        self.labels.modes_for_label(label)
    }

    /// Samples the exact posterior p(x | label): see [`LabelMap::posterior_sample`].
    pub fn posterior_sample(
        &self,
        label: usize,
        n: usize,
        rng: &mut impl Rng,
    ) -> Result<DMatrix<f64>> {
        self.labels.posterior_sample(label, n, rng)
    }

    /// The exact posterior log-density: see [`LabelMap::posterior_log_prob`].
    pub fn posterior_log_prob(&self, label: usize, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.labels.posterior_log_prob(label, x)
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
    fn label_maps_are_the_reference_ones() {
        assert_eq!(LabelMap::All.labels(), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(LabelMap::Some.labels(), [0, 0, 0, 0, 1, 1, 2, 3]);
        assert_eq!(LabelMap::None.labels(), [0; 8]);
        assert_eq!(LabelMap::Some.modes_for_label(0), vec![0, 1, 2, 3]);
        assert_eq!(LabelMap::Some.modes_for_label(1), vec![4, 5]);
        assert_eq!(LabelMap::Some.modes_for_label(3), vec![7]);
        assert!(LabelMap::Some.modes_for_label(4).is_empty());
        assert_eq!(
            LabelMap::None.modes_for_label(0),
            (0..8).collect::<Vec<_>>()
        );
        assert_eq!(LabelMap::All.label_of_mode(5), Some(5));
        assert_eq!(LabelMap::All.label_of_mode(8), None);
        for m in LabelMap::ALL {
            assert_eq!(m.name().parse::<LabelMap>().unwrap(), m);
            let used: std::collections::BTreeSet<usize> = m.labels().into_iter().collect();
            assert_eq!(used, (0..m.n_labels()).collect());
        }
        let err = "several".parse::<LabelMap>().unwrap_err();
        assert!(matches!(err, Error::UnknownName { .. }));
        assert!(err.to_string().contains("several"));
    }

    #[test]
    fn samples_have_consistent_labels_modes_and_one_hot() {
        for map in LabelMap::ALL {
            let d = eight_modes(4000, map, &mut rng(1));
            assert_eq!(d.x.shape(), (4000, 2));
            assert_eq!(d.y_onehot.shape(), (4000, 8));
            assert_eq!((d.label.len(), d.mode.len()), (4000, 4000));
            for i in 0..4000 {
                assert_eq!(d.label[i], map.labels()[d.mode[i]]);
                let row = d.y_onehot.row(i);
                assert_eq!(row.sum(), 1.0);
                assert_eq!(row[d.label[i]], 1.0);
                let v = EIGHT_MODES_VERTICES[d.mode[i]];
                let dist = (d.x[(i, 0)] - v[0]).hypot(d.x[(i, 1)] - v[1]);
                assert!(
                    dist < 6.0 * EIGHT_MODES_SIGMA,
                    "row {i} is {dist} from its mode"
                );
            }
            // Modes are drawn uniformly.
            for m in 0..8 {
                let c = d.mode.iter().filter(|&&k| k == m).count() as f64 / 4000.0;
                assert!((c - 0.125).abs() < 0.025, "{map} mode {m}: {c}");
            }
            assert_eq!(d, eight_modes(4000, map, &mut rng(1)));
        }
    }

    #[test]
    fn posterior_samples_sit_at_the_right_modes() {
        let radius = 3.0 * EIGHT_MODES_SIGMA;
        let expected = 1.0 - (-4.5_f64).exp();
        let n = 20_000;
        for map in LabelMap::ALL {
            for label in 0..map.n_labels() {
                let x = map
                    .posterior_sample(label, n, &mut rng(label as u64))
                    .unwrap();
                assert_eq!(x.shape(), (n, 2));
                let f = map.fraction_near_modes(label, &x, radius).unwrap();
                // Binomial standard deviation √(p(1−p)/n) ≈ 7.4e-4; allow 5 of them.
                assert!((f - expected).abs() < 0.0037, "{map} label {label}: {f}");
                // Within 6σ every sample is near a correct mode.
                assert_eq!(map.fraction_near_modes(label, &x, 6.0 * 0.2).unwrap(), 1.0);
                // Modes sharing the label are used equally often.
                let modes = map.modes_for_label(label);
                for &m in &modes {
                    let v = EIGHT_MODES_VERTICES[m];
                    let c = x
                        .row_iter()
                        .filter(|r| (r[0] - v[0]).hypot(r[1] - v[1]) < 1.0)
                        .count() as f64
                        / n as f64;
                    assert!(
                        (c - 1.0 / modes.len() as f64).abs() < 0.02,
                        "{map} {label} {m}"
                    );
                }
            }
        }
        // Samples of one label are far from the other labels' modes.
        let x = LabelMap::All
            .posterior_sample(2, 1000, &mut rng(9))
            .unwrap();
        assert_eq!(
            LabelMap::All.fraction_near_modes(3, &x, radius).unwrap(),
            0.0
        );
    }

    #[test]
    fn posterior_log_prob_integrates_to_one() {
        let h = 0.02;
        let k = 400; // grid over [−4, 4]², which holds all mass to ~1e-12
        let grid = DMatrix::from_fn(k * k, 2, |r, c| {
            let idx = if c == 0 { r / k } else { r % k };
            -4.0 + h * (idx as f64 + 0.5)
        });
        for map in LabelMap::ALL {
            for label in 0..map.n_labels() {
                let lp = map.posterior_log_prob(label, &grid).unwrap();
                let mass: f64 = lp.iter().map(|l| l.exp()).sum::<f64>() * h * h;
                assert!((mass - 1.0).abs() < 1e-4, "{map} label {label}: {mass}");
            }
        }
    }

    #[test]
    fn posterior_log_prob_matches_the_gaussian_formula() {
        // Label 3 of `All` is the single mode v₃ = (2.4142, 1): at the centre the density is
        // 1/(2πσ²).
        let x = DMatrix::from_row_slice(2, 2, &[2.4142, 1.0, 2.4142 + 0.2, 1.0]);
        let lp = LabelMap::All.posterior_log_prob(3, &x).unwrap();
        let peak = -(2.0 * PI * 0.04_f64).ln();
        assert!((lp[0] - peak).abs() < 1e-12);
        assert!((lp[1] - (peak - 0.5)).abs() < 1e-12);
        // Far away: finite, very negative (no −∞ from underflow).
        let far = DMatrix::from_row_slice(1, 2, &[100.0, 100.0]);
        let lf = LabelMap::Some.posterior_log_prob(0, &far).unwrap()[0];
        assert!(lf.is_finite() && lf < -1e5);
        // Label 0 of `Some` is a 4-mode mixture: at v₀ the density is about a quarter of the peak.
        let v0 = DMatrix::from_row_slice(1, 2, &[-2.4142, 1.0]);
        let l0 = LabelMap::Some.posterior_log_prob(0, &v0).unwrap()[0];
        assert!((l0 - (peak - 4.0_f64.ln())).abs() < 1e-10);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let map = LabelMap::Some;
        let err = map.posterior_sample(4, 10, &mut rng(0)).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidLabel {
                label: 4,
                map: "some",
                n_labels: 4
            }
        ));
        assert!(err.to_string().contains("label 4"), "{err}");
        let x3 = DMatrix::zeros(5, 3);
        let err = map.posterior_log_prob(0, &x3).unwrap_err();
        assert!(matches!(
            err,
            Error::ShapeMismatch {
                rows: 5,
                columns: 3,
                ..
            }
        ));
        assert!(err.to_string().contains("5×3"), "{err}");
        let empty = DMatrix::zeros(0, 2);
        assert!(matches!(
            map.nearest_mode_distance(0, &empty),
            Err(Error::ShapeMismatch { rows: 0, .. })
        ));
        let mut bad = DMatrix::zeros(4, 2);
        bad[(2, 1)] = f64::NAN;
        bad[(3, 0)] = f64::INFINITY;
        let err = map.posterior_log_prob(0, &bad).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFiniteInput {
                row: 2,
                column: 1,
                ..
            }
        ));
        assert!(err.to_string().contains("row 2, column 1"), "{err}");
        let ok = DMatrix::zeros(1, 2);
        assert!(matches!(
            map.fraction_near_modes(0, &ok, -1.0),
            Err(Error::InvalidParameter { name: "radius", .. })
        ));
        let d = eight_modes(10, LabelMap::All, &mut rng(0));
        assert!(matches!(
            d.posterior_sample(8, 1, &mut rng(0)),
            Err(Error::InvalidLabel { label: 8, .. })
        ));
        assert_eq!(d.modes_for_label(6), vec![6]);
        assert_eq!(
            d.posterior_log_prob(6, &ok).unwrap(),
            LabelMap::All.posterior_log_prob(6, &ok).unwrap()
        );
    }
}
