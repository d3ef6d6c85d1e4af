//! A deep-set summary network trained jointly with a conditional coupling flow on the
//! normal-inverse-gamma problem ([`inn::data::toy::NormalSet`]: `x = (μ, ln σ)` seen through a
//! set of 50 draws), against the same flow reading the raw 50 draws; both scored against the
//! exact posterior (held-out NLL gap, and C2ST of posterior samples for a few observations).
//!
//! A minimal joint training loop: one parameter store holds the flow (`flow.*`) and the
//! summary (`summary.*`); every step binds it to a tape, computes `h(y)` there, feeds it as the
//! condition of every coupling, and Adam updates both from one backward pass.
//!
//! Adam (lr 1e-3, cosine-annealed to 0), batch 256, gradient norm clipped at 10.
//!
//! Measured with 4000 steps, seed 0 (exact posterior NLL −1.572 nats): with 50 000 training
//! pairs the deep set is 0.086 nats from the exact posterior (C2ST 0.524), the raw draws 0.187
//! (C2ST 0.587); with 5 000 pairs the deep set 0.132 (C2ST 0.547) while the raw-draws flow
//! overfits (held-out NLL 1155, C2ST 0.93).
//!
//! `cargo run --release -p inn --example summary_nig -- [steps] [training pairs] [seed]`

use inn::autodiff::nalgebra::DMatrix;
use inn::autodiff::optim::{Adam, Optimizer, clip_grad_norm, grad_norm};
use inn::autodiff::{Params, Tape};
use inn::bijectors::{Bijector, Chain, CouplingKind, StackConfig};
use inn::data::toy::NormalSet;
use inn::eval::{C2stConfig, c2st};
use inn::summary::{SummaryConfig, SummaryNet};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// A flow conditioned on `h(y)` (or on the raw `y` when `summary` is `None`).
struct Model {
    params: Params<f32>,
    flow: Chain<f32>,
    summary: Option<SummaryNet>,
}

impl Model {
    fn new(summary: Option<&SummaryConfig>, y_dim: usize, rng: &mut StdRng) -> inn::Result<Self> {
        let mut params = Params::new();
        let summary = summary
            .map(|c| SummaryNet::new(&mut params, "summary", c, y_dim, rng))
            .transpose()?;
        let stack = StackConfig {
            dim: 2,
            blocks: 6,
            coupling: CouplingKind::Glow,
            hidden: vec![128],
            cond_dim: summary.as_ref().map_or(y_dim, SummaryNet::out_dim),
            ..StackConfig::default()
        };
        let flow = Chain::coupling_stack(&mut params, &stack, rng)?;
        Ok(Self {
            params,
            flow,
            summary,
        })
    }

    /// The condition of the couplings for observations `y` (plain matrices).
    fn condition(&self, y: &DMatrix<f32>) -> inn::Result<DMatrix<f32>> {
        match &self.summary {
            Some(s) => s.apply(&self.params, y),
            None => Ok(y.clone()),
        }
    }

    /// One Adam step on the mean NLL of a minibatch; returns the loss and the gradient norms
    /// of the summary's and the flow's parameters.
    fn step(
        &mut self,
        adam: &mut Adam<f32>,
        x: DMatrix<f32>,
        y: DMatrix<f32>,
    ) -> inn::Result<(f64, f64, f64)> {
        let tape = Tape::new();
        let p = self.params.bind(&tape);
        let y = tape.constant(y);
        let cond = match &self.summary {
            Some(s) => s.forward(&p, y)?,
            None => y,
        };
        let (z, log_det) = self.flow.forward_with(&p, tape.constant(x), Some(cond))?;
        let loss = z.square().sum_cols().scale(0.5).sub(log_det)?.mean();
        let value = loss.item() as f64;
        let mut grads = tape.backward(loss)?;
        let mut grads = p.gradients(&mut grads);
        let (mut summary_grads, mut flow_grads) = (Vec::new(), Vec::new());
        for ((_, name, _), g) in self.params.iter().zip(&grads) {
            if name.starts_with("summary.") {
                summary_grads.push(g.clone());
            } else {
                flow_grads.push(g.clone());
            }
        }
        let norms = (grad_norm(&summary_grads), grad_norm(&flow_grads));
        clip_grad_norm(&mut grads, 10.0);
        adam.step(&mut self.params, &grads)?;
        Ok((value, norms.0, norms.1))
    }

