//! Invertible neural networks for inverse problems.
//!
//! A scientist simulates a forward process `x → y` and wants every plausible cause `x`
//! behind an observed effect `y`: the posterior `p(x | y)`, not one point estimate. This
//! crate trains invertible networks that give it, and re-exports the building blocks:
//!
//! | crate | what it holds |
//! |---|---|
//! | [`autodiff`] | reverse-mode AD over batched matrices, `Linear`/`Mlp`, Adam/SGD, the training loop ([`autodiff::train`]) |
//! | [`fixedpoint`] | Banach iteration with error bounds, Lipschitz checks, Anderson, classic maps |
//! | [`discrepancy`] | MMD kernels and estimators, permutation test, differentiable MMD loss |
//! | [`bijectors`] | NICE, RealNVP, permutations, ActNorm, i-ResNet, chains |
//! | [`distributions`] | base densities, change of variables, maximum-entropy flows |
//! | this crate | the model core [`Network`] and the models on it ([`Flow`], [`train::ConditionalInn`], [`train::Inn`]; any of them as [`Model`]; several trained with different seeds as an [`Ensemble`]), their objectives ([`train`]), summary networks of the observation ([`summary`]), posterior sampling, inversion ([`invert`]), metrics ([`eval`]), data ([`data`]), model files |
//!
//! Batches are `n × d` matrices, one sample per row; per-sample scalars are `n × 1`.
//!
//! # Quick start: a posterior from simulations
//!
//! The forward process `y = x₁ + x₂` loses information; a conditional INN learns `p(x | y)`,
//! whose samples for `y = 1` lie along the line `x₁ + x₂ = 1`.
//!
//! ```
//! use inn::prelude::*;
//! use inn::train::{CinnConfig, ConditionalInn, OptimConfig, paper_stack};
//! use inn::autodiff::nalgebra::DMatrix;
//! use rand::{Rng, SeedableRng};
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let x = DMatrix::<f32>::from_fn(2000, 2, |_, _| rng.random_range(-1.0..1.0));
//! let y = DMatrix::<f32>::from_fn(2000, 1, |i, _| x[(i, 0)] + x[(i, 1)]);
//!
//! let config = CinnConfig {
//!     stack: paper_stack().with_widths(4, &[64]),
//!     batch_size: 256,
//!     optim: OptimConfig { steps: 300, progress: false, ..CinnConfig::default().optim },
//!     ..CinnConfig::default()
//! };
//! let mut cinn = ConditionalInn::new(config, 2, 1, &mut rng)?;
//! cinn.fit(&x, &y, &mut rng)?;
//!
//! let observed = DMatrix::from_element(1, 1, 1.0f32);
//! let samples = &cinn.posterior(&observed, 500, &mut rng)?[0]; // 500 × 2
//! let mean_sum = (0..500).map(|i| samples[(i, 0)] + samples[(i, 1)]).sum::<f32>() / 500.0;
//! assert!((mean_sum - 1.0).abs() < 0.15, "posterior samples satisfy x₁ + x₂ ≈ 1: {mean_sum}");
//! # Ok::<(), inn::Error>(())
//! ```
//!
//! Density estimation works the same way with [`Flow`] and
//! [`train::MaximumLikelihood`]; the bidirectional INN of Ardizzone et al. (2018) is
//! [`train::Inn`]; gradient-descent inversion from many starts is
//! [`invert::gradient_descent`]. The `inn` binary (`cargo install --path crates/inn-cli`) does
//! all of it from a CSV file.

pub mod data;
pub mod diagnostics;
mod ensemble;
mod error;
pub mod eval;
mod flow;
pub mod invert;
mod model;
pub mod model_file;
mod network;
#[cfg(test)]
mod param_check;
mod posterior;
pub mod summary;
pub mod train;

pub use ensemble::Ensemble;
pub use error::{Error, Result};
pub use flow::Flow;
pub use model::{Model, load_model};
pub use network::Network;
pub use posterior::PosteriorSampler;

// The guide's examples run as doctests, so the guide stays true.
#[doc = include_str!("../../../docs/guide.md")]
#[cfg(doctest)]
pub struct GuideDoctests;

// The README's example runs as a doctest, so the README stays true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The traits, for glob import: `use inn::prelude::*;`.
pub mod prelude {
    pub use crate::PosteriorSampler;
    pub use crate::autodiff::optim::Optimizer;
    pub use crate::bijectors::Bijector;
    pub use crate::discrepancy::Kernel;
    pub use crate::distributions::Density;
    pub use crate::train::Objective;
}

pub use autodiff;
pub use bijectors;
pub use discrepancy;
pub use distributions;
pub use fixedpoint;
