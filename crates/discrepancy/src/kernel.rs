//! The [`Kernel`] trait: a radial kernel given as a function of the squared distance.

use crate::{Error, Result};
use nalgebra::RealField;

/// A radial positive-definite kernel `k(x, y) = κ(‖x − y‖²)`, given by `κ` ([`Kernel::eval_sq`]).
///
/// Implementations must satisfy these laws (the crate's tests check them for every kernel):
/// - **radial**: `k(x, y)` depends on `x` and `y` only through `r = ‖x − y‖²`, so it is symmetric,
///   `k(x, y) = k(y, x)`, and `k(x, x) = κ(0)` ([`Kernel::diagonal`]);
/// - **bounded and finite**: `κ(r)` is finite for every finite `r ≥ 0`, and `0 < κ(r) ≤ κ(0)`;
/// - **positive definite**: every Gram matrix `[k(xᵢ, xⱼ)]` is positive semi-definite. This is what
///   makes the biased MMD² estimate non-negative and MMD a metric for characteristic kernels
///   (Gaussian, Laplace, inverse multiquadric and positive sums of them);
/// - **consistent batch form**: [`Kernel::accumulate_sq`] adds `κ(rᵢ)` to `out[i]` and
///   [`Kernel::accumulate_scales_sq`] adds the sum over several kernels of the family, both equal
///   to the scalar form up to rounding; they exist so that a kernel can override them with
///   loops the compiler vectorises.
///
/// Callers guarantee `r ≥ 0` (the estimators clamp round-off negatives to 0).
pub trait Kernel<T: RealField + Copy>: Sync {
    /// `κ(r)` for a squared distance `r = ‖x − y‖² ≥ 0`.
    fn eval_sq(&self, d2: T) -> T;

    /// Adds `κ(d2[i])` to `out[i]` for every `i < min(d2.len(), out.len())`.
    #[inline]
    fn accumulate_sq(&self, d2: &[T], out: &mut [T]) {
        for (o, &r) in out.iter_mut().zip(d2) {
            *o += self.eval_sq(r);
        }
    }

    /// Adds `Σₛ κₛ(d2[i])` over all of `kernels` to `out[i]`: the batch form of a
    /// [`crate::MultiScale`] sum, which calls it. It must agree with calling
    /// [`Kernel::accumulate_sq`] once per kernel (the default does exactly that) up to
    /// rounding; a family may override it to share work between scales.
    #[inline]
    fn accumulate_scales_sq(kernels: &[Self], d2: &[T], out: &mut [T])
    where
        Self: Sized,
    {
        for k in kernels {
            k.accumulate_sq(d2, out);
        }
    }

    /// `k(x, y)` for two points given as slices of equal length.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the slices differ in length.
    fn eval(&self, x: &[T], y: &[T]) -> Result<T> {
        if x.len() != y.len() {
            return Err(Error::LengthMismatch {
                x_len: x.len(),
                y_len: y.len(),
            });
        }
        let d2 = x.iter().zip(y).fold(T::zero(), |acc, (&a, &b)| {
            let diff = a - b;
            acc + diff * diff
        });
        Ok(self.eval_sq(d2))
    }

    /// `k(x, x) = κ(0)`, the value on the diagonal of every Gram matrix.
    fn diagonal(&self) -> T {
        self.eval_sq(T::zero())
    }
}

/// A kernel family indexed by one width `h > 0`, so that [`crate::MultiScale`] can be built from
/// a list of widths.
pub trait Bandwidth<T: RealField + Copy>: Kernel<T> + Sized {
    /// The family member with width `width`.
    ///
    /// # Errors
    /// [`Error::InvalidWidth`] (index 0) unless `width` is finite and `> 0`.
    fn with_width(width: T) -> Result<Self>;

    /// The width this kernel was built with.
    fn width(&self) -> T;
}

/// Checks that a width is finite and strictly positive; `index` names it in the error.
pub(crate) fn check_width<T: RealField + Copy>(width: T, index: usize) -> Result<T> {
    if width.is_finite() && width > T::zero() {
        Ok(width)
    } else {
        Err(Error::InvalidWidth {
            index,
            value: crate::scalar::to_f64(width),
        })
    }
}
