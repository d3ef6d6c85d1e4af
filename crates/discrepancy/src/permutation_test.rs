//! The permutation two-sample test of `H₀: P = Q` with an MMD² statistic.

use crate::kernel_sums::{DEFAULT_BLOCK, KernelSums};
use crate::samples::check_pair;
use crate::scalar::to_f64;
use crate::{Error, Estimator, Kernel, Result};
use nalgebra::{DMatrix, RealField};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// Pooled samples up to this size cache the upper triangle of their Gram matrix in `f64`
/// (at most 2048·2047/2 values, 16 MiB) so that each permutation costs `O(N²)` additions
/// instead of `O(N² d)` kernel evaluations; larger ones recompute blocked sums per permutation
/// and keep memory at `O(block² + N d)`.
pub const GRAM_CACHE_MAX_POINTS: usize = 2048;

/// Options of [`permutation_test`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermutationConfig {
    permutations: usize,
    estimator: Estimator,
}

impl Default for PermutationConfig {
    /// 500 permutations with the unbiased estimator.
    fn default() -> Self {
        Self {
            permutations: 500,
            estimator: Estimator::Unbiased,
        }
    }
}

impl PermutationConfig {
    /// `permutations` random relabelings (`B`), unbiased estimator.
    ///
    /// # Errors
    /// [`Error::NoPermutations`] when `permutations == 0`.
    pub fn new(permutations: usize) -> Result<Self> {
        if permutations == 0 {
            return Err(Error::NoPermutations);
        }
        Ok(Self {
            permutations,
            ..Self::default()
        })
    }

    /// The same configuration with another estimator as the test statistic.
    pub fn with_estimator(self, estimator: Estimator) -> Self {
        Self { estimator, ..self }
    }

    /// The number of permutations `B`.
    pub fn permutations(&self) -> usize {
        self.permutations
    }

    /// The estimator used as the test statistic.
    pub fn estimator(&self) -> Estimator {
        self.estimator
    }
}

/// The outcome of [`permutation_test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PermutationTestResult {
    /// The observed MMD² estimate.
    pub statistic: f64,
    /// `(1 + #{b : MMD²_b ≥ observed}) / (1 + B)`: never 0, at least `1/(1 + B)`.
    pub p_value: f64,
    /// `B`, the number of permutations drawn.
    pub permutations: usize,
    /// `#{b : MMD²_b ≥ observed}`.
    pub exceedances: usize,
}

/// Permutation two-sample test of `H₀: P = Q` between `X` (`n × d`) and `Y` (`m × d`), one
/// sample per row: the `n + m` pooled rows are randomly relabelled into groups of sizes `n` and
/// `m` `B` times, and the p-value is `(1 + #{b : MMD²_b ≥ MMD²_obs}) / (1 + B)`, which is a valid
/// (slightly conservative) p-value for any `B` and never exactly 0. Reject at level `α` when
/// `p_value ≤ α`.
///
/// One `u64` is drawn from `rng`; permutation `b` shuffles with its own
/// `StdRng::seed_from_u64(base + b)`, so the permutations run in parallel with rayon and the
/// result is reproducible for a seeded `rng` whatever the thread count.
///
/// Pooled samples of at most [`GRAM_CACHE_MAX_POINTS`] rows cache their Gram matrix (see
/// there); larger ones recompute the blocked sums per permutation.
///
/// # Errors
/// The shape, size (per the estimator's [`Estimator::min_samples`]) and finiteness errors of
/// the estimators.
///
/// ```
/// use discrepancy::{Gaussian, PermutationConfig, permutation_test};
/// use nalgebra::DMatrix;
/// use rand::SeedableRng;
/// let x = DMatrix::from_fn(40, 1, |i, _| (i as f64 * 0.618).fract());
/// let y = x.map(|v| v + 1.0);
/// let mut rng = rand::rngs::StdRng::seed_from_u64(3);
/// let test = permutation_test(&x, &y, &Gaussian::new(0.5)?, &PermutationConfig::new(99)?, &mut rng)?;
/// assert_eq!(test.p_value, 0.01); // no relabelling beats the true split
/// # Ok::<(), discrepancy::Error>(())
/// ```
pub fn permutation_test<T, K>(
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    kernel: &K,
    config: &PermutationConfig,
    rng: &mut impl Rng,
) -> Result<PermutationTestResult>
where
    T: RealField + Copy,
    K: Kernel<T> + ?Sized,
{
    run(x, y, kernel, config, rng, GRAM_CACHE_MAX_POINTS)
}

