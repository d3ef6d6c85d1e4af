//! The products the tape runs (`autodiff::gemm::matmul`, split across rayon's threads when
//! large; `split_plan` in the id says how), for the shapes of the benchmark's configurations:
//! 256/512/2048 × 128 · 128 × 128 (config A's hidden layers per shard / per batch / per
//! sampling chunk), 512 × 512 · 512 × 512 (config B per shard), 1024³ (the GEMM-peak shape).

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use autodiff::gemm::{matmul, par_products};
use autodiff::nalgebra::DMatrix;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn products(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_f32");
    for (n, k, m) in [
        (256usize, 128usize, 128usize),
        (512, 128, 128),
        (2048, 128, 128),
        (512, 512, 512),
        (1024, 1024, 1024),
    ] {
        let a = DMatrix::<f32>::from_fn(n, k, |i, j| ((i * 7 + j) % 13) as f32 * 0.1);
        let b = DMatrix::<f32>::from_fn(k, m, |i, j| ((i * 3 + j) % 11) as f32 * 0.1);
        group.throughput(Throughput::Elements((2 * n * k * m) as u64));
        let (rows, cols) = par_products(n, k, m);
        group.bench_function(format!("{n}x{k}x{m}_split_{rows}x{cols}"), |bench| {
            bench.iter(|| black_box(matmul(&a, &b)));
        });
    }
    group.finish();
}

criterion_group!(benches, products);
criterion_main!(benches);
