//! NumPy `.npy` files (1-D and 2-D float32/float64 arrays) with the `npyz` crate: read
//! streaming into the table's matrix (no second copy of the data), written in C order.

use std::io::{BufReader, BufWriter, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use nalgebra::DMatrix;
use npyz::{DType, Endianness, NpyHeader, Order, TypeChar, WriterBuilder};

use super::{Table, Values, default_names};
use crate::error::{Error, Result};

/// The two element types we read, with their byte order.
#[derive(Clone, Copy)]
enum Element {
    F32 { big_endian: bool },
    F64 { big_endian: bool },
}

/// Values decoded per read while streaming an array into its matrix.
const CHUNK_VALUES: usize = 1 << 16;

/// What can go wrong reading one array, before it is tied to a file (and, in an `.npz`, to an
/// array name).
pub(super) enum ArrayError {
    /// Not an array file, a bad header, or data of the wrong length.
    Corrupt(String),
    /// Another dtype or number of dimensions.
    Unsupported(String),
    /// A zero-length dimension.
    Empty(String),
    /// A NaN or infinity, at (row, column).
    NonFinite(usize, usize, f64),
    /// The reader failed.
    Io(std::io::Error),
}

impl ArrayError {
    /// The table error for `path`, its reason prefixed with `context` (an `.npz` array).
    pub(super) fn into_error(self, path: &Path, context: &str) -> Error {
        let path = path.to_path_buf();
        match self {
            ArrayError::Corrupt(reason) => Error::CorruptNpy {
                path,
                reason: format!("{context}{reason}"),
            },
            ArrayError::Unsupported(reason) => Error::UnsupportedNpy {
                path,
                reason: format!("{context}{reason}"),
            },
            ArrayError::Empty(what) => Error::EmptyTable {
                path,
                what: format!("{context}{what}"),
            },
            ArrayError::NonFinite(row, column, value) => Error::NonFiniteEntry {
                path,
                row,
                column,
                value,
            },
            ArrayError::Io(source) => Error::Io { path, source },
        }
    }
}

/// A reader that counts the bytes it has delivered (the header's length).
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.count += k as u64;
        Ok(k)
    }
}

/// See [`Table::load_npy`].
pub(super) fn load_npy(path: &Path) -> Result<Table> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let values = read_array(BufReader::new(file), len).map_err(|e| e.into_error(path, ""))?;
    Ok(Table {
        names: default_names(values.ncols()),
        data: values,
    })
}

