//! The cINN with a summary network `h(y)` ([`CinnConfig::summary`]): training reaches `h`,
//! files keep it, and a deep set's posterior ignores the order of the set.

use super::*;
use crate::param_check::assert_param_gradients;
use crate::summary::SummaryKind;
use autodiff::nn::Activation;
use bijectors::SubnetConfig;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Sets of 6 scalar draws (or a 6-bin signal) per observation.
const Y_DIM: usize = 6;

fn summaries() -> Vec<SummaryConfig> {
    let small = |kind| SummaryConfig {
        kind,
        out_dim: 3,
        activation: Activation::Tanh,
        init: None,
    };
    vec![
        small(SummaryKind::Mlp { hidden: vec![8] }),
        small(SummaryKind::DeepSet {
            set_size: Y_DIM,
            elem_dim: 1,
            phi_hidden: vec![8],
            max_pool: true,
            rho_hidden: vec![8],
        }),
        small(SummaryKind::Conv1d {
            length: Y_DIM,
            in_channels: 1,
            channels: vec![4],
            kernel: 3,
            stride: 1,
            position_channel: true,
        }),
    ]
}

fn config(summary: Option<SummaryConfig>, steps: usize) -> CinnConfig {
    CinnConfig {
        stack: StackConfig {
            blocks: 2,
            subnet: SubnetConfig {
                hidden: vec![8],
                activation: Activation::Tanh,
                ..paper_stack().subnet
            },
            ..paper_stack()
        },
        batch_size: 16,
        optim: OptimConfig {
            progress: false,
            val_fraction: 0.25,
            ..paper_optim(steps)
        },
        summary,
        ..CinnConfig::default()
    }
}

/// `x = (μ, ln σ)`, `y` = `Y_DIM` draws of N(μ, σ²).
fn data(n: usize, seed: u64) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = standard_normal::<f64, _>(n, 2, &mut rng).map(|v| 0.5 * v);
    let eps = standard_normal::<f64, _>(n, Y_DIM, &mut rng);
    let y = DMatrix::from_fn(n, Y_DIM, |i, j| x[(i, 0)] + x[(i, 1)].exp() * eps[(i, j)]);
    (x, y)
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("inn-cinn-summary-{}-{name}", std::process::id()))
}

