//! Row regrouping for sets and signals: a row-major reshape, a gather of rows by index, pooling
//! over consecutive groups of rows, and 1-D patches (im2col) by strided copies.
//!
//! These let a batch whose rows each hold a *set* of `s` observations of width `d`
//! (`n × (s·d)`, observation `i` in columns `i·d .. (i+1)·d`) be processed element-wise as
//! `(n·s) × d` rows and pooled back to `n × d`, and a batch of 1-D signals be convolved by one
//! matrix product per layer over its patches. Every operation records its vector-Jacobian
//! product like the other ops; all are checked against central differences in `ops_tests.rs`.

use crate::op::Op;
use crate::{Error, Float, Result, Var};
use nalgebra::DMatrix;

/// `m` (`r × c`) read in row-major order and written row-major into `rows × cols`
/// (`rows · cols = r · c`): entry `(i, j)` of the result is the row-major entry
/// `i · cols + j` of `m` (NumPy's `reshape` in C order).
pub(crate) fn reshape_row_major<T: Float>(m: &DMatrix<T>, rows: usize, cols: usize) -> DMatrix<T> {
    let in_cols = m.ncols().max(1);
    let src = m.as_slice();
    let in_rows = m.nrows();
    let mut out: Vec<T> = crate::pool::buffer(rows * cols);
    for j in 0..cols {
        out.extend((0..rows).map(|i| {
            let k = i * cols + j;
            src[(k % in_cols) * in_rows + k / in_cols]
        }));
    }
    DMatrix::from_vec(rows, cols, out)
}

/// Rows `index[k]` of `m`, in that order.
pub(crate) fn gather_rows<T: Float>(m: &DMatrix<T>, index: &[usize]) -> DMatrix<T> {
    let n = m.nrows();
    let mut out: Vec<T> = crate::pool::buffer(index.len() * m.ncols());
    for col in m.as_slice().chunks_exact(n.max(1)).take(m.ncols()) {
        out.extend(index.iter().map(|&i| col[i]));
    }
    DMatrix::from_vec(index.len(), m.ncols(), out)
}

/// The adjoint of [`gather_rows`]: an `rows × g.ncols()` matrix with row `index[k]` receiving
/// (summing) row `k` of `g`.
fn scatter_rows<T: Float>(g: &DMatrix<T>, index: &[usize], rows: usize) -> DMatrix<T> {
    let mut out = crate::pool::zeros(rows, g.ncols());
    let k = g.nrows().max(1);
    for (dst, src) in out
        .as_mut_slice()
        .chunks_exact_mut(rows.max(1))
        .zip(g.as_slice().chunks_exact(k))
    {
        for (&i, &v) in index.iter().zip(src) {
            dst[i] += v;
        }
    }
    out
}

/// Σ over consecutive groups of `size` rows: `(m·size) × d → m × d`.
fn sum_row_groups<T: Float>(x: &DMatrix<T>, size: usize) -> DMatrix<T> {
    let (n, d) = x.shape();
    let groups = n / size;
    let mut out: Vec<T> = crate::pool::buffer(groups * d);
    for col in x.as_slice().chunks_exact(n.max(1)).take(d) {
        out.extend(col.chunks_exact(size).map(crate::op::sum_slice));
    }
    DMatrix::from_vec(groups, d, out)
}

/// Max over consecutive groups of `size` rows, and for every output entry (column-major) the
/// input row that attained it (the first one on ties).
fn max_row_groups<T: Float>(x: &DMatrix<T>, size: usize) -> (DMatrix<T>, Vec<usize>) {
    let (n, d) = x.shape();
    let groups = n / size;
    let mut out = Vec::with_capacity(groups * d);
    let mut arg = Vec::with_capacity(groups * d);
    for col in x.as_slice().chunks_exact(n.max(1)).take(d) {
        for (g, group) in col.chunks_exact(size).enumerate() {
            let mut best = 0;
            for (k, &v) in group.iter().enumerate() {
                // A NaN wins, so that it propagates (a trainer sees a non-finite loss) instead
                // of hiding behind the numbers of its group.
                if v > group[best] || (v.to_f64().is_nan() && !group[best].to_f64().is_nan()) {
                    best = k;
                }
            }
            out.push(group[best]);
            arg.push(g * size + best);
        }
    }
    (DMatrix::from_vec(groups, d, out), arg)
}

/// The shape of the 1-D patches of [`Var::im2col_1d`]: signals of `length` positions, windows
/// of `kernel` positions every `stride`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Patches1d {
    pub(crate) length: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
}

impl Patches1d {
    /// Output positions per signal.
    fn l_out(self) -> usize {
        conv1d_output_length(self.length, self.kernel, self.stride)
    }
}

