//! The recorded operations and their vector-Jacobian products.

use crate::gemm::{mm_nt, mm_tn};
use crate::tape::Node;
use crate::{Float, lit};
use nalgebra::DMatrix;

/// How the right operand of a binary elementwise operation is broadcast to the left's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bcast {
    /// Same shape.
    Same,
    /// A `1 × d` row, repeated for every sample.
    Row,
    /// An `n × 1` column, repeated for every feature.
    Col,
    /// A `1 × 1` scalar.
    Scalar,
}

impl Bcast {
    /// Sums a full-shape gradient down to the right operand's shape.
    pub(crate) fn reduce<T: Float>(self, g: DMatrix<T>) -> DMatrix<T> {
        match self {
            Bcast::Same => g,
            _ => sum_for(self, &g),
        }
    }

    /// `f(a_ij, b̃_ij)` over the full shape of `a`, with `b̃` the broadcast right operand,
    /// written over contiguous column slices so the loops vectorise.
    #[inline(always)]
    pub(crate) fn map<T: Float>(
        self,
        a: &DMatrix<T>,
        b: &DMatrix<T>,
        f: impl Fn(T, T) -> T,
    ) -> DMatrix<T> {
        let (n, d) = a.shape();
        let (av, bv) = (a.as_slice(), b.as_slice());
        let out: Vec<T> = crate::pool::buffer(n * d);
        // Move closures that own what they write: a closure that borrowed its scalars would
        // make the compiler reload them on every iteration (they might alias the output).
        let out = crate::simd::dispatch(
            #[inline(always)]
            move || {
                let mut out = out;
                match self {
                    Bcast::Same => out.extend(av.iter().zip(bv).map(|(&x, &y)| f(x, y))),
                    Bcast::Scalar => {
                        let y = bv[0];
                        out.extend(av.iter().map(|&x| f(x, y)));
                    }
                    Bcast::Row => {
                        for (col, &y) in av.chunks_exact(n.max(1)).zip(bv) {
                            out.extend(col.iter().map(|&x| f(x, y)));
                        }
                    }
                    Bcast::Col => {
                        for col in av.chunks_exact(n.max(1)) {
                            out.extend(col.iter().zip(bv).map(|(&x, &y)| f(x, y)));
                        }
                    }
                }
                out
            },
        );
        DMatrix::from_vec(n, d, out)
    }
}

/// Σ of a slice with eight independent accumulators, so the additions vectorise instead of
/// waiting on one another (a single running sum is one add per floating-point latency: the
/// bias gradients of a 2-D flow's step spent 8.6 % of its time there).
pub(crate) fn sum_slice<T: Float>(v: &[T]) -> T {
    lane_sum(v, |x| x)
}

/// `Σ f(vᵢ)` with eight independent accumulators (see [`sum_slice`]).
#[inline(always)]
pub(crate) fn lane_sum<T: Float>(v: &[T], f: impl Fn(T) -> T) -> T {
    const LANES: usize = 8;
    crate::simd::dispatch(
        #[inline(always)]
        move || {
            let mut acc = [T::zero(); LANES];
            let chunks = v.chunks_exact(LANES);
            let tail = chunks.remainder();
            for c in chunks {
                for (a, &x) in acc.iter_mut().zip(c) {
                    *a += f(x);
                }
            }
            tail.iter().fold(reduce_lanes(acc), |s, &x| s + f(x))
        },
    )
}

