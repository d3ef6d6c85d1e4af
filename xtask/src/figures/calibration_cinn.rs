//! Calibration of a cINN on the linear-Gaussian problem (5 parameters, 8 observables, exact
//! Gaussian posterior): a well-trained and a deliberately under-trained network side by side,
//! each with the SBC ECDF difference of every parameter inside its simultaneous 95 % band and
//! the coverage curves of central and highest-density credible regions (`inn::diagnostics`).

use super::style::{self, NotePosition};
use super::{Chart, Context, Result};
use inn::data::toy::LinearGaussian;
use inn::diagnostics::{Diagnostics, DiagnosticsConfig, PosteriorDraws, diagnose};
use inn::train::{CinnConfig, ConditionalInn, OptimConfig, paper_stack};
use inn_cli::report::{band_outline, color, coverage_panel};
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::PathBuf;

const SEED: u64 = 17;

/// One trained network and what the checks measured.
struct Column {
    caption: String,
    diagnostics: Diagnostics,
}

struct CalibrationFigure {
    columns: Vec<Column>,
    names: Vec<String>,
    n_train: usize,
}

/// Trains the two cINNs (same data, seeds and architecture; only the step count differs),
/// checks both on the same held-out pairs and draws.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let problem = LinearGaussian::standard();
    let mut rng = StdRng::seed_from_u64(SEED);
    let n_train = ctx.pick(2000, 4000);
    let (x, y) = problem.simulate(n_train, &mut rng);
    let (x_test, y_test) = problem.simulate(ctx.pick(100, 200), &mut rng);
    let (x, y) = (x.cast::<f32>(), y.cast::<f32>());
    let (x_test, y_test) = (x_test.cast::<f32>(), y_test.cast::<f32>());
    let n_draws = ctx.pick(200, 500);
    let mut columns = Vec::new();
    for (label, steps) in [
        ("well trained", ctx.pick3(30, 400, 2500)),
        ("under-trained", ctx.pick3(10, 40, 40)),
    ] {
        let config = CinnConfig {
            stack: paper_stack().with_widths(4, &[64, 64]),
            batch_size: 256,
            optim: OptimConfig {
                steps,
                progress: false,
                ..CinnConfig::default().optim
            },
            ..CinnConfig::default()
        };
        let mut train_rng = StdRng::seed_from_u64(SEED + 1);
        let mut cinn = ConditionalInn::new(config, 5, 8, &mut train_rng)?;
        let report = cinn.fit(&x, &y, &mut train_rng)?;
        let mut check_rng = StdRng::seed_from_u64(SEED + 2);
        let draws =
            PosteriorDraws::from_model(&cinn, &x_test, &y_test, n_draws, &mut check_rng, |_| {})?;
        let diagnostics = diagnose(
            &draws,
            Some(&prior_variances(&problem)),
            &DiagnosticsConfig::default(),
            &mut check_rng,
        )?;
        let verdicts: Vec<&str> = diagnostics.verdicts.iter().map(|v| v.kind.name()).collect();
        println!(
            "      {label} ({} steps): verdicts {}; largest under-coverage central {:.3}, highest-density {:.3}",
            report.losses.len(),
            verdicts.join(", "),
            diagnostics.coverage.central_largest_under_coverage,
            diagnostics
                .coverage
                .hpd_largest_under_coverage
                .unwrap_or(f64::NAN)
        );
        columns.push(Column {
            caption: format!("{label}: {} steps", report.losses.len()),
            diagnostics,
        });
    }
    let names = (1..=5).map(|j| format!("θ{j}")).collect();
    ctx.render(
        "calibration_cinn",
        &CalibrationFigure {
            columns,
            names,
            n_train,
        },
    )
}

/// The prior variances, the diagonal of `Σ₀`.
fn prior_variances(problem: &LinearGaussian) -> Vec<f64> {
    problem.prior_cov().diagonal().iter().copied().collect()
}

impl Chart for CalibrationFigure {
    fn size(&self) -> (u32, u32) {
        (1500, 1180)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let d = &self.columns[0].diagnostics;
        let root = root.titled(
            &format!(
                "Calibration of a cINN on the linear-Gaussian problem ({} training pairs; {} held-out pairs × {} draws)",
                self.n_train, d.n_obs, d.n_draws
            ),
            style::font(style::TITLE - 4),
        )?;
        let columns = root.split_evenly((1, self.columns.len()));
        for (area, column) in columns.iter().zip(&self.columns) {
            let (top, bottom) = area.split_vertically(560);
            self.ecdf(&top, column)?;
            coverage_panel(
                &bottom,
                &format!("{}: coverage", column.caption),
                &column.diagnostics.coverage,
                &self.names,
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl CalibrationFigure {
    /// The ECDF differences of all parameters over one band, with the verdicts.
    fn ecdf<DB>(&self, area: &DrawingArea<DB, Shift>, column: &Column) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let diag = &column.diagnostics;
        let band = &diag.band;
        let extent = band
            .upper
            .iter()
            .chain(&band.lower)
            .chain(diag.sbc.iter().flat_map(|s| &s.ecdf_diff))
            .fold(0.05f64, |m, v| m.max(v.abs()))
            * 1.1;
        let mut chart = style::panel(
            area,
            format!("{}: SBC rank ECDF − uniform", column.caption),
            70,
        )
        .build_cartesian_2d(0f64..1f64, -extent..extent)?;
        style::mesh(&mut chart)
            .x_desc("fractional rank z")
            .y_desc("ECDF(z) − z")
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()?;
        chart.draw_series(std::iter::once(Polygon::new(
            band_outline(band),
            style::GREY.mix(0.18).filled(),
        )))?;
        for (j, s) in diag.sbc.iter().enumerate() {
            let points = std::iter::once((0.0, 0.0))
                .chain(band.grid.iter().copied().zip(s.ecdf_diff.iter().copied()))
                .chain(std::iter::once((1.0, 0.0)));
            style::labelled_line(&mut chart, points, color(j), style::LINE, &self.names[j])?;
        }
        style::series_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        let mut lines = vec![format!(
            "grey: {:.0} % simultaneous band",
            100.0 * band.level
        )];
        lines.extend(
            self.names
                .iter()
                .zip(&diag.verdicts)
                .map(|(n, v)| format!("{n}: {}", v.kind.name())),
        );
        lines.push(format!(
            "largest under-coverage: {:.2}",
            diag.coverage.central_largest_under_coverage.max(0.0)
        ));
        style::note(chart.plotting_area(), &lines, NotePosition::UpperRight)?;
        Ok(())
    }
}