/// The patches of `x` (`(n·length) × c`): `(n·l_out) × (kernel·c)`, column `k·c + ch` holding
/// channel `ch` at position `t·stride + k` of every window `t` of every signal. Built column
/// by column as strided copies (no index vector, no division per entry).
fn im2col_1d<T: Float>(x: &DMatrix<T>, p: Patches1d) -> DMatrix<T> {
    let (rows, c) = x.shape();
    let (n, l_out) = (rows / p.length, p.l_out());
    let mut out: Vec<T> = crate::pool::buffer(n * l_out * p.kernel * c);
    for k in 0..p.kernel {
        for col in x.as_slice().chunks_exact(rows.max(1)).take(c) {
            for signal in col.chunks_exact(p.length) {
                out.extend(signal[k..].iter().step_by(p.stride).take(l_out).copied());
            }
        }
    }
    DMatrix::from_vec(n * l_out, p.kernel * c, out)
}

/// The adjoint of [`im2col_1d`]: every patch entry's gradient added to the input entry it
/// copied. The window offsets `k` run from last to first, so that every input entry receives
/// its contributions in increasing window order `t` — the order of the gather-and-reshape this
/// op replaces, whose gradients (and so training runs) it reproduces bit for bit.
pub(crate) fn vjp_im2col_1d<T: Float>(
    g: &DMatrix<T>,
    p: Patches1d,
    input: (usize, usize),
) -> DMatrix<T> {
    let (rows, c) = input;
    let l_out = p.l_out();
    let mut out = crate::pool::zeros(rows, c);
    let g_rows = g.nrows();
    for k in (0..p.kernel).rev() {
        let dst_cols = out.as_mut_slice().chunks_exact_mut(rows.max(1)).take(c);
        for (ch, dst) in dst_cols.enumerate() {
            let src = &g.as_slice()[(k * c + ch) * g_rows..][..g_rows];
            for (signal, window) in dst
                .chunks_exact_mut(p.length)
                .zip(src.chunks_exact(l_out.max(1)))
            {
                for (d, &v) in signal[k..].iter_mut().step_by(p.stride).zip(window) {
                    *d += v;
                }
            }
        }
    }
    out
}

/// The vector-Jacobian products of the regrouping ops, called from [`Op::vjp`].
pub(crate) fn vjp_reshape<T: Float>(g: &DMatrix<T>, input: (usize, usize)) -> DMatrix<T> {
    reshape_row_major(g, input.0, input.1)
}

/// See [`scatter_rows`].
pub(crate) fn vjp_gather_rows<T: Float>(
    g: &DMatrix<T>,
    index: &[usize],
    rows: usize,
) -> DMatrix<T> {
    scatter_rows(g, index, rows)
}

/// Every group's gradient repeated over its `size` rows.
pub(crate) fn vjp_sum_row_groups<T: Float>(g: &DMatrix<T>, size: usize) -> DMatrix<T> {
    let (m, d) = g.shape();
    let mut out: Vec<T> = crate::pool::buffer(m * size * d);
    for &v in g.as_slice() {
        out.extend(std::iter::repeat_n(v, size));
    }
    DMatrix::from_vec(m * size, d, out)
}

/// Each output entry's gradient routed to the input row that attained the maximum.
pub(crate) fn vjp_max_row_groups<T: Float>(
    g: &DMatrix<T>,
    arg: &[usize],
    input: (usize, usize),
) -> DMatrix<T> {
    let (n, d) = input;
    let mut out = crate::pool::zeros(n, d);
    let m = g.nrows().max(1);
    for ((dst, src), args) in out
        .as_mut_slice()
        .chunks_exact_mut(n.max(1))
        .zip(g.as_slice().chunks_exact(m))
        .zip(arg.chunks_exact(m))
    {
        for (&v, &i) in src.iter().zip(args) {
            dst[i] += v;
        }
    }
    out
}

/// Checks that `size ≥ 1` divides the row count of `v`.
fn check_groups<T: Float>(v: Var<'_, T>, size: usize, op: &'static str) -> Result<usize> {
    let (n, d) = v.shape();
    if size == 0 || n % size != 0 {
        return Err(Error::InvalidArgument {
            op,
            reason: format!("groups of {size} rows of a {n}x{d} value"),
        });
    }
    Ok(n / size)
}

