//! Reading and writing numeric CSV files with the `csv` crate.

use std::fs::File;
use std::path::Path;

use csv::{ByteRecord, ReaderBuilder, Trim, WriterBuilder};
use nalgebra::DMatrix;

use super::{Table, Values, default_names};
use crate::error::{Error, Result};

/// Whether the first row of a CSV file is a header of column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderMode {
    /// Detect it: the first row is a header when at least one of its cells is non-empty and
    /// does not parse as a number (Rust `f64` syntax, so `nan` and `inf` count as numbers).
    /// A header of numbers alone is therefore read as data: use [`HeaderMode::Present`] then.
    #[default]
    Auto,
    /// The first row is always a header.
    Present,
    /// There is no header; columns are named `c0, c1, …`.
    Absent,
}

/// Options for [`Table::load_csv`]. The default is comma-separated, header auto-detected, no
/// comment character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field delimiter (default `b','`).
    pub delimiter: u8,
    /// Whether the first row is a header (default [`HeaderMode::Auto`]).
    pub header: HeaderMode,
    /// Lines starting with this byte are skipped (default none; `Some(b'#')` reads files from
    /// `numpy.savetxt`, whose header line starts with `#`). A comment runs to the next `\n`, so
    /// files with old-Mac `\r`-only line endings must not use comments.
    pub comment: Option<u8>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            header: HeaderMode::Auto,
            comment: None,
        }
    }
}

/// The cell as text: trimmed by the reader, lossily decoded if it is not UTF-8.
fn cell_text(cell: &[u8]) -> String {
    String::from_utf8_lossy(cell).into_owned()
}

/// The cell as a number, if it is valid UTF-8 in Rust's `f64` syntax.
fn parse_cell(cell: &[u8]) -> Option<f64> {
    std::str::from_utf8(cell).ok()?.parse::<f64>().ok()
}

/// Converts a `csv` error into a [`Error`], keeping I/O errors as [`Error::Io`].
fn csv_error(path: &Path, err: csv::Error) -> Error {
    let line = err.position().map_or(0, |p| p.line());
    if err.is_io_error() {
        if let csv::ErrorKind::Io(source) = err.into_kind() {
            return Error::Io {
                path: path.to_path_buf(),
                source,
            };
        }
        // `is_io_error` guarantees the kind above; keep a readable error regardless.
        return Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other("CSV I/O error"),
        };
    }
    Error::Csv {
        path: path.to_path_buf(),
        line,
        source: err,
    }
}

/// Finds the 1-based line on which a record starts, as a text editor counts lines (`\n`,
/// `\r\n` and a lone `\r` each end a line).
///
/// The `csv` crate's own line numbers skip neither empty lines nor `\r\n` correctly, and the
/// byte offset it reports for a record is where the previous record ended, before the line
/// breaks and comment lines it skipped; so we skip those ourselves from that offset.
struct LineLocator<'a> {
    bytes: &'a [u8],
    comment: Option<u8>,
    /// Byte position up to which line breaks have been counted.
    pos: usize,
    /// The line that `pos` is on.
    line: u64,
}

impl<'a> LineLocator<'a> {
    fn new(bytes: &'a [u8], comment: Option<u8>) -> Self {
        LineLocator {
            bytes,
            comment,
            pos: 0,
            line: 1,
        }
    }

