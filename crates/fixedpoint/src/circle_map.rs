//! The standard circle map θ ↦ θ + Ω − (K/2π)·sin(2πθ), as a map of [0, 1) and as its lift
//! to ℝ, with circular distance, rotation number and fixed points.

use crate::error::{Error, Result};
use nalgebra::{DMatrix, RealField};

/// The circle map with frequency Ω and coupling K ≥ 0 (Arnold 1965).
///
/// It has a fixed point (mod 1) iff dist(Ω, ℤ) ≤ K/(2π); it is never a global contraction.
///
/// ```
/// use fixedpoint::CircleMap;
/// let locked = CircleMap::new(0.1, 0.7)?;
/// let theta = locked.fixed_points()[0];
/// assert!(fixedpoint::circular_distance(theta, 0.177345) < 1e-6);
/// assert!(!CircleMap::new(0.1, 0.5)?.has_fixed_point());
/// # Ok::<(), fixedpoint::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircleMap<T> {
    omega: T,
    k: T,
}

impl<T: RealField + Copy> CircleMap<T> {
    /// The map with frequency `omega` and coupling `k`; errors unless both are finite and k ≥ 0.
    pub fn new(omega: T, k: T) -> Result<Self> {
        if !(omega.is_finite() && k.is_finite() && k >= T::zero()) {
            return Err(Error::InvalidInput(format!(
                "circle map needs finite Ω and K ≥ 0, got Ω = {omega}, K = {k}"
            )));
        }
        Ok(Self { omega, k })
    }

    /// The frequency Ω.
    pub fn omega(&self) -> T {
        self.omega
    }

    /// The coupling K.
    pub fn k(&self) -> T {
        self.k
    }

    /// The lift F(θ) = θ + Ω − (K/2π)·sin(2πθ), a map of ℝ with F(θ + 1) = F(θ) + 1.
    pub fn lift(&self, theta: T) -> T {
        theta + self.omega - self.k / T::two_pi() * (T::two_pi() * theta).sin()
    }

    /// The map of the circle: F(θ) mod 1, in [0, 1).
    pub fn apply(&self, theta: T) -> T {
        wrap(self.lift(theta))
    }

    /// [`CircleMap::apply`] on every entry of a batch (`n × d`, one sample per row).
    pub fn apply_batch(&self, theta: &DMatrix<T>) -> DMatrix<T> {
        theta.map(|v| self.apply(v))
    }

    /// F'(θ) = 1 − K·cos(2πθ).
    pub fn derivative(&self, theta: T) -> T {
        T::one() - self.k * (T::two_pi() * theta).cos()
    }

    /// Whether a fixed point exists: dist(Ω, ℤ) ≤ K/(2π) (see [`has_fixed_point`]).
    pub fn has_fixed_point(&self) -> bool {
        has_fixed_point(self.omega, self.k)
    }

    /// The fixed points in [0, 1), the attracting one (|F'| < 1 when K is small enough) first:
    /// solutions of sin(2πθ) = 2π(Ω − j)/K with j the integer nearest to Ω. Empty when none
    /// exists; one point when the two coincide (saddle-node, dist(Ω, ℤ) = K/(2π)).
    pub fn fixed_points(&self) -> Vec<T> {
        if !self.has_fixed_point() || self.k == T::zero() {
            // K = 0 with Ω ∈ ℤ fixes every point; no isolated fixed point to report.
            return Vec::new();
        }
        let s =
            (T::two_pi() * (self.omega - self.omega.round()) / self.k).clamp(-T::one(), T::one());
        let a = s.asin() / T::two_pi();
        let half = T::one() / (T::one() + T::one());
        let (first, second) = (wrap(a), wrap(half - a));
        if first == second {
            vec![first]
        } else {
            vec![first, second]
        }
    }

    /// Rotation number estimate (Fⁿ(θ₀) − θ₀)/n from the lift; `None` when n = 0.
    pub fn rotation_number(&self, theta0: T, n: usize) -> Option<T> {
        if n == 0 {
            return None;
        }
        let end = (0..n).fold(theta0, |t, _| self.lift(t));
        Some((end - theta0) / nalgebra::convert(n as f64))
    }
}

/// Whether the circle map with frequency `omega` and coupling `k` has a fixed point mod 1:
/// dist(Ω, ℤ) ≤ K/(2π).
pub fn has_fixed_point<T: RealField + Copy>(omega: T, k: T) -> bool {
    (omega - omega.round()).abs() <= k / T::two_pi()
}

/// Distance of two angles measured in turns: min(|a − b| mod 1, 1 − |a − b| mod 1), in [0, ½].
/// So 0.0 and 1.0 are the same point and 0.95 is 0.1 away from 0.05.
pub fn circular_distance<T: RealField + Copy>(a: T, b: T) -> T {
    let d = wrap(a - b);
    d.min(T::one() - d)
}

/// θ mod 1 in [0, 1).
fn wrap<T: RealField + Copy>(theta: T) -> T {
    let w = theta - theta.floor();
    // floor can round a tiny negative θ up to exactly 1.
    if w >= T::one() { T::zero() } else { w }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_exists_iff_coupling_is_strong_enough() {
        assert!(!has_fixed_point(0.1, 0.5));
        assert!(has_fixed_point(0.1, 0.7));
        assert!(has_fixed_point(0.95, 0.4));
        assert!(!has_fixed_point(0.5, 3.0));
        assert!(has_fixed_point(0.5, 3.2));
    }

    #[test]
    fn fixed_points_are_fixed_and_the_first_attracts() {
        let m = CircleMap::new(0.1f64, 0.7).unwrap();
        let pts = m.fixed_points();
        assert_eq!(pts.len(), 2);
        assert!(circular_distance(pts[0], 0.177345) < 1e-6);
        for &p in &pts {
            assert!(circular_distance(m.apply(p), p) < 1e-14);
        }
        assert!(m.derivative(pts[0]).abs() < 1.0 && m.derivative(pts[1]).abs() > 1.0);
        assert!(
            CircleMap::new(0.1f64, 0.5)
                .unwrap()
                .fixed_points()
                .is_empty()
        );
    }

    #[test]
    fn rotation_number_of_the_unlocked_map() {
        let m = CircleMap::new(0.1f64, 0.5).unwrap();
        let rho = m.rotation_number(0.0, 100_000).unwrap();
        assert!((rho - 0.061).abs() < 1e-3, "rotation number {rho}");
        let locked = CircleMap::new(0.1f64, 0.7).unwrap();
        assert!(locked.rotation_number(0.3, 100_000).unwrap().abs() < 1e-4);
        assert_eq!(m.rotation_number(0.0, 0), None);
    }

    #[test]
    fn circular_distance_wraps() {
        assert_eq!(circular_distance(0.0f64, 1.0), 0.0);
        assert!((circular_distance(0.95f64, 0.05) - 0.1).abs() < 1e-12);
        assert!((circular_distance(0.2f64, 0.7) - 0.5).abs() < 1e-12);
        assert!((circular_distance(-0.25f64, 0.25) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn invalid_parameters_are_errors() {
        assert!(CircleMap::new(f64::NAN, 0.5).is_err());
        assert!(CircleMap::new(0.1, -0.5).is_err());
    }
}
