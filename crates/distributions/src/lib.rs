//! Base densities and the change-of-variables formula for normalizing flows.
//!
//! Every density implements [`Density`]: `log_prob` on batches (`n × d` in, `n × 1` out) on
//! autodiff variables, so it trains, and on plain matrices; `sample`; `dim`.
//! [`TransformedDistribution`] turns a base density and a [`bijectors::Bijector`] into a flow;
//! [`MaxEntropy`] trains a flow to the maximum-entropy distribution under moment constraints.

mod density;
mod diagonal_normal;
mod error;
mod gaussian_mixture;
pub mod laws;
mod max_entropy;
#[cfg(test)]
mod prec;
mod standard_normal;
#[cfg(test)]
mod test_flows;
mod transformed_distribution;
mod uniform_box;

pub use density::{Density, check_batch};
pub use diagonal_normal::DiagonalNormal;
pub use error::{Error, Result};
pub use gaussian_mixture::GaussianMixture;
pub use max_entropy::{MaxEntConfig, MaxEntReport, MaxEntRound, MaxEntropy};
pub use standard_normal::StandardNormal;
pub use transformed_distribution::TransformedDistribution;
pub use uniform_box::UniformBox;