    /// Advances to byte `target` (never backwards), counting line breaks on the way.
    fn advance_to(&mut self, target: usize) {
        let target = target.min(self.bytes.len());
        while self.pos < target {
            match self.bytes[self.pos] {
                b'\n' => self.line += 1,
                b'\r' if self.bytes.get(self.pos + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// The line of the record whose reported start offset is `offset`.
    fn line_of_record(&mut self, offset: u64) -> u64 {
        let mut at = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        loop {
            match self.bytes.get(at) {
                Some(b'\r' | b'\n') => at += 1,
                Some(&b) if Some(b) == self.comment => {
                    while at < self.bytes.len() && !matches!(self.bytes[at], b'\r' | b'\n') {
                        at += 1;
                    }
                }
                _ => break,
            }
        }
        self.advance_to(at);
        self.line
    }
}

/// See [`Table::load_csv`].
pub(super) fn load_csv(path: &Path, options: &CsvOptions) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = LineLocator::new(&bytes, options.comment);
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(Trim::All)
        .delimiter(options.delimiter)
        .comment(options.comment)
        .from_reader(bytes.as_slice());

    let mut record = ByteRecord::new();
    let mut names: Option<Vec<String>> = None;
    // Width of the table and the line of the row that fixed it.
    let mut width = 0;
    let mut first_line = 0;
    let mut values = Vec::new();
    let mut n_rows = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => return Err(csv_error(path, err)),
        }
        // A line of spaces reads as one empty field: skip it like an empty line.
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        let line = lines.line_of_record(record.position().map_or(0, |p| p.byte()));
        if names.is_none() {
            width = record.len();
            first_line = line;
            let is_header = match options.header {
                HeaderMode::Present => true,
                HeaderMode::Absent => false,
                HeaderMode::Auto => record
                    .iter()
                    .any(|cell| !cell.is_empty() && parse_cell(cell).is_none()),
            };
            if is_header {
                names = Some(
                    record
                        .iter()
                        .enumerate()
                        .map(|(j, cell)| {
                            if cell.is_empty() {
                                format!("c{j}")
                            } else {
                                cell_text(cell)
                            }
                        })
                        .collect(),
                );
                continue;
            }
            names = Some(default_names(width));
        }
        let names = names.as_deref().unwrap_or_default();
        if record.len() != width {
            return Err(Error::RaggedRow {
                path: path.to_path_buf(),
                line,
                first_line,
                expected: width,
                found: record.len(),
            });
        }
        for (column, cell) in record.iter().enumerate() {
            let name = || names.get(column).cloned().unwrap_or_default();
            let value = parse_cell(cell).ok_or_else(|| Error::NonNumeric {
                path: path.to_path_buf(),
                line,
                column,
                name: name(),
                cell: cell_text(cell),
            })?;
            if !value.is_finite() {
                return Err(Error::NonFiniteCell {
                    path: path.to_path_buf(),
                    line,
                    column,
                    name: name(),
                    cell: cell_text(cell),
                });
            }
            values.push(value);
        }
        n_rows += 1;
    }
    if n_rows == 0 {
        return Err(Error::EmptyTable {
            path: path.to_path_buf(),
            what: "the file has no data rows".to_owned(),
        });
    }
    // The file's bytes go before the matrix is built: at most the text and the parsed values,
    // or the values and the matrix, are held at once.
    drop(reader);
    drop(bytes);
    let data = DMatrix::from_row_slice(n_rows, width, &values);
    drop(values);
    Ok(Table {
        names: names.unwrap_or_default(),
        data: Values::F64(data),
    })
}

/// Saves `matrix` (`n × d`, one sample per row) with the column `names` as a comma-separated
/// file with a header row, overwriting `path`. Values are written in Rust's shortest
/// round-trip form, so [`Table::load_csv`] reads back exactly the same numbers and names.
///
/// Errors: [`Error::NameCountMismatch`] (`names.len() ≠ d`), [`Error::NumericHeader`]
/// (no name is non-empty and non-numeric, so the header would not be detected on load),
/// [`Error::NonFiniteInput`] (naming the first NaN/inf entry, which the loader would reject),
/// [`Error::Io`].
pub fn save_csv(
    path: impl AsRef<Path>,
    names: &[impl AsRef<str>],
    matrix: &DMatrix<f64>,
) -> Result<()> {
    let path = path.as_ref();
    if names.len() != matrix.ncols() {
        return Err(Error::NameCountMismatch {
            names: names.len(),
            columns: matrix.ncols(),
        });
    }
    let recognisable = names.iter().any(|n| {
        let n = n.as_ref().trim();
        !n.is_empty() && n.parse::<f64>().is_err()
    });
    if !recognisable {
        return Err(Error::NumericHeader {
            names: names.iter().map(|n| n.as_ref().to_owned()).collect(),
        });
    }
    for i in 0..matrix.nrows() {
        for j in 0..matrix.ncols() {
            let value = matrix[(i, j)];
            if !value.is_finite() {
                return Err(Error::NonFiniteInput {
                    what: "save_csv matrix",
                    row: i,
                    column: j,
                    value,
                });
            }
        }
    }
    let file = File::create(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut writer = WriterBuilder::new().from_writer(file);
    writer
        .write_record(names.iter().map(|n| n.as_ref()))
        .map_err(|e| csv_error(path, e))?;
    let mut row = Vec::with_capacity(matrix.ncols());
    for i in 0..matrix.nrows() {
        row.clear();
        row.extend((0..matrix.ncols()).map(|j| format!("{:?}", matrix[(i, j)])));
        writer.write_record(&row).map_err(|e| csv_error(path, e))?;
    }
    writer.flush().map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::scratch_path;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn write(file: &str, content: &[u8]) -> std::path::PathBuf {
        let path = scratch_path(file);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn load(path: &Path) -> Result<Table> {
        load_csv(path, &CsvOptions::default())
    }

    #[test]
    fn round_trip_is_exact() {
        let mut rng = StdRng::seed_from_u64(1);
        let data = DMatrix::from_fn(50, 4, |_, _| {
            rng.random::<f64>() * 10f64.powi(rng.random_range(-300..300))
        });
        let names = ["x", "y, with comma", "\"quoted\"", "4"];
        let path = scratch_path("roundtrip.csv");
        save_csv(&path, &names, &data).unwrap();
        let t = load(&path).unwrap();
        assert_eq!(t.names(), names);
        assert_eq!(*t.data(), data);
        // The method form writes the same file.
        t.save_csv(&path).unwrap();
        assert_eq!(load(&path).unwrap(), t);
    }

    #[test]
    fn header_detection_and_options() {
        let with = write("hdr.csv", b"a , b\n1,2\n3, 4\n");
        let t = load(&with).unwrap();
        assert_eq!(t.names(), ["a", "b"]);
        assert_eq!(
            *t.data(),
            DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0])
        );

        let without = write("nohdr.csv", b"1,2\n\n3,4\n");
        let t = load(&without).unwrap();
        assert_eq!(t.names(), ["c0", "c1"]);
        assert_eq!(t.n_rows(), 2);

        // A numeric header is only read as one when asked.
        let numeric = write("numhdr.csv", b"10,20\n1,2\n");
        assert_eq!(load(&numeric).unwrap().n_rows(), 2);
        let opts = CsvOptions {
            header: HeaderMode::Present,
            ..CsvOptions::default()
        };
        let t = load_csv(&numeric, &opts).unwrap();
        assert_eq!(
            (t.names(), t.n_rows()),
            (&["10".to_owned(), "20".to_owned()][..], 1)
        );

        // HeaderMode::Absent turns a text first row into a non-numeric error at line 1.
        let opts = CsvOptions {
            header: HeaderMode::Absent,
            ..CsvOptions::default()
        };
        let err = load_csv(&with, &opts).unwrap_err();
        assert!(matches!(
            err,
            Error::NonNumeric {
                line: 1,
                column: 0,
                ..
            }
        ));

        // Semicolons, comments, a UTF-8 byte order mark and an empty header cell.
        let semi = write(
            "semi.csv",
            "\u{feff}# made by numpy\nx;;z\n1;2;3\n".as_bytes(),
        );
        let opts = CsvOptions {
            delimiter: b';',
            comment: Some(b'#'),
            ..CsvOptions::default()
        };
        let t = load_csv(&semi, &opts).unwrap();
        assert_eq!(t.names(), ["x", "c1", "z"]);
        assert_eq!(
            t.data().row(0).iter().copied().collect::<Vec<_>>(),
            [1.0, 2.0, 3.0]
        );
    }

    #[test]
    fn missing_file_names_the_file() {
        let path = scratch_path("does-not-exist.csv");
        let err = load(&path).unwrap_err();
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        assert!(err.to_string().contains("does-not-exist.csv"), "{err}");
    }

    #[test]
    fn ragged_row_names_file_and_line() {
        let path = write("ragged.csv", b"a,b,c\n1,2,3\n4,5\n");
        let err = load(&path).unwrap_err();
        assert!(matches!(
            err,
            Error::RaggedRow {
                line: 3,
                first_line: 1,
                expected: 3,
                found: 2,
                ..
            }
        ));
        let msg = err.to_string();
        assert!(
            msg.contains("ragged.csv") && msg.contains("line 3") && msg.contains("2 fields"),
            "{msg}"
        );
        // A trailing delimiter is one field too many.
        let path = write("trailing.csv", b"1,2\n3,4,\n");
        assert!(matches!(
            load(&path),
            Err(Error::RaggedRow {
                line: 2,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn non_numeric_cell_names_file_line_and_column() {
        // Line numbers count the header, skipped blank lines and quoted line breaks.
        let path = write("text.csv", b"x,y\n\"1\n\",2\n\n3,abc\n");
        let err = load(&path).unwrap_err();
        assert!(
            matches!(&err, Error::NonNumeric { line: 5, column: 1, name, cell, .. }
            if name == "y" && cell == "abc"),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("text.csv")
                && msg.contains("line 5")
                && msg.contains("column 1 (`y`)")
                && msg.contains("abc"),
            "{msg}"
        );

        // Windows and old Mac line endings, comment lines and lines of spaces.
        let opts = CsvOptions {
            comment: Some(b'#'),
            ..CsvOptions::default()
        };
        for (file, content) in [
            ("crlf.csv", &b"x,y\r\n1,2\r\n\r\n#c\r\n3,abc\r\n"[..]),
            ("cr.csv", b"x,y\r1,2\r\r\r3,abc\r"),
            ("spaces.csv", b"x,y\n1,2\n   \n# c\n3,abc\n"),
        ] {
            let err = load_csv(&write(file, content), &opts).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::NonNumeric {
                        line: 5,
                        column: 1,
                        ..
                    }
                ),
                "{file}: {err:?}"
            );
        }

        let path = write("emptycell.csv", b"1,2\n3,\n");
        // `3,` has two fields, the second empty.
        let err = load(&path).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonNumeric {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{err:?}"
        );

        let path = write("latin1.csv", b"1,2\n3,\xe9\n");
        let err = load(&path).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonNumeric {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn non_finite_cell_names_file_line_and_column() {
        for (cell, file) in [
            ("NaN", "nan.csv"),
            ("inf", "inf.csv"),
            ("-infinity", "ninf.csv"),
        ] {
            let path = write(file, format!("a,b,c\n1,2,3\n4,5,{cell}\n").as_bytes());
            let err = load(&path).unwrap_err();
            assert!(
                matches!(&err, Error::NonFiniteCell { line: 3, column: 2, name, .. } if name == "c"),
                "{err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains(file)
                    && msg.contains("line 3")
                    && msg.contains("column 2 (`c`)")
                    && msg.contains(cell),
                "{msg}"
            );
        }
        // 1e999 overflows to infinity when parsed.
        let path = write("overflow.csv", b"1e999\n");
        assert!(matches!(
            load(&path),
            Err(Error::NonFiniteCell {
                line: 1,
                column: 0,
                ..
            })
        ));
    }

    #[test]
    fn empty_tables_are_errors() {
        for (file, content) in [
            ("empty.csv", &b""[..]),
            ("onlyheader.csv", b"a,b\n"),
            ("blank.csv", b"\n\n"),
        ] {
            let path = write(file, content);
            let err = load(&path).unwrap_err();
            assert!(matches!(err, Error::EmptyTable { .. }), "{file}: {err:?}");
            assert!(err.to_string().contains(file), "{err}");
        }
    }

    #[test]
    fn save_rejects_what_load_would_reject() {
        let path = scratch_path("save-bad.csv");
        let m = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, f64::NAN]);
        let err = save_csv(&path, &["a", "b"], &m).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFiniteInput {
                row: 1,
                column: 1,
                ..
            }
        ));
        let ok = DMatrix::zeros(2, 2);
        assert!(matches!(
            save_csv(&path, &["a"], &ok),
            Err(Error::NameCountMismatch {
                names: 1,
                columns: 2
            })
        ));
        let err = save_csv(&path, &["1", "2.5"], &ok).unwrap_err();
        assert!(matches!(err, Error::NumericHeader { .. }));
        let dir = scratch_path("no-such-dir").join("x.csv");
        assert!(matches!(
            save_csv(&dir, &["a", "b"], &ok),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = StdRng::seed_from_u64(2);
        let alphabet = b"0123456789.,-+eE \n\r\"#;abinfNA\xff\x00";
        let path = scratch_path("fuzz.csv");
        for _ in 0..500 {
            let len = rng.random_range(0..60);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            std::fs::write(&path, &bytes).unwrap();
            // Either a table of finite numbers with one name per column, or an error.
            if let Ok(t) = load(&path) {
                assert_eq!(t.names().len(), t.n_columns());
                assert!(t.n_rows() > 0 && t.data().iter().all(|v| v.is_finite()));
            }
        }
    }
}
