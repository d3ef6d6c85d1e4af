//! Criterion bench: drawing 10 000 samples from the (untrained) flow of configuration A of
//! `cargo xtask bench` (2-D, 8 RealNVP blocks with permutations, subnets 1→128→128→1, f32):
//! z ~ N(0, I) pushed through the inverse without recording gradients.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inn::Flow;
use inn::bijectors::StackConfig;
use rand::SeedableRng;
use std::hint::black_box;

const N: usize = 10_000;

fn sampling(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let flow = Flow::<f32>::coupling_stack(&StackConfig::default(), &mut rng).expect("valid stack");
    let mut group = c.benchmark_group("sampling_config_a");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(20);
    group.bench_function("realnvp8_h128_n10000_f32", |b| {
        b.iter(|| black_box(flow.sample(N, &mut rng).expect("n > 0")))
    });
    group.finish();
}

criterion_group!(benches, sampling);
criterion_main!(benches);
