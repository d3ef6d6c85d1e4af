//! The house style of the figures: the bundled font, text sizes, line widths and colours.

use super::Result;
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::sync::OnceLock;

/// DejaVu Sans (Bitstream Vera licence, see `xtask/assets/DejaVuSans-LICENSE.txt`), bundled so
/// that the PNGs render on a machine with no system fonts (plotters' `ab_glyph` backend).
const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The family every text uses; SVG viewers fall back to their own sans-serif face.
pub const FONT: &str = "sans-serif";

/// Figure title.
pub const TITLE: u32 = 30;
/// Panel caption.
pub const CAPTION: u32 = 23;
/// Axis descriptions.
pub const LABEL: u32 = 20;
/// Tick labels.
pub const TICK: u32 = 16;
/// Legend entries and annotations.
pub const LEGEND: u32 = 17;

/// Width of data lines.
pub const LINE: u32 = 2;

/// Blue (Tableau 10).
pub const BLUE: RGBColor = RGBColor(31, 119, 180);
/// Orange (Tableau 10).
pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
/// Green (Tableau 10).
pub const GREEN: RGBColor = RGBColor(44, 160, 44);
/// Red (Tableau 10).
pub const RED: RGBColor = RGBColor(214, 39, 40);
/// Grey for reference lines (diagonals, bounds).
pub const GREY: RGBColor = RGBColor(110, 110, 110);

/// Registers the bundled font as [`FONT`] (once per process).
pub fn register_fonts() -> Result<()> {
    static LOADED: OnceLock<bool> = OnceLock::new();
    let loaded =
        *LOADED.get_or_init(|| register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if loaded {
        Ok(())
    } else {
        Err("the bundled font xtask/assets/DejaVuSans.ttf could not be parsed".into())
    }
}

/// The font at `size` pixels.
pub fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size))
}

/// A solid legend swatch in `color`.
pub fn swatch_line<C: Color>(
    color: C,
    width: u32,
) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    let style = color.stroke_width(width);
    move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style)
}

/// A dashed legend swatch in `color`.
pub fn swatch_dashed<C: Color>(
    color: C,
    width: u32,
) -> impl Fn((i32, i32)) -> DashedPathElement<std::vec::IntoIter<(i32, i32)>, i32> {
    let style = color.stroke_width(width);
    move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 24, y)], 6, 4, style)
}

/// A chart builder on `area` in the layout of the data panels: `caption` in the caption font,
/// a 14-pixel margin, a 50-pixel strip for the x tick labels and `y_label_area` pixels for the
/// y tick labels; the caller builds the coordinates.
pub fn panel<'a, 'b, DB>(
    area: &'a DrawingArea<DB, Shift>,
    caption: impl AsRef<str>,
    y_label_area: u32,
) -> ChartBuilder<'a, 'b, DB>
where
    DB: DrawingBackend,
{
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, font(CAPTION))
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(y_label_area);
    builder
}

/// The mesh of `chart` in the house style: tick labels in [`TICK`], axis descriptions in
/// [`LABEL`], a faint grid (bold lines 8 % black, light lines 3 %); the caller adds the axis
/// descriptions, label counts and formatters, and draws it.
pub fn mesh<'a, 'b, DB, X, Y, XT, YT>(
    chart: &'b mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> MeshStyle<'a, 'b, X, Y, DB>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = XT> + ValueFormatter<XT>,
    Y: Ranged<ValueType = YT> + ValueFormatter<YT>,
{
    let mut mesh = chart.configure_mesh();
    mesh.label_style(font(TICK))
        .axis_desc_style(font(LABEL))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(BLACK.mix(0.03));
    mesh
}

/// Draws the series labels of `chart` at `position` in the house legend box: [`LEGEND`] font
/// on a 90 % white background with a 40 % black border.
pub fn series_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(LEGEND))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    Ok(())
}

/// Draws `points` as a solid line of `color` and `width` pixels, labelled `label` in the
/// legend with a matching [`swatch_line`].
pub fn labelled_line<'a, DB, X, Y, C>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    points: impl IntoIterator<Item = (f64, f64)>,
    color: C,
    width: u32,
    label: impl Into<String>,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
    C: Color + 'static,
{
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(width)))?
        .label(label)
        .legend(swatch_line(color, width));
    Ok(())
}

/// Draws `points` as a line of `color` and `width` pixels dashed 8 on, 5 off, labelled `label`
/// in the legend with a matching [`swatch_dashed`].
pub fn labelled_dashed<'a, DB, X, Y, C, I>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    points: I,
    color: C,
    width: u32,
    label: impl Into<String>,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
    C: Color + 'static,
    I: IntoIterator<Item = (f64, f64)>,
    I::IntoIter: Clone,
{
    chart
        .draw_series(DashedLineSeries::new(
            points,
            8,
            5,
            color.stroke_width(width),
        ))?
        .label(label)
        .legend(swatch_dashed(color, width));
    Ok(())
}

/// A corner of a plotting area for [`note`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NotePosition {
    /// Top right corner.
    UpperRight,
    /// Top right corner of the box at these fractions of the area's width and height
    /// (0 = left / top), for a spot the data leaves empty.
    TopRightAt(f64, f64),
}

