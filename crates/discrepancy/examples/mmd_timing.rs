//! Times unbiased MMD² with the INN three-scale inverse multiquadric kernel.
//!
//! `cargo run --release -p discrepancy --example mmd_timing` measures `n = m = 4096`, `d = 8`
//! in `f32` and `f64`; `... --example mmd_timing -- 100000` runs one `f32` estimate at
//! `n = m = 100 000` (run it under `/usr/bin/time -v` to see that peak memory stays small).

use discrepancy::{InverseMultiquadric, MultiScale, mmd2_unbiased};
use nalgebra::{DMatrix, RealField};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use std::time::Instant;

/// A seeded `rows × d` standard-normal sample (one sample per row), shifted by `shift`.
fn sample<T: RealField + Copy>(rows: usize, d: usize, shift: f64, seed: u64) -> DMatrix<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    DMatrix::from_fn(rows, d, |_, _| {
        let v: f64 = StandardNormal.sample(&mut rng);
        T::from_subset(&(v + shift))
    })
}

/// Best and mean milliseconds per estimate over `reps` runs, and the last estimate.
fn time<T: RealField + Copy>(n: usize, d: usize, reps: usize) -> (f64, f64, f64) {
    let x = sample::<T>(n, d, 0.0, 1);
    let y = sample::<T>(n, d, 0.1, 2);
    let kernel = MultiScale::<InverseMultiquadric<T>>::inn_default();
    let mut best = f64::INFINITY;
    let mut total = 0.0;
    let mut value = 0.0;
    for _ in 0..reps {
        let start = Instant::now();
        value = mmd2_unbiased(&x, &y, &kernel).expect("valid inputs");
        let ms = start.elapsed().as_secs_f64() * 1e3;
        best = best.min(ms);
        total += ms;
    }
    (best, total / reps as f64, value)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4096);
    let d = 8;
    if n > 10_000 {
        let (best, _, value) = time::<f32>(n, d, 1);
        println!("f32 n = m = {n}, d = {d}: {best:.0} ms, MMD²_u = {value:.6e}");
        return;
    }
    let reps = 10;
    let (best32, mean32, v32) = time::<f32>(n, d, reps);
    let (best64, mean64, v64) = time::<f64>(n, d, reps);
    println!("n = m = {n}, d = {d}, 3-scale IMQ, unbiased, {reps} runs each:");
    println!("  f32: best {best32:.1} ms, mean {mean32:.1} ms, MMD²_u = {v32:.6e}");
    println!("  f64: best {best64:.1} ms, mean {mean64:.1} ms, MMD²_u = {v64:.6e}");
}
