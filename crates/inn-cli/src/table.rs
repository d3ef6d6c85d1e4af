//! `Table`: a matrix of f64 samples with named columns, loaded from CSV or `.npy` files.
//!
//! One sample per row, one variable per column, as every batch in this workspace. Loading checks
//! everything a file can get wrong (missing file, ragged rows, non-numeric or non-finite cells,
//! empty tables, bad `.npy` headers) and returns a [`Error`] naming the file, the 1-based line
//! and the 0-based column with its name; no file content makes it panic.

mod column_spec;
mod csv_file;
mod npy_file;

pub use csv_file::{CsvOptions, HeaderMode, save_csv};

use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{Error, Result};

/// A batch of samples with column names: `data` is `n × d`, one sample per row, and
/// `names[j]` names column `j`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    names: Vec<String>,
    data: DMatrix<f64>,
}

impl Table {
    /// Builds a table; errors with [`Error::NameCountMismatch`] unless there is exactly one
    /// name per column of `data` (an `n × d` batch, one sample per row).
    pub fn new(names: Vec<String>, data: DMatrix<f64>) -> Result<Table> {
        if names.len() != data.ncols() {
            return Err(Error::NameCountMismatch {
                names: names.len(),
                columns: data.ncols(),
            });
        }
        Ok(Table { names, data })
    }

    /// Builds a table with the default names `c0, c1, …` (the names files without a header get).
    pub fn with_default_names(data: DMatrix<f64>) -> Table {
        Table {
            names: default_names(data.ncols()),
            data,
        }
    }

    /// The column names, one per column.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The data, `n × d`, one sample per row.
    pub fn data(&self) -> &DMatrix<f64> {
        &self.data
    }

    /// Number of rows (samples).
    pub fn n_rows(&self) -> usize {
        self.data.nrows()
    }

    /// Number of columns (variables).
    pub fn n_columns(&self) -> usize {
        self.data.ncols()
    }

    /// Takes the table apart into its names and its `n × d` data.
    pub fn into_parts(self) -> (Vec<String>, DMatrix<f64>) {
        (self.names, self.data)
    }

    /// Loads a CSV file; see [`CsvOptions`] for the delimiter, the header rule and comments.
    ///
    /// Every data cell must be a finite number in Rust's `f64` syntax (`1`, `-2.5`, `3e-4`;
    /// surrounding spaces are ignored) and every row must have as many fields as the first.
    /// Empty lines are skipped. Files without a header get the column names `c0, c1, …`.
    ///
    /// Errors ([`Error`]): `Io` (missing or unreadable file), `RaggedRow`, `NonNumeric`
    /// (also for empty cells), `NonFiniteCell` (NaN, inf), `EmptyTable` (no data rows), each
    /// naming the file, the 1-based line and the 0-based column with its name.
    ///
    /// ```
    /// use inn_cli::table::{CsvOptions, Table};
    /// let path = std::env::temp_dir().join(format!("inn-doc-load-csv-{}.csv", std::process::id()));
    /// std::fs::write(&path, "x,y,label\n0.5,1.5,0\n-1,2e-3,1\n")?;
    /// let table = Table::load_csv(&path, &CsvOptions::default())?;
    /// assert_eq!(table.names(), ["x", "y", "label"]);
    /// assert_eq!(table.data().shape(), (2, 3));
    /// let xy = table.select("x,y")?; // or "0..2"
    /// assert_eq!(xy.data()[(1, 1)], 2e-3);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Table> {
        csv_file::load_csv(path.as_ref(), options)
    }

    /// Loads a NumPy `.npy` file holding a 2-D array (rows are samples) or a 1-D array (read as
    /// one column), of dtype float32 or float64 in either byte order, stored in C or Fortran
    /// order. float32 values are widened to f64 exactly. Columns are named `c0, c1, …`.
    ///
    /// Errors ([`Error`]): `Io`, `CorruptNpy` (not an `.npy` file, bad header, data shorter or
    /// longer than the header says), `UnsupportedNpy` (another dtype, or 0-D / 3-D and higher
    /// arrays), `EmptyTable` (a zero-length dimension), `NonFiniteEntry` (naming row and column).
    pub fn load_npy(path: impl AsRef<Path>) -> Result<Table> {
        npy_file::load_npy(path.as_ref())
    }

    /// Loads a file by its extension (case-insensitive): `.csv` as comma-separated and `.tsv`
    /// as tab-separated with [`HeaderMode::Auto`], `.npy` as [`Table::load_npy`]. Other
    /// extensions are a [`Error::UnknownExtension`].
    pub fn load(path: impl AsRef<Path>) -> Result<Table> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Table::load_csv(path, &CsvOptions::default()),
            Some("tsv") => Table::load_csv(
                path,
                &CsvOptions {
                    delimiter: b'\t',
                    ..CsvOptions::default()
                },
            ),
            Some("npy") => Table::load_npy(path),
            _ => Err(Error::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Saves the table as a comma-separated file with a header row; see [`save_csv`].
    pub fn save_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        save_csv(path, &self.names, &self.data)
    }

    /// The 0-based column indices a selection `spec` refers to, in the order given.
    ///
    /// `spec` is a comma-separated list of items; each item (spaces around it are ignored) is
    /// - an index `k` (digits only): column `k`, counting from 0;
    /// - a half-open range `a..b`: columns `a, a+1, …, b−1` (so `0..3` is the first three);
    ///   `a..` runs to the last column and `..b` starts at 0; `a..=b` is not accepted;
    /// - otherwise a column name from the header, matched exactly (case-sensitive).
    ///
    /// So a column whose name is made of digits is selected by its index, and a name containing a
    /// comma cannot be selected by name. Items may repeat or overlap; the result has one column
    /// per selected index.
    ///
    /// Errors: [`Error::BadColumnSpec`] (empty item, malformed or empty range),
    /// [`Error::ColumnOutOfRange`], [`Error::UnknownColumn`],
    /// [`Error::AmbiguousColumn`] (the name occurs twice in the header).
    pub fn column_indices(&self, spec: &str) -> Result<Vec<usize>> {
        column_spec::resolve(spec, &self.names)
    }

    /// The sub-table of the columns selected by `spec` (see [`Table::column_indices`]), with
    /// their names; all rows are kept.
    pub fn select(&self, spec: &str) -> Result<Table> {
        let indices = self.column_indices(spec)?;
        Ok(Table {
            names: indices.iter().map(|&j| self.names[j].clone()).collect(),
            data: self.data.select_columns(&indices),
        })
    }
}

