//! Blocked, fused evaluation of the three kernel sums every MMD² estimate is made of, in
//! `O(block²)` memory whatever the sample sizes.
//!
//! Both samples are first centred at their pooled mean (the kernels are translation
//! invariant), which bounds the round-off of the expansion below by `ε·(‖xᵢ − x̄‖² + ‖yⱼ − x̄‖²)`.
//! The Laplace kernel takes a square root, so near-coincident points get a distance error of
//! order `√ε·‖xᵢ − x̄‖` (about `1e-8` in `f64`, `3e-4` in `f32` for unit-scale data).
//!
//! For a pair of row blocks the squared distances are formed in one GEMM,
//! `‖xᵢ‖² + ‖yⱼ‖² − 2 xᵢᵀyⱼ` (nalgebra's `gemm` into a buffer pre-filled with the row norms),
//! clamped at 0 against round-off, turned into kernel values one column at a time while the
//! column sits in L1, and summed in `f64`. No `n × n` matrix is ever formed. Row blocks run in
//! parallel with rayon; the per-row-block partial sums are added in a fixed order, so results
//! are bit-for-bit reproducible whatever the thread count.

use crate::samples::check_pair;
use crate::scalar::sum_f64;
use crate::{Error, Kernel, Result, Sample};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, RealField};
use rayon::prelude::*;

/// Rows per block: a `256 × 256` tile of `f64` is 512 KiB and stays in L2.
pub(crate) const DEFAULT_BLOCK: usize = 256;

/// The sufficient statistics of every quadratic-time MMD² estimator between `X` (`n × d`) and
/// `Y` (`m × d`), one sample per row:
/// `S_XX = Σ_{i≠j} k(xᵢ, xⱼ)`, `S_YY = Σ_{i≠j} k(yᵢ, yⱼ)`, `S_XY = Σ_{i,j} k(xᵢ, yⱼ)` and the
/// diagonal value `k(x, x) = κ(0)`.
///
/// With them (both identities are exact):
/// - biased V-statistic: `(S_XX + n κ(0))/n² + (S_YY + m κ(0))/m² − 2 S_XY/(nm)`;
/// - unbiased U-statistic: `S_XX/(n(n−1)) + S_YY/(m(m−1)) − 2 S_XY/(nm)`;
/// - hence `biased = unbiased + (κ(0) − S_XX/(n(n−1)))/n + (κ(0) − S_YY/(m(m−1)))/m`.
///
/// ```
/// use discrepancy::{InverseMultiquadric, KernelSums};
/// use nalgebra::DMatrix;
/// let x = DMatrix::from_row_slice(2, 1, &[0.0_f64, 1.0]);
/// let y = DMatrix::from_row_slice(2, 1, &[0.0_f64, 2.0]);
/// let sums = KernelSums::compute(&x, &y, &InverseMultiquadric::new(1.0)?)?;
/// assert_eq!(sums.sum_xx_off_diagonal(), 1.0); // 2 · 1/(1 + 1)
/// assert_eq!(sums.sum_yy_off_diagonal(), 0.4); // 2 · 1/(1 + 4)
/// assert!((sums.sum_xy() - 2.2).abs() < 1e-15); // 1 + 1/5 + 1/2 + 1/2
/// assert!((sums.unbiased()? - (1.0 / 2.0 + 0.4 / 2.0 - 2.0 * 2.2 / 4.0)).abs() < 1e-15);
/// assert!((sums.biased() - ((1.0 + 2.0) / 4.0 + (0.4 + 2.0) / 4.0 - 2.0 * 2.2 / 4.0)).abs() < 1e-15);
/// # Ok::<(), discrepancy::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelSums {
    n: usize,
    m: usize,
    xx_off: f64,
    yy_off: f64,
    xy: f64,
    diagonal: f64,
}

impl KernelSums {
    /// Computes the sums between `X` (`n × d`) and `Y` (`m × d`), one sample per row, in
    /// blocks (see the module docs): `O((n + m)² d)` time, `O(256²)` scratch per thread plus one
    /// centred copy of the inputs (`O((n + m) d)`); never an `n × n` matrix.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::ZeroDimension`], [`Error::TooFewSamples`] for an
    /// empty sample, [`Error::NonFinite`] naming the first bad row.
    pub fn compute<T, K>(x: &DMatrix<T>, y: &DMatrix<T>, kernel: &K) -> Result<Self>
    where
        T: RealField + Copy,
        K: Kernel<T> + ?Sized,
    {
        check_pair(x, y, 1)?;
        Ok(Self::compute_unchecked(x, y, kernel, DEFAULT_BLOCK))
    }

