//! One MLP training step (forward, MSE, backward, Adam), batch 512, f32: 1→H→H→1 with ReLU,
//! H = 128 and 512 — the configuration of the PyTorch anchor `torch_mlp_step.py`.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use autodiff::nalgebra::DMatrix;
use autodiff::nn::{Activation, Mlp, MlpConfig};
use autodiff::optim::{Adam, Optimizer};
use autodiff::{Params, Tape};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};

fn mlp_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("mlp_step_f32_batch512");
    for hidden in [128usize, 512] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut params = Params::<f32>::new();
        let cfg = MlpConfig::new(&[1, hidden, hidden, 1], Activation::Relu);
        let net = Mlp::new(&mut params, "net", &cfg, &mut rng).expect("valid sizes");
        let x = DMatrix::<f32>::from_fn(512, 1, |_, _| rng.random_range(-3.0..3.0));
        let y = x.map(f32::sin);
        let mut adam = Adam::<f32>::with_lr(1e-3);
        // Multiply-adds of forward + backward (≈ 3× forward), as FLOPs (2 per multiply-add).
        let flops = 2 * 3 * 512 * (hidden + hidden * hidden + hidden);
        group.throughput(Throughput::Elements(flops as u64));
        group.bench_function(format!("hidden_{hidden}"), |b| {
            b.iter(|| {
                let tape = Tape::new();
                let p = params.bind(&tape);
                let pred = net.forward(&p, tape.constant(x.clone())).expect("shapes");
                let loss = pred
                    .sub(tape.constant(y.clone()))
                    .expect("shapes")
                    .square()
                    .mean();
                let mut grads = tape.backward(loss).expect("scalar loss");
                adam.step(&mut params, &p.gradients(&mut grads))
                    .expect("finite");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, mlp_step);
criterion_main!(benches);
