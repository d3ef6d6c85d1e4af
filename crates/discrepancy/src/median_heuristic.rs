//! The median heuristic for the kernel width.

use crate::samples::check_pair;
use crate::scalar::{from_f64, to_f64};
use crate::{Error, Result};
use nalgebra::{DMatrix, RealField};
use rand::Rng;

/// At most this many pooled points enter the median heuristic (a random subset when larger).
pub const MEDIAN_HEURISTIC_MAX_POINTS: usize = 1000;

/// The median heuristic: the median of the off-diagonal Euclidean distances `‖zᵢ − zⱼ‖`
/// (`i < j`) of the pooled sample `Z = [X; Y]`, `X` (`n × d`) and `Y` (`m × d`) one sample per
/// row. For an even number of pairs it is the mean of the two middle distances.
///
/// When `n + m > 1000` it is computed on 1000 pooled points drawn without replacement from
/// `rng` (so about 500 000 distances), which makes it `O(d)` in time whatever the sample size
/// and reproducible for a seeded `rng`; `rng` is not used otherwise.
///
/// **Convention**: our [`crate::Gaussian`] width is `σ` in `exp(−d²/(2σ²))`, so the heuristic
/// width is `σ = median` with no further factor (`Gaussian::new(median_heuristic(..)?)`). Peers
/// differ (some use `exp(−d²/σ)` with `σ = median²`, or `σ = median/√2`); this is ours.
///
/// # Errors
/// The shape and finiteness errors of [`crate::mmd2_biased`]; [`Error::ZeroMedianDistance`]
/// when at least half the pairs coincide, since a zero width is not a valid kernel.
///
/// ```
/// use discrepancy::median_heuristic;
/// use nalgebra::DMatrix;
/// use rand::SeedableRng;
/// let x = DMatrix::from_row_slice(2, 1, &[0.0_f64, 1.0]);
/// let y = DMatrix::from_row_slice(1, 1, &[3.0_f64]);
/// // Distances 1, 3, 2: the median is 2.
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// assert_eq!(median_heuristic(&x, &y, &mut rng)?, 2.0);
/// # Ok::<(), discrepancy::Error>(())
/// ```
pub fn median_heuristic<T: RealField + Copy>(
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    rng: &mut impl Rng,
) -> Result<T> {
    check_pair(x, y, 1)?;
    let (n, m, d) = (x.nrows(), y.nrows(), x.ncols());
    let pooled = n + m;
    let chosen: Vec<usize> = if pooled > MEDIAN_HEURISTIC_MAX_POINTS {
        rand::seq::index::sample(rng, pooled, MEDIAN_HEURISTIC_MAX_POINTS).into_vec()
    } else {
        (0..pooled).collect()
    };
    // The chosen points, one per row of a contiguous row-major buffer, in f64.
    let points: Vec<f64> = chosen
        .iter()
        .flat_map(|&i| {
            (0..d).map(move |c| {
                if i < n {
                    to_f64(x[(i, c)])
                } else {
                    to_f64(y[(i - n, c)])
                }
            })
        })
        .collect();
    let count = chosen.len();
    let mut distances = Vec::with_capacity(count * (count - 1) / 2);
    for i in 0..count {
        let pi = &points[i * d..(i + 1) * d];
        for j in i + 1..count {
            let pj = &points[j * d..(j + 1) * d];
            let d2: f64 = pi.iter().zip(pj).map(|(a, b)| (a - b) * (a - b)).sum();
            distances.push(d2.sqrt());
        }
    }
    let median = median_of(&mut distances);
    if median > 0.0 {
        Ok(from_f64(median))
    } else {
        Err(Error::ZeroMedianDistance)
    }
}

/// The median of a non-empty slice of finite values (mean of the middle two for even length);
/// reorders the slice.
fn median_of(values: &mut [f64]) -> f64 {
    let len = values.len();
    let mid = len / 2;
    let (lower, upper_mid, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper_mid = *upper_mid;
    if len % 2 == 1 {
        upper_mid
    } else {
        let lower_mid = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower_mid + upper_mid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median_of(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_of(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_of(&mut [5.0]), 5.0);
    }

    #[test]
    fn hand_computed_median_on_four_points() {
        // Pooled points 0, 1, 3, 7 on a line: distances 1, 3, 7, 2, 6, 4 → sorted 1 2 3 4 6 7,
        // median (3 + 4)/2.
        let x = DMatrix::from_row_slice(2, 1, &[0.0_f64, 1.0]);
        let y = DMatrix::from_row_slice(2, 1, &[3.0_f64, 7.0]);
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(median_heuristic(&x, &y, &mut rng), Ok(3.5));
        let x32 = x.map(|v| v as f32);
        let y32 = y.map(|v| v as f32);
        assert_eq!(median_heuristic(&x32, &y32, &mut rng), Ok(3.5f32));
    }

    #[test]
    fn coincident_points_are_an_error() {
        let x = DMatrix::<f64>::zeros(3, 2);
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            median_heuristic(&x, &x, &mut rng),
            Err(Error::ZeroMedianDistance)
        );
    }

    #[test]
    fn large_samples_use_a_seeded_subsample() {
        // 1500 pooled points on a line: the full-sample median distance of uniform points on
        // [0, 1) is 1 − 1/√2 ≈ 0.293; the 1000-point subsample must be close and reproducible.
        let x = DMatrix::from_fn(800, 1, |i, _| (i as f64 * 0.618_033_988_7).fract());
        let y = DMatrix::from_fn(700, 1, |i, _| (i as f64 * 0.414_213_562_4).fract());
        let a = median_heuristic(&x, &y, &mut StdRng::seed_from_u64(7)).unwrap();
        let b = median_heuristic(&x, &y, &mut StdRng::seed_from_u64(7)).unwrap();
        assert_eq!(a, b);
        assert!((a - (1.0 - 0.5f64.sqrt())).abs() < 0.02, "median {a}");
    }
}
