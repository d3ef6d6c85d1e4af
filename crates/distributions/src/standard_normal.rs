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
