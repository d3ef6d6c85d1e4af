//! The uniform density on an axis-aligned box `[l₁, u₁] × … × [l_d, u_d]`.

use crate::density::{check_count, check_var};
use crate::{Density, Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, Params, Var};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

/// The uniform density on the closed box `[l₁, u₁] × … × [l_d, u_d]` (fixed bounds, no
/// trainable parameters): `ln p(x) = −Σⱼ ln(uⱼ − lⱼ)` inside the box and `−∞` outside.
///
/// Points on the boundary count as inside. Because the density is piecewise constant, the
/// gradient of `log_prob` with respect to `x` is zero wherever it is defined; the `Var` form
/// returns a constant column, so nothing flows back through it. A `−∞` entry is a legitimate
/// value here (zero density), not an error; NaN or infinite *inputs* are still errors.
///
/// ```
/// use distributions::{Density, UniformBox};
/// use autodiff::{Params, nalgebra::DMatrix};
/// let square = UniformBox::new(&[0.0, 0.0], &[2.0, 0.5])?;
/// let lp = square.log_prob_matrix(&Params::<f64>::new(), &DMatrix::from_row_slice(2, 2, &[1.0, 0.25, 3.0, 0.25]))?;
/// assert_eq!(lp[(0, 0)], 0.0); // area 1
/// assert_eq!(lp[(1, 0)], f64::NEG_INFINITY);
/// # Ok::<(), distributions::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UniformBox {
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl UniformBox {
    /// The box with corners `lower` and `upper` (same length `d ≥ 1`, finite, `lⱼ < uⱼ`).
    pub fn new<T: Float>(lower: &[T], upper: &[T]) -> Result<Self> {
        if lower.is_empty() || lower.len() != upper.len() {
            return Err(Error::Config(format!(
                "UniformBox needs bounds of the same length >= 1, got {} and {}",
                lower.len(),
                upper.len()
            )));
        }
        let lower: Vec<f64> = lower.iter().map(|v| v.to_f64()).collect();
        let upper: Vec<f64> = upper.iter().map(|v| v.to_f64()).collect();
        for (j, (l, u)) in lower.iter().zip(&upper).enumerate() {
            if !(l.is_finite() && u.is_finite() && l < u) {
                return Err(Error::Config(format!(
                    "UniformBox bound {j}: need finite lower < upper, got [{l}, {u}]"
                )));
            }
        }
        Ok(Self { lower, upper })
    }

    /// Lower corner.
    pub fn lower(&self) -> &[f64] {
        &self.lower
    }

    /// Upper corner.
    pub fn upper(&self) -> &[f64] {
        &self.upper
    }

    /// `ln` of the box volume, `Σⱼ ln(uⱼ − lⱼ)` (also the differential entropy in nats).
    pub fn log_volume(&self) -> f64 {
        self.lower
            .iter()
            .zip(&self.upper)
            .map(|(l, u)| (u - l).ln())
            .sum()
    }

    /// Whether row `i` of `x` lies in the box, compared in `T`'s precision (bounds rounded to
    /// `T`), so that samples drawn in `T` always test as inside.
    fn contains<T: Float>(&self, x: &DMatrix<T>, i: usize) -> bool {
        (0..self.lower.len()).all(|j| {
            let v = x[(i, j)];
            T::of_f64(self.lower[j]) <= v && v <= T::of_f64(self.upper[j])
        })
    }
}

impl<T: Float> Density<T> for UniformBox {
    fn dim(&self) -> usize {
        self.lower.len()
    }

