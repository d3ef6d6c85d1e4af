//! Data: seeded toy problems and test problems with known answers.
//!
//! Every batch is an `n × d` [`nalgebra::DMatrix<f64>`], one sample per row; convert to f32
//! with `.cast::<f32>()` for training. Reading and writing tables (CSV, TSV, `.npy`) belongs to
//! the command line (`crates/inn-cli`), so this library needs no file-format dependencies.
//!
//! - [`toy`]: the 2-D benchmark densities of FFJORD and i-ResNet ([`toy::two_moons`],
//!   [`toy::eight_gaussians`], [`toy::checkerboard`], [`toy::rings`], [`toy::pinwheel`],
//!   [`toy::spirals`], named by [`ToyDataset`]) and the labelled eight-modes toy of Ardizzone
//!   et al. 2018 with its exact posterior ([`toy::eight_modes`], [`toy::LabelMap`]); test problems
//!   with known answers for measuring generalisation: a linear-Gaussian inverse problem with its
//!   exact posterior ([`toy::LinearGaussian`]), a 4-D Gaussian mixture with exact log-density
//!   ([`toy::MixtureDensity`]) and a table of dequantised 8×8 digit-like images
//!   ([`toy::pixel_images`]); for summary networks, a normal seen through a set of draws with
//!   its exact normal-inverse-gamma posterior ([`toy::NormalSet`]) and a three-peak spectrum
//!   ([`toy::LorentzSpectrum`]).
//!
//! Errors are [`crate::Error`]'s `NonFiniteInput`, `ShapeMismatch`, `InvalidParameter`,
//! `InvalidLabel` and `UnknownName`.

pub mod toy;

pub use toy::{EightModes, LabelMap, ToyDataset};
