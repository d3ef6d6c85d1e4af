//! `inn fit`: load a table, hold out validation rows, standardise the chosen columns, train with
//! model selection on the held-out rows, report how training went, save.

use crate::args::{CouplingChoice, FitArgs, Method, SubnetActivation, SummaryChoice};
use crate::columns::{load_table, select_indices};
use crate::error::{Error, Result};
use crate::model::{EnsembleRecord, Meta, Model, Net, Training, mean_f64};
use crate::scaler::Scaler;
use crate::table::Values;
use inn::Flow;
use inn::autodiff::nalgebra::DMatrix;
use inn::autodiff::optim::AdamConfig;
use inn::bijectors::{CouplingKind, StackConfig, SubnetConfig};
use inn::summary::{SummaryConfig, SummaryKind};
use inn::train::{
    CinnConfig, ConditionalInn, Inn, InnConfig, MaximumLikelihood, MleConfig, OptimConfig, Plateau,
    StopReason, TrainReport, mean_nll, split_rows,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

/// Parameters per number of the training table above which `inn fit` warns that the network
/// can memorise its training rows (the 64-column, 1000-row table of the issue that added this
/// check had 23 per value and overfitted within 25 steps; the 5-parameter linear-Gaussian
/// problem with 10⁴ rows has 4 per value and generalises).
const PARAMS_PER_VALUE_WARNING: f64 = 10.0;

/// Train–validation NLL gap (nats per row and modelled column, at the saved step) above which
/// `inn fit` warns that the model fits its training rows better than new ones.
const GAP_PER_COLUMN_WARNING: f64 = 0.1;

/// Runs `inn fit`.
pub fn run(args: &FitArgs) -> Result {
    let started = std::time::Instant::now();
    let members = args.ensemble.unwrap_or(1) as usize;
    if members == 0 {
        return Err(Error::Usage(
            "--ensemble 0: an ensemble needs at least one member (--ensemble 1 is a single \
             model)"
                .into(),
        ));
    }
    let table = load_table(&args.data)?;
    let read_seconds = started.elapsed().as_secs_f64();
    let x_cols = select_indices(&table, &args.data, "--x", &args.x)?;
    let y_cols = match &args.y {
        Some(spec) => Some(select_indices(&table, &args.data, "--y", spec)?),
        None if args.method == Method::Flow => None,
        None => {
            return Err(Error::Usage(format!(
                "--method {} needs the observation columns: add --y COLS (or use --method flow \
                 to fit a density to the --x columns)",
                args.method.kind()
            )));
        }
    };
    if args.method != Method::Inn && (args.z_dim.is_some() || args.n_tot.is_some()) {
        return Err(Error::Usage(
            "--z-dim and --n-tot apply to --method inn only".into(),
        ));
    }
    if args.summary.is_none() && (args.summary_dim.is_some() || args.set_size.is_some()) {
        return Err(Error::Usage(
            "--summary-dim and --set-size configure a summary network: add --summary KIND".into(),
        ));
    }
    if args.summary.is_some() && args.method != Method::Cinn {
        let why = match args.method {
            Method::Inn => "the INN predicts y as an output of the network",
            _ => "a flow models every column as data",
        };
        return Err(Error::Usage(format!(
            "--summary applies to --method cinn only: it summarises the observations y that the \
             cINN's couplings are conditioned on, and {why}, so there is no conditioning input \
             to summarise"
        )));
    }
    if args.set_size.is_some() && args.summary != Some(SummaryChoice::Deepset) {
        return Err(Error::Usage(
            "--set-size applies to --summary deepset only".into(),
        ));
    }
    if args.coupling != CouplingChoice::Spline && (args.bins.is_some() || args.bound.is_some()) {
        return Err(Error::Usage(
            "--bins and --bound configure spline couplings: add --coupling spline".into(),
        ));
    }
    if args.method == Method::Flow && args.y_noise.is_some() {
        return Err(Error::Usage(
            "--y-noise applies to --method cinn and inn only".into(),
        ));
    }
    let name_of = |cols: &[usize]| -> Vec<String> {
        cols.iter().map(|&j| table.names()[j].clone()).collect()
    };
    let x_names = name_of(&x_cols);
    let y_names = y_cols.as_deref().map(name_of).unwrap_or_default();
    if let Some(dup) = x_names.iter().find(|n| y_names.contains(n)) {
        return Err(Error::Usage(format!(
            "column `{dup}` is selected by both --x and --y"
        )));
    }

    let summary = summary_config(args, y_names.len())?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let n = table.n_rows();
    if args.val_frac > 0.0 && (args.val_frac * n as f64).round() < 1.0 {
        return Err(Error::Runtime(format!(
            "{}: {n} row(s) are too few to hold out --val-frac {} for validation (that is no \
             row; at least {} rows are needed): add rows, or pass --val-frac 0 to train without \
             held-out model selection",
            args.data.display(),
            args.val_frac,
            (0.5 / args.val_frac).ceil()
        )));
    }
    let (mut train_rows, mut val_rows) = split_rows(n, args.val_frac, &mut rng)
        .map_err(|e| Error::Runtime(format!("{}: {e}", args.data.display())))?;
    // Both parts keep the table's row order: training draws its minibatches at random, so the
    // order is immaterial, and increasing rows read the table's columns front to back (a
    // shuffled gather of a 10⁶-row table costs seconds).
    train_rows.sort_unstable();
    val_rows.sort_unstable();
    let split = Split {
        train: &train_rows,
        val: &val_rows,
    };
    check_rows(
        args,
        &split,
        table.values(),
        (&x_names, &x_cols),
        (&y_names, y_cols.as_deref()),
    )?;
    // The standardised training and held-out rows are the one copy of the table that training
    // needs; the table itself goes before training starts, so at most two copies are held.
    // The flow models x and y together; the cINN and INN condition on y.
    let (modelled, conditions) = match (args.method, y_cols) {
        (Method::Flow, y) => {
            let all: Vec<usize> = x_cols.iter().chain(y.iter().flatten()).copied().collect();
            (Standardised::new(table.values(), &all, &split), None)
        }
        (_, y) => (
            Standardised::new(table.values(), &x_cols, &split),
            y.map(|y| match pooling_period(summary.as_ref()) {
                Some(period) => Standardised::pooled(table.values(), &y, &split, period),
                None => Standardised::new(table.values(), &y, &split),
            }),
        ),
    };
    let precision = match table.values() {
        Values::F32(_) => "f32",
        Values::F64(_) => "f64",
    };
    eprintln!(
        "read {} ({} rows × {} columns, {precision}) in {read_seconds:.2} s; training starts \
         {:.2} s after launch",
        args.data.display(),
        n,
        table.n_columns(),
        started.elapsed().as_secs_f64()
    );
    drop(table);
    let prepared = Prepared::new(args, modelled, conditions, x_names, y_names, summary)?;
    let mut nets: Vec<Net> = Vec::with_capacity(members);
    let mut trainings = Vec::with_capacity(members);
    for k in 0..members {
        // Member 0 continues the split's random stream, as a single model does; member k
        // starts from seed S + k.
        let seed = args.seed.wrapping_add(k as u64);
        let mut member_rng = StdRng::seed_from_u64(seed);
        let member_rng = if k == 0 { &mut rng } else { &mut member_rng };
        if members > 1 {
            println!("member {} of {members} (seed {seed}):", k + 1);
        }
        let (net, outcome) = prepared.train_member(args, member_rng)?;
        let report = &outcome.report;
        println!(
            "trained {} on {} rows of {} ({} held out) in {:.1} s: {} steps of at most {}",
            args.method.kind(),
            train_rows.len(),
            args.data.display(),
            val_rows.len(),
            report.seconds,
            report.steps(),
            args.steps,
        );
        outcome.print(args);
        trainings.push(Training {
            data: args.data.display().to_string(),
            train_rows: train_rows.len(),
            val_rows: val_rows.len(),
            steps: report.steps(),
            max_steps: Some(args.steps as usize),
            batch: args.batch as usize,
            lr: args.lr,
            weight_decay: args.weight_decay,
            seed,
            loss_name: outcome.name.clone(),
            train_loss: outcome.train,
            val_loss: outcome.val,
            best_step: report.kept.map(|k| k.step + 1),
            stop: Some(report.stop.to_string()),
            seconds: report.seconds,
            validation_seconds: report.validation_seconds,
        });
        nets.push(net);
    }
    let (mut net, ensemble): (Net, _) = if members == 1 {
        (nets.remove(0), None)
    } else {
        let ensemble = inn::Ensemble::new(nets)?;
        let record = prepared.ensemble_record(&ensemble, trainings.clone())?;
        record.print();
        (Box::new(ensemble), Some(record))
    };
    let meta = Meta {
        method: args.method.kind().into(),
        x_names: prepared.names,
        y_names: prepared.y_names,
        x_scale: prepared.x.scale,
        y_scale: prepared.y.map(|c| c.scale),
        architecture: prepared.architecture,
        training: trainings.swap_remove(0),
        ensemble,
    };
    Model::save(&mut net, &meta, &args.out)?;
    println!("saved {}", args.out.display());
    Ok(())
}

/// What every member of a run shares: the modelled columns' names and standardisation, their
/// standardised training and held-out rows, and the architecture.
struct Prepared {
    /// Names of the modelled columns (for a flow: the x columns, then the y columns).
    names: Vec<String>,
    /// Names of the observation columns (empty for a flow).
    y_names: Vec<String>,
    /// The modelled columns, standardised.
    x: Standardised,
    /// The observations, standardised (absent for a flow).
    y: Option<Standardised>,
    /// The summary network of the cINN's observations.
    summary: Option<SummaryConfig>,
    /// The INN's latent width and total width.
    inn_dims: (usize, usize),
    /// The architecture summary of the model file.
    architecture: serde_json::Value,
}

impl Prepared {
    /// The shared part of a run of `args` on the standardised columns.
    fn new(
        args: &FitArgs,
        modelled: Standardised,
        conditions: Option<Standardised>,
        x_names: Vec<String>,
        y_names: Vec<String>,
        summary: Option<SummaryConfig>,
    ) -> Result<Prepared> {
        let hidden = &args.hidden.0;
        let act_name = activation(args).name();
        let (x_dim, y_dim) = (x_names.len(), y_names.len());
        let z_dim = args.z_dim.map_or(x_dim, |z| z as usize);
        let n_tot = match args.n_tot {
            Some(t) => t as usize,
            None => {
                let m = x_dim.max(y_dim + z_dim).max(2);
                m + m % 2
            }
        };
        let mut arch = match args.method {
            Method::Flow => json!({
                "coupling": "real_nvp", "actnorm": true, "blocks": args.blocks, "hidden": hidden,
                "activation": act_name,
                "dim": x_dim + y_dim, "x_columns": x_names, "y_columns": y_names,
            }),
            Method::Cinn => json!({
                "coupling": "glow (conditional)", "blocks": args.blocks, "hidden": hidden,
                "activation": act_name,
                "x_dim": x_dim, "y_dim": y_dim,
            }),
            Method::Inn => json!({
                "coupling": "glow", "blocks": args.blocks, "hidden": hidden,
                "activation": act_name,
                "x_dim": x_dim, "y_dim": y_dim, "z_dim": z_dim, "n_tot": n_tot,
            }),
        };
        // The architecture summary names the coupling; with splines, their bins and bound too.
        if args.coupling == CouplingChoice::Spline {
            let stack = sized(args, StackConfig::default());
            arch["coupling"] = json!("spline");
            arch["bins"] = json!(stack.bins);
            arch["bound"] = json!(stack.bound);
        }
        if let Some(s) = &summary {
            arch["summary"] = json!(s.kind_name());
            arch["summary_dim"] = json!(s.out_dim);
            if let SummaryKind::DeepSet { set_size, .. } = s.kind {
                arch["set_size"] = json!(set_size);
            }
        }
        let (names, y_names, y) = match (args.method, conditions) {
            // The density is over x and y together when both are given.
            (Method::Flow, _) => (
                x_names.into_iter().chain(y_names).collect(),
                Vec::new(),
                None,
            ),
            (_, Some(c)) => (x_names, y_names, Some(c)),
            (_, None) => return Err(Error::Usage("--y is required for cinn and inn".into())),
        };
        Ok(Prepared {
            names,
            y_names,
            x: modelled,
            y,
            summary,
            inn_dims: (z_dim, n_tot),
            architecture: arch,
        })
    }

    /// Builds one model from `rng` and trains it with model selection on the held-out rows.
    fn train_member(&self, args: &FitArgs, rng: &mut StdRng) -> Result<(Net, FitSummary)> {
        let Standardised {
            scale: x_scale,
            train: x_train,
            val: x_val,
        } = &self.x;
        let dim = self.names.len();
        let Some(Standardised {
            scale: y_scale,
            train: y_train,
            val: y_val,
        }) = &self.y
        else {
            let stack = StackConfig {
                dim,
                actnorm: true,
                subnet: SubnetConfig {
                    zero_last: true,
                    ..SubnetConfig::default()
                },
                ..StackConfig::default()
            };
            let mut flow = Flow::<f32>::coupling_stack(&sized(args, stack), rng)?;
            warn_if_oversized(flow.params().n_scalars(), x_train.nrows(), dim);
            let config = MleConfig {
                optim: optim(args, OptimConfig::default()),
                batch_size: args.batch as usize,
                data_init: true,
            };
            let report = MaximumLikelihood::new(config).fit_with_validation(
                &mut flow,
                x_train,
                x_val.as_ref(),
                rng,
                None,
            )?;
            // Negative mean log-density in data units: the standardisation adds Σ ln std.
            let outcome = FitSummary::nll(&report, x_scale.log_det(), dim, x_val, || {
                Ok(mean_nll(&flow, x_train)?)
            })?;
            return Ok((Box::new(flow), outcome));
        };
        let val = x_val.as_ref().zip(y_val.as_ref());
        let (x_dim, y_dim) = (dim, self.y_names.len());
        if args.method == Method::Cinn {
            let defaults = CinnConfig::default();
            let config = CinnConfig {
                stack: sized(args, defaults.stack),
                batch_size: args.batch as usize,
                y_noise: args.y_noise.unwrap_or(defaults.y_noise),
                optim: optim(args, defaults.optim),
                summary: self.summary.clone(),
            };
            let mut model = ConditionalInn::<f32>::new(config, x_dim, y_dim, rng)?;
            warn_if_oversized(model.params().n_scalars(), x_train.nrows(), x_dim + y_dim);
            let report = model.fit_with_validation(x_train, y_train, val, rng)?;
            let outcome = FitSummary::nll(&report, x_scale.log_det(), x_dim, x_val, || {
                let lp = model.log_prob(x_train, y_train)?;
                Ok(-mean_f64(&lp))
            })?;
            return Ok((Box::new(model), outcome));
        }
        let (z_dim, n_tot) = self.inn_dims;
        let defaults = InnConfig::default();
        let config = InnConfig {
            stack: sized(args, defaults.stack.clone()),
            n_tot,
            batch_size: args.batch as usize,
            y_noise: args.y_noise.unwrap_or(defaults.y_noise),
            optim: optim(args, defaults.optim.clone()),
            ..defaults
        };
        let mut model = Inn::<f32>::new(config, x_dim, y_dim, z_dim, rng)?;
        warn_if_oversized(model.params().n_scalars(), x_train.nrows(), x_dim + y_dim);
        let report = model.fit_with_validation(x_train, y_train, val, rng)?;
        // Forward RMSE of y in data units, averaged over the y columns.
        let rmse = |x: &DMatrix<f32>, y: &DMatrix<f32>| -> Result<f64> {
            let pred = model.predict_y(x)?;
            Ok(rmse_data_units(&pred, y, y_scale))
        };
        let forward = (
            rmse(x_train, y_train)?,
            val.map(|(x, y)| rmse(x, y)).transpose()?,
        );
        Ok((Box::new(model), FitSummary::inn(&report, forward)))
    }

    /// The ensemble's and each member's score on the held-out rows, with the same code for
    /// both: held-out NLL (nats/row, data units) for models with a density, forward RMSE of
    /// y (data units) for the INN, whose ensemble predicts the members' mean.
    fn ensemble_record(
        &self,
        ensemble: &inn::Ensemble<f32>,
        members: Vec<Training>,
    ) -> Result<EnsembleRecord> {
        let mut record = EnsembleRecord {
            members,
            metric: None,
            member_scores: Vec::new(),
            score: None,
        };
        let Some(x_val) = &self.x.val else {
            return Ok(record);
        };
        let y = self.y.as_ref();
        let y_val = y.and_then(|c| c.val.as_ref());
        let log_det = self.x.scale.log_det();
        // The score of one model and its name.
        let score = |model: &dyn inn::Model<f32>| -> Result<Option<(f64, &'static str)>> {
            if let Some(lp) = model.log_density(x_val, y_val) {
                let nll = log_det - mean_f64(&lp?);
                return Ok(Some((nll, "held-out NLL (nats/row, data units)")));
            }
            match (model.predict_y(x_val), y_val, y) {
                (Some(pred), Some(y_val), Some(y)) => Ok(Some((
                    rmse_data_units(&pred?, y_val, &y.scale),
                    "held-out forward y RMSE (data units; the ensemble predicts the members' mean)",
                ))),
                _ => Ok(None),
            }
        };
        for m in ensemble.members() {
            record
                .member_scores
                .extend(score(m.as_ref())?.map(|(v, _)| v));
        }
        if let Some((v, name)) = score(ensemble)? {
            record.score = Some(v);
            record.metric = Some(name.into());
        }
        Ok(record)
    }
}

/// The subnet activation of `--activation`, by default tanh for a flow and ReLU otherwise.
fn activation(args: &FitArgs) -> SubnetActivation {
    args.activation.unwrap_or(match args.method {
        Method::Flow => SubnetActivation::Tanh,
        Method::Cinn | Method::Inn => SubnetActivation::Relu,
    })
}

/// The command line's architecture options on a model's default coupling stack.
fn sized(args: &FitArgs, base: StackConfig) -> StackConfig {
    let mut stack = base.with_widths(args.blocks as usize, &args.hidden.0);
    stack.subnet.activation = activation(args).activation();
    if args.coupling == CouplingChoice::Spline {
        stack.coupling = CouplingKind::Spline;
        stack.bins = args.bins.map_or(stack.bins, |k| k as usize);
        stack.bound = args.bound.unwrap_or(stack.bound);
    }
    stack
}

/// The command line's training options on a model's default optimiser settings.
fn optim(args: &FitArgs, base: OptimConfig) -> OptimConfig {
    OptimConfig {
        steps: args.steps as usize,
        adam: AdamConfig {
            lr: args.lr,
            weight_decay: args.weight_decay.unwrap_or(base.adam.weight_decay),
            decoupled: args.weight_decay.is_some() || base.adam.decoupled,
            ..base.adam
        },
        validate_every: args.validate_every,
        patience: (args.patience > 0).then_some(args.patience as usize),
        plateau: (args.decay_patience > 0).then_some(Plateau {
            patience: args.decay_patience as usize,
            ..Plateau::default()
        }),
        keep_best: true,
        progress: true,
        ..base
    }
}

/// The training and held-out row indices of the table, each increasing.
struct Split<'a> {
    train: &'a [usize],
    val: &'a [usize],
}

