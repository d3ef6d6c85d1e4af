//! What a trained coupling flow does to the plane: a regular grid and samples pushed through a
//! NICE stack (additive couplings, volume preserving) and a RealNVP stack (affine couplings),
//! both trained briefly by maximum likelihood on two moons — in the normalizing direction
//! (data x → latent z = f(x)) and in the generative direction (latent z → data x = f⁻¹(z)).
//!
//! Both stacks have 4 couplings with subnets 1 → 64 → 64 → 1, each followed by an ActNorm (the
//! diagonal scaling NICE's paper ends with: additive couplings alone cannot change volume), and
//! no permutations (consecutive couplings alternate halves); RealNVP's couplings are two-sided,
//! so each transforms both halves. The trainings are shared with `training_curves`.

use super::plane::{self, Plane};
use super::style::{self, BLUE, Mark, NotePosition, RED};
use super::trainings::{self, ToyFlow};
use super::{Chart, Context, Result};
use inn::distributions::{Density, StandardNormal};
use inn::train::mean_nll;
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::ops::Range;
use std::path::PathBuf;

const SEED: u64 = 5;
/// The data-space view and grid (two moons lie in about [−1.1, 2.1] × [−0.6, 1.1]).
const DATA_X: Range<f64> = -1.5..2.5;
const DATA_Y: Range<f64> = -1.5..2.0;
/// The data grid's lines: every 0.25 over this box.
const DATA_GRID: ([f64; 2], [f64; 2], f64) = ([-1.25, -0.75], [2.25, 1.5], 0.25);
/// The latent view and grid.
const LATENT: Range<f64> = -4.0..4.0;
const LATENT_GRID: ([f64; 2], [f64; 2], f64) = ([-3.0, -3.0], [3.0, 3.0], 0.5);
/// Points per grid line (the mapped lines are drawn through them).
const LINE_POINTS: usize = 120;

/// A grid: lines of constant first coordinate and lines of constant second coordinate.
struct Grid {
    first_const: Vec<Vec<(f64, f64)>>,
    second_const: Vec<Vec<(f64, f64)>>,
}

/// The four panels of one model.
struct Row {
    name: String,
    data_grid: Grid,
    data: Vec<(f64, f64)>,
    latent_of_grid: Grid,
    latent_of_data: Vec<(f64, f64)>,
    latent_grid: Grid,
    base: Vec<(f64, f64)>,
    data_of_grid: Grid,
    generated: Vec<(f64, f64)>,
    nll: f64,
    log_det: (f64, f64),
}

struct Transform {
    rows: Vec<Row>,
    /// Steps run by the NICE and the RealNVP stack.
    steps: (usize, usize),
}

/// Trains (or reuses) the two stacks and maps the grids and samples both ways.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let n = ctx.pick(600, 1500);
    let flows = trainings::couplings(ctx)?;
    let mut rows = Vec::new();
    for model in [&flows.nice, &flows.real_nvp] {
        rows.push(map_both_ways(model, n)?);
    }
    let steps = (
        flows.nice.curve.losses.len(),
        flows.real_nvp.curve.losses.len(),
    );
    ctx.render("nice_rnvp_transform", &Transform { rows, steps })
}

fn map_both_ways(model: &ToyFlow, n: usize) -> Result<Row> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let data = model.data.rows(0, n).into_owned();
    let base: DMatrix<f64> =
        StandardNormal::new(2)?.sample(&inn::autodiff::Params::<f64>::new(), n, &mut rng)?;
    let (latent_of_data, log_det) = trainings::to_latent(&model.flow, &data)?;
    let generated = trainings::to_data(&model.flow, &base)?;
    let data_grid = grid(DATA_GRID);
    let latent_grid = grid(LATENT_GRID);
    let latent_of_grid = map_grid(&data_grid, |m| Ok(trainings::to_latent(&model.flow, m)?.0))?;
    let data_of_grid = map_grid(&latent_grid, |m| trainings::to_data(&model.flow, m))?;
    let nll = mean_nll(&model.flow, &model.data.clone().cast::<f32>())?;
    let log_det = (log_det.min(), log_det.max());
    Ok(Row {
        name: model.model_name.clone(),
        data_grid,
        data: plane::points(&data),
        latent_of_grid,
        latent_of_data: plane::points(&latent_of_data),
        latent_grid,
        base: plane::points(&base),
        data_of_grid,
        generated: plane::points(&generated),
        nll,
        log_det,
    })
}

