//! `inn sample`: posterior samples of x for observations y, or draws from a flow's density, as
//! CSV on stdout or, with `--out`, as `.csv`, `.npy`, `.npz` or `.parquet` by extension.

use crate::args::SampleArgs;
use crate::columns::{load_table, observations_from_args, observations_from_table};
use crate::error::{Error, Result};
use crate::model::{Model, posterior};
use crate::table::{Format, Table, Values};
use inn::autodiff::nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;

/// Samples of one observation (its index; none for a flow), `n × d` in data units.
type Block = (Option<usize>, DMatrix<f64>);

/// Runs `inn sample`.
pub fn run(args: &SampleArgs) -> Result {
    // An output type we cannot write is a usage error before any work.
    let out_format = args.out.as_deref().map(output_format).transpose()?;
    let model = Model::load(&args.model)?;
    let meta = &model.meta;
    let n = args.n as usize;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let has_obs = !args.y.is_empty() || args.y_file.is_some();
    // A density over the columns (y width 0) samples unconditionally; the others need y.
    let (header, rows): (Vec<String>, Vec<Block>) = match model.net.widths().1 {
        0 => {
            if has_obs {
                return Err(Error::Usage(format!(
                    "{} is a flow (a density over {}): it takes no --y or --y-file; \
                     `inn sample --model {} -n N` draws from it",
                    args.model.display(),
                    meta.x_names.join(", "),
                    args.model.display()
                )));
            }
            let draws = model.net.sample(n, &mut rng).ok_or_else(|| {
                Error::Runtime(format!(
                    "{}: a {} model draws no unconditional samples",
                    args.model.display(),
                    model.net.kind()
                ))
            })??;
            (
                meta.x_names.clone(),
                vec![(None, meta.x_scale.undo(&draws))],
            )
        }
        _ => {
            let y_scale = meta.y_scale.as_ref().ok_or_else(|| {
                Error::Runtime(format!(
                    "model file {}: no standardisation of y recorded",
                    args.model.display()
                ))
            })?;
            let y_obs = if let Some(path) = &args.y_file {
                observations_from_table(&load_table(path)?, path, &meta.y_names)?
            } else if !args.y.is_empty() {
                observations_from_args(&args.y, &meta.y_names)?
            } else {
                return Err(Error::Usage(format!(
                    "{} samples the posterior p(x | y): give the observation with --y VALUES \
                     (columns {}) or --y-file FILE",
                    args.model.display(),
                    meta.y_names.join(", ")
                )));
            };
            let y_std = y_scale.apply_checked(&y_obs, &meta.y_names, "observation")?;
            let samples = posterior(&model.net, &y_std, n, &mut rng)?;
            let header = std::iter::once("obs".to_string())
                .chain(meta.x_names.iter().cloned())
                .collect();
            let rows = samples
                .iter()
                .enumerate()
                .map(|(i, s)| (Some(i), meta.x_scale.undo(s)))
                .collect();
            (header, rows)
        }
    };
    match (&args.out, out_format) {
        (Some(path), Some(format)) => {
            if format == Format::Csv {
                let file = std::fs::File::create(path)
                    .map_err(|e| Error::Runtime(format!("{}: {e}", path.display())))?;
                write_csv(std::io::BufWriter::new(file), &header, &rows)
                    .map_err(|e| Error::Runtime(format!("{}: {e}", path.display())))?;
            } else {
                Table::from_values(header, Values::F32(stack(&rows)))?.save(path)?;
            }
            let total: usize = rows.iter().map(|(_, m)| m.nrows()).sum();
            eprintln!("wrote {total} samples to {}", path.display());
        }
        _ => write_csv(std::io::stdout().lock(), &header, &rows)
            .map_err(|e| Error::Runtime(format!("stdout: {e}")))?,
    }
    Ok(())
}

/// The type of an `--out` file by its extension: `.csv`, `.npy`, `.npz` or `.parquet`.
fn output_format(path: &std::path::Path) -> Result<Format> {
    match Format::of(path) {
        Ok(f @ (Format::Csv | Format::Npy | Format::Npz | Format::Parquet)) => Ok(f),
        Ok(Format::Tsv) | Err(_) => Err(Error::Usage(format!(
            "--out {}: unknown output type (expected extension .csv, .npy, .npz or .parquet)",
            path.display()
        ))),
    }
}

/// The blocks one under the other, in single precision (the networks' own, as the CSV output
/// prints), the observation index first when there is one.
fn stack(blocks: &[Block]) -> DMatrix<f32> {
    let total = blocks.iter().map(|(_, m)| m.nrows()).sum();
    let with_obs = usize::from(blocks.iter().any(|(obs, _)| obs.is_some()));
    let width = blocks.first().map_or(0, |(_, m)| m.ncols()) + with_obs;
    let mut out = DMatrix::zeros(total, width);
    let mut at = 0;
    for (obs, m) in blocks {
        if let Some(i) = obs {
            out.view_mut((at, 0), (m.nrows(), 1)).fill(*i as f32);
        }
        out.view_mut((at, with_obs), m.shape())
            .copy_from(&m.map(|v| v as f32));
        at += m.nrows();
    }
    out
}

/// Writes the header and, per block, one line per sample (the observation index first when
/// there is one).
fn write_csv(out: impl Write, header: &[String], blocks: &[Block]) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header)?;
    let mut record = Vec::with_capacity(header.len());
    for (obs, samples) in blocks {
        for row in samples.row_iter() {
            record.clear();
            if let Some(i) = obs {
                record.push(i.to_string());
            }
            record.extend(row.iter().map(|v| format!("{}", *v as f32)));
            w.write_record(&record)?;
        }
    }
    w.flush()?;
    Ok(())
}
