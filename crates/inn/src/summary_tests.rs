//! Tests of the summary networks: parameter and input gradients against central differences,
//! permutation invariance of the deep set, the convolution against its definition, shape
//! errors and the serde round trip.

use super::*;
use autodiff::{GradCheckOptions, grad_check_params};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// A batch `n × cols` with entries in about [−1.5, 1.5], scrambled by `seed`.
fn batch(n: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    DMatrix::from_fn(n, cols, |_, _| rng.random_range(-1.5..1.5))
}

fn build(config: &SummaryConfig, y_dim: usize, seed: u64) -> (SummaryNet, Params<f64>) {
    let mut params = Params::new();
    let net = SummaryNet::new(
        &mut params,
        "summary",
        config,
        y_dim,
        &mut StdRng::seed_from_u64(seed),
    )
    .unwrap();
    (net, params)
}

/// Small instances of every kind (and both pooling choices), with the width of their `y`.
fn small_configs() -> Vec<(SummaryConfig, usize)> {
    let small = |kind| SummaryConfig {
        kind,
        out_dim: 3,
        activation: Activation::Tanh,
        init: Some(Init::Normal(0.6)),
    };
    let mut relu_conv = small(SummaryKind::Conv1d {
        length: 11,
        in_channels: 2,
        channels: vec![3, 2],
        kernel: 3,
        stride: 2,
        position_channel: false,
    });
    let located_conv = small(SummaryKind::Conv1d {
        length: 9,
        in_channels: 1,
        channels: vec![2],
        kernel: 4,
        stride: 3,
        position_channel: true,
    });
    relu_conv.activation = Activation::Relu;
    vec![
        (small(SummaryKind::Mlp { hidden: vec![5, 4] }), 4),
        (
            small(SummaryKind::DeepSet {
                set_size: 4,
                elem_dim: 2,
                phi_hidden: vec![5, 3],
                max_pool: false,
                rho_hidden: vec![4],
            }),
            8,
        ),
        (
            small(SummaryKind::DeepSet {
                set_size: 3,
                elem_dim: 1,
                phi_hidden: vec![4],
                max_pool: true,
                rho_hidden: vec![],
            }),
            3,
        ),
        (located_conv, 9),
        (relu_conv, 22),
    ]
}

/// The gradient of a scalar loss of `h(y)` with respect to every parameter and to `y` matches
/// central differences, for every kind.
#[test]
fn parameter_and_input_gradients_pass_grad_check() {
    for (k, (config, y_dim)) in small_configs().into_iter().enumerate() {
        let (net, params) = build(&config, y_dim, 10 + k as u64);
        let y = batch(3, y_dim, k as u64);
        let weights = batch(3, config.out_dim, 99);
        let report = grad_check_params(
            |tape, p, v| {
                let h = net
                    .forward(p, v[0])
                    .map_err(|e| autodiff::Error::InvalidArgument {
                        op: "summary",
                        reason: e.to_string(),
                    })?;
                Ok(h.mul(tape.constant(weights.clone()))?.tanh().sum())
            },
            &params,
            std::slice::from_ref(&y),
            GradCheckOptions::default(),
        );
        let report = report.unwrap_or_else(|e| panic!("{}: {e}", config.kind_name()));
        assert_eq!(report.entries, y.len() + params.n_scalars());
    }
}

