//! Tests of the Banach iteration: classic maps, error bounds, Anderson, failures.

use super::*;
use crate::{CircleMap, LogisticMap, circular_distance};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// Slack for comparing a true error with a bound computed from rounded steps: a few hundred
/// ulps of the O(1) iterates.
const ROUNDING: f64 = 1e-13;

/// Slack for a linear contraction, where the a-posteriori bound can be attained exactly: the
/// rounding error of a step (a few ulps of ‖x*‖) is amplified by c/(1−c), and the reference
/// x* = (I − A)⁻¹b carries an error of cond(I − A)·ε·‖x*‖ ≤ ε‖x*‖/(1 − c).
fn linear_slack(c: f64, x_star: &DVector<f64>) -> f64 {
    16.0 * f64::EPSILON * (1.0 + x_star.norm()) / (1.0 - c)
}

fn scalar_map(f: impl Fn(f64) -> f64) -> impl FnMut(&DVector<f64>) -> DVector<f64> {
    move |x: &DVector<f64>| x.map(&f)
}

fn x1(v: f64) -> DVector<f64> {
    DVector::from_element(1, v)
}

/// A d × d matrix with spectral norm exactly `c`: Gaussian entries rescaled by σ_max.
fn random_contraction(d: usize, c: f64, rng: &mut StdRng) -> DMatrix<f64> {
    let a = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0));
    let sigma = a.singular_values().max();
    a * (c / sigma)
}

/// A symmetric d × d matrix Q·diag(λ)·Qᵀ with λ evenly spaced in [−c, c] and a random
/// orthogonal Q: plain iteration contracts at exactly rate c (the hard case for Picard).
fn symmetric_contraction(d: usize, c: f64, rng: &mut StdRng) -> DMatrix<f64> {
    let g = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0));
    let q = g.qr().q();
    let lambda = DVector::from_fn(d, |i, _| -c + 2.0 * c * i as f64 / (d - 1) as f64);
    &q * DMatrix::from_diagonal(&lambda) * q.transpose()
}

#[test]
fn logistic_2_8_converges_within_the_a_priori_bound() {
    let map = LogisticMap::new(2.8f64).unwrap();
    let x_star = map.fixed_point().unwrap();
    assert!((x_star - 0.642857).abs() < 1e-6);
    // |f'| = 2.8·|1 − 2x| ≤ 0.85 on [x* − δ, x* + δ] with δ = 0.05/5.6, which f maps into
    // itself, so c = 0.85 is a valid contraction constant there (|f'(x*)| = 0.8).
    let c = 0.85;
    let x0 = x_star + 0.008;
    let mut inputs = Vec::new();
    let opts = BanachOptions {
        history: History::Full,
        ..BanachOptions::with_contraction(c)
    };
    let sol = banach(
        |x: &DVector<f64>| {
            inputs.push(x[0]);
            x.map(|v| map.apply(v))
        },
        &x1(x0),
        &opts,
    )
    .unwrap();
    let err = (sol.point[0] - x_star).abs();
    assert!(err <= sol.a_posteriori_bound.unwrap() + ROUNDING);
    assert!(err <= sol.a_priori_bound.unwrap() + ROUNDING);
    assert!(sol.a_posteriori_bound.unwrap() <= 1e-10);
    // The a-priori bound also holds at every intermediate iterate xₙ (inputs[n] = xₙ).
    for (n, &x) in inputs.iter().enumerate() {
        let bound = crate::a_priori_bound(c, n, sol.first_step).unwrap();
        assert!((x - x_star).abs() <= bound + ROUNDING, "n = {n}");
    }
    // The steps contract at |f'(x*)| = 0.8 in the end.
    let h = &sol.history;
    let ratio = h[h.len() - 1] / h[h.len() - 2];
    assert!((ratio - 0.8).abs() < 1e-3, "step ratio {ratio}");
    assert_eq!(sol.history.len(), sol.iterations);
}

#[test]
fn logistic_2_8_converges_from_afar_without_a_constant() {
    let map = LogisticMap::new(2.8f64).unwrap();
    let sol = banach(
        scalar_map(|v| map.apply(v)),
        &x1(0.1),
        &BanachOptions::default(),
    )
    .unwrap();
    // Without c only the step is controlled; the local rate 0.8 turns it into an error ≤ 4·step.
    assert!(sol.step <= 1e-10 && sol.a_posteriori_bound.is_none());
    assert!((sol.point[0] - 0.642_857_142_857_142_9).abs() <= 4.0 * sol.step + ROUNDING);
}

