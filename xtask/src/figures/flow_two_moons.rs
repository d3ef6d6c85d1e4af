//! A normalizing flow on two toy sets (two moons, eight Gaussians): the training data, base
//! samples z ~ N(0, I), the generated samples x = f⁻¹(z) (the generative direction, each point
//! coloured by the angle of its z so the wrapping of the latent plane shows), and the learned
//! log-density log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x| on a grid (the normalizing
//! direction).
//!
//! The flows are 8 RealNVP couplings with random permutations, subnets 1 → 64 → 64 → 1 (ReLU,
//! PyTorch init), trained by maximum likelihood (Adam 1e-3, cosine annealing, batch 256); the
//! trainings are shared with `training_curves`.

use super::plane::{self, Plane};
use super::style::{self, NotePosition};
use super::trainings::{self, ToyFlow};
use super::{Chart, Context, Result};
use inn::distributions::{Density, StandardNormal};
use inn::train::mean_nll;
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::f64::consts::TAU;
use std::ops::Range;
use std::path::PathBuf;

const SEED: u64 = 6;
/// The latent view.
const LATENT: Range<f64> = -4.0..4.0;
/// The heat map shows log p down to this far below its maximum.
const LOG_P_SPAN: f64 = 10.0;
/// Colour levels of the heat map (cells of equal level in a row are drawn as one rectangle).
const LEVELS: f64 = 64.0;

/// One data set's row of panels.
struct Row {
    data_name: &'static str,
    x_range: Range<f64>,
    y_range: Range<f64>,
    data: Vec<(f64, f64)>,
    /// Base samples with their colour parameter (angle / 2π).
    base: Vec<((f64, f64), f64)>,
    /// The generated samples, in the order of `base`.
    generated: Vec<(f64, f64)>,
    /// log p on a `cells × cells` grid, row-major from the bottom left.
    log_p: DMatrix<f64>,
    nll: f64,
}

struct FlowFigure {
    rows: Vec<Row>,
    /// Steps run by the two flows.
    steps: (usize, usize),
}

/// Trains (or reuses) the flows, samples them and evaluates their densities on grids.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let n = ctx.pick(1000, 2000);
    let cells = ctx.pick(60, 120);
    let flows = trainings::toy_flows(ctx)?;
    let ranges = [(-1.5..2.5, -1.5..2.0), (-4.0..4.0, -4.0..4.0)];
    let mut rows = Vec::new();
    for (model, (x_range, y_range)) in flows.flows.iter().zip(ranges) {
        rows.push(row(model, x_range, y_range, n, cells)?);
    }
    let steps = (
        flows.flows[0].curve.losses.len(),
        flows.flows[1].curve.losses.len(),
    );
    ctx.render("flow_two_moons", &FlowFigure { rows, steps })
}

fn row(
    model: &ToyFlow,
    x_range: Range<f64>,
    y_range: Range<f64>,
    n: usize,
    cells: usize,
) -> Result<Row> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let base: DMatrix<f64> =
        StandardNormal::new(2)?.sample(&inn::autodiff::Params::<f64>::new(), n, &mut rng)?;
    let generated = trainings::to_data(&model.flow, &base)?;
    let base = plane::points(&base)
        .into_iter()
        .map(|(a, b)| ((a, b), b.atan2(a).rem_euclid(TAU) / TAU))
        .collect();
    let cell_x = (x_range.end - x_range.start) / cells as f64;
    let cell_y = (y_range.end - y_range.start) / cells as f64;
    let centres = DMatrix::from_fn(cells * cells, 2, |k, j| {
        let (row, col) = (k / cells, k % cells);
        if j == 0 {
            x_range.start + (col as f64 + 0.5) * cell_x
        } else {
            y_range.start + (row as f64 + 0.5) * cell_y
        }
    });
    let log_p = model.flow.log_prob(&centres.cast::<f32>())?.cast::<f64>();
    let log_p = DMatrix::from_fn(cells, cells, |r, c| log_p[(r * cells + c, 0)]);
    Ok(Row {
        data_name: model.data_name,
        x_range,
        y_range,
        data: plane::points(&model.data.rows(0, n).into_owned()),
        base,
        generated: plane::points(&generated),
        log_p,
        nll: mean_nll(&model.flow, &model.data.clone().cast::<f32>())?,
    })
}