/// Columns of the table standardised with their training rows' mean and spread: the training
/// rows and the held-out ones (`None` when nothing is held out), in f32.
struct Standardised {
    scale: Scaler,
    train: DMatrix<f32>,
    val: Option<DMatrix<f32>>,
}

impl Standardised {
    /// The columns `columns` of `values`, split by `split`.
    fn new(values: &Values, columns: &[usize], split: &Split<'_>) -> Standardised {
        Self::with_scale(
            values,
            columns,
            split,
            Scaler::fit_rows(values, columns, split.train),
        )
    }

    /// As [`Standardised::new`], with the columns `j, j + period, …` sharing one scale
    /// ([`Scaler::fit_rows_pooled`]).
    fn pooled(
        values: &Values,
        columns: &[usize],
        split: &Split<'_>,
        period: usize,
    ) -> Standardised {
        let scale = Scaler::fit_rows_pooled(values, columns, split.train, period);
        Self::with_scale(values, columns, split, scale)
    }

    fn with_scale(
        values: &Values,
        columns: &[usize],
        split: &Split<'_>,
        scale: Scaler,
    ) -> Standardised {
        let train = scale.apply_rows(values, columns, split.train);
        let val = (!split.val.is_empty()).then(|| scale.apply_rows(values, columns, split.val));
        Standardised { scale, train, val }
    }
}

