//! `Scaler`: per-column standardisation `(v − mean) / std`, saved in the model and undone on output.

use crate::error::{Error, Result};
use crate::table::Values;
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
    /// The means and standard deviations of the columns `columns` of `values` over the rows
    /// `rows` (at least one), read in place: nothing of the table is copied. Two passes per
    /// column (mean, then mean squared deviation), summed in f64; `rows` in increasing order
    /// read the columns front to back.
    pub fn fit_rows(values: &Values, columns: &[usize], rows: &[usize]) -> Scaler {
        match values {
            Values::F32(m) => Scaler::fit_matrix(m, columns, rows),
            Values::F64(m) => Scaler::fit_matrix(m, columns, rows),
        }
    }

    fn fit_matrix<T>(m: &DMatrix<T>, columns: &[usize], rows: &[usize]) -> Scaler
    where
        T: nalgebra::Scalar + Copy + Into<f64>,
    {
        let n = rows.len().max(1) as f64;
        let mut mean = Vec::with_capacity(columns.len());
        let mut std = Vec::with_capacity(columns.len());
        for &j in columns {
            let column = &m.as_slice()[j * m.nrows()..(j + 1) * m.nrows()];
            let mu = rows.iter().map(|&i| column[i].into()).sum::<f64>() / n;
            let var = rows
                .iter()
                .map(|&i| (column[i].into() - mu).powi(2))
                .sum::<f64>()
                / n;
            let s = var.sqrt();
            mean.push(mu);
            std.push(if s > 0.0 && s.is_finite() { s } else { 1.0 });
        }
        Scaler { mean, std }
    }

    /// Standardises the rows `rows` (in that order) of the columns `columns` of `values` into
    /// a new `rows.len() × columns.len()` f32 matrix: the one copy training needs.
    pub fn apply_rows(&self, values: &Values, columns: &[usize], rows: &[usize]) -> DMatrix<f32> {
        match values {
            Values::F32(m) => self.apply_matrix(m, columns, rows),
            Values::F64(m) => self.apply_matrix(m, columns, rows),
        }
    }

    fn apply_matrix<T>(&self, m: &DMatrix<T>, columns: &[usize], rows: &[usize]) -> DMatrix<f32>
    where
        T: nalgebra::Scalar + Copy + Into<f64>,
    {
        let mut out = DMatrix::<f32>::zeros(rows.len(), columns.len());
        for ((k, &j), target) in columns.iter().enumerate().zip(out.column_iter_mut()) {
            let (mean, std) = (self.mean[k], self.std[k]);
            let source = &m.as_slice()[j * m.nrows()..(j + 1) * m.nrows()];
            for (slot, &i) in target.into_iter().zip(rows) {
                *slot = ((source[i].into() - mean) / std) as f32;
            }
        }
        out
    }

    /// Like [`Scaler::fit_rows`], but with one mean and standard deviation shared by the
    /// columns `columns[j], columns[j + period], columns[j + 2·period], …` (for every
    /// `j < period`), computed over all their values: for columns that are draws of one
    /// distribution (the elements of a set, the bins of a spectrum), which a summary network
    /// compares with one another.
    pub fn fit_rows_pooled(
        values: &Values,
        columns: &[usize],
        rows: &[usize],
        period: usize,
    ) -> Scaler {
        match values {
            Values::F32(m) => Scaler::fit_pooled(m, columns, rows, period),
            Values::F64(m) => Scaler::fit_pooled(m, columns, rows, period),
        }
    }

    fn fit_pooled<T>(m: &DMatrix<T>, columns: &[usize], rows: &[usize], period: usize) -> Scaler
    where
        T: nalgebra::Scalar + Copy + Into<f64>,
    {
        let period = period.max(1);
        let d = columns.len();
        let mut scaler = Scaler {
            mean: vec![0.0; d],
            std: vec![1.0; d],
        };
        let column = |j: usize| &m.as_slice()[j * m.nrows()..(j + 1) * m.nrows()];
        for first in 0..period.min(d) {
            let group: Vec<usize> = (first..d).step_by(period).collect();
            let n = (rows.len() * group.len()).max(1) as f64;
            let mu = group
                .iter()
                .map(|&k| {
                    rows.iter()
                        .map(|&i| column(columns[k])[i].into())
                        .sum::<f64>()
                })
                .sum::<f64>()
                / n;
            let var = group
                .iter()
                .map(|&k| {
                    let c = column(columns[k]);
                    rows.iter()
                        .map(|&i| (c[i].into() - mu).powi(2))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / n;
            let s = var.sqrt();
            for &k in &group {
                scaler.mean[k] = mu;
                scaler.std[k] = if s > 0.0 && s.is_finite() { s } else { 1.0 };
            }
        }
        scaler
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

    /// Pooled columns share the mean and deviation of all their values together; the groups
    /// are every `period`-th selected column.
    #[test]
    fn pooled_columns_share_one_scale() {
        // Columns: a0 b0 a1 b1 (period 2: a-columns pooled, b-columns pooled), plus an unused one.
        let data = DMatrix::from_row_slice(
            2,
            5,
            &[1.0, 10.0, 99.0, 3.0, 30.0, 5.0, 50.0, 99.0, 7.0, 70.0],
        );
        let s = Scaler::fit_rows_pooled(&Values::F64(data), &[0, 1, 3, 4], &[0, 1], 2);
        // a: 1, 5, 3, 7 → mean 4, var 5; b: 10, 50, 30, 70 → mean 40, var 500.
        assert_eq!(s.mean, vec![4.0, 40.0, 4.0, 40.0]);
        let (sa, sb) = (5.0f64.sqrt(), 500.0f64.sqrt());
        for (got, want) in s.std.iter().zip([sa, sb, sa, sb]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn apply_then_undo_is_the_identity_and_constant_columns_are_only_centred() {
        let data = DMatrix::from_row_slice(3, 2, &[1.0, 5.0, 2.0, 5.0, 6.0, 5.0]);
        let s = Scaler::fit_rows(&Values::F64(data.clone()), &[0, 1], &[0, 1, 2]);
        assert_eq!(s.std[1], 1.0);
        assert!(
            (s.mean[0] - 3.0).abs() < 1e-15 && (s.std[0] - (14.0f64 / 3.0).sqrt()).abs() < 1e-15
        );
        let z = s.apply(&data);
        let values = Values::F32(data.map(|v| v as f32));
        assert_eq!(s.apply_rows(&values, &[0, 1], &[0, 1, 2]), z);
        let swapped = Scaler::fit_rows(&values, &[1, 0], &[0, 1, 2]);
        assert_eq!(
            swapped.apply_rows(&values, &[1, 0], &[2, 0]),
            DMatrix::from_row_slice(2, 2, &[z[(2, 1)], z[(2, 0)], z[(0, 1)], z[(0, 0)]])
        );
        assert!(z.column(0).sum().abs() < 1e-6);
        assert!(z.column(1).iter().all(|&v| v == 0.0));
        let back = s.undo(&z);
        assert!((back - data).abs().max() < 1e-5);
    }
}