/// The names `c0, c1, …, c{d−1}` given to columns of files without a header.
fn default_names(d: usize) -> Vec<String> {
    (0..d).map(|j| format!("c{j}")).collect()
}

/// A fresh path in a per-process scratch folder of the system temp directory, for tests.
#[cfg(test)]
fn scratch_path(file: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("inn-data-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cannot create the test scratch folder");
    dir.join(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_the_name_count() {
        let err = Table::new(vec!["a".into()], DMatrix::zeros(3, 2)).unwrap_err();
        assert!(matches!(
            err,
            Error::NameCountMismatch {
                names: 1,
                columns: 2
            }
        ));
        let t = Table::with_default_names(DMatrix::zeros(3, 2));
        assert_eq!(t.names(), ["c0", "c1"]);
        assert_eq!((t.n_rows(), t.n_columns()), (3, 2));
    }

    #[test]
    fn load_dispatches_on_the_extension() {
        let csv = scratch_path("dispatch.CSV");
        std::fs::write(&csv, "a,b\n1,2\n").unwrap();
        assert_eq!(Table::load(&csv).unwrap().names(), ["a", "b"]);
        let tsv = scratch_path("dispatch.tsv");
        std::fs::write(&tsv, "a\tb\n1\t2\n").unwrap();
        let t = Table::load(&tsv).unwrap();
        assert_eq!(t.data(), &DMatrix::from_row_slice(1, 2, &[1.0, 2.0]));
        let other = scratch_path("dispatch.parquet");
        let err = Table::load(&other).unwrap_err();
        assert!(matches!(err, Error::UnknownExtension { .. }));
        assert!(err.to_string().contains("dispatch.parquet"), "{err}");
    }

    #[test]
    fn select_by_names_and_ranges() {
        let data = DMatrix::from_fn(2, 6, |i, j| (10 * i + j) as f64);
        let names = ["a", "b", "c", "d", "e", "f"].map(String::from).to_vec();
        let t = Table::new(names, data).unwrap();
        let s = t.select("0..3, 5").unwrap();
        assert_eq!(s.names(), ["a", "b", "c", "f"]);
        assert_eq!(
            s.data().row(1).iter().copied().collect::<Vec<_>>(),
            [10.0, 11.0, 12.0, 15.0]
        );
        let s = t.select("f,a").unwrap();
        assert_eq!(s.names(), ["f", "a"]);
        assert_eq!(s.data()[(0, 0)], 5.0);
        assert_eq!(t.column_indices("4..").unwrap(), [4, 5]);
        assert_eq!(t.column_indices("..2").unwrap(), [0, 1]);
        assert_eq!(t.column_indices("b,1,1..2").unwrap(), [1, 1, 1]);
    }
}
