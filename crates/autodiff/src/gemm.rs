//! Matrix products through nalgebra's GEMM (which calls `matrixmultiply`), including the
//! transposed products the backward pass needs, without materialising a transpose.
//!
//! Large products are split by output columns across rayon's threads, each part one
//! single-threaded nalgebra GEMM writing its own contiguous column block. `matrixmultiply`'s own
//! `threading` feature is off on purpose: it hands half of every product to a parked worker
//! thread (a channel send and a futex wake per product, about 30 % of a 2-D flow's step at
//! batch 512 on 2 cores), it cannot be turned off per call, and products issued from two
//! threads at once would share its single worker. With rayon, training can instead run
//! independent shards of a batch on separate threads ([`par_products`] says whether a product
//! is split), and nested splits inside a busy pool cost a deque push.

use crate::Float;
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, Dyn};
use rayon::prelude::*;

/// Products with fewer multiply-adds than this stay on the calling thread (about 40 µs of work
/// on one core; below it a fork-join costs more than it saves).
pub const PARALLEL_MIN_MACS: usize = 1 << 23;

/// Fewest output columns a thread is handed. Every part packs all of `a` again, so narrow parts
/// lose: measured on 2 cores (f32), 512×128·128×128 took 79 µs on one thread and 118 µs split
/// into two 64-column halves, while 256×256·256×256 went from 153 µs to 94 µs split in two
/// 128-column halves, and 1024×512·512×512 from 2.36 ms to 1.50 ms.
const MIN_COLS_PER_PART: usize = 128;

/// nalgebra hands a product to `matrixmultiply` (which reads any strides) only when every
/// dimension exceeds this; its fallback loop for smaller products mishandles row strides
/// other than 1, so small transposed products never see a strided view.
const STRIDED_MIN_DIM: usize = 6;

pub(crate) fn strided_ok(m: usize, k: usize, n: usize) -> bool {
    m >= STRIDED_MIN_DIM && k >= STRIDED_MIN_DIM && n >= STRIDED_MIN_DIM
}

/// An operand of a product: a matrix as stored, or its transpose.
#[derive(Clone, Copy)]
enum Operand<'a, T: Float> {
    Plain(&'a DMatrix<T>),
    Transposed(&'a DMatrix<T>),
}

impl<'a, T: Float> Operand<'a, T> {
    fn shape(&self) -> (usize, usize) {
        match self {
            Operand::Plain(m) => m.shape(),
            Operand::Transposed(m) => (m.ncols(), m.nrows()),
        }
    }

    /// Columns `j0..j0 + w` of the operand: a view when `strided` allows reading a transpose
    /// in place, an owned transpose otherwise.
    fn columns(&self, j0: usize, w: usize, strided: bool) -> Columns<'a, T> {
        match *self {
            Operand::Plain(m) => {
                let rows = m.nrows();
                Columns::View(DMatrixView::from_slice_with_strides(
                    &m.as_slice()[j0 * rows..],
                    rows,
                    w,
                    1,
                    rows,
                ))
            }
            Operand::Transposed(m) if strided => {
                // Rows j0..j0+w of m, read as columns: entry (p, q) = m[(j0 + q, p)].
                let (rows, cols) = m.shape();
                Columns::View(DMatrixView::from_slice_with_strides(
                    &m.as_slice()[j0..],
                    cols,
                    w,
                    rows,
                    1,
                ))
            }
            Operand::Transposed(m) => Columns::Owned(m.rows(j0, w).transpose()),
        }
    }

    /// Rows `i0..i0 + h` of the operand (all its columns): a view when `strided` allows
    /// reading a transpose in place, an owned transpose otherwise.
    fn rows(&self, i0: usize, h: usize, strided: bool) -> Columns<'a, T> {
        match *self {
            Operand::Plain(m) => {
                let (rows, cols) = m.shape();
                Columns::View(DMatrixView::from_slice_with_strides(
                    &m.as_slice()[i0..],
                    h,
                    cols,
                    1,
                    rows,
                ))
            }
            Operand::Transposed(m) if strided => {
                // Columns i0..i0+h of m, read as rows: entry (p, q) = m[(q, i0 + p)].
                let rows = m.nrows();
                Columns::View(DMatrixView::from_slice_with_strides(
                    &m.as_slice()[i0 * rows..],
                    h,
                    rows,
                    rows,
                    1,
                ))
            }
            Operand::Transposed(m) => Columns::Owned(m.columns(i0, h).transpose()),
        }
    }
}

/// Columns of an operand, borrowed or (for small transposed products) materialised.
enum Columns<'a, T: Float> {
    View(DMatrixView<'a, T, Dyn, Dyn>),
    Owned(DMatrix<T>),
}

