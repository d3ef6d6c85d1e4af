//! A panel of the plane ℝ² in the house style, shared by the figures that draw 2-D samples,
//! grids and densities.

use super::Result;
use super::style;
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::ops::Range;

/// A chart on `x × y` axes.
pub type Plane<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Builds a captioned chart on `area` over `x × y` with axis descriptions `axes` and a light
/// mesh; the caller draws the data.
pub fn plane<'a, DB>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    x: Range<f64>,
    y: Range<f64>,
    axes: (&str, &str),
) -> Result<Plane<'a, DB>>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, style::font(style::CAPTION))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(52)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(axes.0)
        .y_desc(axes.1)
        .x_labels(7)
        .y_labels(7)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style(style::font(style::TICK))
        .axis_desc_style(style::font(style::LABEL))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(BLACK.mix(0.0))
        .draw()?;
    Ok(chart)
}

/// A tick label: whole numbers without decimals, others with one.
fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The rows of an `n × 2` batch as points.
pub fn points(m: &DMatrix<f64>) -> Vec<(f64, f64)> {
    m.row_iter().map(|r| (r[0], r[1])).collect()
}

/// Whether `p` lies in the chart's view (plotters pins points outside it to the border).
pub fn inside<DB: DrawingBackend>(chart: &Plane<'_, DB>, p: (f64, f64)) -> bool {
    chart.x_range().contains(&p.0) && chart.y_range().contains(&p.1)
}

/// Draws the points of `pts` that lie in the view as filled dots of `radius` pixels.
pub fn dots<DB>(
    chart: &mut Plane<'_, DB>,
    pts: &[(f64, f64)],
    radius: u32,
    color: RGBAColor,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let shown: Vec<(f64, f64)> = pts.iter().copied().filter(|&p| inside(chart, p)).collect();
    chart.draw_series(
        shown
            .into_iter()
            .map(|p| Circle::new(p, radius, color.filled())),
    )?;
    Ok(())
}

/// Draws the polyline `line` clipped to the view (each segment cut at the border, the
/// Liang–Barsky way), so that a line leaving the view does not run along its edge.
pub fn polyline<DB>(chart: &mut Plane<'_, DB>, line: &[(f64, f64)], style: ShapeStyle) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (x, y) = (chart.x_range(), chart.y_range());
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for w in line.windows(2) {
        match clip_segment(w[0], w[1], &x, &y) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    if current.len() > 1 {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current = vec![a];
                }
                current.push(b);
            }
            None => {
                if current.len() > 1 {
                    pieces.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() > 1 {
        pieces.push(current);
    }
    for piece in pieces {
        chart.draw_series(LineSeries::new(piece, style))?;
    }
    Ok(())
}

/// The part of the segment `a → b` inside `x × y`, if any (Liang–Barsky).
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    x: &Range<f64>,
    y: &Range<f64>,
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x.start),
        (dx, x.end - a.0),
        (-dy, a.1 - y.start),
        (dy, y.end - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            (a.0 + t * dx, a.1 + t * dy)
        }
    };
    Some((at(t0), at(t1)))
}
