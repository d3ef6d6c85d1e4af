//! The diagnostics on samplers whose calibration is known: the exact posterior of a conjugate
//! Gaussian problem, and the same sampler made too narrow, too wide and shifted.

use super::*;
use crate::data::toy::LinearGaussian;
use crate::train::{CinnConfig, ConditionalInn};
use crate::{Flow, Model};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::StandardNormal;

/// `n` held-out pairs of the standard linear-Gaussian problem and `l` draws each of the exact
/// posterior, with every draw's deviation from the posterior mean scaled by `scale` and then
/// shifted by `shift` posterior standard deviations (per parameter); log-densities from the
/// exact posterior (their order is what the highest-density coverage needs). The pairs come from
/// `seed`, the draws from `draw_seed`.
fn gaussian_draws(
    n: usize,
    l: usize,
    scale: f64,
    shift: f64,
    seed: u64,
    draw_seed: u64,
) -> PosteriorDraws {
    let problem = LinearGaussian::standard();
    let (theta, y) = problem.simulate(n, &mut StdRng::seed_from_u64(seed));
    let mut rng = StdRng::seed_from_u64(draw_seed);
    let sd: Vec<f64> = problem
        .posterior_cov()
        .diagonal()
        .iter()
        .map(|v| v.sqrt())
        .collect();
    let mut draws = Vec::with_capacity(n);
    let mut log_draws = Vec::with_capacity(n);
    for i in 0..n {
        let yi: Vec<f64> = y.row(i).iter().copied().collect();
        let (mean, _) = problem.posterior(&yi).unwrap();
        let exact = problem.posterior_sample(&yi, l, &mut rng).unwrap();
        let d = DMatrix::from_fn(l, 5, |r, j| {
            mean[j] + scale * (exact[(r, j)] - mean[j]) + shift * sd[j]
        });
        let y_rep = DMatrix::from_fn(l, y.ncols(), |_, j| yi[j]);
        let lp = problem.posterior_log_prob(&d, &y_rep).unwrap();
        log_draws.push(lp.iter().copied().collect());
        draws.push(d);
    }
    let log_truth = problem.posterior_log_prob(&theta, &y).unwrap();
    PosteriorDraws::new(theta, draws)
        .unwrap()
        .with_log_density(log_truth.iter().copied().collect(), log_draws)
        .unwrap()
}

fn run(draws: &PosteriorDraws) -> Diagnostics {
    diagnose(
        draws,
        None,
        &DiagnosticsConfig::default(),
        &mut StdRng::seed_from_u64(11),
    )
    .unwrap()
}

fn kinds(d: &Diagnostics) -> Vec<VerdictKind> {
    d.verdicts.iter().map(|v| v.kind).collect()
}

#[test]
fn the_exact_posterior_passes_sbc_and_coverage() {
    let report = run(&gaussian_draws(400, 300, 1.0, 0.0, 1, 101));
    assert_eq!(
        kinds(&report),
        vec![VerdictKind::Calibrated; 5],
        "{report:#?}"
    );
    for s in &report.sbc {
        assert!(s.chi2_p > 0.001, "χ² p = {}", s.chi2_p);
        assert_eq!(s.ranks.len(), 400);
        assert!(s.ranks.iter().all(|&r| r <= 300));
    }
    // At most one of five parameters may leave a 95 % simultaneous band by chance.
    assert!(report.sbc.iter().filter(|s| s.outside_band).count() <= 1);
    let c = &report.coverage;
    assert!(c.central_largest_under_coverage < 0.08, "{c:?}");
    let hpd = c.hpd_largest_under_coverage.unwrap();
    assert!(hpd < 0.08, "{hpd}");
    // Exact posterior: z-scores have mean 0 and RMS 1; contraction matches 1 − Σ_jj/Var(x*_j).
    for r in &report.recovery {
        assert!(
            r.z_mean.abs() < 0.2 && (r.z_rms - 1.0).abs() < 0.12,
            "{} {}",
            r.z_mean,
            r.z_rms
        );
        assert!(
            r.r2 > 0.5 && r.mean_contraction > 0.5,
            "{} {}",
            r.r2,
            r.mean_contraction
        );
        assert_eq!(r.mean.len(), 400);
    }
}