/// The summary network of `--summary` for `y_dim` observation columns (`None` without it).
/// `mlp` and `deepset` take the library's defaults; `conv1d` keeps as many of its three
/// default convolutions as a signal of `y_dim` positions leaves positions for.
///
/// # Errors
/// Sizes that do not fit the y columns (exit code 1).
fn summary_config(args: &FitArgs, y_dim: usize) -> Result<Option<SummaryConfig>> {
    let Some(choice) = args.summary else {
        return Ok(None);
    };
    let mut config = match choice {
        SummaryChoice::Mlp => SummaryConfig::mlp(),
        SummaryChoice::Deepset => {
            let set_size = args.set_size.map_or(y_dim, |s| s as usize);
            if !y_dim.is_multiple_of(set_size) {
                return Err(Error::Runtime(format!(
                    "--summary deepset --set-size {set_size}: the {y_dim} y column(s) do not \
                     divide into {set_size} elements of equal width (a set of N elements of \
                     width d needs N·d columns, element 1's first)"
                )));
            }
            SummaryConfig::deep_set(set_size, y_dim / set_size)
        }
        SummaryChoice::Conv1d => {
            // The library's default, with fewer convolutions (then a narrower kernel) when
            // the signal is too short for all three.
            let full = SummaryConfig::conv1d(y_dim);
            let fits = [7, 5, 3].into_iter().find_map(|width| {
                (1..=3).rev().find_map(|layers| {
                    let mut c = full.clone();
                    if let SummaryKind::Conv1d {
                        channels, kernel, ..
                    } = &mut c.kind
                    {
                        channels.truncate(layers);
                        *kernel = width;
                    }
                    c.validate(y_dim).is_ok().then_some(c)
                })
            });
            fits.ok_or_else(|| {
                Error::Runtime(format!(
                    "--summary conv1d: the {y_dim} y column(s) are too few positions for a \
                     convolution of width 3; use --summary mlp"
                ))
            })?
        }
    };
    if let Some(k) = args.summary_dim {
        config.out_dim = k as usize;
    }
    config
        .validate(y_dim)
        .map_err(|e| Error::Runtime(format!("--summary: {e}")))?;
    Ok(Some(config))
}

