//! The corner plot of one posterior: 1-D histograms on the diagonal, 2-D histograms below it.

use super::{DrawResult, Figure, LABEL, TICK, color, font, tick};
use inn::autodiff::nalgebra::DMatrix;
use inn::eval::quantile_sorted;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Posterior draws of one observation (`n × d`, one draw per row) as a `d × d` grid: the
/// histogram of each parameter on the diagonal, the 2-D histogram (darker: more draws) of each
/// pair below it, the true value (red) where given. The axes span the 0.1 % to 99.9 % quantiles
/// of the draws (and the true value), so a few far-out draws do not hide the bulk.
#[derive(Clone, Debug)]
pub struct CornerPlot {
    /// Parameter names, one per column of `samples`.
    pub names: Vec<String>,
    /// The draws, `n × d`.
    pub samples: DMatrix<f64>,
    /// The true parameters, when known.
    pub truth: Option<Vec<f64>>,
    /// Bins per axis.
    pub bins: usize,
    /// A title line.
    pub title: String,
}

impl CornerPlot {
    /// The axis range of parameter `j`.
    fn range(&self, j: usize) -> (f64, f64) {
        let mut col: Vec<f64> = self.samples.column(j).iter().copied().collect();
        col.sort_by(f64::total_cmp);
        let mut lo = quantile_sorted(&col, 0.001).unwrap_or(0.0);
        let mut hi = quantile_sorted(&col, 0.999).unwrap_or(1.0);
        if let Some(t) = &self.truth {
            lo = lo.min(t[j]);
            hi = hi.max(t[j]);
        }
        let pad = ((hi - lo) * 0.05).max(1e-6 * (1.0 + lo.abs()));
        (lo - pad, hi + pad)
    }

    fn bin(&self, v: f64, (lo, hi): (f64, f64)) -> Option<usize> {
        let b = ((v - lo) / (hi - lo) * self.bins as f64).floor();
        (b >= 0.0 && b < self.bins as f64).then_some(b as usize)
    }
}

const CELL: u32 = 300;

impl Figure for CornerPlot {
    fn size(&self) -> (u32, u32) {
        let d = self.samples.ncols().max(1) as u32;
        ((d * CELL).max(720) + 40, d * CELL + 70)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(&self.title, font(LABEL + 3))?;
        let d = self.samples.ncols();
        let ranges: Vec<(f64, f64)> = (0..d).map(|j| self.range(j)).collect();
        let cells = root.split_evenly((d, d));
        let bins = self.bins.max(1);
        let truth_style = RGBColor(214, 39, 40).stroke_width(2);
        for row in 0..d {
            for col in 0..=row {
                let area = &cells[row * d + col];
                let (xr, xn) = (ranges[col], &self.names[col]);
                let x_desc = if row + 1 == d { xn.as_str() } else { "" };
                if row == col {
                    let mut counts = vec![0usize; bins];
                    for v in self.samples.column(col).iter() {
                        if let Some(b) = self.bin(*v, xr) {
                            counts[b] += 1;
                        }
                    }
                    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.08;
                    let mut chart = ChartBuilder::on(area)
                        .margin(6)
                        .x_label_area_size(38)
                        .y_label_area_size(if col == 0 { 52 } else { 12 })
                        .build_cartesian_2d(xr.0..xr.1, 0f64..top)?;
                    chart
                        .configure_mesh()
                        .disable_mesh()
                        .y_labels(0)
                        .x_labels(4)
                        .x_desc(x_desc)
                        .y_desc(if col == 0 { "draws" } else { "" })
                        .label_style(font(TICK))
                        .axis_desc_style(font(LABEL))
                        .x_label_formatter(&|v| tick(*v, xr))
                        .draw()?;
                    let width = (xr.1 - xr.0) / bins as f64;
                    let c = color(0);
                    chart.draw_series(counts.iter().enumerate().map(|(b, &k)| {
                        let x0 = xr.0 + b as f64 * width;
                        Rectangle::new([(x0, 0.0), (x0 + width, k as f64)], c.mix(0.6).filled())
                    }))?;
                    if let Some(t) = &self.truth {
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(t[col], 0.0), (t[col], top)],
                            truth_style,
                        )))?;
                    }
                } else {
                    let yr = ranges[row];
                    let mut counts = vec![0usize; bins * bins];
                    for r in self.samples.row_iter() {
                        if let (Some(a), Some(b)) = (self.bin(r[col], xr), self.bin(r[row], yr)) {
                            counts[b * bins + a] += 1;
                        }
                    }
                    let most = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
                    let mut chart = ChartBuilder::on(area)
                        .margin(6)
                        .x_label_area_size(38)
                        .y_label_area_size(if col == 0 { 52 } else { 12 })
                        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)?;
                    chart
                        .configure_mesh()
                        .disable_mesh()
                        .x_labels(4)
                        .y_labels(if col == 0 { 4 } else { 0 })
                        .x_desc(x_desc)
                        .y_desc(if col == 0 {
                            self.names[row].as_str()
                        } else {
                            ""
                        })
                        .label_style(font(TICK))
                        .axis_desc_style(font(LABEL))
                        .x_label_formatter(&|v| tick(*v, xr))
                        .y_label_formatter(&|v| tick(*v, yr))
                        .draw()?;
                    let (wx, wy) = ((xr.1 - xr.0) / bins as f64, (yr.1 - yr.0) / bins as f64);
                    let c = color(0);
                    chart.draw_series(counts.iter().enumerate().filter(|(_, k)| **k > 0).map(
                        |(cell, &k)| {
                            let (a, b) = ((cell % bins) as f64, (cell / bins) as f64);
                            let x0 = xr.0 + a * wx;
                            let y0 = yr.0 + b * wy;
                            // Square root of the count, so faint tails stay visible.
                            let shade = 0.08 + 0.92 * (k as f64 / most).sqrt();
                            Rectangle::new([(x0, y0), (x0 + wx, y0 + wy)], c.mix(shade).filled())
                        },
                    ))?;
                    if let Some(t) = &self.truth {
                        let p = (t[col], t[row]);
                        chart.draw_series([
                            PathElement::new(vec![(p.0, yr.0), (p.0, yr.1)], truth_style),
                            PathElement::new(vec![(xr.0, p.1), (xr.1, p.1)], truth_style),
                        ])?;
                        chart.draw_series(std::iter::once(Circle::new(
                            p,
                            5,
                            RGBColor(214, 39, 40).filled(),
                        )))?;
                    }
                }
            }
        }
        Ok(())
    }
}
