//! Unit tests of the i-ResNet block (f64): laws, bounds, gradients, errors, and the
//! iteration-count table (`cargo test -p bijectors --release iteration_table -- --nocapture`).

use super::*;
use crate::laws::{Case, normal_batch};
use autodiff::nalgebra::DVector;
use autodiff::{GradCheckOptions, grad_check};
use fixedpoint::numerical_jacobian;
use rand::SeedableRng;

const ACTIVATIONS: [Activation; 4] = [
    Activation::Elu(1.0),
    Activation::Elu(0.5),
    Activation::Tanh,
    Activation::LipSwish,
];

/// A block whose raw weights are N(0, 1) (so normalisation is active for hidden widths ≥ 2).
fn block_with(
    d: usize,
    seed: u64,
    edit: impl FnOnce(&mut IResNetConfig),
) -> (IResNet, Params<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut params = Params::new();
    let mut config = IResNetConfig::new(&[12, 12], Activation::Elu(1.0));
    config.init = Some(Init::Normal(1.0));
    edit(&mut config);
    let block = IResNet::new(&mut params, "res", d, config, &mut rng).unwrap();
    (block, params)
}

fn row_norm_max(m: &DMatrix<f64>) -> f64 {
    m.row_iter().map(|r| r.norm()).fold(0.0, f64::max)
}

fn tight() -> GradCheckOptions {
    GradCheckOptions {
        atol: 1e-7,
        rtol: 1e-6,
        ..Default::default()
    }
}

fn to_ad(e: Error) -> autodiff::Error {
    autodiff::Error::InvalidArgument {
        op: "iresnet",
        reason: e.to_string(),
    }
}

/// The shared law checkers (round trip, inverse log-det, log-det against a numerical
/// Jacobian in both directions, input gradients through forward and inverse, boundary errors,
/// spec restore), for every allowed activation and a few widths; parameter gradients on two.
#[test]
fn laws_hold_for_every_activation() {
    let mut rng = StdRng::seed_from_u64(40);
    for (k, &act) in ACTIVATIONS.iter().enumerate() {
        for d in [1, 2, 5] {
            let (block, params) = block_with(d, 100 + k as u64 * 10 + d as u64, |c| {
                c.activation = act;
                // The laws compare round trips to 1e-12 and differentiate through the
                // inverse with steps of 1e-6, so the inverse is solved to 1e-13.
                c.inverse_tol = Some(1e-13);
            });
            let case = Case {
                block: &block,
                params: &params,
                x: normal_batch(6, d, &mut rng),
                cond: None,
            };
            case.check_all();
            if d == 2 {
                case.param_gradients();
            }
        }
    }
}

/// inverse(forward(x)) is within the reported a-posteriori bound, which meets the default
/// tolerance 1e-10, for plain and Anderson-accelerated iteration.
#[test]
fn round_trip_is_within_the_reported_bound() {
    let mut rng = StdRng::seed_from_u64(1);
    for anderson in [None, Some(5)] {
        for &act in &ACTIVATIONS {
            let (block, params) = block_with(3, 2, |c| {
                c.activation = act;
                c.anderson_depth = anderson;
            });
            let x = normal_batch(40, 3, &mut rng).scale(2.0);
            let (y, _) = block.forward_matrix(&params, &x).unwrap();
            let (back, report) = block.invert(&params, &y).unwrap();
            let err = row_norm_max(&(&back - &x));
            assert!(report.error_bound <= 1e-10 * tol_scale(&y), "{report:?}");
            assert!(
                err <= report.error_bound,
                "error {err:e} > bound, {report:?}"
            );
            assert!(report.lipschitz < 1.0 && report.anderson == anderson.is_some());
            assert_eq!(report.a_priori_bound.is_some(), anderson.is_none());
            // The trait path stores the same diagnostics.
            let (back2, _) = block.inverse_matrix(&params, &y).unwrap();
            assert_eq!(back2, back);
            assert_eq!(block.last_inversion(), Some(report));
        }
    }
}

