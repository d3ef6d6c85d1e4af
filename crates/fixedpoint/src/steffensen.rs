//! Steffensen's method (Aitken's del² on each pair of Picard steps) for scalar fixed points, in
//! the form of scipy's `fixed_point(method="del2")`.

use crate::check;
use crate::error::{Divergence, Error, Result};
use crate::scalar::from_f64;
use nalgebra::RealField;

/// Options of [`steffensen`], with scipy's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteffensenOptions<T> {
    /// Relative tolerance |p − p₀|/|p₀| < xtol (absolute |p| < xtol when p₀ = 0); default 1e-8.
    pub xtol: T,
    /// Maximum number of del² steps (each costs two map evaluations); default 500.
    pub max_iter: usize,
}

impl<T: RealField + Copy> Default for SteffensenOptions<T> {
    fn default() -> Self {
        Self {
            xtol: from_f64(1e-8),
            max_iter: 500,
        }
    }
}

/// A scalar fixed point found by [`steffensen`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalarFixedPoint<T> {
    /// The fixed point estimate.
    pub point: T,
    /// Number of del² steps taken.
    pub iterations: usize,
    /// The last relative change |p − p₀|/|p₀| (absolute when p₀ = 0).
    pub relative_change: T,
}

/// Solves x = f(x) for scalar f by Steffensen's method: from p₀, p₁ = f(p₀), p₂ = f(p₁), the
/// next estimate is p₀ − (p₁ − p₀)²/(p₂ − 2p₁ + p₀) (p₂ when the denominator vanishes),
/// stopping on a relative change below `xtol`. Converges quadratically at a simple fixed point
/// even where plain iteration does not (|f'(x*)| > 1).
///
/// ```
/// use fixedpoint::{steffensen, SteffensenOptions};
/// // x = 2x − 1 is repelling for plain iteration (f' = 2), but del² lands on x* = 1.
/// let sol = steffensen(|x: f64| 2.0 * x - 1.0, 3.0, &SteffensenOptions::default())?;
/// assert!((sol.point - 1.0).abs() < 1e-12);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn steffensen<T, F>(mut f: F, x0: T, opts: &SteffensenOptions<T>) -> Result<ScalarFixedPoint<T>>
where
    T: RealField + Copy,
    F: FnMut(T) -> T,
{
    check::positive("xtol", opts.xtol)?;
    if opts.max_iter == 0 {
        return Err(Error::InvalidInput("max_iter must be at least 1".into()));
    }
    if !x0.is_finite() {
        return Err(Error::InvalidInput(format!("x0 is not finite: {x0}")));
    }
    let two = T::one() + T::one();
    let mut p0 = x0;
    let mut tail = Vec::new();
    for iteration in 1..=opts.max_iter {
        let p1 = f(p0);
        let p2 = f(p1);
        let d = p2 - two * p1 + p0;
        let p = if d != T::zero() {
            p0 - (p1 - p0) * (p1 - p0) / d
        } else {
            p2
        };
        if !p.is_finite() {
            return Err(Error::Diverged {
                iteration,
                reason: Divergence::NonFinite { row: 0, col: 0 },
            });
        }
        let change = if p0 != T::zero() {
            ((p - p0) / p0).abs()
        } else {
            p.abs()
        };
        if change < opts.xtol {
            return Ok(ScalarFixedPoint {
                point: p,
                iterations: iteration,
                relative_change: change,
            });
        }
        if tail.len() == 16 {
            tail.remove(0);
        }
        tail.push(crate::scalar::to_f64(change));
        p0 = p;
    }
    Err(Error::NotConverged {
        iterations: opts.max_iter,
        residual_tail: tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogisticMap;

    #[test]
    fn finds_cos_fixed_point_like_scipy() {
        // scipy.optimize.fixed_point(np.cos, 1.0) = 0.7390851332151607.
        let sol = steffensen(f64::cos, 1.0, &SteffensenOptions::default()).unwrap();
        assert!((sol.point - 0.739_085_133_215_160_7).abs() < 1e-12);
        assert!(sol.iterations < 10);
    }

    #[test]
    fn reaches_the_unstable_logistic_fixed_point() {
        let m = LogisticMap::new(3.2f64).unwrap();
        let sol = steffensen(|x| m.apply(x), 0.6, &SteffensenOptions::default()).unwrap();
        assert!((sol.point - m.fixed_point().unwrap()).abs() < 1e-10);
    }

    #[test]
    fn zero_fixed_point_uses_the_absolute_test() {
        let sol = steffensen(|x: f64| 0.5 * x.sin(), 0.3, &SteffensenOptions::default()).unwrap();
        assert!(sol.point.abs() < 1e-8);
    }

    #[test]
    fn failures_are_errors() {
        let opts = SteffensenOptions {
            max_iter: 3,
            ..Default::default()
        };
        assert!(matches!(
            steffensen(|x: f64| x + 1.0, 0.0, &opts),
            Err(Error::NotConverged { iterations: 3, .. })
        ));
        assert!(steffensen(f64::cos, f64::NAN, &SteffensenOptions::default()).is_err());
    }
}
