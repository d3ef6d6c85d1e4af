//! The law checkers catch what they are meant to catch: a correct block passes, and a block
//! with one deliberate defect fails exactly the law that defect breaks.

use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Params, Var};
use bijectors::{Bijector, BlockSpec, Output};
use inn_tests::blocks::{BlockConfig, BlockKind, build};
use inn_tests::laws::{self, Direction};
use inn_tests::prec;
use inn_tests::strategies::{batch, block_config};
use proptest::prelude::*;

/// One deliberate defect.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Defect {
    /// The inverse returns its output shifted by 1e-6.
    InverseShifted,
    /// The inverse reports the forward's log-det sign (not its negative).
    InverseLogDetSign,
    /// The forward log-det is off by 1e-3.
    LogDetOffset,
    /// The forward output's gradient is cut (value kept, derivative zero).
    GradientDetached,
}

/// A correct block wrapped with one defect.
#[derive(Debug)]
struct Faulty {
    inner: Box<dyn Bijector<f64>>,
    defect: Defect,
}

impl Bijector<f64> for Faulty {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, f64>,
        x: Var<'t, f64>,
        cond: Option<Var<'t, f64>>,
    ) -> bijectors::Result<Output<'t, f64>> {
        let (y, ld) = self.inner.forward_with(p, x, cond)?;
        Ok(match self.defect {
            Defect::LogDetOffset => (y, ld.add_scalar(1e-3)),
            Defect::GradientDetached => (y.detach(), ld),
            _ => (y, ld),
        })
    }

    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, f64>,
        y: Var<'t, f64>,
        cond: Option<Var<'t, f64>>,
    ) -> bijectors::Result<Output<'t, f64>> {
        let (x, ld) = self.inner.inverse_with(p, y, cond)?;
        Ok(match self.defect {
            Defect::InverseShifted => (x.add_scalar(1e-6), ld),
            Defect::InverseLogDetSign => (x, ld.neg()),
            _ => (x, ld),
        })
    }

    fn spec(&self) -> bijectors::Result<BlockSpec> {
        self.inner.spec()
    }

    fn cond_dim(&self) -> usize {
        self.inner.cond_dim()
    }
}

