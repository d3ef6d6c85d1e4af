//! The operations on [`Var`]: each computes its value and records itself for the backward pass.

use crate::gemm::mm;
use crate::op::{Bcast, BinaryFn, Op, UnaryFn, sum_over_cols, sum_over_rows};
use crate::{Error, Float, Result, Var, lit};
use nalgebra::DMatrix;
use std::sync::Arc;

// The binary operations are inherent methods named like `std::ops` (so `a.add(b)?` reads
// naturally) but return `Result`, because operand shapes can mismatch; the operator traits
// below forward to them.
#[allow(clippy::should_implement_trait)]
impl<'t, T: Float> Var<'t, T> {
    fn unary(self, f: UnaryFn<T>) -> Var<'t, T> {
        let x = self.value();
        let v = DMatrix::from_vec(x.nrows(), x.ncols(), f.map_all(x.as_slice()));
        self.tape.push(v, Op::Unary(self.idx, f))
    }

    fn binary(self, rhs: Var<'t, T>, f: BinaryFn) -> Result<Var<'t, T>> {
        same_tape(self, rhs, f.name())?;
        let (a, b) = (self.value(), rhs.value());
        let bc = broadcast_kind(a.shape(), b.shape()).ok_or(Error::Shape {
            op: f.name(),
            left: a.shape(),
            right: b.shape(),
        })?;
        Ok(self.push_binary(rhs, f, bc))
    }

    /// Records a binary op whose shapes the caller has already matched to `bc`.
    fn push_binary(self, rhs: Var<'t, T>, f: BinaryFn, bc: Bcast) -> Var<'t, T> {
        let (a, b) = (self.value(), rhs.value());
        let out = match f {
            BinaryFn::Add => bc.map(&a, &b, |x, y| x + y),
            BinaryFn::Sub => bc.map(&a, &b, |x, y| x - y),
            BinaryFn::Mul => bc.map(&a, &b, |x, y| x * y),
            BinaryFn::Div => bc.map(&a, &b, |x, y| x / y),
        };
        self.tape.push(out, Op::Binary(self.idx, rhs.idx, f, bc))
    }

    /// Elementwise `self + rhs`; `rhs` may be the same shape, a `1 × d` row, an `n × 1`
    /// column or a `1 × 1` scalar (broadcast over the batch).
    pub fn add(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        self.binary(rhs, BinaryFn::Add)
    }

    /// Elementwise `self − rhs`, with the broadcasting of [`Var::add`].
    pub fn sub(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        self.binary(rhs, BinaryFn::Sub)
    }

    /// Elementwise `self ⊙ rhs`, with the broadcasting of [`Var::add`].
    pub fn mul(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        self.binary(rhs, BinaryFn::Mul)
    }

    /// Elementwise `self / rhs`, with the broadcasting of [`Var::add`].
    pub fn div(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        self.binary(rhs, BinaryFn::Div)
    }

    /// Matrix product `self · rhs` (`n × k` times `k × m`), through nalgebra's GEMM.
    pub fn matmul(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        same_tape(self, rhs, "matmul")?;
        let (a, b) = (self.value(), rhs.value());
        if a.ncols() != b.nrows() {
            return Err(Error::Shape {
                op: "matmul",
                left: a.shape(),
                right: b.shape(),
            });
        }
        let out = mm(&a, &b);
        Ok(self.tape.push(out, Op::MatMul(self.idx, rhs.idx)))
    }

    /// `−x`.
    pub fn neg(self) -> Var<'t, T> {
        self.unary(UnaryFn::Neg)
    }
    /// `eˣ`.
    pub fn exp(self) -> Var<'t, T> {
        self.unary(UnaryFn::Exp)
    }
    /// Natural logarithm (NaN for negative entries, −inf at 0, as IEEE arithmetic gives).
    pub fn ln(self) -> Var<'t, T> {
        self.unary(UnaryFn::Ln)
    }
    /// `tanh x`.
    pub fn tanh(self) -> Var<'t, T> {
        self.unary(UnaryFn::Tanh)
    }
    /// `max(x, 0)`; the derivative at 0 is taken as 0.
    pub fn relu(self) -> Var<'t, T> {
        self.unary(UnaryFn::Relu)
    }
    /// `x` for `x > 0`, `slope · x` otherwise.
    pub fn leaky_relu(self, slope: T) -> Var<'t, T> {
        self.unary(UnaryFn::LeakyRelu(slope))
    }
    /// `x` for `x > 0`, `α (eˣ − 1)` otherwise (Lipschitz constant max(1, α)).
    pub fn elu(self, alpha: T) -> Var<'t, T> {
        self.unary(UnaryFn::Elu(alpha))
    }
    /// `1 / (1 + e⁻ˣ)`, evaluated without overflow.
    pub fn sigmoid(self) -> Var<'t, T> {
        self.unary(UnaryFn::Sigmoid)
    }
    /// `ln(1 + eˣ)`, evaluated without overflow.
    pub fn softplus(self) -> Var<'t, T> {
        self.unary(UnaryFn::Softplus)
    }
    /// `atan x`.
    pub fn atan(self) -> Var<'t, T> {
        self.unary(UnaryFn::Atan)
    }
    /// `x²`.
    pub fn square(self) -> Var<'t, T> {
        self.unary(UnaryFn::Square)
    }
    /// `√x`.
    pub fn sqrt(self) -> Var<'t, T> {
        self.unary(UnaryFn::Sqrt)
    }
    /// `xⁿ` for an integer `n`.
    pub fn powi(self, n: i32) -> Var<'t, T> {
        self.unary(UnaryFn::Powi(n))
    }
    /// `|x|`; the derivative at 0 is taken as 0.
    pub fn abs(self) -> Var<'t, T> {
        self.unary(UnaryFn::Abs)
    }
    /// `sin x`.
    pub fn sin(self) -> Var<'t, T> {
        self.unary(UnaryFn::Sin)
    }
    /// `cos x`.
    pub fn cos(self) -> Var<'t, T> {
        self.unary(UnaryFn::Cos)
    }
    /// `1 / x`.
    pub fn recip(self) -> Var<'t, T> {
        self.unary(UnaryFn::Recip)
    }
    /// `x + s` for a constant scalar `s`.
    pub fn add_scalar(self, s: T) -> Var<'t, T> {
        self.unary(UnaryFn::AddScalar(s))
    }
    /// `s · x` for a constant scalar `s`.
    pub fn scale(self, s: T) -> Var<'t, T> {
        self.unary(UnaryFn::MulScalar(s))
    }
    /// `x · σ(x) / 1.1`, the Lipschitz-1 Swish of residual flows (Chen et al. 2019, β = 1).
    pub fn lipswish(self) -> Var<'t, T> {
        let s = self.sigmoid();
        self.push_binary(s, BinaryFn::Mul, Bcast::Same)
            .scale(lit(1.0 / 1.1))
    }
    /// Soft clamp `c · (2/π) · atan(x / c)`: smooth, odd, slope 1 at 0, bounded by `c`.
    pub fn soft_clamp(self, c: T) -> Var<'t, T> {
        self.scale(T::one() / c)
            .atan()
            .scale(c * lit(2.0 / std::f64::consts::PI))
    }

    /// Σ of all entries, as `1 × 1`.
    pub fn sum(self) -> Var<'t, T> {
        let v = crate::op::sum_slice(self.value().as_slice());
        self.tape
            .push(DMatrix::from_element(1, 1, v), Op::SumAll(self.idx))
    }
    /// Mean of all entries, as `1 × 1` (0 for an empty value).
    pub fn mean(self) -> Var<'t, T> {
        let n = self.value().len().max(1);
        self.sum().scale(T::one() / lit(n as f64))
    }
    /// Σ over rows (over the samples of a batch): `n × d → 1 × d`.
    pub fn sum_rows(self) -> Var<'t, T> {
        let v = sum_over_rows(&self.value());
        self.tape.push(v, Op::SumRows(self.idx))
    }
    /// Mean over rows (over the samples of a batch): `n × d → 1 × d`.
    pub fn mean_rows(self) -> Var<'t, T> {
        let n = self.nrows().max(1);
        self.sum_rows().scale(T::one() / lit(n as f64))
    }
    /// Σ over columns (over the features of each sample): `n × d → n × 1`.
    pub fn sum_cols(self) -> Var<'t, T> {
        let v = sum_over_cols(&self.value());
        self.tape.push(v, Op::SumCols(self.idx))
    }
    /// Mean over columns: `n × d → n × 1`.
    pub fn mean_cols(self) -> Var<'t, T> {
        let d = self.ncols().max(1);
        self.sum_cols().scale(T::one() / lit(d as f64))
    }
    /// `ln Σ_j exp(x_ij)` per row, `n × d → n × 1`, shifted by the (detached) row maximum so
    /// that nothing overflows; the shift cancels exactly in value and gradient.
    pub fn logsumexp_cols(self) -> Result<Var<'t, T>> {
        let v = self.value();
        if v.ncols() == 0 {
            return Err(Error::InvalidArgument {
                op: "logsumexp_cols",
                reason: "a value with no columns".into(),
            });
        }
        let m = DMatrix::from_fn(v.nrows(), 1, |i, _| {
            let row = v.row(i);
            let row_max = row.iter().copied().fold(row[0], |a, b| a.max(b));
            if row_max.is_finite() {
                row_max
            } else {
                T::zero()
            }
        });
        let m = self.tape.constant(m);
        let bc = if v.ncols() == 1 {
            Bcast::Same
        } else {
            Bcast::Col
        };
        let shifted = self.push_binary(m, BinaryFn::Sub, bc);
        Ok(shifted
            .exp()
            .sum_cols()
            .ln()
            .push_binary(m, BinaryFn::Add, Bcast::Same))
    }

    /// Columns `start .. start + len`.
    pub fn slice_cols(self, start: usize, len: usize) -> Result<Var<'t, T>> {
        let v = self.value();
        if start + len > v.ncols() {
            return Err(Error::InvalidArgument {
                op: "slice_cols",
                reason: format!(
                    "columns {start}..{} of a {}x{} value",
                    start + len,
                    v.nrows(),
                    v.ncols()
                ),
            });
        }
        let out = crate::pool::select_columns(&v, start..start + len);
        Ok(self.tape.push(out, Op::SliceCols(self.idx, start)))
    }

    /// Rows `start .. start + len` (a sub-batch).
    pub fn slice_rows(self, start: usize, len: usize) -> Result<Var<'t, T>> {
        let v = self.value();
        if start + len > v.nrows() {
            return Err(Error::InvalidArgument {
                op: "slice_rows",
                reason: format!(
                    "rows {start}..{} of a {}x{} value",
                    start + len,
                    v.nrows(),
                    v.ncols()
                ),
            });
        }
        let out = crate::pool::rows(&v, start, len);
        Ok(self.tape.push(out, Op::SliceRows(self.idx, start)))
    }

    /// Reorders (or selects, or repeats) columns: output column `k` is input column `index[k]`.
    pub fn gather_cols(self, index: &[usize]) -> Result<Var<'t, T>> {
        let v = self.value();
        if let Some(&bad) = index.iter().find(|&&i| i >= v.ncols()) {
            return Err(Error::InvalidArgument {
                op: "gather_cols",
                reason: format!("column {bad} of a value with {} columns", v.ncols()),
            });
        }
        let out = crate::pool::select_columns(&v, index.iter().copied());
        Ok(self
            .tape
            .push(out, Op::GatherCols(self.idx, index.to_vec())))
    }

    /// Transpose.
    pub fn transpose(self) -> Var<'t, T> {
        let out = self.value().transpose();
        self.tape.push(out, Op::Transpose(self.idx))
    }

    /// Pairwise squared Euclidean distances between the rows of `self` (`n × d`) and of
    /// `other` (`m × d`): an `n × m` matrix, computed as ‖a‖² + ‖b‖² − 2 a·b with GEMM and
    /// clamped at 0 (rounding can make it slightly negative).
    pub fn pairwise_sq_dist(self, other: Var<'t, T>) -> Result<Var<'t, T>> {
        same_tape(self, other, "pairwise_sq_dist")?;
        let (a, b) = (self.value(), other.value());
        if a.ncols() != b.ncols() {
            return Err(Error::Shape {
                op: "pairwise_sq_dist",
                left: a.shape(),
                right: b.shape(),
            });
        }
        let out = pairwise_sq_dist(&a, &b);
        Ok(self.tape.push(out, Op::PairwiseSqDist(self.idx, other.idx)))
    }

    /// The values of a dense layer's input, weight and bias, after checking that they share
    /// the tape and that the shapes fit (`ops` names the operation in errors: product, bias).
    fn layer_values(
        self,
        w: Var<'t, T>,
        b: Var<'t, T>,
        ops: [&'static str; 2],
    ) -> Result<[Arc<DMatrix<T>>; 3]> {
        same_tape(self, w, ops[0])?;
        same_tape(self, b, ops[0])?;
        let (xv, wv, bv) = (self.value(), w.value(), b.value());
        if xv.ncols() != wv.nrows() {
            return Err(Error::Shape {
                op: ops[0],
                left: xv.shape(),
                right: wv.shape(),
            });
        }
        if bv.shape() != (1, wv.ncols()) {
            return Err(Error::Shape {
                op: ops[1],
                left: (1, wv.ncols()),
                right: bv.shape(),
            });
        }
        Ok([xv, wv, bv])
    }

    /// `self · w + b` with `w: k × m` and a `1 × m` bias row `b` (a dense layer), as one
    /// operation: the bias fills the output and GEMM accumulates onto it.
    pub fn affine(self, w: Var<'t, T>, b: Var<'t, T>) -> Result<Var<'t, T>> {
        let [xv, wv, bv] = self.layer_values(w, b, ["affine", "affine (bias)"])?;
        let out = crate::gemm::mm_plus_row(&xv, &wv, &bv);
        Ok(self.tape.push(out, Op::Affine(self.idx, w.idx, b.idx)))
    }

    /// `f(self · w + b)`, a dense layer and its activation as one operation when `f`'s
    /// derivative is a function of its output ([`UnaryFn::fuses_into_dense`]): the activation
    /// runs in place on the product and the backward pass reads the output only, so the
    /// pre-activation is neither kept nor passed over again (the INN benchmark's hidden layers
    /// are 1600 × 512); otherwise [`Var::affine`] then the map.
    pub(crate) fn dense(self, w: Var<'t, T>, b: Var<'t, T>, f: UnaryFn<T>) -> Result<Var<'t, T>> {
        if !f.fuses_into_dense() {
            return Ok(self.affine(w, b)?.unary(f));
        }
        let [xv, wv, bv] = self.layer_values(w, b, ["dense", "dense (bias)"])?;
        let (n, k) = xv.shape();
        let out = if crate::gemm::strided_ok(n, k, wv.ncols()) {
            // matrixmultiply's product, then the bias and the map in one pass. Rounds exactly
            // as `affine`: matrixmultiply adds its finished dot product to a bias-filled output
            // in one operation, which is the same sum.
            let mut out = mm(&xv, &wv);
            f.add_bias_and_map(out.as_mut_slice(), n, bv.as_slice());
            out
        } else {
            // nalgebra's loops accumulate onto the bias term by term: keep that order.
            let mut out = crate::gemm::mm_plus_row(&xv, &wv, &bv);
            f.map_in_place(out.as_mut_slice());
            out
        };
        Ok(self.tape.push(out, Op::Dense(self.idx, w.idx, b.idx, f)))
    }
}

