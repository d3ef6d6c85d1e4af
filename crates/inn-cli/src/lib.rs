//! The `inn` command line's library half: numeric tables read from CSV, TSV, `.npy`, `.npz` and
//! Parquet files and written to all but TSV ([`table`]), the figures and pages of the
//! calibration checks ([`report`]), and the one error type of the command line ([`Error`]).
//!
//! The binary (`cargo install --path crates/inn-cli`, installed as `inn`) fits invertible
//! networks to such tables, samples posteriors, evaluates and describes model files; the
//! training and models themselves live in the `inn` library, which needs none of the file-format
//! or argument-parsing dependencies.

pub mod error;
pub mod report;
pub mod table;

pub use error::{Error, Result};
pub use table::{CsvOptions, Format, HeaderMode, Table, Values, save_csv};
