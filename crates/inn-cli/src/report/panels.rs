//! The panels of the calibration report: the SBC ECDF difference with its band, the coverage
//! curve, the recovery scatter and the contraction–z-score scatter.

use super::{CAPTION, DrawResult, Figure, LABEL, TICK, color, font, tick};
use inn::diagnostics::{Coverage, Diagnostics, EcdfBand, ParameterRecovery, SbcParameter};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Splits `area` into `n` panels, at most three per row.
pub fn grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    n: usize,
) -> Vec<DrawingArea<DB, Shift>> {
    let cols = n.clamp(1, 3);
    let rows = n.div_ceil(cols).max(1);
    let mut panels = area.split_evenly((rows, cols));
    panels.truncate(n);
    panels
}

fn grey() -> RGBColor {
    RGBColor(110, 110, 110)
}

/// The outline of a simultaneous ECDF band as a closed polygon in `(z, ECDF(z) − z)`: from
/// `(0, 0)` along the upper edge to `(1, 0)` and back along the lower edge.
pub fn band_outline(band: &EcdfBand) -> Vec<(f64, f64)> {
    let upper = band.grid.iter().zip(&band.upper);
    let lower = band.grid.iter().zip(&band.lower).rev();
    std::iter::once((0.0, 0.0))
        .chain(upper.map(|(z, u)| (*z, *u)))
        .chain(std::iter::once((1.0, 0.0)))
        .chain(lower.map(|(z, l)| (*z, *l)))
        .collect()
}

/// The ECDF difference `F̂(z) − z` of one parameter's fractional ranks (`sbc`) inside the
/// simultaneous band of `band` (shaded); a calibrated parameter stays inside the band.
pub fn ecdf_panel<DB>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    band: &EcdfBand,
    sbc: &SbcParameter,
    line: RGBColor,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let extent = band
        .upper
        .iter()
        .chain(&band.lower)
        .chain(&sbc.ecdf_diff)
        .fold(0.05f64, |m, v| m.max(v.abs()))
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(CAPTION))
        .margin(10)
        .x_label_area_size(42)
        .y_label_area_size(62)
        .build_cartesian_2d(0f64..1f64, -extent..extent)?;
    chart
        .configure_mesh()
        .x_desc("fractional rank z")
        .y_desc("ECDF(z) − z")
        .label_style(font(TICK))
        .axis_desc_style(font(LABEL))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(BLACK.mix(0.03))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .draw()?;
    chart
        .draw_series(std::iter::once(Polygon::new(
            band_outline(band),
            line.mix(0.15).filled(),
        )))?
        .label(format!("{:.0} % simultaneous band", 100.0 * band.level))
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 6), (x + 20, y + 6)], line.mix(0.15).filled())
        });
    chart.draw_series(LineSeries::new(
        [(0.0, 0.0), (1.0, 0.0)],
        grey().stroke_width(1),
    ))?;
    let points = std::iter::once((0.0, 0.0))
        .chain(band.grid.iter().copied().zip(sbc.ecdf_diff.iter().copied()))
        .chain(std::iter::once((1.0, 0.0)));
    chart
        .draw_series(LineSeries::new(points, line.stroke_width(2)))?
        .label("ECDF difference")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(font(TICK))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// The expected coverage of central intervals (one line per parameter) and of the joint
