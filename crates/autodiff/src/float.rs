//! The scalar trait shared by the whole workspace: `f32` (fast training) and `f64` (tight tests).

use nalgebra::RealField;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::{Debug, Display};

/// A real scalar the engine computes with: implemented for `f32` and `f64` only.
///
/// It extends nalgebra's [`RealField`] (which provides `exp`, `ln`, `tanh`, … and makes
/// nalgebra's GEMM dispatch to `matrixmultiply`) with lossless-enough conversions to and
/// from `f64`, used for tolerances, statistics and reporting.
pub trait Float:
    RealField
    + Copy
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Serialize
    + DeserializeOwned
    + crate::pool::Pooled
    + 'static
{
    /// Converts from `f64` (rounding to nearest for `f32`).
    fn of_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// A short name for reports (`"f32"` or `"f64"`).
    const NAME: &'static str;

    /// `tanh x` as the engine's activations compute it: for `f64` the library `tanh`; for `f32`
    /// a rational approximation (Eigen's `generic_fast_tanh_float`: odd degree-13 numerator,
    /// even degree-6 denominator, input clamped to ±7.905, where it is ±1 in `f32`) that is
    /// within 5·10⁻⁷ of the exact value (8 ulp near ±1) and, being plain multiplications, additions and one
    /// division, vectorises in the dispatched loops — `tanhf` is a scalar library call, and
    /// made tanh subnets train three times slower than ReLU ones.
    fn fast_tanh(self) -> Self;
}

impl Float for f32 {
    #[inline]
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    const NAME: &'static str = "f32";

    #[inline]
    fn fast_tanh(self) -> Self {
        // Coefficients of Eigen's generic_fast_tanh_float (MPL-2.0 licensed constants of a
        // minimax rational fit); beyond ±7.905 tanh rounds to ±1 in f32.
        const A: [f32; 7] = [
            4.893_524_6e-3,
            6.372_619_3e-4,
            1.485_722_4e-5,
            5.122_297e-8,
            -8.604_672e-11,
            2.000_188e-13,
            -2.760_768_5e-16,
        ];
        const B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];
        let x = self.clamp(-7.905_311, 7.905_311);
        // Horner with separate multiplications and additions: `mul_add` is a library call on
        // CPUs without FMA, where the baseline build of the dispatched loops runs.
        let x2 = x * x;
        let p = A[1..].iter().rev().fold(0.0f32, |acc, &a| acc * x2 + a);
        let p = p * x2 + A[0];
        let q = ((B[3] * x2 + B[2]) * x2 + B[1]) * x2 + B[0];
        x * p / q
    }
}

impl Float for f64 {
    #[inline]
    fn of_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    const NAME: &'static str = "f64";

    #[inline]
    fn fast_tanh(self) -> Self {
        self.tanh()
    }
}

/// Shorthand for [`Float::of_f64`], handy in generic numeric code.
#[inline]
pub fn lit<T: Float>(x: f64) -> T {
    T::of_f64(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The f32 approximation against f64's tanh on a dense grid over the whole range, at the
    /// clamp, at the small-argument switch, and for infinities and NaN.
    #[test]
    fn fast_tanh_f32_is_within_5e_7_of_tanh() {
        let mut worst = 0.0f64;
        let n = 400_000;
        for i in 0..=n {
            let x = -10.0 + 20.0 * i as f64 / n as f64;
            let approx = f64::from((x as f32).fast_tanh());
            worst = worst.max((approx - f64::from(x as f32).tanh()).abs());
        }
        assert!(worst < 5e-7, "max error {worst}");
        for x in [4e-4f32, -4e-4, 3.99e-4, 7.905_311, -7.905_311, 1e-30, 0.0] {
            let e = (f64::from(x.fast_tanh()) - f64::from(x).tanh()).abs();
            assert!(e < 5e-7, "{x}: {e}");
        }
        assert_eq!(f32::INFINITY.fast_tanh(), 7.905_311f32.fast_tanh());
        assert!(f32::NAN.fast_tanh().is_nan());
        assert_eq!(0.3f64.fast_tanh(), 0.3f64.tanh());
    }
}
