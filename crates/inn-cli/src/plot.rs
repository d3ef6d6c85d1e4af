//! `inn plot`: the posterior of one observation as a corner plot.

use crate::args::PlotArgs;
use crate::columns::observations_from_args;
use crate::error::{Error, Result};
use crate::model::{Model, posterior};
use inn_cli::report::{CornerPlot, write_figure};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Runs `inn plot`.
pub fn run(args: &PlotArgs) -> Result {
    let model = Model::load(&args.model)?;
    let meta = &model.meta;
    let y_scale = match (&meta.y_scale, model.net.widths().1) {
        (Some(s), 1..) => s,
        _ => {
            return Err(Error::Runtime(format!(
                "{}: a {} model of a density has no posterior p(x | y) to plot; `inn plot` needs \
                 a cinn or inn model",
                args.model.display(),
                model.net.kind()
            )));
        }
    };
    let y = observations_from_args(std::slice::from_ref(&args.y), &meta.y_names)?;
    let truth = args
        .truth
        .as_deref()
        .map(|text| parse_truth(text, &meta.x_names))
        .transpose()?;
    let y_std = y_scale.apply_checked(&y, &meta.y_names, "observation")?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let draws = posterior(&model.net, &y_std, args.n as usize, &mut rng)?;
    let samples = meta.x_scale.undo(&draws[0]);
    let y_text: Vec<String> = y.row(0).iter().map(|v| format!("{v}")).collect();
    let plot = CornerPlot {
        names: meta.x_names.clone(),
        samples,
        truth,
        bins: args.bins as usize,
        title: format!(
            "posterior of x for y = ({}), {} draws{}",
            y_text.join(", "),
            args.n,
            if args.truth.is_some() {
                "; true x in red"
            } else {
                ""
            }
        ),
    };
    write_figure(&args.out, &plot)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// `--truth` values: one finite number per x column, else a usage error naming the position.
fn parse_truth(text: &str, names: &[String]) -> Result<Vec<f64>> {
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    if items.len() != names.len() {
        return Err(Error::Usage(format!(
            "--truth `{text}`: {} values, the model's x has {} ({})",
            items.len(),
            names.len(),
            names.join(", ")
        )));
    }
    items
        .iter()
        .zip(names)
        .enumerate()
        .map(|(j, (item, name))| match item.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(Error::Usage(format!(
                "--truth `{text}`, column {j} (`{name}`): `{item}` is not a finite number"
            ))),
        })
        .collect()
}
