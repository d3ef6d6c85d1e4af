//! Criterion bench: unbiased MMD² with the INN three-scale inverse multiquadric kernel
//! (widths 0.05, 0.2, 0.9) between two `4096 × 8` samples, in `f32` and `f64`.
// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use discrepancy::{InverseMultiquadric, MultiScale, mmd2_unbiased};
use nalgebra::{DMatrix, RealField};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use std::hint::black_box;

const N: usize = 4096;
const D: usize = 8;

/// A seeded `rows × D` standard-normal sample (one sample per row), shifted by `shift`.
fn sample<T: RealField + Copy>(rows: usize, shift: f64, seed: u64) -> DMatrix<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    DMatrix::from_fn(rows, D, |_, _| {
        let v: f64 = StandardNormal.sample(&mut rng);
        T::from_subset(&(v + shift))
    })
}

fn bench_unbiased<T: RealField + Copy>(c: &mut Criterion, name: &str) {
    let x = sample::<T>(N, 0.0, 1);
    let y = sample::<T>(N, 0.1, 2);
    let kernel = MultiScale::<InverseMultiquadric<T>>::inn_default();
    c.bench_function(name, |b| {
        b.iter(|| mmd2_unbiased(black_box(&x), black_box(&y), &kernel))
    });
}

fn benches(c: &mut Criterion) {
    bench_unbiased::<f32>(c, "mmd2_unbiased_imq3_n4096_d8_f32");
    bench_unbiased::<f64>(c, "mmd2_unbiased_imq3_n4096_d8_f64");
}

criterion_group! {
    name = mmd;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(mmd);
