//! Linear stability of a fixed point: the spectral radius of the Jacobian (|f'(x*)| in 1-D).

use crate::check;
use crate::error::{Error, Result};
use crate::jacobian::numerical_jacobian;
use nalgebra::{Complex, DMatrix, DVector, RealField, Schur};

/// The linearisation of f at a fixed point x*.
#[derive(Debug, Clone, PartialEq)]
pub struct Stability<T> {
    /// Eigenvalues of the Jacobian J = Df(x*) (complex in general).
    pub eigenvalues: Vec<Complex<T>>,
    /// The spectral radius ρ(J) = max |λᵢ| (|f'(x*)| in 1-D).
    pub spectral_radius: T,
}

impl<T: RealField + Copy> Stability<T> {
    /// ρ(J) < 1: x* attracts nearby points (the linearisation does not decide at ρ = 1).
    pub fn is_stable(&self) -> bool {
        self.spectral_radius < T::one()
    }
}

/// Eigenvalues and spectral radius of a square Jacobian `jacobian` (through nalgebra's real
/// Schur decomposition, complex pairs included).
///
/// ```
/// use nalgebra::DMatrix;
/// // A rotation by 90° scaled by 0.9: eigenvalues ±0.9i.
/// let j = DMatrix::from_row_slice(2, 2, &[0.0_f64, -0.9, 0.9, 0.0]);
/// let s = fixedpoint::stability_of_jacobian(&j)?;
/// assert!((s.spectral_radius - 0.9).abs() < 1e-12 && s.is_stable());
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn stability_of_jacobian<T: RealField + Copy>(jacobian: &DMatrix<T>) -> Result<Stability<T>> {
    check::non_empty("jacobian", jacobian)?;
    check::finite_matrix("jacobian", jacobian)?;
    if !jacobian.is_square() {
        return Err(Error::InvalidInput(format!(
            "the Jacobian must be square, got {} × {}",
            jacobian.nrows(),
            jacobian.ncols()
        )));
    }
    let max_niter = 1000 * jacobian.nrows();
    let schur =
        Schur::try_new(jacobian.clone(), T::default_epsilon(), max_niter).ok_or_else(|| {
            Error::InvalidInput("the Schur decomposition of the Jacobian did not converge".into())
        })?;
    let eigenvalues: Vec<Complex<T>> = schur.complex_eigenvalues().iter().copied().collect();
    let spectral_radius = eigenvalues
        .iter()
        .fold(T::zero(), |r, l| r.max(l.re.hypot(l.im)));
    Ok(Stability {
        eigenvalues,
        spectral_radius,
    })
}

/// Linear stability of the fixed point `x_star` of f: ℝᵈ → ℝᵈ from its central-difference
/// Jacobian (see [`numerical_jacobian`]); for d = 1 the spectral radius is |f'(x*)|.
///
/// ```
/// use fixedpoint::{stability, LogisticMap};
/// use nalgebra::DVector;
/// let map = LogisticMap::new(2.8)?;
/// let x_star = DVector::from_element(1, map.fixed_point().unwrap());
/// let s = stability(|x: &DVector<f64>| x.map(|v| map.apply(v)), &x_star)?;
/// assert!((s.spectral_radius - 0.8).abs() < 1e-8 && s.is_stable());
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn stability<T, F>(f: F, x_star: &DVector<T>) -> Result<Stability<T>>
where
    T: RealField + Copy,
    F: FnMut(&DVector<T>) -> DVector<T>,
{
    let jacobian = numerical_jacobian(f, x_star, None)?;
    stability_of_jacobian(&jacobian)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CircleMap, LogisticMap};

    #[test]
    fn logistic_fixed_point_changes_stability_at_r_3() {
        for (r, stable) in [(2.8, true), (3.2, false), (1.5, true)] {
            let m = LogisticMap::new(r).unwrap();
            let x = DVector::from_element(1, m.fixed_point().unwrap());
            let s = stability(|v: &DVector<f64>| v.map(|t| m.apply(t)), &x).unwrap();
            assert!((s.spectral_radius - (2.0 - r).abs()).abs() < 1e-8);
            assert_eq!(s.is_stable(), stable);
        }
    }

    #[test]
    fn circle_map_fixed_points() {
        let m = CircleMap::new(0.1, 0.7).unwrap();
        let pts = m.fixed_points();
        let lift = |v: &DVector<f64>| v.map(|t| m.lift(t));
        let s0 = stability(lift, &DVector::from_element(1, pts[0])).unwrap();
        assert!(s0.is_stable() && (s0.spectral_radius - m.derivative(pts[0]).abs()).abs() < 1e-8);
        let s1 = stability(lift, &DVector::from_element(1, pts[1])).unwrap();
        assert!(!s1.is_stable());
    }

    #[test]
    fn complex_eigenvalues_of_a_2d_map() {
        // Hénon-like linear part with complex eigenvalues 0.5 ± 0.5i, |λ| = √0.5.
        let j = DMatrix::from_row_slice(2, 2, &[0.5, -0.5, 0.5, 0.5]);
        let s = stability_of_jacobian(&j).unwrap();
        assert!((s.spectral_radius - 0.5f64.sqrt()).abs() < 1e-12);
        assert!(
            s.eigenvalues
                .iter()
                .all(|l| (l.im.abs() - 0.5).abs() < 1e-12)
        );
        assert!(stability_of_jacobian(&DMatrix::<f64>::zeros(2, 3)).is_err());
    }
}
