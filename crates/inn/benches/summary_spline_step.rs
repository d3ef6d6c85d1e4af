//! Criterion bench: the two training steps of rows G and H of `cargo xtask bench`, f32, batch
//! 256, each one step of the shared training loop (`fit` with `steps: 1`, on a training set of
//! 4 batches, so that `fit`'s per-call input checks and copy stay small next to the step):
//! - a cINN step with the default conv1d summary network on LorentzSpectrum data (200-bin
//!   spectra, x = 9 parameters; summary `SummaryConfig::conv1d(200)`, the default cINN stack of
//!   8 GLOW blocks with subnets →512→ and the paper's Adam): summary, flow, −mean ln p,
//!   backward through both, Adam;
//! - a maximum-likelihood step of a 2-D flow of 8 rational-quadratic spline couplings (8 bins
//!   on [−3, 3], subnets 1→128→128→23, permutations) on BoundedModes.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use inn::Flow;
use inn::bijectors::{CouplingKind, StackConfig, SubnetConfig};
use inn::data::toy::{BoundedModes, LorentzSpectrum};
use inn::summary::SummaryConfig;
use inn::train::{CinnConfig, ConditionalInn, MaximumLikelihood, MleConfig, OptimConfig};
use rand::SeedableRng;
use std::time::Duration;

const BATCH: usize = 256;
/// Rows of the training set.
const ROWS: usize = 4 * BATCH;

/// One training step of `fit`, no held-out rows, no progress bar.
fn one_step(optim: OptimConfig) -> OptimConfig {
    OptimConfig {
        steps: 1,
        progress: false,
        val_fraction: 0.0,
        ..optim
    }
}

fn cinn_conv1d_step(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let problem = LorentzSpectrum::standard();
    let (x, y) = problem.simulate(ROWS, &mut rng);
    let (x, y) = (x.cast::<f32>(), y.cast::<f32>());
    let defaults = CinnConfig::default();
    let config = CinnConfig {
        batch_size: BATCH,
        optim: one_step(defaults.optim.clone()),
        summary: Some(SummaryConfig::conv1d(problem.y_dim())),
        ..defaults
    };
    let mut model = ConditionalInn::<f32>::new(config, problem.x_dim(), problem.y_dim(), &mut rng)
        .expect("valid config");
    c.bench_function("cinn_conv1d_spectrum200_batch256_f32", |b| {
        b.iter(|| model.fit(&x, &y, &mut rng).expect("finite"))
    });
}

fn spline_flow_step(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let data = BoundedModes.sample(ROWS, &mut rng).cast::<f32>();
    let stack = StackConfig {
        coupling: CouplingKind::Spline,
        subnet: SubnetConfig::default(),
        dim: 2,
        blocks: 8,
        ..StackConfig::default()
    };
    let mut flow = Flow::<f32>::coupling_stack(&stack, &mut rng).expect("valid stack");
    let trainer = MaximumLikelihood::new(MleConfig {
        optim: one_step(OptimConfig::default()),
        batch_size: BATCH,
        data_init: false,
    });
    c.bench_function("spline8_h128_bounded_modes_batch256_f32", |b| {
        b.iter(|| {
            trainer
                .fit(&mut flow, &data, &mut rng, None)
                .expect("finite")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = cinn_conv1d_step, spline_flow_step
}
criterion_main!(benches);
