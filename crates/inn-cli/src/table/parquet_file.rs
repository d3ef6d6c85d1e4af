//! Apache Parquet tables with the Arrow project's `parquet` crate: numeric columns by name,
//! read column by column, batch by batch, straight into the table's column-major matrix.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, Float32Array, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use nalgebra::DMatrix;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{Table, Values};
use crate::error::{Error, Result};

/// Rows per record batch, read or written: bounded extra memory (64 columns × 65 536 rows ×
/// 8 B = 32 MB) whatever the table's length.
const BATCH_ROWS: usize = 1 << 16;

/// See [`Table::load_parquet`]. The `parquet` crate is not hardened against every malformed
/// file, so a panic inside it is caught and reported as a damaged file.
pub(super) fn load_parquet(path: &Path) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    catch_unwind(AssertUnwindSafe(|| read(path, file))).unwrap_or_else(|_| {
        Err(Error::Parquet {
            path: path.to_path_buf(),
            reason: "damaged file (the Parquet reader failed on it)".to_owned(),
        })
    })
}

/// The columns' common precision, or the first column that is not a number.
fn precision(path: &Path, schema: &Schema) -> Result<bool> {
    let mut all_f32 = true;
    for (column, field) in schema.fields().iter().enumerate() {
        match field.data_type() {
            DataType::Float32 => {}
            DataType::Float64
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => all_f32 = false,
            other => {
                return Err(Error::UnsupportedColumn {
                    path: path.to_path_buf(),
                    column,
                    name: field.name().clone(),
                    kind: other.to_string(),
                });
            }
        }
    }
    Ok(all_f32)
}

/// Reads the file one column at a time (a projection per column), so the reader holds one
/// column chunk's pages and dictionary at a time, not the whole row group's: the table is the
/// only large allocation.
fn read(path: &Path, file: std::fs::File) -> Result<Table> {
    let parquet = |e: &dyn std::fmt::Display| {
        let mut reason = e.to_string();
        if reason.contains("Disabled feature") {
            // Codecs are compiled in one by one; say which this build has.
            reason.push_str(
                " (this build reads Snappy-compressed and uncompressed Parquet: rewrite the \
                 file with compression=\"snappy\")",
            );
        }
        Error::Parquet {
            path: path.to_path_buf(),
            reason,
        }
    };
    let metadata =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).map_err(|e| parquet(&e))?;
    let schema = metadata.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let all_f32 = precision(path, &schema)?;
    let rows = usize::try_from(metadata.metadata().file_metadata().num_rows())
        .map_err(|_| parquet(&"a negative row count"))?;
    if rows == 0 || names.is_empty() {
        return Err(Error::EmptyTable {
            path: path.to_path_buf(),
            what: format!("the file has {rows} rows and {} columns", names.len()),
        });
    }
    let mut data = if all_f32 {
        Values::F32(DMatrix::zeros(rows, names.len()))
    } else {
        Values::F64(DMatrix::zeros(rows, names.len()))
    };
    for (column, name) in names.iter().enumerate() {
        let input = file.try_clone().map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, metadata.clone());
        let mask = ProjectionMask::roots(builder.parquet_schema(), [column]);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| parquet(&e))?;
        let mut start = 0;
        for batch in reader {
            let batch = batch.map_err(|e| parquet(&e))?;
            let len = batch.num_rows();
            if start + len > rows || batch.num_columns() != 1 {
                return Err(parquet(&format!(
                    "column {column} (`{name}`) does not match the file's metadata ({rows} rows)"
                )));
            }
            let array = batch.column(0);
            if let Some(i) = (0..len).find(|&i| array.is_null(i)) {
                return Err(Error::NullEntry {
                    path: path.to_path_buf(),
                    row: start + i,
                    column,
                    name: name.clone(),
                });
            }
            let copied = match &mut data {
                Values::F32(m) => array
                    .as_primitive_opt::<Float32Type>()
                    .map(|a| copy_into(m, column, start, a.values(), |v| v)),
                Values::F64(m) => copy_as_f64(m, column, start, array),
            };
            if copied.is_none() {
                return Err(parquet(&format!(
                    "column {column} (`{name}`) changes type inside the file"
                )));
            }
            start += len;
        }
        if start != rows {
            return Err(parquet(&format!(
                "the file says {rows} rows but column {column} (`{name}`) holds {start}"
            )));
        }
    }
    if let Some((row, column, value)) = data.first_non_finite() {
        return Err(Error::NonFiniteEntry {
            path: path.to_path_buf(),
            row,
            column,
            value,
        });
    }
    Ok(Table { names, data })
}