#[test]
fn a_posterior_30_percent_too_narrow_is_overconfident() {
    let report = run(&gaussian_draws(400, 300, 0.7, 0.0, 2, 102));
    assert_eq!(
        kinds(&report),
        vec![VerdictKind::Overconfident; 5],
        "{report:#?}"
    );
    assert!(report.sbc.iter().all(|s| s.outside_band));
    // Central coverage at α = 0.5 is P(|Z| ≤ 0.7·0.674) = 0.36: under-coverage ≈ 0.14.
    assert!(report.coverage.central_largest_under_coverage > 0.1);
    assert!(report.coverage.hpd_largest_under_coverage.unwrap() > 0.2);
    assert!(report.recovery.iter().all(|r| r.z_rms > 1.25));
}

#[test]
fn a_posterior_30_percent_too_wide_is_underconfident() {
    let report = run(&gaussian_draws(400, 300, 1.3, 0.0, 3, 103));
    assert_eq!(
        kinds(&report),
        vec![VerdictKind::Underconfident; 5],
        "{report:#?}"
    );
    // Too wide regions over-cover at every level.
    assert!(report.coverage.central_largest_under_coverage < 0.02);
    assert!(report.recovery.iter().all(|r| r.z_rms < 0.85));
}

#[test]
fn a_posterior_shifted_by_half_a_standard_deviation_is_biased() {
    let report = run(&gaussian_draws(400, 300, 1.0, 0.5, 4, 104));
    assert_eq!(kinds(&report), vec![VerdictKind::Biased; 5], "{report:#?}");
    for (v, r) in report.verdicts.iter().zip(&report.recovery) {
        // Draws above the truth: the truth ranks low, E[u] = Φ(−0.5/√2) = 0.362.
        assert!(v.bias < -0.08 && r.z_mean > 0.3, "{} {}", v.bias, r.z_mean);
    }
}

/// The band holds the ECDF difference of uniform samples with about its nominal probability.
#[test]
fn the_ecdf_band_covers_uniform_samples_at_its_level() {
    let mut rng = StdRng::seed_from_u64(5);
    let n = 60;
    let band = ecdf_band(n, 100, 0.95, 2000, &mut rng).unwrap();
    assert_eq!(band.grid.len(), n - 1);
    assert!(band.gamma > 0.0 && band.gamma < 0.05, "{}", band.gamma);
    let trials = 1000;
    let mut outside = 0;
    for _ in 0..trials {
        let truth = DMatrix::from_fn(n, 1, |_, _| rng.random::<f64>());
        let draws = (0..n)
            .map(|_| DMatrix::from_fn(50, 1, |_, _| rng.random::<f64>()))
            .collect();
        let d = PosteriorDraws::new(truth, draws).unwrap();
        outside += usize::from(sbc(&d, &band, 20, &mut rng).unwrap()[0].outside_band);
    }
    let rate = outside as f64 / trials as f64;
    // Nominal 0.05; the binomial standard error of 1000 trials is 0.007.
    assert!((0.025..0.08).contains(&rate), "{rate}");
}

