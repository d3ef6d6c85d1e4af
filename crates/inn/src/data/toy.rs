//! Seeded toy problems with known answers: the 2-D benchmark densities of FFJORD and i-ResNet, the
//! eight-modes INN toy, a linear-Gaussian inverse problem, a 4-D Gaussian mixture, a table of
//! 8×8 digit-like images, and two problems for summary networks (a set of normal draws with its
//! exact posterior, a three-peak spectrum).
//!
//! Every generator draws all its randomness from the `&mut impl Rng` it is given, so a seeded
//! generator reproduces the same batch bit for bit. The 2-D generators below return an `n × 2`
//! matrix, one sample per row; their definitions port `lib/toy_data.py` of FFJORD (Grathwohl et
//! al. 2019, "FFJORD: Free-form continuous dynamics for scalable reversible generative models"),
//! which the i-ResNet and Residual Flows code (Behrmann et al. 2019, Chen et al. 2019) reuse
//! unchanged; each function documents its formula and scaling, and where we deviate (always to
//! return exactly `n` rows).
//! [`ToyDataset`] names them for command lines.
//!
//! [`BoundedModes`] is a bounded multimodal 2-D density (eight smooth bumps on a checkerboard,
//! exact samples and log-density), the toy on which spline couplings need fewer blocks than
//! affine ones.
//!
//! For measuring generalisation against exact values: [`LinearGaussian`] (`y = Aθ + ε` with its
//! closed-form Gaussian posterior, sampler, log-density and expected posterior NLL),
//! [`MixtureDensity`] (a full-covariance Gaussian mixture with exact log-density and entropy) and
//! [`pixel_images`] (dequantised 8×8 images with rare large values in nearly constant border
//! columns, for checking that flows fitted to small tables do not overfit).
//!
//! For summary networks ([`crate::summary`]): [`NormalSet`] (a normal with unknown mean and
//! variance seen through a set of 50 draws, conjugate normal-inverse-gamma prior, exact posterior
//! sampler and log-density: a deep set's test) and [`LorentzSpectrum`] (three Lorentzian peaks on
//! 200 bins plus noise, sorted positions, with simulator, prior, likelihood and an adaptive
//! Metropolis reference posterior sampler: a 1-D convolution's test).

mod bounded_modes;
mod eight_modes;
mod gaussian_mixture;
mod linear_gaussian;
mod mcmc;
mod normal_set;
mod pixels;
mod spectrum;

pub use bounded_modes::BoundedModes;
pub use eight_modes::{EIGHT_MODES_SIGMA, EIGHT_MODES_VERTICES, EightModes, LabelMap, eight_modes};
pub use gaussian_mixture::MixtureDensity;
pub use linear_gaussian::LinearGaussian;
pub use mcmc::McmcOptions;
pub use normal_set::{NormalInverseGamma, NormalSet};
pub use pixels::pixel_images;
pub use spectrum::{LorentzSpectrum, PEAKS};

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use nalgebra::DMatrix;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::StandardNormal;

use crate::{Error, Result};

/// Draws one standard normal number.
fn normal(rng: &mut impl Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// `k` evenly spaced points from `a` to `b` inclusive, like `numpy.linspace(a, b, k)`.
fn linspace_closed(k: usize, a: f64, b: f64) -> impl Iterator<Item = f64> {
    (0..k).map(move |i| {
        if k == 1 {
            a
        } else {
            a + (b - a) * i as f64 / (k - 1) as f64
        }
    })
}

/// `k` evenly spaced angles in `[0, 2π)`, like `numpy.linspace(0, 2π, k, endpoint=False)`.
fn circle_angles(k: usize) -> impl Iterator<Item = f64> {
    (0..k).map(move |i| 2.0 * PI * i as f64 / k as f64)
}

/// Stacks points into an `n × 2` matrix, one point per row.
fn to_matrix(points: &[[f64; 2]]) -> DMatrix<f64> {
    DMatrix::from_fn(points.len(), 2, |i, j| points[i][j])
}

/// Two interleaving half circles, the geometry of scikit-learn's `make_moons`.
///
/// The first `⌊n/2⌋` points lie on the outer moon `(cos t, sin t)`, the other `n − ⌊n/2⌋` on the
/// inner moon `(1 − cos t, 1 − sin t − 0.5)`; on each moon `t` runs over evenly spaced values
/// from 0 to π inclusive (as `make_moons` does, not random). The rows are shuffled and
/// independent Gaussian noise of standard deviation `noise` is added to both coordinates. The
/// noise-free mean is `(0.5, 0.25)` for even `n`. No rescaling is applied; FFJORD's `"moons"`
/// ([`ToyDataset::Moons`]) is `2 · two_moons(n, 0.1) + (−1, −0.2)`.
///
/// Returns an `n × 2` matrix, one sample per row. Errors with
/// [`Error::InvalidParameter`] when `noise` is negative or not finite.
///
/// ```
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let x = inn::data::toy::two_moons(1000, 0.05, &mut rng)?;
/// assert_eq!(x.shape(), (1000, 2));
/// let mean = x.row_mean();
/// assert!((mean[0] - 0.5).abs() < 0.05 && (mean[1] - 0.25).abs() < 0.05);
/// # Ok::<(), inn::Error>(())
/// ```
pub fn two_moons(n: usize, noise: f64, rng: &mut impl Rng) -> Result<DMatrix<f64>> {
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "noise",
            value: noise,
            reason: "the noise standard deviation must be finite and ≥ 0",
        });
    }
    Ok(moons_unchecked(n, noise, rng))
}

