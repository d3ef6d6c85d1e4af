//! The command line: subcommands and their options (clap derive), with `--help` examples.

use clap::{Args, Parser, Subcommand, ValueEnum};
use inn::autodiff::nn::Activation;
use inn::train::ValidateEvery;
use std::path::PathBuf;

/// Invertible neural networks for inverse problems, from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "inn",
    version,
    about = "Fit invertible networks to simulation runs and sample posteriors p(x | y)",
    after_help = "Example (simulation runs with parameters x1,x2 and an observable y):\n  \
        inn fit --data runs.csv --x x1,x2 --y y --out model.inn\n  \
        inn sample --model model.inn --y 0.8 -n 1000 --out post.csv\n  \
        inn eval --model model.inn --data test.csv\n  \
        inn info --model model.inn\n  \
        inn check --model model.inn --data test.csv --out report/\n  \
        inn plot --model model.inn --y 0.8 --out corner.png\n\n\
        Exit codes: 0 success, 1 runtime failure (bad data or model file), 2 usage error."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model on a CSV, TSV, .npy, .npz or Parquet table and save it.
    // Boxed: its many options would make every other variant as large.
    Fit(Box<FitArgs>),
    /// Draw posterior samples of x for observations y (or samples of a flow's density).
    Sample(SampleArgs),
    /// Score a model on held-out data.
    Eval(EvalArgs),
    /// Describe a saved model: architecture, widths, columns, training, format version.
    Info(InfoArgs),
    /// Check the calibration of a posterior model on held-out simulations: SBC, coverage,
    /// recovery, contraction; writes figures, report.html and summary.json.
    Check(CheckArgs),
    /// Draw the posterior of one observation as a corner plot (PNG, or SVG for .svg).
    Plot(PlotArgs),
}

/// Which model `inn fit` trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Conditional INN: a flow over x conditioned on y, trained by maximum likelihood of
    /// p(x | y); samples the posterior directly.
    Cinn,
    /// The bidirectional INN of Ardizzone et al. 2018: x -> [y, z], trained with MSE on y and
    /// MMD on z and x; predicts y from x and samples x from [y, z].
    Inn,
    /// A normalizing flow fitted to the density of all given columns (--x, and --y if given,
    /// modelled together).
    Flow,
}

impl Method {
    /// The model-file kind of the method.
    pub fn kind(self) -> &'static str {
        match self {
            Method::Cinn => "cinn",
            Method::Inn => "inn",
            Method::Flow => "flow",
        }
    }
}

/// Options of `inn fit`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    inn fit --data runs.csv --x x1,x2 --y y --out model.inn\n  \
    inn fit --data runs.npy --x 0..3 --y 3,4 --method inn --steps 4000 --out model.inn\n  \
    inn fit --data runs.parquet --x x1,x2 --y y --out model.safetensors\n  \
    inn fit --data samples.csv --x 0..2 --method flow --out density.inn\n\n\
    Model selection: --val-frac of the rows (default 10%) are held out; their loss is checked once\n\
    per epoch, training stops after --patience checks without improvement, and the model with the\n\
    best held-out loss is saved. --steps is only a cap.\n\
    Columns are selected by header name or 0-based index: `a,b`, `0..3,5` (0..3 is 0,1,2), `4..`.\n\
    Every column is standardised (mean 0, std 1, from the training rows) before training; the\n\
    means and standard deviations are saved in the model and undone on output.\n\
    Tables by extension: .csv/.tsv (header optional), .npy (2-D, rows are samples; columns\n\
    0..d), .npz (a 1-D array is one column named like it, a 2-D array `a` the columns a_0..),\n\
    .parquet (numeric columns by name; nulls are refused).\n\
    Model files: safetensors (tensors + a JSON metadata header), or JSON when --out ends in .json.")]