macro_rules! binary_operator {
    ($tr:ident, $method:ident) => {
        /// Forwards to the inherent method; the output is a `Result` because shapes can mismatch.
        impl<'t, T: Float> std::ops::$tr for Var<'t, T> {
            type Output = Result<Var<'t, T>>;
            fn $method(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
                Var::$method(self, rhs)
            }
        }
    };
}
binary_operator!(Add, add);
binary_operator!(Sub, sub);
binary_operator!(Mul, mul);
binary_operator!(Div, div);

impl<'t, T: Float> std::ops::Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    fn neg(self) -> Var<'t, T> {
        Var::neg(self)
    }
}

/// Concatenates values side by side (same number of rows): `[a | b | …]`.
pub fn concat_cols<'t, T: Float>(parts: &[Var<'t, T>]) -> Result<Var<'t, T>> {
    let first = parts.first().ok_or(Error::InvalidArgument {
        op: "concat_cols",
        reason: "no parts".into(),
    })?;
    let values: Vec<_> = parts.iter().map(|p| p.value()).collect();
    let n = values[0].nrows();
    for (p, v) in parts.iter().zip(&values) {
        same_tape(*first, *p, "concat_cols")?;
        if v.nrows() != n {
            return Err(Error::Shape {
                op: "concat_cols",
                left: values[0].shape(),
                right: v.shape(),
            });
        }
    }
    let total: usize = values.iter().map(|v| v.ncols()).sum();
    let mut out = crate::pool::zeros(n, total);
    let mut start = 0;
    for v in &values {
        out.columns_mut(start, v.ncols()).copy_from(v);
        start += v.ncols();
    }
    Ok(first
        .tape
        .push(out, Op::ConcatCols(parts.iter().map(|p| p.idx).collect())))
}