/// [`two_moons`] for a `noise` already known to be finite and non-negative.
fn moons_unchecked(n: usize, noise: f64, rng: &mut impl Rng) -> DMatrix<f64> {
    let n_outer = n / 2;
    let n_inner = n - n_outer;
    let mut points: Vec<[f64; 2]> = linspace_closed(n_outer, 0.0, PI)
        .map(|t| [t.cos(), t.sin()])
        .chain(linspace_closed(n_inner, 0.0, PI).map(|t| [1.0 - t.cos(), 1.0 - t.sin() - 0.5]))
        .collect();
    points.shuffle(rng);
    for p in &mut points {
        p[0] += noise * normal(rng);
        p[1] += noise * normal(rng);
    }
    to_matrix(&points)
}

/// Eight Gaussians on a ring (FFJORD's `"8gaussians"`).
///
/// Each sample picks one of the eight centres `4 · (cos kπ/4, sin kπ/4)`, `k = 0..8`, uniformly,
/// adds `0.5 · N(0, I)` and divides the result by 1.414 (FFJORD's constant, ≈ √2). So the modes
/// lie on a circle of radius `4 / 1.414 ≈ 2.83` and each has standard deviation
/// `0.5 / 1.414 ≈ 0.354` per coordinate.
///
/// Returns an `n × 2` matrix, one sample per row.
pub fn eight_gaussians(n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    let points: Vec<[f64; 2]> = (0..n)
        .map(|_| {
            let z = [0.5 * normal(rng), 0.5 * normal(rng)];
            let angle = PI / 4.0 * rng.random_range(0..8_u32) as f64;
            [
                (4.0 * angle.cos() + z[0]) / 1.414,
                (4.0 * angle.sin() + z[1]) / 1.414,
            ]
        })
        .collect();
    to_matrix(&points)
}

/// A 4 × 4 checkerboard of uniform squares (FFJORD's `"checkerboard"`).
///
/// With `u, v ~ U[0, 1)` and a fair bit `b`: `x₁ = 4u − 2`, `x₂ = v − 2b + (⌊x₁⌋ mod 2)`, and the
/// sample is `2 · (x₁, x₂)`. The density is uniform (1/32) on the eight squares of side 2 of the
/// board `[−4, 4]²` where `⌊x/2⌋ + ⌊y/2⌋` is even (for example `[0, 2) × [0, 2)`), zero elsewhere.
///
/// Returns an `n × 2` matrix, one sample per row.
pub fn checkerboard(n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    let points: Vec<[f64; 2]> = (0..n)
        .map(|_| {
            let x1 = rng.random::<f64>() * 4.0 - 2.0;
            let b = f64::from(rng.random_range(0..2_u8));
            let x2 = rng.random::<f64>() - 2.0 * b + x1.floor().rem_euclid(2.0);
            [2.0 * x1, 2.0 * x2]
        })
        .collect();
    to_matrix(&points)
}

/// Four concentric rings (FFJORD's `"rings"`).
///
/// The three outer rings get `⌊n/4⌋` points each and the innermost the remaining
/// `n − 3⌊n/4⌋`. On a ring of radius `r ∈ {3, 2.25, 1.5, 0.75}` (FFJORD's radii 1, 0.75, 0.5,
/// 0.25 times 3) the `k` points sit at the evenly spaced angles `2πi/k`, `i = 0..k`; the rows
/// are shuffled and Gaussian noise of standard deviation 0.08 is added to both coordinates.
///
/// Returns an `n × 2` matrix, one sample per row.
pub fn rings(n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    let quarter = n / 4;
    let counts = [quarter, quarter, quarter, n - 3 * quarter];
    let radii = [3.0, 2.25, 1.5, 0.75];
    let mut points: Vec<[f64; 2]> = counts
        .iter()
        .zip(radii)
        .flat_map(|(&k, r)| circle_angles(k).map(move |a| [r * a.cos(), r * a.sin()]))
        .collect();
    points.shuffle(rng);
    for p in &mut points {
        p[0] += 0.08 * normal(rng);
        p[1] += 0.08 * normal(rng);
    }
    to_matrix(&points)
}