/// `c ← β·c + a·b` on the block `c` (`h × w`): rows `i0..i0 + h` of `a` times columns
/// `j0..j0 + w` of `b`.
fn gemm_block<T: Float>(
    c: &mut DMatrixViewMut<'_, T>,
    beta: T,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    (i0, j0): (usize, usize),
) {
    let k = a.shape().1;
    let (h, w) = c.shape();
    let strided = strided_ok(h, k, w);
    let right = b.columns(j0, w, strided);
    let left = a.rows(i0, h, strided);
    if strided {
        // matrixmultiply picks its own kernel at run time.
        block_product(c, beta, &left, &right);
    } else {
        // nalgebra's own loops (products with a dimension below `STRIDED_MIN_DIM`, such as a
        // 2-D flow's 1-wide input and output layers), compiled for the widest vectors.
        crate::simd::dispatch(
            #[inline(always)]
            move || block_product(c, beta, &left, &right),
        );
    }
}

/// `c ← β·c + l·r` through nalgebra's GEMM.
#[inline(always)]
fn block_product<T: Float>(
    c: &mut DMatrixViewMut<'_, T>,
    beta: T,
    left: &Columns<'_, T>,
    right: &Columns<'_, T>,
) {
    match (left, right) {
        (Columns::View(l), Columns::View(r)) => c.gemm(T::one(), l, r, beta),
        (Columns::View(l), Columns::Owned(r)) => c.gemm(T::one(), l, r, beta),
        (Columns::Owned(l), Columns::View(r)) => c.gemm(T::one(), l, r, beta),
        (Columns::Owned(l), Columns::Owned(r)) => c.gemm(T::one(), l, r, beta),
    }
}

/// Fewest rows a thread is handed when a narrow product is split by rows.
const MIN_ROWS_PER_PART: usize = 256;

/// How a product of `n × k` by `k × m` is split: `(row blocks, column blocks)`. `(1, 1)`
/// below [`PARALLEL_MIN_MACS`] or on a rayon worker thread (the caller is already one of
/// several parallel tasks, such as a training shard, and a nested split would pack `a` twice
/// and compete for the same cores). Otherwise wide outputs split by columns (up to rayon's
/// thread count, at least `MIN_COLS_PER_PART` columns each; each part writes a contiguous
/// block), and narrow tall ones by rows (at least `MIN_ROWS_PER_PART` rows each): a flow's
/// 2048 × 128 · 128 × 128 hidden layer took 300 µs on one thread and 160 µs in two row halves.
pub fn par_products(n: usize, k: usize, m: usize) -> (usize, usize) {
    if n.saturating_mul(k).saturating_mul(m) < PARALLEL_MIN_MACS
        || rayon::current_thread_index().is_some()
    {
        return (1, 1);
    }
    let threads = rayon::current_num_threads();
    let by_cols = threads.min(m / MIN_COLS_PER_PART);
    if by_cols >= 2 {
        return (1, by_cols);
    }
    (threads.min(n / MIN_ROWS_PER_PART).max(1), 1)
}

/// `c ← β·c + a·b` on rows `i0..` of the product, in `parts` row blocks by recursive halving
/// (rayon's join; each half writes its own rows of `c`).
fn gemm_rows<T: Float>(
    mut c: DMatrixViewMut<'_, T>,
    beta: T,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    i0: usize,
    parts: usize,
) {
    let h = c.nrows();
    if parts <= 1 {
        gemm_block(&mut c, beta, a, b, (i0, 0));
        return;
    }
    let top = h * (parts / 2) / parts;
    let (upper, lower) = c.rows_range_pair_mut(0..top, top..h);
    rayon::join(
        || gemm_rows(upper, beta, a, b, i0, parts / 2),
        || gemm_rows(lower, beta, a, b, i0 + top, parts - parts / 2),
    );
}

/// `c ← β·c + a·b` (`c: n × m`), split across rayon's threads when large ([`par_products`]).
fn gemm_into<T: Float>(c: &mut DMatrix<T>, beta: T, a: Operand<'_, T>, b: Operand<'_, T>) {
    let (n, k) = a.shape();
    let m = b.shape().1;
    if n == 0 || m == 0 {
        return;
    }
    let (row_parts, col_parts) = par_products(n, k, m);
    if row_parts > 1 {
        let whole = c.as_view_mut();
        gemm_rows(whole, beta, a, b, 0, row_parts);
        return;
    }
    if col_parts == 1 {
        gemm_block(&mut c.as_view_mut(), beta, a, b, (0, 0));
        return;
    }
    let width = m.div_ceil(col_parts);
    c.as_mut_slice()
        .par_chunks_mut(n * width)
        .enumerate()
        .for_each(|(p, chunk)| {
            let w = chunk.len() / n;
            let mut view = DMatrixViewMut::from_slice(chunk, n, w);
            gemm_block(&mut view, beta, a, b, (0, p * width));
        });
}