/// The columns of y that share a standardisation under `summary`: those of one element
/// column of a set (period: the element width), every bin of a signal (period 1); `None`
/// (each column its own) for a dense summary or none.
fn pooling_period(summary: Option<&SummaryConfig>) -> Option<usize> {
    match summary?.kind {
        SummaryKind::Mlp { .. } => None,
        SummaryKind::DeepSet { elem_dim, .. } => Some(elem_dim),
        SummaryKind::Conv1d { in_channels, .. } => Some(in_channels),
    }
}

/// What `inn fit` reports and records about a training run.
struct FitSummary {
    report: TrainReport,
    /// The name of the recorded metric.
    name: String,
    /// The metric on training rows with the saved parameters.
    train: f64,
    /// The metric on the held-out rows with the saved parameters.
    val: Option<f64>,
    /// NLL models: the modelled width (for the gap warning) and the held-out NLL of a
    /// diagonal Gaussian fitted to the training rows.
    nll: Option<(usize, Option<f64>)>,
    /// INN: the forward RMSE of y (train, held out) and the objective's last values.
    forward: Option<(f64, Option<f64>)>,
}

impl FitSummary {
    /// A likelihood-trained model: the report's kept scores (standardised units) shifted by the
    /// standardisation's `log_det` into data units; without validation, `train_nll()` with the
    /// final parameters.
    fn nll(
        report: &TrainReport,
        log_det: f64,
        dim: usize,
        val_rows: &Option<DMatrix<f32>>,
        train_nll: impl FnOnce() -> Result<f64>,
    ) -> Result<FitSummary> {
        let (train, val) = match report.kept {
            Some(k) => (k.train, Some(k.validation)),
            None => (train_nll()?, None),
        };
        let baseline = val_rows
            .as_ref()
            .map(|v| diagonal_gaussian_nll(v) + log_det);
        Ok(FitSummary {
            report: report.clone(),
            name: "NLL (nats/row, data units)".into(),
            train: train + log_det,
            val: val.map(|v| v + log_det),
            nll: Some((dim, baseline)),
            forward: None,
        })
    }

