//! A 64-column table of dequantised 8×8 digit-like images, for checking that flows trained on
//! small image-like tables do not overfit.
//!
//! The table imitates scikit-learn's `load_digits` (UCI "Optical Recognition of Handwritten
//! Digits": 8×8 images of counts 0–16), the classic small table on which density models are
//! compared after uniform dequantisation. What matters for a flow is reproduced: central pixels
//! vary a lot, the left and right border columns are almost always 0 (so after dequantisation
//! they are nearly constant `U(0, 1)` columns), and in about 1% of the images a shifted stroke
//! reaches a border with a large count. A flow fitted to a few hundred rows learns the border
//! columns as very narrow densities and then assigns such held-out rows a huge NLL.

use nalgebra::DMatrix;
use rand::Rng;

/// Side of the square image, in pixels.
const SIDE: usize = 8;

/// The largest integer intensity, as in scikit-learn's digits (counts 0–16).
const MAX_INTENSITY: f64 = 16.0;

/// Probability of each of the horizontal shifts −1 and +1 (so 1.2% of images are shifted
/// sideways; the rest have no horizontal shift).
const SIDE_SHIFT_PROBABILITY: f64 = 0.006;

/// Number of straight segments an arc is approximated by.
const ARC_SEGMENTS: usize = 24;