pub struct FitArgs {
    /// The training table: .csv (header optional), .tsv, .npy (2-D, rows are samples), .npz
    /// (named arrays) or .parquet (numeric columns).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Columns of the unknowns x (names or 0-based indices/ranges, comma-separated).
    #[arg(long, value_name = "COLS")]
    pub x: String,
    /// Columns of the observations y (required for cinn and inn; for flow, modelled jointly
    /// with x).
    #[arg(long, value_name = "COLS")]
    pub y: Option<String>,
    /// The model to train.
    #[arg(long, value_enum, default_value_t = Method::Cinn)]
    pub method: Method,
    /// The coupling block of the stack: `affine` (the method's affine coupling: RealNVP for
    /// flow, GLOW-style for cinn and inn; the default) or `spline` (rational-quadratic spline
    /// couplings of Durkan et al. 2019, more flexible per block; see --bins and --bound).
    #[arg(long, value_enum, default_value_t = CouplingChoice::Affine, value_name = "KIND")]
    pub coupling: CouplingChoice,
    /// With --coupling spline: bins K of every spline (default 8).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub bins: Option<u64>,
    /// With --coupling spline: the splines cover [-B, B] in standardised units and are the
    /// identity outside (default 3).
    #[arg(long, value_name = "B", value_parser = parse_positive)]
    pub bound: Option<f64>,
    /// Number of coupling blocks.
    #[arg(long, default_value_t = 6, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub blocks: u64,
    /// Hidden layer widths of every coupling subnet, comma-separated (`64` is one layer).
    #[arg(long, default_value = "128,128", value_name = "H", value_parser = parse_widths)]
    pub hidden: Widths,
    /// Activation between the hidden layers of every coupling subnet. Default: tanh for flow,
    /// relu for cinn and inn. tanh keeps every coupling's scale and shift bounded for rows far
    /// outside the training rows, so a rare extreme value in a table costs tens of nats, not
    /// thousands; relu learns sharply multimodal and curved posteriors faster.
    #[arg(long, value_enum, value_name = "A")]
    pub activation: Option<SubnetActivation>,
    /// The most optimiser steps. Training usually ends earlier: when the validation loss has
    /// not improved for --patience validations, keeping the best validated model.
    #[arg(long, default_value_t = 20_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,
    /// Minibatch size.
    #[arg(long, default_value_t = 256, value_name = "B", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3, value_name = "L", value_parser = parse_positive)]
    pub lr: f64,
    /// Seed of the split, the initial weights and the minibatches.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Train an ensemble of M models on the same split and standardisation, member k with
    /// seed S + k (member 0 is the model `--seed S` alone trains), one after another (each
    /// step already uses every core), into one model file: sampling draws from the uniform
    /// mixture of the members, log-densities are the log of the mean member density.
    /// M = 1 is a single model; costs M× the training.
    #[arg(long, value_name = "M")]
    pub ensemble: Option<u32>,
    /// Fraction of the rows held out for validation, in [0, 1). The held-out loss picks the
    /// model that is saved; 0 trains on every row, to --steps, without model selection.
    #[arg(long, default_value_t = 0.1, value_name = "F", value_parser = parse_fraction)]
    pub val_frac: f64,
    /// Validate every N steps, or `epoch`: once per pass over the training rows.
    #[arg(long, default_value = "epoch", value_name = "N|epoch", value_parser = parse_cadence)]
    pub validate_every: ValidateEvery,
    /// Stop after this many validations without improvement (0: never stop early).
    #[arg(long, default_value_t = 20, value_name = "P")]
    pub patience: u64,
    /// Divide the learning rate by 5 (restarting from the best parameters) after every this
    /// many validations without improvement (0: never).
    #[arg(long, default_value_t = 7, value_name = "P")]
    pub decay_patience: u64,
    /// Decoupled weight decay (AdamW): every step multiplies the weights by 1 − lr·W. Default:
    /// none for flow; for cinn and inn the INN paper's L2 penalty 2e-5 unless this is given.
    #[arg(long, value_name = "W", value_parser = parse_non_negative)]
    pub weight_decay: Option<f64>,
    /// cinn and inn: standard deviation of Gaussian noise added to the standardised y
    /// during training (a regulariser that widens the posterior by that much noise on the
    /// observation). Default: 0 for cinn, 0.1 for inn (the paper's).
    #[arg(long, value_name = "S", value_parser = parse_non_negative)]
    pub y_noise: Option<f64>,
    /// inn only: width of the latent z (default: the width of x).
    #[arg(long, value_name = "D", value_parser = clap::value_parser!(u64).range(1..))]
    pub z_dim: Option<u64>,
    /// inn only: total network width, at least max(width of x, width of y + z_dim) (default:
    /// that maximum, rounded up to an even number).
    #[arg(long, value_name = "D", value_parser = clap::value_parser!(u64).range(2..))]
    pub n_tot: Option<u64>,
    /// cinn only: a summary network h(y), trained with the flow, whose output every coupling
    /// reads instead of the raw y: `mlp` (a dense network, any y), `deepset` (y is a set of
    /// exchangeable draws, see --set-size; the posterior ignores their order) or `conv1d` (y is
    /// a signal, a spectrum or a time series, in column order). With deepset and conv1d the y
    /// columns share one standardisation (per element column for a set).
    #[arg(long, value_enum, value_name = "KIND")]
    pub summary: Option<SummaryChoice>,
    /// With --summary: width of the summary h(y), the condition every coupling reads
    /// (default 16; 64 for conv1d).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub summary_dim: Option<u64>,
    /// With --summary deepset: the number of set elements in a row of y; the y columns hold
    /// element 1's columns, then element 2's, and so on, so their count must be a multiple of
    /// N (default: every y column is one scalar element).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub set_size: Option<u64>,
    /// Where to write the model: a safetensors file (`model.inn`, `model.safetensors`), or a
    /// JSON file when the name ends in `.json`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// The coupling blocks `inn fit --coupling` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CouplingChoice {
    /// The method's affine coupling (RealNVP for flow, GLOW-style for cinn and inn).
    Affine,
    /// Rational-quadratic spline coupling.
    Spline,
}