/// The exact log-det equals ln|det| of the central-difference Jacobian of x ↦ x + g(x), to
/// 1e-6 relative (plus 1e-9 absolute for log-dets near 0), for d = 1…8.
#[test]
fn exact_log_det_matches_the_numerical_jacobian() {
    let mut rng = StdRng::seed_from_u64(3);
    for d in 1..=8 {
        for &act in &ACTIVATIONS {
            let (block, params) = block_with(d, 10 + d as u64, |c| c.activation = act);
            let x = normal_batch(3, d, &mut rng);
            let (_, ld) = block.forward_matrix(&params, &x).unwrap();
            for i in 0..3 {
                let xi = DVector::from_iterator(d, x.row(i).iter().copied());
                let jac = numerical_jacobian(
                    |v: &DVector<f64>| {
                        let row = DMatrix::from_row_slice(1, d, v.as_slice());
                        let y = block.forward_matrix(&params, &row).unwrap().0;
                        DVector::from_iterator(d, y.iter().copied())
                    },
                    &xi,
                    None,
                )
                .unwrap();
                let numeric = jac.lu().determinant().abs().ln();
                let err = (ld[(i, 0)] - numeric).abs();
                assert!(
                    err <= 1e-6 * numeric.abs() + 1e-9,
                    "d = {d}, {act:?}, row {i}: {} vs {numeric}",
                    ld[(i, 0)]
                );
            }
        }
    }
}

/// The inverse's log-det is minus the forward log-det at the recovered x (not at y, as
/// FrEIA's IResNetLayer evaluates it): checked on arbitrary y, where the two points differ.
#[test]
fn inverse_log_det_is_minus_the_forward_one_at_the_recovered_x() {
    let mut rng = StdRng::seed_from_u64(5);
    let (block, params) = block_with(4, 6, |_| {});
    let y = normal_batch(20, 4, &mut rng);
    let (x, inv_ld) = block.inverse_matrix(&params, &y).unwrap();
    let (y_again, fwd_ld) = block.forward_matrix(&params, &x).unwrap();
    assert!((&y_again - &y).abs().max() <= 1e-10);
    assert!((&inv_ld + &fwd_ld).abs().max() <= 1e-12);
    // Evaluating at y instead would be wrong by far more than that.
    let (_, at_y) = block.forward_matrix(&params, &y).unwrap();
    assert!((&inv_ld + &at_y).abs().max() > 1e-3);
}

/// The exact log-det of a d × d matrix A = I + M per sample, and the n-term series with exact
/// traces Σ (−1)ᵏ⁺¹ tr(Mᵏ)/k, from a central-difference Jacobian.
fn dense_log_det_and_series(
    block: &IResNet,
    params: &Params<f64>,
    x: &DMatrix<f64>,
    terms: usize,
) -> (Vec<f64>, Vec<f64>) {
    let d = x.ncols();
    let mut exact = Vec::new();
    let mut series = Vec::new();
    for i in 0..x.nrows() {
        let xi = DVector::from_iterator(d, x.row(i).iter().copied());
        let j = numerical_jacobian(
            |v: &DVector<f64>| {
                let row = DMatrix::from_row_slice(1, d, v.as_slice());
                let g = block.forward_matrix(params, &row).unwrap().0 - &row;
                DVector::from_iterator(d, g.iter().copied())
            },
            &xi,
            None,
        )
        .unwrap();
        exact.push((DMatrix::identity(d, d) + &j).lu().determinant().ln());
        let mut power = DMatrix::identity(d, d);
        let mut s = 0.0;
        for k in 1..=terms {
            power = &power * &j;
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            s += sign * power.trace() / k as f64;
        }
        series.push(s);
    }
    (exact, series)
}

