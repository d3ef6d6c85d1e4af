//! The [`Density`] trait: a normalised probability density on ℝᵈ that can be evaluated
//! (differentiably) and sampled.

use crate::{Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, Params, Tape, Var};
use rand::RngCore;

/// A probability density `p` on ℝᵈ, evaluated on batches (`n × d`, one sample per row).
///
/// Laws every implementation satisfies (the crate's tests check each one):
/// - normalisation: `∫ exp(log_prob(x)) dx = 1` over ℝᵈ (over the support, where the density
///   has one: outside it `log_prob` is `−∞`);
/// - sampling: the rows returned by [`Density::sample`] are independent draws from `p`, so
///   sample moments converge to the moments of `exp(log_prob)`;
/// - agreement: [`Density::log_prob`] (on tape variables, differentiable with respect to the
///   input and to the density's own parameters) and [`Density::log_prob_matrix`] (plain
///   matrices, nothing recorded) return the same numbers.
///
/// Trainable parameters live in an [`autodiff::Params`] store the density registered them
/// in when it was built; the methods take that store (bound to a tape for the `Var` form).
/// Densities without parameters accept any store, an empty one included.
///
/// Inputs are validated: a batch with the wrong width, no rows, or a NaN/±inf entry is an
/// [`Error`] naming the shape or the first bad entry, never a panic.
pub trait Density<T: Float>: Send + Sync + std::fmt::Debug {
    /// Dimension `d` of the space the density lives on.
    fn dim(&self) -> usize;

    /// `ln p(x)` per sample: `n × d → n × 1`, recorded on `x`'s tape.
    fn log_prob<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>>;

    /// `ln p(x)` without validating `x`, for a caller that validated its own input once: a
    /// [`TransformedDistribution`](crate::TransformedDistribution) checks the data batch at
    /// entry and evaluates its base on the latent codes unchecked, so a value that overflows
    /// inside the flow reaches the loss as a non-finite number (which a trainer treats as
    /// divergence) instead of failing as a bad input. The caller guarantees the width. The
    /// default validates anyway (densities whose formula needs checked inputs keep it).
    fn log_prob_unchecked<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.log_prob(p, x)
    }

    /// `n` independent draws (`n × d`, one per row); `n = 0` is [`Error::EmptyBatch`].
    fn sample(&self, params: &Params<T>, n: usize, rng: &mut dyn RngCore) -> Result<DMatrix<T>>;

    /// `ln p(x)` per sample on a plain matrix (`n × d → n × 1`), without recording gradients.
    fn log_prob_matrix(&self, params: &Params<T>, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        Ok(self.log_prob(&p, tape.constant(x.clone()))?.to_matrix())
    }
}

/// Checks a batch at a density's boundary: `d` columns, at least one row, every entry finite
/// (the error names the first bad row, then column).
pub fn check_batch<T: Float>(what: &'static str, x: &DMatrix<T>, d: usize) -> Result<()> {
    let (rows, cols) = x.shape();
    if cols != d {
        return Err(Error::Width {
            what,
            expected: d,
            rows,
            cols,
        });
    }
    if rows == 0 {
        return Err(Error::EmptyBatch { what });
    }
    autodiff::check_finite(what, x).map_err(|e| match e {
        autodiff::Error::NonFinite { row, col, .. } => Error::NonFinite { what, row, col },
        other => Error::Autodiff(other),
    })
}

/// [`check_batch`] on the value of a tape variable.
pub(crate) fn check_var<T: Float>(what: &'static str, x: Var<'_, T>, d: usize) -> Result<()> {
    check_batch(what, &x.value(), d)
}

/// Errors on a request for zero samples.
pub(crate) fn check_count(what: &'static str, n: usize) -> Result<()> {
    if n == 0 {
        Err(Error::EmptyBatch { what })
    } else {
        Ok(())
    }
}

/// An `n × d` matrix of independent standard-normal draws.
pub(crate) fn standard_normal_matrix<T: Float, R: rand::Rng + ?Sized>(
    n: usize,
    d: usize,
    rng: &mut R,
) -> DMatrix<T> {
    use rand_distr::Distribution;
    // Filled row by row so that the first rows of a larger draw equal a smaller draw.
    let mut m = DMatrix::zeros(n, d);
    for i in 0..n {
        for j in 0..d {
            let v: f64 = rand_distr::StandardNormal.sample(rng);
            m[(i, j)] = T::of_f64(v);
        }
    }
    m
}

/// `½ ln 2π`, the normalising constant of a unit normal per dimension.
pub(crate) const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
