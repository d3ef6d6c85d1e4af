//! The posterior behind one held-out 200-bin spectrum (three Lorentzian peaks, 9 parameters,
//! `data::toy::LorentzSpectrum`) from two cINNs trained on the same simulations with the same
//! flow, budget and seeds: one reads the spectrum through the default convolutional summary
//! network (`SummaryConfig::conv1d`), the other reads the raw bins in every coupling. Top: the
//! observation, the true noise-free spectrum and the noise-free spectra of posterior draws of
//! both. Bottom, one panel per peak: posterior draws of (position, height) of both networks
//! and of an adaptive-Metropolis reference, with the true parameters. The note gives each
//! network's held-out NLL over 2000 test pairs and its parameter count.

use super::style::{self, Mark};
use super::{Chart, Context, Result};
use inn::autodiff::nalgebra::DMatrix;
use inn::data::toy::{LorentzSpectrum, McmcOptions, PEAKS};
use inn::summary::SummaryConfig;
use inn::train::{CinnConfig, ConditionalInn, OptimConfig, paper_optim, paper_stack};
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::PathBuf;

const SEED: u64 = 23;
/// Posterior draws per network (and reference draws) in the peak panels.
const DRAWS: usize = 400;
/// Noise-free spectra of posterior draws in the top panel, per network.
const CURVES: usize = 12;

/// One trained network's posterior for the shown observation.
struct Column {
    label: &'static str,
    color: RGBColor,
    /// `DRAWS × 9` posterior draws in the original units.
    draws: DMatrix<f64>,
    /// Noise-free spectra of the first [`CURVES`] draws, `CURVES × bins`.
    curves: DMatrix<f64>,
    nll: f64,
    parameters: usize,
}

struct SpectrumFigure {
    observation: Vec<f64>,
    clean: Vec<f64>,
    truth: Vec<f64>,
    reference: DMatrix<f64>,
    columns: Vec<Column>,
    n_train: usize,
    steps: usize,
}

/// `x` standardised column-wise with the training rows' statistics and `y` by one pooled mean
/// and standard deviation (as `inn fit` does for signals).
struct Scaling {
    mean: Vec<f64>,
    std: Vec<f64>,
    y_mean: f64,
    y_std: f64,
}

impl Scaling {
    fn fit(x: &DMatrix<f64>, y: &DMatrix<f64>) -> Self {
        let d = x.ncols();
        let y_mean = y.mean();
        Self {
            mean: (0..d).map(|j| x.column(j).mean()).collect(),
            std: (0..d).map(|j| x.column(j).variance().sqrt()).collect(),
            y_mean,
            y_std: y.map(|v| (v - y_mean).powi(2)).mean().sqrt(),
        }
    }

    fn x(&self, x: &DMatrix<f64>) -> DMatrix<f32> {
        DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
            ((x[(i, j)] - self.mean[j]) / self.std[j]) as f32
        })
    }

    fn x_back(&self, x: &DMatrix<f32>) -> DMatrix<f64> {
        DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
            f64::from(x[(i, j)]) * self.std[j] + self.mean[j]
        })
    }

    fn y(&self, y: &DMatrix<f64>) -> DMatrix<f32> {
        y.map(|v| ((v - self.y_mean) / self.y_std) as f32)
    }

    /// `Σ ln std_j`: what the NLL of standardised `x` lacks in the original units.
    fn log_scale(&self) -> f64 {
        self.std.iter().map(|s| s.ln()).sum()
    }
}

