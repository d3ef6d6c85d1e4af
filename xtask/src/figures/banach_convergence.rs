//! Banach iteration inverting a residual map y = x + g(x) (the i-ResNet inverse x ← y − g(x)):
//! the error against the a-priori bound cⁿ/(1−c)·‖x₁ − x₀‖ for Lip(g) ≤ c = 0.5, 0.9, 0.99,
//! plain and with Anderson acceleration.
//!
//! g is a small tanh MLP (`autodiff::nn::Mlp`, 2 → 32 → 2): the first weight matrix W₁ is
//! scaled to spectral norm 1 (`fixedpoint::spectral_norm_exact`) and the last is tied to it,
//! W₂ = c·W₁ᵀ, so Lip(g) ≤ c (checked with `fixedpoint::mlp_lipschitz_upper_bound`) and the
//! local contraction rate near the origin is close to c.

use super::style::{self, BLUE, GREEN, RED};
use super::{Chart, Context, Result};
use inn::autodiff::Params;
use inn::autodiff::nn::{Activation, Mlp, MlpConfig};
use inn::distributions::{Density, StandardNormal};
use inn::fixedpoint::{
    Acceleration, AndersonOptions, BanachOptions, History, a_priori_bound, banach_batch,
    mlp_lipschitz_upper_bound, spectral_norm_exact,
};
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::PathBuf;

const SEED: u64 = 8;
const DIM: usize = 2;
const HIDDEN: usize = 32;
/// Stop when the a-posteriori bound c/(1−c)·‖xₙ − xₙ₋₁‖ is below this.
const TOL: f64 = 1e-10;
/// Errors below this (rounding level) are drawn at this level on the log axis.
const FLOOR: f64 = 1e-15;

/// One iteration's record: (n, max over the batch of ‖xₙ − x*‖₂).
type Curve = Vec<(f64, f64)>;

struct Run {
    c: f64,
    color: RGBColor,
    plain: Curve,
    anderson: Curve,
    bound: Curve,
    plain_iterations: usize,
    anderson_iterations: usize,
}

struct Convergence {
    runs: Vec<Run>,
    samples: usize,
}

/// Builds g, inverts a batch for each c plainly and with Anderson, and draws the errors.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let samples = ctx.pick(32, 256);
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut params = Params::<f64>::new();
    let mlp = Mlp::new(
        &mut params,
        "g",
        &MlpConfig::new(&[DIM, HIDDEN, DIM], Activation::Tanh),
        &mut rng,
    )?;
    let (first, last) = match mlp.layers() {
        [first, last] => (first.weight(), last.weight()),
        layers => return Err(format!("expected 2 layers, got {}", layers.len()).into()),
    };
    let sigma = spectral_norm_exact(params.get(first))?;
    *params.get_mut(first) /= sigma;
    let x_true = StandardNormal::new(DIM)?.sample(&Params::<f64>::new(), samples, &mut rng)?;

    let mut runs = Vec::new();
    for (c, color) in [(0.5, BLUE), (0.9, GREEN), (0.99, RED)] {
        let mut scaled = params.clone();
        // W₂ = c·W₁ᵀ: spectral norm exactly c, and J_g = c·W₁·diag(tanh′)·W₁ᵀ has its largest
        // eigenvalue close to c near the origin, so the bound is nearly attained. (With an
        // independent random W₂ the product W₁W₂ is far below c and every c looks alike.)
        *scaled.get_mut(last) = params.get(first).transpose() * c;
        let weights = [scaled.get(first).clone(), scaled.get(last).clone()];
        let lip = mlp_lipschitz_upper_bound(&weights, Activation::Tanh.lipschitz())?;
        if lip > c * (1.0 + 1e-12) {
            return Err(format!("Lip(g) ≤ {lip} exceeds c = {c}").into());
        }
        let y = &x_true + mlp.eval(&scaled, &x_true)?;
        let plain = invert(&mlp, &scaled, &y, &x_true, c, Acceleration::None)?;
        let anderson = invert(
            &mlp,
            &scaled,
            &y,
            &x_true,
            c,
            Acceleration::Anderson(AndersonOptions::default()),
        )?;
        let first_step = plain.first_step;
        let bound = (0..=plain.iterations)
            .map(|n| Ok((n as f64, a_priori_bound(c, n, first_step)?)))
            .collect::<Result<Curve>>()?;
        runs.push(Run {
            c,
            color,
            plain_iterations: plain.iterations,
            anderson_iterations: anderson.iterations,
            plain: plain.errors,
            anderson: anderson.errors,
            bound,
        });
    }
    ctx.render("banach_convergence", &Convergence { runs, samples })
}

struct Inversion {
    errors: Curve,
    iterations: usize,
    first_step: f64,
}

