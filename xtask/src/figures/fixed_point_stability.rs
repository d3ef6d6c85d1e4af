//! A stable and an unstable fixed point side by side: the logistic map at r = 2.8
//! (|f'(x*)| = 0.8) and r = 3.3 (|f'(x*)| = 1.3), cobwebs near x* = 1 − 1/r and the distance
//! |xₙ − x*| against the linearisation |f'(x*)|ⁿ·|x₀ − x*|.

use super::style::{self, BLUE, GREY, ORANGE, RED};
use super::{Chart, Context, Result};
use inn::fixedpoint::{LogisticMap, cobweb, orbit, stability};
use nalgebra::DVector;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::PathBuf;

/// Window of the cobweb panels: both fixed points and the r = 3.3 2-cycle lie inside, and the
/// top left corner stays free for the legend.
const WINDOW: (f64, f64) = (0.3, 1.0);
/// Smallest distance shown on the log axis: an orbit that lands exactly on x* in floating point
/// is drawn at this level.
const FLOOR: f64 = 1e-16;

struct Case {
    r: f64,
    x_star: f64,
    /// |f'(x*)| from the crate's numerical stability analysis.
    rate: f64,
    x0: f64,
    curve: Vec<(f64, f64)>,
    path: Vec<(f64, f64)>,
    /// (n, |xₙ − x*|).
    distance: Vec<(f64, f64)>,
    /// (n, |f'(x*)|ⁿ·|x₀ − x*|), clipped to the plot.
    linear: Vec<(f64, f64)>,
    color: RGBColor,
}

struct Stability {
    cases: [Case; 2],
    steps: usize,
}

/// Computes both cases and draws them.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let cobweb_steps = ctx.pick(25, 40);
    let steps = ctx.pick(80, 150);
    let stable = case(2.8, 0.12, cobweb_steps, steps, BLUE)?;
    let unstable = case(3.3, 0.01, cobweb_steps, steps, ORANGE)?;
    ctx.render(
        "fixed_point_stability",
        &Stability {
            cases: [stable, unstable],
            steps,
        },
    )
}

fn case(r: f64, offset: f64, cobweb_steps: usize, steps: usize, color: RGBColor) -> Result<Case> {
    let map = LogisticMap::new(r)?;
    let x_star = map.fixed_point().ok_or("no fixed point")?;
    let s = stability(
        |x: &DVector<f64>| x.map(|v| map.apply(v)),
        &DVector::from_element(1, x_star),
    )?;
    let rate = s.spectral_radius;
    let x0 = x_star + offset;
    // Only the part of the graph inside the window: plotters would pin the rest to the edge.
    let curve = (0..=400)
        .map(|i| {
            let x = WINDOW.0 + (WINDOW.1 - WINDOW.0) * f64::from(i) / 400.0;
            (x, map.apply(x))
        })
        .filter(|&(_, y)| (WINDOW.0..=WINDOW.1).contains(&y))
        .collect();
    let path = cobweb(|x| map.apply(x), x0, cobweb_steps)?;
    let distance = orbit(|x| map.apply(x), x0, steps)?
        .iter()
        .enumerate()
        .map(|(n, x)| (n as f64, (x - x_star).abs().max(FLOOR)))
        .collect();
    let linear = (0..=steps)
        .map(|n| (n as f64, rate.powi(n as i32) * offset))
        .take_while(|&(_, d)| (FLOOR..=1.0).contains(&d))
        .collect();
    Ok(Case {
        r,
        x_star,
        rate,
        x0,
        curve,
        path,
        distance,
        linear,
        color,
    })
}

impl Chart for Stability {
    fn size(&self) -> (u32, u32) {
        (1300, 1300)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            "Stable vs unstable fixed point of the logistic map (x* = 1 − 1/r)",
            style::font(style::TITLE),
        )?;
        let (top, bottom) = root.split_vertically(720);
        for (area, case) in top.split_evenly((1, 2)).iter().zip(&self.cases) {
            case.draw_cobweb(area)?;
        }
        self.draw_distances(&bottom)
    }
}

impl Case {
    fn verdict(&self) -> &'static str {
        if self.rate < 1.0 {
            "< 1: stable"
        } else {
            "> 1: unstable"
        }
    }

    fn draw_cobweb<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let caption = format!(
            "r = {}: |f'(x*)| = {:.3} {}",
            self.r,
            self.rate,
            self.verdict()
        );
        let mut chart = style::panel(area, caption, 60)
            .build_cartesian_2d(WINDOW.0..WINDOW.1, WINDOW.0..WINDOW.1)?;
        style::mesh(&mut chart)
            .x_desc("xₙ")
            .y_desc("xₙ₊₁")
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        style::labelled_line(
            &mut chart,
            [(WINDOW.0, WINDOW.0), (WINDOW.1, WINDOW.1)],
            GREY,
            1,
            "y = x",
        )?;
        style::labelled_line(
            &mut chart,
            self.curve.iter().copied(),
            self.color,
            style::LINE + 1,
            format!("f(x) = {}·x·(1 − x)", self.r),
        )?;
        chart
            .draw_series(LineSeries::new(
                self.path.iter().copied(),
                RED.mix(0.8).stroke_width(1),
            ))?
            .label(format!(
                "cobweb from x₀ = x* + {:.2}",
                self.x0 - self.x_star
            ))
            .legend(style::swatch_line(RED, 1));
        chart
            .draw_series(std::iter::once(Circle::new(
                (self.x_star, self.x_star),
                6,
                BLACK.filled(),
            )))?
            .label(format!("x* = {:.4}", self.x_star))
            .legend(|(x, y)| Circle::new((x + 12, y), 5, BLACK.filled()));
        style::series_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}

impl Stability {
    fn draw_distances<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let mut chart = style::panel(
            area,
            "Distance to the fixed point: |xₙ − x*| against the linearisation |f'(x*)|ⁿ·|x₀ − x*|",
            80,
        )
        .build_cartesian_2d(0f64..self.steps as f64, (FLOOR..1.0).log_scale())?;
        style::mesh(&mut chart)
            .x_desc("iteration n")
            .y_desc("|xₙ − x*|")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()?;
        for case in &self.cases {
            style::labelled_line(
                &mut chart,
                case.distance.iter().copied(),
                case.color,
                style::LINE,
                format!("r = {}: |xₙ − x*|", case.r),
            )?;
            style::labelled_dashed(
                &mut chart,
                case.linear.iter().copied(),
                case.color,
                style::LINE,
                format!("r = {}: {:.3}ⁿ·|x₀ − x*|", case.r, case.rate),
            )?;
        }
        style::series_legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
        Ok(())
    }
}
