//! The Laplace kernel `exp(−‖x − y‖ / h)`.

use crate::kernel::{Bandwidth, Kernel, check_width};
use crate::{Error, Result};
use nalgebra::RealField;

/// Laplace kernel `k(x, y) = exp(−‖x − y‖ / h)` with width `h > 0` (the Euclidean distance,
/// not its square, so it is not differentiable at `x = y`).
///
/// ```
/// use discrepancy::{Kernel, Laplace};
/// let k = Laplace::new(2.0_f64)?;
/// // ‖(0,0) − (3,4)‖ = 5, so k = exp(−2.5).
/// assert!((k.eval(&[0.0, 0.0], &[3.0, 4.0])? - (-2.5_f64).exp()).abs() < 1e-15);
/// # Ok::<(), discrepancy::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Laplace<T> {
    h: T,
    neg_inv_h: T,
}

impl<T: RealField + Copy> Laplace<T> {
    /// A Laplace kernel of width `h`.
    ///
    /// # Errors
    /// [`Error::InvalidWidth`] unless `h` is finite, `> 0`, and `1/h` is finite.
    pub fn new(h: T) -> Result<Self> {
        let h = check_width(h, 0)?;
        let neg_inv_h = -(T::one() / h);
        if !neg_inv_h.is_finite() {
            return Err(Error::InvalidWidth {
                index: 0,
                value: crate::scalar::to_f64(h),
            });
        }
        Ok(Self { h, neg_inv_h })
    }

    /// The width `h`.
    pub fn h(&self) -> T {
        self.h
    }
}

impl<T: RealField + Copy> Kernel<T> for Laplace<T> {
    #[inline]
    fn eval_sq(&self, d2: T) -> T {
        (d2.sqrt() * self.neg_inv_h).exp()
    }
}

impl<T: RealField + Copy> Bandwidth<T> for Laplace<T> {
    fn with_width(width: T) -> Result<Self> {
        Self::new(width)
    }
    fn width(&self) -> T {
        self.h
    }
}