/// [`permutation_test`] with an explicit cache threshold, so tests can drive both paths.
fn run<T, K>(
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    kernel: &K,
    config: &PermutationConfig,
    rng: &mut impl Rng,
    cache_max_points: usize,
) -> Result<PermutationTestResult>
where
    T: RealField + Copy,
    K: Kernel<T> + ?Sized,
{
    check_pair(x, y, config.estimator.min_samples())?;
    let (n, m) = (x.nrows(), y.nrows());
    let mut pooled = x.clone().resize_vertically(n + m, T::zero());
    pooled.rows_mut(n, m).copy_from(y);
    let base: u64 = rng.random();
    let relabel = |b: usize| -> Vec<bool> {
        // `true` marks a member of the first group (size n).
        let mut is_x: Vec<bool> = (0..n + m).map(|i| i < n).collect();
        is_x.shuffle(&mut StdRng::seed_from_u64(base.wrapping_add(b as u64)));
        is_x
    };
    let identity: Vec<bool> = (0..n + m).map(|i| i < n).collect();
    let (statistic, permuted) = if n + m <= cache_max_points {
        let gram = UpperGram::new(&pooled, kernel);
        let observed = config.estimator.on_sums(&gram.sums(&identity, n))?;
        let permuted = (0..config.permutations)
            .into_par_iter()
            .map(|b| config.estimator.on_sums(&gram.sums(&relabel(b), n)))
            .collect::<Result<Vec<f64>>>()?;
        (observed, permuted)
    } else {
        let split = |labels: &[bool]| {
            let rows_x: Vec<usize> = (0..n + m).filter(|&i| labels[i]).collect();
            let rows_y: Vec<usize> = (0..n + m).filter(|&i| !labels[i]).collect();
            let a = pooled.select_rows(rows_x.iter());
            let b = pooled.select_rows(rows_y.iter());
            config.estimator.on_sums(&KernelSums::compute_unchecked(
                &a,
                &b,
                kernel,
                DEFAULT_BLOCK,
            ))
        };
        let observed = split(&identity)?;
        let permuted = (0..config.permutations)
            .into_par_iter()
            .map(|b| split(&relabel(b)))
            .collect::<Result<Vec<f64>>>()?;
        (observed, permuted)
    };
    let exceedances = permuted.iter().filter(|&&s| s >= statistic).count();
    Ok(PermutationTestResult {
        statistic,
        p_value: (1 + exceedances) as f64 / (1 + config.permutations) as f64,
        permutations: config.permutations,
        exceedances,
    })
}

/// The strict upper triangle of the pooled Gram matrix, row by row, in `f64`.
struct UpperGram {
    rows: Vec<Vec<f64>>,
    diagonal: f64,
}

impl UpperGram {
    fn new<T, K>(pooled: &DMatrix<T>, kernel: &K) -> Self
    where
        T: RealField + Copy,
        K: Kernel<T> + ?Sized,
    {
        // Samples as contiguous columns, so each distance reads two short slices.
        let points = pooled.transpose();
        let total = pooled.nrows();
        let d = pooled.ncols();
        let point = |i: usize| &points.as_slice()[i * d..(i + 1) * d];
        let rows = (0..total)
            .into_par_iter()
            .map(|i| {
                let pi = point(i);
                (i + 1..total)
                    .map(|j| {
                        let d2 = pi.iter().zip(point(j)).fold(T::zero(), |acc, (&a, &b)| {
                            let diff = a - b;
                            acc + diff * diff
                        });
                        to_f64(kernel.eval_sq(d2))
                    })
                    .collect()
            })
            .collect();
        Self {
            rows,
            diagonal: to_f64(kernel.diagonal()),
        }
    }

    /// The kernel sums for the split `labels` (`true` = first group, of size `n`).
    fn sums(&self, labels: &[bool], n: usize) -> KernelSums {
        let total = labels.len();
        let in_y: Vec<f64> = labels.iter().map(|&l| if l { 0.0 } else { 1.0 }).collect();
        let (mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0);
        for (i, row) in self.rows.iter().enumerate() {
            let weights = &in_y[i + 1..];
            let (mut all, mut to_y) = (0.0, 0.0);
            for (&k, &w) in row.iter().zip(weights) {
                all += k;
                to_y += k * w;
            }
            let to_x = all - to_y;
            if labels[i] {
                xx += 2.0 * to_x;
                xy += to_y;
            } else {
                xy += to_x;
                yy += 2.0 * to_y;
            }
        }
        KernelSums::from_parts(n, total - n, xx, yy, xy, self.diagonal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Gaussian;

    #[test]
    fn cached_and_recomputed_paths_agree() {
        let x = DMatrix::from_fn(13, 2, |i, j| ((i * 5 + j * 3) % 7) as f64 / 7.0);
        let y = DMatrix::from_fn(9, 2, |i, j| ((i * 3 + j) % 5) as f64 / 4.0);
        let kernel = Gaussian::new(0.4).unwrap();
        for estimator in [Estimator::Biased, Estimator::Unbiased] {
            let config = PermutationConfig::new(60)
                .unwrap()
                .with_estimator(estimator);
            let cached = run(
                &x,
                &y,
                &kernel,
                &config,
                &mut StdRng::seed_from_u64(5),
                4096,
            );
            let direct = run(&x, &y, &kernel, &config, &mut StdRng::seed_from_u64(5), 0);
            let (cached, direct) = (cached.unwrap(), direct.unwrap());
            assert!((cached.statistic - direct.statistic).abs() < 1e-12);
            assert_eq!(cached.exceedances, direct.exceedances);
            let expected = estimator.estimate(&x, &y, &kernel).unwrap();
            assert!((cached.statistic - expected).abs() < 1e-12);
        }
    }

    #[test]
    fn rejects_zero_permutations_and_small_samples() {
        assert_eq!(PermutationConfig::new(0), Err(Error::NoPermutations));
        let x = DMatrix::from_row_slice(1, 1, &[0.0_f64]);
        let y = DMatrix::from_row_slice(3, 1, &[0.0_f64, 1.0, 2.0]);
        let kernel = Gaussian::new(1.0).unwrap();
        let config = PermutationConfig::new(10).unwrap();
        let mut rng = StdRng::seed_from_u64(0);
        assert!(matches!(
            permutation_test(&x, &y, &kernel, &config, &mut rng),
            Err(Error::TooFewSamples {
                rows: 1,
                needed: 2,
                ..
            })
        ));
        let biased = config.with_estimator(Estimator::Biased);
        assert!(permutation_test(&x, &y, &kernel, &biased, &mut rng).is_ok());
    }
}