/// Trains both cINNs, scores them on held-out pairs and draws their posteriors for one test
/// spectrum next to the Metropolis reference.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let problem = LorentzSpectrum::standard();
    let (d, bins) = (problem.x_dim(), problem.y_dim());
    let n_train = ctx.pick3(500, 5_000, 20_000);
    let steps = ctx.pick3(20, 400, 3_000);
    let (x, y) = problem.simulate(n_train, &mut StdRng::seed_from_u64(SEED));
    let (x_test, y_test) =
        problem.simulate(ctx.pick(200, 2_000), &mut StdRng::seed_from_u64(SEED + 1));
    let scaling = Scaling::fit(&x, &y);
    let (xs, ys) = (scaling.x(&x), scaling.y(&y));
    let (xs_test, ys_test) = (scaling.x(&x_test), scaling.y(&y_test));
    let observation: Vec<f64> = y_test.row(0).iter().copied().collect();
    let truth: Vec<f64> = x_test.row(0).iter().copied().collect();
    let reference = problem.posterior_sample_mcmc(
        &observation,
        &truth,
        DRAWS,
        McmcOptions {
            burn_in: ctx.pick(2_000, 20_000),
            ..McmcOptions::default()
        },
        &mut StdRng::seed_from_u64(SEED + 2),
    )?;
    let mut columns = Vec::new();
    for (label, color, summary) in [
        (
            "conv1d summary",
            style::BLUE,
            Some(SummaryConfig::conv1d(bins)),
        ),
        ("raw bins", style::ORANGE, None),
    ] {
        let config = CinnConfig {
            stack: paper_stack().with_widths(6, &[128]),
            batch_size: 256,
            optim: OptimConfig {
                progress: false,
                ..paper_optim(steps)
            },
            summary,
            ..CinnConfig::default()
        };
        let mut rng = StdRng::seed_from_u64(SEED + 3);
        let mut cinn = ConditionalInn::<f32>::new(config, d, bins, &mut rng)?;
        let report = cinn.fit(&xs, &ys, &mut rng)?;
        let lp = cinn.log_prob(&xs_test, &ys_test)?;
        let nll = -lp.iter().map(|v| f64::from(*v)).sum::<f64>() / lp.nrows() as f64
            + scaling.log_scale();
        let obs = ys_test.rows(0, 1).into_owned();
        let mut sample_rng = StdRng::seed_from_u64(SEED + 4);
        let draws = scaling.x_back(&cinn.posterior(&obs, DRAWS, &mut sample_rng)?.remove(0));
        let curves = problem.clean_spectra(&draws.rows(0, CURVES).into_owned())?;
        let parameters = cinn.params().n_scalars();
        println!(
            "      {label}: {} steps ({}), held-out NLL {nll:.3} nats, {parameters} parameters",
            report.steps(),
            report.stop
        );
        columns.push(Column {
            label,
            color,
            draws,
            curves,
            nll,
            parameters,
        });
    }
    let clean = problem
        .clean_spectra(&x_test.rows(0, 1).into_owned())?
        .iter()
        .copied()
        .collect();
    ctx.render(
        "spectrum_posterior",
        &SpectrumFigure {
            observation,
            clean,
            truth,
            reference,
            columns,
            n_train,
            steps,
        },
    )
}

impl Chart for SpectrumFigure {
    fn size(&self) -> (u32, u32) {
        (1500, 1050)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            &format!(
                "One spectrum's posterior: conv1d summary network vs raw bins ({} simulations, {} steps each)",
                self.n_train, self.steps
            ),
            style::font(style::TITLE - 4),
        )?;
        let (top, bottom) = root.split_vertically(480);
        self.spectrum(&top)?;
        let (strip, bottom) = bottom.split_vertically(44);
        let mut entries = vec![(Mark::Dot(style::GREY), "Metropolis reference".to_string())];
        entries.extend(
            self.columns
                .iter()
                .map(|c| (Mark::Dot(c.color), c.label.to_string())),
        );
        entries.push((Mark::Line(BLACK, 3), "truth (cross)".to_string()));
        style::legend_row(&strip, &entries)?;
        let panels = bottom.split_evenly((1, PEAKS));
        for (k, area) in panels.iter().enumerate() {
            self.peak(area, k)?;
        }
        Ok(())
    }
}

