//! Held-out rows: the seeded split every trainer and the command line share, the checks and
//! the split of the pair trainers, the rows that score the training side of the same metric,
//! and evaluation in bounded chunks.

use super::TrainReport;
use crate::{Error, Result};
use autodiff::Float;
use autodiff::nalgebra::DMatrix;
use bijectors::check_batch;
use rand::Rng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// Splits the row indices `0..n` into `(train, validation)`: after a shuffle with `rng`, the
/// first `round(val_fraction · n)` indices are held out. With `val_fraction = 0` nothing is
/// held out and the training rows keep their order (no random draws are made).
///
/// ```
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let (train, val) = inn::train::split_rows(1000, 0.1, &mut rng)?;
/// assert_eq!((train.len(), val.len()), (900, 100));
/// # Ok::<(), inn::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] when `val_fraction` is not in `[0, 1)`, when the split leaves no training
/// rows, or when a positive `val_fraction` of `n` rounds to no validation row at all (a table
/// too small for model selection: ask for `val_fraction = 0` to train without it).
pub fn split_rows<R: Rng + ?Sized>(
    n: usize,
    val_fraction: f64,
    rng: &mut R,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(Error::Config(format!(
            "val_fraction {val_fraction} is not in [0, 1)"
        )));
    }
    let n_val = (val_fraction * n as f64).round() as usize;
    if val_fraction > 0.0 && n_val == 0 {
        return Err(Error::Config(format!(
            "{n} rows are too few to hold out {:.0}% for validation (that is no row; at least {} \
             rows are needed); use val_fraction 0 to train without held-out model selection",
            val_fraction * 100.0,
            (0.5 / val_fraction).ceil() as usize
        )));
    }
    if n_val >= n {
        return Err(Error::Config(format!(
            "{n} rows leave none for training after holding out {n_val} for validation"
        )));
    }
    let mut rows: Vec<usize> = (0..n).collect();
    if n_val > 0 {
        rows.shuffle(rng);
    }
    let val = rows[..n_val].to_vec();
    rows.drain(..n_val);
    Ok((rows, val))
}

/// Pairs of training rows: `(x, y)` after holding out `val_fraction` of the rows
/// ([`split_rows`]), and the held-out pairs (`None` when nothing is held out).
pub(crate) type PairSplit<T> = ((DMatrix<T>, DMatrix<T>), Option<(DMatrix<T>, DMatrix<T>)>);

/// Splits row-aligned pairs `(x, y)` into training and held-out pairs ([`split_rows`]).
pub(crate) fn split_pairs<T: Float, R: Rng + ?Sized>(
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    val_fraction: f64,
    rng: &mut R,
) -> Result<PairSplit<T>> {
    let (train, val) = split_rows(x.nrows(), val_fraction, rng)?;
    let pick = |rows: &[usize]| (x.select_rows(rows.iter()), y.select_rows(rows.iter()));
    Ok((pick(&train), (!val.is_empty()).then(|| pick(&val))))
}

