//! `inn info`: what a model file holds — kind, format version, widths, columns, architecture,
//! training summary.

use crate::args::InfoArgs;
use crate::error::Result;
use crate::model::{Model, Training};
use std::path::Path;

/// Runs `inn info`.
pub fn run(args: &InfoArgs) -> Result {
    let model = Model::load(&args.model)?;
    for line in describe(&model, &args.model) {
        println!("{line}");
    }
    Ok(())
}

/// The lines `inn info` prints for `model`, read from `path` (also the model section of
/// `inn check`'s report).
pub fn describe(model: &Model, path: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    // One line of the description, formatted like `println!`.
    macro_rules! push {
        ($($arg:tt)*) => { lines.push(format!($($arg)*)) };
    }
    let meta = &model.meta;
    let t = &meta.training;
    push!("model file:     {}", path.display());
    let container = if model.version >= 3 {
        "safetensors"
    } else {
        "JSON"
    };
    push!(
        "format:         {} version {} ({container})",
        inn::model_file::FORMAT_NAME,
        model.version
    );
    match model.net.ensemble() {
        Some(e) => push!(
            "kind:           ensemble of {} {} models (uniform mixture; log-density: log of the mean member density)",
            e.len(),
            e.member_kind()
        ),
        None => push!("kind:           {}", model.net.kind()),
    }
    push!("architecture:   {}", meta.architecture);
    if let Some(kind) = meta.architecture.get("coupling").and_then(|k| k.as_str()) {
        let spline = match (
            meta.architecture.get("bins"),
            meta.architecture.get("bound"),
        ) {
            (Some(bins), Some(bound)) => format!(", {bins} bins on [-{bound}, {bound}]"),
            _ => String::new(),
        };
        push!("coupling:       {kind}{spline}");
    }
    if let Some(kind) = meta.architecture.get("summary").and_then(|k| k.as_str()) {
        let set = meta
            .architecture
            .get("set_size")
            .map_or(String::new(), |n| format!(", sets of {n}"));
        push!(
            "summary:        {kind} network h(y) → {} features{set}, trained with the flow",
            meta.architecture["summary_dim"]
        );
    }
    push!("parameters:     {}", model.net.n_params());
    push!(
        "x columns ({}):  {}",
        meta.x_names.len(),
        meta.x_names.join(", ")
    );
    if !meta.y_names.is_empty() {
        push!(
            "y columns ({}):  {}",
            meta.y_names.len(),
            meta.y_names.join(", ")
        );
    }
    push!(
        "x mean / std:   {:?} / {:?}",
        meta.x_scale.mean,
        meta.x_scale.std
    );
    if let Some(s) = &meta.y_scale {
        push!("y mean / std:   {:?} / {:?}", s.mean, s.std);
    }
    let runs: Vec<&Training> = match &meta.ensemble {
        Some(record) => record.members.iter().collect(),
        None => vec![t],
    };
    for (k, t) in runs.iter().enumerate() {
        if runs.len() > 1 {
            push!("member {}:", k + 1);
        }
        training_lines(&mut lines, t);
    }
    if let Some(record) = &meta.ensemble {
        push!("held out:       {}", record.summary());
    }
    lines
}

/// The lines describing one training run.
fn training_lines(lines: &mut Vec<String>, t: &Training) {
    // One line of the description, formatted like `println!`.
    macro_rules! push {
        ($($arg:tt)*) => { lines.push(format!($($arg)*)) };
    }
    let cap = t
        .max_steps
        .map_or(String::new(), |m| format!(" of at most {m}"));
    let decay = t
        .weight_decay
        .map_or(String::new(), |w| format!(", weight decay {w}"));
    push!(
        "training:       {} ({} rows, {} held out), {} steps{cap}, batch {}, lr {}{decay}, seed {}, {:.1} s",
        t.data,
        t.train_rows,
        t.val_rows,
        t.steps,
        t.batch,
        t.lr,
        t.seed,
        t.seconds
    );
    if let Some(stop) = &t.stop {
        push!("stopped by:     {stop}");
    }
    let at = t
        .best_step
        .map_or(String::new(), |s| format!(" (step {s}, best validation)"));
    match t.val_loss {
        Some(v) => push!(
            "saved model{at}: {}: train {:.4}, validation {v:.4}",
            t.loss_name,
            t.train_loss
        ),
        None => push!("saved model:    {}: train {:.4}", t.loss_name, t.train_loss),
    }
}
