//! Random compositions of autodiff operations pass `grad_check`: a small expression generator
//! over the op set, a cross-crate complement to autodiff's per-op unit tests.
//!
//! Every expression maps the inputs `X, Y` (`n × d`), `W` (`d × d`), `R` (`1 × d`), `V` (`n × 1`)
//! and `S` (`1 × 1`) to an `n × d` value; the loss is `Σ Ω ⊙ e` for fixed weights `Ω`.
//! Operations with restricted domains get guarded arguments (`ln`, `sqrt`, `recip`, `/` and
//! `powi(−2)` read `a² + ½`; `exp` reads a soft-clamped argument), so every generated
//! expression is finite and differentiable except on the measure-zero kinks of relu, abs,
//! leaky relu and elu.

use autodiff::nalgebra::DMatrix;
use autodiff::{GradCheckOptions, Var, concat_cols, concat_rows, grad_check};
use proptest::prelude::*;

/// An expression producing an `n × d` value.
#[derive(Clone, Debug)]
enum Expr {
    /// Input `X` or `Y`.
    Leaf(bool),
    /// An elementwise map.
    Unary(Un, Box<Expr>),
    /// An elementwise binary operation of two `n × d` values.
    Binary(Bin, Box<Expr>, Box<Expr>),
    /// A shape-changing round trip or a broadcast against another input.
    Shape(Sh, Box<Expr>),
    /// `e ⊙ e` through the same variable (gradient accumulation on one node).
    SelfMul(Box<Expr>),
    /// `pairwise_sq_dist(a, b) · c / 10` (`n × n` times `n × d`).
    Pairwise(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug)]
enum Un {
    Neg,
    Exp,
    Ln,
    Tanh,
    Relu,
    LeakyRelu,
    Elu,
    Sigmoid,
    Softplus,
    Atan,
    Square,
    Sqrt,
    Cube,
    InvSquare,
    Abs,
    Sin,
    Cos,
    Recip,
    AddScalar,
    Scale,
    LipSwish,
    SoftClamp,
}

#[derive(Clone, Copy, Debug)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug)]
enum Sh {
    /// `e · W`.
    MatMul,
    /// `e · W + R` (dense layer).
    Affine,
    /// `(eᵀ)ᵀ`.
    DoubleTranspose,
    /// Columns split at `k` and concatenated in swapped order.
    SwapHalves,
    /// Rows split and stacked in swapped order.
    SwapRowBlocks,
    /// Columns reversed.
    ReverseCols,
    /// `e − mean_rows(e)` (row broadcast from a reduction).
    CenterRows,
    /// `e ⊙ mean_cols(e)` (column broadcast from a reduction).
    ScaleByRowMean,
    /// `e − logsumexp_cols(e)` (log-softmax).
    LogSoftmax,
    /// `e ⊙ R`.
    MulRow,
    /// `e + V`.
    AddCol,
    /// `e − S`.
    SubScalar,
    /// `e ⊙ sum(e) / (n·d)` (scalar broadcast from a full reduction).
    ScaleByMean,
    /// `e ⊙ sum_rows(e)` scaled (row broadcast from a sum).
    MulRowSums,
    /// Rows reversed with the first repeated over the last (`gather_rows`).
    ReverseRows,
    /// `e` reshaped row-major to `d × n`, then transposed (`reshape`).
    ReshapeTranspose,
    /// `e` minus the mean of its pair of rows (`mean_row_groups`, broadcast back by
    /// `gather_rows`); groups of one row when `n` is odd.
    CenterRowPairs,
    /// `e + max over all rows of (e + a small ramp)` (`max_row_groups`, a row broadcast).
    AddColumnMax,
}

fn unary() -> impl Strategy<Value = Un> {
    use Un::*;
    proptest::sample::select(vec![
        Neg, Exp, Ln, Tanh, Relu, LeakyRelu, Elu, Sigmoid, Softplus, Atan, Square, Sqrt, Cube,
        InvSquare, Abs, Sin, Cos, Recip, AddScalar, Scale, LipSwish, SoftClamp,
    ])
}

fn binary() -> impl Strategy<Value = Bin> {
    proptest::sample::select(vec![Bin::Add, Bin::Sub, Bin::Mul, Bin::Div])
}