/// Five curved arms (FFJORD's `"pinwheel"`, from Johnson et al. 2016).
///
/// Sample `i` belongs to arm `c = i mod 5` (so the arms are balanced; FFJORD returns only
/// `5⌊n/5⌋` rows, we return `n`). With `f = (1 + 0.3 ε₁, 0.1 ε₂)`, `ε ~ N(0, I)`, and the angle
/// `θ = 2πc/5 + 0.25 · exp(f₁)`, the sample is `2 · (f₁ cos θ + f₂ sin θ, −f₁ sin θ + f₂ cos θ)`
/// (FFJORD's `einsum("ti,tij->tj", features, rotations)`). Rows are shuffled.
///
/// Returns an `n × 2` matrix, one sample per row.
pub fn pinwheel(n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    let (radial_std, tangential_std, rate, classes) = (0.3, 0.1, 0.25, 5);
    let mut points: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let f1 = 1.0 + radial_std * normal(rng);
            let f2 = tangential_std * normal(rng);
            let theta = 2.0 * PI * (i % classes) as f64 / classes as f64 + rate * f1.exp();
            let (s, c) = theta.sin_cos();
            [2.0 * (f1 * c + f2 * s), 2.0 * (-f1 * s + f2 * c)]
        })
        .collect();
    points.shuffle(rng);
    to_matrix(&points)
}

/// Two interleaved spirals (FFJORD's `"2spirals"`).
///
/// For a point on the first arm, with `u, a, b ~ U[0, 1)`: `t = √u · 3π` (540°), and
/// `p = (−t cos t + 0.5 a, t sin t + 0.5 b)`; on the second arm the point is `−p`. Every sample
/// is divided by 3 and gets Gaussian noise of standard deviation 0.1 on both coordinates. The
/// first arm gets `n − ⌊n/2⌋` rows, the second `⌊n/2⌋`, and rows are shuffled. FFJORD mirrors
/// the same `n/2` draws onto both arms; we draw each row independently, which gives the same
/// distribution without paired samples.
///
/// Returns an `n × 2` matrix, one sample per row.
pub fn spirals(n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    let n_first = n - n / 2;
    let mut points: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let t = rng.random::<f64>().sqrt() * 3.0 * PI;
            let sign = if i < n_first { 1.0 } else { -1.0 };
            let px = -t.cos() * t + 0.5 * rng.random::<f64>();
            let py = t.sin() * t + 0.5 * rng.random::<f64>();
            [
                sign * px / 3.0 + 0.1 * normal(rng),
                sign * py / 3.0 + 0.1 * normal(rng),
            ]
        })
        .collect();
    points.shuffle(rng);
    to_matrix(&points)
}

/// The 2-D benchmark densities by name, for command lines and experiment configs.
///
/// [`ToyDataset::name`] gives FFJORD's name, which [`FromStr`] accepts back (case-insensitive,
/// along with the aliases listed on each variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToyDataset {
    /// `"moons"` (alias `two_moons`): `2 · two_moons(n, 0.1) + (−1, −0.2)`, as FFJORD.
    Moons,
    /// `"8gaussians"` (aliases `eight_gaussians`, `8-gaussians`): [`eight_gaussians`].
    EightGaussians,
    /// `"checkerboard"`: [`checkerboard`].
    Checkerboard,
    /// `"rings"`: [`rings`].
    Rings,
    /// `"pinwheel"`: [`pinwheel`].
    Pinwheel,
    /// `"2spirals"` (aliases `spirals`, `two_spirals`): [`spirals`].
    TwoSpirals,
}

impl ToyDataset {
    /// All data sets, in a fixed order.
    pub const ALL: [ToyDataset; 6] = [
        ToyDataset::Moons,
        ToyDataset::EightGaussians,
        ToyDataset::Checkerboard,
        ToyDataset::Rings,
        ToyDataset::Pinwheel,
        ToyDataset::TwoSpirals,
    ];

