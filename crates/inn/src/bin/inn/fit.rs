//! `inn fit`: load a table, standardise the chosen columns, train, report losses, save.

use crate::args::{FitArgs, Method};
use crate::columns::{load_table, select_spec};
use crate::failure::{Failure, Outcome};
use crate::model::{Meta, Model, Net, Training};
use crate::scaler::Scaler;
use inn::Flow;
use inn::autodiff::nalgebra::DMatrix;
use inn::bijectors::StackConfig;
use inn::train::{
    CinnConfig, ConditionalInn, Inn, InnConfig, MaximumLikelihood, MleConfig, OptimConfig,
    TrainReport, mean_nll,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;

/// Runs `inn fit`.
pub fn run(args: &FitArgs) -> Outcome {
    let table = load_table(&args.data)?;
    let x_table = select_spec(&table, &args.data, "--x", &args.x)?;
    let y_table = match &args.y {
        Some(spec) => Some(select_spec(&table, &args.data, "--y", spec)?),
        None if args.method == Method::Flow => None,
        None => {
            return Err(Failure::Usage(format!(
                "--method {} needs the observation columns: add --y COLS (or use --method flow \
                 to fit a density to the --x columns)",
                args.method.kind()
            )));
        }
    };
    if args.method != Method::Inn && (args.z_dim.is_some() || args.n_tot.is_some()) {
        return Err(Failure::Usage(
            "--z-dim and --n-tot apply to --method inn only".into(),
        ));
    }
    let (x_names, x_data) = x_table.into_parts();
    let (y_names, y_data) = match y_table {
        Some(t) => {
            let (n, d) = t.into_parts();
            (n, Some(d))
        }
        None => (Vec::new(), None),
    };
    if let Some(dup) = x_names.iter().find(|n| y_names.contains(n)) {
        return Err(Failure::Usage(format!(
            "column `{dup}` is selected by both --x and --y"
        )));
    }

    let mut rng = StdRng::seed_from_u64(args.seed);
    let n = x_data.nrows();
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut rng);
    let n_val = (args.val_frac * n as f64).round() as usize;
    if n_val >= n {
        return Err(Failure::Runtime(format!(
            "{}: {n} rows leave none for training after holding out {n_val} for validation",
            args.data.display()
        )));
    }
    let (val_rows, train_rows) = rows.split_at(n_val);
    let hidden = args.hidden.0.clone();
    let optim = |base: OptimConfig| OptimConfig {
        steps: args.steps as usize,
        adam: inn::autodiff::optim::AdamConfig {
            lr: args.lr,
            ..base.adam
        },
        progress: true,
        ..base
    };

    let (mut net, meta_x_names, x_scale, y_scale, architecture, losses) = match args.method {
        Method::Flow => {
            // The density is over x and y together when both are given.
            let all = match &y_data {
                Some(y) => hstack(&x_data, y),
                None => x_data.clone(),
            };
            let names: Vec<String> = x_names.iter().chain(&y_names).cloned().collect();
            let scale = Scaler::fit(&all.select_rows(train_rows));
            let train = scale.apply(&all.select_rows(train_rows));
            let val = scale.apply(&all.select_rows(val_rows));
            let stack = StackConfig {
                dim: names.len(),
                blocks: args.blocks as usize,
                hidden: hidden.clone(),
                zero_last: true,
                actnorm: true,
                ..StackConfig::default()
            };
            let mut flow = Flow::<f32>::coupling_stack(&stack, &mut rng)?;
            let config = MleConfig {
                optim: optim(OptimConfig::default()),
                batch_size: args.batch as usize,
                val_fraction: 0.0,
                data_init: true,
            };
            let report = MaximumLikelihood::new(config).fit(&mut flow, &train, &mut rng, None)?;
            // Negative mean log-density in data units: the standardisation adds Σ ln std.
            let train_loss = mean_nll(&flow, &train)? + scale.log_det();
            let val_loss = (n_val > 0)
                .then(|| mean_nll(&flow, &val).map(|v| v + scale.log_det()))
                .transpose()?;
            let arch = json!({
                "coupling": "real_nvp", "actnorm": true, "blocks": args.blocks, "hidden": hidden,
                "dim": names.len(), "x_columns": x_names, "y_columns": y_names,
            });
            let losses = Losses::nll(&report, train_loss, val_loss);
            (Net::Flow(flow), names, scale, None, arch, losses)
        }
        Method::Cinn | Method::Inn => {
            let y_data = y_data
                .as_ref()
                .ok_or_else(|| Failure::Usage("--y is required for cinn and inn".into()))?;
            let x_scale = Scaler::fit(&x_data.select_rows(train_rows));
            let y_scale = Scaler::fit(&y_data.select_rows(train_rows));
            let x_train = x_scale.apply(&x_data.select_rows(train_rows));
            let y_train = y_scale.apply(&y_data.select_rows(train_rows));
            let x_val = x_scale.apply(&x_data.select_rows(val_rows));
            let y_val = y_scale.apply(&y_data.select_rows(val_rows));
            let (x_dim, y_dim) = (x_names.len(), y_names.len());
            if args.method == Method::Cinn {
                let config = CinnConfig {
                    blocks: args.blocks as usize,
                    hidden: hidden.clone(),
                    batch_size: args.batch as usize,
                    optim: optim(CinnConfig::default().optim),
                    ..CinnConfig::default()
                };
                let mut model = ConditionalInn::<f32>::new(config, x_dim, y_dim, &mut rng)?;
                let report = model.fit(&x_train, &y_train, &mut rng)?;
                let nll = |x: &DMatrix<f32>, y: &DMatrix<f32>| -> Outcome<f64> {
                    let lp = model.log_prob(x, y)?;
                    let mean = lp.iter().map(|v| f64::from(*v)).sum::<f64>() / lp.nrows() as f64;
                    Ok(-mean + x_scale.log_det())
                };
                let train_loss = nll(&x_train, &y_train)?;
                let val_loss = (n_val > 0).then(|| nll(&x_val, &y_val)).transpose()?;
                let arch = json!({
                    "coupling": "glow (conditional)", "blocks": args.blocks, "hidden": hidden,
                    "x_dim": x_dim, "y_dim": y_dim,
                });
                let losses = Losses::nll(&report, train_loss, val_loss);
                (
                    Net::Cinn(model),
                    x_names,
                    x_scale,
                    Some(y_scale),
                    arch,
                    losses,
                )
            } else {
                let z_dim = args.z_dim.map_or(x_dim, |z| z as usize);
                let n_tot = match args.n_tot {
                    Some(t) => t as usize,
                    None => {
                        let m = x_dim.max(y_dim + z_dim).max(2);
                        m + m % 2
                    }
                };
                let config = InnConfig {
                    n_tot,
                    blocks: args.blocks as usize,
                    hidden: hidden.clone(),
                    batch_size: args.batch as usize,
                    optim: optim(InnConfig::default().optim),
                    ..InnConfig::default()
                };
                let mut model = Inn::<f32>::new(config, x_dim, y_dim, z_dim, &mut rng)?;
                let report = model.fit(&x_train, &y_train, &mut rng)?;
                // Forward RMSE of y in data units, averaged over the y columns.
                let rmse = |x: &DMatrix<f32>, y: &DMatrix<f32>| -> Outcome<f64> {
                    let pred = model.predict_y(x)?;
                    Ok(rmse_data_units(&pred, y, &y_scale))
                };
                let train_loss = rmse(&x_train, &y_train)?;
                let val_loss = (n_val > 0).then(|| rmse(&x_val, &y_val)).transpose()?;
                let arch = json!({
                    "coupling": "glow", "blocks": args.blocks, "hidden": hidden,
                    "x_dim": x_dim, "y_dim": y_dim, "z_dim": z_dim, "n_tot": n_tot,
                });
                let losses = Losses {
                    name: "forward y RMSE (data units)".into(),
                    train: train_loss,
                    val: val_loss,
                    objective: Some(report.final_loss(50)),
                    seconds: report.seconds,
                };
                (
                    Net::Inn(model),
                    x_names,
                    x_scale,
                    Some(y_scale),
                    arch,
                    losses,
                )
            }
        }
    };

    let meta = Meta {
        method: args.method.kind().into(),
        x_names: meta_x_names,
        y_names: if args.method == Method::Flow {
            Vec::new()
        } else {
            y_names
        },
        x_scale,
        y_scale,
        architecture,
        training: Training {
            data: args.data.display().to_string(),
            train_rows: train_rows.len(),
            val_rows: n_val,
            steps: args.steps as usize,
            batch: args.batch as usize,
            lr: args.lr,
            seed: args.seed,
            loss_name: losses.name.clone(),
            train_loss: losses.train,
            val_loss: losses.val,
            seconds: losses.seconds,
        },
    };
    Model::save(&mut net, &meta, &args.out)?;
    println!(
        "trained {} on {} rows ({} held out) of {} for {} steps in {:.1} s",
        args.method.kind(),
        train_rows.len(),
        n_val,
        args.data.display(),
        args.steps,
        losses.seconds
    );
    if let Some(obj) = losses.objective {
        println!("training objective (mean of the last 50 steps): {obj:.4}");
    }
    match losses.val {
        Some(v) => println!(
            "final {}: train {:.4}, validation {:.4}",
            losses.name, losses.train, v
        ),
        None => println!("final {}: train {:.4}", losses.name, losses.train),
    }
    println!("saved {}", args.out.display());
    Ok(())
}

/// The losses `inn fit` prints and records.
struct Losses {
    name: String,
    train: f64,
    val: Option<f64>,
    objective: Option<f64>,
    seconds: f64,
}

impl Losses {
    fn nll(report: &TrainReport, train: f64, val: Option<f64>) -> Losses {
        Losses {
            name: "NLL (nats/sample, data units)".into(),
            train,
            val,
            objective: None,
            seconds: report.seconds,
        }
    }
}

/// `[a, b]` side by side (same rows).
fn hstack(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(a.nrows(), a.ncols() + b.ncols(), |i, j| {
        if j < a.ncols() {
            a[(i, j)]
        } else {
            b[(i, j - a.ncols())]
        }
    })
}

/// Root mean squared error in data units between standardised predictions and targets.
pub fn rmse_data_units(pred: &DMatrix<f32>, target: &DMatrix<f32>, scale: &Scaler) -> f64 {
    let mut sum = 0.0;
    for i in 0..pred.nrows() {
        for j in 0..pred.ncols() {
            let d = f64::from(pred[(i, j)] - target[(i, j)]) * scale.std[j];
            sum += d * d;
        }
    }
    (sum / (pred.nrows() * pred.ncols()).max(1) as f64).sqrt()
}