/// The summary networks `inn fit --summary` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SummaryChoice {
    /// A dense network (hidden widths 128, 128).
    Mlp,
    /// A deep set: ρ(mean over the elements of φ(element)), invariant to their order.
    #[value(name = "deepset", alias = "deep-set", alias = "deep_set")]
    Deepset,
    /// Strided 1-D convolutions (16, 32, 32 channels, kernel 5, stride 2), average pooling.
    #[value(name = "conv1d")]
    Conv1d,
}

/// The activations `inn fit --activation` offers for coupling subnets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SubnetActivation {
    /// tanh: bounded.
    Tanh,
    /// ReLU: unbounded (piecewise linear).
    Relu,
    /// ELU with α = 1.
    Elu,
}

impl SubnetActivation {
    /// The activation of the `autodiff` layers.
    pub fn activation(self) -> Activation {
        match self {
            SubnetActivation::Tanh => Activation::Tanh,
            SubnetActivation::Relu => Activation::Relu,
            SubnetActivation::Elu => Activation::Elu(1.0),
        }
    }

    /// The name on the command line (and in `inn info`).
    pub fn name(self) -> &'static str {
        match self {
            SubnetActivation::Tanh => "tanh",
            SubnetActivation::Relu => "relu",
            SubnetActivation::Elu => "elu",
        }
    }
}

/// Options of `inn sample`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    inn sample --model model.inn --y 0.8 -n 1000                 # CSV on stdout\n  \
    inn sample --model model.inn --y 0.3,1.2 --y 0.5,1.0 -n 500 --out post.csv\n  \
    inn sample --model model.inn --y-file obs.csv -n 1000 --out post.csv\n  \
    inn sample --model model.inn --y-file obs.parquet -n 1000 --out post.parquet\n  \
    inn sample --model density.inn -n 1000                       # a flow: draws from its density\n\n\
    Output: CSV with an `obs` column (0-based index of the observation) and then the x columns,\n\
    in data units; --out picks the type by extension: .csv, .npy (one 2-D float32 array, no\n\
    names), .npz (one float32 array per column, named like it) or .parquet (Float32 columns). A flow model writes its columns only. --y values are in data units, in the\n\
    order of the model's y columns (see `inn info`). An --y-file whose header names the model's\n\
    y columns is read by name; otherwise it must have exactly as many columns as y.")]
pub struct SampleArgs {
    /// A model written by `inn fit`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// One observation, comma-separated values of the y columns (repeat for several).
    #[arg(
        long,
        value_name = "VALUES",
        conflicts_with = "y_file",
        allow_hyphen_values = true
    )]
    pub y: Vec<String>,
    /// A table of observations, one per row (.csv, .tsv, .npy, .npz or .parquet).
    #[arg(long, value_name = "FILE")]
    pub y_file: Option<PathBuf>,
    /// Samples per observation (or in all, for a flow).
    #[arg(short = 'n', long = "num-samples", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub n: u64,
    /// Seed of the latent draws.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Write the samples here instead of stdout (.csv, .npy, .npz or .parquet).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Options of `inn eval`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    inn eval --model model.inn --data test.csv\n\n\
    Reports, as they apply to the model: mean log-density (flow; log p(x | y) for cinn) in data\n\
    units; the forward-prediction RMSE of y (inn); the calibration error of the posterior\n\
    quantiles; and, where several test rows share exactly the same y, the MMD between posterior\n\
    samples and those rows' x (next to the MMD of all test x against them, a prior baseline).")]