    /// FFJORD's name of the data set.
    pub fn name(self) -> &'static str {
        match self {
            ToyDataset::Moons => "moons",
            ToyDataset::EightGaussians => "8gaussians",
            ToyDataset::Checkerboard => "checkerboard",
            ToyDataset::Rings => "rings",
            ToyDataset::Pinwheel => "pinwheel",
            ToyDataset::TwoSpirals => "2spirals",
        }
    }

    /// Draws `n` samples: an `n × 2` matrix, one sample per row.
    pub fn sample(self, n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
        match self {
            ToyDataset::Moons => {
                let mut x = moons_unchecked(n, 0.1, rng);
                for mut row in x.row_iter_mut() {
                    row[0] = 2.0 * row[0] - 1.0;
                    row[1] = 2.0 * row[1] - 0.2;
                }
                x
            }
            ToyDataset::EightGaussians => eight_gaussians(n, rng),
            ToyDataset::Checkerboard => checkerboard(n, rng),
            ToyDataset::Rings => rings(n, rng),
            ToyDataset::Pinwheel => pinwheel(n, rng),
            ToyDataset::TwoSpirals => spirals(n, rng),
        }
    }
}

impl fmt::Display for ToyDataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ToyDataset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase();
        let found = match key.as_str() {
            "moons" | "two_moons" => Some(ToyDataset::Moons),
            "8gaussians" | "eight_gaussians" | "8-gaussians" => Some(ToyDataset::EightGaussians),
            "checkerboard" => Some(ToyDataset::Checkerboard),
            "rings" => Some(ToyDataset::Rings),
            "pinwheel" => Some(ToyDataset::Pinwheel),
            "2spirals" | "spirals" | "two_spirals" => Some(ToyDataset::TwoSpirals),
            _ => None,
        };
        found.ok_or_else(|| Error::UnknownName {
            what: "toy data set",
            name: s.to_owned(),
            known: ToyDataset::ALL.iter().map(|d| d.name()).collect(),
        })
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

    fn mean(x: &DMatrix<f64>) -> [f64; 2] {
        let m = x.row_mean();
        [m[0], m[1]]
    }

    #[test]
    fn every_dataset_has_shape_n_by_2_and_is_deterministic() {
        for d in ToyDataset::ALL {
            for n in [0, 1, 7, 1001] {
                let a = d.sample(n, &mut rng(3));
                assert_eq!(a.shape(), (n, 2), "{d} n={n}");
                assert!(a.iter().all(|v| v.is_finite()), "{d}");
                let b = d.sample(n, &mut rng(3));
                assert_eq!(a, b, "{d} is not deterministic for a seed");
            }
            let c = d.sample(100, &mut rng(4));
            assert_ne!(d.sample(100, &mut rng(3)), c, "{d} ignores the seed");
        }
    }

    #[test]
    fn names_round_trip_and_unknown_name_is_an_error() {
        for d in ToyDataset::ALL {
            assert_eq!(d.name().parse::<ToyDataset>().unwrap(), d);
            assert_eq!(d.to_string(), d.name());
        }
        assert_eq!(
            "Two_Spirals".parse::<ToyDataset>().unwrap(),
            ToyDataset::TwoSpirals
        );
        let err = "swissroll".parse::<ToyDataset>().unwrap_err();
        assert!(matches!(err, Error::UnknownName { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("swissroll") && msg.contains("2spirals"),
            "{msg}"
        );
    }

    #[test]
    fn moons_geometry_matches_make_moons() {
        // Without noise every point lies exactly on its moon.
        let x = two_moons(1000, 0.0, &mut rng(1)).unwrap();
        let m = mean(&x);
        assert!((m[0] - 0.5).abs() < 1e-12, "{m:?}");
        // Outer y = sin t and inner y = 0.5 − sin t use the same t grid, so the y mean is 0.25.
        assert!((m[1] - 0.25).abs() < 1e-12);
        let on_outer = x
            .row_iter()
            .filter(|r| (r[0].hypot(r[1]) - 1.0).abs() < 1e-12 && r[1] >= 0.0)
            .count();
        let on_inner = x
            .row_iter()
            .filter(|r| ((r[0] - 1.0).hypot(r[1] - 0.5) - 1.0).abs() < 1e-12 && r[1] <= 0.5)
            .count();
        assert_eq!((on_outer, on_inner), (500, 500));

        let noisy = two_moons(20_000, 0.1, &mut rng(2)).unwrap();
        let m = mean(&noisy);
        assert!(
            (m[0] - 0.5).abs() < 0.01 && (m[1] - 0.25).abs() < 0.01,
            "{m:?}"
        );
    }

    #[test]
    fn moons_rejects_bad_noise() {
        for noise in [-0.1, f64::NAN, f64::INFINITY] {
            let err = two_moons(10, noise, &mut rng(0)).unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { name: "noise", .. }));
            assert!(err.to_string().contains("noise"));
        }
    }

    #[test]
    fn ffjord_moons_is_rescaled() {
        let x = ToyDataset::Moons.sample(20_000, &mut rng(5));
        let m = mean(&x);
        // 2·(0.5, 0.25) + (−1, −0.2) = (0, 0.3).
        assert!(m[0].abs() < 0.02 && (m[1] - 0.3).abs() < 0.02, "{m:?}");
    }

    #[test]
    fn eight_gaussians_lie_near_the_ring() {
        let x = eight_gaussians(20_000, &mut rng(6));
        let radius = 4.0 / 1.414;
        let sd = 0.5 / 1.414;
        let radii: Vec<f64> = x.row_iter().map(|r| r[0].hypot(r[1])).collect();
        let mean_r = radii.iter().sum::<f64>() / radii.len() as f64;
        assert!((mean_r - radius).abs() < 0.05, "mean radius {mean_r}");
        let within = radii
            .iter()
            .filter(|r| (*r - radius).abs() < 4.0 * sd)
            .count();
        assert!(within as f64 / radii.len() as f64 > 0.999);
        let m = mean(&x);
        assert!(m[0].abs() < 0.05 && m[1].abs() < 0.05, "{m:?}");
        // Each mode gets about an eighth of the samples.
        for k in 0..8 {
            let a = PI / 4.0 * k as f64;
            let (cx, cy) = (radius * a.cos(), radius * a.sin());
            let count = x
                .row_iter()
                .filter(|r| (r[0] - cx).hypot(r[1] - cy) < 1.0)
                .count();
            assert!(
                (count as f64 / 20_000.0 - 0.125).abs() < 0.015,
                "mode {k}: {count}"
            );
        }
    }

    #[test]
    fn checkerboard_fills_only_the_black_squares() {
        let x = checkerboard(20_000, &mut rng(7));
        let mut counts = [[0_usize; 4]; 4];
        for r in x.row_iter() {
            assert!(
                (-4.0..4.0).contains(&r[0]) && (-4.0..4.0).contains(&r[1]),
                "{r}"
            );
            let (i, j) = ((r[0] / 2.0).floor(), (r[1] / 2.0).floor());
            assert_eq!((i + j).rem_euclid(2.0), 0.0, "point {r} on a white square");
            counts[(i + 2.0) as usize][(j + 2.0) as usize] += 1;
        }
        for (i, row) in counts.iter().enumerate() {
            for (j, &c) in row.iter().enumerate() {
                if (i + j) % 2 == 0 {
                    assert!((c as f64 / 20_000.0 - 0.125).abs() < 0.015, "{i},{j}: {c}");
                }
            }
        }
    }

    #[test]
    fn rings_have_the_four_radii() {
        let x = rings(4000, &mut rng(8));
        let mut counts = [0_usize; 4];
        for r in x.row_iter() {
            let rad = r[0].hypot(r[1]);
            let k = [3.0, 2.25, 1.5, 0.75]
                .iter()
                .position(|&c: &f64| (rad - c).abs() < 0.35)
                .expect("point far from every ring");
            counts[k] += 1;
        }
        assert_eq!(counts, [1000, 1000, 1000, 1000]);
        let m = mean(&x);
        assert!(m[0].abs() < 0.01 && m[1].abs() < 0.01, "{m:?}");
    }

    #[test]
    fn pinwheel_is_centred_with_radius_about_two() {
        let x = pinwheel(20_000, &mut rng(9));
        let m = mean(&x);
        assert!(m[0].abs() < 0.05 && m[1].abs() < 0.05, "{m:?}");
        // |sample| = 2·|f| and E|f|² = 1 + 0.3² + 0.1², so E|x|² = 4.4.
        let ms: f64 = x.row_iter().map(|r| r[0] * r[0] + r[1] * r[1]).sum::<f64>() / 20_000.0;
        assert!((ms - 4.4).abs() < 0.1, "{ms}");
    }

    #[test]
    fn spirals_are_point_symmetric() {
        let x = spirals(20_000, &mut rng(10));
        let m = mean(&x);
        assert!(m[0].abs() < 0.05 && m[1].abs() < 0.05, "{m:?}");
        // Noise-free radius is at most (3π + 0.5·√2)/3 ≈ 3.38; noise adds at most a few 0.1.
        let max_r = x
            .row_iter()
            .map(|r| r[0].hypot(r[1]))
            .fold(0.0_f64, f64::max);
        assert!(max_r < 3.38 + 0.6 && max_r > 3.0, "{max_r}");
    }
}
