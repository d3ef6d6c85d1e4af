//! Reading NumPy `.npy` files (1-D and 2-D float32/float64 arrays) with the `npyz` crate.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use nalgebra::DMatrix;
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar};

use super::{Table, default_names};
use crate::error::{Error, Result};

/// The two element types we read.
#[derive(Clone, Copy)]
enum Element {
    F32,
    F64,
}

/// See [`Table::load_npy`].
pub(super) fn load_npy(path: &Path) -> Result<Table> {
    let corrupt = |reason: String| Error::CorruptNpy {
        path: path.to_path_buf(),
        reason,
    };
    let unsupported = |reason: String| Error::UnsupportedNpy {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;

    // npyz 0.8 multiplies the shape's dimensions without overflow checks, which panics in
    // debug builds on an absurd shape; a corrupt header must be an error, never a panic.
    let mut rest: &[u8] = &bytes;
    let parsed = catch_unwind(AssertUnwindSafe(|| NpyHeader::from_reader(&mut rest)));
    let header = match parsed {
        Ok(Ok(header)) => header,
        Ok(Err(err)) => return Err(corrupt(format!("bad header: {err}"))),
        Err(_) => return Err(corrupt("bad header: the shape overflows".to_owned())),
    };

    let dtype = header.dtype();
    let element = match &dtype {
        DType::Plain(ts) if ts.type_char() == TypeChar::Float && ts.size_field() == 4 => {
            Element::F32
        }
        DType::Plain(ts) if ts.type_char() == TypeChar::Float && ts.size_field() == 8 => {
            Element::F64
        }
        other => {
            return Err(unsupported(format!(
                "dtype `{}`; expected float32 or float64 (`<f4`, `<f8`, or big-endian)",
                other.descr()
            )));
        }
    };
    let shape = header.shape().to_vec();
    let (rows, columns) = match shape.as_slice() {
        [n] => (*n, 1),
        [r, c] => (*r, *c),
        _ => {
            return Err(unsupported(format!(
                "shape {shape:?} has {} dimensions; expected 1 or 2",
                shape.len()
            )));
        }
    };
    let item_size: u64 = match element {
        Element::F32 => 4,
        Element::F64 => 8,
    };
    let needed = rows
        .checked_mul(columns)
        .and_then(|count| count.checked_mul(item_size));
    let available = rest.len() as u64;
    match needed {
        Some(needed) if needed == available => {}
        Some(needed) => {
            return Err(corrupt(format!(
                "shape {shape:?} needs {needed} data bytes but the file holds {available}"
            )));
        }
        None => return Err(corrupt(format!("shape {shape:?} is too large"))),
    }
    let (Ok(rows), Ok(columns)) = (usize::try_from(rows), usize::try_from(columns)) else {
        return Err(corrupt(format!("shape {shape:?} is too large")));
    };
    if rows == 0 || columns == 0 {
        return Err(Error::EmptyTable {
            path: path.to_path_buf(),
            what: format!("the array has shape {shape:?}"),
        });
    }

    let order = header.order();
    let file = NpyFile::with_header(header, rest);
    let read_error = |err: std::io::Error| corrupt(format!("cannot read the data: {err}"));
    let values: Vec<f64> = match element {
        Element::F32 => file
            .into_vec::<f32>()
            .map_err(read_error)?
            .into_iter()
            .map(f64::from)
            .collect(),
        Element::F64 => file.into_vec::<f64>().map_err(read_error)?,
    };
    if values.len() != rows * columns {
        return Err(corrupt(format!(
            "read {} values for shape {shape:?}",
            values.len()
        )));
    }
    let data = match order {
        Order::C => DMatrix::from_row_slice(rows, columns, &values),
        Order::Fortran => DMatrix::from_vec(rows, columns, values),
    };
    // Row-major scan so the error names the first bad entry in reading order.
    for row in 0..rows {
        for column in 0..columns {
            let value = data[(row, column)];
            if !value.is_finite() {
                return Err(Error::NonFiniteEntry {
                    path: path.to_path_buf(),
                    row,
                    column,
                    value,
                });
            }
        }
    }
    Ok(Table {
        names: default_names(columns),
        data,
    })
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
            assert_eq!(t.data(), &m, "{}", path.display());
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
            assert_eq!(t.data(), &m64, "{}", path.display());
        }
    }

    #[test]
    fn one_dimensional_array_is_one_column() {
        let path = write_npy("vec.npy", &[4], Order::C, &[1.0_f64, 2.0, 3.0, 4.0]);
        let t = load_npy(&path).unwrap();
        assert_eq!(
            t.data(),
            &DMatrix::from_column_slice(4, 1, &[1.0, 2.0, 3.0, 4.0])
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