/// Reads one `.npy` array of `len` bytes (header included) from `reader` into an `n × d`
/// matrix (a 1-D array is one column), streaming: the data is decoded chunk by chunk straight
/// into the matrix. Every entry must be finite.
pub(super) fn read_array(reader: impl Read, len: u64) -> std::result::Result<Values, ArrayError> {
    let mut reader = Counting {
        inner: reader,
        count: 0,
    };
    // npyz 0.8 multiplies the shape's dimensions without overflow checks, which panics in
    // debug builds on an absurd shape; a corrupt header must be an error, never a panic.
    let parsed = catch_unwind(AssertUnwindSafe(|| NpyHeader::from_reader(&mut reader)));
    let header = match parsed {
        Ok(Ok(header)) => header,
        Ok(Err(err)) => return Err(ArrayError::Corrupt(format!("bad header: {err}"))),
        Err(_) => {
            return Err(ArrayError::Corrupt(
                "bad header: the shape overflows".to_owned(),
            ));
        }
    };

    let dtype = header.dtype();
    let element = match &dtype {
        DType::Plain(ts)
            if ts.type_char() == TypeChar::Float && matches!(ts.size_field(), 4 | 8) =>
        {
            let big_endian = ts.endianness() == Endianness::Big;
            if ts.size_field() == 4 {
                Element::F32 { big_endian }
            } else {
                Element::F64 { big_endian }
            }
        }
        other => return Err(unsupported_dtype(other)),
    };
    let shape = header.shape().to_vec();
    let (rows, columns) = match shape.as_slice() {
        [n] => (*n, 1),
        [r, c] => (*r, *c),
        _ => {
            return Err(ArrayError::Unsupported(format!(
                "shape {shape:?} has {} dimensions; expected 1 or 2",
                shape.len()
            )));
        }
    };
    let item_size: u64 = match element {
        Element::F32 { .. } => 4,
        Element::F64 { .. } => 8,
    };
    let needed = rows
        .checked_mul(columns)
        .and_then(|count| count.checked_mul(item_size));
    let available = len.saturating_sub(reader.count);
    match needed {
        Some(needed) if needed == available => {}
        Some(needed) => {
            return Err(ArrayError::Corrupt(format!(
                "shape {shape:?} needs {needed} data bytes but the file holds {available}"
            )));
        }
        None => {
            return Err(ArrayError::Corrupt(format!("shape {shape:?} is too large")));
        }
    }
    let (Ok(rows), Ok(columns)) = (usize::try_from(rows), usize::try_from(columns)) else {
        return Err(ArrayError::Corrupt(format!("shape {shape:?} is too large")));
    };
    if rows == 0 || columns == 0 {
        return Err(ArrayError::Empty(format!("the array has shape {shape:?}")));
    }
    let fortran = header.order() == Order::Fortran;
    let values = match element {
        Element::F32 { big_endian } => Values::F32(decode(
            &mut reader,
            (rows, columns, fortran),
            |b: [u8; 4]| {
                if big_endian {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                }
            },
        )?),
        Element::F64 { big_endian } => Values::F64(decode(
            &mut reader,
            (rows, columns, fortran),
            |b: [u8; 8]| {
                if big_endian {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                }
            },
        )?),
    };
    // The header's length was counted, so the data is exactly what is left; a reader that
    // still has bytes (a zip entry longer than it said) is corrupt.
    let mut extra = [0u8; 1];
    if reader.read(&mut extra).map_err(ArrayError::Io)? != 0 {
        return Err(ArrayError::Corrupt(
            "data continues past the array's shape".to_owned(),
        ));
    }
    if let Some((row, column, value)) = values.first_non_finite() {
        return Err(ArrayError::NonFinite(row, column, value));
    }
    Ok(values)
}

fn unsupported_dtype(dtype: &DType) -> ArrayError {
    ArrayError::Unsupported(format!(
        "dtype `{}`; expected float32 or float64 (`<f4`, `<f8`, or big-endian)",
        dtype.descr()
    ))
}

/// Decodes `rows × columns` values of `N` bytes each (in C or Fortran order) from `reader`
/// into a matrix, `CHUNK_VALUES` at a time.
fn decode<T: nalgebra::Scalar + Copy, const N: usize>(
    reader: &mut impl Read,
    (rows, columns, fortran): (usize, usize, bool),
    from_bytes: impl Fn([u8; N]) -> T,
) -> std::result::Result<DMatrix<T>, ArrayError> {
    let mut m = DMatrix::<T>::from_element(rows, columns, from_bytes([0; N]));
    let total = rows * columns;
    let mut buf = vec![0u8; CHUNK_VALUES.min(total) * N];
    let mut done = 0;
    while done < total {
        let k = CHUNK_VALUES.min(total - done);
        let bytes = &mut buf[..k * N];
        reader.read_exact(bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                ArrayError::Corrupt(format!("the data ends after {} of {total} values", done))
            } else {
                ArrayError::Io(e)
            }
        })?;
        let values = bytes
            .chunks_exact(N)
            .map(|b| from_bytes(b.try_into().unwrap_or([0; N])));
        if fortran {
            // Column-major, as the matrix: a straight copy.
            for (slot, v) in m.as_mut_slice()[done..done + k].iter_mut().zip(values) {
                *slot = v;
            }
        } else {
            for (offset, v) in values.enumerate() {
                let flat = done + offset;
                m[(flat / columns, flat % columns)] = v;
            }
        }
        done += k;
    }
    Ok(m)
}