/// Every permutation of a random subset of `0..s`, for each row independently.
fn permuted_sets(y: &DMatrix<f64>, s: usize, d: usize, rng: &mut StdRng) -> DMatrix<f64> {
    let mut out = y.clone();
    for r in 0..y.nrows() {
        let mut order: Vec<usize> = (0..s).collect();
        order.shuffle(rng);
        for (dst, &src) in order.iter().enumerate() {
            for j in 0..d {
                out[(r, dst * d + j)] = y[(r, src * d + j)];
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A deep set's output does not depend on the order of the observations in a set (to
    /// rounding: the mean sums in another order), with and without max pooling, for ReLU and
    /// tanh, while it does depend on the observations themselves.
    #[test]
    fn deep_set_is_permutation_invariant(
        (s, d, n) in (2usize..8, 1usize..4, 1usize..5),
        max_pool in any::<bool>(),
        tanh in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let config = SummaryConfig {
            kind: SummaryKind::DeepSet {
                set_size: s,
                elem_dim: d,
                phi_hidden: vec![6, 5],
                max_pool,
                rho_hidden: vec![4],
            },
            activation: if tanh { Activation::Tanh } else { Activation::Relu },
            ..SummaryConfig::deep_set(s, d)
        };
        let (net, params) = build(&config, s * d, seed);
        let y = batch(n, s * d, seed ^ 0x5eed);
        let mut rng = StdRng::seed_from_u64(seed);
        let h = net.apply(&params, &y).unwrap();
        let permuted = permuted_sets(&y, s, d, &mut rng);
        let hp = net.apply(&params, &permuted).unwrap();
        let scale = 1.0 + h.abs().max();
        prop_assert!((&h - &hp).abs().max() <= 1e-12 * scale, "{} vs {}", h, hp);
        // Not a constant: shifting the observations changes the summary (with tanh; a small
        // ReLU network can be dead on a whole set).
        if tanh {
            let mut other = y.clone();
            other.row_mut(0).add_scalar_mut(0.7);
            let ho = net.apply(&params, &other).unwrap();
            prop_assert!((ho.row(0) - h.row(0)).abs().max() > 1e-6);
        }
    }
}

/// The convolutional summary equals its definition written with loops: conv (valid, strided)
/// + activation per layer, mean over positions, dense head.
#[test]
fn conv1d_matches_its_definition() {
    let (config, y_dim) = small_configs().pop().unwrap();
    let SummaryKind::Conv1d {
        length,
        in_channels,
        ref channels,
        kernel,
        stride,
        ..
    } = config.kind
    else {
        unreachable!()
    };
    let (net, params) = build(&config, y_dim, 5);
    let y = batch(2, y_dim, 6);
    let get = |name: &str| params.get(params.id(name).unwrap()).clone();
    for r in 0..2 {
        // signal[t][c]
        let mut signal: Vec<Vec<f64>> = (0..length)
            .map(|t| {
                (0..in_channels)
                    .map(|c| y[(r, t * in_channels + c)])
                    .collect()
            })
            .collect();
        for (k, &c_out) in channels.iter().enumerate() {
            let w = get(&format!("summary.conv.{k}.weight"));
            let b = get(&format!("summary.conv.{k}.bias"));
            let c_in = signal[0].len();
            let l_out = (signal.len() - kernel) / stride + 1;
            signal = (0..l_out)
                .map(|t| {
                    (0..c_out)
                        .map(|o| {
                            let mut acc = b[(0, o)];
                            for q in 0..kernel {
                                for c in 0..c_in {
                                    acc += w[(q * c_in + c, o)] * signal[t * stride + q][c];
                                }
                            }
                            acc.max(0.0)
                        })
                        .collect()
                })
                .collect();
        }
        let head_w = get("summary.head.weight");
        let head_b = get("summary.head.bias");
        let l = signal.len() as f64;
        let pooled: Vec<f64> = (0..signal[0].len())
            .map(|c| signal.iter().map(|p| p[c]).sum::<f64>() / l)
            .collect();
        let h = net.apply(&params, &y.rows(r, 1).into_owned()).unwrap();
        for o in 0..config.out_dim {
            let expected = head_b[(0, o)]
                + pooled
                    .iter()
                    .enumerate()
                    .map(|(c, v)| v * head_w[(c, o)])
                    .sum::<f64>();
            assert!(
                (h[(0, o)] - expected).abs() < 1e-12,
                "{} vs {expected}",
                h[(0, o)]
            );
        }
    }
}

/// The tape pass and the plain pass agree, and a batch larger than one chunk is the
/// concatenation of its rows' summaries.
#[test]
fn apply_matches_forward_across_chunks() {
    let (net, params) = build(&SummaryConfig::mlp(), 3, 1);
    let y = batch(CHUNK_ROWS + 5, 3, 2);
    let h = net.apply(&params, &y).unwrap();
    let tape = Tape::no_grad();
    let p = params.bind(&tape);
    let tail = y.rows(CHUNK_ROWS, 5).into_owned();
    let on_tape = net.forward(&p, tape.constant(tail)).unwrap().to_matrix();
    assert_eq!(h.rows(CHUNK_ROWS, 5), on_tape);
    assert_eq!(h.shape(), (CHUNK_ROWS + 5, 16));
}

#[test]
fn shape_and_option_errors_are_errors() {
    let mut params = Params::<f64>::new();
    let mut rng = StdRng::seed_from_u64(0);
    let mut new = |config: &SummaryConfig, y_dim: usize| {
        SummaryNet::new(&mut params, "s", config, y_dim, &mut rng)
    };
    // A set of 5 observations of width 2 is 10 columns, not 9.
    assert!(matches!(
        new(&SummaryConfig::deep_set(5, 2), 9),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        new(&SummaryConfig::conv1d(20), 21),
        Err(Error::Config(_))
    ));
    // 12 positions leave 3 after the first stride-2 kernel of 7: too few for the second.
    let err = new(&SummaryConfig::conv1d(12), 12).unwrap_err();
    assert!(err.to_string().contains("convolution 1"), "{err}");
    let zero_out = SummaryConfig {
        out_dim: 0,
        ..SummaryConfig::mlp()
    };
    assert!(matches!(new(&zero_out, 3), Err(Error::Config(_))));
    let empty_phi = SummaryConfig {
        kind: SummaryKind::DeepSet {
            set_size: 2,
            elem_dim: 1,
            phi_hidden: vec![],
            max_pool: false,
            rho_hidden: vec![],
        },
        ..SummaryConfig::mlp()
    };
    assert!(matches!(new(&empty_phi, 2), Err(Error::Config(_))));

    let (net, params) = build(&SummaryConfig::deep_set(4, 2), 8, 0);
    let wrong = net.apply(&params, &DMatrix::zeros(3, 7)).unwrap_err();
    assert!(matches!(
        wrong,
        Error::Bijector(bijectors::Error::Width {
            expected: 8,
            cols: 7,
            ..
        })
    ));
    assert!(matches!(
        net.apply(&params, &DMatrix::zeros(0, 8)),
        Err(Error::Bijector(bijectors::Error::EmptyBatch { .. }))
    ));
    let mut nan = DMatrix::zeros(3, 8);
    nan[(2, 5)] = f64::NAN;
    assert!(matches!(
        net.apply(&params, &nan),
        Err(Error::Bijector(bijectors::Error::NonFinite {
            row: 2,
            col: 5,
            ..
        }))
    ));
    let tape = Tape::new();
    let p = params.bind(&tape);
    assert!(matches!(
        net.forward(&p, tape.constant(DMatrix::zeros(2, 9))),
        Err(Error::Bijector(bijectors::Error::Width { .. }))
    ));
}

/// The description (JSON) restores every kind without an rng: the same outputs from the same
/// store; a store that lacks its parameters, or a description whose layers contradict its
/// configuration, is an error.
#[test]
fn description_round_trips_and_is_checked() {
    for (config, y_dim) in small_configs() {
        let (net, params) = build(&config, y_dim, 3);
        let text = serde_json::to_string(&net).unwrap();
        let restored: SummaryNet = serde_json::from_str(&text).unwrap();
        assert_eq!(restored, net);
        restored.check_params(&params).unwrap();
        let y = batch(4, y_dim, 8);
        assert_eq!(
            restored.apply(&params, &y).unwrap(),
            net.apply(&params, &y).unwrap()
        );
        let config_text = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<SummaryConfig>(&config_text).unwrap(),
            config
        );
        assert!(matches!(
            restored.check_params(&Params::<f64>::new()),
            Err(Error::Config(_))
        ));
    }
    let (net, params) = build(&SummaryConfig::deep_set(3, 1), 3, 0);
    let mut value = serde_json::to_value(&net).unwrap();
    value["config"]["out_dim"] = serde_json::json!(5);
    value["y_dim"] = serde_json::json!(3);
    let lying: SummaryNet = serde_json::from_value(value).unwrap();
    assert!(matches!(lying.check_params(&params), Err(Error::Config(_))));
}

/// Joint training's gradient: the NLL of a conditional coupling flow reading `h(y)` (the
/// integration a cINN makes), differentiated with respect to every parameter of the flow and
/// of the summary and to `x` and `y`, matches central differences; and the summary's parameters
/// do get a gradient through the couplings.
#[test]
fn gradients_flow_into_the_summary_through_the_couplings() {
    use bijectors::{Bijector, Chain, StackConfig};
    let (config, y_dim) = small_configs().swap_remove(1);
    let mut params = Params::<f64>::new();
    let mut rng = StdRng::seed_from_u64(8);
    let net = SummaryNet::new(&mut params, "summary", &config, y_dim, &mut rng).unwrap();
    let stack = StackConfig {
        subnet: bijectors::SubnetConfig {
            hidden: vec![4],
            activation: Activation::Tanh,
            ..bijectors::SubnetConfig::default()
        },
        dim: 2,
        blocks: 2,
        cond_dim: net.out_dim(),
        ..StackConfig::default()
    };
    let flow = Chain::coupling_stack(&mut params, &stack, &mut rng).unwrap();
    let (x, y) = (batch(3, 2, 1), batch(3, y_dim, 2));
    fn nll<'t>(
        net: &SummaryNet,
        flow: &Chain<f64>,
        p: &Bound<'t, f64>,
        v: &[Var<'t, f64>],
    ) -> autodiff::Result<Var<'t, f64>> {
        let as_autodiff = |e: String| autodiff::Error::InvalidArgument {
            op: "joint",
            reason: e,
        };
        let h = net
            .forward(p, v[1])
            .map_err(|e| as_autodiff(e.to_string()))?;
        let (z, log_det) = flow
            .forward_with(p, v[0], Some(h))
            .map_err(|e| as_autodiff(e.to_string()))?;
        Ok(z.square().sum_cols().scale(0.5).sub(log_det)?.mean())
    }
    let report = grad_check_params(
        |_, p, v| nll(&net, &flow, p, v),
        &params,
        &[x.clone(), y.clone()],
        GradCheckOptions::default(),
    )
    .unwrap();
    assert_eq!(report.entries, x.len() + y.len() + params.n_scalars());
    let tape = Tape::new();
    let p = params.bind(&tape);
    let loss = nll(&net, &flow, &p, &[tape.constant(x), tape.constant(y)]).unwrap();
    let grads = p.gradients(&mut tape.backward(loss).unwrap());
    for (id, name, _) in params.iter() {
        if name.starts_with("summary.") {
            assert!(
                grads[id.index()].abs().max() > 0.0,
                "{name} gets no gradient"
            );
        }
    }
}
