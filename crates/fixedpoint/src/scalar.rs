//! Conversions between the generic scalar `T` and `f64`, and the default tolerances derived
//! from `T`'s machine epsilon.

use nalgebra::RealField;

/// `x` as a `T` (exact for f64, rounded for f32).
pub(crate) fn from_f64<T: RealField + Copy>(x: f64) -> T {
    nalgebra::convert(x)
}

/// `x` as an `f64` (exact for f32 and f64).
pub(crate) fn to_f64<T: RealField + Copy>(x: T) -> f64 {
    x.to_subset().unwrap_or(f64::NAN)
}

/// `max(floor, factor · ε_T)`: a tolerance that is `floor` for f64 and a few hundred ulps for f32.
pub(crate) fn eps_tolerance<T: RealField + Copy>(floor: f64, factor: f64) -> T {
    let eps = to_f64(T::default_epsilon());
    from_f64(floor.max(factor * eps))
}
