//! `inn info`: what a model file holds — kind, format version, widths, columns, architecture,
//! training summary.

use crate::args::InfoArgs;
use crate::error::Result;
use crate::model::Model;

/// Runs `inn info`.
pub fn run(args: &InfoArgs) -> Result {
    let model = Model::load(&args.model)?;
    let meta = &model.meta;
    let t = &meta.training;
    println!("model file:     {}", args.model.display());
    let container = if model.version >= 3 {
        "safetensors"
    } else {
        "JSON"
    };
    println!(
        "format:         {} version {} ({container})",
        inn::model_file::FORMAT_NAME,
        model.version
    );
    println!("kind:           {}", model.net.kind());
    println!("architecture:   {}", meta.architecture);
    println!(
        "parameters:     {}",
        model.net.network().params().n_scalars()
    );
    println!(
        "x columns ({}):  {}",
        meta.x_names.len(),
        meta.x_names.join(", ")
    );
    if !meta.y_names.is_empty() {
        println!(
            "y columns ({}):  {}",
            meta.y_names.len(),
            meta.y_names.join(", ")
        );
    }
    println!(
        "x mean / std:   {:?} / {:?}",
        meta.x_scale.mean, meta.x_scale.std
    );
    if let Some(s) = &meta.y_scale {
        println!("y mean / std:   {:?} / {:?}", s.mean, s.std);
    }
    let cap = t
        .max_steps
        .map_or(String::new(), |m| format!(" of at most {m}"));
    let decay = t
        .weight_decay
        .map_or(String::new(), |w| format!(", weight decay {w}"));
    println!(
        "training:       {} ({} rows, {} held out), {} steps{cap}, batch {}, lr {}{decay}, seed {}, {:.1} s",
        t.data, t.train_rows, t.val_rows, t.steps, t.batch, t.lr, t.seed, t.seconds
    );
    if let Some(stop) = &t.stop {
        println!("stopped by:     {stop}");
    }
    let at = t
        .best_step
        .map_or(String::new(), |s| format!(" (step {s}, best validation)"));
    match t.val_loss {
        Some(v) => println!(
            "saved model{at}: {}: train {:.4}, validation {v:.4}",
            t.loss_name, t.train_loss
        ),
        None => println!("saved model:    {}: train {:.4}", t.loss_name, t.train_loss),
    }
    Ok(())
}