/// One stroke of a template, in image coordinates: `x` grows to the right (column), `y`
/// downwards (row); pixel `(r, c)` covers `[c, c + 1] × [r, r + 1]`.
enum Stroke {
    /// A polyline through the given points.
    Lines(&'static [[f64; 2]]),
    /// The elliptic arc `(cx + rx cos t, cy + ry sin t)` for `t` from `t0` to `t1` (in units of
    /// π; since `y` points down, `t = 1.5` is the top of the ellipse).
    Arc {
        /// Centre `(cx, cy)`.
        centre: [f64; 2],
        /// Radii `(rx, ry)`.
        radii: [f64; 2],
        /// Start angle, in units of π.
        t0: f64,
        /// End angle, in units of π.
        t1: f64,
    },
}

/// The ten digit-like templates "0"–"9", all inside the box `x ∈ [2, 6]`, `y ∈ [1, 7]`.
const TEMPLATES: [&[Stroke]; 10] = [
    // 0: an ellipse.
    &[Stroke::Arc {
        centre: [4.0, 4.0],
        radii: [2.0, 3.0],
        t0: 0.0,
        t1: 2.0,
    }],
    // 1: a vertical bar with a flag.
    &[Stroke::Lines(&[[3.0, 2.2], [4.2, 1.0], [4.2, 7.0]])],
    // 2: a top arc, a diagonal and a base line.
    &[
        Stroke::Arc {
            centre: [4.0, 3.0],
            radii: [2.0, 2.0],
            t0: 1.0,
            t1: 2.25,
        },
        Stroke::Lines(&[[5.414, 4.414], [2.0, 7.0], [6.0, 7.0]]),
    ],
    // 3: two arcs open to the left.
    &[
        Stroke::Arc {
            centre: [4.0, 2.5],
            radii: [2.0, 1.5],
            t0: 1.1,
            t1: 2.5,
        },
        Stroke::Arc {
            centre: [4.0, 5.5],
            radii: [2.0, 1.5],
            t0: 1.5,
            t1: 2.9,
        },
    ],
    // 4: a diagonal, a cross bar and a stem.
    &[
        Stroke::Lines(&[[4.5, 1.0], [2.0, 5.0], [6.0, 5.0]]),
        Stroke::Lines(&[[5.0, 2.5], [5.0, 7.0]]),
    ],
    // 5: a top bar, a short stem and a belly.
    &[
        Stroke::Lines(&[[6.0, 1.0], [2.5, 1.0], [2.5, 3.6]]),
        Stroke::Arc {
            centre: [4.0, 5.0],
            radii: [2.0, 2.0],
            t0: 1.25,
            t1: 2.8,
        },
    ],
    // 6: a descending stroke into a loop.
    &[
        Stroke::Lines(&[[5.5, 1.0], [2.2, 4.6]]),
        Stroke::Arc {
            centre: [4.0, 5.2],
            radii: [2.0, 1.8],
            t0: 0.0,
            t1: 2.0,
        },
    ],
    // 7: a top bar and a long diagonal.
    &[Stroke::Lines(&[[2.0, 1.0], [6.0, 1.0], [3.5, 7.0]])],
    // 8: two stacked loops.
    &[
        Stroke::Arc {
            centre: [4.0, 2.6],
            radii: [1.6, 1.6],
            t0: 0.0,
            t1: 2.0,
        },
        Stroke::Arc {
            centre: [4.0, 5.4],
            radii: [2.0, 1.6],
            t0: 0.0,
            t1: 2.0,
        },
    ],
    // 9: a loop with a tail.
    &[
        Stroke::Arc {
            centre: [4.0, 2.8],
            radii: [2.0, 1.8],
            t0: 0.0,
            t1: 2.0,
        },
        Stroke::Lines(&[[6.0, 2.8], [5.0, 7.0]]),
    ],
];

/// The straight segments of a template (arcs split into [`ARC_SEGMENTS`] chords).
fn segments(strokes: &[Stroke]) -> Vec<[[f64; 2]; 2]> {
    let mut out = Vec::new();
    for stroke in strokes {
        match stroke {
            Stroke::Lines(points) => {
                out.extend(points.windows(2).map(|w| [w[0], w[1]]));
            }
            Stroke::Arc {
                centre,
                radii,
                t0,
                t1,
            } => {
                let point = |s: usize| {
                    let t =
                        std::f64::consts::PI * (t0 + (t1 - t0) * s as f64 / ARC_SEGMENTS as f64);
                    [
                        centre[0] + radii[0] * t.cos(),
                        centre[1] + radii[1] * t.sin(),
                    ]
                };
                out.extend((0..ARC_SEGMENTS).map(|s| [point(s), point(s + 1)]));
            }
        }
    }
    out
}

/// Distance from point `p` to the segment from `a` to `b`.
fn distance_to_segment(p: [f64; 2], [a, b]: [[f64; 2]; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p[0] - a[0] - t * dx).hypot(p[1] - a[1] - t * dy)
}

/// Renders one template (its segments) shrunk by `size` about the image centre and shifted by
/// `shift = (dx, dy)`, with stroke `width` and `intensity`: pixel `8r + c` gets
/// `round(16 · intensity · clamp(width/2 + ½ − δ, 0, 1))`, `δ` the distance from its centre
/// `(c + ½, r + ½)` to the nearest segment.
fn render(
    template: &[[[f64; 2]; 2]],
    size: f64,
    width: f64,
    intensity: f64,
    shift: [f64; 2],
) -> [f64; SIDE * SIDE] {
    let place = |p: [f64; 2]| {
        [
            4.0 + size * (p[0] - 4.0) + shift[0],
            4.0 + size * (p[1] - 4.0) + shift[1],
        ]
    };
    let placed: Vec<[[f64; 2]; 2]> = template
        .iter()
        .map(|&[a, b]| [place(a), place(b)])
        .collect();
    let mut image = [0.0; SIDE * SIDE];
    for (j, pixel) in image.iter_mut().enumerate() {
        let centre = [(j % SIDE) as f64 + 0.5, (j / SIDE) as f64 + 0.5];
        let distance = placed
            .iter()
            .map(|&seg| distance_to_segment(centre, seg))
            .fold(f64::INFINITY, f64::min);
        let coverage = (0.5 * width + 0.5 - distance).clamp(0.0, 1.0);
        *pixel = (MAX_INTENSITY * intensity * coverage).round();
    }
    image
}

/// Draws `n` dequantised 8×8 digit-like images, one per row of an `n × 64` matrix; column
/// `8r + c` holds pixel (row `r`, column `c`), as in scikit-learn's flattened digits.
///
/// Each image is generated as follows (draws in this order, all from `rng`):
///
/// 1. **Template** `k`, uniform over ten digit-like stroke sets "0"–"9" (ellipses, arcs and
///    polylines, each inside the box `x ∈ [2, 6]`, `y ∈ [1, 7]` of the `[0, 8]²` image plane;
///    pixel `(r, c)` is the unit square `[c, c + 1] × [r, r + 1]` with centre `(c + ½, r + ½)`).
/// 2. **Size** `s ~ U(0.85, 1)`: the template is shrunk about the image centre,
///    `p ↦ (4, 4) + s (p − (4, 4))` (it stays inside the box).
/// 3. **Stroke width** `w ~ U(0.9, 1.6)` pixels and **intensity** `a ~ U(0.7, 1)`.
/// 4. **Shift**: vertical `dy` uniform on {−1, 0, 1} pixels; horizontal `dx` = −1 or +1 with
///    probability 0.006 each and 0 otherwise (digits are centred sideways, as in the source
///    data, so sideways shifts are rare).
/// 5. **Rendering**: with `δ` the distance from the pixel centre to the nearest point of the
///    shifted strokes (arcs as 24 chords), the coverage is `clamp(w/2 + ½ − δ, 0, 1)` (the
///    covered fraction of the pixel for a straight edge) and the integer intensity is
///    `round(16 a · coverage)` ∈ {0, …, 16} (no clipping is needed since `a ≤ 1`).
/// 6. **Dequantisation**: each of the 64 pixels gets an independent `U(0, 1)` added, pixels in
///    row-major order, so the integer image is the floor of the row.
///
/// Properties of the result (checked in the tests):
///
/// - Without a sideways shift, no stroke comes within 1.5 pixels of the centres of columns
///   `c = 0` and `c = 7`, so all 16 left/right border pixels are exactly 0 before
///   dequantisation. Each of those 16 columns is 0 in more than 99% of the integer images
///   (99.6–99.9% in a 40 000-row sample), so after dequantisation it is nearly a `U(0, 1)`
///   column; no column is exactly constant.
/// - In about 1.1% of the rows (the sideways-shifted images of the templates that reach `x = 2`
///   or `x = 6`, i.e. all but "1") some border pixel exceeds 2; in three quarters of those it
///   is 5 or more, up to 13: the rare large values that make a flow fitted to a small
///   table assign huge NLLs to held-out rows.
/// - The central pixels vary a lot: the 36 pixels with `r, c ∈ 1..=6` have standard deviations
///   between 2.2 and 5.7 (columns 2–5 about 5). Exactly the 16 border columns have a standard
///   deviation below 1 (0.30–0.44); the top and bottom rows `r = 0, 7` are inked by the
///   vertical shifts, so they vary (standard deviations 1.4–5.2 except at the corners).
///
/// ```
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let x = inn::data::toy::pixel_images(500, &mut rng);
/// assert_eq!(x.shape(), (500, 64));
/// assert!(x.iter().all(|&v| (0.0..17.0).contains(&v)));
/// ```
pub fn pixel_images(n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    let templates: Vec<Vec<[[f64; 2]; 2]>> = TEMPLATES.iter().map(|t| segments(t)).collect();
    let mut x = DMatrix::zeros(n, SIDE * SIDE);
    for i in 0..n {
        let k = rng.random_range(0..TEMPLATES.len());
        let size = rng.random_range(0.85..1.0);
        let width = rng.random_range(0.9..1.6);
        let intensity = rng.random_range(0.7..1.0);
        let dy = f64::from(rng.random_range(-1_i32..=1));
        let side: f64 = rng.random();
        let dx = if side < SIDE_SHIFT_PROBABILITY {
            -1.0
        } else if side >= 1.0 - SIDE_SHIFT_PROBABILITY {
            1.0
        } else {
            0.0
        };
        let image = render(&templates[k], size, width, intensity, [dx, dy]);
        for (j, &value) in image.iter().enumerate() {
            x[(i, j)] = value + rng.random::<f64>();
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn column_std(x: &DMatrix<f64>, j: usize) -> f64 {
        x.column(j).variance().sqrt()
    }

    /// Column indices of the left and right border pixels `(r, 0)` and `(r, 7)`.
    fn border_columns() -> Vec<usize> {
        (0..SIDE)
            .flat_map(|r| [SIDE * r, SIDE * r + SIDE - 1])
            .collect()
    }

    #[test]
    fn templates_stay_inside_their_box() {
        for (k, t) in TEMPLATES.iter().enumerate() {
            for [a, b] in segments(t) {
                for p in [a, b] {
                    assert!(
                        (2.0 - 1e-9..=6.0 + 1e-9).contains(&p[0])
                            && (1.0 - 1e-9..=7.0 + 1e-9).contains(&p[1]),
                        "template {k}: {p:?}"
                    );
                }
            }
        }
        assert!(
            (distance_to_segment([0.0, 1.0], [[1.0, 0.0], [3.0, 0.0]]) - 2.0_f64.sqrt()).abs()
                < 1e-15
        );
        assert!((distance_to_segment([2.0, 1.0], [[1.0, 0.0], [3.0, 0.0]]) - 1.0).abs() < 1e-15);
        assert!(
            (distance_to_segment([2.0, 1.0], [[1.0, 0.0], [1.0, 0.0]]) - 2.0_f64.sqrt()).abs()
                < 1e-15
        );
    }

    #[test]
    fn only_sideways_shifts_reach_the_border() {
        let border = border_columns();
        let mut reaching = 0;
        for (k, t) in TEMPLATES.iter().enumerate() {
            let segs = segments(t);
            let border_max = |size: f64, width: f64, dx: f64| {
                let mut max = 0.0_f64;
                for dy in [-1.0, 0.0, 1.0] {
                    let image = render(&segs, size, width, 1.0, [dx, dy]);
                    max = border.iter().map(|&j| image[j]).fold(max, f64::max);
                    // Some ink always lands on the image.
                    assert!(image.iter().sum::<f64>() > 50.0, "template {k}");
                }
                max
            };
            // The widest, largest stroke without a sideways shift leaves the border at 0.
            assert_eq!(border_max(1.0, 1.6, 0.0), 0.0, "template {k}");
            let shifted = border_max(1.0, 1.6, -1.0).max(border_max(1.0, 1.6, 1.0));
            if shifted >= 8.0 {
                reaching += 1;
            }
        }
        // Every template but the narrow "1" reaches a border with a large count when shifted.
        assert_eq!(reaching, 9);
    }

    #[test]
    fn table_has_the_documented_properties() {
        let n = 40_000;
        let x = pixel_images(n, &mut StdRng::seed_from_u64(42));
        assert_eq!(x.shape(), (n, 64));
        assert_eq!(x, pixel_images(n, &mut StdRng::seed_from_u64(42)));
        let ints = x.map(f64::floor);
        assert!(ints.iter().all(|&v| (0.0..=16.0).contains(&v)));
        assert!(x.iter().zip(ints.iter()).all(|(v, i)| v - i < 1.0));

        let border = border_columns();
        let hit_rows: Vec<usize> = (0..n)
            .filter(|&i| border.iter().any(|&j| ints[(i, j)] > 2.0))
            .collect();
        let hit_fraction = hit_rows.len() as f64 / n as f64;
        let large = hit_rows
            .iter()
            .filter(|&&i| border.iter().any(|&j| ints[(i, j)] >= 5.0))
            .count() as f64
            / hit_rows.len() as f64;
        let max_border = border
            .iter()
            .map(|&j| ints.column(j).max())
            .fold(0.0, f64::max);
        let zero_fractions: Vec<f64> = border
            .iter()
            .map(|&j| ints.column(j).iter().filter(|&&v| v == 0.0).count() as f64 / n as f64)
            .collect();
        let stds: Vec<f64> = (0..64).map(|j| column_std(&x, j)).collect();
        let low_std = stds.iter().filter(|&&s| s < 1.0).count();
        let inner: Vec<f64> = (1..7)
            .flat_map(|r| (1..7).map(move |c| SIDE * r + c))
            .map(|j| stds[j])
            .collect();
        let inner_varied = inner.iter().filter(|&&s| s > 2.0).count();
        eprintln!(
            "pixel table: {:.4} of rows with a border pixel > 2 ({:.3} of them ≥ 5, \
             max {max_border}); {low_std} columns with std < 1; \
             {inner_varied}/36 inner pixels with std > 2; border zero fractions {:.4}..{:.4}; stds {:.2?}",
            hit_fraction,
            large,
            zero_fractions.iter().copied().fold(1.0, f64::min),
            zero_fractions.iter().copied().fold(0.0, f64::max),
            stds,
        );
        // Expected ≈ 0.010; the binomial standard error at n = 40 000 is 5e-4.
        assert!((0.006..0.016).contains(&hit_fraction), "{hit_fraction}");
        assert!(large > 0.5 && max_border >= 10.0);
        assert!(
            zero_fractions.iter().all(|&f| f > 0.99),
            "{zero_fractions:?}"
        );
        assert!(
            stds.iter().all(|&s| s > 0.25),
            "some column is nearly constant"
        );
        for &j in &border {
            assert!(stds[j] < 1.0, "border column {j}: {}", stds[j]);
        }
        assert_eq!(low_std, 16);
        assert!(inner_varied >= 30, "{inner_varied}");
    }
}