/// Writes `values` as one 2-D C-order `.npy` array of their precision.
pub(super) fn save_npy(path: &Path, values: &Values) -> Result<()> {
    let write_err = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let file = std::fs::File::create(path).map_err(write_err)?;
    let shape = [values.nrows() as u64, values.ncols() as u64];
    let mut out = BufWriter::new(file);
    match values {
        Values::F32(m) => write_rows(&mut out, &shape, m),
        Values::F64(m) => write_rows(&mut out, &shape, m),
    }
    .map_err(write_err)
}

/// Writes `m` in C order (row by row) as an `.npy` array to `out`.
pub(super) fn write_rows<T>(
    out: &mut impl std::io::Write,
    shape: &[u64],
    m: &DMatrix<T>,
) -> std::io::Result<()>
where
    T: npyz::Serialize + npyz::AutoSerialize + nalgebra::Scalar + Copy,
{
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(out)
        .begin_nd()?;
    for i in 0..m.nrows() {
        writer.extend(m.row(i).iter().copied())?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::scratch_path;
    use npyz::WriterBuilder;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Writes `values` (in file order) as an `.npy` file of the given dtype, shape and order.
    fn write_npy<T: npyz::Serialize + npyz::AutoSerialize + Copy>(
        file: &str,
        shape: &[u64],
        order: Order,
        values: &[T],
    ) -> std::path::PathBuf {
        let mut bytes = Vec::new();
        {
            let mut writer = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .order(order)
                .writer(&mut bytes)
                .begin_nd()
                .unwrap();
            writer.extend(values.iter().copied()).unwrap();
            writer.finish().unwrap();
        }
        let path = scratch_path(file);
        std::fs::write(&path, &bytes).unwrap();
        path
    }

    fn expected() -> DMatrix<f64> {
        DMatrix::from_fn(3, 4, |i, j| (i as f64) - 0.25 * j as f64)
    }

    #[test]
    fn f64_round_trip_in_c_and_fortran_order() {
        let m = expected();
        let row_major: Vec<f64> = m.transpose().iter().copied().collect();
        let col_major: Vec<f64> = m.iter().copied().collect();
        let c = write_npy("c64.npy", &[3, 4], Order::C, &row_major);
        let f = write_npy("f64.npy", &[3, 4], Order::Fortran, &col_major);
        for path in [c, f] {
            let t = load_npy(&path).unwrap();
            assert_eq!(*t.data(), m, "{}", path.display());
            assert_eq!(t.names(), ["c0", "c1", "c2", "c3"]);
        }
    }

    #[test]
    fn f32_round_trip_in_c_and_fortran_order() {
        let mut rng = StdRng::seed_from_u64(3);
        let m32 = nalgebra::DMatrix::<f32>::from_fn(5, 2, |_, _| rng.random::<f32>() - 0.5);
        let row_major: Vec<f32> = m32.transpose().iter().copied().collect();
        let col_major: Vec<f32> = m32.iter().copied().collect();
        let c = write_npy("c32.npy", &[5, 2], Order::C, &row_major);
        let f = write_npy("f32.npy", &[5, 2], Order::Fortran, &col_major);
        let m64 = m32.cast::<f64>();
        for path in [c, f] {
            let t = load_npy(&path).unwrap();
            assert_eq!(*t.data(), m64, "{}", path.display());
        }
    }

    #[test]
    fn one_dimensional_array_is_one_column() {
        let path = write_npy("vec.npy", &[4], Order::C, &[1.0_f64, 2.0, 3.0, 4.0]);
        let t = load_npy(&path).unwrap();
        assert_eq!(
            *t.data(),
            DMatrix::from_column_slice(4, 1, &[1.0, 2.0, 3.0, 4.0])
        );
        assert_eq!(Table::load(&path).unwrap(), t);
    }

    #[test]
    fn unsupported_dtype_and_shape() {
        let path = write_npy("ints.npy", &[2, 2], Order::C, &[1_i64, 2, 3, 4]);
        let err = load_npy(&path).unwrap_err();
        assert!(matches!(err, Error::UnsupportedNpy { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("ints.npy") && msg.contains("<i8"), "{msg}");

        let path = write_npy("cube.npy", &[2, 1, 2], Order::C, &[1.0_f64, 2.0, 3.0, 4.0]);
        let err = load_npy(&path).unwrap_err();
        assert!(matches!(err, Error::UnsupportedNpy { .. }), "{err:?}");
        assert!(err.to_string().contains("3 dimensions"), "{err}");

        let path = write_npy("scalar.npy", &[], Order::C, &[1.0_f64]);
        assert!(matches!(load_npy(&path), Err(Error::UnsupportedNpy { .. })));
    }

    #[test]
    fn empty_array_is_an_error() {
        let path = write_npy("empty.npy", &[0, 3], Order::C, &[] as &[f64]);
        let err = load_npy(&path).unwrap_err();
        assert!(matches!(err, Error::EmptyTable { .. }), "{err:?}");
        assert!(err.to_string().contains("empty.npy"), "{err}");
    }

    #[test]
    fn non_finite_entry_names_row_and_column() {
        let mut values = vec![0.0_f64; 6];
        values[4] = f64::NAN; // row 2, column 0 of a 3×2 C-order array
        let path = write_npy("nan.npy", &[3, 2], Order::C, &values);
        let err = load_npy(&path).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonFiniteEntry {
                    row: 2,
                    column: 0,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("nan.npy") && msg.contains("row 2, column 0"),
            "{msg}"
        );
    }

    #[test]
    fn corrupt_files_are_errors() {
        let good = std::fs::read(write_npy("good.npy", &[3, 4], Order::C, &[0.5_f64; 12])).unwrap();
        // Not an npy file at all.
        let path = scratch_path("text.npy");
        std::fs::write(&path, b"x,y\n1,2\n").unwrap();
        let err = load_npy(&path).unwrap_err();
        assert!(matches!(err, Error::CorruptNpy { .. }), "{err:?}");
        assert!(err.to_string().contains("text.npy"), "{err}");
        // Truncated data, and trailing garbage.
        let path = scratch_path("short.npy");
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        let err = load_npy(&path).unwrap_err();
        assert!(matches!(err, Error::CorruptNpy { .. }), "{err:?}");
        assert!(err.to_string().contains("needs 96 data bytes"), "{err}");
        let mut long = good.clone();
        long.push(0);
        std::fs::write(&path, &long).unwrap();
        assert!(matches!(load_npy(&path), Err(Error::CorruptNpy { .. })));
        // A header claiming an absurd shape must not allocate or overflow.
        // The new shape takes the place of header padding, so the header length stays valid.
        let old = b"(3, 4, ), }";
        let at = good.windows(old.len()).position(|w| w == old).unwrap();
        for shape in ["(3, 99999999999), }", "(9999999999999, 9999999999999), }"] {
            let mut bytes = good[..at].to_vec();
            bytes.extend_from_slice(shape.as_bytes());
            let rest = &good[at + old.len()..];
            let skip = shape.len() - old.len();
            assert!(rest[..skip].iter().all(|&b| b == b' '));
            bytes.extend_from_slice(&rest[skip..]);
            assert_eq!(bytes.len(), good.len());
            std::fs::write(&path, &bytes).unwrap();
            let err = load_npy(&path).unwrap_err();
            assert!(matches!(err, Error::CorruptNpy { .. }), "{shape}: {err:?}");
        }
        // Missing file.
        let err = load_npy(&scratch_path("missing.npy")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(err.to_string().contains("missing.npy"), "{err}");
    }

    #[test]
    fn truncations_and_bit_flips_never_panic() {
        let good =
            std::fs::read(write_npy("fuzz-src.npy", &[3, 4], Order::C, &[0.5_f64; 12])).unwrap();
        let path = scratch_path("fuzz.npy");
        for len in 0..good.len() {
            std::fs::write(&path, &good[..len]).unwrap();
            assert!(load_npy(&path).is_err(), "truncated to {len} bytes");
        }
        let mut rng = StdRng::seed_from_u64(4);
        for _ in 0..500 {
            let mut bytes = good.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            std::fs::write(&path, &bytes).unwrap();
            if let Ok(t) = load_npy(&path) {
                assert_eq!(t.names().len(), t.n_columns());
                assert!(t.data().iter().all(|v| v.is_finite()));
            }
        }
    }
}
