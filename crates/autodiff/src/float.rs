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
}

/// Shorthand for [`Float::of_f64`], handy in generic numeric code.
#[inline]
pub fn lit<T: Float>(x: f64) -> T {
    T::of_f64(x)
}
