//! Every operation's vector-Jacobian product checked against central differences (proptest, f64).

use crate::{Error, GradCheckOptions, Result, Tape, Var, concat_cols, concat_rows, grad_check};
use nalgebra::DMatrix;
use proptest::prelude::*;

/// A matrix strategy with entries in `[-2, 2]`.
fn matrix(rows: usize, cols: usize) -> impl Strategy<Value = DMatrix<f64>> {
    proptest::collection::vec(-2.0f64..2.0, rows * cols)
        .prop_map(move |v| DMatrix::from_vec(rows, cols, v))
}

/// Two same-shape matrices with random shape.
fn pair() -> impl Strategy<Value = (DMatrix<f64>, DMatrix<f64>)> {
    (1usize..6, 1usize..6).prop_flat_map(|(r, c)| (matrix(r, c), matrix(r, c)))
}

/// Weighted sum with fixed pseudo-random weights, so every output entry gets a distinct
/// cotangent (a plain sum would hide transposition bugs).
fn weighted_sum<'t>(tape: &'t Tape<f64>, y: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let (r, c) = y.shape();
    let w = DMatrix::from_fn(r, c, |i, j| 0.3 + ((i * 7 + j * 13) % 11) as f64 / 7.0);
    Ok(y.mul(tape.constant(w))?.sum())
}

fn check(
    f: impl for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
    inputs: &[DMatrix<f64>],
) {
    let report = grad_check(
        |t, v| {
            let y = f(t, v)?;
            weighted_sum(t, y)
        },
        inputs,
        GradCheckOptions::default(),
    );
    match report {
        Ok(r) => assert!(r.entries > 0),
        Err(e) => panic!("{e}"),
    }
}