#[test]
fn bad_inputs_are_errors_naming_what_and_where() {
    let ok = || vec![DMatrix::<f64>::zeros(3, 2); 2];
    assert!(matches!(
        PosteriorDraws::new(DMatrix::zeros(0, 2), vec![]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        PosteriorDraws::new(DMatrix::zeros(2, 2), vec![DMatrix::zeros(0, 2); 2]),
        Err(Error::ShapeMismatch { rows: 0, .. })
    ));
    assert!(matches!(
        PosteriorDraws::new(
            DMatrix::zeros(2, 2),
            vec![DMatrix::zeros(3, 2), DMatrix::zeros(4, 2)]
        ),
        Err(Error::ShapeMismatch { rows: 4, .. })
    ));
    let mut truth = DMatrix::zeros(2, 2);
    truth[(1, 0)] = f64::NAN;
    let err = PosteriorDraws::new(truth, ok()).unwrap_err();
    assert!(err.to_string().contains("row 1, column 0"), "{err}");
    let mut draws = ok();
    draws[1][(2, 1)] = f64::INFINITY;
    let err = PosteriorDraws::new(DMatrix::zeros(2, 2), draws).unwrap_err();
    assert!(err.to_string().contains("row 2, column 1"), "{err}");
    let good = PosteriorDraws::new(DMatrix::zeros(2, 2), ok()).unwrap();
    assert!(
        good.clone()
            .with_log_density(vec![0.0; 2], vec![vec![0.0; 2]; 2])
            .is_err()
    );
    assert!(
        good.clone()
            .with_log_density(vec![0.0, f64::NAN], vec![vec![0.0; 3]; 2])
            .is_err()
    );
    assert!(recovery(&good, Some(&[1.0]), 0.9).is_err());
    assert!(recovery(&good, Some(&[1.0, -1.0]), 0.9).is_err());
    let one_draw =
        PosteriorDraws::new(DMatrix::zeros(2, 2), vec![DMatrix::zeros(1, 2); 2]).unwrap();
    assert!(recovery(&one_draw, None, 0.9).is_err());
    let mut rng = StdRng::seed_from_u64(0);
    assert!(ecdf_band(0, 100, 0.95, 10, &mut rng).is_err());
    assert!(ecdf_band(10, 100, 1.0, 10, &mut rng).is_err());
    let bad_levels = DiagnosticsConfig {
        levels: vec![0.5, 1.0],
        ..DiagnosticsConfig::default()
    };
    assert!(diagnose(&good, None, &bad_levels, &mut rng).is_err());
}

/// A model's posterior and log-densities feed the checks; a density model has no posterior.
#[test]
fn draws_come_from_any_model_with_a_posterior() {
    let mut rng = StdRng::seed_from_u64(6);
    let cinn = ConditionalInn::<f32>::new(
        CinnConfig {
            stack: crate::train::paper_stack().with_widths(2, &[8]),
            ..CinnConfig::default()
        },
        2,
        1,
        &mut rng,
    )
    .unwrap();
    let x = DMatrix::from_fn(7, 2, |_, _| rng.sample::<f32, _>(StandardNormal));
    let y = DMatrix::from_fn(7, 1, |i, _| x[(i, 0)] + x[(i, 1)]);
    let mut done = Vec::new();
    let d = PosteriorDraws::from_model(&cinn, &x, &y, 30, &mut rng, |k| done.push(k)).unwrap();
    assert_eq!((d.n_obs(), d.dim(), d.n_draws()), (7, 2, 30));
    assert!(d.has_log_density());
    assert_eq!(done.last(), Some(&7));
    let report = diagnose(&d, None, &DiagnosticsConfig::default(), &mut rng).unwrap();
    assert!(report.coverage.hpd.is_some());
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"verdicts\""));

    let flow = Flow::<f32>::coupling_stack(
        &bijectors::StackConfig::default().with_widths(1, &[4]),
        &mut rng,
    )
    .unwrap();
    let model: &dyn Model<f32> = &flow;
    let err = PosteriorDraws::from_model(model, &x, &y, 30, &mut rng, |_| {}).unwrap_err();
    assert!(err.to_string().contains("no posterior"), "{err}");
}

/// C2ST of exact draws against exact references finds nothing; against references shifted by
/// three posterior standard deviations it separates them.
#[test]
fn c2st_against_references_tells_shifted_draws_apart() {
    let exact = gaussian_draws(3, 300, 1.0, 0.0, 7, 107);
    let shifted = gaussian_draws(3, 300, 1.0, 3.0, 7, 107);
    let references = gaussian_draws(3, 300, 1.0, 0.0, 7, 8);
    // The same seed gives the same observations; the references are other draws for them.
    assert_eq!(exact.truth(), references.truth());
    let config = C2stConfig {
        max_epochs: 200,
        ..C2stConfig::default()
    };
    let mut rng = StdRng::seed_from_u64(9);
    let same =
        c2st_against_reference(&exact, references.draws(), &[0, 2], &config, &mut rng).unwrap();
    let apart =
        c2st_against_reference(&shifted, references.draws(), &[0], &config, &mut rng).unwrap();
    assert_eq!(same.len(), 2);
    assert!(same.iter().all(|r| r.accuracy < 0.62), "{same:?}");
    assert!(apart[0].accuracy > 0.9, "{apart:?}");
    assert!(c2st_against_reference(&exact, references.draws(), &[3], &config, &mut rng).is_err());
}
