//! Generalisation on problems with a known answer, at 10³ training rows (the fast end of
//! `cargo xtask quality`): models are scored on rows they never saw, against the exact
//! posterior or density, and the held-out model selection is what keeps them there.

use inn::Flow;
use inn::autodiff::nalgebra::DMatrix;
use inn::autodiff::nn::Activation;
use inn::bijectors::{StackConfig, SubnetConfig};
use inn::data::toy::{LinearGaussian, MixtureDensity, pixel_images};
use inn::eval::{C2stConfig, c2st};
use inn::train::{
    CinnConfig, ConditionalInn, MaximumLikelihood, MleConfig, OptimConfig, StopReason, TrainReport,
    mean_nll, paper_stack,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Mean of a column of log-densities, negated (nats per row).
fn nll(log_p: &DMatrix<f64>) -> f64 {
    -log_p.mean()
}

/// A flow of the command line's shape (4 RealNVP blocks with ActNorm, tanh subnets `hidden`,
/// last layers zeroed) fitted to `data` by maximum likelihood with the library's defaults
/// (validated once per epoch, patience 20, best parameters kept), `val_fraction` held out and
/// at most `steps` steps.
fn fit_tanh_flow(
    data: &DMatrix<f64>,
    hidden: &[usize],
    steps: usize,
    val_fraction: f64,
    rng: &mut StdRng,
) -> (Flow<f64>, TrainReport) {
    let stack = StackConfig {
        subnet: SubnetConfig {
            hidden: hidden.to_vec(),
            activation: Activation::Tanh,
            zero_last: true,
            ..SubnetConfig::default()
        },
        dim: data.ncols(),
        blocks: 4,
        actnorm: true,
        ..StackConfig::default()
    };
    let mut flow = Flow::<f64>::coupling_stack(&stack, rng).unwrap();
    let config = MleConfig {
        optim: OptimConfig {
            steps,
            val_fraction,
            progress: false,
            ..OptimConfig::default()
        },
        batch_size: 256,
        data_init: true,
    };
    let report = MaximumLikelihood::new(config)
        .fit(&mut flow, data, rng, None)
        .unwrap();
    (flow, report)
}

/// A cINN of the command line's shape (tanh subnets), smaller, with the library's training
/// defaults (10% held out, validated once per epoch, patience 20, best parameters kept) and a
/// cap.
fn cinn(x_dim: usize, y_dim: usize, optim: OptimConfig, seed: u64) -> ConditionalInn<f64> {
    let config = CinnConfig {
        stack: StackConfig {
            blocks: 4,
            subnet: SubnetConfig {
                hidden: vec![64, 64],
                activation: Activation::Tanh,
                ..paper_stack().subnet
            },
            ..paper_stack()
        },
        batch_size: 256,
        optim: OptimConfig {
            progress: false,
            ..optim
        },
        ..CinnConfig::default()
    };
    ConditionalInn::new(config, x_dim, y_dim, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// The linear-Gaussian inverse problem with 1000 simulations: the model kept by held-out
/// selection scores close to the exact posterior on fresh pairs and its posterior samples are
/// hard to tell from exact ones; the same network trained to the cap without selection is
/// measurably worse on the fresh pairs although better on its training rows.
#[test]
fn linear_gaussian_cinn_keeps_the_model_that_generalises() {
    let problem = LinearGaussian::standard();
    let mut rng = StdRng::seed_from_u64(1);
    let (theta, y) = problem.simulate(1000, &mut rng);
    let (test_theta, test_y) = problem.simulate(4000, &mut rng);
    let exact = nll(&problem.posterior_log_prob(&test_theta, &test_y).unwrap());

    let defaults = CinnConfig::default().optim;
    let mut selected = cinn(
        5,
        8,
        OptimConfig {
            steps: 4000,
            ..defaults.clone()
        },
        2,
    );
    let report = selected.fit(&theta, &y, &mut rng).unwrap();
    let gap = nll(&selected.log_prob(&test_theta, &test_y).unwrap()) - exact;

    let mut capped = cinn(
        5,
        8,
        OptimConfig {
            steps: 4000,
            patience: None,
            plateau: None,
            keep_best: false,
            ..defaults
        },
        2,
    );
    capped
        .fit(&theta, &y, &mut StdRng::seed_from_u64(1))
        .unwrap();
    let capped_gap = nll(&capped.log_prob(&test_theta, &test_y).unwrap()) - exact;

    let y0: Vec<f64> = test_y.row(0).iter().copied().collect();
    let obs = test_y.rows(0, 1).into_owned();
    let draws = selected.posterior(&obs, 1000, &mut rng).unwrap().remove(0);
    let reference = problem.posterior_sample(&y0, 1000, &mut rng).unwrap();
    let accuracy = c2st(&reference, &draws, &C2stConfig::default(), &mut rng)
        .unwrap()
        .accuracy;
    eprintln!(
        "linear-Gaussian, 10³ rows: selected gap {gap:.3} nats (stop {}, kept step {:?} of {}), \
         capped gap {capped_gap:.3}, C2ST {accuracy:.3}",
        report.stop,
        report.kept.map(|k| k.step),
        report.steps()
    );
    assert_eq!(report.stop, StopReason::Patience);
    assert!(gap < 0.5, "selected model: NLL gap {gap}");
    assert!(
        capped_gap > gap + 0.3,
        "capped {capped_gap} vs selected {gap}"
    );
    assert!(accuracy < 0.7, "C2ST accuracy {accuracy}");
}

/// A flow fitted to 1000 draws of the 4-D mixture: held-out NLL near the exact density's.
#[test]
fn mixture_flow_scores_near_the_exact_density() {
    let density = MixtureDensity::standard();
    let mut rng = StdRng::seed_from_u64(3);
    let data = density.sample(1000, &mut rng);
    let test = density.sample(4000, &mut rng);
    let exact = nll(&density.log_prob(&test).unwrap());
    let (flow, report) = fit_tanh_flow(&data, &[64, 64], 4000, 0.1, &mut rng);
    let gap = mean_nll(&flow, &test).unwrap() - exact;
    let samples = flow.sample(1000, &mut rng).unwrap();
    let reference = density.sample(1000, &mut rng);
    let accuracy = c2st(&reference, &samples, &C2stConfig::default(), &mut rng)
        .unwrap()
        .accuracy;
    eprintln!(
        "mixture, 10³ rows: gap {gap:.3} nats (stop {}, kept step {:?} of {}), C2ST {accuracy:.3}",
        report.stop,
        report.kept.map(|k| k.step),
        report.steps()
    );
    // Without model selection this flow's gap is tens of nats (`cargo xtask quality`).
    assert!(gap < 0.75, "NLL gap {gap}");
    assert!(accuracy < 0.8, "C2ST accuracy {accuracy}");
}

/// The scenario at test size: a large flow on a few hundred 64-column image rows
/// whose border pixels are nearly constant. The kept model's NLL on fresh rows is within a
/// few nats of its held-out NLL and better than a diagonal Gaussian fitted to the same rows.
#[test]
fn a_large_flow_on_a_small_image_table_keeps_its_held_out_quality() {
    let mut rng = StdRng::seed_from_u64(5);
    let table = pixel_images(700, &mut rng);
    let test = pixel_images(1000, &mut rng);
    // Standardise with the whole table's statistics, as the command line does with its
    // training rows' (the diagonal Gaussian is then N(0, I) on the standardised rows).
    let mean = table.row_mean();
    let std = table.row_variance().map(f64::sqrt);
    let standardise = |m: &DMatrix<f64>| {
        DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| (m[(i, j)] - mean[j]) / std[j])
    };
    let (data, test) = (standardise(&table), standardise(&test));
    let (flow, report) = fit_tanh_flow(&data, &[128, 128], 2000, 0.25, &mut rng);
    let kept = report.kept.unwrap();
    let test_nll = mean_nll(&flow, &test).unwrap();
    let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let diagonal = 64.0 * half_ln_2pi + 0.5 * test.map(|v| v * v).sum() / test.nrows() as f64;
    eprintln!(
        "pixels, 525 training rows: test NLL {test_nll:.2}, kept validation {:.2} (step {} of {}, \
         training rows {:.2}), diagonal Gaussian {diagonal:.2}",
        kept.validation,
        kept.step + 1,
        report.steps(),
        kept.train
    );
    assert_eq!(report.stop, StopReason::Patience);
    assert!((test_nll - kept.validation).abs() < 5.0);
    assert!(test_nll < diagonal);
}