/// d = 16: the truncated series (exact traces) is within the truncation bound
/// −d(ln(1−L) + Σₖ≤ₙ Lᵏ/k) of the exact log-det; the block's Hutchinson estimate averages to
/// the exact-trace series within 4 standard errors (400 independent draws); the block's own
/// exact log-det agrees with the dense one at d = 16 too.
#[test]
fn series_log_det_is_within_its_truncation_bound_and_hutchinson_error() {
    let d = 16;
    let mut rng = StdRng::seed_from_u64(7);
    let (block, params) = block_with(d, 8, |c| {
        c.hidden = vec![24];
        c.activation = Activation::Tanh;
        c.coeff = 0.7;
    });
    let lip = block.lipschitz_bound(&params).unwrap();
    let x = normal_batch(4, d, &mut rng);
    for terms in [2, 5, 10] {
        let (exact, series) = dense_log_det_and_series(&block, &params, &x, terms);
        let bound = series_truncation_bound(d, lip, terms);
        for (e, s) in exact.iter().zip(&series) {
            assert!((e - s).abs() <= bound, "n = {terms}: |{e} − {s}| > {bound}");
        }
        // Hutchinson: mean of 400 one-probe estimates against the exact-trace series.
        let draws = 400;
        let method = LogDet::Series { terms, probes: 1 };
        let mut sum = vec![0.0; x.nrows()];
        let mut sum_sq = vec![0.0; x.nrows()];
        for _ in 0..draws {
            let tape = Tape::no_grad();
            let p = params.bind(&tape);
            let est = block
                .log_det_with(&p, tape.constant(x.clone()), method, &mut rng)
                .unwrap()
                .to_matrix();
            for i in 0..x.nrows() {
                sum[i] += est[(i, 0)];
                sum_sq[i] += est[(i, 0)] * est[(i, 0)];
            }
        }
        for i in 0..x.nrows() {
            let mean = sum[i] / draws as f64;
            let var = (sum_sq[i] / draws as f64 - mean * mean).max(0.0);
            let se = (var / draws as f64).sqrt();
            assert!(
                (mean - series[i]).abs() <= 4.0 * se + 1e-12,
                "n = {terms}, row {i}: Hutchinson mean {mean} vs {} (se {se})",
                series[i]
            );
        }
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let exact_block = block
            .log_det_with(&p, tape.constant(x.clone()), LogDet::Exact, &mut rng)
            .unwrap()
            .to_matrix();
        for (i, e) in exact.iter().enumerate() {
            assert!((exact_block[(i, 0)] - e).abs() <= 1e-6 * e.abs() + 1e-9);
        }
    }
    // The bound itself: d = 2, c = 0.9 gives 2.81 at n = 1, 0.945 at n = 5, 0.078 at n = 20.
    for (n, want) in [(1, 2.805), (5, 0.945), (20, 0.0779)] {
        let b = series_truncation_bound(2, 0.9, n);
        assert!((b - want).abs() < 2e-3 * want.max(1.0), "n = {n}: {b}");
    }
    assert_eq!(series_truncation_bound(2, 1.0, 5), f64::INFINITY);
}

/// After evaluation-mode normalisation W̃ = W·min(1, c/σ̂), checked with nalgebra's SVD. With
/// the default SVD estimate ‖W̃‖₂ ≤ c(1 + 1e-12) (rounding). With power iteration σ̂ ≤ σ_max,
/// so ‖W̃‖₂ exceeds c by σ̂'s relative shortfall: at 200 iterations up to 1e-4 here (measured
/// 7e-6 for a 20 × 7 matrix with close top singular values); at 5000 below 1e-9. Weights
/// already below c are left unchanged, and the Lipschitz bound used by the inverse comes from
/// the SVD of W̃, so it never inherits the slack.
#[test]
fn normalised_weights_have_spectral_norm_at_most_c() {
    let modes = [
        (EvalNormalisation::Svd, 1e-12),
        (EvalNormalisation::PowerIteration(200), 1e-4),
        (EvalNormalisation::PowerIteration(5000), 1e-9),
    ];
    for (mode, slack) in modes {
        for (scale, coeff) in [(1.0, 0.9), (3.0, 0.5), (0.01, 0.9), (2.0, 0.99)] {
            let (block, params) = block_with(5, 21, |c| {
                c.init = Some(Init::Normal(scale));
                c.coeff = coeff;
                c.hidden = vec![20, 7];
                c.eval_normalisation = mode;
            });
            let normalised = block.normalised_weights(&params).unwrap();
            let mut lip = 1.0;
            for (w, layer) in normalised.iter().zip(block.layers()) {
                let raw = params.get(layer.weight());
                let sigma_raw = raw.clone().svd(false, false).singular_values.max();
                let sigma = w.clone().svd(false, false).singular_values.max();
                lip *= sigma;
                assert!(
                    sigma <= coeff * (1.0 + slack),
                    "{mode:?}: σ = {sigma} > c = {coeff}"
                );
                if sigma_raw <= coeff {
                    assert_eq!(w, raw);
                } else {
                    assert!(
                        sigma >= coeff * (1.0 - 1e-12),
                        "{mode:?}: σ = {sigma}, c = {coeff}"
                    );
                }
            }
            let bound = block.lipschitz_bound(&params).unwrap();
            assert!((bound - lip).abs() <= 1e-12 * lip, "{bound} vs {lip}");
        }
    }
}

