//! Two samples with the same mean and different spread, N(0, 1) and N(0, 1.5²): the mean
//! difference (a linear-kernel MMD) is ≈ 0, MMD² with a characteristic kernel is not; and
//! MMD² (biased and unbiased) against the kernel width for Gaussian and inverse multiquadric
//! kernels.

use super::style::{self, BLUE, GREY, ORANGE};
use super::{Chart, Context, Result};
use inn::autodiff::Params;
use inn::discrepancy::{
    Gaussian, InverseMultiquadric, Kernel, PermutationConfig, median_heuristic, mmd2_biased,
    mmd2_unbiased, permutation_test,
};
use inn::distributions::{Density, StandardNormal};
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::PathBuf;

const SEED: u64 = 9;
const SPREAD: f64 = 1.5;
/// Histogram range and bin count.
const RANGE: (f64, f64) = (-5.0, 5.0);
const BINS: usize = 40;

struct Histogram {
    /// (left edge, right edge, density).
    bars: Vec<(f64, f64, f64)>,
    color: RGBColor,
    label: String,
}

/// MMD² estimates for one kernel family at every width.
struct WidthCurve {
    family: &'static str,
    color: RGBColor,
    biased: Vec<(f64, f64)>,
    unbiased: Vec<(f64, f64)>,
}

struct Moments {
    n: usize,
    histograms: [Histogram; 2],
    mean_difference: f64,
    sigma_median: f64,
    mmd2_median: f64,
    p_value: f64,
    permutations: usize,
    curves: Vec<WidthCurve>,
    widths: (f64, f64),
}

/// Draws the samples, estimates every MMD², runs the permutation test and draws the result.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let n = ctx.pick(200, 500);
    let permutations = ctx.pick(99, 499);
    let n_widths = ctx.pick(12, 33);
    let mut rng = StdRng::seed_from_u64(SEED);
    let normal = StandardNormal::new(1)?;
    let none = Params::<f64>::new();
    let x: DMatrix<f64> = normal.sample(&none, n, &mut rng)?;
    let y: DMatrix<f64> = normal.sample(&none, n, &mut rng)? * SPREAD;

    let mean_difference = x.mean() - y.mean();
    let sigma_median = median_heuristic(&x, &y, &mut rng)?;
    let gaussian = Gaussian::new(sigma_median)?;
    let mmd2_median = mmd2_unbiased(&x, &y, &gaussian)?;
    let test = permutation_test(
        &x,
        &y,
        &gaussian,
        &PermutationConfig::new(permutations)?,
        &mut rng,
    )?;

    let widths = (0.05f64, 50.0f64);
    let grid: Vec<f64> = (0..n_widths)
        .map(|i| widths.0 * (widths.1 / widths.0).powf(i as f64 / (n_widths - 1) as f64))
        .collect();
    let curves = vec![
        width_curve("Gaussian", BLUE, &x, &y, &grid, Gaussian::new)?,
        width_curve("IMQ", ORANGE, &x, &y, &grid, |h| {
            InverseMultiquadric::new(h)
        })?,
    ];
    let moments = Moments {
        n,
        histograms: [
            histogram(&x, BLUE, "X ~ N(0, 1)".into()),
            histogram(&y, ORANGE, format!("Y ~ N(0, {SPREAD}²)")),
        ],
        mean_difference,
        sigma_median,
        mmd2_median,
        p_value: test.p_value,
        permutations: test.permutations,
        curves,
        widths,
    };
    ctx.render("mmd_moments", &moments)
}

fn width_curve<K, F>(
    family: &'static str,
    color: RGBColor,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    grid: &[f64],
    kernel: F,
) -> Result<WidthCurve>
where
    K: Kernel<f64>,
    F: Fn(f64) -> inn::discrepancy::Result<K>,
{
    let mut biased = Vec::with_capacity(grid.len());
    let mut unbiased = Vec::with_capacity(grid.len());
    for &h in grid {
        let k = kernel(h)?;
        biased.push((h, mmd2_biased(x, y, &k)?));
        unbiased.push((h, mmd2_unbiased(x, y, &k)?));
    }
    Ok(WidthCurve {
        family,
        color,
        biased,
        unbiased,
    })
}

