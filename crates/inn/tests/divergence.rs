//! A value that overflows *inside* a chain during training is divergence: the run ends with
//! `Error::Diverged` and the last good parameters, exactly as for a non-finite loss — not with
//! the bijector's "non-finite input" error from the next block, which would skip the restore.

use inn::Flow;
use inn::autodiff::nalgebra::DMatrix;
use inn::autodiff::{Bound, Params, Tape, Var};
use inn::bijectors::{StackConfig, SubnetConfig};
use inn::prelude::Density;
use inn::train::{Batches, Minibatch, Objective, OptimConfig, optimize};
use rand::SeedableRng;

/// `−mean ln p(x)` of a fixed batch, multiplied by `scale` from step `from` on. The scaled batch
/// is finite (1e37 < f32::MAX ≈ 3.4e38), but the first coupling block multiplies it by up to
/// e² and adds a shift, so the second block receives ±∞: the overflow happens mid-chain.
struct Overflowing<'a> {
    flow: &'a Flow<f32>,
    from: usize,
    scale: f32,
}

impl Objective<f32> for Overflowing<'_> {
    type Error = inn::Error;

    fn loss<'t>(
        &self,
        tape: &'t Tape<f32>,
        p: &Bound<'t, f32>,
        batch: &Minibatch<'_, f32>,
    ) -> inn::Result<Var<'t, f32>> {
        let x = if batch.step >= self.from {
            &batch.data[0] * self.scale
        } else {
            batch.data[0].clone()
        };
        assert!(
            x.iter().all(|v| v.is_finite()),
            "the input itself is finite"
        );
        Ok(self
            .flow
            .distribution()
            .log_prob(p, tape.constant(x))?
            .mean()
            .neg())
    }
}

fn flow() -> Flow<f32> {
    let config = StackConfig {
        subnet: SubnetConfig {
            hidden: vec![16],
            ..SubnetConfig::default()
        },
        dim: 2,
        blocks: 4,
        ..StackConfig::default()
    };
    Flow::coupling_stack(&config, &mut rand::rngs::StdRng::seed_from_u64(3)).unwrap()
}

fn run(steps: usize, from: usize, params: &mut Params<f32>, flow: &Flow<f32>) -> inn::Result<()> {
    let rows = DMatrix::from_fn(64, 2, |i, j| ((i * 7 + j * 3) as f32 * 0.37).sin() * 30.0);
    let config = OptimConfig {
        steps,
        progress: false,
        data_parallel: false,
        // A visible step so that parameters move from step to step.
        adam: inn::autodiff::optim::AdamConfig {
            lr: 1e-2,
            ..Default::default()
        },
        ..OptimConfig::default()
    };
    let objective = Overflowing {
        flow,
        from,
        scale: 1e37 / 30.0,
    };
    let batches = Batches {
        rows: &[&rows],
        batch_size: 64,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    optimize(params, &config, &objective, batches, &mut rng, None).map(|_| ())
}

#[test]
fn an_overflow_inside_a_chain_is_divergence_with_the_last_good_parameters() {
    let f = flow();
    // The scaled batch does overflow inside the chain, not at its entry.
    let big = DMatrix::from_element(1, 2, 1e37f32);
    let first = f.bijector().forward_matrix(f.params(), &big);
    assert!(
        first.is_err() || first.unwrap().0.iter().any(|v| !v.is_finite()),
        "the chain must overflow on the scaled batch"
    );

    let mut params = f.params().clone();
    let err = run(100, 5, &mut params, &f).unwrap_err();
    assert!(
        matches!(
            err,
            inn::Error::Diverged {
                step: 5,
                restored_step: 4,
                ..
            }
        ),
        "expected divergence at step 5, got: {err}"
    );
    // Restored: the parameters step 4 evaluated (its loss was the last finite one), i.e. those
    // after the updates of steps 0..=3 — the same as a clean run of 4 steps. Step 4's update
    // produced parameters no loss has vouched for.
    let mut clean = f.params().clone();
    run(4, usize::MAX, &mut clean, &f).unwrap();
    assert!(
        params == clean,
        "not the parameters of the last finite loss"
    );
    assert!(params != *f.params(), "the good steps moved the parameters");
}