/// grad_check of Σ y² + Σ ln det through the forward pass, with respect to the input and every
/// weight and bias, for every activation and both log-det methods (the series with a fixed
/// probe seed, so every evaluation sees the same probes), at atol 1e-7 / rtol 1e-6: measured
/// max abs ≈ 8e-9, max rel ≈ 3e-7, the noise of central differences with step 1e-6. The
/// gradient holds u, v fixed (as torch does); at the SVD's singular vectors that is the
/// derivative of σ_max itself.
#[test]
fn forward_gradients_pass_grad_check() {
    let mut rng = StdRng::seed_from_u64(9);
    for &act in &ACTIVATIONS {
        for method in [
            LogDet::Exact,
            LogDet::Series {
                terms: 4,
                probes: 2,
            },
        ] {
            let (block, params) = block_with(3, 31, |c| {
                c.activation = act;
                c.hidden = vec![5];
            });
            // Evaluation first, so the training-mode call reuses the converged estimate.
            block.normalised_weights(&params).unwrap();
            let x = normal_batch(4, 3, &mut rng);
            let mut inputs = vec![x];
            inputs.extend(params.iter().map(|(_, _, v)| v.clone()));
            let report = grad_check(
                |_tape, v| {
                    let raw: Vec<_> = (0..block.layers().len())
                        .map(|k| (v[1 + 2 * k], v[2 + 2 * k]))
                        .collect();
                    let (branch, _) = block.branch(&raw).map_err(to_ad)?;
                    let y = v[0].add(branch.eval(v[0]).map_err(to_ad)?.value)?;
                    let ld = block
                        .log_det_layers(&raw, v[0], method, &mut StdRng::seed_from_u64(77))
                        .map_err(to_ad)?;
                    y.square().sum().add(ld.sum())
                },
                &inputs,
                tight(),
            );
            match report {
                Ok(r) => println!(
                    "forward {act:?} {method:?}: max abs {:.1e}, max rel {:.1e}",
                    r.max_abs_error, r.max_rel_error
                ),
                Err(e) => panic!("{act:?} {method:?}: {e:?}"),
            }
        }
    }
}