    /// The blocked computation on inputs already checked, with an explicit block size.
    pub(crate) fn compute_unchecked<T, K>(
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        kernel: &K,
        block: usize,
    ) -> Self
    where
        T: RealField + Copy,
        K: Kernel<T> + ?Sized,
    {
        // The kernels are translation invariant; centring both samples at the pooled mean keeps
        // the norms small, and with them the round-off of ‖x‖² + ‖y‖² − 2xᵀy.
        let (x, y) = centred(x, y);
        let nx = row_norms(&x);
        let ny = row_norms(&y);
        Self {
            n: x.nrows(),
            m: y.nrows(),
            xx_off: self_sum_off_diagonal(&x, &nx, kernel, block),
            yy_off: self_sum_off_diagonal(&y, &ny, kernel, block),
            xy: cross_sum(&x, &nx, &y, &ny, kernel, block),
            diagonal: crate::scalar::to_f64(kernel.diagonal()),
        }
    }

    /// Assembles sums computed elsewhere (the permutation test's cached Gram matrix).
    pub(crate) fn from_parts(
        n: usize,
        m: usize,
        xx_off: f64,
        yy_off: f64,
        xy: f64,
        diagonal: f64,
    ) -> Self {
        Self {
            n,
            m,
            xx_off,
            yy_off,
            xy,
            diagonal,
        }
    }

    /// Rows of `X`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Rows of `Y`.
    pub fn m(&self) -> usize {
        self.m
    }

    /// `S_XX = Σ_{i≠j} k(xᵢ, xⱼ)` (ordered pairs, so each unordered pair counts twice).
    pub fn sum_xx_off_diagonal(&self) -> f64 {
        self.xx_off
    }

    /// `S_YY = Σ_{i≠j} k(yᵢ, yⱼ)` (ordered pairs).
    pub fn sum_yy_off_diagonal(&self) -> f64 {
        self.yy_off
    }

    /// `S_XY = Σ_{i,j} k(xᵢ, yⱼ)` over all `n·m` pairs.
    pub fn sum_xy(&self) -> f64 {
        self.xy
    }

    /// The kernel's diagonal value `k(x, x) = κ(0)`.
    pub fn diagonal(&self) -> f64 {
        self.diagonal
    }

    /// The biased V-statistic `MMD²_b = (1/n²) Σ_{i,j} k(xᵢ,xⱼ) + (1/m²) Σ_{i,j} k(yᵢ,yⱼ)
    /// − (2/(nm)) Σ_{i,j} k(xᵢ,yⱼ)`, diagonal terms included. It is `≥ 0` for a
    /// positive-definite kernel (up to round-off) and `0` when `X = Y`.
    pub fn biased(&self) -> f64 {
        let (n, m) = (self.n as f64, self.m as f64);
        (self.xx_off + n * self.diagonal) / (n * n) + (self.yy_off + m * self.diagonal) / (m * m)
            - 2.0 * self.xy / (n * m)
    }

    /// The unbiased U-statistic `MMD²_u = S_XX/(n(n−1)) + S_YY/(m(m−1)) − 2 S_XY/(nm)`
    /// (Gretton et al. 2012, eq. 3): within-sample sums exclude the diagonal, the cross term
    /// keeps all pairs. Its expectation is exactly `MMD²(P, Q)`, so it is **negative** about
    /// half the time when `P = Q`; that is expected, not an error.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] unless `n ≥ 2` and `m ≥ 2`.
    pub fn unbiased(&self) -> Result<f64> {
        for (sample, rows) in [(Sample::X, self.n), (Sample::Y, self.m)] {
            if rows < 2 {
                return Err(Error::TooFewSamples {
                    sample,
                    rows,
                    needed: 2,
                });
            }
        }
        let (n, m) = (self.n as f64, self.m as f64);
        Ok(self.xx_off / (n * (n - 1.0)) + self.yy_off / (m * (m - 1.0)) - 2.0 * self.xy / (n * m))
    }
}

/// Copies of `x` and `y` with the pooled column means (computed in `f64`) subtracted.
fn centred<T: RealField + Copy>(x: &DMatrix<T>, y: &DMatrix<T>) -> (DMatrix<T>, DMatrix<T>) {
    let total = (x.nrows() + y.nrows()) as f64;
    let means: Vec<T> = x
        .column_iter()
        .zip(y.column_iter())
        .map(|(cx, cy)| {
            let sum = sum_f64(cx.as_slice()) + sum_f64(cy.as_slice());
            crate::scalar::from_f64(sum / total)
        })
        .collect();
    let shift = |a: &DMatrix<T>| {
        let mut out = a.clone();
        for (mut col, &mean) in out.column_iter_mut().zip(&means) {
            col.add_scalar_mut(-mean);
        }
        out
    };
    (shift(x), shift(y))
}

/// `‖aᵢ‖²` for every row of `a`, accumulated column by column (contiguous in column-major).
pub(crate) fn row_norms<T: RealField + Copy>(a: &DMatrix<T>) -> Vec<T> {
    let n = a.nrows();
    let mut out = vec![T::zero(); n];
    for col in a.as_slice().chunks_exact(n.max(1)) {
        for (o, &v) in out.iter_mut().zip(col) {
            *o += v * v;
        }
    }
    out
}