impl Chart for FlowFigure {
    fn size(&self) -> (u32, u32) {
        (2300, 1220)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            &format!(
                "Normalizing flow (8 RealNVP couplings, maximum likelihood: {} and {} steps, best held-out parameters): sampling and density",
                self.steps.0, self.steps.1
            ),
            style::font(style::TITLE),
        )?;
        let (header, panels) = root.split_vertically(44);
        header.draw(&Text::new(
            "generative direction: z ~ N(0, I) → x = f⁻¹(z)   ·   normalizing direction: x → z = f(x),  log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x|",
            (header.dim_in_pixel().0 as i32 / 2, 20),
            style::font(style::LEGEND + 2).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            )),
        ))?;
        let areas = panels.split_evenly((self.rows.len(), 4));
        for (row, areas) in self.rows.iter().zip(areas.chunks(4)) {
            row.draw(areas)?;
        }
        Ok(())
    }
}

impl Row {
    fn draw<DB>(&self, areas: &[DrawingArea<DB, Shift>]) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let data_axes = ("x₁", "x₂");
        let mut c = plane::plane(
            &areas[0],
            &format!("{}: training data x", self.data_name),
            self.x_range.clone(),
            self.y_range.clone(),
            data_axes,
        )?;
        plane::dots(&mut c, &self.data, 2, style::BLUE.mix(0.5))?;

        let mut c = plane::plane(
            &areas[1],
            "base samples z ~ N(0, I)",
            LATENT,
            LATENT,
            ("z₁", "z₂"),
        )?;
        let shown: Vec<_> = self
            .base
            .iter()
            .filter(|&&(p, _)| plane::inside(&c, p))
            .map(|&(p, t)| Circle::new(p, 2, style::hue(t).mix(0.8).filled()))
            .collect();
        c.draw_series(shown)?;

        let mut c = plane::plane(
            &areas[2],
            "generated x = f⁻¹(z) (generative)",
            self.x_range.clone(),
            self.y_range.clone(),
            data_axes,
        )?;
        let shown: Vec<_> = self
            .generated
            .iter()
            .zip(&self.base)
            .filter(|&(&p, _)| plane::inside(&c, p))
            .map(|(&p, &(_, t))| Circle::new(p, 2, style::hue(t).mix(0.8).filled()))
            .collect();
        c.draw_series(shown)?;

        let (map_area, bar_area) = areas[3].split_horizontally(areas[3].dim_in_pixel().0 - 110);
        let mut c = plane::plane(
            &map_area,
            "learned log p(x) (normalizing)",
            self.x_range.clone(),
            self.y_range.clone(),
            data_axes,
        )?;
        let top = self.log_p.max();
        let bottom = top - LOG_P_SPAN;
        self.draw_heat_map(&mut c, bottom, top)?;
        style::note(
            c.plotting_area(),
            &[format!("training NLL {:.3} nats", self.nll)],
            NotePosition::UpperRight,
        )?;
        style::color_bar(&bar_area, bottom..top, "log p(x)")
    }

    /// The cells of `log_p` coloured by viridis between `bottom` and `top`; equal colours next to
    /// each other in a row are merged into one rectangle (a far smaller SVG).
    fn draw_heat_map<DB>(&self, chart: &mut Plane<'_, DB>, bottom: f64, top: f64) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let cells = self.log_p.nrows();
        let cell_x = (self.x_range.end - self.x_range.start) / cells as f64;
        let cell_y = (self.y_range.end - self.y_range.start) / cells as f64;
        let level = |v: f64| (((v - bottom) / (top - bottom)).clamp(0.0, 1.0) * LEVELS).floor();
        let mut rects = Vec::new();
        for r in 0..cells {
            let mut c = 0;
            while c < cells {
                let l = level(self.log_p[(r, c)]);
                let mut end = c + 1;
                while end < cells && level(self.log_p[(r, end)]) == l {
                    end += 1;
                }
                let x0 = self.x_range.start + c as f64 * cell_x;
                let x1 = self.x_range.start + end as f64 * cell_x;
                let y0 = self.y_range.start + r as f64 * cell_y;
                rects.push(Rectangle::new(
                    [(x0, y0), (x1, y0 + cell_y)],
                    style::viridis(l / LEVELS).filled(),
                ));
                c = end;
            }
        }
        chart.draw_series(rects)?;
        Ok(())
    }
}