/// Every kind builds under `summary.*`, conditions the couplings on `out_dim` columns, trains
/// (with validation), and a saved and loaded model gives the same densities and, from the same
/// seed, the same posterior samples, in both containers.
#[test]
fn every_kind_trains_saves_and_loads() {
    let (x, y) = data(64, 1);
    for summary in summaries() {
        let kind = summary.kind_name();
        let mut rng = StdRng::seed_from_u64(2);
        let mut model =
            ConditionalInn::<f64>::new(config(Some(summary), 4), 2, Y_DIM, &mut rng).unwrap();
        assert_eq!((model.cond_dim(), model.y_dim()), (3, Y_DIM), "{kind}");
        assert_eq!(model.config().stack.cond_dim, 3);
        assert_eq!(model.summary().unwrap().in_dim(), Y_DIM);
        assert!(
            model
                .params()
                .iter()
                .any(|(_, name, _)| name.starts_with("summary.")),
            "{kind}"
        );
        let report = model.fit(&x, &y, &mut rng).unwrap();
        assert!(report.final_loss(2).is_finite(), "{kind}");
        let lp = model.log_prob(&x, &y).unwrap();
        assert_eq!(lp.shape(), (64, 1));
        // The network's own density, given the summarised condition, is the model's.
        let c = model.condition(&y).unwrap();
        assert_eq!(c.shape(), (64, 3));
        assert_eq!(model.net.log_prob(&x, Some(&c)).unwrap(), lp);
        let obs = y.rows(0, 3).into_owned();
        let draws = model
            .posterior(&obs, 5, &mut StdRng::seed_from_u64(7))
            .unwrap();
        assert_eq!((draws.len(), draws[2].shape()), (3, (5, 2)));
        for ext in ["inn", "json"] {
            let path = temp(&format!("{kind}.{ext}"));
            model.save(&path).unwrap();
            let loaded = ConditionalInn::<f64>::load(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert_eq!(loaded.config(), model.config(), "{kind} {ext}");
            assert_eq!(loaded.summary(), model.summary());
            assert_eq!(loaded.log_prob(&x, &y).unwrap(), lp, "{kind} {ext}");
            let again = loaded
                .posterior(&obs, 5, &mut StdRng::seed_from_u64(7))
                .unwrap();
            assert_eq!(again, draws, "{kind} {ext}");
            // The model trait goes through the summary too.
            let any = crate::load_model::<f64>({
                loaded.save(&path).unwrap();
                &path
            })
            .unwrap();
            std::fs::remove_file(&path).unwrap();
            assert_eq!(any.log_density(&x, Some(&y)).unwrap().unwrap(), lp);
            let via_trait = any
                .posterior(&obs, 5, &mut StdRng::seed_from_u64(7))
                .unwrap()
                .unwrap();
            assert_eq!(via_trait, draws);
        }
    }
}

/// The loss is differentiated through every coupling into `h`: its analytic gradient matches
/// central differences for the summary's parameters, and a few fit steps move them.
#[test]
fn gradients_reach_the_summary_network() {
    let (x, y) = data(24, 3);
    let summary = summaries().swap_remove(1);
    let mut model = ConditionalInn::<f64>::new(
        config(Some(summary), 5),
        2,
        Y_DIM,
        &mut StdRng::seed_from_u64(4),
    )
    .unwrap();
    let objective = CinnObjective {
        flow: model.bijector(),
        summary: model.summary(),
        y_noise: 0.0,
        y_dim: Y_DIM,
        val: None,
        probe: (x.clone(), y.clone()),
    };
    let loss_at = |params: &Params<f64>| objective.mean_nll(params, &x, &y).unwrap();
    let tape = Tape::new();
    let p = model.params().bind(&tape);
    let data = [x.clone(), y.clone()];
    let batch = Minibatch {
        data: &data,
        step: 0,
        part: autodiff::train::Part::WHOLE,
    };
    let loss = objective.loss(&tape, &p, &batch).unwrap();
    let analytic = p.gradients(&mut tape.backward(loss).unwrap());
    let checked = assert_param_gradients(model.params(), &analytic, loss_at, |name| {
        name.starts_with("summary.")
    });
    assert!(checked > 50, "{checked}");
    drop(objective);
    let before = model.params().clone();
    model
        .fit_with_validation(&x, &y, None, &mut StdRng::seed_from_u64(5))
        .unwrap();
    for (id, name, value) in model.params().iter() {
        if name.starts_with("summary.") {
            assert_ne!(value, before.get(id), "{name} did not move");
        }
    }
}

/// A deep-set cINN's posterior does not depend on the order of the set: the same seed gives
/// the same samples for a permuted `y` (up to the rounding of the pooled sums).
#[test]
fn deep_set_posterior_is_permutation_invariant() {
    let (x, y) = data(64, 6);
    let summary = summaries().swap_remove(1);
    let mut rng = StdRng::seed_from_u64(8);
    let mut model =
        ConditionalInn::<f64>::new(config(Some(summary), 3), 2, Y_DIM, &mut rng).unwrap();
    model.fit(&x, &y, &mut rng).unwrap();
    let obs = y.rows(0, 4).into_owned();
    let order = [3, 0, 5, 1, 4, 2];
    let permuted = DMatrix::from_fn(4, Y_DIM, |i, j| obs[(i, order[j])]);
    assert_ne!(permuted, obs);
    let a = model
        .posterior(&obs, 50, &mut StdRng::seed_from_u64(9))
        .unwrap();
    let b = model
        .posterior(&permuted, 50, &mut StdRng::seed_from_u64(9))
        .unwrap();
    for (a, b) in a.iter().zip(&b) {
        assert!((a - b).abs().max() < 1e-10, "{a} vs {b}");
    }
    let lp = |y: &DMatrix<f64>| model.log_prob(&x.rows(0, 4).into_owned(), y).unwrap();
    assert!((lp(&obs) - lp(&permuted)).abs().max() < 1e-10);
    // The MLP summary has no such symmetry.
    let mut mlp = ConditionalInn::<f64>::new(
        config(Some(summaries().swap_remove(0)), 3),
        2,
        Y_DIM,
        &mut rng,
    )
    .unwrap();
    mlp.fit(&x, &y, &mut rng).unwrap();
    let a = mlp
        .posterior(&obs, 50, &mut StdRng::seed_from_u64(9))
        .unwrap();
    let b = mlp
        .posterior(&permuted, 50, &mut StdRng::seed_from_u64(9))
        .unwrap();
    assert!((&a[0] - &b[0]).abs().max() > 1e-6);
}

/// Files and configurations without a summary read as raw-`y` models; summaries that do not
/// fit `y`, and files whose summary was tampered with, are refused.
#[test]
fn configurations_and_files_are_checked() {
    let mut json = serde_json::to_value(config(None, 1)).unwrap();
    assert!(json.get("summary").is_none(), "None is not written");
    json.as_object_mut().unwrap().remove("summary");
    let read: CinnConfig = serde_json::from_value(json).unwrap();
    assert_eq!(read.summary, None);
    let mut rng = StdRng::seed_from_u64(0);
    let wrong = SummaryConfig::deep_set(4, 1); // 4 columns, y has 6
    assert!(matches!(
        ConditionalInn::<f64>::new(config(Some(wrong), 1), 2, Y_DIM, &mut rng),
        Err(Error::Config(_))
    ));
    // A saved model whose description lost its summary network is refused.
    let model =
        ConditionalInn::<f64>::new(config(summaries().pop(), 1), 2, Y_DIM, &mut rng).unwrap();
    let path = temp("tampered.inn");
    let description = CinnModel {
        config: model.config().clone(),
        x_dim: 2,
        y_dim: Y_DIM,
        summary: None,
    };
    model
        .net
        .save(&path, ConditionalInn::<f64>::KIND, &description)
        .unwrap();
    let err = ConditionalInn::<f64>::load(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains("summary"), "{err}");
}
