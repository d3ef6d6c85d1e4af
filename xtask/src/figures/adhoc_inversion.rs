//! Ad-hoc inversion against learned posteriors on `y = ‖x‖²`, `x ∈ [−2, 2]²`, observed
//! `y* = 2` (the level set is the circle of radius √2): gradient descent on x through a trained
//! forward model `f` from 64 uniform starts (`inn::invert::gradient_descent`, Adam lr 1e-2, the
//! path recorded by rerunning it for a growing number of steps: Adam is deterministic, so the
//! point after k steps is the k-th iterate), beside 64 posterior samples of a cINN and of an INN
//! trained on the same pairs. For uniform x the exact posterior is uniform on the circle.
//!
//! Gradient descent lands on the level set but where it lands is set by the start (the radial
//! projection of it), and a start near the origin, where ∇f ≈ 0, moves slowly; the invertible
//! networks draw points on the circle in proportion to the posterior. The trainings are shared
//! with `training_curves`.

use super::plane;
use super::style::{self, BLUE, GREEN, GREY, Mark, ORANGE, RED};
use super::trainings::{self, LEVEL_SET_BOX};
use super::{Chart, Context, Result};
use inn::invert::{Inversion, InvertOptions, gradient_descent, uniform_starts};
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::f64::consts::{PI, TAU};
use std::path::PathBuf;

const SEED: u64 = 8;
const Y_STAR: f64 = 2.0;
const N_STARTS: usize = 64;
/// Angle bins for the coverage of the circle (64 uniform angles hit 30.1 of 36 on average).
const BINS: usize = 36;
const VIEW: std::ops::Range<f64> = -2.5..2.5;
/// A point counts as on the level set when ‖x‖² is within this of y*.
const NEAR: f64 = 0.1;

/// How a set of candidate solutions sits on the level set.
struct Summary {
    median_error: f64,
    near: f64,
    bins_hit: usize,
}

impl Summary {
    fn of(points: &[(f64, f64)]) -> Self {
        let mut errors: Vec<f64> = points
            .iter()
            .map(|&(a, b)| (a * a + b * b - Y_STAR).abs())
            .collect();
        errors.sort_by(f64::total_cmp);
        let mut hit = [false; BINS];
        for &(a, b) in points {
            let angle = b.atan2(a) + PI;
            hit[((angle / TAU * BINS as f64) as usize).min(BINS - 1)] = true;
        }
        Self {
            median_error: errors.get(errors.len() / 2).copied().unwrap_or(f64::NAN),
            near: errors.iter().filter(|&&e| e <= NEAR).count() as f64 / errors.len().max(1) as f64,
            bins_hit: hit.iter().filter(|&&h| h).count(),
        }
    }

    fn lines(&self) -> [String; 3] {
        [
            format!("median |‖x‖² − y*| = {:.1e}", self.median_error),
            format!("within |‖x‖² − y*| ≤ {NEAR}: {:.0} %", 100.0 * self.near),
            format!(
                "angle bins of 10° hit: {}/{BINS} (64 uniform angles: 30.1)",
                self.bins_hit
            ),
        ]
    }
}

struct Descent {
    starts: Vec<(f64, f64)>,
    paths: Vec<Vec<(f64, f64)>>,
    ends: Vec<(f64, f64)>,
    converged: Vec<bool>,
    clusters: usize,
    max_steps: usize,
}

struct AdhocFigure {
    descent: Descent,
    cinn: Vec<(f64, f64)>,
    inn: Vec<(f64, f64)>,
    circle: Vec<(f64, f64)>,
}

/// Trains (or reuses) the models, runs gradient descent with its path, samples the posteriors.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let models = trainings::level_set_models(ctx)?;
    let mut rng = StdRng::seed_from_u64(SEED);
    let (lo, hi) = LEVEL_SET_BOX;
    let starts = uniform_starts::<f64, _>(N_STARTS, &[lo, lo], &[hi, hi], &mut rng)?;
    let y = DMatrix::from_element(1, 1, Y_STAR);
    let opts = InvertOptions {
        steps: ctx.pick(600, 2000),
        // One tape for all starts: the rows are independent, and it is much faster.
        chunk_size: N_STARTS,
        ..InvertOptions::default()
    };
    let (net, params) = (&models.net, &models.params);
    let descend = |steps: usize| -> Result<Inversion<f64>> {
        Ok(gradient_descent(
            |tape, x| Ok(net.forward(&params.bind(tape), x)?),
            &y,
            &starts,
            &InvertOptions {
                steps,
                ..opts.clone()
            },
        )?)
    };
    let last = descend(opts.steps)?;
    // The path: the iterate after k steps for k on a grid that is dense early (where the
    // points move most) and sparse late; starts stop once converged.
    let mut checkpoints: Vec<usize> = (1..=40).collect();
    let mut k = 40usize;
    while k < opts.steps {
        k = (k * 5 / 4).min(opts.steps);
        checkpoints.push(k);
    }
    let max_used = last.steps.iter().copied().max().unwrap_or(0);
    let mut paths: Vec<Vec<(f64, f64)>> = plane::points(&starts)
        .into_iter()
        .map(|p| vec![p])
        .collect();
    for &k in checkpoints.iter().filter(|&&k| k < max_used) {
        let at = descend(k)?;
        for (path, p) in paths.iter_mut().zip(plane::points(&at.x)) {
            path.push(p);
        }
    }
    for (path, p) in paths.iter_mut().zip(plane::points(&last.x)) {
        path.push(p);
    }

    let y_obs = DMatrix::from_element(1, 1, Y_STAR as f32);
    let cinn = models.cinn.posterior(&y_obs, N_STARTS, &mut rng)?.remove(0);
    let inn = models.inn.posterior(&y_obs, N_STARTS, &mut rng)?.remove(0);
    let r = Y_STAR.sqrt();
    let circle = (0..=360)
        .map(|i| {
            let t = TAU * f64::from(i) / 360.0;
            (r * t.cos(), r * t.sin())
        })
        .collect();
    let figure = AdhocFigure {
        descent: Descent {
            starts: plane::points(&starts),
            paths,
            ends: plane::points(&last.x),
            converged: last.converged.clone(),
            clusters: last.clusters.len(),
            max_steps: opts.steps,
        },
        cinn: plane::points(&cinn.cast::<f64>()),
        inn: plane::points(&inn.cast::<f64>()),
        circle,
    };
    ctx.render("adhoc_inversion", &figure)
}