/// highest-density region (black, where available) against the credible level, with the
/// diagonal and a ±2 binomial standard error band around it; a calibrated model follows the
/// diagonal, an overconfident one runs below it.
pub fn coverage_panel<DB>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    coverage: &Coverage,
    names: &[String],
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(CAPTION))
        .margin(10)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("credible level α")
        .y_desc("fraction of x* inside")
        .label_style(font(TICK))
        .axis_desc_style(font(LABEL))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(BLACK.mix(0.03))
        .draw()?;
    let levels = &coverage.levels;
    let mut band: Vec<(f64, f64)> = vec![(0.0, 0.0)];
    band.extend(
        levels
            .iter()
            .zip(&coverage.standard_error)
            .map(|(a, s)| (*a, (a + 2.0 * s).min(1.0))),
    );
    band.push((1.0, 1.0));
    band.extend(
        levels
            .iter()
            .zip(&coverage.standard_error)
            .rev()
            .map(|(a, s)| (*a, (a - 2.0 * s).max(0.0))),
    );
    chart
        .draw_series(std::iter::once(Polygon::new(
            band,
            grey().mix(0.15).filled(),
        )))?
        .label("ideal ± 2 s.e.")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], grey().mix(0.15).filled()));
    chart.draw_series(LineSeries::new(
        [(0.0, 0.0), (1.0, 1.0)],
        grey().stroke_width(1),
    ))?;
    for (j, central) in coverage.central.iter().enumerate() {
        let c = color(j);
        let name = names.get(j).map_or("?", String::as_str);
        chart
            .draw_series(LineSeries::new(
                levels.iter().copied().zip(central.iter().copied()),
                c.stroke_width(2),
            ))?
            .label(format!("{name} (central)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    if let Some(hpd) = &coverage.hpd {
        chart
            .draw_series(LineSeries::new(
                levels.iter().copied().zip(hpd.iter().copied()),
                BLACK.stroke_width(3),
            ))?
            .label("joint (highest density)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(font(TICK))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// Posterior means (dots) and central intervals (bars) against the true values of one
/// parameter, with the diagonal; R² in the caption.
pub fn recovery_panel<DB>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    r: &ParameterRecovery,
    c: RGBColor,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (lo, hi) = r
        .truth
        .iter()
        .chain(&r.lower)
        .chain(&r.upper)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let range = (lo - pad)..(hi + pad);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(CAPTION))
        .margin(10)
        .x_label_area_size(42)
        .y_label_area_size(62)
        .build_cartesian_2d(range.clone(), range.clone())?;
    chart
        .configure_mesh()
        .x_desc("true value x*")
        .y_desc("posterior mean")
        .label_style(font(TICK))
        .axis_desc_style(font(LABEL))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(BLACK.mix(0.03))
        .x_label_formatter(&|v| tick(*v, (range.start, range.end)))
        .y_label_formatter(&|v| tick(*v, (range.start, range.end)))
        .draw()?;
    chart.draw_series(LineSeries::new(
        [(range.start, range.start), (range.end, range.end)],
        grey().stroke_width(1),
    ))?;
    chart.draw_series(
        r.truth
            .iter()
            .zip(r.lower.iter().zip(&r.upper))
            .map(|(t, (l, u))| {
                PathElement::new(vec![(*t, *l), (*t, *u)], c.mix(0.25).stroke_width(1))
            }),
    )?;
    chart.draw_series(
        r.truth
            .iter()
            .zip(&r.mean)
            .map(|(t, m)| Circle::new((*t, *m), 3, c.filled())),
    )?;
    Ok(())
}

/// Posterior contraction against z-score for every observation and parameter (one colour per
/// parameter), with the lines z = ±2; a calibrated model keeps about 95 % of the points between
/// them, a useful one has contraction near 1.
pub fn contraction_panel<DB>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    recovery: &[ParameterRecovery],
    names: &[String],
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    // Points beyond these limits are drawn at the edge, so a wild outlier does not squash the rest.
    const Z_LIMIT: f64 = 8.0;
    const C_LIMIT: f64 = -1.0;
    let z_extent = recovery
        .iter()
        .flat_map(|r| &r.z)
        .fold(3.0f64, |m, z| m.max(z.abs().min(Z_LIMIT)))
        * 1.05;
    let c_min = recovery
        .iter()
        .flat_map(|r| &r.contraction)
        .fold(0.0f64, |m, c| m.min(c.max(C_LIMIT)));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(CAPTION))
        .margin(10)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d((c_min - 0.02)..1.02, -z_extent..z_extent)?;
    chart
        .configure_mesh()
        .x_desc("posterior contraction 1 − Var_post / Var_prior")
        .y_desc("z-score (mean − x*) / sd")
        .label_style(font(TICK))
        .axis_desc_style(font(LABEL))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(BLACK.mix(0.03))
        .draw()?;
    for z in [-2.0, 2.0] {
        chart.draw_series(DashedLineSeries::new(
            [(c_min - 0.02, z), (1.02, z)],
            6,
            4,
            grey().stroke_width(1),
        ))?;
    }
    for (j, r) in recovery.iter().enumerate() {
        let c = color(j);
        let name = names.get(j).map_or("?", String::as_str);
        chart
            .draw_series(r.contraction.iter().zip(&r.z).map(|(k, z)| {
                Circle::new(
                    (k.max(C_LIMIT), z.clamp(-Z_LIMIT, Z_LIMIT)),
                    3,
                    c.mix(0.7).filled(),
                )
            }))?
            .label(name.to_string())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font(font(TICK))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// One of the four figures of `inn check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFigureKind {
    /// SBC: the ECDF difference per parameter with its band.
    Sbc,
    /// Coverage curves.
    Coverage,
    /// Recovery scatter per parameter.
    Recovery,
    /// Contraction against z-score.
    Contraction,
}

impl CheckFigureKind {
    /// Every figure, in report order.
    pub const ALL: [CheckFigureKind; 4] = [
        CheckFigureKind::Sbc,
        CheckFigureKind::Coverage,
        CheckFigureKind::Recovery,
        CheckFigureKind::Contraction,
    ];

    /// File stem (`sbc_ecdf`, `coverage`, `recovery`, `contraction_z`).
    pub fn stem(self) -> &'static str {
        match self {
            CheckFigureKind::Sbc => "sbc_ecdf",
            CheckFigureKind::Coverage => "coverage",
            CheckFigureKind::Recovery => "recovery",
            CheckFigureKind::Contraction => "contraction_z",
        }
    }

    /// What a reader should look for, one sentence.
    pub fn explanation(self) -> &'static str {
        match self {
            CheckFigureKind::Sbc => {
                "Simulation-based calibration: the ECDF of the ranks of each true parameter among its posterior draws, minus the uniform CDF. A calibrated parameter stays inside the shaded simultaneous band; a curve above zero on the left and below on the right is overconfidence, the mirror image underconfidence, a one-sided hump bias."
            }
            CheckFigureKind::Coverage => {
                "Expected coverage: the fraction of true parameters inside the posterior's α-credible regions (central intervals per parameter; joint highest-density regions in black). Calibrated: on the diagonal; below it: overconfident; above: underconfident."
            }
            CheckFigureKind::Recovery => {
                "Recovery: posterior mean (dot) and central credible interval (bar) against the true value. Informative posteriors lie along the diagonal; a flat cloud means the data say little about the parameter (which can still be calibrated)."
            }
            CheckFigureKind::Contraction => {
                "Posterior contraction (how much narrower than the prior) against z-score (how many posterior standard deviations the mean misses the truth by). Calibrated: about 95 % of points between the dashed lines z = ±2; useful: contraction near 1."
            }
        }
    }
}