/// The `n × m` output of a product with inner dimension `k`, to be written with `β = 0`. When
/// every dimension is at least [`STRIDED_MIN_DIM`], nalgebra hands every block of the product
/// to matrixmultiply, which never reads `C` when `β = 0` ("the kernel must not read C"), so a
/// cached buffer is used as it is, without zeroing it first (6.4% of a flow step's
/// instructions were that `memset`); smaller products go through nalgebra's own loops and get
/// zeros.
fn output<T: Float>(n: usize, k: usize, m: usize) -> DMatrix<T> {
    if strided_ok(n, k, m) {
        crate::pool::scratch(n, m)
    } else {
        crate::pool::zeros(n, m)
    }
}

/// `a · b` for `a: n × k`, `b: k × m`. The caller has checked the shapes.
pub(crate) fn mm<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    let mut c = output(a.nrows(), a.ncols(), b.ncols());
    gemm_into(&mut c, T::zero(), Operand::Plain(a), Operand::Plain(b));
    c
}

/// `a · b + 1 bᵀ`-style dense layer: every row of the result starts as the bias row `bias`
/// (`1 × m`) and GEMM accumulates `a · b` onto it. The caller has checked the shapes.
pub(crate) fn mm_plus_row<T: Float>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
    bias: &DMatrix<T>,
) -> DMatrix<T> {
    let n = a.nrows();
    let mut data = crate::pool::buffer(n * b.ncols());
    for &v in bias.as_slice() {
        data.extend(std::iter::repeat_n(v, n));
    }
    let mut c = DMatrix::from_vec(n, b.ncols(), data);
    gemm_into(&mut c, T::one(), Operand::Plain(a), Operand::Plain(b));
    c
}

/// `aᵀ · b` for `a: k × n`, `b: k × m`. The caller has checked the shapes.
pub(crate) fn mm_tn<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    if par_products(a.ncols(), a.nrows(), b.ncols()) == (1, 1)
        && !strided_ok(a.ncols(), a.nrows(), b.ncols())
    {
        // Small outputs (e.g. the gradient of a 1-wide input layer): nalgebra's dot-product
        // form reads both operands along contiguous columns.
        // Entry (i, j) is the dot product of columns i and j, as nalgebra's `tr_mul` computes
        // it, here inlined into the dispatched function so that the dots use wide vectors.
        return crate::simd::dispatch(
            #[inline(always)]
            move || {
                let mut c = DMatrix::zeros(a.ncols(), b.ncols());
                for (j, mut out) in c.column_iter_mut().enumerate() {
                    let bj = b.column(j);
                    for (i, o) in out.iter_mut().enumerate() {
                        *o = a.column(i).dot(&bj);
                    }
                }
                c
            },
        );
    }
    let mut c = output(a.ncols(), a.nrows(), b.ncols());
    gemm_into(&mut c, T::zero(), Operand::Transposed(a), Operand::Plain(b));
    c
}

/// `a · bᵀ` for `a: n × k`, `b: m × k`. The caller has checked the shapes.
pub(crate) fn mm_nt<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    let mut c = output(a.nrows(), a.ncols(), b.nrows());
    gemm_into(&mut c, T::zero(), Operand::Plain(a), Operand::Transposed(b));
    c
}

