//! `cargo xtask quality`: the generalisation suite. Problems whose exact posterior or density
//! is known are simulated at 10³, 10⁴ and 10⁵ rows, fitted by the `inn` command line with its
//! defaults (the binary a user runs, built in release mode), and scored on rows no model saw:
//! the held-out NLL against the exact one on the same rows, and a classifier two-sample test
//! (C2ST, 5-fold accuracy; 0.5 = indistinguishable) of the model's samples against exact ones.
//!
//! `--baseline PATH` runs a second `inn` binary (an older build) on the same tables with its own
//! defaults, for before/after tables.

use inn::Flow;
use inn::autodiff::nalgebra::DMatrix;
use inn::data::LabelMap;
use inn::data::toy::{LinearGaussian, MixtureDensity, eight_modes, pixel_images};
use inn::eval::{C2stConfig, c2st};
use inn::train::ConditionalInn;
use inn_cli::save_csv;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::figures::Result;

/// Options of `cargo xtask quality`.
pub struct Options {
    /// Training-table sizes (rows before the validation split).
    pub rows: Vec<usize>,
    /// Only these problems (empty: all).
    pub only: Vec<String>,
    /// An older `inn` binary to run on the same tables.
    pub baseline: Option<PathBuf>,
    /// Write the table (markdown) here as well.
    pub out: Option<PathBuf>,
    /// Print the problems and exit.
    pub list: bool,
    /// Extra `inn fit` options for the current binary (not the baseline).
    pub fit_args: Vec<String>,
}

/// A problem of the suite.
struct Problem {
    name: &'static str,
    description: &'static str,
    /// Sizes it runs at, when not the default 10³, 10⁴, 10⁵ (the image table has one size).
    rows: Option<&'static [usize]>,
    run: fn(&Case<'_>) -> Result<Scores>,
}

const PROBLEMS: &[Problem] = &[
    Problem {
        name: "linear_gaussian",
        description: "cINN, y = Aθ + ε: 5 correlated parameters, 8 observations (exact Gaussian posterior)",
        rows: None,
        run: linear_gaussian,
    },
    Problem {
        name: "mixture",
        description: "flow, 4-D mixture of 6 full-covariance Gaussians (exact density)",
        rows: None,
        run: mixture,
    },
    Problem {
        name: "eight_modes",
        description: "cINN, eight-modes toy with labels 'some' (exact multimodal posterior)",
        rows: None,
        run: eight_modes_cinn,
    },
    Problem {
        name: "pixels",
        description: "flow --blocks 8 --hidden 256,256 on 1350 rows of dequantised 8×8 images (64-D)",
        rows: Some(&[1350]),
        run: pixels,
    },
];

/// One run: a problem at one size with one binary.
struct Case<'a> {
    rows: usize,
    binary: &'a Path,
    /// Extra `inn fit` options.
    fit_args: &'a [String],
    dir: PathBuf,
}

/// What a run measured.
#[derive(Default)]
struct Scores {
    /// Held-out NLL of the saved model (nats/row, data units).
    nll: f64,
    /// The exact model's NLL on the same rows (`None`: no exact density).
    exact: Option<f64>,
    /// Mean C2ST accuracy of model samples against exact ones.
    c2st: Option<f64>,
    /// Other reference numbers (e.g. the best validation NLL, a Gaussian baseline).
    note: String,
    /// Steps run, the step of the saved parameters, and why training stopped.
    steps: usize,
    best_step: Option<usize>,
    stop: String,
    /// Wall-clock seconds of `inn fit`.
    seconds: f64,
    /// Share of the training loop spent validating (`None`: not recorded).
    validation_share: Option<f64>,
}