/// Copies a batch's values of one column into rows `start..` of column `column` of `m`.
fn copy_into<S: Copy, T: nalgebra::Scalar>(
    m: &mut DMatrix<T>,
    column: usize,
    start: usize,
    values: &[S],
    convert: impl Fn(S) -> T,
) {
    let rows = m.nrows();
    let target = &mut m.as_mut_slice()[column * rows + start..column * rows + start + values.len()];
    for (slot, v) in target.iter_mut().zip(values) {
        *slot = convert(*v);
    }
}

/// [`copy_into`] for any numeric Arrow column, widened to f64; `None` for another type.
fn copy_as_f64(m: &mut DMatrix<f64>, column: usize, start: usize, array: &ArrayRef) -> Option<()> {
    fn with<P: ArrowPrimitiveType>(
        m: &mut DMatrix<f64>,
        column: usize,
        start: usize,
        array: &ArrayRef,
        convert: impl Fn(P::Native) -> f64,
    ) -> Option<()> {
        let a = array.as_primitive_opt::<P>()?;
        copy_into(m, column, start, a.values(), convert);
        Some(())
    }
    // Integers beyond ±2⁵³ round to the nearest f64, as in NumPy and pandas.
    #[allow(clippy::cast_precision_loss)]
    match array.data_type() {
        DataType::Float32 => with::<Float32Type>(m, column, start, array, f64::from),
        DataType::Float64 => with::<Float64Type>(m, column, start, array, |v| v),
        DataType::Int8 => with::<Int8Type>(m, column, start, array, f64::from),
        DataType::Int16 => with::<Int16Type>(m, column, start, array, f64::from),
        DataType::Int32 => with::<Int32Type>(m, column, start, array, f64::from),
        DataType::Int64 => with::<Int64Type>(m, column, start, array, |v| v as f64),
        DataType::UInt8 => with::<UInt8Type>(m, column, start, array, f64::from),
        DataType::UInt16 => with::<UInt16Type>(m, column, start, array, f64::from),
        DataType::UInt32 => with::<UInt32Type>(m, column, start, array, f64::from),
        DataType::UInt64 => with::<UInt64Type>(m, column, start, array, |v| v as f64),
        _ => None,
    }
}