impl<'t, T: Float> Var<'t, T> {
    /// The same entries, read and written in row-major order, as a `rows × cols` value
    /// (`rows · cols` must equal the number of entries): NumPy's `reshape` in C order.
    ///
    /// A batch of sets `n × (s·d)` (observation `i` of row `r` in columns `i·d .. (i+1)·d`)
    /// becomes `(n·s) × d` rows, observation `i` of sample `r` in row `r·s + i`; reshaping to
    /// `n × (s·d)` undoes it.
    ///
    /// ```
    /// use autodiff::{Tape, nalgebra::DMatrix};
    /// let tape = Tape::<f64>::new();
    /// let sets = tape.var(DMatrix::from_row_slice(2, 4, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]));
    /// let rows = sets.reshape(4, 2)?; // two sets of two 2-D observations
    /// assert_eq!(rows.to_matrix(), DMatrix::from_row_slice(4, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]));
    /// # Ok::<(), autodiff::Error>(())
    /// ```
    pub fn reshape(self, rows: usize, cols: usize) -> Result<Var<'t, T>> {
        let (r, c) = self.shape();
        if rows * cols != r * c {
            return Err(Error::InvalidArgument {
                op: "reshape",
                reason: format!("a {r}x{c} value cannot be reshaped to {rows}x{cols}"),
            });
        }
        let out = reshape_row_major(&self.value(), rows, cols);
        Ok(self.tape.push(out, Op::Reshape(self.idx)))
    }

    /// Selects (or reorders, or repeats) rows: output row `k` is input row `index[k]`. The
    /// gradient of an input row is the sum over the output rows that copied it.
    pub fn gather_rows(self, index: &[usize]) -> Result<Var<'t, T>> {
        let v = self.value();
        if let Some(&bad) = index.iter().find(|&&i| i >= v.nrows()) {
            return Err(Error::InvalidArgument {
                op: "gather_rows",
                reason: format!("row {bad} of a value with {} rows", v.nrows()),
            });
        }
        let out = gather_rows(&v, index);
        Ok(self
            .tape
            .push(out, Op::GatherRows(self.idx, index.to_vec())))
    }

    /// Σ over consecutive groups of `size` rows: `(m·size) × d → m × d` (the sum pooling of a
    /// set whose elements are consecutive rows).
    pub fn sum_row_groups(self, size: usize) -> Result<Var<'t, T>> {
        check_groups(self, size, "sum_row_groups")?;
        let out = sum_row_groups(&self.value(), size);
        Ok(self.tape.push(out, Op::SumRowGroups(self.idx, size)))
    }

    /// Mean over consecutive groups of `size` rows: `(m·size) × d → m × d`.
    pub fn mean_row_groups(self, size: usize) -> Result<Var<'t, T>> {
        Ok(self
            .sum_row_groups(size)?
            .scale(T::one() / crate::lit(size as f64)))
    }

    /// Max over consecutive groups of `size` rows, per column: `(m·size) × d → m × d`. The
    /// gradient flows to the row that attained the maximum (the first one on ties), as
    /// max pooling's subgradient.
    pub fn max_row_groups(self, size: usize) -> Result<Var<'t, T>> {
        check_groups(self, size, "max_row_groups")?;
        let (out, arg) = max_row_groups(&self.value(), size);
        Ok(self.tape.push(out, Op::MaxRowGroups(self.idx, arg)))
    }

    /// The patches of 1-D convolutions ("im2col"). `self` holds `n` signals of `length`
    /// positions and `c` channels as `(n·length) × c` rows (position `t` of signal `i` in row
    /// `i·length + t`); the result holds, for every signal and every output position
    /// `t = 0 .. l_out`, `l_out = ⌊(length − kernel) / stride⌋ + 1` (no padding), the window
    /// of positions `t·stride .. t·stride + kernel` as one row of `kernel · c` entries
    /// (position-major: entry `k·c + ch` is channel `ch` at position `t·stride + k`):
    /// `(n·l_out) × (kernel·c)`.
    ///
    /// A 1-D convolution with `c_out` filters is then one matrix product with a
    /// `(kernel·c) × c_out` weight, and its output is again `(n·l_out) × c_out` rows in the
    /// same layout, ready for the next layer. The values and the gradient (a scatter-add of the
    /// patch gradients) are those of [`Var::gather_rows`] of the window rows followed by
    /// [`Var::reshape`], bit for bit, from strided copies.
    pub fn im2col_1d(self, length: usize, kernel: usize, stride: usize) -> Result<Var<'t, T>> {
        let (rows, c) = self.shape();
        if length == 0 || rows % length != 0 || kernel == 0 || kernel > length || stride == 0 {
            return Err(Error::InvalidArgument {
                op: "im2col_1d",
                reason: format!(
                    "{rows}x{c} rows as signals of length {length}, kernel {kernel}, stride {stride}"
                ),
            });
        }
        let patches = Patches1d {
            length,
            kernel,
            stride,
        };
        let out = im2col_1d(&self.value(), patches);
        Ok(self.tape.push(out, Op::Patches1d(self.idx, patches)))
    }
}

/// Output positions of a 1-D convolution without padding: `⌊(length − kernel) / stride⌋ + 1`,
/// 0 when the kernel is longer than the signal (or `stride` is 0).
pub fn conv1d_output_length(length: usize, kernel: usize, stride: usize) -> usize {
    if kernel == 0 || kernel > length || stride == 0 {
        0
    } else {
        (length - kernel) / stride + 1
    }
}
