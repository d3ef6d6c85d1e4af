//! `inn check`: the calibration of a posterior model on held-out simulations — SBC, coverage,
//! recovery, contraction and a verdict per parameter — as figures, `report.html` and
//! `summary.json`.

use crate::args::CheckArgs;
use crate::columns::{load_table, select_names};
use crate::error::{Error, Result};
use crate::info::describe;
use crate::model::Model;
use indicatif::{ProgressBar, ProgressStyle};
use inn::diagnostics::{Diagnostics, DiagnosticsConfig, PosteriorDraws, diagnose};
use inn_cli::report::{CheckFigureKind, CheckFigures, ReportPage, write_png_and_svg};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Runs `inn check`.
pub fn run(args: &CheckArgs) -> Result {
    let start = Instant::now();
    let model = Model::load(&args.model)?;
    let meta = &model.meta;
    let y_scale = match (&meta.y_scale, model.net.widths().1) {
        (Some(s), 1..) => s,
        _ => {
            return Err(Error::Runtime(format!(
                "{}: a {} model of the density of {} has no observations y, so there is no \
                 posterior p(x | y) to check; `inn check` needs a cinn or inn model",
                args.model.display(),
                model.net.kind(),
                meta.x_names.join(", ")
            )));
        }
    };
    let table = load_table(&args.data)?;
    let x = select_names(&table, &args.data, &meta.x_names)?;
    let y = select_names(&table, &args.data, &meta.y_names)?;
    let in_file = |e: Error| Error::Runtime(format!("{}: {e}", args.data.display()));
    let x_std = meta
        .x_scale
        .apply_checked(&x, &meta.x_names, "row")
        .map_err(in_file)?;
    let y_std = y_scale
        .apply_checked(&y, &meta.y_names, "row")
        .map_err(in_file)?;

    let mut rng = StdRng::seed_from_u64(args.seed);
    let n_obs = (args.max_obs as usize).min(x.nrows());
    let n_draws = args.n as usize;
    let mut rows: Vec<usize> = (0..x.nrows()).collect();
    if n_obs < rows.len() {
        rows.shuffle(&mut rng);
        rows.truncate(n_obs);
        rows.sort_unstable();
    }
    eprintln!(
        "checking {} on {} rows of {}: {n_draws} posterior draws each",
        args.model.display(),
        n_obs,
        args.data.display()
    );
    let bar = ProgressBar::new(n_obs as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} observations, {elapsed} elapsed, ~{eta} left",
        )
        .map_err(|e| Error::Runtime(format!("progress bar: {e}")))?,
    );
    let draws = PosteriorDraws::from_model(
        model.net.as_ref(),
        &x_std.select_rows(&rows),
        &y_std.select_rows(&rows),
        n_draws,
        &mut rng,
        |done| bar.set_position(done as u64),
    );
    bar.finish_and_clear();
    // Data units for the recovery plot; ranks, coverage and z-scores do not change.
    let draws = draws?.affine(&meta.x_scale.mean, &meta.x_scale.std)?;
    let prior_var: Vec<f64> = meta.x_scale.std.iter().map(|s| s * s).collect();
    let diagnostics = diagnose(
        &draws,
        Some(&prior_var),
        &DiagnosticsConfig::default(),
        &mut rng,
    )?;

    let out = &args.out;
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Runtime(format!("{}: cannot create the folder: {e}", out.display())))?;
    let mut files = Vec::new();
    let mut figures = Vec::new();
    for kind in CheckFigureKind::ALL {
        let figure = CheckFigures {
            kind,
            diagnostics: &diagnostics,
            names: &meta.x_names,
        };
        let (paths, svg) = write_png_and_svg(out, kind.stem(), &figure)?;
        files.extend(paths);
        figures.push((kind, svg));
    }
    let seconds = start.elapsed().as_secs_f64();
    let page = ReportPage {
        model: args.model.display().to_string(),
        data: args.data.display().to_string(),
        names: &meta.x_names,
        diagnostics: &diagnostics,
        model_description: describe(&model, &args.model),
        figures,
        seed: args.seed,
        seconds,
    };
    let html = out.join("report.html");
    write(&html, page.render())?;
    let summary = out.join("summary.json");
    write(
        &summary,
        summary_json(args, &meta.x_names, &rows, &diagnostics, seconds)?,
    )?;

    println!(
        "checked {} on {}: {} observations x {} draws ({seconds:.1} s)",
        args.model.display(),
        args.data.display(),
        diagnostics.n_obs,
        diagnostics.n_draws
    );
    for (name, v) in meta.x_names.iter().zip(&diagnostics.verdicts) {
        println!("  {name}: {} — {}", v.kind.name(), v.reason);
    }
    let c = &diagnostics.coverage;
    println!(
        "largest under-coverage: central {:.3}{}",
        c.central_largest_under_coverage.max(0.0),
        c.hpd_largest_under_coverage
            .map_or(String::new(), |u| format!(
                ", highest-density {:.3}",
                u.max(0.0)
            ))
    );
    println!(
        "wrote {}, {} and {} figures to {}",
        html.display(),
        summary.display(),
        files.len(),
        out.display()
    );
    Ok(())
}

fn write(path: &Path, text: String) -> Result {
    std::fs::write(path, text).map_err(|e| Error::Runtime(format!("{}: {e}", path.display())))
}

/// Every number of the check, with what it was run on.
fn summary_json(
    args: &CheckArgs,
    names: &[String],
    rows: &[usize],
    d: &Diagnostics,
    seconds: f64,
) -> Result<String> {
    let verdicts: Vec<_> = names
        .iter()
        .zip(&d.verdicts)
        .map(|(n, v)| json!({"parameter": n, "verdict": v.kind, "reason": v.reason}))
        .collect();
    let value = json!({
        "model": args.model.display().to_string(),
        "data": args.data.display().to_string(),
        "parameters": names,
        "seed": args.seed,
        "seconds": seconds,
        "n_obs": d.n_obs,
        "n_draws": d.n_draws,
        "rows": rows,
        "verdicts": verdicts,
        "largest_under_coverage": {
            "central": d.coverage.central_largest_under_coverage,
            "highest_density": d.coverage.hpd_largest_under_coverage,
        },
        "diagnostics": d,
    });
    serde_json::to_string_pretty(&value)
        .map_err(|e| Error::Runtime(format!("cannot encode summary.json: {e}")))
}