    /// Mean NLL `−mean ln q(xᵢ | yᵢ)` in nats (with the Gaussian constant).
    fn nll(&self, x: &DMatrix<f32>, y: &DMatrix<f32>) -> inn::Result<f64> {
        let cond = self.condition(y)?;
        let (z, ld) = self
            .flow
            .forward_matrix_with(&self.params, x, Some(&cond))?;
        let n = x.nrows() as f64;
        let sq: f64 = z.iter().map(|v| (*v as f64).powi(2)).sum();
        let ld: f64 = ld.iter().map(|v| *v as f64).sum();
        Ok((0.5 * sq - ld) / n + (2.0 * std::f64::consts::PI).ln())
    }

    /// `n` posterior samples for one observation `y` (`1 × y_dim`).
    fn sample(&self, y: &DMatrix<f32>, n: usize, rng: &mut StdRng) -> inn::Result<DMatrix<f64>> {
        let h = self.condition(y)?;
        let cond = DMatrix::from_fn(n, h.ncols(), |_, j| h[(0, j)]);
        let z = DMatrix::from_fn(n, 2, |_, _| rng.sample::<f32, _>(StandardNormal));
        let (x, _) = self
            .flow
            .inverse_matrix_with(&self.params, &z, Some(&cond))?;
        Ok(x.cast())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let steps: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3000);
    let n_train: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(50_000);
    let seed: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let problem = NormalSet::standard();
    let s = problem.set_size();
    let mut rng = StdRng::seed_from_u64(seed);
    let (x_train, y_train) = problem.simulate(n_train, &mut rng);
    let (x_test, y_test) = problem.simulate(5_000, &mut StdRng::seed_from_u64(1000 + seed));
    let exact_nll = -problem.posterior_log_prob(&x_test, &y_test)?.mean();
    let (x_train, y_train) = (x_train.cast::<f32>(), y_train.cast::<f32>());
    let (x_test32, y_test32) = (x_test.clone().cast::<f32>(), y_test.clone().cast::<f32>());

    let deep_set = SummaryConfig::deep_set(s, 1);
    let batch = 256;
    println!(
        "NIG problem: {s} draws per set, {n_train} training pairs, {steps} steps; \
         test NLL of the exact posterior {exact_nll:.4} nats"
    );
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>8}",
        "condition", "test NLL", "NLL gap", "C2ST", "seconds"
    );
    for (label, summary) in [("deep set", Some(&deep_set)), ("raw y", None)] {
        let mut rng = StdRng::seed_from_u64(seed + 1);
        let mut model = Model::new(summary, s, &mut rng)?;
        let mut adam = Adam::with_lr(1e-3);
        let start = std::time::Instant::now();
        for step in 0..steps {
            let progress = step as f64 / steps as f64;
            adam.set_learning_rate(1e-3 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()));
            let rows: Vec<usize> = (0..batch)
                .map(|_| rng.random_range(0..x_train.nrows()))
                .collect();
            let (loss, g_summary, g_flow) = model.step(
                &mut adam,
                x_train.select_rows(rows.iter()),
                y_train.select_rows(rows.iter()),
            )?;
            if step == 0 && summary.is_some() {
                // Gradients reach the summary's parameters through the couplings.
                assert!(g_summary > 0.0, "no gradient reached the summary network");
                println!(
                    "  step 0: loss {loss:.3}, |grad| summary {g_summary:.3e}, flow {g_flow:.3e}"
                );
            }
            if (step + 1) % 1000 == 0 {
                println!("  {label} step {}: minibatch loss {loss:.4}", step + 1);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let nll = model.nll(&x_test32, &y_test32)?;
        // C2ST of 1000 model samples against 1000 exact posterior samples, for 5 observations.
        let mut c2st_rng = StdRng::seed_from_u64(77);
        let mut accuracies = Vec::new();
        for r in 0..5 {
            let obs: Vec<f64> = y_test.row(r).iter().copied().collect();
            let exact = problem.posterior_sample(&obs, 1000, &mut c2st_rng)?;
            let learned = model.sample(&y_test32.rows(r, 1).into_owned(), 1000, &mut c2st_rng)?;
            accuracies
                .push(c2st(&learned, &exact, &C2stConfig::default(), &mut c2st_rng)?.accuracy);
        }
        let mean_c2st = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
        println!(
            "{label:<10} {nll:>10.4} {:>10.4} {mean_c2st:>10.3} {seconds:>8.1}   (C2ST per observation: {})",
            nll - exact_nll,
            accuracies
                .iter()
                .map(|a| format!("{a:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
