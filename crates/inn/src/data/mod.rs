//! Data: seeded toy problems and numeric tables loaded from CSV and `.npy` files.
//!
//! Every batch is an `n × d` [`nalgebra::DMatrix<f64>`], one sample per row; convert to f32
//! with `.cast::<f32>()` for training.
//!
//! - [`toy`]: the 2-D benchmark densities of FFJORD and i-ResNet ([`toy::two_moons`],
//!   [`toy::eight_gaussians`], [`toy::checkerboard`], [`toy::rings`], [`toy::pinwheel`],
//!   [`toy::spirals`], named by [`ToyDataset`]) and the labelled eight-modes toy of Ardizzone
//!   et al. 2018 with its exact posterior ([`toy::eight_modes`], [`toy::LabelMap`]); test problems
//!   with known answers for measuring generalisation: a linear-Gaussian inverse problem with its
//!   exact posterior ([`toy::LinearGaussian`]), a 4-D Gaussian mixture with exact log-density
//!   ([`toy::MixtureDensity`]) and a table of dequantised 8×8 digit-like images
//!   ([`toy::pixel_images`]).
//! - [`table`]: [`Table`], a matrix with column names, loaded from CSV ([`Table::load_csv`]) or
//!   `.npy` ([`Table::load_npy`]) files, saved with [`save_csv`], with column selection by name
//!   or index range ([`Table::select`]).
//! - [`DataError`]: every error, naming the file, the 1-based line and the 0-based column.

mod error;
pub mod table;
pub mod toy;

pub use error::DataError;
pub use table::{CsvOptions, HeaderMode, Table, save_csv};
pub use toy::{EightModes, LabelMap, ToyDataset};
