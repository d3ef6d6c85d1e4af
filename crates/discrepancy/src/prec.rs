//! Test tolerances, in one place.

/// Agreement of two `f64` computations of the same sum in a different order.
pub(crate) const F64_REORDER: f64 = 1e-12;
/// Agreement of an `f32` kernel evaluation with its `f64` reference, relative.
pub(crate) const F32_REL: f64 = 1e-5;