fn faulty(config: &BlockConfig, dim: usize, defect: Defect) -> (Faulty, Params<f64>) {
    let built = build(config, dim, 0).expect("valid configuration");
    (
        Faulty {
            inner: built.block,
            defect,
        },
        built.params,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Each defect of a RealNVP block (log-det nonzero and input dependent, so every law has
    /// something to see) is caught by its law, while the other laws still pass.
    #[test]
    fn each_defect_fails_its_law(
        config in block_config(BlockKind::RealNvp, true),
        x in (2usize..=6).prop_flat_map(|d| batch(1..=4, d, prec::GRAD_MIN_EXP, prec::GRAD_MAX_EXP)),
    ) {
        let dim = x.ncols();
        let check = |defect: Defect| {
            let (block, params) = faulty(&config, dim, defect);
            (
                laws::round_trip(&block, &params, &x, None).is_ok(),
                laws::inverse_log_det(&block, &params, &x, None).is_ok(),
                laws::log_det_matches_jacobian(&block, &params, &x, None).is_ok(),
                laws::input_gradient(&block, &params, &x, None, Direction::Forward).is_ok(),
            )
        };
        prop_assert_eq!(check(Defect::InverseShifted), (false, true, true, true));
        prop_assert_eq!(check(Defect::LogDetOffset), (true, false, false, true));
        // A RealNVP log-det of random weights is never within 5e-10 of 0, so the flipped sign
        // shows.
        prop_assert_eq!(check(Defect::InverseLogDetSign), (true, false, true, true));
        prop_assert!(!check(Defect::GradientDetached).3);
    }
}

/// The numerical Jacobian is exact on a linear map and its log-determinant agrees with the
/// closed form.
#[test]
fn numerical_jacobian_of_a_linear_map() {
    let a = DMatrix::from_row_slice(3, 3, &[2.0, 0.5, 0.0, -1.0, 1.5, 0.3, 0.2, 0.0, 0.7]);
    let x = DMatrix::from_row_slice(2, 3, &[0.1, -2.0, 300.0, 1e-3, 5.0, -7.0]);
    let jac = laws::numerical_jacobians(|p| Ok(p * a.transpose()), &x, prec::FD_STEP).unwrap();
    for j in &jac {
        assert!((j - &a).abs().max() < 1e-9, "{j} vs {a}");
        assert!((laws::log_abs_det(j) - a.determinant().abs().ln()).abs() < 1e-10);
    }
}

/// `f(x) = [x₀·exp(tanh(3·x₁)), x₁ + sin(x₀)/10 + x₀·tanh(x₁)/100]` and its Jacobian in closed
/// form: a map whose first output bends on the scale of `x₁` with an amplitude of `|x₀|`, the
/// case where a fixed finite-difference step fails.
fn bending_map(x: &DMatrix<f64>) -> (DMatrix<f64>, Vec<DMatrix<f64>>) {
    let y = DMatrix::from_fn(x.nrows(), 2, |i, r| {
        let (a, b) = (x[(i, 0)], x[(i, 1)]);
        match r {
            0 => a * (3.0 * b).tanh().exp(),
            _ => b + a.sin() / 10.0 + a * b.tanh() / 100.0,
        }
    });
    let jac = (0..x.nrows())
        .map(|i| {
            let (a, b) = (x[(i, 0)], x[(i, 1)]);
            let (t3, t1) = ((3.0 * b).tanh(), b.tanh());
            DMatrix::from_row_slice(
                2,
                2,
                &[
                    t3.exp(),
                    a * t3.exp() * 3.0 * (1.0 - t3 * t3),
                    a.cos() / 10.0 + t1 / 100.0,
                    1.0 + a * (1.0 - t1 * t1) / 100.0,
                ],
            )
        })
        .collect();
    (y, jac)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The numerical Jacobian's error estimate, times [`prec::FD_SAFETY`], covers its actual
    /// error on a map with large curvature, entry by entry, and so does the propagated log-det
    /// uncertainty the log-det's.
    #[test]
    fn numerical_jacobian_error_estimate_is_honest(
        a in prop_oneof![-1e5f64..=-1.0, 1.0f64..=1e5],
        b in -1.5f64..=1.5,
    ) {
        let x = DMatrix::from_row_slice(1, 2, &[a, b]);
        let (_, exact) = bending_map(&x);
        let num = laws::numerical_jacobians_with_error(|p| Ok(bending_map(p).0), &x, prec::FD_STEP)
            .map_err(TestCaseError::fail)?;
        let (j, e) = (&num[0].value, &num[0].error);
        for r in 0..2 {
            for c in 0..2 {
                // Below 1e-10 relative the estimate is not asked to be right: its rounding
                // floor sees |f(x ± h)|, not the larger terms f cancels down to it (a = −114,
                // b = 0.6 gave 3.7e-13 against an estimate of 1.3e-13). The law it serves
                // tolerates 1e-5.
                let truth = exact[0][(r, c)];
                let actual = (j[(r, c)] - truth).abs();
                let limit = prec::FD_SAFETY * e[(r, c)] + 1e-10 * (1.0 + truth.abs());
                prop_assert!(actual <= limit, "entry ({r}, {c}): error {actual:e} > {limit:e} (estimate {:e})", e[(r, c)]);
            }
        }
        let (ld, delta) = num[0].log_abs_det_with_error();
        let truth = laws::log_abs_det(&exact[0]);
        prop_assert!((ld - truth).abs() <= prec::FD_SAFETY * delta + 1e-12 * (1.0 + truth.abs()),
            "log-det {ld} vs {truth}, δ = {delta:e}");
    }
}

/// The gradient laws' re-examination of a missed entry accepts a correct derivative next to a
/// kink closer than the fixed step (what a spline's log-det does where a knot crosses the
/// input) and one drowned in rounding at that step, and still rejects a derivative that is
/// wrong by 1e-4 of its size in both situations.
#[test]
fn numeric_derivative_sees_through_kinks_and_rounding_but_not_errors() {
    let x0 = 0.3f64;
    let h = prec::grad_check_options().step;
    let fixed_step = |f: &dyn Fn(f64) -> f64| {
        let central = |s: f64| (f(x0 + s) - f(x0 - s)) / (2.0 * s);
        (4.0 * central(h / 2.0) - central(h)) / 3.0
    };
    // A kink 5e-6 to the right: the slope jumps by 0.6 there; reverse mode gives the left one.
    let kinked = |x: f64| x * x + 0.6 * (x - x0 - 5e-6).max(0.0);
    let left = 2.0 * x0;
    assert!(
        (fixed_step(&kinked) - left).abs() > 1e-2,
        "the fixed step must miss"
    );
    let judge = |a: f64, f: &dyn Fn(f64) -> f64| {
        laws::numeric_derivative(a, x0, 0.0, |x| Ok(f(x))).expect("evaluations succeed")
    };
    assert!(judge(left, &kinked).is_ok());
    assert!(judge(left * (1.0 + 1e-4), &kinked).is_err());

    // Rounding noise of 1e-8 per evaluation (a pseudo-random function of the point): the
    // fixed step's quotient scatters by ~1e-3, the ladder's wide rungs average it out.
    let noisy = |x: f64| 100.0 * x.sin() + 1e-8 * ((x * 1e9).sin() * 43_758.545_3).fract();
    let truth = 100.0 * x0.cos();
    let miss = (fixed_step(&noisy) - truth).abs();
    assert!(
        miss > 1e-6 + 1e-5 * truth.abs(),
        "the fixed step must miss: {miss:e}"
    );
    assert!(judge(truth, &noisy).is_ok());
    assert!(judge(truth * (1.0 + 1e-4), &noisy).is_err());
}
