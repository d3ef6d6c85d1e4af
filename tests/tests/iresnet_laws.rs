//! i-ResNet's own laws: the round trip within the Banach bound the block reports, the exact
//! log-det against the numerical Jacobian (also in `bijector_laws`), and the power-series
//! log-det within its stated truncation bound on d = 16.

use autodiff::nalgebra::DMatrix;
use autodiff::{Params, Tape};
use bijectors::{Bijector, IResNet, LogDet, inverse_rounding_floor, series_truncation_bound};
use inn_tests::blocks::{BlockKind, build_iresnet};
use inn_tests::laws;
use inn_tests::prec;
use inn_tests::strategies::{BlockCase, batch, block_case, block_config};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Width of the series law (the size where the block switches to the series by default).
const SERIES_DIM: usize = 16;

fn built(case: &BlockCase, log_det: LogDet) -> Result<(IResNet, Params<f64>), TestCaseError> {
    build_iresnet(&case.configs[0], case.dim, log_det)
        .map_err(|e| TestCaseError::fail(format!("building: {e}")))
}

/// `Σ_{k=1}^{n} (−1)^{k+1} tr(Jᵏ)/k` and the standard deviation of its Hutchinson estimate with
/// one Rademacher probe shared by all terms: for `M = Σ (−1)^{k+1} Jᵏ/k` and `S = (M + Mᵀ)/2`,
/// `Var(zᵀMz) = 2 (‖S‖_F² − Σ S_ii²)`.
fn truncated_series(jg: &DMatrix<f64>, terms: usize) -> (f64, f64) {
    let d = jg.nrows();
    let mut power = DMatrix::<f64>::identity(d, d);
    let mut m = DMatrix::<f64>::zeros(d, d);
    for k in 1..=terms {
        power = &power * jg;
        let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
        m += &power * (sign / k as f64);
    }
    let s = (&m + m.transpose()) * 0.5;
    let var = 2.0 * (s.norm_squared() - s.diagonal().norm_squared());
    (m.trace(), var.max(0.0).sqrt())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `‖x − f⁻¹(f(x))‖∞ ≤ error_bound + IRESNET_ROUNDING_ULPS · ε · (1 + ‖x‖∞) / (1 − L)`,
    /// with the error bound and L from the block's own inversion report, on batches spanning
    /// 1e-3 to 1e3 and any admissible activation; and the certified bound meets the block's
    /// default tolerance 1e-10 (or its documented rounding floor, for large outputs).
    #[test]
    fn iresnet_round_trip_is_within_its_banach_bound(
        case in block_case(BlockKind::IResNet, false, prec::MIN_EXP, prec::MAX_EXP)
    ) {
        let (block, params) = built(&case, LogDet::Exact)?;
        let ratio = laws::iresnet_round_trip(&block, &params, &case.x).map_err(TestCaseError::fail)?;
        prop_assert!(ratio <= 1.0);
        let report = block.last_inversion().ok_or_else(|| TestCaseError::fail("no inversion report"))?;
        prop_assert!(report.lipschitz < 1.0, "Lipschitz bound {} with c = {}", report.lipschitz, case.configs[0].coeff);
        // The default tolerance 1e-10, or the documented rounding floor for large outputs.
        let (y, _) = block.forward_matrix(&params, &case.x).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let tol = 1e-10f64.max(inverse_rounding_floor(report.lipschitz, f64::EPSILON, y.amax()));
        prop_assert!(report.error_bound <= tol, "a-posteriori bound {} above the tolerance {tol}", report.error_bound);
    }

    /// The exact log-det equals ln|det| of the numerical Jacobian for every width 1..16.
    #[test]
    fn iresnet_exact_log_det_matches_jacobian(
        case in block_case(BlockKind::IResNet, true, prec::MIN_EXP, prec::MAX_EXP)
    ) {
        let (block, params) = built(&case, LogDet::Exact)?;
        laws::log_det_matches_jacobian(&block, &params, &case.x, None).map_err(TestCaseError::fail)?;
    }

    /// On d = 16: (a) the exact log-det and the exact n-term truncated series (from the
    /// numerical Jacobian of g) differ by at most `series_truncation_bound(16, L, n)`; (b) the
    /// block's Hutchinson estimate of that series with 64 probes lies within 6 of its exactly
    /// computed standard deviations of it; so (c) the series log-det is within the stated
    /// truncation bound of the exact one, up to the estimator's spread.
    #[test]
    fn iresnet_series_log_det_is_within_its_truncation_bound(
        config in block_config(BlockKind::IResNet, true),
        x in batch(1..=4, SERIES_DIM, -2.0, 1.0),
        terms in 1usize..=20,
        probe_seed in any::<u64>(),
    ) {
        let case = BlockCase { configs: vec![config], dim: SERIES_DIM, cond_dim: 0, x, cond: None };
        let (block, params) = built(&case, LogDet::Exact)?;
        let lip = block.lipschitz_bound(&params).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (_, exact) = block.forward_matrix(&params, &case.x).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let jacobians = laws::numerical_jacobians(
            |probes| block.forward_matrix(&params, probes).map(|r| r.0).map_err(|e| e.to_string()),
            &case.x,
            prec::FD_STEP,
        ).map_err(TestCaseError::fail)?;
        let estimate = {
            let tape = Tape::no_grad();
            let p = params.bind(&tape);
            let mut rng = StdRng::seed_from_u64(probe_seed);
            let method = LogDet::Series { terms, probes: prec::HUTCHINSON_PROBES };
            block.log_det_with(&p, tape.constant(case.x.clone()), method, &mut rng)
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .to_matrix()
        };
        let truncation = series_truncation_bound(SERIES_DIM, lip, terms);
        for (i, jac) in jacobians.iter().enumerate() {
            let jg = jac - DMatrix::<f64>::identity(SERIES_DIM, SERIES_DIM);
            let (series, sigma) = truncated_series(&jg, terms);
            let slack = prec::SERIES_JACOBIAN_SLACK * (1.0 + exact[i].abs());
            prop_assert!(
                (exact[i] - series).abs() <= truncation + slack,
                "sample {i}: exact {:e}, {terms}-term series {series:e}, truncation bound {truncation:e} (L = {lip})",
                exact[i]
            );
            let spread = prec::HUTCHINSON_SIGMAS * sigma / (prec::HUTCHINSON_PROBES as f64).sqrt();
            prop_assert!(
                (estimate[i] - series).abs() <= spread + slack,
                "sample {i}: Hutchinson estimate {:e}, series {series:e}, allowed spread {spread:e}",
                estimate[i]
            );
            prop_assert!((estimate[i] - exact[i]).abs() <= truncation + spread + 2.0 * slack);
        }
    }
}

/// The series log-det law is not vacuous: with few terms and a large Lipschitz constant the
/// truncation bound is the size of the gap it bounds.
#[test]
fn truncation_bound_is_attained_in_order_of_magnitude() {
    // g(x) = c·x (a scalar contraction): ln(1 + c) against its n-term series; the bound for
    // d = 1 is Σ_{k>n} cᵏ/k and the true gap is the alternating tail, of the same order.
    let c: f64 = 0.9;
    for terms in [1usize, 2, 5, 10] {
        let series: f64 = (1..=terms)
            .map(|k| if k % 2 == 1 { 1.0 } else { -1.0 } * c.powi(k as i32) / k as f64)
            .sum();
        let gap = ((1.0 + c).ln() - series).abs();
        let bound = series_truncation_bound(1, c, terms);
        assert!(gap <= bound, "n = {terms}: gap {gap} > bound {bound}");
        assert!(
            gap >= 0.05 * bound,
            "n = {terms}: gap {gap} ≪ bound {bound}"
        );
    }
}