/// Runs the suite and prints (and optionally writes) the table.
pub fn run(root: &Path, options: &Options) -> Result<()> {
    if options.list {
        for p in PROBLEMS {
            println!("{:<16} {}", p.name, p.description);
        }
        return Ok(());
    }
    for name in &options.only {
        if !PROBLEMS.iter().any(|p| p.name == name) {
            return Err(format!("unknown problem {name:?} (see --list)").into());
        }
    }
    let binary = build_cli(root)?;
    let mut binaries = vec![("after", binary, options.fit_args.as_slice())];
    if let Some(b) = &options.baseline {
        binaries.insert(0, ("before", b.clone(), &[]));
    }
    let dir = std::env::temp_dir().join(format!("inn-quality-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut table = String::from(
        "| problem | rows | binary | held-out NLL | exact NLL | gap | C2ST | steps (saved) | stop | fit s | validation | notes |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for problem in PROBLEMS
        .iter()
        .filter(|p| options.only.is_empty() || options.only.iter().any(|o| o == p.name))
    {
        let sizes = problem.rows.map_or(options.rows.clone(), <[usize]>::to_vec);
        for rows in sizes {
            for (label, binary, fit_args) in &binaries {
                let case = Case {
                    rows,
                    binary,
                    fit_args,
                    dir: dir.join(format!("{}-{rows}-{label}", problem.name)),
                };
                std::fs::create_dir_all(&case.dir)?;
                eprintln!("== {} at {rows} rows ({label})", problem.name);
                let s = (problem.run)(&case)?;
                let gap = s.exact.map_or("—".into(), |e| format!("{:.3}", s.nll - e));
                let line = format!(
                    "| {} | {rows} | {label} | {:.3} | {} | {gap} | {} | {} ({}) | {} | {:.0} | {} | {} |\n",
                    problem.name,
                    s.nll,
                    s.exact.map_or("—".into(), |e| format!("{e:.3}")),
                    s.c2st.map_or("—".into(), |c| format!("{c:.3}")),
                    s.steps,
                    s.best_step.map_or("—".into(), |b| b.to_string()),
                    s.stop,
                    s.seconds,
                    s.validation_share
                        .map_or("—".into(), |v| format!("{:.1}%", 100.0 * v)),
                    s.note
                );
                eprint!("{line}");
                table.push_str(&line);
            }
        }
    }
    println!("{table}");
    if let Some(out) = &options.out {
        std::fs::write(out, &table)?;
        println!("wrote {}", out.display());
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Builds the `inn` binary in release mode and returns its path.
fn build_cli(root: &Path) -> Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "inn-cli",
            "--bin",
            "inn",
        ])
        .current_dir(root)
        .status()?;
    if !status.success() {
        return Err("cargo build of the inn binary failed".into());
    }
    Ok(root.join("target/release/inn"))
}

/// Columns `prefix0, prefix1, …`.
fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Writes the table, runs `inn fit` with `extra` options, and returns the model path, the
/// wall-clock seconds and the training record.
fn fit(
    case: &Case<'_>,
    columns: (&[String], &[String]),
    data: &DMatrix<f64>,
    extra: &[&str],
) -> Result<(PathBuf, f64, serde_json::Value)> {
    let (x, y) = columns;
    let all: Vec<String> = x.iter().chain(y).cloned().collect();
    let csv = case.dir.join("train.csv");
    save_csv(&csv, &all, data)?;
    // A `.json` model file: the JSON container every binary, old or new, writes for it, whose
    // metadata is read below.
    let model = case.dir.join("model.json");
    let mut cmd = Command::new(case.binary);
    cmd.args(["fit", "--data"])
        .arg(&csv)
        .args(["--x", &x.join(",")])
        .args(["--out"])
        .arg(&model)
        .args(extra)
        .args(case.fit_args);
    if !y.is_empty() {
        cmd.args(["--y", &y.join(",")]);
    }
    let started = Instant::now();
    let out = cmd.output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("inn fit failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let text = std::fs::read_to_string(&model)?;
    let file: serde_json::Value = serde_json::from_str(&text)?;
    let payload: serde_json::Value = serde_json::from_str(
        file["payload"]
            .as_str()
            .ok_or("the model file has no payload")?,
    )?;
    let meta = payload
        .pointer("/metadata/cli")
        .cloned()
        .ok_or("the model file has no command-line metadata")?;
    Ok((model, seconds, meta))
}

/// The scores common to every problem, from the training record.
fn scores_from(meta: &serde_json::Value, seconds: f64) -> Scores {
    let t = &meta["training"];
    Scores {
        steps: t["steps"].as_u64().unwrap_or(0) as usize,
        best_step: t["best_step"].as_u64().map(|s| s as usize),
        stop: t["stop"].as_str().map_or("cap (old binary)".into(), |s| {
            s.split(' ').next().unwrap_or(s).to_string()
        }),
        seconds,
        validation_share: t["validation_seconds"]
            .as_f64()
            .zip(t["seconds"].as_f64())
            .map(|(v, s)| v / s.max(f64::MIN_POSITIVE)),
        ..Scores::default()
    }
}

/// Standardisation `(mean, std)` recorded under `key` (`x_scale` or `y_scale`).
fn scale(meta: &serde_json::Value, key: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    let read = |field: &str| -> Result<Vec<f64>> {
        meta[key][field]
            .as_array()
            .ok_or_else(|| format!("no {key}.{field} in the model metadata"))?
            .iter()
            .map(|v| v.as_f64().ok_or_else(|| "not a number".into()))
            .collect()
    };
    Ok((read("mean")?, read("std")?))
}

fn standardise(m: &DMatrix<f64>, (mean, std): &(Vec<f64>, Vec<f64>)) -> DMatrix<f32> {
    DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| {
        ((m[(i, j)] - mean[j]) / std[j]) as f32
    })
}

fn unstandardise(m: &DMatrix<f32>, (mean, std): &(Vec<f64>, Vec<f64>)) -> DMatrix<f64> {
    DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| {
        f64::from(m[(i, j)]) * std[j] + mean[j]
    })
}