/// Per-thread scratch: the distance tile and one column of kernel values.
struct Workspace<T> {
    tile: Vec<T>,
    column: Vec<T>,
}

impl<T: RealField + Copy> Workspace<T> {
    fn new(block: usize) -> Self {
        Self {
            tile: vec![T::zero(); block * block],
            column: vec![T::zero(); block],
        }
    }
}

/// One row block of a sample: rows `start .. start + len` and their squared norms.
#[derive(Clone, Copy)]
struct RowBlock<'a, T: RealField + Copy> {
    data: &'a DMatrix<T>,
    norms: &'a [T],
    start: usize,
    len: usize,
}

/// `Σ k(aᵢ, bⱼ)` over the tile `a-block × b-block`, fused: norms, GEMM, clamp, kernel, sum.
/// With `skip_diagonal` the tile must be a diagonal tile (`a` and `b` the same block) and the
/// `i = j` terms are left out.
fn tile_sum<T, K>(
    a: RowBlock<'_, T>,
    b: RowBlock<'_, T>,
    skip_diagonal: bool,
    kernel: &K,
    ws: &mut Workspace<T>,
) -> f64
where
    T: RealField + Copy,
    K: Kernel<T> + ?Sized,
{
    let (bi, bj) = (a.len, b.len);
    let d = a.data.ncols();
    let tile = &mut ws.tile[..bi * bj];
    let a_norms = &a.norms[a.start..a.start + bi];
    for (col, &nb) in tile
        .chunks_exact_mut(bi)
        .zip(&b.norms[b.start..b.start + bj])
    {
        for (v, &na) in col.iter_mut().zip(a_norms) {
            *v = na + nb;
        }
    }
    {
        let two = T::one() + T::one();
        let mut tile_view = DMatrixViewMut::from_slice(tile, bi, bj);
        let a_rows = a.data.rows(a.start, bi);
        // `b`'s rows read as a `d × bj` matrix in place: swapping strides transposes for free.
        let b_rows_t = DMatrixView::from_slice_with_strides(
            &b.data.as_slice()[b.start..],
            d,
            bj,
            b.data.nrows(),
            1,
        );
        tile_view.gemm(-two, &a_rows, &b_rows_t, T::one());
    }
    let zero = T::zero();
    let kvals = &mut ws.column[..bi];
    let mut total = 0.0;
    for (c, col) in tile.chunks_exact_mut(bi).enumerate() {
        // A select, not a conditional store, so the clamp vectorises.
        for v in col.iter_mut() {
            *v = if *v < zero { zero } else { *v };
        }
        kvals.fill(zero);
        kernel.accumulate_sq(col, kvals);
        if skip_diagonal {
            kvals[c] = zero;
        }
        total += sum_f64(kvals);
    }
    total
}

fn row_block<'a, T: RealField + Copy>(
    data: &'a DMatrix<T>,
    norms: &'a [T],
    index: usize,
    block: usize,
) -> RowBlock<'a, T> {
    let start = index * block;
    RowBlock {
        data,
        norms,
        start,
        len: block.min(data.nrows() - start),
    }
}

/// `Σ_{i≠j} k(aᵢ, aⱼ)`: only tiles on or above the block diagonal are computed; the ones
/// above count twice by symmetry.
pub(crate) fn self_sum_off_diagonal<T, K>(
    a: &DMatrix<T>,
    norms: &[T],
    kernel: &K,
    block: usize,
) -> f64
where
    T: RealField + Copy,
    K: Kernel<T> + ?Sized,
{
    let blocks = a.nrows().div_ceil(block);
    let per_row: Vec<f64> = (0..blocks)
        .into_par_iter()
        .map_init(
            || Workspace::new(block),
            |ws, ib| {
                let rows = row_block(a, norms, ib, block);
                let mut s = tile_sum(rows, rows, true, kernel, ws);
                for jb in ib + 1..blocks {
                    s += 2.0 * tile_sum(rows, row_block(a, norms, jb, block), false, kernel, ws);
                }
                s
            },
        )
        .collect();
    per_row.iter().sum()
}

/// `Σ_{i,j} k(aᵢ, bⱼ)` over all pairs.
pub(crate) fn cross_sum<T, K>(
    a: &DMatrix<T>,
    a_norms: &[T],
    b: &DMatrix<T>,
    b_norms: &[T],
    kernel: &K,
    block: usize,
) -> f64
where
    T: RealField + Copy,
    K: Kernel<T> + ?Sized,
{
    let blocks_a = a.nrows().div_ceil(block);
    let blocks_b = b.nrows().div_ceil(block);
    let per_row: Vec<f64> = (0..blocks_a)
        .into_par_iter()
        .map_init(
            || Workspace::new(block),
            |ws, ib| {
                let rows = row_block(a, a_norms, ib, block);
                (0..blocks_b)
                    .map(|jb| tile_sum(rows, row_block(b, b_norms, jb, block), false, kernel, ws))
                    .sum::<f64>()
            },
        )
        .collect();
    per_row.iter().sum()
}
