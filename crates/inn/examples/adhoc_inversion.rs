//! Ad-hoc inversion against learned posteriors on `y = ‖x‖²`, `x ∈ [−2, 2]²`.
//!
//! An MLP `f: ℝ² → ℝ` is fitted to `y = ‖x‖²`; for the observation `y* = 2` the solutions form
//! the circle of radius √2. Gradient descent on `x` through the MLP from 64 random starts
//! ([`inn::invert::gradient_descent`]) is compared with 64 posterior samples of a cINN and of an
//! INN trained on the same data: how many starts converge, how many distinct solutions there
//! are, how far the points are from the level set, and how well they cover it (angles in 36
//! bins of 10°; 64 uniform angles hit 30.1 bins on average). For uniform `x` the exact posterior
//! `p(x | y*)` is uniform on the circle.
//!
//! Run: `cargo run --release -p inn --example adhoc_inversion` (about a minute on two cores).

use inn::autodiff::nalgebra::DMatrix;
use inn::autodiff::nn::{Activation, Mlp, MlpConfig};
use inn::autodiff::optim::{Adam, Optimizer};
use inn::autodiff::{Params, Tape};
use inn::invert::{InvertOptions, gradient_descent, uniform_starts};
use inn::train::{CinnConfig, ConditionalInn, Inn, InnConfig, OptimConfig, paper_stack};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::f64::consts::{PI, TAU};

const Y_STAR: f64 = 2.0;
const N_POINTS: usize = 64;
const BINS: usize = 36;

/// How a set of candidate solutions (`n × 2`) sits on the level set ‖x‖² = y*.
fn describe(name: &str, x: &DMatrix<f64>) {
    let n = x.nrows();
    let mut errors: Vec<f64> = (0..n)
        .map(|i| (x.row(i).norm_squared() - Y_STAR).abs())
        .collect();
    errors.sort_by(f64::total_cmp);
    let mut hit = [false; BINS];
    for i in 0..n {
        let angle = x[(i, 1)].atan2(x[(i, 0)]) + PI;
        hit[((angle / TAU * BINS as f64) as usize).min(BINS - 1)] = true;
    }
    let covered = hit.iter().filter(|&&h| h).count();
    println!(
        "  {name:<26} n = {n:>3}  | ‖x‖² − y* |: median {:.4}, max {:.4};  angle bins hit {covered}/{BINS}",
        errors[n / 2],
        errors[n - 1]
    );
}