/// Writes one non-nullable Float32 or Float64 column per table column, named like it,
/// Snappy-compressed, in record batches of [`BATCH_ROWS`] rows.
pub(super) fn save_parquet(path: &Path, names: &[String], values: &Values) -> Result<()> {
    let write_err = |e: &dyn std::fmt::Display| Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let data_type = match values {
        Values::F32(_) => DataType::Float32,
        Values::F64(_) => DataType::Float64,
    };
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, data_type.clone(), false))
            .collect::<Vec<_>>(),
    ));
    let file = std::fs::File::create(path).map_err(|e| write_err(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer =
        ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| write_err(&e))?;
    let rows = values.nrows();
    for start in (0..rows).step_by(BATCH_ROWS) {
        let len = BATCH_ROWS.min(rows - start);
        let range = |j: usize| j * rows + start..j * rows + start + len;
        let columns: Vec<ArrayRef> = (0..names.len())
            .map(|j| -> ArrayRef {
                match values {
                    Values::F32(m) => Arc::new(Float32Array::from(m.as_slice()[range(j)].to_vec())),
                    Values::F64(m) => Arc::new(Float64Array::from(m.as_slice()[range(j)].to_vec())),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| write_err(&e))?;
        writer.write(&batch).map_err(|e| write_err(&e))?;
    }
    writer.close().map_err(|e| write_err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::scratch_path;
    use arrow_array::{Int64Array, StringArray};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Writes `columns` with the parquet crate's own Arrow writer (several row groups).
    fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .build();
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    /// A file written by the parquet crate (f32, f64 and integer columns, several row groups)
    /// reads back bit for bit, by name.
    #[test]
    fn columns_written_by_the_parquet_crate_read_back_bit_identically() {
        let mut rng = StdRng::seed_from_u64(13);
        let n = 1000;
        let f: Vec<f32> = (0..n)
            .map(|i| {
                if i == 0 {
                    -0.0
                } else {
                    f32::from_bits(rng.random::<u32>() & 0x7f7f_ffff)
                }
            })
            .collect();
        let d: Vec<f64> = (0..n)
            .map(|i| {
                if i == 1 {
                    5e-324
                } else {
                    rng.random::<f64>() * 1e200
                }
            })
            .collect();
        let k: Vec<i64> = (0..n).map(|_| rng.random_range(-1000..1000)).collect();
        let path = scratch_path("mixed.parquet");
        write(
            &path,
            vec![
                ("f", Arc::new(Float32Array::from(f.clone())) as ArrayRef),
                ("d", Arc::new(Float64Array::from(d.clone()))),
                ("k", Arc::new(Int64Array::from(k.clone()))),
            ],
        );
        let t = load_parquet(&path).unwrap();
        assert_eq!(t.names(), ["f", "d", "k"]);
        let Values::F64(m) = t.values() else {
            panic!("mixed columns make an f64 table")
        };
        for i in 0..n {
            assert_eq!(m[(i, 0)].to_bits(), f64::from(f[i]).to_bits());
            assert_eq!(m[(i, 1)].to_bits(), d[i].to_bits());
            assert_eq!(m[(i, 2)], k[i] as f64);
        }
        // All-f32 files stay f32.
        let path = scratch_path("f32.parquet");
        write(
            &path,
            vec![("f", Arc::new(Float32Array::from(f.clone())) as ArrayRef)],
        );
        let Values::F32(m) = load_parquet(&path).unwrap().values().clone() else {
            panic!("f32")
        };
        assert!(m.iter().zip(&f).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    /// What `save_parquet` writes (more rows than one batch), `load_parquet` reads back exactly.
    #[test]
    fn save_then_load_is_exact_in_both_precisions() {
        let mut rng = StdRng::seed_from_u64(14);
        let rows = BATCH_ROWS + 17;
        let names: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let m32 = DMatrix::from_fn(rows, 2, |_, _| rng.random::<f32>());
        let m64 = DMatrix::from_fn(rows, 2, |_, _| rng.random::<f64>() * 1e-300);
        for values in [Values::F32(m32), Values::F64(m64)] {
            let path = scratch_path("saved.parquet");
            save_parquet(&path, &names, &values).unwrap();
            let t = load_parquet(&path).unwrap();
            assert_eq!(t.names(), names.as_slice());
            assert_eq!(t.values(), &values);
        }
    }

    /// Nulls name their row and column; text columns, NaN, empty and damaged files are errors.
    #[test]
    fn bad_files_are_errors_naming_row_and_column() {
        let path = scratch_path("nulls.parquet");
        let with_null: Vec<Option<f64>> =
            (0..250).map(|i| (i != 217).then_some(i as f64)).collect();
        write(
            &path,
            vec![
                (
                    "ok",
                    Arc::new(Float64Array::from(vec![1.0; 250])) as ArrayRef,
                ),
                ("gap", Arc::new(Float64Array::from(with_null))),
            ],
        );
        let e = load_parquet(&path).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NullEntry {
                    row: 217,
                    column: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("nulls.parquet") && msg.contains("row 217, column 1 (`gap`) is null"),
            "{msg}"
        );

        let path = scratch_path("text.parquet");
        write(
            &path,
            vec![
                (
                    "x",
                    Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
                ),
                ("label", Arc::new(StringArray::from(vec!["a", "b"]))),
            ],
        );
        let e = load_parquet(&path).unwrap_err().to_string();
        assert!(e.contains("column 1 (`label`) has type Utf8"), "{e}");

        let path = scratch_path("nan.parquet");
        write(
            &path,
            vec![(
                "x",
                Arc::new(Float32Array::from(vec![1.0, f32::INFINITY])) as ArrayRef,
            )],
        );
        assert!(matches!(
            load_parquet(&path),
            Err(Error::NonFiniteEntry {
                row: 1,
                column: 0,
                ..
            })
        ));

        let path = scratch_path("empty.parquet");
        write(
            &path,
            vec![(
                "x",
                Arc::new(Float32Array::from(Vec::<f32>::new())) as ArrayRef,
            )],
        );
        assert!(matches!(load_parquet(&path), Err(Error::EmptyTable { .. })));

        let good = std::fs::read(scratch_path("nulls.parquet")).unwrap();
        let path = scratch_path("damaged.parquet");
        for cut in [0, 4, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let e = load_parquet(&path).unwrap_err();
            assert!(matches!(e, Error::Parquet { .. }), "cut {cut}: {e:?}");
        }
        let mut rng = StdRng::seed_from_u64(15);
        for _ in 0..200 {
            let mut bytes = good.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            std::fs::write(&path, &bytes).unwrap();
            if let Ok(t) = load_parquet(&path) {
                assert_eq!(t.names().len(), t.n_columns());
            }
        }
    }
}
