//! Pictures and pages of the calibration checks (`inn check`, `inn plot`): plotters panels that
//! draw on any backend (PNG files, SVG files, SVG text inlined into `report.html`), the corner
//! plot of one posterior, and the self-contained HTML report.

mod corner;
mod html;
mod panels;

pub use corner::CornerPlot;
pub use html::{ReportPage, html_escape};
pub use panels::{
    CheckFigureKind, CheckFigures, band_outline, contraction_panel, coverage_panel, ecdf_panel,
    grid, recovery_panel,
};

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What the drawing functions return: plotters' errors, boxed.
pub type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// DejaVu Sans (Bitstream Vera licence, `xtask/assets/DejaVuSans-LICENSE.txt`), the font of the
/// figures; bundled so that PNGs render on machines without system fonts. SVG viewers use the
/// family name ([`FONT`]) and fall back to their own sans-serif face.
const DEJAVU_SANS: &[u8] = include_bytes!("../../../xtask/assets/DejaVuSans.ttf");

/// The font family of every text.
pub const FONT: &str = "sans-serif";
/// Panel captions.
pub const CAPTION: u32 = 20;
/// Axis descriptions.
pub const LABEL: u32 = 17;
/// Tick labels and legends.
pub const TICK: u32 = 14;

/// The colour of parameter `j` (Tableau 10, cycling).
pub fn color(j: usize) -> RGBColor {
    const TABLEAU: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    TABLEAU[j % TABLEAU.len()]
}

/// A tick label with as many decimals as the axis span `(lo, hi)` needs (two significant
/// digits of the span).
pub fn tick(v: f64, (lo, hi): (f64, f64)) -> String {
    let decimals = (1.0 - (hi - lo).abs().max(1e-12).log10().floor()).clamp(0.0, 8.0) as usize;
    format!("{v:.decimals$}")
}

/// The font at `size` pixels.
pub fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size))
}

/// Registers the bundled font (once per process).
///
/// # Errors
/// [`Error::Runtime`] when the font cannot be parsed (a broken build).
pub fn register_fonts() -> Result {
    static LOADED: OnceLock<bool> = OnceLock::new();
    if *LOADED.get_or_init(|| register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()) {
        Ok(())
    } else {
        Err(Error::Runtime(
            "the bundled figure font could not be parsed".into(),
        ))
    }
}

/// A picture drawn the same way on every plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws on `root`, already filled white.
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static;
}

fn draw_on<DB: DrawingBackend, F: Figure>(root: &DrawingArea<DB, Shift>, figure: &F) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    figure.draw(&root.margin(8, 8, 8, 8))?;
    root.present()?;
    Ok(())
}

/// The figure as SVG text (with a `viewBox`, so it scales in a page).
///
/// # Errors
/// [`Error::Runtime`] naming the figure when plotters fails.
pub fn svg_string<F: Figure>(name: &str, figure: &F) -> Result<String> {
    register_fonts()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, figure.size()).into_drawing_area();
        draw_on(&root, figure).map_err(|e| Error::Runtime(format!("figure {name}: {e}")))?;
    }
    Ok(text)
}

/// Writes the figure to `path`: SVG when the extension is `.svg`, PNG otherwise.
///
/// # Errors
/// [`Error::Runtime`] naming the file when it cannot be drawn or written.
pub fn write_figure<F: Figure>(path: &Path, figure: &F) -> Result {
    register_fonts()?;
    let fail = |e: &dyn std::fmt::Display| Error::Runtime(format!("{}: {e}", path.display()));
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
    {
        let text = svg_string(&path.display().to_string(), figure)?;
        std::fs::write(path, text).map_err(|e| fail(&e))
    } else {
        let root = BitMapBackend::new(path, figure.size()).into_drawing_area();
        draw_on(&root, figure).map_err(|e| fail(&e))
    }
}

/// Writes `<dir>/<stem>.png` and `<dir>/<stem>.svg`; returns both paths and the SVG text.
///
/// # Errors
/// As [`write_figure`].
pub fn write_png_and_svg<F: Figure>(
    dir: &Path,
    stem: &str,
    figure: &F,
) -> Result<(Vec<PathBuf>, String)> {
    let png = dir.join(format!("{stem}.png"));
    write_figure(&png, figure)?;
    let svg = dir.join(format!("{stem}.svg"));
    let text = svg_string(stem, figure)?;
    std::fs::write(&svg, &text).map_err(|e| Error::Runtime(format!("{}: {e}", svg.display())))?;
    Ok((vec![png, svg], text))
}
