//! Reading tables and observations: column selection by the names a model stores, and `--y` values.

use crate::error::{Error, Result};
use crate::table::Table;
use inn::autodiff::nalgebra::DMatrix;
use std::path::Path;

/// Loads a `.csv`, `.tsv`, `.npy`, `.npz` or `.parquet` table (by extension); every data error
/// names the file, the row or line, and the column.
pub fn load_table(path: &Path) -> Result<Table> {
    Table::load(path)
}

/// The column indices of a `--x`/`--y` specification (names or 0-based indices/ranges),
/// naming the file in the error.
pub fn select_indices(table: &Table, path: &Path, option: &str, spec: &str) -> Result<Vec<usize>> {
    table
        .column_indices(spec)
        .map_err(|e| Error::Runtime(format!("{}: {option}: {e}", path.display())))
}

/// The columns called `names` (exact match, in that order) of a table loaded from `path`.
pub fn select_names(table: &Table, path: &Path, names: &[String]) -> Result<DMatrix<f64>> {
    let mut indices = Vec::with_capacity(names.len());
    for name in names {
        match table.names().iter().position(|n| n == name) {
            Some(j) => indices.push(j),
            None => {
                return Err(Error::Runtime(format!(
                    "{}: unknown column `{name}` (the model needs columns {}); the file's columns are: {}",
                    path.display(),
                    names.join(", "),
                    table.names().join(", ")
                )));
            }
        }
    }
    Ok(table.values().select_columns_f64(&indices))
}

/// Observations from a table: its columns named like the model's y columns if the header has
/// them all, otherwise all its columns when there are exactly as many as y has.
pub fn observations_from_table(
    table: &Table,
    path: &Path,
    y_names: &[String],
) -> Result<DMatrix<f64>> {
    if y_names.iter().all(|n| table.names().contains(n)) {
        return select_names(table, path, y_names);
    }
    if table.n_columns() == y_names.len() {
        return Ok(table.data().into_owned());
    }
    Err(Error::Runtime(format!(
        "{}: wrong observation width: line 1 has {} columns ({}), the model's y has {} ({}); \
         name the columns like the model's y or give exactly {} columns",
        path.display(),
        table.n_columns(),
        table.names().join(", "),
        y_names.len(),
        y_names.join(", "),
        y_names.len()
    )))
}

/// Observations given as `--y "0.3,1.2"` (one per `--y`), checked for numbers, finiteness and
/// width; a problem is a usage error naming the observation and the value's position.
pub fn observations_from_args(values: &[String], y_names: &[String]) -> Result<DMatrix<f64>> {
    let d = y_names.len();
    let mut data = DMatrix::zeros(values.len(), d);
    for (i, text) in values.iter().enumerate() {
        let items: Vec<&str> = text.split(',').map(str::trim).collect();
        if items.len() != d {
            return Err(Error::Usage(format!(
                "--y `{text}` (observation {i}): wrong observation width: {} values, the model's y has {d} ({})",
                items.len(),
                y_names.join(", ")
            )));
        }
        for (j, item) in items.iter().enumerate() {
            let v: f64 = item.parse().map_err(|_| {
                Error::Usage(format!(
                    "--y `{text}` (observation {i}), column {j} (`{}`): `{item}` is not a number",
                    y_names[j]
                ))
            })?;
            if !v.is_finite() {
                return Err(Error::Usage(format!(
                    "--y `{text}` (observation {i}), column {j} (`{}`): `{item}` is not finite",
                    y_names[j]
                )));
            }
            data[(i, j)] = v;
        }
    }
    Ok(data)
}