/// The inverse's exact implicit gradient (with respect to y and every parameter) passes
/// grad_check at atol 1e-7 / rtol 1e-6 (measured max abs ≈ 8e-9, max rel ≈ 1e-8), solving
/// to 1e-13 so that the finite differences (step 1e-6) are accurate to ≈1e-7; the one-step
/// gradient does not (the test prints its first mismatch, ≈66 % relative).
#[test]
fn inverse_gradients_are_exact_for_the_implicit_mode_only() {
    let mut rng = StdRng::seed_from_u64(12);
    let y = normal_batch(4, 2, &mut rng);
    let mut errors = Vec::new();
    for mode in [InverseGradient::Implicit, InverseGradient::OneStep] {
        let (block, params) = block_with(2, 41, |c| {
            c.hidden = vec![6];
            c.inverse_tol = Some(1e-13);
            c.inverse_gradient = mode;
        });
        block.normalised_weights(&params).unwrap();
        let mut inputs = vec![y.clone()];
        inputs.extend(params.iter().map(|(_, _, v)| v.clone()));
        let report = grad_check(
            |_tape, v| {
                let raw: Vec<_> = (0..block.layers().len())
                    .map(|k| (v[1 + 2 * k], v[2 + 2 * k]))
                    .collect();
                let (x, ld, _) = block.inverse_layers(&raw, v[0]).map_err(to_ad)?;
                x.square().sum().add(ld.sum())
            },
            &inputs,
            tight(),
        );
        match mode {
            InverseGradient::Implicit => match report {
                Ok(r) => println!(
                    "inverse implicit: max abs {:.1e}, max rel {:.1e}",
                    r.max_abs_error, r.max_rel_error
                ),
                Err(e) => panic!("{e:?}"),
            },
            InverseGradient::OneStep => {
                let Err(autodiff::Error::GradientMismatch {
                    analytic, numeric, ..
                }) = report
                else {
                    panic!("the one-step gradient passed an exact check: {report:?}");
                };
                errors.push((analytic - numeric).abs() / numeric.abs());
            }
        }
    }
    println!("one-step inverse gradient: first mismatch relative error {errors:?}");
}

/// Training works without any call after the optimiser step: 150 Adam steps of maximum
/// likelihood (standard normal base) on correlated 2-D Gaussian data lower the NLL by more
/// than 0.3 nats, every step's weights stay normalised, and the trained block still inverts
/// within its bound.
#[test]
fn maximum_likelihood_training_keeps_the_block_invertible() {
    use autodiff::optim::{Adam, Optimizer};
    let mut rng = StdRng::seed_from_u64(16);
    let (block, mut params) = block_with(2, 81, |c| {
        c.hidden = vec![16];
        c.init = None;
    });
    let z = normal_batch(128, 2, &mut rng);
    // x = A z with a strongly anisotropic A: far from the standard normal base.
    let a = DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 1.5, 0.4]);
    let x = &z * a.transpose();
    let nll = |params: &Params<f64>| {
        let (out, ld) = block.forward_matrix(params, &x).unwrap();
        (out.map(|v| 0.5 * v * v).sum() - ld.sum()) / x.nrows() as f64
    };
    let before = nll(&params);
    let mut adam = Adam::with_lr(1e-2);
    for _ in 0..150 {
        let tape = Tape::new();
        let p = params.bind(&tape);
        let (out, ld) = block.forward(&p, tape.constant(x.clone())).unwrap();
        let loss = out
            .square()
            .scale(0.5)
            .sum()
            .sub(ld.sum())
            .unwrap()
            .scale(1.0 / 128.0);
        let mut grads = tape.backward(loss).unwrap();
        adam.step(&mut params, &p.gradients(&mut grads)).unwrap();
    }
    let after = nll(&params);
    println!("maximum likelihood: NLL {before:.4} → {after:.4} after 150 Adam steps");
    assert!(after < before - 0.3, "NLL {before} → {after}");
    assert!(block.lipschitz_bound(&params).unwrap() <= 0.81 * (1.0 + 1e-9));
    let (y, _) = block.forward_matrix(&params, &x).unwrap();
    let (back, report) = block.invert(&params, &y).unwrap();
    assert!(row_norm_max(&(&back - &x)) <= report.error_bound);
}

#[test]
fn non_contractive_and_non_converged_inversions_are_errors() {
    let mut rng = StdRng::seed_from_u64(13);
    let y = normal_batch(5, 2, &mut rng);
    // c = 3 is accepted at construction but g is then no contraction.
    let (block, params) = block_with(2, 51, |c| c.coeff = 3.0);
    let lip = block.lipschitz_bound(&params).unwrap();
    assert!(lip >= 1.0);
    assert!(
        matches!(block.invert(&params, &y), Err(Error::NotContractive { lipschitz }) if lipschitz == lip)
    );
    assert!(matches!(
        block.inverse_matrix(&params, &y),
        Err(Error::NotContractive { .. })
    ));
    // Raw weights written into the store (as if loaded from a file) are normalised before use,
    // so a large weight does not break invertibility.
    let (block, mut params) = block_with(2, 52, |_| {});
    let id = block.layers()[0].weight();
    params.get_mut(id).scale_mut(1e3);
    assert!(block.lipschitz_bound(&params).unwrap() < 1.0);
    assert!(block.invert(&params, &y).is_ok());
    // Three iterations cannot reach 1e-10.
    let (block, params) = block_with(2, 53, |c| c.inverse_max_iter = 3);
    assert!(matches!(
        block.invert(&params, &y),
        Err(Error::Inversion(fixedpoint::Error::NotConverged {
            iterations: 3,
            ..
        }))
    ));
}

