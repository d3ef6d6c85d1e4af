//! Runtime dispatch of hot elementwise loops to the widest vector instructions the CPU has.
//!
//! The workspace compiles for the baseline of its target (SSE2 on x86-64), so loops the
//! compiler vectorises use 4-lane `f32` vectors even on a CPU with AVX-512. [`dispatch`] runs a
//! closure inside a function compiled with AVX-512 (or AVX2 + FMA) enabled when the running CPU
//! has it (detected once, through `pulp`'s safe dispatch); the closure and the
//! `#[inline(always)]` helpers it calls are inlined there and vectorised for that width.
//! Binaries stay portable: a CPU without the features takes the baseline path.
//!
//! Results do not depend on the path: Rust never contracts `a * b + c` into a fused
//! multiply-add or reorders floating-point operations, so the wider code computes the same
//! roundings in the same order (the reductions' explicit lane accumulators fix their order).
//! Checked end to end: all ten figures of `cargo xtask reproduce-figures` (training runs of
//! flows, INNs and cINNs included) come out byte-identical with `INN_SIMD=baseline`.
//!
//! Measured on the benchmark machine (AMD Zen 5, 2 cores): building the whole workspace with
//! `-C target-cpu=native` instead of the baseline made the INN step of config D 9 % faster and
//! the 2-D flow step of config A 4 % faster, which is what dispatching the hot loops recovers
//! without tying binaries to one CPU.

use std::sync::OnceLock;

/// The vector instruction set [`dispatch`] runs closures with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The compilation target's baseline (SSE2 on x86-64).
    Baseline,
    /// x86-64-v3: AVX2 with FMA.
    Avx2,
    /// x86-64-v4: AVX-512 F/VL/BW/DQ/CD.
    Avx512,
    /// Another architecture's best set, as `pulp` detects it.
    Other,
}

static ARCH: OnceLock<pulp::Arch> = OnceLock::new();

/// `pulp`'s detected instruction set, once per process; `INN_SIMD=baseline` in the environment
/// forces the baseline path (to compare the two).
fn arch() -> pulp::Arch {
    *ARCH.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if std::env::var_os("INN_SIMD").is_some_and(|v| v == "baseline") {
            return pulp::Arch::Scalar;
        }
        pulp::Arch::new()
    })
}

/// The level this process dispatches to.
pub fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        match arch() {
            pulp::Arch::Scalar => Level::Baseline,
            pulp::Arch::V3(_) => Level::Avx2,
            pulp::Arch::V4(_) => Level::Avx512,
            _ => Level::Other,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = arch();
        Level::Other
    }
}

/// Runs `f` compiled for the best available [`Level`] (through `pulp`'s safe dispatch).
///
/// Only code inlined into the dispatched function is compiled for the wider instructions, and
/// the compiler does not inline large closures on its own: mark the closure
/// `#[inline(always)]` and make its callees `#[inline(always)]` too. Make it a `move` closure
/// that owns what it writes (a `Vec` moved in and returned) and copies its scalars: the
/// dispatched function sees the closure through a pointer, so values it borrowed from the
/// caller may alias the output and get reloaded on every iteration, which stops the loop from
/// vectorising (measured: a 2-D flow step 10 % slower than without dispatch).
///
/// ```
/// let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
/// let y = vec![0.0f32; 1000];
/// let y = autodiff::simd::dispatch(
///     #[inline(always)]
///     move || {
///         let mut y = y;
///         for (o, &v) in y.iter_mut().zip(&x) {
///             *o = 1.0 / (1.0 + v * v);
///         }
///         y
///     },
/// );
/// assert_eq!(y[2], 0.2);
/// ```
#[inline(always)]
pub fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    arch().dispatch(f)
}

/// `dst[i] += src[i]` (equal lengths; extra entries of the longer slice are ignored),
/// dispatched.
pub fn add_assign<T: Copy + std::ops::AddAssign>(dst: &mut [T], src: &[T]) {
    dispatch(
        #[inline(always)]
        move || add_slices(dst, src),
    );
}

/// `dst[i] += src[i]`, for use inside a [`dispatch`]ed closure.
#[inline(always)]
pub fn add_slices<T: Copy + std::ops::AddAssign>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_computes_the_same_roundings() {
        let x: Vec<f32> = (0..1003).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let run = || {
            let mut lanes = [0.0f32; 8];
            for c in x.chunks_exact(8) {
                for (l, &v) in lanes.iter_mut().zip(c) {
                    *l += v * 1.5 + 0.25;
                }
            }
            (
                lanes,
                x.iter()
                    .map(|v| v.exp() / (1.0 + v * v))
                    .collect::<Vec<_>>(),
            )
        };
        let plain = run();
        assert_eq!(dispatch(run), plain);
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(v3) = pulp::x86::V3::try_new() {
                assert_eq!(v3.vectorize(run), plain);
            }
            if let Some(v4) = pulp::x86::V4::try_new() {
                assert_eq!(v4.vectorize(run), plain);
            }
        }
    }
}