/// A dense layer's input (`n × k`), weight (`k × m`) and bias (`1 × m`), entries in [−1, 1)
/// scrambled by `seed`.
fn layer_inputs(
    n: usize,
    k: usize,
    m: usize,
    seed: u64,
) -> (DMatrix<f64>, DMatrix<f64>, DMatrix<f64>) {
    let f = |i: usize, j: usize, s: u64| (((i * 31 + j * 17) as u64 ^ s) % 97) as f64 / 48.0 - 1.0;
    (
        DMatrix::from_fn(n, k, |i, j| f(i, j, seed)),
        DMatrix::from_fn(k, m, |i, j| f(i + 3, j, seed >> 7)),
        DMatrix::from_fn(1, m, |_, j| f(j, 5, seed >> 13)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn elementwise_binary((a, b) in pair()) {
        let b_pos = b.map(|v| v.abs() + 0.5);
        check(|_, v| v[0].add(v[1]), &[a.clone(), b.clone()]);
        check(|_, v| v[0].sub(v[1]), &[a.clone(), b.clone()]);
        check(|_, v| v[0].mul(v[1]), &[a.clone(), b.clone()]);
        check(|_, v| v[0].div(v[1]), &[a, b_pos]);
    }

    #[test]
    fn broadcasting(a in (1usize..6, 1usize..6).prop_flat_map(|(r, c)| matrix(r, c)), seed in 0u64..1000) {
        let (r, c) = a.shape();
        let s = seed as f64 / 1000.0;
        let row = DMatrix::from_fn(1, c, |_, j| 0.7 + s + j as f64 * 0.1);
        // Divisors stay away from zero: every broadcast operand is at least 0.6.
        let col = DMatrix::from_fn(r, 1, |i, _| 0.6 + s + i as f64 * 0.2);
        let sc = DMatrix::from_element(1, 1, 1.3 + s);
        for b in [row, col, sc] {
            check(|_, v| v[0].add(v[1]), &[a.clone(), b.clone()]);
            check(|_, v| v[0].sub(v[1]), &[a.clone(), b.clone()]);
            check(|_, v| v[0].mul(v[1]), &[a.clone(), b.clone()]);
            check(|_, v| v[0].div(v[1]), &[a.clone(), b.clone()]);
        }
    }

    #[test]
    fn unary_maps(a in (1usize..6, 1usize..6).prop_flat_map(|(r, c)| matrix(r, c))) {
        // Keep kinks (relu, abs, leaky, elu at 0) away from the finite-difference stencil.
        let a = a.map(|v| if v.abs() < 1e-3 { v + 0.01 } else { v });
        let pos = a.map(|v| v.abs() + 0.3);
        check(|_, v| Ok(v[0].neg()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].exp()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].ln()), std::slice::from_ref(&pos));
        check(|_, v| Ok(v[0].tanh()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].relu()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].leaky_relu(0.1)), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].elu(0.8)), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].sigmoid()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].softplus()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].atan()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].square()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].sqrt()), std::slice::from_ref(&pos));
        check(|_, v| Ok(v[0].powi(3)), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].powi(-2)), std::slice::from_ref(&pos));
        check(|_, v| Ok(v[0].abs()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].sin()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].cos()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].recip()), std::slice::from_ref(&pos));
        check(|_, v| Ok(v[0].add_scalar(0.7)), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].scale(-1.7)), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].lipswish()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].soft_clamp(2.0)), std::slice::from_ref(&a));
        check(|_, v| v[0].logsumexp_cols(), std::slice::from_ref(&a));
    }

    #[test]
    fn reductions(a in (1usize..6, 1usize..6).prop_flat_map(|(r, c)| matrix(r, c))) {
        check(|_, v| Ok(v[0].sum()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].mean()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].sum_rows()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].mean_rows()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].sum_cols()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].mean_cols()), std::slice::from_ref(&a));
        check(|_, v| Ok(v[0].transpose()), std::slice::from_ref(&a));
    }

    #[test]
    fn matmul_and_affine((n, k, m) in (1usize..7, 1usize..9, 1usize..7), seed in any::<u64>()) {
        let (a, b, bias) = layer_inputs(n, k, m, seed);
        check(|_, v| v[0].matmul(v[1]), &[a.clone(), b.clone()]);
        check(|_, v| v[0].affine(v[1], v[2]), &[a, b, bias]);
    }

    /// The fused dense layer (`Var::dense`) against the affine map and the activation as two
    /// operations: the same values and gradients bit for bit (the fused backward sums the bias
    /// gradient in the same order), and against central differences.
    #[test]
    fn dense_layers_match_affine_then_map((n, k, m) in (1usize..24, 1usize..10, 1usize..10), seed in any::<u64>()) {
        use crate::op::UnaryFn;
        let (a, b, bias) = layer_inputs(n, k, m, seed);
        let pre = &a * &b + DMatrix::from_fn(n, m, |_, j| bias[(0, j)]);
        let maps = [
            UnaryFn::Relu,
            UnaryFn::LeakyRelu(0.1),
            UnaryFn::LeakyRelu(0.0),
            UnaryFn::LeakyRelu(-0.2),
            UnaryFn::Elu(0.8),
            UnaryFn::Tanh,
            UnaryFn::Sigmoid,
            UnaryFn::Exp,
            UnaryFn::Softplus,
            UnaryFn::Atan,
        ];
        for map in maps {
            let run = |fused: bool| {
                let tape = Tape::<f64>::new();
                let v = [tape.var(a.clone()), tape.var(b.clone()), tape.var(bias.clone())];
                let y = if fused {
                    v[0].dense(v[1], v[2], map).unwrap()
                } else {
                    v[0].affine(v[1], v[2]).unwrap().unary(map)
                };
                let value = y.to_matrix();
                let loss = weighted_sum(&tape, y).unwrap();
                let g = tape.backward(loss).unwrap();
                (value, [g.wrt(v[0]), g.wrt(v[1]), g.wrt(v[2])])
            };
            let fused = run(true);
            prop_assert_eq!(&fused, &run(false), "{:?}", map);
            // Central differences need the stencil clear of the kinks at 0.
            if pre.iter().all(|p| p.abs() > 1e-3) {
                check(|_, v| v[0].dense(v[1], v[2], map), &[a.clone(), b.clone(), bias.clone()]);
            }
        }
    }

    #[test]
    fn slicing_and_concatenation(a in (2usize..6, 2usize..7).prop_flat_map(|(r, c)| matrix(r, c)), cut in 0usize..100) {
        let (r, c) = a.shape();
        let cs = 1 + cut % (c - 1);
        let rs = 1 + cut % (r - 1);
        check(|_, v| v[0].slice_cols(cs, c - cs), std::slice::from_ref(&a));
        check(|_, v| v[0].slice_rows(0, rs), std::slice::from_ref(&a));
        check(|_, v| {
            let left = v[0].slice_cols(0, cs)?;
            let right = v[0].slice_cols(cs, c - cs)?;
            concat_cols(&[right, left.exp(), v[0]])
        }, std::slice::from_ref(&a));
        check(|_, v| {
            let top = v[0].slice_rows(0, rs)?;
            concat_rows(&[v[0].tanh(), top])
        }, std::slice::from_ref(&a));
        let perm: Vec<usize> = (0..c).rev().chain([0, 0]).collect();
        check(|_, v| v[0].gather_cols(&perm), std::slice::from_ref(&a));
    }

    /// Reshapes, row gathers, pooling over row groups and 1-D patches: values against direct
    /// definitions and gradients against central differences.
    #[test]
    fn row_groups_and_patches(
        (groups, size, d) in (1usize..4, 1usize..5, 1usize..4),
        seed in any::<u64>(),
    ) {
        let f = |i: usize, j: usize| (((i * 37 + j * 11) as u64 ^ seed) % 89) as f64 / 30.0 - 1.5
            + 1e-3 * (i * d + j) as f64;
        let x = DMatrix::from_fn(groups * size, d, f);
        // Row-major reshape to one row per group and back.
        let tape = Tape::<f64>::new();
        let flat = tape.var(x.clone()).reshape(groups, size * d).unwrap().to_matrix();
        for r in 0..groups {
            for c in 0..size * d {
                prop_assert_eq!(flat[(r, c)], x[(r * size + c / d, c % d)]);
            }
        }
        check(|_, v| v[0].reshape(groups, size * d), std::slice::from_ref(&x));
        check(|_, v| v[0].reshape(1, groups * size * d)?.reshape(groups * size, d), std::slice::from_ref(&x));
        let index: Vec<usize> = (0..groups * size).rev().chain([0, 0]).collect();
        check(|_, v| v[0].gather_rows(&index), std::slice::from_ref(&x));
        check(|_, v| v[0].sum_row_groups(size), std::slice::from_ref(&x));
        check(|_, v| v[0].mean_row_groups(size), std::slice::from_ref(&x));
        // Distinct entries (the 1e-3 ramp), so the maximum is unique and smooth nearby.
        check(|_, v| v[0].max_row_groups(size), std::slice::from_ref(&x));
        let max = tape.var(x.clone()).max_row_groups(size).unwrap().to_matrix();
        let mean = tape.var(x.clone()).mean_row_groups(size).unwrap().to_matrix();
        for g in 0..groups {
            for j in 0..d {
                let col = (0..size).map(|k| x[(g * size + k, j)]);
                prop_assert_eq!(max[(g, j)], col.clone().fold(f64::NEG_INFINITY, f64::max));
                prop_assert!((mean[(g, j)] - col.sum::<f64>() / size as f64).abs() < 1e-12);
            }
        }
    }

    /// im2col: every patch row is the window it claims to be, and the composed gradient passes.
    #[test]
    fn one_dimensional_patches(
        (n, length, c) in (1usize..3, 1usize..9, 1usize..3),
        (kernel, stride) in (1usize..4, 1usize..3),
        seed in any::<u64>(),
    ) {
        let kernel = kernel.min(length);
        let f = |i: usize, j: usize| (((i * 13 + j * 7) as u64 ^ seed) % 71) as f64 / 25.0 - 1.4;
        let x = DMatrix::from_fn(n * length, c, f);
        let l_out = crate::conv1d_output_length(length, kernel, stride);
        let tape = Tape::<f64>::new();
        let p = tape.var(x.clone()).im2col_1d(length, kernel, stride).unwrap().to_matrix();
        prop_assert_eq!(p.shape(), (n * l_out, kernel * c));
        for i in 0..n {
            for t in 0..l_out {
                for k in 0..kernel {
                    for ch in 0..c {
                        prop_assert_eq!(p[(i * l_out + t, k * c + ch)], x[(i * length + t * stride + k, ch)]);
                    }
                }
            }
        }
        check(|_, v| v[0].im2col_1d(length, kernel, stride), std::slice::from_ref(&x));
        // The same values and input gradient, bit for bit, as the row gather of the windows
        // followed by a reshape (what the op replaced: trainings reproduce exactly).
        let mut index = Vec::new();
        for i in 0..n {
            for t in 0..l_out {
                index.extend(i * length + t * stride..i * length + t * stride + kernel);
            }
        }
        let via = |direct: bool| {
            let tape = Tape::<f64>::new();
            let v = tape.var(x.clone());
            let patches = if direct {
                v.im2col_1d(length, kernel, stride).unwrap()
            } else {
                v.gather_rows(&index).unwrap().reshape(n * l_out, kernel * c).unwrap()
            };
            let loss = weighted_sum(&tape, patches.square()).unwrap();
            (patches.to_matrix(), tape.backward(loss).unwrap().wrt(v))
        };
        prop_assert_eq!(via(true), via(false));
    }

    #[test]
    fn pairwise_distances((n, m, d) in (1usize..7, 1usize..7, 1usize..5), seed in any::<u64>()) {
        let f = |i: usize, j: usize, s: u64| (((i * 37 + j * 11) as u64 ^ s) % 89) as f64 / 30.0 - 1.5;
        let a = DMatrix::from_fn(n, d, |i, j| f(i, j, seed));
        let b = DMatrix::from_fn(m, d, |i, j| f(i + 50, j, seed >> 9));
        check(|_, v| v[0].pairwise_sq_dist(v[1]), &[a.clone(), b]);
        let direct = crate::pairwise_sq_dist(&a, &a);
        for i in 0..n {
            prop_assert!(direct[(i, i)].abs() < 1e-12);
        }
    }
}

