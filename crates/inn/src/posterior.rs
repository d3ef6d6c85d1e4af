//! Posterior sampling `x ~ p(x | y)`: the trait both invertible networks implement, and the
//! standard-normal draws they share.

use crate::{Error, Result};
use autodiff::Float;
use autodiff::nalgebra::DMatrix;
use bijectors::check_batch;
use rand::Rng;
use rand_distr::StandardNormal;

/// A model that samples the posterior `p(x | y)` of an inverse problem: [`crate::train::Inn`]
/// (`x = f⁻¹([z, 0, y])`) and [`crate::train::ConditionalInn`] (`x = f⁻¹(z; y)`), with
/// `z ~ N(0, I)`.
///
/// Law: for every row `yᵢ` of `y_obs`, the `i`-th returned matrix holds `n_per_obs` samples
/// (`n_per_obs × x_dim`, one per row) drawn for that observation; the same `rng` state gives the
/// same samples.
pub trait PosteriorSampler<T: Float> {
    /// Width of a sample `x`.
    fn x_dim(&self) -> usize;

    /// Width of an observation `y`.
    fn y_dim(&self) -> usize;

    /// `n_per_obs` posterior samples for every row of `y_obs` (`m × y_dim`, one observation per
    /// row): `m` matrices of shape `n_per_obs × x_dim`.
    ///
    /// # Errors
    /// A wrong width, an empty batch or a non-finite entry of `y_obs` ([`Error::Bijector`]
    /// naming the shape or the first bad row), `n_per_obs == 0` ([`Error::Config`]).
    fn posterior<R: Rng + ?Sized>(
        &self,
        y_obs: &DMatrix<T>,
        n_per_obs: usize,
        rng: &mut R,
    ) -> Result<Vec<DMatrix<T>>>;
}

/// An `rows × cols` matrix of independent standard-normal draws (drawn in `f64`, so `f32` and
/// `f64` models see the same numbers for the same seed), filled row by row.
pub(crate) fn standard_normal<T: Float, R: Rng + ?Sized>(
    rows: usize,
    cols: usize,
    rng: &mut R,
) -> DMatrix<T> {
    let mut m = DMatrix::zeros(rows, cols);
    for i in 0..rows {
        for j in 0..cols {
            m[(i, j)] = T::of_f64(rng.sample::<f64, _>(StandardNormal));
        }
    }
    m
}

/// [`PosteriorSampler::posterior`] from `draw(y, rng)`, which makes one posterior draw per row
/// of `y` (`n_per_obs` copies of one observation): one `n_per_obs × x_dim` matrix per row of
/// `y_obs` (`m × y_dim`), observation by observation. `what` names `y_obs` in errors.
pub(crate) fn per_observation<T: Float, R: Rng + ?Sized>(
    what: &'static str,
    y_obs: &DMatrix<T>,
    y_dim: usize,
    n_per_obs: usize,
    rng: &mut R,
    mut draw: impl FnMut(&DMatrix<T>, &mut R) -> Result<DMatrix<T>>,
) -> Result<Vec<DMatrix<T>>> {
    check_batch(what, y_obs, y_dim)?;
    if n_per_obs == 0 {
        return Err(Error::Config(format!(
            "{what}: n_per_obs must be at least 1"
        )));
    }
    y_obs
        .row_iter()
        .map(|obs| draw(&DMatrix::from_fn(n_per_obs, y_dim, |_, j| obs[j]), rng))
        .collect()
}