fn sorted(points: &[Vec<f64>]) -> Vec<f64> {
    let mut v: Vec<f64> = points.iter().map(|p| p[0]).collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn logistic_3_2_reports_the_two_cycle() {
    let map = LogisticMap::new(3.2f64).unwrap();
    let err = banach(
        scalar_map(|v| map.apply(v)),
        &x1(0.3),
        &BanachOptions::default(),
    );
    let Err(Error::CycleDetected { period, points }) = err else {
        panic!("expected a 2-cycle, got {err:?}");
    };
    assert_eq!(period, 2);
    let pts = sorted(&points);
    assert!(
        (pts[0] - 0.513045).abs() < 1e-5 && (pts[1] - 0.799455).abs() < 1e-5,
        "{pts:?}"
    );
    // Consecutive points are images of each other.
    assert!((map.apply(points[0][0]) - points[1][0]).abs() < 1e-6);
}

#[test]
fn logistic_3_5_reports_the_four_cycle() {
    let map = LogisticMap::new(3.5f64).unwrap();
    let err = banach(
        scalar_map(|v| map.apply(v)),
        &x1(0.3),
        &BanachOptions::default(),
    );
    let Err(Error::CycleDetected { period, points }) = err else {
        panic!("expected a 4-cycle, got {err:?}");
    };
    assert_eq!(period, 4);
    let expected = [0.382820, 0.500884, 0.826941, 0.874997];
    for (got, want) in sorted(&points).iter().zip(expected) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
}

#[test]
fn slow_oscillating_convergence_is_not_a_cycle() {
    // r = 2.98: f'(x*) = −0.98, so xₙ − xₙ₋₂ ≪ xₙ − xₙ₋₁ for a long time.
    let map = LogisticMap::new(2.98f64).unwrap();
    let opts = BanachOptions {
        max_iter: 5000,
        ..Default::default()
    };
    let sol = banach(scalar_map(|v| map.apply(v)), &x1(0.3), &opts).unwrap();
    assert!((sol.point[0] - map.fixed_point().unwrap()).abs() < 1e-8);
}

#[test]
fn circle_map_without_fixed_point_does_not_converge() {
    let map = CircleMap::new(0.1f64, 0.5).unwrap();
    assert!(!map.has_fixed_point());
    let err = banach(
        scalar_map(|v| map.apply(v)),
        &x1(0.0),
        &BanachOptions::default(),
    );
    let Err(Error::NotConverged {
        iterations,
        residual_tail,
    }) = err
    else {
        panic!("expected NotConverged, got {err:?}");
    };
    assert_eq!(iterations, 1000);
    assert_eq!(residual_tail.len(), 16);
    let rho = map.rotation_number(0.0, 10_000).unwrap();
    assert!((rho - 0.061).abs() < 1e-3, "rotation number {rho}");
}

#[test]
fn circle_map_locks_onto_its_fixed_point() {
    let map = CircleMap::new(0.1f64, 0.7).unwrap();
    let sol = banach(
        scalar_map(|v| map.apply(v)),
        &x1(0.9),
        &BanachOptions::default(),
    )
    .unwrap();
    assert!(
        circular_distance(sol.point[0], 0.177345) < 1e-6,
        "{}",
        sol.point[0]
    );
}

#[test]
fn batch_rows_converge_independently_and_match_vector_solves() {
    let mut rng = StdRng::seed_from_u64(3);
    let d = 4;
    let a = random_contraction(d, 0.6, &mut rng);
    let y = DMatrix::from_fn(5, d, |_, _| rng.random_range(-3.0..3.0));
    // i-ResNet style inverse: x = y − g(x) with g(x) = tanh(x)·Aᵀ row-wise, Lip(g) ≤ 0.6.
    let g = |x: &DMatrix<f64>| x.map(f64::tanh) * a.transpose();
    let opts = BanachOptions::with_contraction(0.6);
    let sol = banach_batch(|x: &DMatrix<f64>| &y - g(x), &y, &opts).unwrap();
    let residual = (&sol.point + g(&sol.point) - &y).abs().max();
    assert!(residual < 1e-9);
    for i in 0..y.nrows() {
        let yi = y.row(i).transpose();
        let f = |x: &DVector<f64>| &yi - a.clone() * x.map(f64::tanh);
        let s = banach(f, &yi, &opts).unwrap();
        let diff = (s.point - sol.point.row(i).transpose()).amax();
        assert!(diff <= 2.0 * sol.a_posteriori_bound.unwrap(), "row {i}");
        assert!(s.iterations <= sol.iterations);
    }
}

#[test]
fn works_in_f32() {
    let y = DMatrix::<f32>::from_row_slice(2, 2, &[0.5, -1.0, 2.0, 0.0]);
    let opts = BanachOptions::<f32>::with_contraction(0.5);
    assert!(opts.tol > 1e-6 && opts.tol < 1e-4);
    let sol = banach_batch(|x: &DMatrix<f32>| &y - x.map(|v| 0.5 * v.sin()), &y, &opts).unwrap();
    let back = &sol.point + sol.point.map(|v| 0.5 * v.sin());
    assert!((back - &y).amax() < 1e-4);
}

#[test]
fn anderson_is_at_least_twice_as_fast_on_the_hard_case() {
    // Hard case: d = 50, symmetric linear map with eigenvalues evenly spaced in [−0.99, 0.99]
    // (spectral norm c = 0.99), same stop rule and tolerance 1e-10 for both.
    let mut rng = StdRng::seed_from_u64(42);
    let (d, c) = (50, 0.99);
    let a = symmetric_contraction(d, c, &mut rng);
    let b = DVector::from_fn(d, |_, _| rng.random_range(-1.0..1.0));
    let x_star = (DMatrix::identity(d, d) - &a).lu().solve(&b).unwrap();
    let f = |x: &DVector<f64>| &a * x + &b;
    let x0 = DVector::zeros(d);
    let plain_opts = BanachOptions {
        max_iter: 10_000,
        ..BanachOptions::with_contraction(c)
    };
    let anderson_opts = BanachOptions {
        acceleration: Acceleration::Anderson(AndersonOptions::default()),
        ..plain_opts
    };
    let plain = banach(f, &x0, &plain_opts).unwrap();
    let accel = banach(f, &x0, &anderson_opts).unwrap();
    for sol in [&plain, &accel] {
        let err = (&sol.point - &x_star).norm();
        let bound = sol.a_posteriori_bound.unwrap();
        assert!(
            err <= bound + linear_slack(c, &x_star),
            "{} iterations: error {err:e} > bound {bound:e}",
            sol.iterations
        );
        assert!(bound <= 1e-10);
    }
    assert!(accel.a_priori_bound.is_none());
    println!(
        "hard case c = 0.99, d = 50: plain {} vs Anderson {} iterations",
        plain.iterations, accel.iterations
    );
    assert!(
        2 * accel.iterations <= plain.iterations,
        "Anderson {} vs plain {}",
        accel.iterations,
        plain.iterations
    );
}

#[test]
fn anderson_batch_solves_every_row() {
    let mut rng = StdRng::seed_from_u64(5);
    let a = symmetric_contraction(6, 0.95, &mut rng);
    let y = DMatrix::from_fn(4, 6, |_, _| rng.random_range(-1.0..1.0));
    let f = |x: &DMatrix<f64>| &y + x * a.transpose();
    let opts = BanachOptions {
        acceleration: Acceleration::Anderson(AndersonOptions::default()),
        ..BanachOptions::with_contraction(0.95)
    };
    let sol = banach_batch(f, &DMatrix::zeros(4, 6), &opts).unwrap();
    let x_star = ((DMatrix::identity(6, 6) - &a)
        .lu()
        .solve(&y.transpose())
        .unwrap())
    .transpose();
    for i in 0..4 {
        let err = (sol.point.row(i) - x_star.row(i)).norm();
        let slack = linear_slack(0.95, &x_star.row(i).transpose());
        assert!(err <= sol.a_posteriori_bound.unwrap() + slack, "row {i}");
    }
}

#[test]
fn full_history_has_one_step_per_iteration() {
    let opts = BanachOptions {
        history: History::Full,
        ..BanachOptions::with_contraction(0.5)
    };
    let sol = banach(scalar_map(|v| 0.5 * v + 1.0), &x1(0.0), &opts).unwrap();
    assert_eq!(sol.history.len(), sol.iterations);
    assert_eq!(sol.history[0], sol.first_step);
    assert_eq!(*sol.history.last().unwrap(), sol.step);
    let tail = BanachOptions {
        history: History::Tail(3),
        ..opts
    };
    assert_eq!(
        banach(scalar_map(|v| 0.5 * v + 1.0), &x1(0.0), &tail)
            .unwrap()
            .history
            .len(),
        3
    );
}

#[test]
fn growing_steps_are_divergence() {
    let err = banach(
        scalar_map(|v| 2.0 * v + 1.0),
        &x1(0.0),
        &BanachOptions::default(),
    );
    assert!(
        matches!(
            err,
            Err(Error::Diverged {
                reason: Divergence::GrowingSteps { .. },
                ..
            })
        ),
        "{err:?}"
    );
    let err = banach(
        scalar_map(|v| if v > 5.0 { f64::NAN } else { v + 1.0 }),
        &x1(0.0),
        &BanachOptions::default(),
    );
    assert!(
        matches!(
            err,
            Err(Error::Diverged {
                iteration: 7,
                reason: Divergence::NonFinite { row: 0, col: 0 }
            })
        ),
        "{err:?}"
    );
}

#[test]
fn transient_growth_of_a_convergent_map_is_not_divergence() {
    // Jordan block: spectral radius 0.95 but ‖A‖ > 1, steps grow ~7× before decaying.
    let a = DMatrix::from_row_slice(2, 2, &[0.95, 1.0, 0.0, 0.95]);
    let f = |x: &DVector<f64>| &a * x;
    let sol = banach(
        f,
        &DVector::from_vec(vec![0.0, 1.0]),
        &BanachOptions::default(),
    )
    .unwrap();
    assert!(sol.point.amax() < 1e-8);
}

#[test]
fn invalid_inputs_are_errors() {
    let id = |x: &DVector<f64>| x * 0.5;
    let opts = BanachOptions::default();
    let nan = DVector::from_vec(vec![0.0, f64::NAN]);
    assert!(matches!(banach(id, &nan, &opts), Err(Error::InvalidInput(m)) if m.contains("(0, 1)")));
    assert!(matches!(
        banach(id, &DVector::zeros(0), &opts),
        Err(Error::InvalidInput(_))
    ));
    let wrong_len = |_: &DVector<f64>| DVector::zeros(3);
    assert!(matches!(banach(wrong_len, &DVector::zeros(2), &opts),
        Err(Error::InvalidInput(m)) if m.contains("length 3")));
    let wrong_shape = |_: &DMatrix<f64>| DMatrix::zeros(2, 2);
    assert!(
        matches!(banach_batch(wrong_shape, &DMatrix::zeros(3, 2), &opts),
        Err(Error::InvalidInput(m)) if m.contains("2 × 2") && m.contains("3 × 2"))
    );
    assert!(matches!(
        banach_batch(|x: &DMatrix<f64>| x.clone(), &DMatrix::zeros(0, 2), &opts),
        Err(Error::InvalidInput(_))
    ));
    for c in [0.0, 1.0, 1.5, f64::NAN] {
        assert!(matches!(
            banach(id, &DVector::zeros(2), &BanachOptions::with_contraction(c)),
            Err(Error::InvalidInput(_))
        ));
    }
    let bad_tol = BanachOptions { tol: -1.0, ..opts };
    assert!(banach(id, &DVector::zeros(2), &bad_tol).is_err());
    let bad_depth = BanachOptions {
        acceleration: Acceleration::Anderson(AndersonOptions {
            depth: 0,
            ..Default::default()
        }),
        ..opts
    };
    assert!(banach(id, &DVector::zeros(2), &bad_depth).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// x ↦ A x + b with ‖A‖₂ = c: the true error is inside both bounds at every iteration.
    #[test]
    fn linear_contraction_error_is_inside_both_bounds(
        c in 0.01f64..0.99,
        d in 1usize..8,
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let a = random_contraction(d, c, &mut rng);
        let b = DVector::from_fn(d, |_, _| rng.random_range(-2.0..2.0));
        let x0 = DVector::from_fn(d, |_, _| rng.random_range(-2.0..2.0));
        let x_star = (DMatrix::identity(d, d) - &a).lu().solve(&b).unwrap();
        let mut inputs = Vec::new();
        let opts = BanachOptions { history: History::Full, max_iter: 5000, ..BanachOptions::with_contraction(c) };
        let sol = banach(|x: &DVector<f64>| { inputs.push(x.clone()); &a * x + &b }, &x0, &opts).unwrap();
        // inputs = x₀ … xₙ₋₁, history[k] = ‖xₖ₊₁ − xₖ‖; check iterates x₁ … xₙ.
        let mut iterates: Vec<DVector<f64>> = inputs[1..].to_vec();
        iterates.push(sol.point.clone());
        prop_assert_eq!(iterates.len(), sol.iterations);
        let slack = linear_slack(c, &x_star);
        for (k, x) in iterates.iter().enumerate() {
            let n = k + 1;
            let err = (x - &x_star).norm();
            let post = crate::a_posteriori_bound(c, sol.history[k]).unwrap();
            let prior = crate::a_priori_bound(c, n, sol.first_step).unwrap();
            prop_assert!(err <= post + slack, "n = {}: error {} > a-posteriori {}", n, err, post);
            prop_assert!(err <= prior + slack, "n = {}: error {} > a-priori {}", n, err, prior);
        }
        prop_assert!(sol.a_posteriori_bound.unwrap() <= 1e-10);
        prop_assert!(sol.iterations <= crate::iterations_needed(c, sol.first_step, 1e-10).unwrap() + 1);
    }
}

/// Iterations to tolerance 1e-10 on x ↦ A x + b (d = 50, A symmetric with eigenvalues evenly
/// spaced in [−c, c], so ‖A‖₂ = c), plain vs Anderson(m = 5, β = 1, λ = 1e-4), with the
/// measured error next to both bounds. Print with
/// `cargo test --release -p fixedpoint convergence_table -- --nocapture`.
#[test]
fn convergence_table() {
    let d = 50;
    let mut rng = StdRng::seed_from_u64(2024);
    println!(
        "{:>5} {:>9} {:>6} {:>13} {:>13} {:>13} {:>13}",
        "c", "method", "iters", "iters_needed", "error", "a_posteriori", "a_priori"
    );
    for c in [0.5, 0.9, 0.99] {
        let a = symmetric_contraction(d, c, &mut rng);
        let b = DVector::from_fn(d, |_, _| rng.random_range(-1.0..1.0));
        let x_star = (DMatrix::identity(d, d) - &a).lu().solve(&b).unwrap();
        let plain_opts = BanachOptions {
            max_iter: 10_000,
            ..BanachOptions::with_contraction(c)
        };
        let anderson_opts = BanachOptions {
            acceleration: Acceleration::Anderson(AndersonOptions::default()),
            ..plain_opts
        };
        for (name, opts) in [("plain", plain_opts), ("anderson", anderson_opts)] {
            let sol = banach(|x: &DVector<f64>| &a * x + &b, &DVector::zeros(d), &opts).unwrap();
            let err = (&sol.point - &x_star).norm();
            let post = sol.a_posteriori_bound.unwrap();
            let slack = linear_slack(c, &x_star);
            assert!(post <= 1e-10);
            assert!(
                err <= post + slack,
                "c = {c}, {name}: error {err:e} > a-posteriori {post:e}"
            );
            let needed = crate::iterations_needed(c, sol.first_step, 1e-10).unwrap();
            let prior = match sol.a_priori_bound {
                Some(prior) => {
                    assert!(
                        err <= prior + slack,
                        "c = {c}: error {err:e} > a-priori {prior:e}"
                    );
                    assert!(sol.iterations <= needed);
                    format!("{prior:13.3e}")
                }
                None => format!("{:>13}", "n/a"),
            };
            println!(
                "{c:>5} {name:>9} {:>6} {needed:>13} {err:>13.3e} {post:>13.3e} {prior}",
                sol.iterations
            );
        }
    }
}
