//! Numerical Jacobian of a closure by central differences.

use crate::error::{Error, Result};
use crate::scalar::{from_f64, to_f64};
use nalgebra::{DMatrix, DVector, RealField};

/// The Jacobian J_ij = ∂f_i/∂x_j of f: ℝᵈ → ℝᵉ at `x` by central differences
/// (f(x + hⱼeⱼ) − f(x − hⱼeⱼ)) / (2hⱼ), with hⱼ = h·max(1, |xⱼ|) and h = ε^(1/3) (≈ 6e-6 for
/// f64, the step that balances truncation O(h²) against rounding O(ε/h)) unless `h` is given.
///
/// Errors: an empty or non-finite `x`, h ≤ 0, an output of varying length or non-finite.
///
/// ```
/// use nalgebra::DVector;
/// let j = fixedpoint::numerical_jacobian(|x: &DVector<f64>| DVector::from_vec(vec![x[0] * x[1], x[0].sin()]),
///                                        &DVector::from_vec(vec![1.0, 2.0]), None)?;
/// assert!((j[(0, 0)] - 2.0).abs() < 1e-9 && (j[(1, 0)] - 1f64.cos()).abs() < 1e-9);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn numerical_jacobian<T, F>(mut f: F, x: &DVector<T>, h: Option<T>) -> Result<DMatrix<T>>
where
    T: RealField + Copy,
    F: FnMut(&DVector<T>) -> DVector<T>,
{
    if x.is_empty() {
        return Err(Error::InvalidInput("x is empty".into()));
    }
    if let Some(j) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "x has a non-finite entry at {j}"
        )));
    }
    let h = h.unwrap_or_else(|| from_f64(to_f64(T::default_epsilon()).cbrt()));
    crate::check::positive("h", h)?;
    let mut jac: Option<DMatrix<T>> = None;
    let mut probe = x.clone();
    for j in 0..x.len() {
        let hj = h * T::one().max(x[j].abs());
        probe[j] = x[j] + hj;
        let plus = f(&probe);
        probe[j] = x[j] - hj;
        let minus = f(&probe);
        probe[j] = x[j];
        let e = plus.len();
        if minus.len() != e || jac.as_ref().is_some_and(|m| m.nrows() != e) || e == 0 {
            return Err(Error::InvalidInput(format!(
                "the map returned outputs of lengths {e} and {} (column {j})",
                minus.len()
            )));
        }
        let column = (plus - minus) / (hj + hj);
        if let Some(i) = column.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "the map is not finite near x (output {i}, column {j})"
            )));
        }
        jac.get_or_insert_with(|| DMatrix::zeros(e, x.len()))
            .set_column(j, &column);
    }
    jac.ok_or_else(|| Error::InvalidInput("x is empty".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_analytic_jacobian_of_a_linear_map() {
        let a = DMatrix::from_row_slice(2, 3, &[1.0, -2.0, 0.5, 3.0, 0.0, 4.0]);
        let x = DVector::from_vec(vec![0.3, -1.0, 100.0]);
        let j = numerical_jacobian(|v: &DVector<f64>| &a * v, &x, None).unwrap();
        assert!((j - &a).amax() < 1e-8);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = DVector::from_vec(vec![1.0, f64::NAN]);
        assert!(
            matches!(numerical_jacobian(|v: &DVector<f64>| v.clone(), &x, None),
            Err(Error::InvalidInput(m)) if m.contains("at 1"))
        );
        let x = DVector::from_vec(vec![1.0]);
        assert!(numerical_jacobian(|v: &DVector<f64>| v.clone(), &x, Some(0.0)).is_err());
        assert!(
            numerical_jacobian(
                |v: &DVector<f64>| v.map(f64::ln),
                &DVector::from_vec(vec![0.0]),
                None
            )
            .is_err()
        );
    }
}