pub struct EvalArgs {
    /// A model written by `inn fit`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The held-out table (.csv, .tsv, .npy, .npz or .parquet), with the model's column names
    /// (see `inn info`).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Posterior samples per observation for the calibration and MMD metrics.
    #[arg(long, default_value_t = 500, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub samples: u64,
    /// At most this many test rows enter the calibration error.
    #[arg(long, default_value_t = 200, value_name = "M", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_obs: u64,
    /// Seed of the posterior draws.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
}

/// Options of `inn info`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  inn info --model model.inn")]
pub struct InfoArgs {
    /// A model file.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
}

/// Options of `inn check`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    inn check --model model.inn --data test.csv --out report/ -n 1000 --max-obs 200\n\n\
    The test table holds held-out simulations (x, y) with the model's column names (see `inn info`),\n\
    x drawn from the same prior as the training runs. For each of --max-obs rows, -n posterior\n\
    draws are made for its y and compared with its x: simulation-based calibration (ranks and\n\
    their ECDF with a simultaneous 95% band), coverage of central and highest-density credible\n\
    regions, recovery (posterior mean vs truth, R^2), contraction and z-scores, and a verdict per\n\
    parameter (calibrated / overconfident / underconfident / biased).\n\
    Writes to --out: sbc_ecdf, coverage, recovery and contraction_z as .png and .svg,\n\
    report.html (one self-contained page) and summary.json (every number).\n\
    Exit code 0 whatever the verdict; 1 for bad input.")]
pub struct CheckArgs {
    /// A posterior model (cinn or inn) written by `inn fit`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Held-out simulations with the model's x and y columns.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// The report folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Posterior draws per observation (at least 2).
    #[arg(short = 'n', long = "num-samples", default_value_t = 1000, value_name = "L", value_parser = clap::value_parser!(u64).range(2..))]
    pub n: u64,
    /// At most this many test rows are checked (a seeded random subset of larger tables).
    #[arg(long, default_value_t = 200, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_obs: u64,
    /// Seed of the subset, the draws and the band simulation.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
}

/// Options of `inn plot`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    inn plot --model model.inn --y 0.8 --out corner.png\n  \
    inn plot --model model.inn --y 0.3,1.2 --truth 0.5,-0.1 -n 20000 --out corner.svg\n\n\
    Histograms of each x on the diagonal, 2-D histograms of each pair below it; --truth marks the\n\
    true x in red. Values in data units, in the order of the model's columns (see `inn info`).")]
pub struct PlotArgs {
    /// A posterior model (cinn or inn) written by `inn fit`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The observation: comma-separated values of the y columns.
    #[arg(long, value_name = "VALUES", allow_hyphen_values = true)]
    pub y: String,
    /// The true x, comma-separated, to mark.
    #[arg(long, value_name = "VALUES", allow_hyphen_values = true)]
    pub truth: Option<String>,
    /// Posterior draws.
    #[arg(short = 'n', long = "num-samples", default_value_t = 5000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub n: u64,
    /// Histogram bins per axis.
    #[arg(long, default_value_t = 40, value_name = "B", value_parser = clap::value_parser!(u64).range(2..=500))]
    pub bins: u64,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// The picture: .png, or .svg for SVG.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Hidden layer widths, parsed from `64` or `128,128`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Widths(pub Vec<usize>);

fn parse_widths(text: &str) -> Result<Widths, String> {
    let widths = text
        .split(',')
        .map(|w| match w.trim().parse::<usize>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(format!("`{}` is not a positive integer width", w.trim())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Widths(widths))
}

fn parse_positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

fn parse_non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("`{text}` is not a non-negative number")),
    }
}

fn parse_cadence(text: &str) -> Result<ValidateEvery, String> {
    if text == "epoch" {
        return Ok(ValidateEvery::Epoch);
    }
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(ValidateEvery::Steps(n)),
        _ => Err(format!(
            "`{text}` is neither `epoch` nor a positive number of steps"
        )),
    }
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{text}` is not a fraction in [0, 1)")),
    }
}
