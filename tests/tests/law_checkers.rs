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

    fn forward_with<'t>(
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

    fn inverse_with<'t>(
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
