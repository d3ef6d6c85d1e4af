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

    /// Three scales share one division:
    /// `Σₛ hₛ²/(hₛ² + r) = (h₁²·bc + h₂²·ac + h₃²·ab) / (abc)` with `a = h₁² + r`, …, and two
    /// scales likewise; division is the slow part of this kernel. The fused form is used only
    /// when no product can overflow or lose precision for the largest `r` in the slice
    /// (otherwise one division per scale, as the default).
    fn accumulate_scales_sq(kernels: &[Self], d2: &[T], out: &mut [T]) {
        let r_max = max_of(d2);
        let mut triples = kernels.chunks_exact(3);
        for group in &mut triples {
            let [a, b, c] = [group[0].h2, group[1].h2, group[2].h2];
            if fusable(&[a, b, c], r_max) {
                for (o, &r) in out.iter_mut().zip(d2) {
                    let (da, db, dc) = (a + r, b + r, c + r);
                    let (ab, bc, ac) = (da * db, db * dc, da * dc);
                    *o += (a * bc + b * ac + c * ab) / (ab * dc);
                }
            } else {
                group.iter().for_each(|k| k.accumulate_sq(d2, out));
            }
        }
        let rest = triples.remainder();
        if let [k1, k2] = rest {
            let (a, b) = (k1.h2, k2.h2);
            if fusable(&[a, b], r_max) {
                for (o, &r) in out.iter_mut().zip(d2) {
                    let (da, db) = (a + r, b + r);
                    *o += (a * db + b * da) / (da * db);
                }
                return;
            }
        }
        rest.iter().for_each(|k| k.accumulate_sq(d2, out));
    }
}

/// The largest of non-negative values (0 for none), with eight independent lanes so the loop
/// vectorises.
fn max_of<T: RealField + Copy>(values: &[T]) -> T {
    let zero = T::zero();
    let mut lanes = [zero; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if v > *lane { v } else { *lane };
        }
    }
    lanes
        .iter()
        .chain(rest)
        .fold(zero, |m, &v| if v > m { v } else { m })
}

/// Whether the products of `(h² + r)` over `widths_sq` stay far from overflow for `r ≤ r_max`
/// and far from the subnormal range at `r = 0`, so the fused form is as accurate as the plain one.
fn fusable<T: RealField + Copy>(widths_sq: &[T], r_max: T) -> bool {
    let margin = T::from_subset(&16_777_216.0); // 2²⁴
    let largest = widths_sq.iter().fold(T::one(), |p, &h2| p * (h2 + r_max));
    let smallest = widths_sq.iter().fold(T::one(), |p, &h2| p * h2);
    (largest * margin).is_finite() && (margin / smallest).is_finite()
}

impl<T: RealField + Copy> Bandwidth<T> for InverseMultiquadric<T> {
    fn with_width(width: T) -> Result<Self> {
        Self::new(width)
    }
    fn width(&self) -> T {
        self.h
    }
}

impl<T: autodiff::Float> crate::DifferentiableKernel<T> for InverseMultiquadric<T> {
    fn eval_sq_var<'t>(&self, d2: autodiff::Var<'t, T>) -> Result<autodiff::Var<'t, T>> {
        Ok(d2.add_scalar(self.h2).recip().scale(self.h2))
    }

    /// `κ' = −h²/(h² + r)² = −κ/(h² + r)`, sharing one division with `κ`.
    #[inline]
    fn eval_sq_with_slope(&self, d2: T) -> (T, T) {
        let inv = T::one() / (self.h2 + d2);
        let k = self.h2 * inv;
        (k, -(k * inv))
    }

    /// One division per entry in a straight loop that the compiler vectorises.
    #[inline(always)]
    fn accumulate_sq_with_slope(&self, d2: &[T], value: &mut [T], slope: &mut [T]) {
        let h2 = self.h2;
        for ((v, s), &r) in value.iter_mut().zip(slope.iter_mut()).zip(d2) {
            let inv = T::one() / (h2 + r);
            let k = h2 * inv;
            *v += k;
            *s -= k * inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused multi-scale loop against one division per scale, relative to the sum.
    fn check_fused<T: RealField + Copy>(widths: &[f64], d2: &[f64], rel: f64) {
        let kernels: Vec<InverseMultiquadric<T>> = widths
            .iter()
            .map(|&h| InverseMultiquadric::new(T::from_subset(&h)).unwrap())
            .collect();
        let d2: Vec<T> = d2.iter().map(|&r| T::from_subset(&r)).collect();
        let mut fused = vec![T::one(); d2.len()];
        InverseMultiquadric::accumulate_scales_sq(&kernels, &d2, &mut fused);
        for (i, &r) in d2.iter().enumerate() {
            let plain = kernels.iter().fold(T::one(), |acc, k| acc + k.eval_sq(r));
            let (f, p): (f64, f64) = (fused[i].to_subset_unchecked(), plain.to_subset_unchecked());
            assert!(
                (f - p).abs() <= rel * p,
                "widths {widths:?}, r {r:?}: {f} vs {p}"
            );
        }
    }

    #[test]
    fn fused_scales_match_one_division_per_scale() {
        let d2 = [
            0.0, 1e-9, 0.003, 0.04, 0.5, 1.0, 7.0, 123.0, 1e6, 3.0, 0.0, 2.0,
        ];
        for widths in [
            &[0.05, 0.2, 0.9][..],
            &[0.1, 3.0],
            &[0.1, 0.2, 0.3, 0.4],
            &[0.1, 0.2, 0.3, 0.4, 5.0],
            &[2.0],
        ] {
            check_fused::<f64>(widths, &d2, 1e-15 * 8.0);
            check_fused::<f32>(widths, &d2, 1e-6);
        }
        // Products that would overflow (huge r) or underflow (tiny widths) in f32 take the
        // one-division-per-scale path and stay exact.
        check_fused::<f32>(&[0.05, 0.2, 0.9], &[0.0, 1.0, 1e30, 3e38], 1e-6);
        check_fused::<f32>(&[1e-12, 1e-11, 1e-10], &[0.0, 1e-25, 1.0], 1e-6);
        check_fused::<f64>(&[1e-120, 1.0, 2.0], &[0.0, 1e-250, 1.0, 1e300], 1e-14);
    }
}