/// `a · b` for plain matrices (`a: n × k`, `b: k × m`), through the same split GEMM as the
/// tape's products; `None` when the inner dimensions differ. Benchmarks measure the machine's
/// GEMM peak with it.
pub fn matmul<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>) -> Option<DMatrix<T>> {
    (a.ncols() == b.nrows()).then(|| mm(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_products_match_explicit_transposes() {
        let a = DMatrix::from_fn(7, 9, |i, j| (i as f64 * 0.3 - j as f64 * 0.7).sin());
        let b = DMatrix::from_fn(7, 6, |i, j| (i as f64 * 1.1 + j as f64 * 0.2).cos());
        let c = DMatrix::from_fn(6, 9, |i, j| (i as f64 + 2.0 * j as f64).sqrt());
        assert!((mm_tn(&a, &b) - a.transpose() * &b).abs().max() < 1e-12);
        assert!((mm_nt(&a, &c) - &a * c.transpose()).abs().max() < 1e-12);
        assert!((mm(&a, &c.transpose()) - &a * c.transpose()).abs().max() < 1e-12);
        let tiny = DMatrix::from_fn(3, 2, |i, j| (i + j) as f32);
        assert_eq!(mm_tn(&tiny, &tiny), tiny.transpose() * &tiny);
        let empty = DMatrix::<f64>::zeros(0, 4);
        assert_eq!(mm_tn(&empty, &DMatrix::zeros(0, 3)), DMatrix::zeros(4, 3));
    }

    /// Products large enough to be split (by rows, by columns, unevenly), in all three
    /// forms, against nalgebra's unsplit product; and the same on a rayon worker (no split).
    #[test]
    fn split_products_match_unsplit_ones() {
        let shapes = [
            (2048, 64, 70),
            (1031, 300, 290),
            (600, 129, 257),
            (3000, 7, 500),
        ];
        for &(n, k, m) in &shapes {
            let a = DMatrix::from_fn(n, k, |i, j| ((i * 7 + 3 * j) % 17) as f64 - 8.0);
            let b = DMatrix::from_fn(k, m, |i, j| ((5 * i + j) % 13) as f64 * 0.25);
            let expected = &a * &b;
            let at = a.transpose();
            let bt = b.transpose();
            let bias = DMatrix::from_fn(1, m, |_, j| j as f64);
            let check = |got: DMatrix<f64>, what: &str| {
                assert_eq!(got.shape(), (n, m), "{what}");
                assert!(
                    (&got - &expected).abs().max() <= 1e-9 * expected.abs().max(),
                    "{what} {n}×{k}×{m}"
                );
            };
            check(mm(&a, &b), "mm");
            check(mm_tn(&at, &b), "mm_tn");
            check(mm_nt(&a, &bt), "mm_nt");
            let with_bias = mm_plus_row(&a, &b, &bias);
            check(
                DMatrix::from_fn(n, m, |i, j| with_bias[(i, j)] - bias[(0, j)]),
                "mm_plus_row",
            );
            let on_worker = rayon::scope(|_| mm_nt(&a, &bt));
            check(on_worker, "on a worker");
        }
    }

    /// A cached buffer full of NaN (a diverged step's leftovers) reused as the output of a
    /// product never shows through: every shape either zeroes it or is written whole.
    #[test]
    fn stale_cached_buffers_never_leak_into_products() {
        for &(n, k, m) in &[
            (64, 64, 64),
            (6, 6, 6),
            (5, 40, 40),
            (40, 5, 40),
            (300, 2, 300),
        ] {
            let a = DMatrix::from_fn(n, k, |i, j| (i + 2 * j) as f64 * 0.01);
            let b = DMatrix::from_fn(k, m, |i, j| (3 * i + j) as f64 * 0.02);
            let expected = &a * &b;
            for _ in 0..2 {
                crate::pool::recycle(DMatrix::from_element(n, m, f64::NAN));
                crate::pool::recycle(DMatrix::from_element(m, n, f64::NAN));
                let got = mm(&a, &b);
                assert!((&got - &expected).abs().max() < 1e-9, "{n}×{k}×{m}");
                crate::pool::recycle(DMatrix::from_element(n, m, f64::NAN));
                let got = mm_nt(&a, &b.transpose());
                assert!((&got - &expected).abs().max() < 1e-9, "nt {n}×{k}×{m}");
                crate::pool::recycle(DMatrix::from_element(n, m, f64::NAN));
                let got = mm_tn(&a.transpose(), &b);
                assert!((&got - &expected).abs().max() < 1e-9, "tn {n}×{k}×{m}");
            }
        }
        crate::pool::release_buffers();
    }

    #[test]
    fn split_plans() {
        let t = rayon::current_num_threads();
        assert_eq!(par_products(16, 16, 16), (1, 1));
        if t >= 2 {
            assert_eq!(par_products(1024, 512, 512), (1, t.min(4)));
            assert_eq!(par_products(4096, 128, 128), (t.min(16), 1));
        }
        assert_eq!(rayon::scope(|_| par_products(1024, 512, 512)), (1, 1));
    }

    #[test]
    fn every_small_and_boundary_shape_is_right() {
        for n in 1..9 {
            for k in 1..9 {
                for m in 1..9 {
                    let a = DMatrix::from_fn(k, n, |i, j| (i * 3 + j) as f64);
                    let b = DMatrix::from_fn(k, m, |i, j| (i + 5 * j) as f64);
                    assert_eq!(mm_tn(&a, &b), a.transpose() * &b);
                    let a2 = DMatrix::from_fn(n, k, |i, j| (i * 3 + j) as f64);
                    let b2 = DMatrix::from_fn(m, k, |i, j| (i + 5 * j) as f64);
                    assert_eq!(mm_nt(&a2, &b2), &a2 * b2.transpose());
                }
            }
        }
    }
}
