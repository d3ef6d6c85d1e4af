//! The loss curves of every network the figures train (`nice_rnvp_transform`, `flow_two_moons`,
//! `inn_eight_modes`, `adhoc_inversion`), one panel per objective: maximum likelihood of the
//! flows, of the cINNs, the INNs' weighted bidirectional loss, and the forward model's squared
//! error. Each curve is the per-step minibatch loss (faint) and its moving median over 2 % of
//! the run (bold).

use super::style::{self, BLUE, GREEN, ORANGE, RED};
use super::trainings::{self, LossCurve};
use super::{Chart, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::PathBuf;

const COLORS: [RGBColor; 4] = [BLUE, ORANGE, GREEN, RED];

struct Panel {
    caption: &'static str,
    y_desc: &'static str,
    log_scale: bool,
    curves: Vec<LossCurve>,
}

struct Curves {
    panels: Vec<Panel>,
}

/// Collects the curves of all trainings (training the ones no figure has trained yet).
pub fn run(ctx: &Context) -> Result<Vec<PathBuf>> {
    let [flows, cinns, inns, forward] = trainings::all_curves(ctx)?;
    let panels = vec![
        Panel {
            caption: "Flows: maximum likelihood",
            y_desc: "−mean log p(x) (nats)",
            log_scale: false,
            curves: flows,
        },
        Panel {
            caption: "cINNs: maximum likelihood",
            y_desc: "−mean log p(x | y) + const",
            log_scale: false,
            curves: cinns,
        },
        Panel {
            caption: "INNs: λ_y·MSE + λ_z·MMD(z, y) + ramp·λ_x·MMD(x) + λ_rec·MSE",
            y_desc: "weighted loss",
            log_scale: true,
            curves: inns,
        },
        Panel {
            caption: "Forward model of adhoc_inversion",
            y_desc: "mean squared error",
            log_scale: true,
            curves: forward,
        },
    ];
    ctx.render("training_curves", &Curves { panels })
}

/// The moving median of `v` over a centred window of `2·half + 1` steps (shorter at the ends):
/// unlike a mean, it is not dragged up by the rare spike of a minibatch.
fn moving_median(v: &[f64], half: usize) -> Vec<f64> {
    (0..v.len())
        .map(|i| {
            let mut w = v[i.saturating_sub(half)..(i + half + 1).min(v.len())].to_vec();
            w.sort_by(f64::total_cmp);
            w[w.len() / 2]
        })
        .collect()
}

/// A tick label of a log axis: plain numbers from 0.01 to 10⁴, else scientific.
fn log_tick(v: f64) -> String {
    if (1e-2..1e4).contains(&v.abs()) {
        let digits = (-v.abs().log10().floor()).max(0.0) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.0e}")
    }
}

impl Chart for Curves {
    fn size(&self) -> (u32, u32) {
        (1900, 1250)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let root = root.titled(
            "Training losses of the networks in the figures (per-step minibatch loss, faint, and its moving median)",
            style::font(style::TITLE - 2),
        )?;
        for (area, panel) in root.split_evenly((2, 2)).iter().zip(&self.panels) {
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
        let smoothed: Vec<Vec<f64>> = self
            .curves
            .iter()
            .map(|c| moving_median(&c.losses, (c.losses.len() / 100).max(1)))
            .collect();
        let steps = self
            .curves
            .iter()
            .map(|c| c.losses.len())
            .max()
            .unwrap_or(1) as f64;
        // The view follows the smoothed curves after their first 2 %: the first steps of a
        // fresh network are far above the rest and would flatten everything else. Spikes of
        // the raw losses above the view are cut at its top.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for s in &smoothed {
            for &v in &s[s.len() / 50..] {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(format!("{}: no finite loss to draw", self.caption).into());
        }
        let area = area.margin(6, 6, 6, 6);
        let builder = |area| {
            let mut b = ChartBuilder::on(area);
            b.caption(self.caption, style::font(style::CAPTION))
                .margin(12)
                .x_label_area_size(50)
                .y_label_area_size(90);
            b
        };
        if self.log_scale {
            let (lo, hi) = (lo.max(1e-12) / 1.5, hi * 1.5);
            let mut chart = builder(&area).build_cartesian_2d(0f64..steps, (lo..hi).log_scale())?;
            style::mesh(&mut chart)
                .x_desc("step")
                .y_desc(self.y_desc)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_labels(8)
                .y_label_formatter(&|v| log_tick(*v))
                .draw()?;
            self.draw_curves(&mut chart, &smoothed)?;
            style::series_legend(&mut chart, SeriesLabelPosition::UpperRight)
        } else {
            let pad = 0.08 * (hi - lo).max(1e-6);
            let mut chart = builder(&area).build_cartesian_2d(0f64..steps, lo - pad..hi + pad)?;
            style::mesh(&mut chart)
                .x_desc("step")
                .y_desc(self.y_desc)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.1}"))
                .draw()?;
            self.draw_curves(&mut chart, &smoothed)?;
            style::series_legend(&mut chart, SeriesLabelPosition::UpperRight)
        }
    }

    fn draw_curves<'a, DB, X, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
        smoothed: &[Vec<f64>],
    ) -> Result<()>
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        for ((curve, smooth), color) in self.curves.iter().zip(smoothed).zip(COLORS) {
            chart.draw_series(LineSeries::new(
                curve.losses.iter().enumerate().map(|(i, &v)| (i as f64, v)),
                style::tint(color, 0.3).stroke_width(1),
            ))?;
            let final_loss = smooth.last().copied().unwrap_or(f64::NAN);
            style::labelled_line(
                chart,
                smooth.iter().enumerate().map(|(i, &v)| (i as f64, v)),
                color,
                style::LINE,
                // No wall-clock time here: figures reproduce bit for bit (the console line of
                // `reproduce-figures` reports each figure's seconds).
                format!(
                    "{}: {} steps, final {}",
                    curve.label,
                    curve.losses.len(),
                    if final_loss.abs() < 1e-2 {
                        format!("{final_loss:.1e}")
                    } else {
                        format!("{final_loss:.3}")
                    }
                ),
            )?;
        }
        Ok(())
    }
}
