//! Matrix products through nalgebra's GEMM (which calls `matrixmultiply`), including the
//! transposed products the backward pass needs, without materialising a transpose.

use crate::Float;
use nalgebra::{DMatrix, DMatrixView, Dyn};

/// A zero-copy transposed view: a column-major `r × c` matrix read as `c × r` by swapping
/// strides, so `matrixmultiply` reads it in place.
fn transposed<T: Float>(m: &DMatrix<T>) -> DMatrixView<'_, T, Dyn, Dyn> {
    DMatrixView::from_slice_with_strides(m.as_slice(), m.ncols(), m.nrows(), m.nrows(), 1)
}

/// `a · b` for `a: n × k`, `b: k × m`. The caller has checked the shapes.
pub(crate) fn mm<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    a * b
}

/// `a · b + 1 bᵀ`-style dense layer: every row of the result starts as the bias row `bias`
/// (`1 × m`) and GEMM accumulates `a · b` onto it. The caller has checked the shapes.
pub(crate) fn mm_plus_row<T: Float>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
    bias: &DMatrix<T>,
) -> DMatrix<T> {
    let n = a.nrows();
    let mut data = Vec::with_capacity(n * b.ncols());
    for &v in bias.as_slice() {
        data.extend(std::iter::repeat_n(v, n));
    }
    let mut c = DMatrix::from_vec(n, b.ncols(), data);
    c.gemm(T::one(), a, b, T::one());
    c
}

/// nalgebra hands a product to `matrixmultiply` (which reads any strides) only when every
/// dimension exceeds this; its fallback loop for smaller products mishandles row strides
/// other than 1, so small transposed products never see a strided view.
const STRIDED_MIN_DIM: usize = 6;

fn strided_ok(m: usize, k: usize, n: usize) -> bool {
    m >= STRIDED_MIN_DIM && k >= STRIDED_MIN_DIM && n >= STRIDED_MIN_DIM
}

/// `aᵀ · b` for `a: k × n`, `b: k × m`. The caller has checked the shapes.
pub(crate) fn mm_tn<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    if strided_ok(a.ncols(), a.nrows(), b.ncols()) {
        transposed(a) * b
    } else {
        // Small outputs (e.g. the gradient of a 1-wide input layer): nalgebra's dot-product
        // form reads both operands along contiguous columns.
        a.tr_mul(b)
    }
}

/// `a · bᵀ` for `a: n × k`, `b: m × k`. The caller has checked the shapes.
pub(crate) fn mm_nt<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    if strided_ok(a.nrows(), a.ncols(), b.nrows()) {
        a * transposed(b)
    } else {
        a * b.transpose()
    }
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