#[test]
fn shape_errors_are_errors() {
    let tape = Tape::<f64>::new();
    let a = tape.var(DMatrix::zeros(3, 2));
    let b = tape.var(DMatrix::zeros(2, 3));
    assert!(matches!(a.add(b), Err(Error::Shape { op: "add", .. })));
    assert!(matches!(
        a.matmul(a),
        Err(Error::Shape { op: "matmul", .. })
    ));
    assert!(a.matmul(b).is_ok());
    assert!(matches!(
        a.slice_cols(1, 2),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.gather_cols(&[0, 2]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(concat_cols(&[a, b]), Err(Error::Shape { .. })));
    assert!(matches!(a.pairwise_sq_dist(b), Err(Error::Shape { .. })));
    assert!(matches!(
        a.reshape(2, 2),
        Err(Error::InvalidArgument { op: "reshape", .. })
    ));
    assert!(matches!(
        a.gather_rows(&[3]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.sum_row_groups(2),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.max_row_groups(0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.im2col_1d(3, 4, 1),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.im2col_1d(2, 1, 1),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.im2col_1d(3, 2, 0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        tape.backward(a),
        Err(Error::NotScalar { rows: 3, cols: 2 })
    ));
    let other = Tape::<f64>::new();
    let c = other.var(DMatrix::zeros(3, 2));
    assert!(matches!(a.add(c), Err(Error::InvalidArgument { .. })));
    assert!(matches!(
        other.backward(a.sum()),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn max_pooling_propagates_nan() {
    let tape = Tape::<f64>::new();
    let x = tape.var(DMatrix::from_row_slice(4, 1, &[1.0, f64::NAN, 3.0, 2.0]));
    let m = x.max_row_groups(2).unwrap().to_matrix();
    assert!(m[(0, 0)].is_nan());
    assert_eq!(m[(1, 0)], 3.0);
}

#[test]
fn no_grad_tape_evaluates_the_same_values_and_refuses_backward() {
    let x = DMatrix::from_fn(4, 3, |i, j| (i as f64 - j as f64 * 0.5).sin());
    let run = |tape: &Tape<f64>| {
        let v = tape.var(x.clone());
        let y = v.tanh().matmul(v.transpose()).map(|y| y.softplus().sum());
        y.map(|y| (y.item(), y.needs_grad()))
    };
    let (with, needs) = run(&Tape::new()).unwrap();
    let (without, needs_ng) = run(&Tape::no_grad()).unwrap();
    assert_eq!(with, without);
    assert!(needs && !needs_ng);
    let ng = Tape::<f64>::no_grad();
    let l = ng.var(x.clone()).sum();
    assert!(matches!(ng.backward(l), Err(Error::NoGrad)));
}

#[test]
fn constants_and_detach_stop_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.var(DMatrix::from_element(2, 2, 1.5));
    let c = tape.constant(DMatrix::from_element(2, 2, 2.0));
    let loss = x.mul(c).unwrap().add(x.detach().square()).unwrap().sum();
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.wrt(x), DMatrix::from_element(2, 2, 2.0));
    assert!(grads.get(c).is_none());
}

#[test]
fn gradients_accumulate_over_reuse_and_work_in_f32() {
    let tape = Tape::<f32>::new();
    let x = tape.var(DMatrix::from_element(1, 3, 2.0f32));
    // x·x + 3x reuses x three times: d/dx = 2x + 3 = 7.
    let loss = x.mul(x).unwrap().add(x.scale(3.0)).unwrap().sum();
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.wrt(x), DMatrix::from_element(1, 3, 7.0f32));
}

#[test]
fn softplus_and_sigmoid_do_not_overflow() {
    let tape = Tape::<f32>::new();
    let x = tape.var(DMatrix::from_row_slice(
        1,
        4,
        &[-200.0f32, -30.0, 30.0, 200.0],
    ));
    let sp = x.softplus().to_matrix();
    let sg = x.sigmoid().to_matrix();
    assert!(sp.iter().chain(sg.iter()).all(|v| v.is_finite()));
    assert_eq!(sp[(0, 3)], 200.0);
    assert_eq!(sg[(0, 0)], 0.0);
    let lse = x.logsumexp_cols().unwrap().item();
    assert_eq!(lse, 200.0);
}

#[test]
fn operators_forward_to_the_methods() {
    let tape = Tape::<f64>::new();
    let a = tape.var(DMatrix::from_element(2, 2, 3.0));
    let b = tape.var(DMatrix::from_element(1, 2, 2.0));
    assert_eq!((a + b).unwrap().item(), 5.0);
    assert_eq!((a - b).unwrap().item(), 1.0);
    assert_eq!((a * b).unwrap().item(), 6.0);
    assert_eq!((a / b).unwrap().item(), 1.5);
    assert_eq!((-a).item(), -3.0);
    assert!((b + a).is_err());
}
