//! Criterion bench: one maximum-likelihood training step (forward, −mean ln p, backward, Adam)
//! of configuration A of `cargo xtask bench` — a 2-D flow of 8 RealNVP blocks with permutations,
//! subnets 1→128→128→1 (ReLU), batch 512, f32 — on a fixed two-moons batch.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inn::Flow;
use inn::autodiff::Tape;
use inn::autodiff::optim::{Adam, Optimizer};
use inn::bijectors::{StackConfig, SubnetConfig};
use inn::prelude::*;
use rand::SeedableRng;

const BATCH: usize = 512;
const HIDDEN: usize = 128;

fn flow_step(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let batch = inn::data::toy::two_moons(BATCH, 0.05, &mut rng)
        .expect("valid noise")
        .cast::<f32>();
    let stack = StackConfig {
        subnet: SubnetConfig {
            hidden: vec![HIDDEN, HIDDEN],
            ..SubnetConfig::default()
        },
        dim: 2,
        blocks: 8,
        ..StackConfig::default()
    };
    let mut flow = Flow::<f32>::coupling_stack(&stack, &mut rng).expect("valid stack");
    let mut adam = Adam::<f32>::with_lr(1e-3);
    let mut group = c.benchmark_group("flow_step_config_a");
    // GEMM flops of a step: 3 × 8 blocks × 4 subnets × 2·B·(H + H² + H).
    let flops = 3 * 8 * 4 * 2 * BATCH * (HIDDEN + HIDDEN * HIDDEN + HIDDEN);
    group.throughput(Throughput::Elements(flops as u64));
    group.bench_function("realnvp8_h128_batch512_f32", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let p = flow.params().bind(&tape);
            let log_p = flow
                .distribution()
                .log_prob(&p, tape.constant(batch.clone()))
                .expect("shapes");
            let mut grads = tape.backward(log_p.mean().neg()).expect("scalar loss");
            let grads = p.gradients(&mut grads);
            adam.step(flow.params_mut(), &grads).expect("finite");
        })
    });
    group.finish();
}

criterion_group!(benches, flow_step);
criterion_main!(benches);
