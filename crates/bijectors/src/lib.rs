//! Invertible blocks with exact inverses and log-determinants.
//!
//! Every block implements [`Bijector`]: forward and inverse on autodiff variables (so both
//! directions train), each taking a batch `n × d` (one sample per row) and returning the
//! output batch with the per-sample log|det J| as an `n × 1` column.
//!
//! - Couplings: [`Nice`] (additive, log-det 0) and [`RealNvp`] (two-sided affine with
//!   soft-clamped log-scales; separate or GLOW-style joint subnets, [`SubnetLayout`]); both
//!   take an optional condition (`cond_dim > 0`) for conditional INNs; [`RqSpline`]
//!   (two-sided monotone rational-quadratic splines, Neural Spline Flows), conditional too.
//! - [`Permutation`] (random or reversed, log-det 0) and [`ActNorm`] (per-feature affine,
//!   initialised from data by [`Bijector::data_init`]).
//! - [`Chain`] composes blocks and sums their log-dets; [`Chain::coupling_stack`] builds the
//!   usual stack from a [`StackConfig`] in one call.
//! - [`Bijector::spec`] describes a block ([`BlockSpec`], serde); [`block_from_spec`] rebuilds
//!   it, so a (spec, parameter store) pair restores a model exactly.
//!
//! # Quick start
//! ```
//! use autodiff::{Params, nalgebra::DMatrix, nn::Activation};
//! use bijectors::{Bijector, Chain, CouplingKind, StackConfig, SubnetConfig};
//! use rand::SeedableRng;
//! use rand_distr::{Distribution, StandardNormal};
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let mut params = Params::<f64>::new();
//! let config = StackConfig {
//!     dim: 4,
//!     blocks: 4,
//!     coupling: CouplingKind::RealNvp,
//!     subnet: SubnetConfig::new(&[32, 32], Activation::Relu),
//!     ..StackConfig::default()
//! };
//! let flow = Chain::coupling_stack(&mut params, &config, &mut rng)?;
//!
//! // A batch of 100 four-dimensional samples, one per row.
//! let x = DMatrix::<f64>::from_fn(100, 4, |_, _| StandardNormal.sample(&mut rng));
//! let (z, log_det) = flow.forward_matrix(&params, &x)?;
//! assert_eq!((z.shape(), log_det.shape()), ((100, 4), (100, 1)));
//!
//! let (x_back, inv_log_det) = flow.inverse_matrix(&params, &z)?;
//! assert!((&x_back - &x).abs().max() < 1e-10);
//! assert!((&inv_log_det + &log_det).abs().max() < 1e-10);
//! # Ok::<(), bijectors::Error>(())
//! ```

mod act_norm;
mod bijector;
mod boundary;
mod chain;
mod coupling;
mod coupling_stack;
mod error;
mod iresnet;
mod nice;
mod permutation;
mod real_nvp;
mod registry;
mod rq_spline;

#[cfg(test)]
mod laws;
#[cfg(test)]
mod prec;

pub use act_norm::ActNorm;
pub use bijector::{Bijector, BlockSpec, Output, check_batch, check_cond};
pub use chain::Chain;
pub use coupling::SubnetConfig;
pub use coupling_stack::{CouplingKind, StackConfig};
pub use error::{Error, Result};
pub use iresnet::{
    EXACT_LOG_DET_MAX_DIM, EvalNormalisation, INVERSE_ROUNDING_ULPS, IResNet, IResNetConfig,
    InverseGradient, InversionReport, LogDet, inverse_rounding_floor, series_truncation_bound,
};
pub use nice::{Nice, NiceConfig};
pub use permutation::Permutation;
pub use real_nvp::{DEFAULT_CLAMP, RealNvp, RealNvpConfig, SoftClamp, SubnetLayout};
pub use registry::block_from_spec;
pub use rq_spline::{
    DEFAULT_BINS, DEFAULT_BOUND, DEFAULT_MIN_BIN, RqSpline, RqSplineConfig, SplineKnots,
};

/// The trait, for glob import.
pub mod prelude {
    pub use crate::Bijector;
}
