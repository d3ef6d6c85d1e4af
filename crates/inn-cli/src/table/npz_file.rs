//! NumPy `.npz` archives (zip files of named `.npy` arrays, as `numpy.savez` writes them) with
//! `npyz`'s `npz` feature: every array becomes one or more columns.

use std::io::BufReader;
use std::path::Path;

use nalgebra::DMatrix;
use npyz::WriterBuilder;
use npyz::npz::{NpzArchive, NpzWriter, array_name_from_file_name};
use npyz::zip::CompressionMethod;
use npyz::zip::write::FileOptions;

use super::npy_file::{ArrayError, read_array};
use super::{Table, Values};
use crate::error::{Error, Result};

/// The largest ratio of an entry's size to its compressed size that deflate can produce
/// (≈ 1032:1, rounded up): an entry claiming more is corrupt, and is refused before its
/// claimed size is allocated.
const MAX_DEFLATE_RATIO: u64 = 1100;

/// See [`Table::load_npz`].
pub(super) fn load_npz(path: &Path) -> Result<Table> {
    let corrupt = |reason: String| Error::CorruptNpz {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut archive = NpzArchive::new(BufReader::new(file))
        .map_err(|e| corrupt(format!("not a zip archive: {e}")))?;
    let zip = archive.zip_archive();
    let mut arrays: Vec<(String, Values)> = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let entry = zip
            .by_index(index)
            .map_err(|e| corrupt(format!("entry {index}: {e}")))?;
        let entry_name = entry.name().to_owned();
        let Some(name) = array_name_from_file_name(&entry_name).map(str::to_owned) else {
            return Err(corrupt(format!(
                "entry `{entry_name}` is not a NumPy array (.npy)"
            )));
        };
        let (size, packed) = (entry.size(), entry.compressed_size());
        if size > packed.saturating_mul(MAX_DEFLATE_RATIO).max(1 << 20) {
            return Err(corrupt(format!(
                "array `{name}` claims {size} bytes from {packed} compressed ones"
            )));
        }
        let columns_before: usize = arrays.iter().map(|(_, v)| v.ncols()).sum();
        let values = read_array(entry, size).map_err(|e| match e {
            // Name the table's column, not the array's.
            ArrayError::NonFinite(row, column, value) => Error::NonFiniteEntry {
                path: path.to_path_buf(),
                row,
                column: columns_before + column,
                value,
            },
            other => other.into_error(path, &format!("array `{name}`: ")),
        })?;
        if let Some((first, v)) = arrays.first()
            && v.nrows() != values.nrows()
        {
            return Err(corrupt(format!(
                "array `{name}` has {} rows, array `{first}` has {}: every array is one or \
                 more columns of the same rows",
                values.nrows(),
                v.nrows()
            )));
        }
        arrays.push((name, values));
    }
    if arrays.is_empty() {
        return Err(Error::EmptyTable {
            path: path.to_path_buf(),
            what: "the archive holds no arrays".to_owned(),
        });
    }
    Ok(assemble(arrays))
}

/// The table of `arrays` side by side: a 1-D array is the column `name`, a 2-D one the columns
/// `name_0, name_1, …`. One array is moved, not copied; several are copied into one matrix of
/// the common precision (f32 only when all are f32).
fn assemble(mut arrays: Vec<(String, Values)>) -> Table {
    let mut names = Vec::new();
    for (name, values) in &arrays {
        // A 1-D array was read as one column; its shape is lost by then, so an `n × 1` 2-D
        // array is named like a 1-D one.
        if values.ncols() == 1 {
            names.push(name.clone());
        } else {
            names.extend((0..values.ncols()).map(|j| format!("{name}_{j}")));
        }
    }
    if arrays.len() == 1 {
        let (_, data) = arrays.remove(0);
        return Table { names, data };
    }
    let rows = arrays[0].1.nrows();
    let all_f32 = arrays.iter().all(|(_, v)| matches!(v, Values::F32(_)));
    let data = if all_f32 {
        let mut m = DMatrix::<f32>::zeros(rows, names.len());
        let mut at = 0;
        for (_, v) in arrays {
            if let Values::F32(a) = v {
                m.columns_mut(at, a.ncols()).copy_from(&a);
                at += a.ncols();
            }
        }
        Values::F32(m)
    } else {
        let mut m = DMatrix::<f64>::zeros(rows, names.len());
        let mut at = 0;
        for (_, v) in arrays {
            let a = v.into_f64();
            m.columns_mut(at, a.ncols()).copy_from(&a);
            at += a.ncols();
        }
        Values::F64(m)
    };
    Table { names, data }
}