fn shape_op() -> impl Strategy<Value = Sh> {
    use Sh::*;
    proptest::sample::select(vec![
        MatMul,
        Affine,
        DoubleTranspose,
        SwapHalves,
        SwapRowBlocks,
        ReverseCols,
        CenterRows,
        ScaleByRowMean,
        LogSoftmax,
        MulRow,
        AddCol,
        SubScalar,
        ScaleByMean,
        MulRowSums,
        ReverseRows,
        ReshapeTranspose,
        CenterRowPairs,
        AddColumnMax,
    ])
}

/// Expressions of depth ≤ 4 with at most 24 nodes.
fn expr() -> impl Strategy<Value = Expr> {
    any::<bool>()
        .prop_map(Expr::Leaf)
        .prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                3 => (unary(), inner.clone()).prop_map(|(u, e)| Expr::Unary(u, Box::new(e))),
                3 => (binary(), inner.clone(), inner.clone())
                    .prop_map(|(b, l, r)| Expr::Binary(b, Box::new(l), Box::new(r))),
                3 => (shape_op(), inner.clone()).prop_map(|(s, e)| Expr::Shape(s, Box::new(e))),
                1 => inner.clone().prop_map(|e| Expr::SelfMul(Box::new(e))),
                1 => (inner.clone(), inner.clone(), inner)
                    .prop_map(|(a, b, c)| Expr::Pairwise(Box::new(a), Box::new(b), Box::new(c))),
            ]
        })
}

/// `a² + ½`: a positive argument for the operations that need one.
fn positive(a: Var<'_, f64>) -> Var<'_, f64> {
    a.square().add_scalar(0.5)
}

/// The inputs, in `grad_check` order: X, Y, W, R, V, S.
struct Inputs<'t> {
    x: Var<'t, f64>,
    y: Var<'t, f64>,
    w: Var<'t, f64>,
    r: Var<'t, f64>,
    v: Var<'t, f64>,
    s: Var<'t, f64>,
}

fn eval<'t>(e: &Expr, i: &Inputs<'t>) -> autodiff::Result<Var<'t, f64>> {
    Ok(match e {
        Expr::Leaf(first) => {
            if *first {
                i.x
            } else {
                i.y
            }
        }
        Expr::Unary(u, a) => {
            let a = eval(a, i)?;
            match u {
                Un::Neg => a.neg(),
                Un::Exp => a.soft_clamp(3.0).exp(),
                Un::Ln => positive(a).ln(),
                Un::Tanh => a.tanh(),
                Un::Relu => a.relu(),
                Un::LeakyRelu => a.leaky_relu(0.1),
                Un::Elu => a.elu(0.7),
                Un::Sigmoid => a.sigmoid(),
                Un::Softplus => a.softplus(),
                Un::Atan => a.atan(),
                Un::Square => a.square(),
                Un::Sqrt => positive(a).sqrt(),
                Un::Cube => a.powi(3),
                Un::InvSquare => positive(a).powi(-2),
                Un::Abs => a.abs(),
                Un::Sin => a.sin(),
                Un::Cos => a.cos(),
                Un::Recip => positive(a).recip(),
                Un::AddScalar => a.add_scalar(0.37),
                Un::Scale => a.scale(-1.3),
                Un::LipSwish => a.lipswish(),
                Un::SoftClamp => a.soft_clamp(1.5),
            }
        }
        Expr::Binary(b, l, r) => {
            let (l, r) = (eval(l, i)?, eval(r, i)?);
            match b {
                Bin::Add => l.add(r)?,
                Bin::Sub => l.sub(r)?,
                Bin::Mul => l.mul(r)?,
                Bin::Div => l.div(positive(r))?,
            }
        }
        Expr::Shape(s, a) => {
            let a = eval(a, i)?;
            let (n, d) = a.shape();
            match s {
                Sh::MatMul => a.matmul(i.w)?,
                Sh::Affine => a.affine(i.w, i.r)?,
                Sh::DoubleTranspose => a.transpose().transpose(),
                Sh::SwapHalves if d >= 2 => {
                    let k = d / 2;
                    concat_cols(&[a.slice_cols(k, d - k)?, a.slice_cols(0, k)?])?
                }
                Sh::SwapRowBlocks if n >= 2 => {
                    let k = n / 2;
                    concat_rows(&[a.slice_rows(k, n - k)?, a.slice_rows(0, k)?])?
                }
                Sh::SwapHalves | Sh::SwapRowBlocks => a,
                Sh::ReverseCols => a.gather_cols(&(0..d).rev().collect::<Vec<_>>())?,
                Sh::CenterRows => a.sub(a.mean_rows())?,
                Sh::ScaleByRowMean => a.mul(a.mean_cols())?,
                Sh::LogSoftmax => a.sub(a.logsumexp_cols()?)?,
                Sh::MulRow => a.mul(i.r)?,
                Sh::AddCol => a.add(i.v)?,
                Sh::SubScalar => a.sub(i.s)?,
                Sh::ScaleByMean => a.mul(a.mean())?,
                Sh::MulRowSums => a.mul(a.sum_rows().scale(1.0 / n as f64))?,
                Sh::ReverseRows => {
                    let mut index: Vec<usize> = (0..n).rev().collect();
                    index[n - 1] = 0;
                    a.gather_rows(&index)?
                }
                Sh::ReshapeTranspose => a.reshape(d, n)?.transpose(),
                Sh::CenterRowPairs => {
                    let g = if n % 2 == 0 { 2 } else { 1 };
                    let back: Vec<usize> = (0..n).map(|r| r / g).collect();
                    a.sub(a.mean_row_groups(g)?.gather_rows(&back)?)?
                }
                Sh::AddColumnMax => {
                    // A ramp over the rows breaks the ties that relu's zeros (or repeated
                    // rows) would make, where the max has no derivative.
                    let ramp = DMatrix::from_fn(n, d, |r, _| 1e-3 * r as f64);
                    let ramped = a.add(a.tape().constant(ramp))?;
                    a.add(ramped.max_row_groups(n)?)?
                }
            }
        }
        Expr::SelfMul(a) => {
            let a = eval(a, i)?;
            a.mul(a)?
        }
        Expr::Pairwise(a, b, c) => {
            let (a, b, c) = (eval(a, i)?, eval(b, i)?, eval(c, i)?);
            a.pairwise_sq_dist(b)?.matmul(c)?.scale(0.1)
        }
    })
}

