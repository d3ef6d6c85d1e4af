//! Cobweb plots of the logistic map r·x·(1 − x): a stable fixed point (r = 2.8), a 2-cycle
//! (r = 3.2) and chaos (r = 3.9), side by side.

use super::style::{self, BLUE, GREY, Mark, RED};
use super::{Chart, Context, Result};
use inn::fixedpoint::{LogisticMap, cobweb};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::PathBuf;

/// Where every cobweb starts.
const X0: f64 = 0.1;

/// One panel: the map, its cobweb from [`X0`] and the attractor (or repeller) marked on the
/// diagonal.
struct Panel {
    caption: String,
    curve: Vec<(f64, f64)>,
    path: Vec<(f64, f64)>,
    /// Points on the diagonal to mark, with whether they attract.
    marks: Vec<f64>,
    marks_attract: bool,
}

struct Cobwebs {
    panels: Vec<Panel>,
}

/// Computes the three cobwebs (`steps` iterations each) and draws them.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let steps = ctx.pick(30, 80);
    let mut panels = Vec::new();
    for r in [2.8, 3.2, 3.9] {
        let map = LogisticMap::new(r)?;
        let curve = (0..=400)
            .map(|i| {
                let x = f64::from(i) / 400.0;
                (x, map.apply(x))
            })
            .collect();
        let path = cobweb(|x| map.apply(x), X0, steps)?;
        let x_star = map
            .fixed_point()
            .ok_or("the logistic map has no fixed point")?;
        let (caption, marks, marks_attract) = if let Some((a, b)) = map.two_cycle() {
            if r < 3.5 {
                (
                    format!("r = {r}: 2-cycle {{{a:.3}, {b:.3}}}"),
                    vec![a, b],
                    true,
                )
            } else {
                (
                    format!("r = {r}: chaos, x* = {x_star:.3} repels"),
                    vec![x_star],
                    false,
                )
            }
        } else {
            (
                format!("r = {r}: fixed point x* = {x_star:.3}"),
                vec![x_star],
                true,
            )
        };
        panels.push(Panel {
            caption,
            curve,
            path,
            marks,
            marks_attract,
        });
    }
    ctx.render("cobweb_logistic", &Cobwebs { panels })
}

impl Chart for Cobwebs {
    fn size(&self) -> (u32, u32) {
        (1650, 640)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            "Cobweb plots of the logistic map f(x) = r·x·(1 − x)",
            style::font(style::TITLE),
        )?;
        // One legend for all panels: a cobweb this dense leaves no free corner inside a panel.
        let (legend, panels) = root.split_vertically(40);
        style::legend_row(
            &legend,
            &[
                (Mark::Line(GREY, 1), "y = x".to_string()),
                (Mark::Line(BLUE, style::LINE + 1), "f(x)".to_string()),
                (Mark::Line(RED, 1), format!("cobweb from x₀ = {X0}")),
                (
                    Mark::Dot(BLACK),
                    "attracting fixed point / cycle".to_string(),
                ),
                (Mark::Ring(BLACK), "repelling fixed point".to_string()),
            ],
        )?;
        for (area, panel) in panels
            .split_evenly((1, self.panels.len()))
            .iter()
            .zip(&self.panels)
        {
            panel.draw(area)?;
        }
        Ok(())
    }
}

impl Panel {
    fn draw<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let mut chart =
            style::panel(area, &self.caption, 60).build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        style::mesh(&mut chart)
            .x_desc("xₙ")
            .y_desc("xₙ₊₁")
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        chart.draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            GREY.stroke_width(1),
        ))?;
        chart.draw_series(LineSeries::new(
            self.curve.iter().copied(),
            BLUE.stroke_width(style::LINE + 1),
        ))?;
        chart.draw_series(LineSeries::new(
            self.path.iter().copied(),
            RED.mix(0.8).stroke_width(1),
        ))?;
        // A repelling point is a ring on a white disc, so the cobweb does not run through it.
        let (fill, edge) = if self.marks_attract {
            (BLACK.filled(), BLACK.filled())
        } else {
            (WHITE.filled(), BLACK.stroke_width(2))
        };
        for style in [fill, edge] {
            chart.draw_series(self.marks.iter().map(|&x| Circle::new((x, x), 6, style)))?;
        }
        Ok(())
    }
}