/// The lines of a grid over the box `lo..hi` with spacing `step`.
fn grid((lo, hi, step): ([f64; 2], [f64; 2], f64)) -> Grid {
    let ticks = |a: f64, b: f64| {
        let k = ((b - a) / step).round() as usize;
        (0..=k).map(move |i| a + step * i as f64)
    };
    let line = |a: f64, b: f64| {
        (0..LINE_POINTS).map(move |i| a + (b - a) * i as f64 / (LINE_POINTS - 1) as f64)
    };
    Grid {
        first_const: ticks(lo[0], hi[0])
            .map(|c| line(lo[1], hi[1]).map(|t| (c, t)).collect())
            .collect(),
        second_const: ticks(lo[1], hi[1])
            .map(|c| line(lo[0], hi[0]).map(|t| (t, c)).collect())
            .collect(),
    }
}

/// Every line of `grid` through `map` (one batch for all points).
fn map_grid(grid: &Grid, map: impl Fn(&DMatrix<f64>) -> Result<DMatrix<f64>>) -> Result<Grid> {
    let lines: Vec<&Vec<(f64, f64)>> = grid.first_const.iter().chain(&grid.second_const).collect();
    let all: Vec<(f64, f64)> = lines.iter().flat_map(|l| l.iter().copied()).collect();
    let mapped = map(&DMatrix::from_fn(all.len(), 2, |i, j| {
        if j == 0 { all[i].0 } else { all[i].1 }
    }))?;
    let mut out = plane::points(&mapped).into_iter();
    let mut take = |count: usize| -> Vec<Vec<(f64, f64)>> {
        (0..count)
            .map(|_| out.by_ref().take(LINE_POINTS).collect())
            .collect()
    };
    Ok(Grid {
        first_const: take(grid.first_const.len()),
        second_const: take(grid.second_const.len()),
    })
}

impl Chart for Transform {
    fn size(&self) -> (u32, u32) {
        (2200, 1180)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            &format!(
                "Coupling flows (4 blocks, each + ActNorm) trained on two moons ({} and {} steps, best held-out parameters): a grid and samples mapped both ways",
                self.steps.0, self.steps.1
            ),
            style::font(style::TITLE - 4),
        )?;
        let (legend, panels) = root.split_vertically(40);
        style::legend_row(
            &legend,
            &[
                (
                    Mark::Line(RED, 2),
                    "grid line x₁ = const (z₁ = const)".to_string(),
                ),
                (
                    Mark::Line(BLUE, 2),
                    "grid line x₂ = const (z₂ = const)".to_string(),
                ),
                (Mark::Dot(BLACK), "samples (data or base)".to_string()),
            ],
        )?;
        let rows = panels.split_evenly((self.rows.len(), 4));
        for (row, areas) in self.rows.iter().zip(rows.chunks(4)) {
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
        let name = &self.name;
        let data_axes = ("x₁", "x₂");
        let latent_axes = ("z₁", "z₂");
        let mut c = plane::plane(
            &areas[0],
            &format!("{name}: data x and a grid in x"),
            DATA_X,
            DATA_Y,
            data_axes,
        )?;
        draw_grid(&mut c, &self.data_grid)?;
        plane::dots(&mut c, &self.data, 2, BLACK.mix(0.45))?;

        let mut c = plane::plane(
            &areas[1],
            &format!("{name}: x → z = f(x) (normalizing)"),
            LATENT,
            LATENT,
            latent_axes,
        )?;
        draw_grid(&mut c, &self.latent_of_grid)?;
        plane::dots(&mut c, &self.latent_of_data, 2, BLACK.mix(0.45))?;
        style::note(
            &c.plotting_area().strip_coord_spec(),
            &[
                format!("NLL {:.3} nats", self.nll),
                format!(
                    "log|det ∂f/∂x| ∈ [{:.2}, {:.2}]",
                    self.log_det.0, self.log_det.1
                ),
            ],
            NotePosition::UpperRight,
        )?;

        let mut c = plane::plane(
            &areas[2],
            &format!("{name}: z ~ N(0, I) and a grid in z"),
            LATENT,
            LATENT,
            latent_axes,
        )?;
        draw_grid(&mut c, &self.latent_grid)?;
        plane::dots(&mut c, &self.base, 2, BLACK.mix(0.45))?;

        let mut c = plane::plane(
            &areas[3],
            &format!("{name}: z → x = f⁻¹(z) (generative)"),
            DATA_X,
            DATA_Y,
            data_axes,
        )?;
        draw_grid(&mut c, &self.data_of_grid)?;
        plane::dots(&mut c, &self.generated, 2, BLACK.mix(0.45))?;
        Ok(())
    }
}

fn draw_grid<DB>(chart: &mut Plane<'_, DB>, grid: &Grid) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    for (lines, color) in [(&grid.first_const, RED), (&grid.second_const, BLUE)] {
        for line in lines {
            plane::polyline(chart, line, style::tint(color, 0.6).stroke_width(1))?;
        }
    }
    Ok(())
}