fn main() -> inn::Result<()> {
    let mut rng = StdRng::seed_from_u64(2024);
    let n_train = 20_000;
    let x_train = uniform_starts::<f64, _>(n_train, &[-2.0, -2.0], &[2.0, 2.0], &mut rng)?;
    let y_train = DMatrix::from_fn(n_train, 1, |i, _| x_train.row(i).norm_squared());

    // 1. The forward model: an MLP fitted to y = ‖x‖².
    let t = std::time::Instant::now();
    let mut params = Params::<f64>::new();
    let net = Mlp::new(
        &mut params,
        "f",
        &MlpConfig::new(&[2, 64, 64, 1], Activation::Tanh),
        &mut rng,
    )?;
    let mut adam = Adam::with_lr(3e-3);
    for _ in 0..3000 {
        let x = uniform_starts::<f64, _>(256, &[-2.0, -2.0], &[2.0, 2.0], &mut rng)?;
        let y = DMatrix::from_fn(256, 1, |i, _| x.row(i).norm_squared());
        let tape = Tape::new();
        let p = params.bind(&tape);
        let loss = net
            .forward(&p, tape.constant(x))?
            .sub(tape.constant(y))?
            .square()
            .mean();
        let mut grads = tape.backward(loss)?;
        adam.step(&mut params, &p.gradients(&mut grads))?;
    }
    let test = uniform_starts::<f64, _>(4000, &[-2.0, -2.0], &[2.0, 2.0], &mut rng)?;
    let pred = net.eval(&params, &test)?;
    let rmse = ((0..4000)
        .map(|i| (pred[(i, 0)] - test.row(i).norm_squared()).powi(2))
        .sum::<f64>()
        / 4000.0)
        .sqrt();
    println!(
        "MLP f: R^2 -> R fitted to y = |x|^2 in {:.1} s (test RMSE {rmse:.4})",
        t.elapsed().as_secs_f64()
    );

    // 2. Gradient descent on x through the MLP, 64 starts from the uniform prior.
    let t = std::time::Instant::now();
    let starts = uniform_starts::<f64, _>(N_POINTS, &[-2.0, -2.0], &[2.0, 2.0], &mut rng)?;
    let opts = InvertOptions::default();
    let inversion = gradient_descent(
        |tape, x| Ok(net.forward(&params.bind(tape), x)?),
        &DMatrix::from_element(1, 1, Y_STAR),
        &starts,
        &opts,
    )?;
    let converged: Vec<usize> = (0..N_POINTS).filter(|&i| inversion.converged[i]).collect();
    println!(
        "\ngradient descent (Adam lr {}, ≤ {} steps, tol {:.0e} on the MSE) in {:.2} s:",
        opts.adam.lr,
        opts.steps,
        opts.tol,
        t.elapsed().as_secs_f64()
    );
    println!(
        "  {} of {N_POINTS} starts converged, {} distinct solutions (eps {}), mean steps {:.0}",
        converged.len(),
        inversion.clusters.len(),
        opts.cluster_eps,
        inversion.steps.iter().sum::<usize>() as f64 / N_POINTS as f64
    );
    if !converged.is_empty() {
        describe(
            "converged solutions",
            &inversion.x.select_rows(converged.iter()),
        );
    }

    // 3. A cINN x = g⁻¹(z; y) trained by maximum likelihood on (x, y) pairs.
    let t = std::time::Instant::now();
    let cinn_config = CinnConfig {
        stack: paper_stack().with_widths(6, &[128]),
        batch_size: 512,
        optim: OptimConfig {
            steps: 1500,
            ..CinnConfig::default().optim
        },
        ..CinnConfig::default()
    };
    let (xf, yf) = (x_train.cast::<f32>(), y_train.cast::<f32>());
    let mut cinn = ConditionalInn::<f32>::new(cinn_config, 2, 1, &mut rng)?;
    cinn.fit(&xf, &yf, &mut rng)?;
    let y_obs = DMatrix::from_element(1, 1, Y_STAR as f32);
    let cinn_samples = cinn.posterior(&y_obs, N_POINTS, &mut rng)?.remove(0);
    println!(
        "\ncINN (6 blocks, 128 hidden, 1500 steps of 512) trained in {:.1} s:",
        t.elapsed().as_secs_f64()
    );
    describe("posterior samples", &cinn_samples.cast::<f64>());
    let many = cinn.posterior(&y_obs, 4000, &mut rng)?.remove(0);
    describe("posterior samples (4000)", &many.cast::<f64>());

    // 4. An INN [z, pad, y] = f([x, pad]) trained with the bidirectional MMD objective.
    let t = std::time::Instant::now();
    let inn_config = InnConfig {
        stack: paper_stack().with_widths(6, &[128]),
        n_tot: 4,
        batch_size: 500,
        y_noise: 0.02,
        optim: OptimConfig {
            steps: 1000,
            ..InnConfig::default().optim
        },
        ..InnConfig::default()
    };
    let mut inn = Inn::<f32>::new(inn_config, 2, 1, 1, &mut rng)?;
    inn.fit(&xf, &yf, &mut rng)?;
    let inn_samples = inn.posterior(&y_obs, N_POINTS, &mut rng)?.remove(0);
    println!(
        "\nINN (N_tot 4, 6 blocks, 128 hidden, 1000 steps of 500, y-noise 0.02) trained in {:.1} s:",
        t.elapsed().as_secs_f64()
    );
    describe("posterior samples", &inn_samples.cast::<f64>());
    let many = inn.posterior(&y_obs, 4000, &mut rng)?.remove(0);
    describe("posterior samples (4000)", &many.cast::<f64>());
    Ok(())
}
