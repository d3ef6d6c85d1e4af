//! `Table`: a matrix of samples with named columns, loaded from CSV, TSV, `.npy`, `.npz` or
//! Parquet files and written to any of them but TSV.
//!
//! One sample per row, one variable per column, as every batch in this workspace. Values keep
//! the precision the file stored them in ([`Values`]: f32 tables stay f32, so a large table is
//! held once at its own size). Loading checks everything a file can get wrong (missing file,
//! ragged rows, non-numeric, null or non-finite cells, empty tables, bad headers) and returns
//! an [`Error`] naming the file, the row (or 1-based line) and the column; no file content
//! makes it panic.

mod column_spec;
mod csv_file;
mod npy_file;
mod npz_file;
mod parquet_file;
mod values;

pub use csv_file::{CsvOptions, HeaderMode, save_csv};
pub use values::Values;

use std::borrow::Cow;
use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{Error, Result};

/// The table formats, by file extension (case-insensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.csv`: comma-separated text with an optional header.
    Csv,
    /// `.tsv`: tab-separated text with an optional header (read only).
    Tsv,
    /// `.npy`: one NumPy array (2-D: rows are samples; 1-D: one column).
    Npy,
    /// `.npz`: NumPy's zip archive of named arrays, each one or more columns.
    Npz,
    /// `.parquet`: Apache Parquet, one numeric column per variable.
    Parquet,
}

impl Format {
    /// The format of `path` by its extension, or [`Error::UnknownExtension`].
    pub fn of(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("tsv") => Ok(Format::Tsv),
            Some("npy") => Ok(Format::Npy),
            Some("npz") => Ok(Format::Npz),
            Some("parquet") => Ok(Format::Parquet),
            _ => Err(Error::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// A batch of samples with column names: `n × d` values, one sample per row, and `names[j]`
/// naming column `j`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    names: Vec<String>,
    data: Values,
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
        Ok(Table {
            names,
            data: Values::F64(data),
        })
    }

    /// Builds a table of values in either precision; the same check as [`Table::new`].
    pub fn from_values(names: Vec<String>, data: Values) -> Result<Table> {
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
            data: Values::F64(data),
        }
    }

    /// The column names, one per column.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The data, `n × d`, one sample per row, as f64: borrowed when the file held f64 values,
    /// widened (exactly) when it held f32 ones. [`Table::values`] has them as stored.
    pub fn data(&self) -> Cow<'_, DMatrix<f64>> {
        match &self.data {
            Values::F64(m) => Cow::Borrowed(m),
            Values::F32(m) => Cow::Owned(m.map(f64::from)),
        }
    }

    /// The values in the precision the file stored them in, `n × d`.
    pub fn values(&self) -> &Values {
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

    /// Takes the table apart into its names and its `n × d` data, as f64.
    pub fn into_parts(self) -> (Vec<String>, DMatrix<f64>) {
        (self.names, self.data.into_f64())
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

    /// Loads a NumPy `.npz` archive: every array (in archive order) is one or more columns,
    /// all of the same number of rows. A 1-D array `name` is one column called `name` (so is a
    /// 2-D array of one column); a 2-D array `name` of width `d ≥ 2` is the columns
    /// `name_0, …, name_{d−1}` (rows are samples), also selected by index as usual.
    /// Arrays are float32 or float64 as in [`Table::load_npy`]; the table is f32 when all of
    /// them are, f64 otherwise. Compressed (`np.savez_compressed`) and plain archives both read.
    ///
    /// Errors ([`Error`]): `Io`, `CorruptNpz` (not a zip archive, a damaged entry, an entry that
    /// is not an array, arrays of different lengths), `UnsupportedNpy` and `NonFiniteEntry` as
    /// for `.npy` (naming the array), `EmptyTable` (no arrays, or a zero-length one).
    pub fn load_npz(path: impl AsRef<Path>) -> Result<Table> {
        npz_file::load_npz(path.as_ref())
    }

    /// Loads an Apache Parquet file: one column per (top-level) field, named like it. Float32
    /// columns stay f32 when all columns are Float32; Float64 and integer columns make the
    /// table f64 (integers beyond ±2⁵³ are rounded). Snappy-compressed and uncompressed files
    /// read; other codecs are refused by name.
    ///
    /// Errors ([`Error`]): `Io`, `Parquet` (not a Parquet file, another codec, a damaged page),
    /// `UnsupportedColumn` (a string, date, nested … column, by name), `NullEntry` and
    /// `NonFiniteEntry` (by 0-based row and column), `EmptyTable`.
    pub fn load_parquet(path: impl AsRef<Path>) -> Result<Table> {
        parquet_file::load_parquet(path.as_ref())
    }

    /// Loads a file by its extension (case-insensitive, [`Format::of`]): `.csv` as
    /// comma-separated and `.tsv` as tab-separated with [`HeaderMode::Auto`], `.npy`, `.npz`
    /// and `.parquet` as [`Table::load_npy`], [`Table::load_npz`] and [`Table::load_parquet`].
    /// Other extensions are a [`Error::UnknownExtension`].
    pub fn load(path: impl AsRef<Path>) -> Result<Table> {
        let path = path.as_ref();
        match Format::of(path)? {
            Format::Csv => Table::load_csv(path, &CsvOptions::default()),
            Format::Tsv => Table::load_csv(
                path,
                &CsvOptions {
                    delimiter: b'\t',
                    ..CsvOptions::default()
                },
            ),
            Format::Npy => Table::load_npy(path),
            Format::Npz => Table::load_npz(path),
            Format::Parquet => Table::load_parquet(path),
        }
    }

    /// Saves the table as a comma-separated file with a header row; see [`save_csv`].
    pub fn save_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        save_csv(path, &self.names, &self.data())
    }

    /// Saves the table by the extension of `path` ([`Format::of`]), in its stored precision:
    /// `.csv` as [`Table::save_csv`]; `.npy` as one 2-D C-order array (the names are not kept:
    /// a `.npy` file has none); `.npz` as one 1-D array per column, named like it (so
    /// `numpy.load(path)["x1"]` is column `x1`); `.parquet` as one Float32 or Float64 column
    /// per column (Snappy-compressed). `.tsv` is refused ([`Error::UnknownExtension`]).
    ///
    /// ```
    /// use inn_cli::table::Table;
    /// use nalgebra::DMatrix;
    /// let dir = std::env::temp_dir().join(format!("inn-doc-save-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let table = Table::new(vec!["x".into(), "y".into()], DMatrix::from_row_slice(2, 2, &[1.0, 0.5, -2.0, 1e-300]))?;
    /// for name in ["t.csv", "t.npz", "t.parquet"] {
    ///     table.save(dir.join(name))?;
    ///     assert_eq!(Table::load(dir.join(name))?, table);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        match Format::of(path)? {
            Format::Csv => self.save_csv(path),
            Format::Npy => npy_file::save_npy(path, &self.data),
            Format::Npz => npz_file::save_npz(path, &self.names, &self.data),
            Format::Parquet => parquet_file::save_parquet(path, &self.names, &self.data),
            Format::Tsv => Err(Error::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
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
        assert_eq!(*t.data(), DMatrix::from_row_slice(1, 2, &[1.0, 2.0]));
        let other = scratch_path("dispatch.xlsx");
        let err = Table::load(&other).unwrap_err();
        assert!(matches!(err, Error::UnknownExtension { .. }));
        assert!(err.to_string().contains("dispatch.xlsx"), "{err}");
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