#[test]
fn invalid_configurations_are_errors() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut params = Params::<f64>::new();
    let bad = [
        IResNetConfig::new(&[4], Activation::Relu),
        IResNetConfig::new(&[4], Activation::Elu(2.0)),
        IResNetConfig::new(&[4], Activation::Sigmoid),
        IResNetConfig::new(&[0], Activation::Tanh),
        IResNetConfig {
            coeff: 0.0,
            ..IResNetConfig::default()
        },
        IResNetConfig {
            coeff: f64::NAN,
            ..IResNetConfig::default()
        },
        IResNetConfig {
            inverse_tol: Some(0.0),
            ..IResNetConfig::default()
        },
        IResNetConfig {
            inverse_max_iter: 0,
            ..IResNetConfig::default()
        },
        IResNetConfig {
            anderson_depth: Some(0),
            ..IResNetConfig::default()
        },
        IResNetConfig {
            log_det: LogDet::Series {
                terms: 0,
                probes: 1,
            },
            ..IResNetConfig::default()
        },
        IResNetConfig {
            train_power_iters: 0,
            ..IResNetConfig::default()
        },
    ];
    for (k, config) in bad.into_iter().enumerate() {
        let r = IResNet::new(&mut params, &format!("b{k}"), 2, config, &mut rng);
        assert!(matches!(r, Err(Error::Config(_))), "case {k}: {r:?}");
    }
    let r = IResNet::new(&mut params, "z", 0, IResNetConfig::default(), &mut rng);
    assert!(matches!(r, Err(Error::Config(_))));
}

/// The spec (with the power-iteration warm starts) restores a trained-looking block bit for
/// bit, through `block_from_spec`; an inconsistent spec is an error.
#[test]
fn spec_round_trip_restores_the_block() {
    let mut rng = StdRng::seed_from_u64(14);
    let (block, params) = block_with(3, 61, |_| {});
    // A training-mode call moves the warm starts away from their initial state.
    let tape = Tape::new();
    let p = params.bind(&tape);
    block
        .forward(&p, tape.constant(normal_batch(4, 3, &mut rng)))
        .unwrap();
    let spec = Bijector::<f64>::spec(&block).unwrap();
    assert_eq!(spec.kind, "iresnet");
    let text = serde_json::to_string(&spec).unwrap();
    let rebuilt: IResNet = serde_json::from_str::<BlockSpec>(&text)
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(rebuilt.config(), block.config());
    let x = normal_batch(5, 3, &mut rng);
    assert_eq!(
        rebuilt.forward_matrix(&params, &x).unwrap(),
        block.forward_matrix(&params, &x).unwrap()
    );
    assert_eq!(
        rebuilt.invert(&params, &x).unwrap(),
        block.invert(&params, &x).unwrap()
    );
    let mut broken = spec.clone();
    broken.config["dim"] = serde_json::json!(4);
    assert!(broken.decode::<IResNet>().is_err());
    let mut broken = spec.clone();
    broken.config["power_u"][0] = serde_json::json!([1.0]);
    assert!(broken.decode::<IResNet>().is_err());
}