/// Writes one 1-D array per column, named like it, uncompressed (as `numpy.savez`).
pub(super) fn save_npz(path: &Path, names: &[String], values: &Values) -> Result<()> {
    let write_err = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut npz = NpzWriter::create(path).map_err(write_err)?;
    let options = FileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(values.nrows().saturating_mul(8) >= u32::MAX as usize);
    let n = [values.nrows() as u64];
    for (j, name) in names.iter().enumerate() {
        match values {
            Values::F32(m) => {
                let mut w = npz
                    .array::<f32>(name, options)
                    .map_err(write_err)?
                    .default_dtype()
                    .shape(&n)
                    .begin_nd()
                    .map_err(write_err)?;
                w.extend(m.column(j).iter().copied()).map_err(write_err)?;
                w.finish().map_err(write_err)?;
            }
            Values::F64(m) => {
                let mut w = npz
                    .array::<f64>(name, options)
                    .map_err(write_err)?
                    .default_dtype()
                    .shape(&n)
                    .begin_nd()
                    .map_err(write_err)?;
                w.extend(m.column(j).iter().copied()).map_err(write_err)?;
                w.finish().map_err(write_err)?;
            }
        }
    }
    npz.zip_writer().finish().map_err(|e| write_err(e.into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::scratch_path;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Values with every awkward bit pattern a float column can hold (subnormals, −0, extremes).
    fn awkward<T: Copy>(
        rng: &mut StdRng,
        n: usize,
        special: &[T],
        random: impl Fn(&mut StdRng) -> T,
    ) -> Vec<T> {
        (0..n)
            .map(|i| special.get(i).copied().unwrap_or_else(|| random(rng)))
            .collect()
    }

    /// An archive written with npyz itself (1-D f64, 2-D f32 in C order, compressed and not)
    /// reads back bit for bit, named as documented.
    #[test]
    fn arrays_written_by_npyz_read_back_bit_identically() {
        let mut rng = StdRng::seed_from_u64(11);
        let n = 257;
        let a: Vec<f64> = awkward(
            &mut rng,
            n,
            &[-0.0, 5e-324, f64::MAX, f64::MIN_POSITIVE],
            |r| f64::from_bits(r.random::<u64>() & !(0x7ff << 52)) * 1e300,
        );
        let b: Vec<f32> = awkward(&mut rng, 3 * n, &[-0.0, 1e-45, f32::MAX], |r| {
            r.random::<f32>() - 0.5
        });
        for (file, method) in [
            ("plain.npz", CompressionMethod::Stored),
            ("zipped.npz", CompressionMethod::Deflated),
        ] {
            let path = scratch_path(file);
            let mut npz = NpzWriter::create(&path).unwrap();
            let options = FileOptions::default().compression_method(method);
            let mut w = npz
                .array::<f64>("a", options)
                .unwrap()
                .default_dtype()
                .shape(&[n as u64])
                .begin_nd()
                .unwrap();
            w.extend(a.iter().copied()).unwrap();
            w.finish().unwrap();
            let mut w = npz
                .array::<f32>("b", options)
                .unwrap()
                .default_dtype()
                .shape(&[n as u64, 3])
                .begin_nd()
                .unwrap();
            w.extend(b.iter().copied()).unwrap();
            w.finish().unwrap();
            npz.zip_writer().finish().unwrap();

            let t = load_npz(&path).unwrap();
            assert_eq!(t.names(), ["a", "b_0", "b_1", "b_2"]);
            let Values::F64(m) = t.values() else {
                panic!("mixed arrays make an f64 table")
            };
            for i in 0..n {
                assert_eq!(m[(i, 0)].to_bits(), a[i].to_bits(), "row {i}");
                for j in 0..3 {
                    assert_eq!(m[(i, 1 + j)].to_bits(), f64::from(b[3 * i + j]).to_bits());
                }
            }
        }
    }

    /// What `save_npz` writes, `load_npz` reads back exactly, f32 staying f32.
    #[test]
    fn save_then_load_is_exact_in_both_precisions() {
        let mut rng = StdRng::seed_from_u64(12);
        let names: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        let m32 = DMatrix::from_fn(100, 3, |_, _| rng.random::<f32>() * 1e-30);
        let m64 = DMatrix::from_fn(100, 3, |_, _| rng.random::<f64>() - 0.5);
        for values in [Values::F32(m32), Values::F64(m64)] {
            let path = scratch_path("saved.npz");
            save_npz(&path, &names, &values).unwrap();
            let t = load_npz(&path).unwrap();
            assert_eq!(t.names(), names.as_slice());
            assert_eq!(t.values(), &values);
        }
    }

    #[test]
    fn bad_archives_are_errors_naming_the_array() {
        let path = scratch_path("ragged.npz");
        let mut npz = NpzWriter::create(&path).unwrap();
        let options = FileOptions::default();
        for (name, n) in [("a", 4u64), ("b", 5)] {
            let mut w = npz
                .array::<f64>(name, options)
                .unwrap()
                .default_dtype()
                .shape(&[n])
                .begin_nd()
                .unwrap();
            w.extend((0..n).map(|v| v as f64)).unwrap();
            w.finish().unwrap();
        }
        npz.zip_writer().finish().unwrap();
        let e = load_npz(&path).unwrap_err();
        assert!(matches!(e, Error::CorruptNpz { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("array `b` has 5 rows, array `a` has 4"),
            "{e}"
        );

        let path = scratch_path("ints.npz");
        let mut npz = NpzWriter::create(&path).unwrap();
        let mut w = npz
            .array::<i32>("k", options)
            .unwrap()
            .default_dtype()
            .shape(&[2])
            .begin_nd()
            .unwrap();
        w.extend([1, 2]).unwrap();
        w.finish().unwrap();
        npz.zip_writer().finish().unwrap();
        let e = load_npz(&path).unwrap_err().to_string();
        assert!(e.contains("array `k`") && e.contains("<i4"), "{e}");

        let path = scratch_path("nan.npz");
        let names = vec!["p".to_string(), "q".to_string()];
        let mut m = DMatrix::from_element(3, 2, 1.0);
        m[(2, 1)] = f64::NAN;
        save_npz(&path, &names, &Values::F64(m)).unwrap();
        let e = load_npz(&path).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFiniteEntry {
                    row: 2,
                    column: 1,
                    ..
                }
            ),
            "{e:?}"
        );

        let path = scratch_path("text.npz");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        assert!(matches!(load_npz(&path), Err(Error::CorruptNpz { .. })));
        let good = std::fs::read(scratch_path("nan.npz")).unwrap();
        for cut in [10, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(load_npz(&path).is_err(), "cut {cut}");
        }
    }
}