/// The names of a pair trainer's batches in errors: `[x, y, validation x, validation y]`.
pub(crate) type PairNames = [&'static str; 4];

/// Checks training pairs `(x, y)` and held-out pairs `val` against the widths `(x_dim, y_dim)`:
/// non-empty, finite, the right widths, as many rows of `x` as of `y`.
pub(crate) fn check_pairs<T: Float>(
    names: PairNames,
    (x, y): (&DMatrix<T>, &DMatrix<T>),
    val: Option<(&DMatrix<T>, &DMatrix<T>)>,
    (x_dim, y_dim): (usize, usize),
) -> Result<()> {
    for (i, (x, y)) in std::iter::once((x, y)).chain(val).enumerate() {
        check_batch(names[2 * i], x, x_dim)?;
        check_batch(names[2 * i + 1], y, y_dim)?;
        if x.nrows() != y.nrows() {
            return Err(Error::Config(format!(
                "{}: x has {} rows, y has {}",
                names[2 * i],
                x.nrows(),
                y.nrows()
            )));
        }
    }
    Ok(())
}

/// The `fit` of a pair trainer: checks the pairs, holds out `val_fraction` of the rows (after
/// a shuffle with `rng`, [`split_rows`]) and trains on the rest by `fit_with_validation`.
pub(crate) fn fit_holding_out<T: Float, R: Rng + ?Sized>(
    names: PairNames,
    (x, y): (&DMatrix<T>, &DMatrix<T>),
    dims: (usize, usize),
    val_fraction: f64,
    rng: &mut R,
    fit_with_validation: impl FnOnce(
        &DMatrix<T>,
        &DMatrix<T>,
        Option<(&DMatrix<T>, &DMatrix<T>)>,
        &mut R,
    ) -> Result<TrainReport>,
) -> Result<TrainReport> {
    check_pairs(names, (x, y), None, dims)?;
    let (train, val) = split_pairs(x, y, val_fraction, rng)?;
    fit_with_validation(&train.0, &train.1, val.as_ref().map(|(x, y)| (x, y)), rng)
}

/// `m` row indices spread evenly over `0..n` (all of them when `m ≥ n`): the training rows
/// that score the training side of a validation metric, as many as the validation rows so
/// that both sides have the same sampling noise.
pub(crate) fn probe_rows(n: usize, m: usize) -> Vec<usize> {
    let m = m.clamp(1, n.max(1));
    (0..m).map(|i| i * n / m).collect()
}

/// Rows per chunk when scoring held-out or training rows ([`chunked_mean`]): small enough that
/// even a modest validation set splits into a chunk per thread, large enough that each chunk's
/// products run near GEMM's single-core peak.
const SCORE_CHUNK_ROWS: usize = 512;

/// The mean of a per-row quantity over `n` rows, from `sum(start, len)` — the sum over rows
/// `start..start + len` — evaluated in chunks of [`SCORE_CHUNK_ROWS`] rows on rayon's threads.
/// The chunk sums are added in row order, so the result does not depend on the thread count.
pub(crate) fn chunked_mean(
    n: usize,
    sum: impl Fn(usize, usize) -> Result<f64> + Sync,
) -> Result<f64> {
    let chunks: Vec<(usize, usize)> = (0..n)
        .step_by(SCORE_CHUNK_ROWS)
        .map(|start| (start, SCORE_CHUNK_ROWS.min(n - start)))
        .collect();
    let sums = chunks
        .par_iter()
        .map(|&(start, len)| sum(start, len))
        .collect::<Result<Vec<f64>>>()?;
    Ok(sums.iter().sum::<f64>() / n.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn split_is_a_partition_of_the_rows() {
        let mut rng = StdRng::seed_from_u64(1);
        let (train, val) = split_rows(103, 0.2, &mut rng).unwrap();
        assert_eq!(val.len(), 21);
        let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        let (train, val) = split_rows(10, 0.0, &mut rng).unwrap();
        assert_eq!((train, val.len()), ((0..10).collect(), 0));
    }

    #[test]
    fn bad_fractions_and_tiny_sets_are_errors() {
        let mut rng = StdRng::seed_from_u64(2);
        for f in [-0.1, 1.0, f64::NAN] {
            assert!(matches!(split_rows(10, f, &mut rng), Err(Error::Config(_))));
        }
        // 0.9 of 2 rows rounds to 2 held out: none left to train on.
        assert!(matches!(
            split_rows(2, 0.9, &mut rng),
            Err(Error::Config(_))
        ));
        // 10% of 4 rows is no row: model selection is impossible, and says so.
        let e = split_rows(4, 0.1, &mut rng).unwrap_err().to_string();
        assert!(e.contains("at least 5 rows"), "{e}");
        assert_eq!(split_rows(5, 0.1, &mut rng).unwrap().1.len(), 1);
        // Without validation a single row is a (training) split.
        assert_eq!(split_rows(1, 0.0, &mut rng).unwrap(), (vec![0], vec![]));
    }

    #[test]
    fn probes_spread_over_the_rows() {
        assert_eq!(probe_rows(10, 5), vec![0, 2, 4, 6, 8]);
        assert_eq!(probe_rows(3, 10), vec![0, 1, 2]);
        let mean = chunked_mean(10_000, |s, l| Ok((s..s + l).map(|i| i as f64).sum())).unwrap();
        assert_eq!(mean, 4999.5);
    }
}