fn log_det(scale: &(Vec<f64>, Vec<f64>)) -> f64 {
    scale.1.iter().map(|s| s.ln()).sum()
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

/// Held-out rows of a conditional problem.
const TEST_ROWS: usize = 5000;
/// Observations whose posteriors enter the C2ST, and draws per posterior.
const C2ST_OBS: usize = 5;
const C2ST_DRAWS: usize = 1000;

/// A cINN's held-out NLL (data units) on `(x, y)` test rows, and its posterior draws for `obs`.
struct FittedCinn {
    model: ConditionalInn<f32>,
    x_scale: (Vec<f64>, Vec<f64>),
    y_scale: (Vec<f64>, Vec<f64>),
}

impl FittedCinn {
    fn load(path: &Path, meta: &serde_json::Value) -> Result<Self> {
        Ok(Self {
            model: ConditionalInn::<f32>::load(path)?,
            x_scale: scale(meta, "x_scale")?,
            y_scale: scale(meta, "y_scale")?,
        })
    }

    fn nll(&self, x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<f64> {
        let lp = self.model.log_prob(
            &standardise(x, &self.x_scale),
            &standardise(y, &self.y_scale),
        )?;
        Ok(-mean(lp.iter().map(|v| f64::from(*v))) + log_det(&self.x_scale))
    }

    fn posterior(&self, y: &DMatrix<f64>, n: usize, rng: &mut StdRng) -> Result<DMatrix<f64>> {
        let draws = self
            .model
            .posterior(&standardise(y, &self.y_scale), n, rng)?
            .remove(0);
        Ok(unstandardise(&draws, &self.x_scale))
    }
}

fn linear_gaussian(case: &Case<'_>) -> Result<Scores> {
    let problem = LinearGaussian::standard();
    let mut rng = StdRng::seed_from_u64(case.rows as u64);
    let (theta, y) = problem.simulate(case.rows, &mut rng);
    let (xn, yn) = (names("theta", problem.x_dim()), names("y", problem.y_dim()));
    let (path, seconds, meta) = fit(
        case,
        (&xn, &yn),
        &DMatrix::from_columns(
            &theta
                .column_iter()
                .chain(y.column_iter())
                .collect::<Vec<_>>(),
        ),
        &[],
    )?;
    let model = FittedCinn::load(&path, &meta)?;
    let mut test_rng = StdRng::seed_from_u64(7);
    let (tt, ty) = problem.simulate(TEST_ROWS, &mut test_rng);
    let mut s = scores_from(&meta, seconds);
    s.nll = model.nll(&tt, &ty)?;
    s.exact = Some(-mean(problem.posterior_log_prob(&tt, &ty)?.iter().copied()));
    let mut accuracies = Vec::new();
    for i in 0..C2ST_OBS {
        let obs = ty.rows(i, 1).into_owned();
        let draws = model.posterior(&obs, C2ST_DRAWS, &mut test_rng)?;
        let y0: Vec<f64> = obs.iter().copied().collect();
        let exact = problem.posterior_sample(&y0, C2ST_DRAWS, &mut test_rng)?;
        accuracies.push(c2st(&exact, &draws, &C2stConfig::default(), &mut test_rng)?.accuracy);
    }
    s.c2st = Some(mean(accuracies.iter().copied()));
    s.note = format!("expected exact NLL {:.3}", problem.expected_posterior_nll());
    Ok(s)
}

fn eight_modes_cinn(case: &Case<'_>) -> Result<Scores> {
    let labels = LabelMap::Some;
    let mut rng = StdRng::seed_from_u64(case.rows as u64);
    let data = eight_modes(case.rows, labels, &mut rng);
    let (xn, yn) = (names("x", 2), names("label", 8));
    let (path, seconds, meta) = fit(
        case,
        (&xn, &yn),
        &DMatrix::from_columns(
            &data
                .x
                .column_iter()
                .chain(data.y_onehot.column_iter())
                .collect::<Vec<_>>(),
        ),
        &[],
    )?;
    let model = FittedCinn::load(&path, &meta)?;
    let mut test_rng = StdRng::seed_from_u64(7);
    let test = eight_modes(TEST_ROWS, labels, &mut test_rng);
    let mut s = scores_from(&meta, seconds);
    s.nll = model.nll(&test.x, &test.y_onehot)?;
    let exact: Vec<f64> = (0..TEST_ROWS)
        .map(|i| {
            let row = test.x.rows(i, 1).into_owned();
            test.posterior_log_prob(test.label[i], &row)
                .map(|lp| -lp[(0, 0)])
        })
        .collect::<std::result::Result<_, _>>()?;
    s.exact = Some(mean(exact.into_iter()));
    let mut accuracies = Vec::new();
    for label in 0..labels.n_labels() {
        let mut obs = DMatrix::zeros(1, 8);
        obs[(0, label)] = 1.0;
        let draws = model.posterior(&obs, C2ST_DRAWS, &mut test_rng)?;
        let exact = test.posterior_sample(label, C2ST_DRAWS, &mut test_rng)?;
        accuracies.push(c2st(&exact, &draws, &C2stConfig::default(), &mut test_rng)?.accuracy);
    }
    s.c2st = Some(mean(accuracies.iter().copied()));
    Ok(s)
}

/// A flow's held-out NLL in data units, and samples in data units.
fn flow_scores(
    path: &Path,
    meta: &serde_json::Value,
    test: &DMatrix<f64>,
    n_samples: usize,
    rng: &mut StdRng,
) -> Result<(f64, DMatrix<f64>)> {
    let flow = Flow::<f32>::load(path)?;
    let x_scale = scale(meta, "x_scale")?;
    let lp = flow.log_prob(&standardise(test, &x_scale))?;
    let nll = -mean(lp.iter().map(|v| f64::from(*v))) + log_det(&x_scale);
    let samples = unstandardise(&flow.sample(n_samples, rng)?, &x_scale);
    Ok((nll, samples))
}

fn mixture(case: &Case<'_>) -> Result<Scores> {
    let density = MixtureDensity::standard();
    let mut rng = StdRng::seed_from_u64(case.rows as u64);
    let data = density.sample(case.rows, &mut rng);
    let xn = names("x", density.dim());
    let (path, seconds, meta) = fit(case, (&xn, &[]), &data, &["--method", "flow"])?;
    let mut test_rng = StdRng::seed_from_u64(7);
    let test = density.sample(TEST_ROWS, &mut test_rng);
    let (nll, samples) = flow_scores(&path, &meta, &test, 2000, &mut test_rng)?;
    let mut s = scores_from(&meta, seconds);
    s.nll = nll;
    s.exact = Some(-mean(density.log_prob(&test)?.iter().copied()));
    let exact = density.sample(2000, &mut test_rng);
    s.c2st = Some(c2st(&exact, &samples, &C2stConfig::default(), &mut test_rng)?.accuracy);
    Ok(s)
}

/// The 64-column scenario on a generated table: 1000 training and 350 validation rows
/// (`--val-frac 0.26`), a large flow; the saved model's test NLL against its own best
/// validation NLL and against a diagonal Gaussian fitted to the training rows.
fn pixels(case: &Case<'_>) -> Result<Scores> {
    let mut rng = StdRng::seed_from_u64(case.rows as u64);
    let data = pixel_images(case.rows, &mut rng);
    let xn = names("p", 64);
    let (path, seconds, meta) = fit(
        case,
        (&xn, &[]),
        &data,
        &[
            "--method",
            "flow",
            "--blocks",
            "8",
            "--hidden",
            "256,256",
            "--batch",
            "256",
            "--val-frac",
            "0.26",
        ],
    )?;
    let mut test_rng = StdRng::seed_from_u64(7);
    let test = pixel_images(1000, &mut test_rng);
    let (nll, _) = flow_scores(&path, &meta, &test, 1, &mut test_rng)?;
    let mut s = scores_from(&meta, seconds);
    s.nll = nll;
    // A diagonal Gaussian fitted to the same training rows (the recorded standardisation).
    let x_scale = scale(&meta, "x_scale")?;
    let z = standardise(&test, &x_scale);
    let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let diag = 64.0 * half_ln_2pi
        + 0.5 * mean((0..z.nrows()).map(|i| z.row(i).iter().map(|v| f64::from(*v).powi(2)).sum()))
        + log_det(&x_scale);
    let val = meta["training"]["val_loss"].as_f64().unwrap_or(f64::NAN);
    let mut note = String::new();
    write!(
        note,
        "saved model's validation NLL {val:.1}; diagonal Gaussian {diag:.1}"
    )?;
    s.note = note;
    Ok(s)
}