impl Chart for AdhocFigure {
    fn size(&self) -> (u32, u32) {
        (2000, 860)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            &format!(
                "Inverting y = f(x) ≈ ‖x‖² at y* = {Y_STAR}: gradient descent from {N_STARTS} starts vs posterior samples"
            ),
            style::font(style::TITLE),
        )?;
        let (legend, panels) = root.split_vertically(40);
        style::legend_row(
            &legend,
            &[
                (Mark::Line(GREY, 2), "level set ‖x‖² = y*".to_string()),
                (Mark::Ring(GREY), "start x₀".to_string()),
                (Mark::Line(BLUE, 1), "descent path".to_string()),
                (Mark::Dot(BLUE), "converged end point".to_string()),
                (Mark::Dot(RED), "not converged".to_string()),
                (Mark::Dot(GREEN), "cINN sample".to_string()),
                (Mark::Dot(ORANGE), "INN sample".to_string()),
            ],
        )?;
        let areas = panels.split_evenly((1, 3));
        let d = &self.descent;
        let n_conv = d.converged.iter().filter(|&&c| c).count();
        let ends: Vec<(f64, f64)> = d
            .ends
            .iter()
            .zip(&d.converged)
            .filter(|(_, c)| **c)
            .map(|(p, _)| *p)
            .collect();
        let [e1, e2, e3] = Summary::of(&ends).lines();
        self.panel(
            &areas[0],
            &format!("gradient descent on x (Adam, ≤ {} steps)", d.max_steps),
            &[
                format!(
                    "{n_conv}/{N_STARTS} converged (f(x) within 1e-4 of y*), {} distinct",
                    d.clusters
                ),
                format!("{e1} (the error of the learned f)"),
                e2,
                e3,
            ],
            |chart| {
                for path in &d.paths {
                    plane::polyline(chart, path, style::tint(BLUE, 0.6).stroke_width(1))?;
                }
                chart.draw_series(
                    d.starts
                        .iter()
                        .map(|&p| Circle::new(p, 4, GREY.stroke_width(1))),
                )?;
                let (ends, stuck): (Vec<_>, Vec<_>) =
                    d.ends.iter().zip(&d.converged).partition(|(_, c)| **c);
                let ends: Vec<(f64, f64)> = ends.into_iter().map(|(p, _)| *p).collect();
                let stuck: Vec<(f64, f64)> = stuck.into_iter().map(|(p, _)| *p).collect();
                plane::dots(chart, &ends, 4, BLUE.to_rgba())?;
                plane::dots(chart, &stuck, 4, RED.to_rgba())?;
                Ok(())
            },
        )?;
        for (area, caption, samples, color) in [
            (
                &areas[1],
                "cINN: x = f⁻¹(z; y*), z ~ N(0, I)",
                &self.cinn,
                GREEN,
            ),
            (
                &areas[2],
                "INN: x = f⁻¹([z, 0, y*]), z ~ N(0, I)",
                &self.inn,
                ORANGE,
            ),
        ] {
            let [a, b, c] = Summary::of(samples).lines();
            self.panel(
                area,
                &format!("{caption}, {N_STARTS} samples"),
                &[
                    format!("{N_STARTS} samples from one pass through the network"),
                    a,
                    b,
                    c,
                ],
                |chart| plane::dots(chart, samples, 4, color.mix(0.85)),
            )?;
        }
        Ok(())
    }
}

impl AdhocFigure {
    /// A panel with the level set, the points `draw` adds, and `notes` in a strip below.
    fn panel<DB>(
        &self,
        area: &DrawingArea<DB, Shift>,
        caption: &str,
        notes: &[String],
        draw: impl FnOnce(&mut plane::Plane<'_, DB>) -> Result<()>,
    ) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let h = area.dim_in_pixel().1;
        let (top, bottom) = area.split_vertically(h - 30 * notes.len() as u32 - 10);
        let mut chart = plane::plane(&top, caption, VIEW, VIEW, ("x₁", "x₂"))?;
        plane::polyline(&mut chart, &self.circle, GREY.stroke_width(2))?;
        draw(&mut chart)?;
        for (i, line) in notes.iter().enumerate() {
            bottom.draw(&Text::new(
                line.clone(),
                (62, 8 + 30 * i as i32),
                style::font(style::LEGEND),
            ))?;
        }
        Ok(())
    }
}