/// Stacks values on top of each other (same number of columns): one batch after another.
pub fn concat_rows<'t, T: Float>(parts: &[Var<'t, T>]) -> Result<Var<'t, T>> {
    let first = parts.first().ok_or(Error::InvalidArgument {
        op: "concat_rows",
        reason: "no parts".into(),
    })?;
    let values: Vec<_> = parts.iter().map(|p| p.value()).collect();
    let d = values[0].ncols();
    for (p, v) in parts.iter().zip(&values) {
        same_tape(*first, *p, "concat_rows")?;
        if v.ncols() != d {
            return Err(Error::Shape {
                op: "concat_rows",
                left: values[0].shape(),
                right: v.shape(),
            });
        }
    }
    let total: usize = values.iter().map(|v| v.nrows()).sum();
    let mut out = crate::pool::zeros(total, d);
    let mut start = 0;
    for v in &values {
        out.rows_mut(start, v.nrows()).copy_from(v);
        start += v.nrows();
    }
    Ok(first
        .tape
        .push(out, Op::ConcatRows(parts.iter().map(|p| p.idx).collect())))
}

/// Pairwise squared distances of plain matrices (rows of `a` against rows of `b`), as used by
/// [`Var::pairwise_sq_dist`]; shapes must agree in columns.
pub fn pairwise_sq_dist<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>) -> DMatrix<T> {
    let na = row_sq_norms(a);
    let nb = row_sq_norms(b);
    let mut d = crate::gemm::mm_nt(a, b);
    let two = lit::<T>(2.0);
    for j in 0..d.ncols() {
        for i in 0..d.nrows() {
            let v = na[i] + nb[j] - two * d[(i, j)];
            d[(i, j)] = if v > T::zero() { v } else { T::zero() };
        }
    }
    d
}

/// ‖row‖² for every row of `m`.
pub fn row_sq_norms<T: Float>(m: &DMatrix<T>) -> Vec<T> {
    let mut out = vec![T::zero(); m.nrows()];
    for col in m.column_iter() {
        for (o, &v) in out.iter_mut().zip(col.iter()) {
            *o += v * v;
        }
    }
    out
}

fn broadcast_kind(a: (usize, usize), b: (usize, usize)) -> Option<Bcast> {
    if a == b {
        Some(Bcast::Same)
    } else if b == (1, 1) {
        Some(Bcast::Scalar)
    } else if b.0 == 1 && b.1 == a.1 {
        Some(Bcast::Row)
    } else if b.1 == 1 && b.0 == a.0 {
        Some(Bcast::Col)
    } else {
        None
    }
}

fn same_tape<T: Float>(a: Var<'_, T>, b: Var<'_, T>, op: &'static str) -> Result<()> {
    if std::ptr::eq(a.tape, b.tape) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op,
            reason: "operands live on different tapes".into(),
        })
    }
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