/// Solves x = y − g(x) from x₀ = y with `fixedpoint::banach_batch`, recording the error of
/// every point the map is evaluated at, and of the returned point.
fn invert(
    mlp: &Mlp,
    params: &Params<f64>,
    y: &DMatrix<f64>,
    x_true: &DMatrix<f64>,
    c: f64,
    acceleration: Acceleration<f64>,
) -> Result<Inversion> {
    let opts = BanachOptions {
        tol: TOL,
        max_iter: 20_000,
        acceleration,
        history: History::Full,
        ..BanachOptions::with_contraction(c)
    };
    let error = |x: &DMatrix<f64>| {
        (x - x_true)
            .row_iter()
            .map(|r| r.norm())
            .fold(0.0f64, f64::max)
            .max(FLOOR)
    };
    let mut errors = Vec::new();
    let mut failure = None;
    let sol = banach_batch(
        |x: &DMatrix<f64>| {
            errors.push((errors.len() as f64, error(x)));
            match mlp.eval(params, x) {
                Ok(gx) => y - gx,
                Err(e) => {
                    failure.get_or_insert(e);
                    // A non-finite output stops the iteration; the error is reported below.
                    DMatrix::from_element(x.nrows(), x.ncols(), f64::NAN)
                }
            }
        },
        y,
        &opts,
    );
    if let Some(e) = failure {
        return Err(e.into());
    }
    let sol = sol?;
    if sol.history.len() != sol.iterations {
        return Err("the iteration did not keep its full history".into());
    }
    errors.push((sol.iterations as f64, error(&sol.point)));
    Ok(Inversion {
        errors,
        iterations: sol.iterations,
        first_step: sol.first_step,
    })
}

impl Chart for Convergence {
    fn size(&self) -> (u32, u32) {
        (1700, 720)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            &format!(
                "Inverting y = x + g(x) by x ← y − g(x), Lip(g) ≤ c (tanh MLP, {} samples, max error over the batch)",
                self.samples
            ),
            style::font(style::TITLE - 4),
        )?;
        let (left, right) = root.split_horizontally(1000);
        self.draw_plain(&left)?;
        self.draw_anderson(&right)
    }
}

impl Convergence {
    fn y_range(&self) -> std::ops::Range<f64> {
        let top = self
            .runs
            .iter()
            .flat_map(|r| r.bound.first().into_iter().chain(r.plain.first()))
            .fold(1.0f64, |a, &(_, e)| a.max(e));
        FLOOR..top * 3.0
    }

    /// Both panels' axes: iteration n (0..n_max) against the error on a log scale.
    fn error_axes<'a, DB>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        caption: &str,
        n_max: f64,
    ) -> Result<
        ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, LogCoord<f64>>>,
    >
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let mut chart = style::panel(area, caption, 80)
            .build_cartesian_2d(0f64..n_max, self.y_range().log_scale())?;
        style::mesh(&mut chart)
            .x_desc("iteration n")
            .y_desc("‖xₙ − x*‖")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()?;
        Ok(chart)
    }

    fn draw_plain<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let n_max = self
            .runs
            .iter()
            .map(|r| r.plain_iterations)
            .max()
            .unwrap_or(1) as f64;
        let mut chart = self.error_axes(
            area,
            "Plain iteration vs the a-priori bound cⁿ/(1−c)·‖x₁ − x₀‖",
            n_max,
        )?;
        for run in &self.runs {
            style::labelled_line(
                &mut chart,
                run.plain.iter().copied(),
                run.color,
                style::LINE,
                format!("c = {}: error ({} iterations)", run.c, run.plain_iterations),
            )?;
            let visible = self.y_range();
            style::labelled_dashed(
                &mut chart,
                run.bound
                    .iter()
                    .copied()
                    .filter(|&(_, b)| visible.contains(&b)),
                run.color,
                style::LINE,
                format!("c = {}: a-priori bound", run.c),
            )?;
        }
        style::series_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }

    fn draw_anderson<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let n_max = self
            .runs
            .iter()
            .map(|r| r.anderson_iterations)
            .max()
            .unwrap_or(1)
            .max(10) as f64;
        let mut chart = self.error_axes(area, "Anderson acceleration (depth 5)", n_max)?;
        for run in &self.runs {
            style::labelled_line(
                &mut chart,
                run.anderson.iter().copied(),
                run.color,
                style::LINE,
                format!(
                    "c = {}: Anderson ({} iterations)",
                    run.c, run.anderson_iterations
                ),
            )?;
            style::labelled_dashed(
                &mut chart,
                run.plain.iter().copied().take_while(|&(n, _)| n <= n_max),
                run.color.mix(0.6),
                1,
                format!("c = {}: plain", run.c),
            )?;
        }
        style::series_legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
        Ok(())
    }
}
