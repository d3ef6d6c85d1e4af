//! A normal density with a trainable mean and a trainable diagonal (log-)scale.

use crate::density::{HALF_LN_2PI, check_count, check_var, standard_normal_matrix};
use crate::{Density, Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, ParamId, Params, Var, lit};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// `N(μ, diag(σ²))` on ℝᵈ with `μ` and `ln σ` trainable (two `1 × d` rows in a [`Params`]
/// store, registered as `{name}.mean` and `{name}.log_scale`):
///
/// `ln p(x) = Σⱼ [−½ ((xⱼ − μⱼ)/σⱼ)² − ln σⱼ − ½ ln 2π]`.
///
/// Parametrising the scale by its logarithm keeps `σ > 0` under any gradient step.
///
/// ```
/// use distributions::{Density, DiagonalNormal};
/// use autodiff::{Params, nalgebra::DMatrix};
/// use rand::SeedableRng;
/// let mut params = Params::<f64>::new();
/// let normal = DiagonalNormal::new(&mut params, "base", &[1.0, -2.0], &[0.0, 0.5_f64.ln()])?;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let x = normal.sample(&params, 4000, &mut rng)?;
/// let mean_1 = x.column(1).mean();
/// assert!((mean_1 + 2.0).abs() < 0.05);
/// # Ok::<(), distributions::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagonalNormal {
    dim: usize,
    mean: ParamId,
    log_scale: ParamId,
}

impl DiagonalNormal {
    /// Registers `{name}.mean = mean` and `{name}.log_scale = log_scale` (same length `d ≥ 1`,
    /// finite entries).
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        mean: &[T],
        log_scale: &[T],
    ) -> Result<Self> {
        let dim = mean.len();
        if dim == 0 || log_scale.len() != dim {
            return Err(Error::Config(format!(
                "DiagonalNormal needs a mean and a log-scale of the same length >= 1, got {} and {}",
                dim,
                log_scale.len()
            )));
        }
        let mean = params.add(format!("{name}.mean"), DMatrix::from_row_slice(1, dim, mean))?;
        let log_scale = params.add(
            format!("{name}.log_scale"),
            DMatrix::from_row_slice(1, dim, log_scale),
        )?;
        Ok(Self {
            dim,
            mean,
            log_scale,
        })
    }

    /// `N(0, I_d)` as a starting point for training (mean 0, log-scale 0).
    pub fn standard<T: Float>(params: &mut Params<T>, name: &str, dim: usize) -> Result<Self> {
        Self::new(params, name, &vec![T::zero(); dim], &vec![T::zero(); dim])
    }

    /// Handle of the `1 × d` mean row.
    pub fn mean_id(&self) -> ParamId {
        self.mean
    }

    /// Handle of the `1 × d` log-scale row.
    pub fn log_scale_id(&self) -> ParamId {
        self.log_scale
    }

    /// Differential entropy `Σⱼ (½ ln(2πe) + ln σⱼ)` in nats at the current parameters.
    pub fn entropy<T: Float>(&self, params: &Params<T>) -> Result<f64> {
        let s = shaped_param(params, self.log_scale, (1, self.dim), "log_scale")?;
        Ok(s.iter().map(|v| v.to_f64() + HALF_LN_2PI + 0.5).sum())
    }
}

impl<T: Float> Density<T> for DiagonalNormal {
    fn dim(&self) -> usize {
        self.dim
    }

    fn log_prob<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        check_var("DiagonalNormal::log_prob", x, self.dim)?;
        diagonal_normal_log_prob(x, p.get(self.mean), p.get(self.log_scale))
    }

    fn sample(&self, params: &Params<T>, n: usize, rng: &mut dyn RngCore) -> Result<DMatrix<T>> {
        check_count("DiagonalNormal::sample", n)?;
        let mean = shaped_param(params, self.mean, (1, self.dim), "mean")?;
        let log_scale = shaped_param(params, self.log_scale, (1, self.dim), "log_scale")?;
        let mut x = standard_normal_matrix::<T>(n, self.dim, rng);
        for j in 0..self.dim {
            let (mu, sigma) = (mean[j], log_scale[j].exp());
            x.column_mut(j).apply(|v| *v = mu + sigma * *v);
        }
        Ok(x)
    }
}

/// `ln N(x; μ, diag(e^{2s}))` per row for a batch `x: n × d` and rows `mean`, `log_scale: 1 × d`
/// (shared by [`DiagonalNormal`] and every component of a mixture).
pub(crate) fn diagonal_normal_log_prob<'t, T: Float>(
    x: Var<'t, T>,
    mean: Var<'t, T>,
    log_scale: Var<'t, T>,
) -> Result<Var<'t, T>> {
    let d = x.ncols() as f64;
    let z = x.sub(mean)?.mul(log_scale.neg().exp())?;
    let quad = z.square().sum_cols().scale(lit(-0.5));
    Ok(quad
        .sub(log_scale.sum())?
        .add_scalar(lit(-d * HALF_LN_2PI)))
}

/// A parameter that must have shape `(rows, cols)`, checked so that a store edited by hand (or
/// the wrong store) gives an error rather than an out-of-bounds panic.
pub(crate) fn shaped_param<'a, T: Float>(
    params: &'a Params<T>,
    id: ParamId,
    (rows, cols): (usize, usize),
    what: &str,
) -> Result<&'a DMatrix<T>> {
    if id.index() >= params.len() {
        return Err(Error::Config(format!(
            "parameter {what} (#{}) is not in this store of {} parameters",
            id.index(),
            params.len()
        )));
    }
    let m = params.get(id);
    if m.shape() != (rows, cols) {
        return Err(Error::Config(format!(
            "parameter {:?} should be {rows} x {cols}, is {} x {}",
            params.name(id),
            m.nrows(),
            m.ncols()
        )));
    }
    Ok(m)
}
