//! A multi-scale kernel: the sum of one kernel family over several widths.

use crate::kernel::{Bandwidth, Kernel};
use crate::scalar::from_f64;
use crate::{Error, InverseMultiquadric, Result};
use nalgebra::RealField;

/// The sum `k(x, y) = Σₛ kₛ(x, y)` of several kernels, usually one family at several widths.
///
/// A positive sum of positive-definite kernels is positive definite, so every law of
/// [`Kernel`] carries over; `k(x, x) = Σₛ kₛ(x, x)` (3 for three inverse multiquadrics).
/// Mixing scales makes the MMD sensitive to differences at every scale, which is why INN
/// training uses it.
///
/// ```
/// use discrepancy::{InverseMultiquadric, Kernel, MultiScale};
/// let k = MultiScale::<InverseMultiquadric<f64>>::from_widths(&[0.5, 1.0])?;
/// // d² = 1: 0.25/1.25 + 1/2 = 0.7.
/// assert!((k.eval(&[0.0], &[1.0])? - 0.7).abs() < 1e-15);
/// assert_eq!(k.diagonal(), 2.0);
/// # Ok::<(), discrepancy::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultiScale<K> {
    kernels: Vec<K>,
}

impl<K> MultiScale<K> {
    /// The sum of the given kernels.
    ///
    /// # Errors
    /// [`Error::NoWidths`] when `kernels` is empty.
    pub fn new(kernels: Vec<K>) -> Result<Self> {
        if kernels.is_empty() {
            return Err(Error::NoWidths);
        }
        Ok(Self { kernels })
    }

    /// The summed kernels, in the order given.
    pub fn kernels(&self) -> &[K] {
        &self.kernels
    }

    /// The family `K` at each of `widths`.
    ///
    /// # Errors
    /// [`Error::NoWidths`] for an empty list; [`Error::InvalidWidth`] naming the index of the
    /// first width that is not finite and `> 0`.
    pub fn from_widths<T>(widths: &[T]) -> Result<Self>
    where
        T: RealField + Copy,
        K: Bandwidth<T>,
    {
        let kernels = widths
            .iter()
            .enumerate()
            .map(|(index, &w)| {
                K::with_width(w).map_err(|e| match e {
                    Error::InvalidWidth { value, .. } => Error::InvalidWidth { index, value },
                    other => other,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(kernels)
    }

    /// The widths of the summed kernels.
    pub fn widths<T>(&self) -> Vec<T>
    where
        T: RealField + Copy,
        K: Bandwidth<T>,
    {
        self.kernels.iter().map(Bandwidth::width).collect()
    }
}

/// The widths of the INN papers' multi-scale inverse multiquadric (Ardizzone et al. 2019, toy
/// experiments): one narrow, one medium, one wide scale for standardised data, so that the MMD
/// sees both the placement of modes and their shapes.
pub const INN_KERNEL_WIDTHS: [f64; 3] = [0.05, 0.2, 0.9];

impl<T: RealField + Copy> MultiScale<InverseMultiquadric<T>> {
    /// The INN default: inverse multiquadrics with widths [`INN_KERNEL_WIDTHS`]
    /// (`h ∈ {0.05, 0.2, 0.9}`), `k = Σ_h h²/(h² + ‖x − y‖²)`.
    pub fn inn_default() -> Self {
        // The three constants are valid widths in both f32 and f64, so nothing is filtered out.
        let kernels = INN_KERNEL_WIDTHS
            .into_iter()
            .filter_map(|h| InverseMultiquadric::new(from_f64::<T>(h)).ok())
            .collect();
        Self { kernels }
    }
}

impl<T: RealField + Copy, K: Kernel<T>> Kernel<T> for MultiScale<K> {
    #[inline]
    fn eval_sq(&self, d2: T) -> T {
        self.kernels
            .iter()
            .fold(T::zero(), |acc, k| acc + k.eval_sq(d2))
    }

    /// Delegates to the family's [`Kernel::accumulate_scales_sq`], which may fuse the scales.
    #[inline]
    fn accumulate_sq(&self, d2: &[T], out: &mut [T]) {
        K::accumulate_scales_sq(&self.kernels, d2, out);
    }
}

impl<T: autodiff::Float, K: crate::DifferentiableKernel<T>> crate::DifferentiableKernel<T>
    for MultiScale<K>
{
    fn eval_sq_var<'t>(&self, d2: autodiff::Var<'t, T>) -> Result<autodiff::Var<'t, T>> {
        let mut total = self.kernels[0].eval_sq_var(d2)?;
        for k in &self.kernels[1..] {
            total = total.add(k.eval_sq_var(d2)?)?;
        }
        Ok(total)
    }

    fn eval_sq_with_slope(&self, d2: T) -> (T, T) {
        self.kernels
            .iter()
            .fold((T::zero(), T::zero()), |(v, s), k| {
                let (kv, ks) = k.eval_sq_with_slope(d2);
                (v + kv, s + ks)
            })
    }

    /// One batch pass of each scale's [`crate::DifferentiableKernel::accumulate_sq_with_slope`].
    #[inline(always)]
    fn accumulate_sq_with_slope(&self, d2: &[T], value: &mut [T], slope: &mut [T]) {
        for k in &self.kernels {
            k.accumulate_sq_with_slope(d2, value, slope);
        }
    }
}