/// A figure of `inn check` for a set of diagnostics and parameter names.
#[derive(Clone, Copy, Debug)]
pub struct CheckFigures<'a> {
    /// Which figure.
    pub kind: CheckFigureKind,
    /// The measured diagnostics.
    pub diagnostics: &'a Diagnostics,
    /// The parameter names.
    pub names: &'a [String],
}

impl CheckFigures<'_> {
    fn name(&self, j: usize) -> &str {
        self.names.get(j).map_or("?", String::as_str)
    }
}

const PANEL: (u32, u32) = (440, 360);

impl Figure for CheckFigures<'_> {
    fn size(&self) -> (u32, u32) {
        let d = self.diagnostics.sbc.len();
        match self.kind {
            CheckFigureKind::Sbc | CheckFigureKind::Recovery => {
                let cols = d.clamp(1, 3) as u32;
                let rows = d.div_ceil(3).max(1) as u32;
                (cols * PANEL.0 + 16, rows * PANEL.1 + 16)
            }
            CheckFigureKind::Coverage | CheckFigureKind::Contraction => (640, 500),
        }
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let diag = self.diagnostics;
        match self.kind {
            CheckFigureKind::Sbc => {
                for (j, area) in grid(root, diag.sbc.len()).iter().enumerate() {
                    let caption = format!("{}: {}", self.name(j), diag.verdicts[j].kind.name());
                    ecdf_panel(area, &caption, &diag.band, &diag.sbc[j], color(j))?;
                }
            }
            CheckFigureKind::Coverage => {
                let caption = format!(
                    "coverage ({} observations × {} draws)",
                    diag.n_obs, diag.n_draws
                );
                coverage_panel(root, &caption, &diag.coverage, self.names)?;
            }
            CheckFigureKind::Recovery => {
                for (j, area) in grid(root, diag.recovery.len()).iter().enumerate() {
                    let r = &diag.recovery[j];
                    let caption = format!(
                        "{}: R² = {:.2}, {:.0} % intervals",
                        self.name(j),
                        r.r2,
                        100.0 * r.interval
                    );
                    recovery_panel(area, &caption, r, color(j))?;
                }
            }
            CheckFigureKind::Contraction => {
                contraction_panel(root, "contraction vs z-score", &diag.recovery, self.names)?;
            }
        }
        Ok(())
    }
}
