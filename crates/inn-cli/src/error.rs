//! [`Error`]: everything the `inn` command line can fail with — a usage error (exit code 2),
//! a table that cannot be read or written, or a failure of the library (exit code 1).
//!
//! Conventions used in every message: `line` is 1-based, as a text editor shows it (for a row
//! with a quoted line break, the line where the row starts); `column` and `row` are 0-based
//! indices, the same numbers a column selection such as `0..3,5` uses, and the column's name is
//! given next to it.

use std::path::PathBuf;

/// The error type of the `inn` command line and its table I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The arguments do not make sense together or for this model (exit code 2, like clap's).
    #[error("{0}")]
    Usage(String),
    /// The command was well formed but could not be carried out on this input.
    #[error("{0}")]
    Runtime(String),
    /// From the library: training, a model file, a bijector, ….
    #[error(transparent)]
    Inn(#[from] inn::Error),
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The CSV reader or writer failed for a reason other than the ones below (for example a
    /// read error in the middle of the file).
    #[error("{}: line {line}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line where the reader stopped (0 when unknown).
        line: u64,
        /// The underlying CSV error.
        source: csv::Error,
    },
    /// A row has a different number of fields than the first row.
    #[error(
        "{}: line {line}: row has {found} fields, expected {expected} like line {first_line}",
        path.display()
    )]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending row.
        line: u64,
        /// 1-based line of the first row (header or first data row), which fixed the width.
        first_line: u64,
        /// Number of fields of the first row.
        expected: usize,
        /// Number of fields of this row.
        found: usize,
    },
    /// A cell is not a number (this includes empty cells).
    #[error(
        "{}: line {line}, column {column} (`{name}`): `{cell}` is not a number",
        path.display()
    )]
    NonNumeric {
        /// The file.
        path: PathBuf,
        /// 1-based line on which the cell's row starts.
        line: u64,
        /// 0-based column index of the cell.
        column: usize,
        /// Name of the column.
        name: String,
        /// The cell's text (lossily decoded when it is not UTF-8).
        cell: String,
    },
    /// A CSV cell parses as NaN or ±infinity.
    #[error(
        "{}: line {line}, column {column} (`{name}`): `{cell}` is not finite",
        path.display()
    )]
    NonFiniteCell {
        /// The file.
        path: PathBuf,
        /// 1-based line on which the cell's row starts.
        line: u64,
        /// 0-based column index of the cell.
        column: usize,
        /// Name of the column.
        name: String,
        /// The cell's text.
        cell: String,
    },
    /// An entry of a `.npy` array is NaN or ±infinity.
    #[error(
        "{}: row {row}, column {column}: value {value} is not finite",
        path.display()
    )]
    NonFiniteEntry {
        /// The file.
        path: PathBuf,
        /// 0-based row index.
        row: usize,
        /// 0-based column index.
        column: usize,
        /// The value.
        value: f64,
    },
    /// The file holds no data rows or no columns.
    #[error("{}: {what}", path.display())]
    EmptyTable {
        /// The file.
        path: PathBuf,
        /// What is missing (`"no data rows"`, `"no columns"`).
        what: String,
    },
    /// A column selection names a column that the table does not have.
    #[error("unknown column `{name}` in selection `{spec}`; columns are: {}", available.join(", "))]
    UnknownColumn {
        /// The unknown name.
        name: String,
        /// The whole selection.
        spec: String,
        /// The table's column names.
        available: Vec<String>,
    },
    /// A column selection names a column that occurs more than once in the header.
    #[error("column name `{name}` in selection `{spec}` is ambiguous: it is column {indices:?}")]
    AmbiguousColumn {
        /// The name.
        name: String,
        /// The whole selection.
        spec: String,
        /// The 0-based indices of the columns with that name.
        indices: Vec<usize>,
    },
    /// A column index (or the end of a range) is past the last column.
    #[error(
        "column index {index} in selection `{spec}` is out of range: the table has {n_columns} columns (indices 0..{n_columns})"
    )]
    ColumnOutOfRange {
        /// The 0-based index (for a range `a..b`, the first index that does not exist).
        index: usize,
        /// The whole selection.
        spec: String,
        /// Number of columns of the table.
        n_columns: usize,
    },
    /// A column selection is syntactically wrong or selects nothing.
    #[error("bad column selection `{token}` in `{spec}`: {reason}")]
    BadColumnSpec {
        /// The offending comma-separated item.
        token: String,
        /// The whole selection.
        spec: String,
        /// Why it is wrong.
        reason: String,
    },
    /// A `.npy` file is well formed but holds something other than a 1-D or 2-D f32/f64 array.
    #[error("{}: unsupported .npy array: {reason}", path.display())]
    UnsupportedNpy {
        /// The file.
        path: PathBuf,
        /// What is unsupported (dtype, shape).
        reason: String,
    },
    /// A `.npy` file is not a valid NumPy array file (bad magic, header, or too short).
    #[error("{}: corrupt .npy file: {reason}", path.display())]
    CorruptNpy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `.npz` archive cannot be read: not a zip archive, a damaged entry, an entry that is
    /// not an array, arrays of different lengths.
    #[error("{}: corrupt .npz file: {reason}", path.display())]
    CorruptNpz {
        /// The file.
        path: PathBuf,
        /// What is wrong (naming the array where there is one).
        reason: String,
    },
    /// A Parquet file cannot be read or written: not a Parquet file, an unsupported codec, a
    /// damaged page.
    #[error("{}: Parquet: {reason}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A Parquet column is not numeric (strings, dates, nested values, …).
    #[error(
        "{}: column {column} (`{name}`) has type {kind}; tables hold numbers only (drop the column or encode it as numbers)",
        path.display()
    )]
    UnsupportedColumn {
        /// The file.
        path: PathBuf,
        /// 0-based column index.
        column: usize,
        /// The column's name.
        name: String,
        /// Its type.
        kind: String,
    },
    /// A cell is null (missing).
    #[error(
        "{}: row {row}, column {column} (`{name}`) is null; fill or drop missing values first",
        path.display()
    )]
    NullEntry {
        /// The file.
        path: PathBuf,
        /// 0-based row index.
        row: usize,
        /// 0-based column index.
        column: usize,
        /// The column's name.
        name: String,
    },
    /// A table could not be written.
    #[error("{}: cannot write: {reason}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// [`crate::table::Table::load`] does not know the file's extension.
    #[error(
        "{}: unknown file type (expected extension .csv, .tsv, .npy, .npz or .parquet)",
        path.display()
    )]
    UnknownExtension {
        /// The file.
        path: PathBuf,
    },
    /// The number of column names differs from the number of matrix columns.
    #[error("{names} column names given for a matrix with {columns} columns")]
    NameCountMismatch {
        /// Number of names.
        names: usize,
        /// Number of matrix columns.
        columns: usize,
    },
    /// No column name is non-empty and non-numeric, so a CSV header made of them would be read
    /// back as a data row (see [`crate::table::HeaderMode::Auto`]).
    #[error(
        "column names {names:?} would not be detected as a CSV header: at least one must be non-empty and not a number"
    )]
    NumericHeader {
        /// The names.
        names: Vec<String>,
    },
    /// An input matrix holds NaN or ±infinity.
    #[error("{what}: entry at row {row}, column {column} is not finite ({value})")]
    NonFiniteInput {
        /// Which input.
        what: &'static str,
        /// 0-based row index.
        row: usize,
        /// 0-based column index.
        column: usize,
        /// The value.
        value: f64,
    },
}

impl Error {
    /// The process exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T = ()> = std::result::Result<T, Error>;
