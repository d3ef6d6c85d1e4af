//! Tape-based reverse-mode automatic differentiation over batched matrices.
//!
//! A batch is an `n × d` [`nalgebra::DMatrix`] with one sample per row; per-sample scalars
//! are `n × 1` columns. Operations on [`Var`] handles are recorded on a [`Tape`];
//! [`Tape::backward`] returns the gradient of a `1 × 1` loss with respect to every leaf.
//! Matrix products go through nalgebra's GEMM (`matrixmultiply`), large ones split across
//! rayon's threads ([`gemm`]). Scalars are
//! generic over [`Float`] (`f32` for fast training, `f64` for tight checks).
//!
//! Quick start — fit `y = sin x` with a small MLP and Adam:
//!
//! ```
//! use autodiff::{Params, Tape, nn::{Activation, Mlp, MlpConfig}, optim::{Adam, Optimizer}};
//! use autodiff::nalgebra::DMatrix;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let mut params = Params::<f64>::new();
//! let net = Mlp::new(&mut params, "net", &MlpConfig::new(&[1, 32, 1], Activation::Tanh), &mut rng)?;
//! let x = DMatrix::from_fn(64, 1, |i, _| -3.0 + 6.0 * i as f64 / 63.0);
//! let y = x.map(f64::sin);
//! let mut adam = Adam::with_lr(1e-2);
//! let mut last = f64::INFINITY;
//! for _ in 0..300 {
//!     let tape = Tape::new();
//!     let p = params.bind(&tape);
//!     let pred = net.forward(&p, tape.constant(x.clone()))?;
//!     let loss = pred.sub(tape.constant(y.clone()))?.square().mean();
//!     last = loss.item();
//!     let mut grads = tape.backward(loss)?;
//!     adam.step(&mut params, &p.gradients(&mut grads))?;
//! }
//! assert!(last < 0.01);
//! # Ok::<(), autodiff::Error>(())
//! ```

mod error;
mod float;
pub mod gemm;
mod grad_check;
mod groups;
pub mod nn;
mod op;
mod ops;
pub mod optim;
pub mod par;
mod params;
mod pool;
pub mod simd;
mod tape;
pub mod train;

pub use error::{Error, Result, all_finite, check_finite};
pub use float::{Float, lit};
pub use grad_check::{GradCheckOptions, GradCheckReport, grad_check, grad_check_params};
pub use groups::conv1d_output_length;
pub use ops::{concat_cols, concat_rows, pairwise_sq_dist, row_sq_norms};
pub use params::{Bound, ParamId, Params};
/// The training loop's buffer hand-back, reachable only so that its test can run in a process
/// of its own (it inspects every worker's cache); not part of the API.
#[doc(hidden)]
pub use pool::return_to_workers as __return_to_workers;
pub use pool::{cached_bytes, release_buffers};
pub use tape::{Gradients, Tape, Var};

/// Re-export of the linear-algebra crate every batch is made of.
pub use nalgebra;
