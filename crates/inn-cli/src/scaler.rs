//! `Scaler`: per-column standardisation `(v − mean) / std`, saved in the model and undone on output.

use crate::error::{Error, Result};
use inn::autodiff::nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// Column means and standard deviations of a training table (`n × d`, one sample per row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Mean of every column.
    pub mean: Vec<f64>,
    /// Standard deviation of every column (population form); a constant column gets 1, so it
    /// is only centred.
    pub std: Vec<f64>,
}

impl Scaler {
    /// The means and standard deviations of the columns of `data` (at least one row).
    pub fn fit(data: &DMatrix<f64>) -> Scaler {
        let std = data
            .row_variance()
            .iter()
            .map(|v| v.sqrt())
            .map(|s| if s > 0.0 && s.is_finite() { s } else { 1.0 })
            .collect();
        Scaler {
            mean: data.row_mean().iter().copied().collect(),
            std,
        }
    }

    /// Number of columns.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Standardises `data` (`n × d`) and narrows it to the f32 the networks train in.
    pub fn apply(&self, data: &DMatrix<f64>) -> DMatrix<f32> {
        DMatrix::from_fn(data.nrows(), data.ncols(), |i, j| {
            ((data[(i, j)] - self.mean[j]) / self.std[j]) as f32
        })
    }

    /// [`Scaler::apply`], refusing a value that leaves `f32`'s range after standardisation:
    /// the error names the row (`what` says what a row is, e.g. "observation"), the column and
    /// the value, and the training rows' mean and spread it was standardised with.
    pub fn apply_checked(
        &self,
        data: &DMatrix<f64>,
        names: &[String],
        what: &str,
    ) -> Result<DMatrix<f32>> {
        let z = self.apply(data);
        if let Some(k) = z.iter().position(|v| !v.is_finite()) {
            let (i, j) = (k % z.nrows(), k / z.nrows());
            let name = names.get(j).map_or("?", String::as_str);
            return Err(Error::Runtime(format!(
                "{what} {i}, column `{name}`: {:?} overflows after standardisation with the \
                 training rows' mean {:.4} and standard deviation {:.4} (beyond single \
                 precision, ±3.4e38); the model cannot say anything about it",
                data[(i, j)],
                self.mean[j],
                self.std[j]
            )));
        }
        Ok(z)
    }

    /// Maps standardised values (`n × d`) back to data units.
    pub fn undo(&self, data: &DMatrix<f32>) -> DMatrix<f64> {
        DMatrix::from_fn(data.nrows(), data.ncols(), |i, j| {
            f64::from(data[(i, j)]) * self.std[j] + self.mean[j]
        })
    }

    /// `Σ ln std_j`: a log-density of standardised values minus this is the log-density in
    /// data units (the Jacobian of the standardisation).
    pub fn log_det(&self) -> f64 {
        self.std.iter().map(|s| s.ln()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_then_undo_is_the_identity_and_constant_columns_are_only_centred() {
        let data = DMatrix::from_row_slice(3, 2, &[1.0, 5.0, 2.0, 5.0, 6.0, 5.0]);
        let s = Scaler::fit(&data);
        assert_eq!(s.std[1], 1.0);
        let z = s.apply(&data);
        assert!(z.column(0).sum().abs() < 1e-6);
        assert!(z.column(1).iter().all(|&v| v == 0.0));
        let back = s.undo(&z);
        assert!((back - data).abs().max() < 1e-5);
    }
}
