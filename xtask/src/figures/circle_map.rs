//! The circle map θ ↦ θ + Ω − (K/2π)·sin(2πθ) mod 1 at Ω = 0.1, K = 0.5, where no fixed point
//! exists: the graph never meets the diagonal and the iterates keep drifting round the circle.

use super::style::{self, BLUE, GREEN, GREY, ORANGE};
use super::{Chart, Context, Result};
use inn::fixedpoint::{CircleMap, orbit};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::PathBuf;

const OMEGA: f64 = 0.1;
const K: f64 = 0.5;

struct Drift {
    /// Branches of θ ↦ F(θ) mod 1, split where it wraps past 1.
    branches: Vec<Vec<(f64, f64)>>,
    /// min over θ of F(θ) − θ, on a fine grid.
    min_gap: f64,
    /// (n, θₙ mod 1).
    wrapped: Vec<(f64, f64)>,
    /// (n, θₙ) of the lift.
    lift: Vec<(f64, f64)>,
    /// Rotation number estimate (F^N(θ₀) − θ₀)/N.
    rho: f64,
    rho_iterations: usize,
    has_fixed_point: bool,
}

/// Computes the graph, the orbit and the rotation number, and draws them.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let map = CircleMap::new(OMEGA, K)?;
    let steps = ctx.pick(100, 200);
    let rho_iterations = ctx.pick(10_000, 100_000);
    let grid = 2000;
    let mut branches: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    let mut min_gap = f64::INFINITY;
    let mut previous = f64::NEG_INFINITY;
    for i in 0..=grid {
        let theta = f64::from(i) / f64::from(grid);
        let y = map.apply(theta);
        min_gap = min_gap.min(map.lift(theta) - theta);
        if y < previous {
            branches.push(Vec::new());
        }
        previous = y;
        if let Some(b) = branches.last_mut() {
            b.push((theta, y));
        }
    }
    let wrapped = orbit(|t| map.apply(t), 0.0, steps)?
        .into_iter()
        .enumerate()
        .map(|(n, t)| (n as f64, t))
        .collect();
    let lift = orbit(|t| map.lift(t), 0.0, steps)?
        .into_iter()
        .enumerate()
        .map(|(n, t)| (n as f64, t))
        .collect();
    let rho = map
        .rotation_number(0.0, rho_iterations)
        .ok_or("rotation number needs at least one iteration")?;
    let drift = Drift {
        branches,
        min_gap,
        wrapped,
        lift,
        rho,
        rho_iterations,
        has_fixed_point: map.has_fixed_point(),
    };
    ctx.render("circle_map", &drift)
}

impl Chart for Drift {
    fn size(&self) -> (u32, u32) {
        (1800, 640)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            &format!(
                "Circle map θ ↦ θ + Ω − (K/2π)·sin(2πθ) mod 1, Ω = {OMEGA}, K = {K}: {}",
                if self.has_fixed_point {
                    "a fixed point exists"
                } else {
                    "no fixed point"
                }
            ),
            style::font(style::TITLE),
        )?;
        let panels = root.split_evenly((1, 3));
        self.draw_graph(&panels[0])?;
        self.draw_wrapped(&panels[1])?;
        self.draw_lift(&panels[2])
    }
}

impl Drift {
    fn draw_graph<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let mut chart = style::panel(area, "The map never meets y = θ", 60)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        style::mesh(&mut chart)
            .x_desc("θ")
            .y_desc("F(θ) mod 1")
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        style::labelled_line(&mut chart, [(0.0, 0.0), (1.0, 1.0)], GREY, 1, "y = θ")?;
        for (i, branch) in self.branches.iter().enumerate() {
            let series = chart.draw_series(LineSeries::new(
                branch.iter().copied(),
                BLUE.stroke_width(style::LINE + 1),
            ))?;
            if i == 0 {
                series
                    .label("F(θ) mod 1")
                    .legend(style::swatch_line(BLUE, style::LINE + 1));
            }
        }
        style::series_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        let note = [
            format!("min F(θ) − θ = {:.4} > 0", self.min_gap),
            format!("(Ω − K/2π = {:.4})", OMEGA - K / std::f64::consts::TAU),
        ];
        style::note(
            chart.plotting_area(),
            &note,
            style::NotePosition::TopRightAt(0.97, 0.56),
        )?;
        Ok(())
    }

    fn draw_wrapped<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let n = self.wrapped.len().saturating_sub(1) as f64;
        let mut chart = style::panel(area, "Iterates θₙ mod 1 drift round the circle", 60)
            .build_cartesian_2d(0f64..n, 0f64..1f64)?;
        style::mesh(&mut chart)
            .x_desc("iteration n")
            .y_desc("θₙ mod 1")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_labels(6)
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        chart.draw_series(
            self.wrapped
                .iter()
                .map(|&p| Circle::new(p, 3, ORANGE.filled())),
        )?;
        Ok(())
    }

    fn draw_lift<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let n = self.lift.len().saturating_sub(1) as f64;
        let top = self.lift.iter().fold(0.0f64, |a, &(_, t)| a.max(t)) * 1.08;
        let mut chart = style::panel(
            area,
            format!("Lift θₙ grows: rotation number ρ ≈ {:.4}", self.rho),
            60,
        )
        .build_cartesian_2d(0f64..n, 0f64..top)?;
        style::mesh(&mut chart)
            .x_desc("iteration n")
            .y_desc("θₙ (lift, unwrapped)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        style::labelled_line(
            &mut chart,
            self.lift.iter().copied(),
            GREEN,
            style::LINE + 1,
            "lift θₙ from θ₀ = 0",
        )?;
        style::labelled_dashed(
            &mut chart,
            [(0.0, 0.0), (n, self.rho * n)],
            BLACK,
            1,
            format!("ρ·n (ρ from {} iterations)", self.rho_iterations),
        )?;
        style::series_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}