impl SpectrumFigure {
    /// The observation, the truth and posterior-predictive noise-free spectra.
    fn spectrum<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let bins = self.observation.len();
        let u = |j: usize| (j as f64 + 0.5) / bins as f64;
        let (lo, hi) = self
            .observation
            .iter()
            .fold((0f64, 0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let pad = 0.08 * (hi - lo);
        let mut chart = style::panel(
            area,
            "observed spectrum and noise-free spectra of posterior draws",
            60,
        )
        .build_cartesian_2d(0f64..1f64, (lo - pad)..(hi + 3.0 * pad))?;
        style::mesh(&mut chart)
            .x_desc("u (bin centre)")
            .y_desc("y")
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        chart
            .draw_series(
                self.observation
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| Circle::new((u(j), v), 2, style::GREY.filled())),
            )?
            .label("observation (noise σ = 0.05)")
            .legend(|(x, y)| Circle::new((x + 12, y), 3, style::GREY.filled()));
        for column in &self.columns {
            for (c, curve) in column.curves.row_iter().enumerate() {
                let points: Vec<(f64, f64)> =
                    curve.iter().enumerate().map(|(j, &v)| (u(j), v)).collect();
                let series = chart.draw_series(LineSeries::new(
                    points,
                    column.color.mix(0.45).stroke_width(1),
                ))?;
                if c == 0 {
                    series
                        .label(format!("{}: {CURVES} posterior draws", column.label))
                        .legend(style::swatch_line(column.color, style::LINE));
                }
            }
        }
        style::labelled_line(
            &mut chart,
            self.clean.iter().enumerate().map(|(j, &v)| (u(j), v)),
            BLACK,
            style::LINE,
            "true noise-free spectrum",
        )?;
        style::series_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        let lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                format!(
                    "{}: held-out NLL {:.2} nats, {} parameters",
                    c.label, c.nll, c.parameters
                )
            })
            .collect();
        style::note(
            chart.plotting_area(),
            &lines,
            style::NotePosition::UpperRight,
        )?;
        Ok(())
    }

    /// Posterior draws of peak `k`'s position and height, zoomed to where they lie.
    fn peak<DB>(&self, area: &DrawingArea<DB, Shift>, k: usize) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let (p, a) = (k, 2 * PEAKS + k);
        let sets: Vec<&DMatrix<f64>> = std::iter::once(&self.reference)
            .chain(self.columns.iter().map(|c| &c.draws))
            .collect();
        let range = |col: usize| {
            let (lo, hi) = sets
                .iter()
                .flat_map(|m| m.column(col).iter().copied().collect::<Vec<_>>())
                .chain(std::iter::once(self.truth[col]))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
            let pad = 0.05 * (hi - lo).max(1e-6);
            (lo - pad)..(hi + pad)
        };
        let mut chart = style::panel(area, format!("peak {}: position × height", k + 1), 70)
            .build_cartesian_2d(range(p), range(a))?;
        style::mesh(&mut chart)
            .x_desc(format!("position p{}", k + 1))
            .y_desc(format!("height a{}", k + 1))
            .x_labels(4)
            .x_label_formatter(&|v| format!("{v:.3}"))
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()?;
        let dots =
            |m: &DMatrix<f64>| -> Vec<(f64, f64)> { m.row_iter().map(|r| (r[p], r[a])).collect() };
        for column in &self.columns {
            chart.draw_series(
                dots(&column.draws)
                    .into_iter()
                    .map(|q| Circle::new(q, 2, column.color.mix(0.55).filled())),
            )?;
        }
        // The reference on top: it is the narrowest and would vanish under the others.
        chart.draw_series(
            dots(&self.reference)
                .into_iter()
                .map(|q| Circle::new(q, 2, style::GREY.mix(0.6).filled())),
        )?;
        chart.draw_series(std::iter::once(Cross::new(
            (self.truth[p], self.truth[a]),
            9,
            BLACK.stroke_width(3),
        )))?;
        Ok(())
    }
}
