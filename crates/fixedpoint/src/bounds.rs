//! Banach error bounds for a contraction with constant c: a-posteriori, a-priori, and the
//! number of iterations the a-priori bound needs to reach a tolerance.
//!
//! For f with ‖f(x) − f(y)‖ ≤ c‖x − y‖, c < 1, and xₙ = f(xₙ₋₁) (Banach 1922):
//! ‖xₙ − x*‖ ≤ c/(1−c)·‖xₙ − xₙ₋₁‖ (a posteriori) ≤ cⁿ/(1−c)·‖x₁ − x₀‖ (a priori).

use crate::check;
use crate::error::{Error, Result};
use crate::scalar::to_f64;
use nalgebra::RealField;

/// A-posteriori bound c/(1−c)·‖xₙ − xₙ₋₁‖ on ‖xₙ − x*‖, from the last step.
///
/// It also bounds ‖f(y) − x*‖ for any point y with `step` = ‖f(y) − y‖, which is how the
/// Anderson-accelerated iteration uses it.
pub fn a_posteriori_bound<T: RealField + Copy>(c: T, step: T) -> Result<T> {
    check::contraction_constant(c)?;
    check::non_negative("step", step)?;
    Ok(c / (T::one() - c) * step)
}

/// A-priori bound cⁿ/(1−c)·‖x₁ − x₀‖ on ‖xₙ − x*‖, from the first step only.
pub fn a_priori_bound<T: RealField + Copy>(c: T, n: usize, first_step: T) -> Result<T> {
    check::contraction_constant(c)?;
    check::non_negative("first_step", first_step)?;
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    Ok(c.powi(n) / (T::one() - c) * first_step)
}

/// The smallest n with cⁿ/(1−c)·‖x₁ − x₀‖ ≤ `tol`, i.e. ⌈ln(tol·(1−c)/‖x₁ − x₀‖) / ln c⌉
/// (0 when the first step is already small enough).
///
/// For an error of 1e-6 with a first step of 1: c = 0.5 → 21, c = 0.9 → 153, c = 0.97 → 569.
///
/// ```
/// assert_eq!(fixedpoint::iterations_needed(0.9, 1.0, 1e-6).unwrap(), 153);
/// ```
pub fn iterations_needed<T: RealField + Copy>(c: T, first_step: T, tol: T) -> Result<usize> {
    check::contraction_constant(c)?;
    check::non_negative("first_step", first_step)?;
    check::positive("tol", tol)?;
    let target = tol * (T::one() - c);
    if first_step <= target {
        return Ok(0);
    }
    let n = to_f64((target / first_step).ln() / c.ln()).ceil();
    if !(n.is_finite() && n < usize::MAX as f64) {
        return Err(Error::InvalidInput(format!(
            "iterations_needed overflows for c = {c}, first_step = {first_step}, tol = {tol}"
        )));
    }
    // The float ceiling can land one short or over after rounding: settle on the exact
    // smallest n by checking the bound itself.
    let mut n = n as usize;
    while n > 0 && a_priori_bound(c, n - 1, first_step)? <= tol {
        n -= 1;
    }
    while a_priori_bound(c, n, first_step)? > tol {
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_counts_match_the_reference_numbers() {
        assert_eq!(iterations_needed(0.5, 1.0, 1e-6).unwrap(), 21);
        assert_eq!(iterations_needed(0.9, 1.0, 1e-6).unwrap(), 153);
        assert_eq!(iterations_needed(0.97, 1.0, 1e-6).unwrap(), 569);
        assert_eq!(iterations_needed(0.9f32, 1.0, 1e-6).unwrap(), 153);
        assert_eq!(iterations_needed(0.5, 1e-9, 1e-6).unwrap(), 0);
    }

    #[test]
    fn counts_are_the_smallest_that_satisfy_the_bound() {
        for &c in &[0.1, 0.5, 0.9, 0.99] {
            let n = iterations_needed(c, 2.0, 1e-8).unwrap();
            assert!(a_priori_bound(c, n, 2.0).unwrap() <= 1e-8);
            assert!(a_priori_bound(c, n - 1, 2.0).unwrap() > 1e-8);
        }
    }

    #[test]
    fn invalid_constants_are_errors() {
        for c in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(matches!(
                iterations_needed(c, 1.0, 1e-6),
                Err(Error::InvalidInput(_))
            ));
            assert!(a_posteriori_bound(c, 1.0).is_err());
        }
        assert!(iterations_needed(0.5, 1.0, 0.0).is_err());
        assert!(iterations_needed(0.5, f64::NAN, 1e-6).is_err());
    }

    #[test]
    fn bounds_follow_their_formulas() {
        assert!((a_posteriori_bound(0.8f64, 0.5).unwrap() - 2.0).abs() < 1e-15);
        assert!((a_priori_bound(0.5f64, 3, 1.0).unwrap() - 0.25).abs() < 1e-15);
    }
}
