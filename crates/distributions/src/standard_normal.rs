//! The standard normal density N(0, I_d), the usual base of a normalizing flow.

use crate::density::{HALF_LN_2PI, check_count, check_var, standard_normal_matrix};
use crate::{Density, Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, Params, Var, lit};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The standard normal density on ℝᵈ: `ln p(x) = −½‖x‖² − (d/2) ln 2π`. No parameters.
///
/// ```
/// use distributions::{Density, StandardNormal};
/// use autodiff::{Params, nalgebra::DMatrix};
/// let normal = StandardNormal::new(2)?;
/// let lp = normal.log_prob_matrix(&Params::<f64>::new(), &DMatrix::zeros(1, 2))?;
/// assert!((lp[(0, 0)] + (2.0 * std::f64::consts::PI).ln()).abs() < 1e-12);
/// # Ok::<(), distributions::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardNormal {
    dim: usize,
}

impl StandardNormal {
    /// The standard normal on ℝᵈ; `d` must be at least 1.
    pub fn new(dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::Config("StandardNormal needs dim >= 1".into()));
        }
        Ok(Self { dim })
    }

    /// Differential entropy `(d/2) ln(2πe)` in nats.
    pub fn entropy(&self) -> f64 {
        self.dim as f64 * (HALF_LN_2PI + 0.5)
    }
}

impl<T: Float> Density<T> for StandardNormal {
    fn dim(&self) -> usize {
        self.dim
    }

    fn log_prob<'t>(&self, _p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        check_var("StandardNormal::log_prob", x, self.dim)?;
        self.log_prob_unchecked(_p, x)
    }

    fn log_prob_unchecked<'t>(&self, _p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        Ok(x.square()
            .sum_cols()
            .scale(lit(-0.5))
            .add_scalar(lit(-(self.dim as f64) * HALF_LN_2PI)))
    }

    fn sample(&self, _params: &Params<T>, n: usize, rng: &mut dyn RngCore) -> Result<DMatrix<T>> {
        check_count("StandardNormal::sample", n)?;
        Ok(standard_normal_matrix(n, self.dim, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{grid_integral, sample_moments};
    use crate::prec;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use statrs::distribution::{Continuous, Normal};

    #[test]
    fn log_prob_matches_statrs_and_f32_agrees() {
        let normal = StandardNormal::new(3).unwrap();
        let unit = Normal::new(0.0, 1.0).unwrap();
        let x = DMatrix::from_fn(7, 3, |i, j| -3.0 + 0.9 * i as f64 + 0.37 * j as f64);
        let lp = normal.log_prob_matrix(&Params::new(), &x).unwrap();
        for i in 0..7 {
            let expected: f64 = (0..3).map(|j| unit.ln_pdf(x[(i, j)])).sum();
            assert!(
                (lp[(i, 0)] - expected).abs() < prec::LOG_PROB_F64,
                "row {i}"
            );
        }
        let lp32 = normal
            .log_prob_matrix(&Params::<f32>::new(), &x.map(|v| v as f32))
            .unwrap();
        assert!((lp32.map(f64::from) - lp).amax() < 1e-5);
        assert!(
            (normal.entropy() - 3.0 * 0.5 * (2.0 * std::f64::consts::PI).ln() - 1.5).abs() < 1e-12
        );
    }

    #[test]
    fn integrates_to_one_and_samples_are_standard() {
        let normal = StandardNormal::new(2).unwrap();
        let params = Params::<f64>::new();
        let mass = grid_integral(&normal, &params, &[-7.0, -7.0], &[7.0, 7.0], 300).unwrap();
        assert!((mass - 1.0).abs() < prec::INTEGRAL, "mass {mass}");
        let n = 20_000;
        let x = normal
            .sample(&params, n, &mut StdRng::seed_from_u64(11))
            .unwrap();
        let (mean, cov) = sample_moments(&x).unwrap();
        let se = (1.0 / n as f64).sqrt();
        for j in 0..2 {
            assert!(mean[j].abs() < prec::STANDARD_ERRORS * se, "mean {mean:?}");
            // Var of a sample variance of N(0,1) is 2/(n−1).
            assert!((cov[(j, j)] - 1.0).abs() < prec::STANDARD_ERRORS * (2.0 / n as f64).sqrt());
        }
        assert!(cov[(0, 1)].abs() < prec::STANDARD_ERRORS * se);
    }

    #[test]
    fn gradient_with_respect_to_the_input_is_minus_x() {
        let normal = StandardNormal::new(2).unwrap();
        let tape = autodiff::Tape::new();
        let p = Params::<f64>::new().bind(&tape);
        let x = tape.var(DMatrix::from_row_slice(2, 2, &[0.5, -1.0, 2.0, 0.25]));
        let lp = normal.log_prob(&p, x).unwrap().sum();
        let g = tape.backward(lp).unwrap().wrt(x);
        assert!((g - DMatrix::from_row_slice(2, 2, &[-0.5, 1.0, -2.0, -0.25])).amax() < 1e-15);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(StandardNormal::new(0), Err(Error::Config(_))));
        let normal = StandardNormal::new(2).unwrap();
        let params = Params::<f64>::new();
        assert!(matches!(
            normal.log_prob_matrix(&params, &DMatrix::zeros(4, 3)),
            Err(Error::Width {
                expected: 2,
                rows: 4,
                cols: 3,
                ..
            })
        ));
        assert!(matches!(
            normal.log_prob_matrix(&params, &DMatrix::zeros(0, 2)),
            Err(Error::EmptyBatch { .. })
        ));
        let mut x = DMatrix::zeros(3, 2);
        x[(2, 1)] = f64::NAN;
        x[(1, 1)] = f64::INFINITY;
        assert!(matches!(
            normal.log_prob_matrix(&params, &x),
            Err(Error::NonFinite { row: 1, col: 1, .. })
        ));
        assert!(matches!(
            normal.sample(&params, 0, &mut StdRng::seed_from_u64(0)),
            Err(Error::EmptyBatch { .. })
        ));
    }
}
