//! `Values`: a table's `n × d` numbers in the precision its file stored them in.

use nalgebra::DMatrix;

/// The numbers of a table, `n × d` (one sample per row), as f32 or f64: an f32 file stays f32,
/// so a large single-precision table is held once at its own size rather than doubled.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Single precision (float32 `.npy`/`.npz` arrays, Float32 Parquet columns).
    F32(DMatrix<f32>),
    /// Double precision (CSV and TSV cells, float64 arrays and columns, integer columns).
    F64(DMatrix<f64>),
}

impl Values {
    /// Number of rows.
    pub fn nrows(&self) -> usize {
        match self {
            Values::F32(m) => m.nrows(),
            Values::F64(m) => m.nrows(),
        }
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        match self {
            Values::F32(m) => m.ncols(),
            Values::F64(m) => m.ncols(),
        }
    }

    /// The value at row `i`, column `j`, as f64 (exact for f32 values). Panics out of range,
    /// like matrix indexing.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        match self {
            Values::F32(m) => f64::from(m[(i, j)]),
            Values::F64(m) => m[(i, j)],
        }
    }

    /// The columns `indices` (in that order), in the same precision.
    pub fn select_columns(&self, indices: &[usize]) -> Values {
        match self {
            Values::F32(m) => Values::F32(m.select_columns(indices)),
            Values::F64(m) => Values::F64(m.select_columns(indices)),
        }
    }

    /// The columns `indices` (in that order) as f64, converting only those.
    pub fn select_columns_f64(&self, indices: &[usize]) -> DMatrix<f64> {
        DMatrix::from_fn(self.nrows(), indices.len(), |i, j| self.get(i, indices[j]))
    }

    /// The values as f64 (widened exactly when they are f32).
    pub fn into_f64(self) -> DMatrix<f64> {
        match self {
            Values::F32(m) => m.map(f64::from),
            Values::F64(m) => m,
        }
    }

    /// The value every one of `rows` holds in column `j`, or `None` when they differ (or
    /// `rows` is empty).
    pub fn constant_over(&self, j: usize, rows: &[usize]) -> Option<f64> {
        fn of<T: nalgebra::Scalar + Copy + PartialEq + Into<f64>>(
            m: &DMatrix<T>,
            j: usize,
            rows: &[usize],
        ) -> Option<f64> {
            let column = m.column(j);
            let first = column[*rows.first()?];
            rows.iter()
                .all(|&i| column[i] == first)
                .then(|| first.into())
        }
        match self {
            Values::F32(m) => of(m, j, rows),
            Values::F64(m) => of(m, j, rows),
        }
    }

    /// The position (row, column) and value of the first non-finite entry in row-major order.
    pub(crate) fn first_non_finite(&self) -> Option<(usize, usize, f64)> {
        // One pass in memory order first (blocks without early exit, which vectorise): tables
        // are almost always all finite.
        let all_finite = match self {
            Values::F32(m) => m
                .as_slice()
                .chunks(4096)
                .all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite())),
            Values::F64(m) => m
                .as_slice()
                .chunks(4096)
                .all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite())),
        };
        if all_finite {
            return None;
        }
        (0..self.nrows())
            .flat_map(|i| (0..self.ncols()).map(move |j| (i, j)))
            .map(|(i, j)| (i, j, self.get(i, j)))
            .find(|(_, _, v)| !v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_precisions_read_the_same_numbers() {
        let m = DMatrix::from_fn(3, 4, |i, j| i as f32 - 0.25 * j as f32);
        let (a, b) = (Values::F32(m.clone()), Values::F64(m.map(f64::from)));
        assert_eq!((a.nrows(), a.ncols()), (3, 4));
        for (i, j) in [(0, 0), (2, 3), (1, 2)] {
            assert_eq!(a.get(i, j), b.get(i, j));
        }
        assert_eq!(a.select_columns_f64(&[3, 0]), b.select_columns_f64(&[3, 0]));
        assert_eq!(a.select_columns(&[1]), Values::F32(m.select_columns(&[1])));
        assert_eq!(a.clone().into_f64(), b.clone().into_f64());
        assert_eq!(a.first_non_finite(), None);
        assert_eq!(a.constant_over(1, &[0, 2]), None);
        assert_eq!(b.constant_over(2, &[1]), Some(1.0 - 0.5));
        let flat = Values::F64(DMatrix::from_element(3, 1, 2.5));
        assert_eq!(flat.constant_over(0, &[2, 0, 1]), Some(2.5));
        assert_eq!(flat.constant_over(0, &[]), None);
        let mut bad = m;
        bad[(2, 1)] = f32::INFINITY;
        bad[(1, 3)] = f32::NAN;
        let (i, j, v) = Values::F32(bad).first_non_finite().unwrap();
        assert_eq!((i, j), (1, 3));
        assert!(v.is_nan());
    }
}