    fn log_prob<'t>(&self, _p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        check_var("UniformBox::log_prob", x, self.lower.len())?;
        let value = x.value();
        let inside = T::of_f64(-self.log_volume());
        let lp = DMatrix::from_fn(value.nrows(), 1, |i, _| {
            if self.contains(&value, i) {
                inside
            } else {
                T::of_f64(f64::NEG_INFINITY)
            }
        });
        Ok(x.tape().constant(lp))
    }

    fn sample(&self, _params: &Params<T>, n: usize, rng: &mut dyn RngCore) -> Result<DMatrix<T>> {
        check_count("UniformBox::sample", n)?;
        let d = self.lower.len();
        let mut x = DMatrix::zeros(n, d);
        for i in 0..n {
            for j in 0..d {
                let (l, u) = (self.lower[j], self.upper[j]);
                let v = T::of_f64(l + (u - l) * rng.random::<f64>());
                x[(i, j)] = v.clamp(T::of_f64(l), T::of_f64(u));
            }
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{grid_integral, sample_moments};
    use crate::prec;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use statrs::distribution::{Continuous, Uniform};

    #[test]
    fn log_prob_matches_statrs_inside_and_is_minus_infinity_outside() {
        let (lower, upper) = ([-1.0, 0.5], [2.0, 0.75]);
        let boxed = UniformBox::new(&lower, &upper).unwrap();
        let u = [0, 1].map(|j| Uniform::new(lower[j], upper[j]).unwrap());
        let x = DMatrix::from_row_slice(
            5,
            2,
            &[0.0, 0.6, -1.0, 0.75, 2.0001, 0.6, 0.0, 0.4999, 1.9, 0.7],
        );
        let lp = boxed.log_prob_matrix(&Params::<f64>::new(), &x).unwrap();
        for i in 0..5 {
            let expected: f64 = (0..2).map(|j| u[j].ln_pdf(x[(i, j)])).sum();
            if expected.is_finite() {
                assert!(
                    (lp[(i, 0)] - expected).abs() < prec::LOG_PROB_F64,
                    "row {i}"
                );
            } else {
                assert_eq!(lp[(i, 0)], f64::NEG_INFINITY, "row {i}");
            }
        }
        // Rows 0, 1 (corner, on the boundary) and 4 are inside; 2 and 3 are not.
        assert!(lp[(1, 0)].is_finite() && lp[(2, 0)].is_infinite() && lp[(3, 0)].is_infinite());
        assert!((boxed.log_volume() - 0.75f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn integrates_to_one_and_samples_are_uniform() {
        let boxed = UniformBox::new(&[-1.0, 0.5], &[2.0, 0.75]).unwrap();
        let params = Params::<f64>::new();
        let mass = grid_integral(&boxed, &params, &[-2.0, 0.0], &[3.0, 1.0], 400).unwrap();
        assert!((mass - 1.0).abs() < prec::INTEGRAL, "mass {mass}");
        let n = 20_000;
        let x = boxed
            .sample(&params, n, &mut StdRng::seed_from_u64(2))
            .unwrap();
        let (mean, cov) = sample_moments(&x).unwrap();
        for (j, (l, u)) in [(-1.0, 2.0), (0.5, 0.75)].into_iter().enumerate() {
            let var: f64 = (u - l) * (u - l) / 12.0;
            let se = (var / n as f64).sqrt();
            assert!((mean[j] - (l + u) / 2.0).abs() < prec::STANDARD_ERRORS * se);
            assert!((cov[(j, j)] - var).abs() < 0.03 * var);
        }
    }

    #[test]
    fn f32_samples_test_as_inside_for_bounds_that_round_down() {
        // 0.7 and 0.9 are not representable; in f32 they round below their f64 values.
        let boxed = UniformBox::new(&[0.7f32], &[0.700_001f32]).unwrap();
        let params = Params::<f32>::new();
        let x = boxed
            .sample(&params, 2000, &mut StdRng::seed_from_u64(4))
            .unwrap();
        let lp = boxed.log_prob_matrix(&params, &x).unwrap();
        assert!(lp.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn bad_bounds_and_inputs_are_errors() {
        assert!(matches!(
            UniformBox::new(&[0.0], &[0.0]),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            UniformBox::new::<f64>(&[], &[]),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            UniformBox::new(&[0.0, 1.0], &[1.0]),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            UniformBox::new(&[f64::NEG_INFINITY], &[1.0]),
            Err(Error::Config(_))
        ));
        let boxed = UniformBox::new(&[0.0], &[1.0]).unwrap();
        assert!(matches!(
            boxed.log_prob_matrix(&Params::new(), &DMatrix::from_element(1, 1, f64::NAN)),
            Err(Error::NonFinite { row: 0, col: 0, .. })
        ));
    }
}
