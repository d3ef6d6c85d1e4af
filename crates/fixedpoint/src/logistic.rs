//! The logistic map x ↦ r·x·(1 − x): fixed point, derivative and 2-cycle in closed form.

use crate::error::{Error, Result};
use nalgebra::{DMatrix, RealField};

/// The logistic map f(x) = r·x·(1 − x) on [0, 1], 0 ≤ r ≤ 4.
///
/// The fixed point 1 − 1/r (r > 1) has f' = 2 − r, so it attracts for 1 < r < 3; a 2-cycle
/// takes over for 3 < r < 1 + √6, then period doubling leads to chaos from r ≈ 3.569946.
///
/// ```
/// let map = fixedpoint::LogisticMap::new(2.8_f64)?;
/// assert!((map.fixed_point().unwrap() - 0.642857).abs() < 1e-6);
/// assert!((map.derivative(map.fixed_point().unwrap()) + 0.8).abs() < 1e-12);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticMap<T> {
    r: T,
}

impl<T: RealField + Copy> LogisticMap<T> {
    /// The map with parameter `r`; errors unless 0 ≤ r ≤ 4 (so that [0, 1] maps into itself).
    pub fn new(r: T) -> Result<Self> {
        let four = T::one() + T::one() + T::one() + T::one();
        if !(r >= T::zero() && r <= four) {
            return Err(Error::InvalidInput(format!(
                "logistic parameter r must lie in [0, 4], got {r}"
            )));
        }
        Ok(Self { r })
    }

    /// The parameter r.
    pub fn r(&self) -> T {
        self.r
    }

    /// f(x) = r·x·(1 − x).
    pub fn apply(&self, x: T) -> T {
        self.r * x * (T::one() - x)
    }

    /// f applied to every entry of a batch (`n × d`, one sample per row).
    pub fn apply_batch(&self, x: &DMatrix<T>) -> DMatrix<T> {
        x.map(|v| self.apply(v))
    }

    /// f'(x) = r·(1 − 2x).
    pub fn derivative(&self, x: T) -> T {
        self.r * (T::one() - x - x)
    }

    /// The non-trivial fixed point 1 − 1/r, or `None` for r ≤ 1 (only 0 is fixed in [0, 1]).
    pub fn fixed_point(&self) -> Option<T> {
        (self.r > T::one()).then(|| T::one() - T::one() / self.r)
    }

    /// The 2-cycle (r + 1 ∓ √((r + 1)(r − 3))) / (2r), smaller point first, for r > 3.
    pub fn two_cycle(&self) -> Option<(T, T)> {
        let three = T::one() + T::one() + T::one();
        if self.r <= three {
            return None;
        }
        let s = ((self.r + T::one()) * (self.r - three)).sqrt();
        let denom = self.r + self.r;
        Some((
            (self.r + T::one() - s) / denom,
            (self.r + T::one() + s) / denom,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms_match_the_reference_values() {
        let m = LogisticMap::new(2.8f64).unwrap();
        let x = m.fixed_point().unwrap();
        assert!((x - 0.642857).abs() < 1e-6);
        assert!((m.apply(x) - x).abs() < 1e-15);
        assert!((m.derivative(x) + 0.8).abs() < 1e-12);
        let (a, b) = LogisticMap::new(3.2f64).unwrap().two_cycle().unwrap();
        assert!((a - 0.513045).abs() < 1e-6 && (b - 0.799455).abs() < 1e-6);
        let m = LogisticMap::new(3.2f64).unwrap();
        assert!((m.apply(a) - b).abs() < 1e-14 && (m.apply(b) - a).abs() < 1e-14);
        assert!(m.two_cycle().is_some() && LogisticMap::new(2.9).unwrap().two_cycle().is_none());
        assert_eq!(LogisticMap::new(0.5).unwrap().fixed_point(), None);
    }

    #[test]
    fn parameters_outside_0_4_are_errors() {
        for r in [-0.1, 4.1, f64::NAN] {
            assert!(matches!(LogisticMap::new(r), Err(Error::InvalidInput(_))));
        }
    }
}
