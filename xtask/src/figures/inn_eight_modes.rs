//! The eight-modes toy of Ardizzone et al. 2018 with labels `some` (`[0, 0, 0, 0, 1, 1, 2, 3]`:
//! label 0 covers four modes): the training data coloured by label, and for every label the
//! posterior samples of an INN (x = f⁻¹([z, 0, y])), of a cINN (x = f⁻¹(z; y)) and of the exact
//! posterior (`LabelMap::posterior_sample`), with the fraction of samples within 3σ of a mode
//! carrying the label.
//!
//! The INN has the paper's toy settings (N_tot 16, 8 GLOW blocks, loss weights 3 / 300 / 400 / 3,
//! the y/pad/reconstruction noise, Adam with betas (0.8, 0.9)) with narrower subnets and fewer
//! steps; the cINN the same stack, conditioned on the one-hot label, trained by maximum
//! likelihood. The trainings are shared with `training_curves`.

use super::plane;
use super::style::{self, BLUE, GREEN, Mark, NotePosition, ORANGE, RED};
use super::trainings;
use super::{Chart, Context, Result};
use inn::data::LabelMap;
use inn::data::toy::EIGHT_MODES_SIGMA;
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::PathBuf;

const SEED: u64 = 7;
const LABELS: LabelMap = LabelMap::Some;
const COLORS: [RGBColor; 4] = [BLUE, ORANGE, GREEN, RED];
/// A sample counts as in a mode when it is within this many σ of the mode's centre.
const RADIUS_SIGMAS: f64 = 3.0;

/// One panel: samples per label, and the fraction of each label's samples in its modes.
struct Panel {
    caption: String,
    per_label: Vec<Vec<(f64, f64)>>,
    fractions: Option<Vec<f64>>,
}

struct EightModesFigure {
    panels: Vec<Panel>,
    legend: Vec<String>,
    steps: (usize, usize),
}

/// Trains (or reuses) the INN and cINN, samples every label's posterior three ways and draws.
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let n = ctx.pick(300, 500);
    let models = trainings::eight_modes_models(ctx)?;
    let n_labels = LABELS.n_labels();
    let mut rng = StdRng::seed_from_u64(SEED);
    let y_dim = models.data.y_onehot.ncols();
    let y_obs = DMatrix::from_fn(n_labels, y_dim, |i, j| if i == j { 1.0f32 } else { 0.0 });
    let inn = models.inn.posterior(&y_obs, n, &mut rng)?;
    let cinn = models.cinn.posterior(&y_obs, n, &mut rng)?;
    let exact = (0..n_labels)
        .map(|label| Ok(LABELS.posterior_sample(label, n, &mut rng)?.cast::<f32>()))
        .collect::<Result<Vec<_>>>()?;

    let shown = ctx.pick(1500, 3000).min(models.data.x.nrows());
    let mut training = vec![Vec::new(); n_labels];
    for i in 0..shown {
        let x = models.data.x.row(i);
        training[models.data.label[i]].push((x[0], x[1]));
    }
    let mut panels = vec![Panel {
        caption: format!(
            "training data ({shown} of {}), by label",
            models.data.x.nrows()
        ),
        per_label: training,
        fractions: None,
    }];
    for (caption, samples) in [
        ("INN: x = f⁻¹([z, 0, y]), z ~ N(0, I)", &inn),
        ("cINN: x = f⁻¹(z; y), z ~ N(0, I)", &cinn),
        ("exact posterior p(x | y)", &exact),
    ] {
        let mut fractions = Vec::with_capacity(n_labels);
        let mut per_label = Vec::with_capacity(n_labels);
        for (label, s) in samples.iter().enumerate() {
            let s = s.clone().cast::<f64>();
            fractions.push(LABELS.fraction_near_modes(
                label,
                &s,
                RADIUS_SIGMAS * EIGHT_MODES_SIGMA,
            )?);
            per_label.push(plane::points(&s));
        }
        panels.push(Panel {
            caption: caption.to_string(),
            per_label,
            fractions: Some(fractions),
        });
    }
    let legend = (0..n_labels)
        .map(|label| {
            let modes = LABELS.modes_for_label(label);
            let modes: Vec<String> = modes.iter().map(|m| (m + 1).to_string()).collect();
            format!(
                "y = label {label} (mode{} {})",
                if modes.len() > 1 { "s" } else { "" },
                modes.join(", ")
            )
        })
        .collect();
    let steps = (
        models.inn_curve.losses.len(),
        models.cinn_curve.losses.len(),
    );
    ctx.render(
        "inn_eight_modes",
        &EightModesFigure {
            panels,
            legend,
            steps,
        },
    )
}

impl Chart for EightModesFigure {
    fn size(&self) -> (u32, u32) {
        (2200, 690)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            &format!(
                "Eight modes (Ardizzone et al. 2018), labels = some: posterior samples per label (INN {} steps, cINN {} steps; best held-out parameters)",
                self.steps.0, self.steps.1
            ),
            style::font(style::TITLE - 2),
        )?;
        let (legend, panels) = root.split_vertically(40);
        let entries: Vec<(Mark, String)> = self
            .legend
            .iter()
            .zip(COLORS)
            .map(|(text, color)| (Mark::Dot(color), text.clone()))
            .collect();
        style::legend_row(&legend, &entries)?;
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
        let mut chart = plane::plane(area, &self.caption, -3.5..3.5, -3.5..3.5, ("x₁", "x₂"))?;
        for (points, color) in self.per_label.iter().zip(COLORS) {
            plane::dots(&mut chart, points, 2, color.mix(0.55))?;
        }
        if let Some(fractions) = &self.fractions {
            let mut lines = vec![
                "within 3σ of a mode".to_string(),
                "of the label:".to_string(),
            ];
            lines.extend(
                fractions
                    .iter()
                    .enumerate()
                    .map(|(label, f)| format!("label {label}: {:.1} %", 100.0 * f)),
            );
            style::note(
                chart.plotting_area(),
                &lines,
                NotePosition::TopRightAt(0.69, 0.27),
            )?;
        }
        Ok(())
    }
}