    /// The bidirectional INN: the joint MMD² of posterior draws, and the forward RMSE.
    fn inn(report: &TrainReport, forward: (f64, Option<f64>)) -> FitSummary {
        let (train, val) = match report.kept {
            Some(k) => (k.train, Some(k.validation)),
            None => (report.final_loss(50), None),
        };
        FitSummary {
            report: report.clone(),
            name: if report.kept.is_some() {
                "joint MMD² of posterior draws (standardised units)".into()
            } else {
                "training objective (mean of the last 50 steps)".into()
            },
            train,
            val,
            nll: None,
            forward: Some(forward),
        }
    }

    /// The fit summary: why training stopped, the saved step and its scores, the validation
    /// cost, the baseline, and warnings where the model generalises badly.
    fn print(&self, args: &FitArgs) {
        let r = &self.report;
        let stop = match r.stop {
            StopReason::StepCap => format!("it reached the step cap (--steps {})", args.steps),
            StopReason::Patience => format!(
                "no validation improvement in {} validations (--patience)",
                args.patience
            ),
            StopReason::Diverged { step, loss } => format!(
                "the loss diverged at step {} (loss {loss}); the best validated parameters are saved",
                step + 1
            ),
        };
        println!("stopped: {stop}");
        if !r.lr_decays.is_empty() {
            let steps: Vec<String> = r.lr_decays.iter().map(|s| (s + 1).to_string()).collect();
            println!(
                "learning rate divided by 5 after steps {} (validation plateaus, --decay-patience)",
                steps.join(", ")
            );
        }
        match (r.validate_every, r.kept) {
            (Some(every), Some(k)) => {
                let share = 100.0 * r.validation_seconds / r.seconds.max(f64::MIN_POSITIVE);
                println!(
                    "validation: every {every} steps{}, {} times, {share:.1}% of the training time",
                    if matches!(args.validate_every, inn::train::ValidateEvery::Epoch) {
                        " (once per epoch)"
                    } else {
                        ""
                    },
                    r.val_losses.len()
                );
                println!(
                    "saved the parameters of step {} (best validation): {}: train {:.4}, validation {:.4}",
                    k.step + 1,
                    self.name,
                    self.train,
                    self.val.unwrap_or(f64::NAN)
                );
            }
            _ => {
                println!(
                    "no rows held out (--val-frac 0): no model selection, the last parameters are saved"
                );
                println!("final {}: train {:.4}", self.name, self.train);
            }
        }
        if let Some((train, val)) = self.forward {
            match val {
                Some(v) => {
                    println!("forward y RMSE (data units): train {train:.4}, validation {v:.4}")
                }
                None => println!("forward y RMSE (data units): train {train:.4}"),
            }
        }
        if let (Some((dim, baseline)), Some(val)) = (self.nll, self.val) {
            if let Some(b) = baseline {
                println!(
                    "baseline: a diagonal Gaussian fitted to the training rows scores {b:.4} on the held-out rows"
                );
                if val > b {
                    eprintln!(
                        "warning: the model's held-out NLL ({val:.4}) is worse than the diagonal \
                         Gaussian's ({b:.4}): it has not learnt the density; try a smaller network \
                         (--hidden, --blocks), a lower --lr, or more rows"
                    );
                }
            }
            let gap = val - self.train;
            if gap > GAP_PER_COLUMN_WARNING * dim as f64 {
                eprintln!(
                    "warning: at the saved step the held-out NLL is {gap:.3} nats/row worse than \
                     the training NLL: the model fits its training rows better than new ones. \
                     Try more simulations (rows), a smaller network (--hidden, --blocks), or \
                     --weight-decay (e.g. 1e-4)"
                );
            }
        }
    }
}

