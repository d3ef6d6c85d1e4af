//! The inverse multiquadric kernel `h² / (h² + ‖x − y‖²)`, the INN papers' choice.

use crate::kernel::{Bandwidth, Kernel, check_width};
use crate::{Error, Result};
use nalgebra::RealField;

/// Inverse multiquadric kernel `k(x, y) = h² / (h² + ‖x − y‖²)` with width `h > 0`.
///
/// Its heavy tails keep gradients alive between far-apart samples, which is why the INN toy
/// code (Ardizzone et al. 2019) trains with a sum of three of them, see
/// [`crate::MultiScale::inn_default`]. `k(x, x) = 1`.
///
/// ```
/// use discrepancy::{InverseMultiquadric, Kernel};
/// let k = InverseMultiquadric::new(0.5_f64)?;
/// // d² = 1, so k = 0.25 / 1.25 = 0.2.
/// assert!((k.eval(&[1.0], &[2.0])? - 0.2).abs() < 1e-15);
/// # Ok::<(), discrepancy::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InverseMultiquadric<T> {
    h: T,
    h2: T,
}

impl<T: RealField + Copy> InverseMultiquadric<T> {
    /// An inverse multiquadric kernel of width `h`.
    ///
    /// # Errors
    /// [`Error::InvalidWidth`] unless `h` is finite, `> 0`, and `h²` is finite and non-zero.
    pub fn new(h: T) -> Result<Self> {
        let h = check_width(h, 0)?;
        let h2 = h * h;
        if !(h2.is_finite() && h2 > T::zero()) {
            return Err(Error::InvalidWidth {
                index: 0,
                value: crate::scalar::to_f64(h),
            });
        }
        Ok(Self { h, h2 })
    }

    /// The width `h`.
    pub fn h(&self) -> T {
        self.h
    }
}

impl<T: RealField + Copy> Kernel<T> for InverseMultiquadric<T> {
    #[inline]
    fn eval_sq(&self, d2: T) -> T {
        self.h2 / (self.h2 + d2)
    }

    /// A straight loop of divisions that the compiler vectorises.
    #[inline]
    fn accumulate_sq(&self, d2: &[T], out: &mut [T]) {
        let h2 = self.h2;
        for (o, &r) in out.iter_mut().zip(d2) {
            *o += h2 / (h2 + r);
        }
    }
}

impl<T: RealField + Copy> Bandwidth<T> for InverseMultiquadric<T> {
    fn with_width(width: T) -> Result<Self> {
        Self::new(width)
    }
    fn width(&self) -> T {
        self.h
    }
}