/// Iterations to reach an a-posteriori bound of 1e-10 for blocks with c = 0.5, 0.9, 0.99,
/// plain and Anderson(5), with the measured error (against the known x) next to both bounds
/// and the count the a-priori bound predicts. Two branches: ELU with hidden [16] (raw weights
/// N(0, 1), so both layers are scaled to exactly c and L = c²), and an affine branch g(x) =
/// xW̃ + b with ‖W̃‖₂ = c (L = c, the worst case for the iteration). Run with `--nocapture`.
#[test]
fn iteration_table() {
    let mut rng = StdRng::seed_from_u64(15);
    let x = normal_batch(64, 4, &mut rng).scale(1.5);
    println!(
        "{:>7} {:>5} {:>7} {:>9} {:>6} {:>9} {:>10} {:>13} {:>9}",
        "branch", "c", "L", "method", "iters", "measured", "a-post.", "a-priori", "a-pri. n"
    );
    for hidden in [vec![16], vec![]] {
        for coeff in [0.5, 0.9, 0.99] {
            for anderson in [None, Some(5)] {
                let (block, params) = block_with(4, 71, |c| {
                    c.hidden = hidden.clone();
                    c.coeff = coeff;
                    c.anderson_depth = anderson;
                    c.inverse_max_iter = 10_000;
                });
                let (y, _) = block.forward_matrix(&params, &x).unwrap();
                let (back, r) = block.invert(&params, &y).unwrap();
                let measured = row_norm_max(&(&back - &x));
                let predicted =
                    fixedpoint::iterations_needed(r.lipschitz, r.first_step, 1e-10).unwrap();
                println!(
                    "{:>7} {coeff:>5} {:>7.4} {:>9} {:>6} {measured:>9.1e} {:>10.1e} {:>13} {predicted:>9}",
                    if hidden.is_empty() {
                        "affine"
                    } else {
                        "elu[16]"
                    },
                    r.lipschitz,
                    if anderson.is_some() {
                        "anderson"
                    } else {
                        "plain"
                    },
                    r.iterations,
                    r.error_bound,
                    r.a_priori_bound
                        .map_or("-".to_string(), |b| format!("{b:.1e}"))
                );
                assert!(r.error_bound <= 1e-10 * tol_scale(&y));
                // The known x carries the rounding of y = f(x) (≈1e-16·|x|/(1 − L)).
                assert!(measured <= r.error_bound + 1e-13, "{measured:e} vs {r:?}");
                if let Some(prior) = r.a_priori_bound {
                    assert!(prior >= r.error_bound);
                    assert!(r.iterations <= predicted);
                }
            }
        }
    }
}

/// f32 works with its own default tolerance 1e-5: the round trip is within the reported bound
/// (plus the f32 rounding of y = f(x), ≈1e-6 here).
#[test]
fn f32_round_trip_meets_the_f32_tolerance() {
    let mut rng = StdRng::seed_from_u64(17);
    let mut params = Params::<f32>::new();
    let mut config = IResNetConfig::new(&[16], Activation::LipSwish);
    config.init = Some(Init::Normal(1.0));
    let block = IResNet::new(&mut params, "res", 3, config, &mut rng).unwrap();
    let x = normal_batch(32, 3, &mut rng).map(|v| v as f32);
    let (y, ld) = block.forward_matrix(&params, &x).unwrap();
    let (back, report) = block.invert(&params, &y).unwrap();
    assert!(report.error_bound <= 1e-5, "{report:?}");
    let err = back
        .row_iter()
        .zip(x.row_iter())
        .map(|(a, b)| (a - b).norm())
        .fold(0.0f32, f32::max);
    assert!(
        f64::from(err) <= report.error_bound + 1e-6,
        "{err} vs {report:?}"
    );
    let (_, inv_ld) = block.inverse_matrix(&params, &y).unwrap();
    assert!((&inv_ld + &ld).abs().max() <= 1e-5);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// For random widths, activations, coefficients and data scales: the round trip is within
    /// the reported bound (≤ 1e-10) and the inverse's log-det is minus the forward one at the
    /// recovered x.
    #[test]
    fn round_trip_and_log_det_hold_for_random_blocks(
        d in 1usize..6,
        width in 1usize..10,
        act in 0usize..4,
        coeff in 0.05f64..0.99,
        scale in 0.1f64..4.0,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let (block, params) = block_with(d, seed, |c| {
            c.hidden = vec![width];
            c.activation = ACTIVATIONS[act];
            c.coeff = coeff;
            // The stopping rule needs L/(1−L)·step ≤ 1e-10: up to ≈ 2750 plain iterations at
            // L = 0.99 (the default budget of 500 suits L ≲ 0.95 in f64; coeff 0.988 with an
            // actual contraction of 0.976 needed ≈ 1200).
            c.inverse_max_iter = 5000;
        });
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let x = normal_batch(8, d, &mut rng).scale(scale);
        let (y, ld) = block.forward_matrix(&params, &x).unwrap();
        let (back, report) = block.invert(&params, &y).unwrap();
        proptest::prop_assert!(report.error_bound <= 1e-10 * tol_scale(&y));
        proptest::prop_assert!(row_norm_max(&(&back - &x)) <= report.error_bound + 1e-14 * scale);
        let (_, inv_ld) = block.inverse_matrix(&params, &y).unwrap();
        let (_, at_back) = block.forward_matrix(&params, &back).unwrap();
        proptest::prop_assert!((&inv_ld + &at_back).abs().max() <= 1e-12);
        proptest::prop_assert!((&inv_ld + &ld).abs().max() <= 1e-9);
    }
}