/// Warns when the network has many parameters per number of the training table.
fn warn_if_oversized(n_params: usize, rows: usize, cols: usize) {
    let per_value = n_params as f64 / (rows * cols).max(1) as f64;
    if per_value > PARAMS_PER_VALUE_WARNING {
        eprintln!(
            "warning: the network has {n_params} parameters for {rows} training rows × {cols} \
             columns ({per_value:.1} per value): it can memorise its training rows. The held-out \
             rows will stop training early and pick the saved model; a smaller network (--hidden, \
             --blocks), --weight-decay or more rows will generalise better"
        );
    }
}

/// The fewest training rows `inn fit` accepts: the standardisation needs a spread, and a
/// model of one or two rows is a memorised point, not a density.
const MIN_TRAIN_ROWS: usize = 3;

/// Refuses tables no model can be meaningfully fitted to, and warns about legitimate but
/// surprising ones: too few training rows, a modelled column that is constant on the training
/// rows (its density is a point mass, so the NLL has no minimum), a constant observation column
/// (it carries no information), fewer training rows than a minibatch, training without held-out
/// rows.
fn check_rows(
    args: &FitArgs,
    split: &Split<'_>,
    values: &Values,
    x: (&[String], &[usize]),
    y: (&[String], Option<&[usize]>),
) -> Result {
    let data = args.data.display();
    let n_train = split.train.len();
    if n_train < MIN_TRAIN_ROWS {
        return Err(Error::Runtime(format!(
            "{data}: {n_train} training row(s) ({} in the table, {} held out): fitting a model \
             needs at least {MIN_TRAIN_ROWS}, and a useful one many more",
            n_train + split.val.len(),
            split.val.len()
        )));
    }
    // A column is constant when every training row holds the same value.
    let constant = |columns: &[usize]| -> Vec<(usize, f64)> {
        columns
            .iter()
            .enumerate()
            .filter_map(|(k, &j)| Some((k, values.constant_over(j, split.train)?)))
            .collect()
    };
    // The flow models the y columns too; the cINN and INN condition on them.
    let mut modelled = vec![(x.0, x.1)];
    if args.method == Method::Flow {
        modelled.extend(y.1.map(|m| (y.0, m)));
    } else if let Some(m) = y.1 {
        for (j, v) in constant(m) {
            eprintln!(
                "warning: observation column `{}` is constant ({v}) on the {n_train} training \
                 rows: it carries no information about x",
                y.0[j]
            );
        }
    }
    for (names, m) in modelled {
        if let Some(&(j, v)) = constant(m).first() {
            return Err(Error::Runtime(format!(
                "{data}: column `{}` is constant ({v}) on the {n_train} training rows: its \
                 density is a point mass, which no invertible network can fit (the NLL falls \
                 without bound). Drop it from the modelled columns and add it back as a constant",
                names[j]
            )));
        }
    }
    if (args.batch as usize) > n_train {
        eprintln!(
            "warning: --batch {} is more than the {n_train} training rows: every step uses all \
             of them (full-batch training)",
            args.batch
        );
    }
    if split.val.is_empty() {
        eprintln!(
            "warning: --val-frac 0 holds out no rows: training runs to --steps {} and saves the \
             last parameters, with no held-out model selection or early stopping",
            args.steps
        );
    }
    Ok(())
}

/// Mean NLL (nats/row) of standardised rows under N(0, I): the diagonal Gaussian fitted (by
/// maximum likelihood) to the training rows the standardisation came from.
fn diagonal_gaussian_nll(rows: &DMatrix<f32>) -> f64 {
    let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let sq: f64 = rows.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    rows.ncols() as f64 * half_ln_2pi + 0.5 * sq / rows.nrows().max(1) as f64
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
