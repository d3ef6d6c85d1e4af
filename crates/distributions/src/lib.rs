//! Base densities and the change-of-variables formula for normalizing flows.
//!
//! Every density implements [`Density`]: `log_prob` on batches (`n × d` in, `n × 1` out, one
//! sample per row) on autodiff variables, so it trains, and on plain matrices; `sample`;
//! `dim`. Its laws (normalisation, samples follow the density) are written on the trait and
//! checked with the functions in [`laws`].
//!
//! - Base densities: [`StandardNormal`], [`DiagonalNormal`] (trainable mean and log-scale),
//!   [`GaussianMixture`] (trainable logits, means, log-scales), [`UniformBox`].
//! - [`TransformedDistribution`]: a base density and a [`bijectors::Bijector`] (data → latent)
//!   as one density, `ln p(x) = ln p_Z(f(x)) + ln|det ∂f/∂x|`, with one-pass
//!   `sample_and_log_prob`, conditional variants, and the reparametrised
//!   `sample_from_latent` for sample-based training.
//! - [`MaxEntropy`]: trains a flow to the maximum-entropy density under moment constraints
//!   (Loaiza-Ganem et al. 2017) with an augmented Lagrangian.
//!
//! Errors (wrong width, empty batch, NaN/inf input, bad condition, bad configuration) are
//! [`Error`] values naming the shape or the first bad entry; nothing panics on user input.
//!
//! # Quick start
//! A RealNVP flow fitted by maximum likelihood to samples of a correlated Gaussian:
//!
//! ```
//! use autodiff::{Params, Tape, nn::Activation, optim::{Adam, Optimizer}};
//! use bijectors::{Chain, StackConfig, SubnetConfig};
//! use distributions::{Density, GaussianMixture, StandardNormal, TransformedDistribution};
//! use autodiff::nalgebra::DMatrix;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! // Training data: a two-component mixture in 2-D (its own parameter store).
//! let mut data_params = Params::<f64>::new();
//! let means = DMatrix::from_row_slice(2, 2, &[-1.5, 0.0, 1.5, 0.5]);
//! let source = GaussianMixture::new(&mut data_params, "src", &[0.0, 0.0], means, DMatrix::from_element(2, 2, -1.0))?;
//! let data = source.sample(&data_params, 256, &mut rng)?;
//!
//! // The model: standard normal base, RealNVP stack (data → latent).
//! let mut params = Params::<f64>::new();
//! let stack = StackConfig { dim: 2, blocks: 3, subnet: SubnetConfig::new(&[16], Activation::Tanh), ..StackConfig::default() };
//! let bijector = Chain::coupling_stack(&mut params, &stack, &mut rng)?;
//! let flow = TransformedDistribution::new(Box::new(StandardNormal::new(2)?), Box::new(bijector))?;
//!
//! let nll = |params: &Params<f64>| -> distributions::Result<f64> {
//!     Ok(-flow.log_prob_matrix(params, &data)?.mean())
//! };
//! let before = nll(&params)?;
//! let mut adam = Adam::with_lr(1e-2);
//! for _ in 0..60 {
//!     let tape = Tape::new();
//!     let p = params.bind(&tape);
//!     let loss = flow.log_prob(&p, tape.constant(data.clone()))?.mean().neg();
//!     let mut grads = tape.backward(loss)?;
//!     adam.step(&mut params, &p.gradients(&mut grads))?;
//! }
//! assert!(nll(&params)? < before - 0.3);
//!
//! // Samples and their log-densities from one pass through the inverse.
//! let (x, log_p) = flow.sample_and_log_prob(&params, 1000, &mut rng)?;
//! assert_eq!((x.shape(), log_p.shape()), ((1000, 2), (1000, 1)));
//! # Ok::<(), distributions::Error>(())
//! ```

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

/// The trait, for glob import.
pub mod prelude {
    pub use crate::Density;
}