/// The sum of eight lane accumulators, in the fixed order every lane reduction uses.
#[inline(always)]
fn reduce_lanes<T: Float>(acc: [T; 8]) -> T {
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// Σ over rows (samples): `n × d → 1 × d`.
pub(crate) fn sum_over_rows<T: Float>(g: &DMatrix<T>) -> DMatrix<T> {
    let n = g.nrows();
    if n == 0 {
        return DMatrix::zeros(1, g.ncols());
    }
    let sums: Vec<T> = g.as_slice().chunks_exact(n).map(sum_slice).collect();
    DMatrix::from_vec(1, g.ncols(), sums)
}

/// Σ over columns (features): `n × d → n × 1`.
pub(crate) fn sum_over_cols<T: Float>(g: &DMatrix<T>) -> DMatrix<T> {
    let n = g.nrows();
    let mut out = vec![T::zero(); n];
    if n > 0 {
        let cols = g.as_slice();
        out = crate::simd::dispatch(
            #[inline(always)]
            move || {
                let mut out = out;
                for col in cols.chunks_exact(n) {
                    crate::simd::add_slices(&mut out, col);
                }
                out
            },
        );
    }
    DMatrix::from_vec(n, 1, out)
}

/// The gradient of a broadcast right operand: `g` summed down to its shape (`Same` copies).
fn sum_for<T: Float>(bc: Bcast, g: &DMatrix<T>) -> DMatrix<T> {
    match bc {
        Bcast::Same => crate::pool::copy(g),
        Bcast::Row => sum_over_rows(g),
        Bcast::Col => sum_over_cols(g),
        Bcast::Scalar => DMatrix::from_element(1, 1, sum_slice(g.as_slice())),
    }
}

/// Binary elementwise operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryFn {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryFn {
    pub(crate) fn name(self) -> &'static str {
        match self {
            BinaryFn::Add => "add",
            BinaryFn::Sub => "sub",
            BinaryFn::Mul => "mul",
            BinaryFn::Div => "div",
        }
    }
}

/// Elementwise maps with their derivative, written in terms of the input `x` and output `y`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UnaryFn<T> {
    Neg,
    Exp,
    Ln,
    Tanh,
    Relu,
    LeakyRelu(T),
    Elu(T),
    Sigmoid,
    Softplus,
    Atan,
    Square,
    Sqrt,
    Powi(i32),
    Abs,
    Sin,
    Cos,
    Recip,
    AddScalar(T),
    MulScalar(T),
}