/// Draws `lines` of text in a white box with a border in a corner of `area` (a chart's plotting
/// area), sized from the font's own text extents so nothing overlaps.
pub fn note<DB, CT>(area: &DrawingArea<DB, CT>, lines: &[String], at: NotePosition) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    let text = font(LEGEND);
    let pad = 10i32;
    let gap = 8i32;
    let mut width = 0i32;
    let mut heights = Vec::with_capacity(lines.len());
    for line in lines {
        let (w, h) = area.estimate_text_size(line, &text)?;
        width = width.max(i32::try_from(w).unwrap_or(i32::MAX));
        heights.push(i32::try_from(h).unwrap_or(i32::MAX));
    }
    let height: i32 = heights.iter().sum::<i32>() + gap * (lines.len() as i32 - 1).max(0);
    let (w_area, h_area) = area.dim_in_pixel();
    let (w_area, h_area) = (w_area as i32, h_area as i32);
    let (w_box, h_box) = (width + 2 * pad, height + 2 * pad);
    let margin = 12;
    let (right, top) = match at {
        NotePosition::UpperRight => (w_area - margin, margin),
        NotePosition::TopRightAt(fx, fy) => (
            (f64::from(w_area) * fx).round() as i32,
            (f64::from(h_area) * fy).round() as i32,
        ),
    };
    let left = right - w_box;
    let pixels = area.strip_coord_spec();
    pixels.draw(&Rectangle::new(
        [(left, top), (left + w_box, top + h_box)],
        WHITE.mix(0.92).filled(),
    ))?;
    pixels.draw(&Rectangle::new(
        [(left, top), (left + w_box, top + h_box)],
        BLACK.mix(0.4).stroke_width(1),
    ))?;
    let mut y = top + pad;
    for (line, h) in lines.iter().zip(&heights) {
        pixels.draw(&Text::new(line.clone(), (left + pad, y), text.clone()))?;
        y += h + gap;
    }
    Ok(())
}

/// The mark of a [`legend_row`] entry.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// A line of this colour and width.
    Line(RGBColor, u32),
    /// A filled dot.
    Dot(RGBColor),
    /// A hollow dot.
    Ring(RGBColor),
}

/// A legend shared by several panels: `entries` in one centred row across `area` (a strip
/// above the panels), each a mark followed by its text.
pub fn legend_row<DB>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(Mark, String)],
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let text = font(LEGEND);
    let (swatch, after_swatch, between) = (28i32, 8i32, 36i32);
    let mut widths = Vec::with_capacity(entries.len());
    for (_, label) in entries {
        let (w, _) = area.estimate_text_size(label, &text)?;
        widths.push(i32::try_from(w).unwrap_or(i32::MAX));
    }
    let total: i32 = widths
        .iter()
        .map(|w| swatch + after_swatch + w)
        .sum::<i32>()
        + between * (entries.len() as i32 - 1).max(0);
    let (w_area, h_area) = area.dim_in_pixel();
    let mut x = (w_area as i32 - total) / 2;
    let y = h_area as i32 / 2;
    for ((mark, label), w) in entries.iter().zip(&widths) {
        match *mark {
            Mark::Line(color, width) => {
                area.draw(&PathElement::new(
                    vec![(x, y), (x + swatch, y)],
                    color.stroke_width(width),
                ))?;
            }
            Mark::Dot(color) => area.draw(&Circle::new((x + swatch / 2, y), 6, color.filled()))?,
            Mark::Ring(color) => {
                area.draw(&Circle::new((x + swatch / 2, y), 6, color.stroke_width(2)))?;
            }
        }
        x += swatch + after_swatch;
        area.draw(&Text::new(
            label.clone(),
            (x, y),
            text.pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            )),
        ))?;
        x += w + between;
    }
    Ok(())
}

/// The viridis colour map at `t ∈ [0, 1]` (clamped): dark blue → green → yellow, perceptually
/// uniform and readable in grey; piecewise linear between nine of matplotlib's anchors.
pub fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let s = t.clamp(0.0, 1.0) * (ANCHORS.len() - 1) as f64;
    let i = (s.floor() as usize).min(ANCHORS.len() - 2);
    let f = s - i as f64;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    let mix = |u: u8, v: u8| (f64::from(u) + f * (f64::from(v) - f64::from(u))).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A hue wheel at `t ∈ [0, 1)` (wrapping): colours a point by an angle, so that points keep
/// their colour through a map and the correspondence stays visible.
pub fn hue(t: f64) -> RGBColor {
    let h = t.rem_euclid(1.0) * 6.0;
    let x = 1.0 - (h % 2.0 - 1.0).abs();
    let (r, g, b) = match h as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    // Darkened so that yellow and cyan stay visible on white.
    let c = |v: f64| (v * 200.0).round() as u8;
    RGBColor(c(r), c(g), c(b))
}

/// A vertical viridis colour bar for `range` with tick labels and the description `label` on
/// its right, in `area` (a strip beside a [`super::plane::plane`] panel, whose caption and
/// x-axis heights it repeats so the bar spans the panel's plotting area).
pub fn color_bar<DB>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    range: std::ops::Range<f64>,
    label: &str,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(" ", font(CAPTION))
        .margin(10)
        .x_label_area_size(44)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0f64..1f64, range.clone())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .disable_x_axis()
        .y_desc(label)
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(font(TICK))
        .axis_desc_style(font(LABEL))
        .draw()?;
    let steps = 100;
    let (lo, hi) = (range.start, range.end);
    chart.draw_series((0..steps).map(|i| {
        let a = lo + (hi - lo) * i as f64 / steps as f64;
        let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            viridis((i as f64 + 0.5) / steps as f64).filled(),
        )
    }))?;
    Ok(())
}

/// `color` blended with white, `amount` of the colour (1: the colour itself): an opaque light
/// shade, for thin lines made of many short segments, whose overlapping translucent ends the
/// bitmap backend would draw as dots.
pub fn tint(color: RGBColor, amount: f64) -> RGBColor {
    let a = amount.clamp(0.0, 1.0);
    let mix = |c: u8| (255.0 - a * (255.0 - f64::from(c))).round() as u8;
    RGBColor(mix(color.0), mix(color.1), mix(color.2))
}