/// The inverse's tolerance, 1e-10 unless the rounding floor of a large batch is higher
/// (never, for these test batches: with ‖y‖∞ < 100 and L ≤ 0.99 the floor
/// [`crate::inverse_rounding_floor`] stays below 1.8e-11).
fn tol_scale(y: &DMatrix<f64>) -> f64 {
    assert!(y.amax() < 100.0);
    assert!(crate::inverse_rounding_floor(0.99, f64::EPSILON, 100.0) < 1e-10);
    1.0
}

/// The first call on a recording tape (cold power-iteration state) normalises the weights as
/// evaluation does, so training differentiates the same map that inference runs.
#[test]
fn first_training_call_matches_evaluation() {
    for seed in [5u64, 77, 5277210917919548] {
        let (block, params) = block_with(6, seed, |c| {
            c.hidden = vec![];
            c.coeff = 0.5;
        });
        let mut rng = StdRng::seed_from_u64(seed);
        let x = normal_batch(5, 6, &mut rng);
        let tape = autodiff::Tape::new();
        let p = params.bind(&tape);
        let (y_train, ld_train) = block.forward(&p, tape.var(x.clone())).unwrap();
        let (y_eval, ld_eval) = block.forward_matrix(&params, &x).unwrap();
        assert!((&*y_train.value() - &y_eval).amax() < 1e-12, "seed {seed}");
        assert!(
            (&*ld_train.value() - &ld_eval).amax() < 1e-12,
            "seed {seed}"
        );
    }
}

/// Without an explicit rng, the Hutchinson probes depend only on the configured seed and the
/// batch: the same input gives the same estimate on every call (a pure `&self`), another seed
/// or another batch other probes.
#[test]
fn series_log_det_without_an_rng_is_a_function_of_its_input() {
    let d = 16;
    let series = |seed: u64| {
        block_with(d, 8, |c| {
            c.hidden = vec![24];
            c.activation = Activation::Tanh;
            c.coeff = 0.7;
            c.log_det = LogDet::Series {
                terms: 5,
                probes: 1,
            };
            c.probe_seed = seed;
        })
    };
    let (block, params) = series(0);
    let x = normal_batch(4, d, &mut StdRng::seed_from_u64(3));
    let first = block.forward_matrix(&params, &x).unwrap().1;
    assert_eq!(first, block.forward_matrix(&params, &x).unwrap().1);
    let (other_seed, other_params) = series(1);
    assert_eq!(params, other_params, "the seed does not change the weights");
    assert_ne!(first, other_seed.forward_matrix(&params, &x).unwrap().1);
    let shifted = x.add_scalar(1e-3);
    let moved = block.forward_matrix(&params, &shifted).unwrap().1;
    assert!((&moved - &first).abs().max() > 0.0);
}