#[inline]
pub(crate) fn sigmoid<T: Float>(x: T) -> T {
    // Written so that exp never overflows.
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

impl<T: Float> UnaryFn<T> {
    #[inline]
    pub(crate) fn apply(self, x: T) -> T {
        let zero = T::zero();
        let one = T::one();
        match self {
            UnaryFn::Neg => -x,
            UnaryFn::Exp => x.exp(),
            UnaryFn::Ln => x.ln(),
            UnaryFn::Tanh => x.fast_tanh(),
            UnaryFn::Relu => {
                if x > zero {
                    x
                } else {
                    zero
                }
            }
            UnaryFn::LeakyRelu(s) => {
                if x > zero {
                    x
                } else {
                    s * x
                }
            }
            UnaryFn::Elu(a) => {
                if x > zero {
                    x
                } else {
                    a * (x.exp() - one)
                }
            }
            UnaryFn::Sigmoid => sigmoid(x),
            // max(x, 0) + ln(1 + e^{-|x|}): exact and overflow-free.
            UnaryFn::Softplus => x.max(zero) + (-x.abs()).exp().ln_1p(),
            UnaryFn::Atan => x.atan(),
            UnaryFn::Square => x * x,
            UnaryFn::Sqrt => x.sqrt(),
            UnaryFn::Powi(n) => x.powi(n),
            UnaryFn::Abs => x.abs(),
            UnaryFn::Sin => x.sin(),
            UnaryFn::Cos => x.cos(),
            UnaryFn::Recip => one / x,
            UnaryFn::AddScalar(s) => x + s,
            UnaryFn::MulScalar(s) => x * s,
        }
    }

    /// dy/dx at input `x` with output `y`.
    #[inline]
    pub(crate) fn deriv(self, x: T, y: T) -> T {
        let zero = T::zero();
        let one = T::one();
        match self {
            UnaryFn::Neg => -one,
            UnaryFn::Exp => y,
            UnaryFn::Ln => one / x,
            UnaryFn::Tanh => one - y * y,
            UnaryFn::Relu => {
                if x > zero {
                    one
                } else {
                    zero
                }
            }
            UnaryFn::LeakyRelu(s) => {
                if x > zero {
                    one
                } else {
                    s
                }
            }
            UnaryFn::Elu(a) => {
                if x > zero {
                    one
                } else {
                    y + a
                }
            }
            UnaryFn::Sigmoid => y * (one - y),
            UnaryFn::Softplus => sigmoid(x),
            UnaryFn::Atan => one / (one + x * x),
            UnaryFn::Square => x + x,
            UnaryFn::Sqrt => lit::<T>(0.5) / y,
            UnaryFn::Powi(n) => {
                if n == 0 {
                    zero
                } else {
                    lit::<T>(f64::from(n)) * x.powi(n - 1)
                }
            }
            UnaryFn::Abs => {
                if x > zero {
                    one
                } else if x < zero {
                    -one
                } else {
                    zero
                }
            }
            UnaryFn::Sin => x.cos(),
            UnaryFn::Cos => -x.sin(),
            UnaryFn::Recip => -y * y,
            UnaryFn::AddScalar(_) => one,
            UnaryFn::MulScalar(s) => s,
        }
    }
}

/// Runs `f` over a slice into a new vector (one monomorphised loop per map).
#[inline(always)]
fn map_slice<T: Float>(x: &[T], f: impl Fn(T) -> T) -> Vec<T> {
    let out = crate::pool::buffer(x.len());
    crate::simd::dispatch(
        #[inline(always)]
        move || {
            let mut out = out;
            out.extend(x.iter().map(|&v| f(v)));
            out
        },
    )
}

/// `v_i ← f(v_i)` in place.
#[inline(always)]
fn map_in_place<T: Float>(v: &mut [T], f: impl Fn(T) -> T) {
    crate::simd::dispatch(
        #[inline(always)]
        move || {
            for x in v.iter_mut() {
                *x = f(*x);
            }
        },
    );
}

/// `v_ij ← f(v_ij + bias_j)` in place over the columns (`n` rows each) of a column-major
/// matrix (`n ≥ 1`).
#[inline(always)]
fn add_bias_and_map<T: Float>(v: &mut [T], n: usize, bias: &[T], f: impl Fn(T) -> T) {
    crate::simd::dispatch(
        #[inline(always)]
        move || {
            for (col, &b) in v.chunks_exact_mut(n).zip(bias) {
                for x in col.iter_mut() {
                    *x = f(*x + b);
                }
            }
        },
    );
}

/// `g_i ← g_i · f'(y_i)` in place over the columns (`n` rows each) of a column-major matrix,
/// returning each column's sum of the scaled entries, accumulated as [`lane_sum`] does
/// (`n ≥ 1`).
#[inline(always)]
fn scale_and_sum<T: Float>(g: &mut [T], y: &[T], n: usize, f: impl Fn(T) -> T) -> Vec<T> {
    crate::simd::dispatch(
        #[inline(always)]
        move || {
            const LANES: usize = 8;
            let mut sums = Vec::with_capacity(g.len() / n);
            for (gc, yc) in g.chunks_exact_mut(n).zip(y.chunks_exact(n)) {
                let mut acc = [T::zero(); LANES];
                let mut gi = gc.chunks_exact_mut(LANES);
                let mut yi = yc.chunks_exact(LANES);
                for (gl, yl) in (&mut gi).zip(&mut yi) {
                    for ((a, gv), &yv) in acc.iter_mut().zip(gl.iter_mut()).zip(yl) {
                        *gv *= f(yv);
                        *a += *gv;
                    }
                }
                let tail = gi.into_remainder().iter_mut().zip(yi.remainder());
                sums.push(tail.fold(reduce_lanes(acc), |s, (gv, &yv)| {
                    *gv *= f(yv);
                    s + *gv
                }));
            }
            sums
        },
    )
}

/// `g_i ← g_i · f'(x_i, y_i)` in place (one monomorphised loop per map).
#[inline(always)]
fn scale_by_deriv<T: Float>(g: &mut [T], x: &[T], y: &[T], f: impl Fn(T, T) -> T) {
    crate::simd::dispatch(
        #[inline(always)]
        move || {
            for ((gv, &xv), &yv) in g.iter_mut().zip(x).zip(y) {
                *gv *= f(xv, yv);
            }
        },
    );
}

impl<T: Float> UnaryFn<T> {
    /// The map over a whole slice, with the match on the map hoisted out of the loop.
    pub(crate) fn map_all(self, x: &[T]) -> Vec<T> {
        let zero = T::zero();
        match self {
            UnaryFn::Relu => map_slice(x, move |v| if v > zero { v } else { zero }),
            UnaryFn::Exp => map_slice(x, move |v| v.exp()),
            UnaryFn::Tanh => map_slice(x, move |v| v.fast_tanh()),
            UnaryFn::Atan => map_slice(x, move |v| v.atan()),
            UnaryFn::Square => map_slice(x, move |v| v * v),
            UnaryFn::Neg => map_slice(x, move |v| -v),
            UnaryFn::AddScalar(s) => map_slice(x, move |v| v + s),
            UnaryFn::MulScalar(s) => map_slice(x, move |v| v * s),
            f => map_slice(x, move |v| f.apply(v)),
        }
    }

    /// Whether `f'` is a function of the output alone, bit for bit as [`Self::deriv`]
    /// computes it, so that a dense layer can apply `f` in place ([`Op::Dense`]).
    pub(crate) fn fuses_into_dense(self) -> bool {
        match self {
            UnaryFn::Relu | UnaryFn::Tanh | UnaryFn::Sigmoid | UnaryFn::Exp => true,
            // `y > 0 ⇔ x > 0` needs a non-negative slope / positive scale.
            UnaryFn::LeakyRelu(s) => s >= T::zero(),
            UnaryFn::Elu(a) => a > T::zero(),
            _ => false,
        }
    }

    /// `f` applied in place.
    pub(crate) fn map_in_place(self, v: &mut [T]) {
        let zero = T::zero();
        match self {
            UnaryFn::Relu => map_in_place(v, move |x| if x > zero { x } else { zero }),
            // Hoisted so that the approximation vectorises (through `apply` it is a call per
            // entry with a match inside).
            UnaryFn::Tanh => map_in_place(v, move |x| x.fast_tanh()),
            f => map_in_place(v, move |x| f.apply(x)),
        }
    }

    /// `v ← f(v + bias)` in place on an `n`-row column-major matrix with one bias per column.
    pub(crate) fn add_bias_and_map(self, v: &mut [T], n: usize, bias: &[T]) {
        let zero = T::zero();
        match self {
            UnaryFn::Relu => add_bias_and_map(v, n, bias, move |x| if x > zero { x } else { zero }),
            UnaryFn::Tanh => add_bias_and_map(v, n, bias, move |x| x.fast_tanh()),
            f => add_bias_and_map(v, n, bias, move |x| f.apply(x)),
        }
    }

    /// For an `n`-row column-major gradient `g` of a [`Self::fuses_into_dense`] map with output
    /// `y`: `g ← g ⊙ f'(y)` in place, and the column sums of the result (the bias gradient,
    /// summed in [`lane_sum`]'s order), in one pass.
    pub(crate) fn backprop_from_output(self, g: &mut DMatrix<T>, y: &DMatrix<T>) -> Vec<T> {
        let (zero, one) = (T::zero(), T::one());
        let n = g.nrows();
        if n == 0 {
            return vec![zero; g.ncols()];
        }
        let (g, y) = (g.as_mut_slice(), y.as_slice());
        match self {
            UnaryFn::Relu => scale_and_sum(g, y, n, move |yv| if yv > zero { one } else { zero }),
            UnaryFn::Tanh => scale_and_sum(g, y, n, move |yv| one - yv * yv),
            UnaryFn::Sigmoid => scale_and_sum(g, y, n, move |yv| yv * (one - yv)),
            UnaryFn::Exp => scale_and_sum(g, y, n, move |yv| yv),
            UnaryFn::LeakyRelu(s) => {
                scale_and_sum(g, y, n, move |yv| if yv > zero { one } else { s })
            }
            UnaryFn::Elu(a) => {
                scale_and_sum(g, y, n, move |yv| if yv > zero { one } else { yv + a })
            }
            // `Var::dense` records `Op::Dense` only for the maps above.
            f => unreachable!("{f:?} does not fuse into a dense layer"),
        }
    }

    /// `g ← g ⊙ f'(x)` over whole slices, with the match hoisted out of the loop.
    pub(crate) fn backprop_all(self, g: &mut [T], x: &[T], y: &[T]) {
        let (zero, one) = (T::zero(), T::one());
        match self {
            UnaryFn::Relu => {
                scale_by_deriv(g, x, y, move |xv, _| if xv > zero { one } else { zero })
            }
            UnaryFn::Exp => scale_by_deriv(g, x, y, move |_, yv| yv),
            UnaryFn::Tanh => scale_by_deriv(g, x, y, move |_, yv| one - yv * yv),
            UnaryFn::Atan => scale_by_deriv(g, x, y, move |xv, _| one / (one + xv * xv)),
            UnaryFn::Square => scale_by_deriv(g, x, y, move |xv, _| xv + xv),
            UnaryFn::Neg => scale_by_deriv(g, x, y, move |_, _| -one),
            UnaryFn::AddScalar(_) => {}
            UnaryFn::MulScalar(s) => scale_by_deriv(g, x, y, move |_, _| s),
            f => scale_by_deriv(g, x, y, move |xv, yv| f.deriv(xv, yv)),
        }
    }
}

/// A recorded operation: indices of its inputs on the tape plus what the backward pass needs.
pub(crate) enum Op<T: Float> {
    Leaf,
    Binary(usize, usize, BinaryFn, Bcast),
    Unary(usize, UnaryFn<T>),
    MatMul(usize, usize),
    Affine(usize, usize, usize),
    /// `f(x·w + b)` for an activation whose derivative is a function of its output
    /// ([`UnaryFn::fuses_into_dense`]): only the activated output is stored.
    Dense(usize, usize, usize, UnaryFn<T>),
    SumAll(usize),
    SumRows(usize),
    SumCols(usize),
    SliceCols(usize, usize),
    SliceRows(usize, usize),
    ConcatCols(Vec<usize>),
    ConcatRows(Vec<usize>),
    GatherCols(usize, Vec<usize>),
    /// Row-major reshape ([`Var::reshape`](crate::Var::reshape)).
    Reshape(usize),
    GatherRows(usize, Vec<usize>),
    /// Σ over consecutive groups of rows of the given size.
    SumRowGroups(usize, usize),
    /// Max over consecutive groups of rows; the input row of every output entry (column-major).
    MaxRowGroups(usize, Vec<usize>),
    /// 1-D convolution patches ([`Var::im2col_1d`](crate::Var::im2col_1d)).
    Patches1d(usize, crate::groups::Patches1d),
    Transpose(usize),
    PairwiseSqDist(usize, usize),
}

impl<T: Float> Op<T> {
    pub(crate) fn for_each_input(&self, mut f: impl FnMut(usize)) {
        match self {
            Op::Leaf => {}
            Op::Binary(a, b, _, _) | Op::MatMul(a, b) | Op::PairwiseSqDist(a, b) => {
                f(*a);
                f(*b);
            }
            Op::Affine(x, w, b) | Op::Dense(x, w, b, _) => {
                f(*x);
                f(*w);
                f(*b);
            }
            Op::Unary(a, _)
            | Op::SumAll(a)
            | Op::SumRows(a)
            | Op::SumCols(a)
            | Op::SliceCols(a, _)
            | Op::SliceRows(a, _)
            | Op::GatherCols(a, _)
            | Op::Reshape(a)
            | Op::GatherRows(a, _)
            | Op::SumRowGroups(a, _)
            | Op::MaxRowGroups(a, _)
            | Op::Patches1d(a, _)
            | Op::Transpose(a) => f(*a),
            Op::ConcatCols(v) | Op::ConcatRows(v) => v.iter().copied().for_each(f),
        }
    }

    /// Pushes `∂loss/∂input` contributions for each input, given `g = ∂loss/∂output`.
    pub(crate) fn vjp(
        &self,
        nodes: &[Node<T>],
        out: usize,
        g: DMatrix<T>,
        acc: &mut dyn FnMut(usize, DMatrix<T>),
    ) {
        let val = |i: usize| &*nodes[i].value;
        let need = |i: usize| nodes[i].needs_grad;
        match self {
            Op::Leaf => {}
            &Op::Binary(a, b, f, bc) => {
                let (av, bv) = (val(a), val(b));
                match f {
                    BinaryFn::Add | BinaryFn::Sub => {
                        if need(b) {
                            let mut gb = sum_for(bc, &g);
                            if f == BinaryFn::Sub {
                                gb.as_mut_slice().iter_mut().for_each(|v| *v = -*v);
                            }
                            acc(b, gb);
                        }
                        if need(a) {
                            acc(a, g);
                        }
                    }
                    BinaryFn::Mul => {
                        if need(a) {
                            acc(a, bc.map(&g, bv, |x, y| x * y));
                        }
                        if need(b) {
                            let mut gm = g;
                            for (gv, &x) in gm.as_mut_slice().iter_mut().zip(av.as_slice()) {
                                *gv *= x;
                            }
                            acc(b, bc.reduce(gm));
                        }
                    }
                    BinaryFn::Div => {
                        if need(a) {
                            acc(a, bc.map(&g, bv, |x, y| x / y));
                        }
                        if need(b) {
                            // ∂(a/b)/∂b = −(a/b)/b = −y/b.
                            let t = bc.map(val(out), bv, |y, bb| -y / bb);
                            let mut gm = g;
                            for (gv, &tv) in gm.as_mut_slice().iter_mut().zip(t.as_slice()) {
                                *gv *= tv;
                            }
                            acc(b, bc.reduce(gm));
                        }
                    }
                }
            }
            &Op::Unary(a, f) => {
                let mut ga = g;
                f.backprop_all(ga.as_mut_slice(), val(a).as_slice(), val(out).as_slice());
                acc(a, ga);
            }
            &Op::Dense(x, w, b, f) => {
                let mut g = g;
                let bias = f.backprop_from_output(&mut g, val(out));
                if need(b) {
                    acc(b, DMatrix::from_vec(1, g.ncols(), bias));
                }
                if need(x) {
                    acc(x, mm_nt(&g, val(w)));
                }
                if need(w) {
                    acc(w, mm_tn(val(x), &g));
                }
            }
            &Op::Affine(x, w, b) => {
                if need(b) {
                    acc(b, sum_over_rows(&g));
                }
                if need(x) {
                    acc(x, mm_nt(&g, val(w)));
                }
                if need(w) {
                    acc(w, mm_tn(val(x), &g));
                }
            }
            Op::MatMul(a, b) => {
                if need(*a) {
                    acc(*a, mm_nt(&g, val(*b)));
                }
                if need(*b) {
                    acc(*b, mm_tn(val(*a), &g));
                }
            }
            Op::SumAll(a) => {
                let (r, c) = val(*a).shape();
                acc(*a, DMatrix::from_element(r, c, g[(0, 0)]));
            }
            Op::SumRows(a) => {
                let r = val(*a).nrows();
                let mut data = Vec::with_capacity(r * g.ncols());
                for &v in g.as_slice() {
                    data.extend(std::iter::repeat_n(v, r));
                }
                acc(*a, DMatrix::from_vec(r, g.ncols(), data));
            }
            Op::SumCols(a) => {
                let c = val(*a).ncols();
                let mut data = Vec::with_capacity(g.nrows() * c);
                for _ in 0..c {
                    data.extend_from_slice(g.as_slice());
                }
                acc(*a, DMatrix::from_vec(g.nrows(), c, data));
            }
            Op::SliceCols(a, start) => {
                let (r, c) = val(*a).shape();
                let mut ga = crate::pool::zeros(r, c);
                ga.columns_mut(*start, g.ncols()).copy_from(&g);
                acc(*a, ga);
            }
            Op::SliceRows(a, start) => {
                let (r, c) = val(*a).shape();
                let mut ga = crate::pool::zeros(r, c);
                ga.rows_mut(*start, g.nrows()).copy_from(&g);
                acc(*a, ga);
            }
            Op::ConcatCols(parts) => {
                let mut start = 0;
                for &p in parts {
                    let w = val(p).ncols();
                    if need(p) {
                        acc(p, crate::pool::select_columns(&g, start..start + w));
                    }
                    start += w;
                }
            }
            Op::ConcatRows(parts) => {
                let mut start = 0;
                for &p in parts {
                    let h = val(p).nrows();
                    if need(p) {
                        acc(p, crate::pool::rows(&g, start, h));
                    }
                    start += h;
                }
            }
            Op::GatherCols(a, idx) => {
                let (r, c) = val(*a).shape();
                let mut ga = DMatrix::<T>::zeros(r, c);
                for (k, &src) in idx.iter().enumerate() {
                    let mut col = ga.column_mut(src);
                    col += g.column(k);
                }
                acc(*a, ga);
            }
            Op::Reshape(a) => acc(*a, crate::groups::vjp_reshape(&g, val(*a).shape())),
            Op::GatherRows(a, idx) => {
                let rows = val(*a).nrows();
                acc(*a, crate::groups::vjp_gather_rows(&g, idx, rows));
            }
            Op::SumRowGroups(a, size) => acc(*a, crate::groups::vjp_sum_row_groups(&g, *size)),
            Op::MaxRowGroups(a, arg) => {
                let shape = val(*a).shape();
                acc(*a, crate::groups::vjp_max_row_groups(&g, arg, shape));
            }
            Op::Patches1d(a, p) => {
                let shape = val(*a).shape();
                acc(*a, crate::groups::vjp_im2col_1d(&g, *p, shape));
            }
            Op::Transpose(a) => acc(*a, g.transpose()),
            Op::PairwiseSqDist(a, b) => {
                // D_ij = |a_i - b_j|², clamped at 0 (where clamping bit, the gradient is 0).
                let (av, bv, d) = (val(*a), val(*b), val(out));
                let two = lit::<T>(2.0);
                let mut gm = g;
                for (gv, &dv) in gm.iter_mut().zip(d.iter()) {
                    if dv <= T::zero() {
                        *gv = T::zero();
                    }
                }
                if need(*a) {
                    // dA = 2 (diag(G 1) A - G B)
                    let rs = sum_over_cols(&gm);
                    let mut ga = crate::gemm::mm(&gm, bv);
                    for j in 0..ga.ncols() {
                        for i in 0..ga.nrows() {
                            ga[(i, j)] = two * (rs[(i, 0)] * av[(i, j)] - ga[(i, j)]);
                        }
                    }
                    acc(*a, ga);
                }
                if need(*b) {
                    // dB = 2 (diag(Gᵀ 1) B - Gᵀ A)
                    let cs = sum_over_rows(&gm);
                    let mut gb = mm_tn(&gm, av);
                    for j in 0..gb.ncols() {
                        for i in 0..gb.nrows() {
                            gb[(i, j)] = two * (cs[(0, i)] * bv[(i, j)] - gb[(i, j)]);
                        }
                    }
                    acc(*b, gb);
                }
            }
        }
    }
}