/// `Σ Ω ⊙ e(inputs)` on `tape`, the inputs in the order X, Y, W, R, V, S.
fn loss<'t>(
    tape: &'t autodiff::Tape<f64>,
    v: &[Var<'t, f64>],
    e: &Expr,
    omega: &DMatrix<f64>,
) -> autodiff::Result<Var<'t, f64>> {
    let inputs = Inputs {
        x: v[0],
        y: v[1],
        w: v[2],
        r: v[3],
        v: v[4],
        s: v[5],
    };
    Ok(eval(e, &inputs)?.mul(tape.constant(omega.clone()))?.sum())
}

/// Shapes `(n, d)` and the six inputs, entries uniform in `[−1.5, 1.5]`.
fn inputs() -> impl Strategy<Value = Vec<DMatrix<f64>>> {
    (1usize..=4, 1usize..=4).prop_flat_map(|(n, d)| {
        let m = move |r: usize, c: usize| {
            proptest::collection::vec(-1.5f64..=1.5, r * c)
                .prop_map(move |v| DMatrix::from_vec(r, c, v))
        };
        (m(n, d), m(n, d), m(d, d), m(1, d), m(n, 1), m(1, 1))
            .prop_map(|(x, y, w, r, v, s)| vec![x, y, w, r, v, s])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The reverse-mode gradient of `Σ Ω ⊙ e` with respect to all six inputs matches central
    /// differences (autodiff's default step 1e-6 and tolerances), for expressions whose values
    /// stay below 1e4 (larger values make a 1e-6 step meaningless; such cases are discarded
    /// and counted by proptest as rejects).
    #[test]
    fn random_compositions_pass_grad_check(e in expr(), values in inputs()) {
        let (n, d) = values[0].shape();
        let omega = DMatrix::from_fn(n, d, |i, j| ((1 + i * d + j) as f64 * 0.754_877_666).fract() - 0.5);
        let magnitude = {
            let tape = autodiff::Tape::no_grad();
            let vars: Vec<_> = values.iter().map(|m| tape.constant(m.clone())).collect();
            let inputs = Inputs { x: vars[0], y: vars[1], w: vars[2], r: vars[3], v: vars[4], s: vars[5] };
            eval(&e, &inputs).map_err(|err| TestCaseError::fail(err.to_string()))?.value().amax()
        };
        prop_assume!(magnitude.is_finite() && magnitude < 1e4);
        grad_check(|tape, v| loss(tape, v, &e, &omega), &values, GradCheckOptions::default())
            .map_err(|err| TestCaseError::fail(format!("{e:?}: {err}")))?;
    }
}