/// A density histogram of the single column of `sample` over [`RANGE`].
fn histogram(sample: &DMatrix<f64>, color: RGBColor, label: String) -> Histogram {
    let width = (RANGE.1 - RANGE.0) / BINS as f64;
    let mut counts = vec![0usize; BINS];
    for &v in sample.iter() {
        let bin = ((v - RANGE.0) / width).floor();
        if bin >= 0.0 && (bin as usize) < BINS {
            counts[bin as usize] += 1;
        }
    }
    let total = sample.len() as f64 * width;
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let left = RANGE.0 + i as f64 * width;
            (left, left + width, c as f64 / total)
        })
        .collect();
    Histogram { bars, color, label }
}

impl Chart for Moments {
    fn size(&self) -> (u32, u32) {
        (1700, 680)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            "Equal means, different spreads: the mean difference is ≈ 0, MMD² is not",
            style::font(style::TITLE),
        )?;
        let panels = root.split_evenly((1, 2));
        self.draw_samples(&panels[0])?;
        self.draw_widths(&panels[1])
    }
}

impl Moments {
    fn draw_samples<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let top = self
            .histograms
            .iter()
            .flat_map(|h| h.bars.iter())
            .fold(0.0f64, |a, &(_, _, d)| a.max(d))
            * 1.5;
        let mut chart = style::panel(area, format!("Two samples of n = {} each", self.n), 70)
            .build_cartesian_2d(RANGE.0..RANGE.1, 0f64..top)?;
        style::mesh(&mut chart)
            .x_desc("value")
            .y_desc("density (histogram)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()?;
        for h in &self.histograms {
            let color = h.color;
            chart
                .draw_series(h.bars.iter().map(|&(l, r, d)| {
                    Rectangle::new([(l, 0.0), (r, d)], color.mix(0.35).filled())
                }))?
                .label(h.label.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 24, y + 6)], color.mix(0.5).filled())
                });
            chart.draw_series(
                h.bars
                    .iter()
                    .map(|&(l, r, d)| Rectangle::new([(l, 0.0), (r, d)], color.stroke_width(1))),
            )?;
        }
        style::series_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        let lines = [
            format!("mean(X) − mean(Y) = {:+.3}", self.mean_difference),
            format!("MMD² = {:.4}", self.mmd2_median),
            format!("  (unbiased, Gaussian σ = {:.2})", self.sigma_median),
            format!(
                "permutation test: p = {:.3} ({} perm.)",
                self.p_value, self.permutations
            ),
        ];
        style::note(
            chart.plotting_area(),
            &lines,
            style::NotePosition::UpperRight,
        )?;
        Ok(())
    }

    fn draw_widths<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let values = self
            .curves
            .iter()
            .flat_map(|c| c.biased.iter().chain(c.unbiased.iter()))
            .map(|&(_, v)| v);
        let (lo, hi) = values.fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        let pad = 0.08 * (hi - lo).max(1e-6);
        let mut chart = style::panel(area, "MMD² against the kernel width", 80)
            .build_cartesian_2d(
                (self.widths.0..self.widths.1).log_scale(),
                (lo - pad)..(hi + pad),
            )?;
        style::mesh(&mut chart)
            .x_desc("kernel width (Gaussian σ, IMQ h)")
            .y_desc("MMD²")
            .x_label_formatter(&|v| format!("{v}"))
            .y_label_formatter(&|v| format!("{v:.3}"))
            .draw()?;
        chart.draw_series(LineSeries::new(
            [(self.widths.0, 0.0), (self.widths.1, 0.0)],
            BLACK.stroke_width(1),
        ))?;
        let sq = self.mean_difference * self.mean_difference;
        style::labelled_dashed(
            &mut chart,
            [(self.widths.0, sq), (self.widths.1, sq)],
            GREY,
            style::LINE,
            format!("(mean difference)² = {sq:.4}"),
        )?;
        let top = hi + pad;
        let bottom = lo - pad;
        chart
            .draw_series(DashedLineSeries::new(
                [(self.sigma_median, bottom), (self.sigma_median, top)],
                3,
                4,
                BLACK.mix(0.6).stroke_width(1),
            ))?
            .label(format!("median heuristic σ = {:.2}", self.sigma_median))
            .legend(style::swatch_dashed(BLACK.mix(0.6), 1));
        for curve in &self.curves {
            style::labelled_line(
                &mut chart,
                curve.biased.iter().copied(),
                curve.color,
                style::LINE,
                format!("{}: biased", curve.family),
            )?;
            chart.draw_series(
                curve
                    .biased
                    .iter()
                    .map(|&p| Circle::new(p, 3, curve.color.filled())),
            )?;
            style::labelled_dashed(
                &mut chart,
                curve.unbiased.iter().copied(),
                curve.color,
                style::LINE,
                format!("{}: unbiased", curve.family),
            )?;
        }
        style::series_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}
