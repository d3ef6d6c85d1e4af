//! Rational-quadratic spline coupling (Durkan, Bekasov, Murray & Papamakarios 2019, "Neural
//! Spline Flows"), in the two-sided form of this crate's [`RealNvp`](crate::RealNvp).

use crate::coupling::{SubnetConfig, check_subnet, split_lens, subnet_input};
use crate::{Bijector, BlockSpec, Error, Output, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::nn::Mlp;
use autodiff::{Bound, Float, Params, Tape, Var, concat_cols, lit};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Default number of bins `K` of every spline: 8. On the guide's bounded toy (four modes per
/// axis) two blocks of 8 bins come within 0.04 nats of the exact density, and the subnets
/// output only `3K − 1 = 23` numbers per transformed coordinate.
pub const DEFAULT_BINS: usize = 8;

/// Default bound `B` of the spline interval `[−B, B]`: 3, so that in a flow towards a standard
/// normal latent the splines cover 99.7 % of each latent coordinate's mass; outside the
/// interval the map is the identity.
pub const DEFAULT_BOUND: f64 = 3.0;

/// Default smallest bin width and height, as a fraction of `2B`, and smallest knot derivative:
/// 1e-3, the defaults of the paper's code (nflows' `DEFAULT_MIN_BIN_WIDTH`, `…_HEIGHT`,
/// `…_DERIVATIVE`). They bound every slope of the spline to `[1e-3·…, 1e3·…]`, so the inverse's
/// quadratic and the log-determinant stay well conditioned.
pub const DEFAULT_MIN_BIN: f64 = 1e-3;

/// [`DEFAULT_BINS`], for serde defaults.
pub(crate) fn default_bins() -> usize {
    DEFAULT_BINS
}

/// [`DEFAULT_BOUND`], for serde defaults.
pub(crate) fn default_bound() -> f64 {
    DEFAULT_BOUND
}

/// How many coordinates one pass of the spline formula handles: its constant selection
/// matrices are `(chunk·K)²`, quadratic in the coordinates taken at once, so wide halves go
/// through in chunks of 8 (matrices of at most `(8K)²` entries, and a tape that grows by one
/// spline's worth of nodes per chunk).
const COORDINATE_CHUNK: usize = 8;

/// Options of an [`RqSpline`] block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RqSplineConfig {
    /// Width `d ≥ 2` of the batches.
    pub dim: usize,
    /// The shape of both subnets.
    pub subnet: SubnetConfig,
    /// Number of bins `K ≥ 2` of every spline. Default [`DEFAULT_BINS`].
    pub bins: usize,
    /// Bound `B > 0`: the splines map `[−B, B]` onto itself, the identity outside. Default
    /// [`DEFAULT_BOUND`].
    pub bound: f64,
    /// Smallest bin width as a fraction of `2B`, in `(0, 1/K)`. Default [`DEFAULT_MIN_BIN`].
    pub min_bin_width: f64,
    /// Smallest bin height as a fraction of `2B`, in `(0, 1/K)`. Default [`DEFAULT_MIN_BIN`].
    pub min_bin_height: f64,
    /// Smallest derivative at an interior knot, in `(0, 1)`. Default [`DEFAULT_MIN_BIN`].
    pub min_derivative: f64,
    /// Width of the condition input (0: unconditional, the default).
    pub cond_dim: usize,
}

impl RqSplineConfig {
    /// An unconditional block of width `dim` with the given subnet and the default spline.
    pub fn new(dim: usize, subnet: SubnetConfig) -> Self {
        Self {
            dim,
            subnet,
            bins: DEFAULT_BINS,
            bound: DEFAULT_BOUND,
            min_bin_width: DEFAULT_MIN_BIN,
            min_bin_height: DEFAULT_MIN_BIN,
            min_derivative: DEFAULT_MIN_BIN,
            cond_dim: 0,
        }
    }
}

/// Two-sided rational-quadratic spline coupling on batches `x: n × d` (one sample per row).
///
/// With `x1` the first `⌊d/2⌋` columns and `x2` the remaining `⌈d/2⌉`, and as in
/// [`RealNvp`](crate::RealNvp):
///
/// `y1 = g(x1; θ2(x2, c))`, `y2 = g(x2; θ1(y1, c))`, `log|det J| = Σ ln g′(x1) + Σ ln g′(x2)`,
///
/// where `θ1`, `θ2` are the outputs of two subnets (reading their half, followed by the
/// condition `c` when `cond_dim > 0`) and `g` applies one monotone rational-quadratic spline per
/// coordinate. The inverse undoes side 1, then side 2. Transforming both halves in one block
/// (rather than one half, alternating with permutations, as the paper's code does) keeps the
/// convention of the crate's other couplings: in 2-D a single block moves both coordinates.
///
/// **The spline** of one coordinate has `K` bins on `[−B, B]`. From `3K − 1` raw subnet
/// outputs `(u_w, u_h, u_d)`: bin widths `w_k = 2B·(m_w + (1 − K·m_w)·softmax(u_w)_k)`, heights
/// `h_k` likewise from `u_h` and `m_h`, knots `x_k = −B + Σ_{j<k} w_j`, `y_k = −B + Σ_{j<k} h_j`
/// (`k = 0..=K`), and knot derivatives `δ_0 = δ_K = 1` at the ends (so the spline joins the
/// identity tails with a continuous derivative) and
/// `δ_k = m_δ + softplus(u_d,k + ln(e^{1 − m_δ} − 1))` inside. The shift inside the softplus is
/// the one nflows pads the end derivatives with; applying it to all knots makes raw outputs
/// of 0 give uniform bins and unit derivatives, the identity, so a block whose subnets start
/// with a zero last layer starts as the identity. In bin `k`, with `ξ = (x − x_k)/w_k` and
/// `s_k = h_k/w_k`:
///
/// `g(x) = y_k + h_k·(s_k ξ² + δ_k ξ(1−ξ)) / (s_k + (δ_{k+1} + δ_k − 2s_k) ξ(1−ξ))`,
///
/// `g′(x) = s_k²·(δ_{k+1} ξ² + 2 s_k ξ(1−ξ) + δ_k (1−ξ)²) / (s_k + (δ_{k+1} + δ_k − 2s_k) ξ(1−ξ))²`,
///
/// and `g(x) = x` for `|x| > B`. The inverse in bin `k` (found by `y_k ≤ y < y_{k+1}`) solves
/// `aξ² + bξ + c = 0` with `Δ = y − y_k`, `a = h_k(s_k − δ_k) + Δ(δ_{k+1} + δ_k − 2s_k)`,
/// `b = h_k δ_k − Δ(δ_{k+1} + δ_k − 2s_k)`, `c = −s_k Δ`, by the cancellation-free root
/// `ξ = 2c / (−b − √(b² − 4ac))` (nflows' form), and returns `−ln g′` at that point.
///
/// A subnet writing the splines of `m` coordinates outputs `m(3K − 1)` numbers: the `u_w` of
/// every coordinate (`K` each, coordinate by coordinate), then the `u_h`, then the `u_d` (`K − 1`
/// each).
///
/// Everything is recorded on the tape (the bin of each entry is a constant one-hot selection),
/// so both directions are differentiable in the inputs and the subnet parameters. Parameters
/// are registered as `{name}.net1.*` (reads `y1`, writes the splines of `x2`) and
/// `{name}.net2.*` (reads `x2`, writes the splines of `x1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RqSplineParts")]
pub struct RqSpline {
    config: RqSplineConfig,
    net1: Mlp,
    net2: Mlp,
}

/// The serialised form, validated into an [`RqSpline`] on reading.
#[derive(Deserialize)]
struct RqSplineParts {
    config: RqSplineConfig,
    net1: Mlp,
    net2: Mlp,
}

impl TryFrom<RqSplineParts> for RqSpline {
    type Error = Error;
    fn try_from(parts: RqSplineParts) -> Result<Self> {
        let (len1, len2) = RqSpline::check_config(&parts.config)?;
        let (k, per) = (parts.config.cond_dim, 3 * parts.config.bins - 1);
        check_subnet(RqSpline::KIND, "net1", &parts.net1, len1 + k, len2 * per)?;
        check_subnet(RqSpline::KIND, "net2", &parts.net2, len2 + k, len1 * per)?;
        Ok(Self {
            config: parts.config,
            net1: parts.net1,
            net2: parts.net2,
        })
    }
}

/// Which way a spline is evaluated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Forward,
    Inverse,
}

/// The constant 0/1 matrices that turn per-bin quantities of `m` coordinates with `K` bins
/// each (laid out coordinate by coordinate, `n × mK`) into sums, prefix sums and knot values.
struct Layout<T: Float> {
    /// `mK × m`: sums the bins of each coordinate.
    group_sum: DMatrix<T>,
    /// `m × mK`: repeats a per-coordinate value over its bins.
    group_spread: DMatrix<T>,
    /// `mK × mK`: the exclusive prefix sum within each coordinate (`Σ_{j<k}`).
    prefix: DMatrix<T>,
    /// `m(K−1) × mK`: interior knot `i` (1..K−1) is the left knot of bin `i`.
    left_of: DMatrix<T>,
    /// `m(K−1) × mK`: interior knot `i` is the right knot of bin `i − 1`.
    right_of: DMatrix<T>,
    /// `1 × mK`: 1 at every coordinate's first bin (whose left derivative is the end value 1).
    first_bin: DMatrix<T>,
    /// `1 × mK`: 1 at every coordinate's last bin.
    last_bin: DMatrix<T>,
}

impl<T: Float> Layout<T> {
    fn new(m: usize, bins: usize) -> Self {
        let one = T::one();
        let mk = m * bins;
        let inner = bins - 1;
        let group_sum = DMatrix::from_fn(mk, m, |r, j| if r / bins == j { one } else { T::zero() });
        let prefix = DMatrix::from_fn(mk, mk, |r, c| {
            if r / bins == c / bins && r % bins < c % bins {
                one
            } else {
                T::zero()
            }
        });
        let knot_to_bin = |shift: usize| {
            DMatrix::from_fn(m * inner, mk, move |r, c| {
                let (j, i) = (r / inner, r % inner + 1);
                if c == j * bins + i - shift {
                    one
                } else {
                    T::zero()
                }
            })
        };
        Self {
            group_spread: group_sum.transpose(),
            group_sum,
            prefix,
            left_of: knot_to_bin(0),
            right_of: knot_to_bin(1),
            first_bin: DMatrix::from_fn(1, mk, |_, c| if c % bins == 0 { one } else { T::zero() }),
            last_bin: DMatrix::from_fn(
                1,
                mk,
                |_, c| {
                    if c % bins == bins - 1 { one } else { T::zero() }
                },
            ),
        }
    }
}

/// The knots of the splines of one half: for `m` coordinates, `n × mK` matrices of the left
/// knots `x_k`, widths, left knot values `y_k`, heights and the derivatives at the left and
/// right knot of every bin.
struct Knots<'t, T: Float> {
    x: Var<'t, T>,
    width: Var<'t, T>,
    y: Var<'t, T>,
    height: Var<'t, T>,
    d_left: Var<'t, T>,
    d_right: Var<'t, T>,
}

/// The knots of the splines an [`RqSpline`] block applies to each sample of a batch
/// ([`RqSpline::knots`]). Each matrix is `n × d(K + 1)`: coordinate `j`'s knots `0..=K` sit in
/// columns `j(K + 1) .. (j + 1)(K + 1)`; the end knots are `±B` (`x`, `y`) and 1 (`derivative`).
#[derive(Clone, Debug, PartialEq)]
pub struct SplineKnots<T: Float> {
    /// Knot positions `x_k` (inputs of the forward map).
    pub x: DMatrix<T>,
    /// Knot values `y_k` (the spline maps `x_k` to `y_k`).
    pub y: DMatrix<T>,
    /// Derivatives `δ_k` of the spline at its knots.
    pub derivative: DMatrix<T>,
}

impl RqSpline {
    /// The kind name in a [`BlockSpec`].
    pub const KIND: &'static str = "rq_spline";

    /// Registers the two subnets under `{name}.net1.*` and `{name}.net2.*`; errors on an
    /// invalid configuration (`dim < 2`, `bins < 2`, a bound that is not positive and finite,
    /// minimum widths or heights outside `(0, 1/K)`, a minimum derivative outside `(0, 1)`).
    pub fn new<T: Float, R: Rng + ?Sized>(
        params: &mut Params<T>,
        name: &str,
        config: &RqSplineConfig,
        rng: &mut R,
    ) -> Result<Self> {
        let (len1, len2) = Self::check_config(config)?;
        let (k, per) = (config.cond_dim, 3 * config.bins - 1);
        let net = &config.subnet;
        Ok(Self {
            config: config.clone(),
            net1: net.build(params, &format!("{name}.net1"), len1 + k, len2 * per, rng)?,
            net2: net.build(params, &format!("{name}.net2"), len2 + k, len1 * per, rng)?,
        })
    }

    /// The block's options.
    pub fn config(&self) -> &RqSplineConfig {
        &self.config
    }

    /// The knots of the splines the block applies to the batch `x` (`n × d`, one sample per
    /// row, validated as by [`Bijector::forward_with`]): for the coordinates of `x1` those the
    /// subnet writes from `x2` (and the condition), for those of `x2` the ones it writes from
    /// `y1`. For plotting a trained block, and for placing test inputs exactly on knots.
    pub fn knots<T: Float>(
        &self,
        params: &Params<T>,
        x: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<SplineKnots<T>> {
        let (y, _) = self.forward_matrix_with(params, x, cond)?;
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        let (len1, len2) = (self.config.dim / 2, self.config.dim - self.config.dim / 2);
        let x2 = tape.constant(x.columns(len1, len2).into_owned());
        let y1 = tape.constant(y.columns(0, len1).into_owned());
        let raw2 = self.net2.forward(&p, subnet_input(x2, c)?)?;
        let raw1 = self.net1.forward(&p, subnet_input(y1, c)?)?;
        let (bins, bound) = (self.config.bins, lit::<T>(self.config.bound));
        let per = bins + 1;
        let n = x.nrows();
        let mut out = SplineKnots {
            x: DMatrix::zeros(n, self.config.dim * per),
            y: DMatrix::zeros(n, self.config.dim * per),
            derivative: DMatrix::zeros(n, self.config.dim * per),
        };
        let layout = Layout::new(1, bins);
        for (raw, m, first) in [(raw2, len1, 0), (raw1, len2, len1)] {
            for j in 0..m {
                let knots = self.knots_from_raw(self.raw_of(raw, m, j, 1)?, 1, &layout)?;
                let (kx, ky, kd) = (knots.x.value(), knots.y.value(), knots.d_left.value());
                let col = (first + j) * per;
                for i in 0..n {
                    for k in 0..bins {
                        out.x[(i, col + k)] = kx[(i, k)];
                        out.y[(i, col + k)] = ky[(i, k)];
                        out.derivative[(i, col + k)] = kd[(i, k)];
                    }
                    out.x[(i, col + bins)] = bound;
                    out.y[(i, col + bins)] = bound;
                    out.derivative[(i, col + bins)] = T::one();
                }
            }
        }
        Ok(out)
    }

    fn check_config(config: &RqSplineConfig) -> Result<(usize, usize)> {
        let fail = |what: String| Err(Error::Config(format!("{}: {what}", Self::KIND)));
        let k = config.bins;
        if k < 2 {
            return fail(format!("needs at least 2 bins, got {k}"));
        }
        if !(config.bound.is_finite() && config.bound > 0.0) {
            return fail(format!(
                "bound must be positive and finite, got {}",
                config.bound
            ));
        }
        for (what, v) in [
            ("min_bin_width", config.min_bin_width),
            ("min_bin_height", config.min_bin_height),
        ] {
            if !(v > 0.0 && v * (k as f64) < 1.0) {
                return fail(format!("{what} must lie in (0, 1/{k}), got {v}"));
            }
        }
        if !(config.min_derivative > 0.0 && config.min_derivative < 1.0) {
            return fail(format!(
                "min_derivative must lie in (0, 1), got {}",
                config.min_derivative
            ));
        }
        split_lens(Self::KIND, config.dim)
    }

    fn halves<'t, T: Float>(&self, v: Var<'t, T>) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let len1 = self.config.dim / 2;
        Ok((
            v.slice_cols(0, len1)?,
            v.slice_cols(len1, self.config.dim - len1)?,
        ))
    }

    /// The knots of the splines of `m` coordinates from the raw subnet output
    /// `n × m(3K − 1)` (widths, heights, derivatives, each coordinate by coordinate).
    fn knots_from_raw<'t, T: Float>(
        &self,
        raw: Var<'t, T>,
        m: usize,
        layout: &Layout<T>,
    ) -> Result<Knots<'t, T>> {
        let c = &self.config;
        let (bins, tape) = (c.bins, raw.tape());
        let mk = m * bins;
        let span = 2.0 * c.bound;
        let bin_sizes = |logits: Var<'t, T>, min: f64| -> Result<Var<'t, T>> {
            let probs = self.grouped_softmax(logits, layout)?;
            Ok(probs
                .scale(lit(span * (1.0 - min * bins as f64)))
                .add_scalar(lit(span * min)))
        };
        let width = bin_sizes(raw.slice_cols(0, mk)?, c.min_bin_width)?;
        let height = bin_sizes(raw.slice_cols(mk, mk)?, c.min_bin_height)?;
        let prefix = tape.constant(layout.prefix.clone());
        let x = width.matmul(prefix)?.add_scalar(lit(-c.bound));
        let y = height.matmul(prefix)?.add_scalar(lit(-c.bound));
        let shift = (1.0 - c.min_derivative).exp_m1().ln();
        let inner = raw
            .slice_cols(2 * mk, m * (bins - 1))?
            .add_scalar(lit(shift))
            .softplus()
            .add_scalar(lit(c.min_derivative));
        let d_left = inner
            .matmul(tape.constant(layout.left_of.clone()))?
            .add(tape.constant(layout.first_bin.clone()))?;
        let d_right = inner
            .matmul(tape.constant(layout.right_of.clone()))?
            .add(tape.constant(layout.last_bin.clone()))?;
        Ok(Knots {
            x,
            width,
            y,
            height,
            d_left,
            d_right,
        })
    }

    /// Softmax over the `K` bins of each coordinate, shifted by the (constant) maximum of each
    /// coordinate's logits, so that every group sums to at least 1 and nothing overflows.
    fn grouped_softmax<'t, T: Float>(
        &self,
        logits: Var<'t, T>,
        layout: &Layout<T>,
    ) -> Result<Var<'t, T>> {
        let bins = self.config.bins;
        let v = logits.value();
        let max = DMatrix::from_fn(v.nrows(), v.ncols(), |i, c| {
            let start = c / bins * bins;
            let group = v.row(i).columns(start, bins).max();
            if group.is_finite() { group } else { T::zero() }
        });
        let tape = logits.tape();
        let e = logits.sub(tape.constant(max))?.exp();
        let sums = e
            .matmul(tape.constant(layout.group_sum.clone()))?
            .matmul(tape.constant(layout.group_spread.clone()))?;
        Ok(e.div(sums)?)
    }

    /// Applies the splines whose raw parameters are `raw` (`n × m(3K − 1)`) to `u` (`n × m`),
    /// forwards or inverted: the output `n × m` and `Σ ln g′` per sample (`n × 1`, negated for
    /// the inverse).
    fn spline<'t, T: Float>(
        &self,
        raw: Var<'t, T>,
        u: Var<'t, T>,
        way: Way,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let m = u.ncols();
        if m <= COORDINATE_CHUNK {
            return self.spline_chunk(raw, u, way);
        }
        let mut outs = Vec::with_capacity(m.div_ceil(COORDINATE_CHUNK));
        let mut log_det: Option<Var<'t, T>> = None;
        for start in (0..m).step_by(COORDINATE_CHUNK) {
            let len = COORDINATE_CHUNK.min(m - start);
            let raw_chunk = self.raw_of(raw, m, start, len)?;
            let (out, ld) = self.spline_chunk(raw_chunk, u.slice_cols(start, len)?, way)?;
            outs.push(out);
            log_det = Some(match log_det {
                Some(total) => total.add(ld)?,
                None => ld,
            });
        }
        let log_det = log_det.ok_or_else(|| Error::Config("a spline of no coordinates".into()))?;
        Ok((concat_cols(&outs)?, log_det))
    }

    /// The raw parameters of coordinates `start .. start + len` of `m`, in the layout of a
    /// subnet output for `len` coordinates.
    fn raw_of<'t, T: Float>(
        &self,
        raw: Var<'t, T>,
        m: usize,
        start: usize,
        len: usize,
    ) -> Result<Var<'t, T>> {
        let k = self.config.bins;
        Ok(concat_cols(&[
            raw.slice_cols(start * k, len * k)?,
            raw.slice_cols(m * k + start * k, len * k)?,
            raw.slice_cols(2 * m * k + start * (k - 1), len * (k - 1))?,
        ])?)
    }

    /// [`Self::spline`] for at most [`COORDINATE_CHUNK`] coordinates at once.
    fn spline_chunk<'t, T: Float>(
        &self,
        raw: Var<'t, T>,
        u: Var<'t, T>,
        way: Way,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let (n, m) = u.shape();
        let bins = self.config.bins;
        let layout = Layout::<T>::new(m, bins);
        let knots = self.knots_from_raw(raw, m, &layout)?;
        let tape = u.tape();
        // Entries in [−B, B] go through the spline; the others are the identity and enter the
        // spline's formula as 0 (a point inside), so that its value and gradient stay finite
        // before the mask discards them.
        let bound: T = lit(self.config.bound);
        let uv = u.value();
        let inside = uv.map(|v| {
            if v >= -bound && v <= bound {
                T::one()
            } else {
                T::zero()
            }
        });
        let u_in = u.mul(tape.constant(inside.clone()))?;
        // The bin of each entry: the number of interior knots at or below it.
        let left_knots = match way {
            Way::Forward => knots.x.value(),
            Way::Inverse => knots.y.value(),
        };
        let mut one_hot = DMatrix::<T>::zeros(n, m * bins);
        for i in 0..n {
            for j in 0..m {
                let v = uv[(i, j)] * inside[(i, j)];
                let bin = (1..bins)
                    .filter(|&k| v >= left_knots[(i, j * bins + k)])
                    .count();
                one_hot[(i, j * bins + bin)] = T::one();
            }
        }
        let one_hot = tape.constant(one_hot);
        let group_sum = tape.constant(layout.group_sum);
        let pick = |v: Var<'t, T>| v.mul(one_hot)?.matmul(group_sum);
        let (xk, w, yk, h) = (
            pick(knots.x)?,
            pick(knots.width)?,
            pick(knots.y)?,
            pick(knots.height)?,
        );
        let (dl, dr) = (pick(knots.d_left)?, pick(knots.d_right)?);
        let s = h.div(w)?;
        // δ_{k+1} + δ_k − 2s, the curvature term of the denominator.
        let bend = dr.add(dl)?.sub(s.scale(lit(2.0)))?;
        let xi = match way {
            Way::Forward => u_in.sub(xk)?.div(w)?,
            Way::Inverse => {
                let delta = u_in.sub(yk)?;
                let a = h.mul(s.sub(dl)?)?.add(delta.mul(bend)?)?;
                let b = h.mul(dl)?.sub(delta.mul(bend)?)?;
                let c = s.mul(delta)?.neg();
                let disc = b.square().sub(a.mul(c)?.scale(lit(4.0)))?;
                c.scale(lit(2.0)).div(b.neg().sub(disc.sqrt())?)?
            }
        };
        let one_minus = xi.neg().add_scalar(T::one());
        let xi_bar = xi.mul(one_minus)?;
        let denominator = s.add(bend.mul(xi_bar)?)?;
        let slope_terms = dr
            .mul(xi.square())?
            .add(s.mul(xi_bar)?.scale(lit(2.0)))?
            .add(dl.mul(one_minus.square())?)?;
        // ln g′ = 2 ln s + ln(slope terms) − 2 ln(denominator).
        let log_slope = s
            .ln()
            .scale(lit(2.0))
            .add(slope_terms.ln())?
            .sub(denominator.ln().scale(lit(2.0)))?;
        let outside = tape.constant(inside.map(|v| T::one() - v));
        let inside = tape.constant(inside);
        let spline_out = match way {
            Way::Forward => {
                let numerator = h.mul(s.mul(xi.square())?.add(dl.mul(xi_bar)?)?)?;
                yk.add(numerator.div(denominator)?)?
            }
            Way::Inverse => xi.mul(w)?.add(xk)?,
        };
        let out = spline_out.mul(inside)?.add(u.mul(outside)?)?;
        let log_det = log_slope.mul(inside)?.sum_cols();
        Ok(match way {
            Way::Forward => (out, log_det),
            Way::Inverse => (out, log_det.neg()),
        })
    }
}

impl<T: Float> Bijector<T> for RqSpline {
    fn dim(&self) -> usize {
        self.config.dim
    }

    fn cond_dim(&self) -> usize {
        self.config.cond_dim
    }

    fn name(&self) -> &'static str {
        Self::KIND
    }

    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        let (x1, x2) = self.halves(x)?;
        let raw2 = self.net2.forward(p, subnet_input(x2, cond)?)?;
        let (y1, ld2) = self.spline(raw2, x1, Way::Forward)?;
        let raw1 = self.net1.forward(p, subnet_input(y1, cond)?)?;
        let (y2, ld1) = self.spline(raw1, x2, Way::Forward)?;
        Ok((concat_cols(&[y1, y2])?, ld2.add(ld1)?))
    }

    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        y: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        let (y1, y2) = self.halves(y)?;
        let raw1 = self.net1.forward(p, subnet_input(y1, cond)?)?;
        let (x2, ld1) = self.spline(raw1, y2, Way::Inverse)?;
        let raw2 = self.net2.forward(p, subnet_input(x2, cond)?)?;
        let (x1, ld2) = self.spline(raw2, y1, Way::Inverse)?;
        Ok((concat_cols(&[x1, x2])?, ld1.add(ld2)?))
    }

    fn spec(&self) -> Result<BlockSpec> {
        BlockSpec::new(Self::KIND, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{Case, normal_batch};
    use autodiff::nn::Activation;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn config(dim: usize, cond_dim: usize) -> RqSplineConfig {
        RqSplineConfig {
            cond_dim,
            ..RqSplineConfig::new(dim, SubnetConfig::new(&[8, 8], Activation::Tanh))
        }
    }

    fn build(config: &RqSplineConfig, seed: u64) -> (RqSpline, Params<f64>) {
        let mut params = Params::new();
        let block =
            RqSpline::new(&mut params, "s", config, &mut StdRng::seed_from_u64(seed)).unwrap();
        (block, params)
    }

    /// The spline of one coordinate from its raw parameters, in plain f64, written from the
    /// paper's formulas independently of the tape version: the knots `(x_k, y_k, δ_k)`.
    fn reference_knots(raw: &[f64], c: &RqSplineConfig) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let k = c.bins;
        let sizes = |logits: &[f64], min: f64| {
            let max = logits.iter().copied().fold(f64::MIN, f64::max);
            let e: Vec<f64> = logits.iter().map(|v| (v - max).exp()).collect();
            let total: f64 = e.iter().sum();
            let mut knots = vec![-c.bound];
            for v in &e {
                let size = 2.0 * c.bound * (min + (1.0 - min * k as f64) * v / total);
                knots.push(knots.last().unwrap() + size);
            }
            knots
        };
        let xs = sizes(&raw[..k], c.min_bin_width);
        let ys = sizes(&raw[k..2 * k], c.min_bin_height);
        let shift = (1.0 - c.min_derivative).exp_m1().ln();
        let mut ds = vec![1.0];
        ds.extend(
            raw[2 * k..]
                .iter()
                .map(|u| c.min_derivative + (u + shift).exp().ln_1p()),
        );
        ds.push(1.0);
        (xs, ys, ds)
    }

    /// The raw parameters of coordinate `j` of `m` in a subnet output row (widths, heights and
    /// derivatives each laid out coordinate by coordinate).
    fn coordinate(raw: &[f64], m: usize, j: usize, k: usize) -> Vec<f64> {
        let mut out = raw[j * k..(j + 1) * k].to_vec();
        out.extend_from_slice(&raw[m * k + j * k..m * k + (j + 1) * k]);
        out.extend_from_slice(&raw[2 * m * k + j * (k - 1)..2 * m * k + (j + 1) * (k - 1)]);
        out
    }

    /// `(g(x), ln g′(x))` of the reference spline.
    fn reference_spline(raw: &[f64], c: &RqSplineConfig, x: f64) -> (f64, f64) {
        if x.abs() > c.bound {
            return (x, 0.0);
        }
        let (xs, ys, ds) = reference_knots(raw, c);
        let k = (1..c.bins).filter(|&k| x >= xs[k]).count();
        let (w, h) = (xs[k + 1] - xs[k], ys[k + 1] - ys[k]);
        let (s, t) = (h / w, (x - xs[k]) / w);
        let tt = t * (1.0 - t);
        let den = s + (ds[k + 1] + ds[k] - 2.0 * s) * tt;
        let y = ys[k] + h * (s * t * t + ds[k] * tt) / den;
        let slope = s * s * (ds[k + 1] * t * t + 2.0 * s * tt + ds[k] * (1.0 - t) * (1.0 - t))
            / (den * den);
        (y, slope.ln())
    }

    /// A batch with entries inside and outside `[−B, B]` (scale 3 around B = 3).
    fn mixed_batch(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
        normal_batch(n, d, &mut StdRng::seed_from_u64(seed)).scale(3.0)
    }

    #[test]
    fn laws_hold_for_even_and_odd_widths_and_conditions() {
        for (dim, cond_dim) in [(2, 0), (3, 0), (5, 0), (4, 3), (3, 1), (19, 2)] {
            let (block, params) = build(&config(dim, cond_dim), dim as u64);
            let mut rng = StdRng::seed_from_u64(70 + dim as u64);
            let x = mixed_batch(8, dim, 30 + dim as u64);
            let cond = (cond_dim > 0).then(|| normal_batch(8, cond_dim, &mut rng));
            let case = Case {
                block: &block,
                params: &params,
                x,
                cond,
            };
            case.check_all();
            // Every parameter entry is a central difference: the wide block's 4000 would take
            // half a minute, the narrow ones cover the same code per chunk.
            if dim < 19 {
                case.param_gradients();
            }
        }
    }

    /// The block's output and log-det, recomputed coordinate by coordinate from the subnets'
    /// raw outputs with the reference spline.
    #[test]
    fn forward_is_the_rational_quadratic_formula() {
        // Width 19 splits into 9 and 10 coordinates, more than one chunk per side.
        for dim in [3, 19] {
            let c = config(dim, 0);
            let (block, params) = build(&c, 9);
            let x = mixed_batch(12, dim, 10);
            let (k, len1) = (c.bins, dim / 2);
            let len2 = dim - len1;
            let (y, ld) = block.forward_matrix(&params, &x).unwrap();
            let raw2 = block
                .net2
                .eval(&params, &x.columns(len1, len2).into_owned())
                .unwrap();
            let raw1 = block
                .net1
                .eval(&params, &y.columns(0, len1).into_owned())
                .unwrap();
            for i in 0..12 {
                let row2: Vec<f64> = raw2.row(i).iter().copied().collect();
                let row1: Vec<f64> = raw1.row(i).iter().copied().collect();
                let mut log_det = 0.0;
                for j in 0..dim {
                    let raw = if j < len1 {
                        coordinate(&row2, len1, j, k)
                    } else {
                        coordinate(&row1, len2, j - len1, k)
                    };
                    let (want, l) = reference_spline(&raw, &c, x[(i, j)]);
                    let got = y[(i, j)];
                    assert!(
                        (got - want).abs() < 1e-12,
                        "d {dim} ({i}, {j}): {got} vs {want}"
                    );
                    log_det += l;
                }
                assert!((ld[(i, 0)] - log_det).abs() < 1e-11, "d {dim} row {i}");
            }
        }
    }

    /// Subnets with a zero last layer output zero: uniform bins and unit derivatives, the
    /// identity.
    #[test]
    fn zero_last_layers_start_at_the_identity() {
        let mut c = config(4, 2);
        c.subnet.zero_last = true;
        let (block, params) = build(&c, 1);
        let x = mixed_batch(9, 4, 3);
        let cond = normal_batch(9, 2, &mut StdRng::seed_from_u64(4));
        let (y, ld) = block.forward_matrix_with(&params, &x, Some(&cond)).unwrap();
        assert!((&y - &x).abs().max() < 1e-14);
        assert!(ld.abs().max() < 1e-14);
    }

    /// The knots `x_0..x_K`, knot values `y_0..y_K` and log-derivatives of the single spline
    /// written by a subnet with one input, at input 0, as the block computes them (so that a
    /// batch can sit on them bit for bit); the last knot is `±B`.
    fn block_knots(block: &RqSpline, net: &Mlp, params: &Params<f64>) -> [Vec<f64>; 3] {
        let raw = net.eval(params, &DMatrix::zeros(1, 1)).unwrap();
        let tape = autodiff::Tape::<f64>::no_grad();
        let layout = Layout::<f64>::new(1, block.config.bins);
        let k = block
            .knots_from_raw(tape.constant(raw), 1, &layout)
            .unwrap();
        let row = |v: &Var<'_, f64>, last: f64| {
            let mut out: Vec<f64> = v.to_matrix().iter().copied().collect();
            out.push(last);
            out
        };
        let mut log_slopes = row(&k.d_left, 1.0);
        log_slopes.iter_mut().for_each(|d| *d = d.ln());
        [row(&k.x, 3.0), row(&k.y, 3.0), log_slopes]
    }

    /// A block whose subnets ignore their input (one linear layer with zero weights and random
    /// biases) has the same splines for every sample, so a batch can sit exactly on their knots,
    /// on both halves at once. There, and at the end knots ±B and just outside them, the round
    /// trip and the inverse log-det hold; knots map onto knot values both ways, with log-det
    /// `ln δ_k` of the knot derivatives (the tests/ suite checks the numerical Jacobian at knots
    /// with Richardson extrapolation, which plain central differences across the jump in `g″`
    /// are too coarse for).
    #[test]
    fn laws_hold_exactly_at_the_knots_and_the_bound() {
        let c = RqSplineConfig {
            bins: 5,
            ..RqSplineConfig::new(2, SubnetConfig::new(&[], Activation::Tanh))
        };
        let (block, mut params) = build(&c, 11);
        let mut rng = StdRng::seed_from_u64(12);
        for net in ["net1", "net2"] {
            let w = params.id(&format!("s.{net}.0.weight")).unwrap();
            params.get_mut(w).fill(0.0);
            let b = params.id(&format!("s.{net}.0.bias")).unwrap();
            let noise = normal_batch(1, params.get(b).ncols(), &mut rng);
            *params.get_mut(b) = noise;
        }
        let [x1, y1, l1] = block_knots(&block, &block.net2, &params);
        let [x2, y2, l2] = block_knots(&block, &block.net1, &params);
        // Sample i sits on knot i of the first coordinate and knot K − i of the second.
        let n = x1.len();
        let pairs = |a: &[f64], b: &[f64]| {
            DMatrix::from_fn(n, 2, |i, j| if j == 0 { a[i] } else { b[n - 1 - i] })
        };
        let (at_x, at_y) = (pairs(&x1, &x2), pairs(&y1, &y2));
        let log_det = DMatrix::from_fn(n, 1, |i, _| l1[i] + l2[n - 1 - i]);
        let (y, ld) = block.forward_matrix(&params, &at_x).unwrap();
        assert!((&y - &at_y).abs().max() < 1e-14, "{y} vs {at_y}");
        assert!((&ld - &log_det).abs().max() < 1e-12, "{ld} vs {log_det}");
        let (x, inv_ld) = block.inverse_matrix(&params, &at_y).unwrap();
        assert!((&x - &at_x).abs().max() < 1e-14, "{x} vs {at_x}");
        assert!((&inv_ld + &log_det).abs().max() < 1e-12);
        let edge = DMatrix::from_row_slice(3, 2, &[3.0, -3.0, 3.0 + 1e-9, -3.0 - 1e-9, -3.0, 3.0]);
        for batch in [at_x, at_y, edge] {
            let case = Case {
                block: &block,
                params: &params,
                x: batch,
                cond: None,
            };
            case.round_trip();
            case.inverse_log_det();
        }
    }

    /// Each spline maps `[−B, B]` onto itself, increasingly, and is the identity outside.
    #[test]
    fn splines_are_monotone_bounded_and_identity_outside() {
        let (block, params) = build(&config(2, 0), 5);
        let n = 401;
        // x2 fixed, x1 swept from −4 to 4: y1 increases, fixes ±3 and leaves |x1| > 3 alone.
        let x = DMatrix::from_fn(n, 2, |i, j| {
            if j == 0 {
                -4.0 + 8.0 * i as f64 / (n - 1) as f64
            } else {
                0.7
            }
        });
        let (y, _) = block.forward_matrix(&params, &x).unwrap();
        for i in 1..n {
            assert!(y[(i, 0)] > y[(i - 1, 0)], "not increasing at {}", x[(i, 0)]);
        }
        for i in 0..n {
            let v = x[(i, 0)];
            if v.abs() >= 3.0 {
                assert!((y[(i, 0)] - v).abs() < 1e-12, "{v} -> {}", y[(i, 0)]);
            } else {
                assert!(y[(i, 0)].abs() <= 3.0 + 1e-12);
            }
        }
    }

    #[test]
    fn invalid_configurations_are_errors() {
        let mut params = Params::<f64>::new();
        let mut rng = StdRng::seed_from_u64(0);
        let base = config(4, 0);
        let bad = [
            RqSplineConfig {
                dim: 1,
                ..base.clone()
            },
            RqSplineConfig {
                bins: 1,
                ..base.clone()
            },
            RqSplineConfig {
                bound: 0.0,
                ..base.clone()
            },
            RqSplineConfig {
                bound: f64::INFINITY,
                ..base.clone()
            },
            RqSplineConfig {
                bound: f64::NAN,
                ..base.clone()
            },
            RqSplineConfig {
                min_bin_width: 0.0,
                ..base.clone()
            },
            RqSplineConfig {
                min_bin_width: 0.125,
                ..base.clone()
            },
            RqSplineConfig {
                min_bin_height: -1.0,
                ..base.clone()
            },
            RqSplineConfig {
                min_derivative: 1.0,
                ..base.clone()
            },
            RqSplineConfig {
                min_derivative: f64::NAN,
                ..base.clone()
            },
        ];
        for c in bad {
            assert!(
                matches!(
                    RqSpline::new(&mut params, "s", &c, &mut rng),
                    Err(Error::Config(_))
                ),
                "{c:?}"
            );
        }
    }

    /// NaN entries, wrong widths and empty batches are errors in both directions.
    #[test]
    fn bad_inputs_are_errors() {
        let (block, params) = build(&config(3, 0), 2);
        let mut x = mixed_batch(4, 3, 1);
        x[(2, 1)] = f64::NAN;
        for result in [
            block.forward_matrix(&params, &x),
            block.inverse_matrix(&params, &x),
        ] {
            assert!(matches!(
                result,
                Err(Error::NonFinite { row: 2, col: 1, .. })
            ));
        }
        let wide = mixed_batch(4, 4, 1);
        assert!(matches!(
            block.forward_matrix(&params, &wide),
            Err(Error::Width { .. })
        ));
        assert!(matches!(
            block.inverse_matrix(&params, &wide),
            Err(Error::Width { .. })
        ));
        let empty = DMatrix::<f64>::zeros(0, 3);
        assert!(matches!(
            block.forward_matrix(&params, &empty),
            Err(Error::EmptyBatch { .. })
        ));
    }

    #[test]
    fn a_spec_whose_subnets_do_not_match_is_rejected() {
        let (block, _) = build(&config(4, 0), 2);
        for (field, value) in [("bins", 5), ("cond_dim", 1), ("dim", 5)] {
            let mut spec = Bijector::<f64>::spec(&block).unwrap();
            spec.config["config"][field] = value.into();
            assert!(matches!(
                crate::block_from_spec::<f64>(&spec),
                Err(Error::Spec(_))
            ));
        }
        let mut spec = Bijector::<f64>::spec(&block).unwrap();
        spec.config["config"]["bound"] = (-1.0).into();
        assert!(crate::block_from_spec::<f64>(&spec).is_err());
    }

    /// f32, the training type: the round trip holds to single precision.
    #[test]
    fn f32_round_trip() {
        let mut params = Params::<f32>::new();
        let block = RqSpline::new(
            &mut params,
            "s",
            &config(3, 0),
            &mut StdRng::seed_from_u64(5),
        )
        .unwrap();
        let x = mixed_batch(32, 3, 6).map(|v| v as f32);
        let (y, ld) = block.forward_matrix(&params, &x).unwrap();
        let (back, inv_ld) = block.inverse_matrix(&params, &y).unwrap();
        assert!((back - x).abs().max() < 1e-4);
        assert!((ld + inv_ld).abs().max() < 1e-4);
    }

    /// A spline stack is saved as (spec, parameters) and rebuilt exactly; a `StackConfig`
    /// saved before the spline options existed reads with their defaults.
    #[test]
    fn spline_stacks_save_load_and_old_stack_configs_read() {
        use crate::{Chain, CouplingKind, StackConfig};
        let config = StackConfig {
            subnet: SubnetConfig {
                hidden: vec![6],
                ..SubnetConfig::default()
            },
            dim: 3,
            blocks: 2,
            coupling: CouplingKind::Spline,
            bins: 4,
            bound: 2.5,
            actnorm: true,
            ..StackConfig::default()
        };
        let mut params = Params::<f64>::new();
        let flow =
            Chain::coupling_stack(&mut params, &config, &mut StdRng::seed_from_u64(3)).unwrap();
        let x = mixed_batch(10, 3, 4);
        let text = serde_json::to_string(&flow.spec().unwrap()).unwrap();
        let restored =
            crate::block_from_spec::<f64>(&serde_json::from_str(&text).unwrap()).unwrap();
        let params_back = Params::from_json(&params.to_json().unwrap()).unwrap();
        assert_eq!(
            restored.forward_matrix(&params_back, &x).unwrap(),
            flow.forward_matrix(&params, &x).unwrap()
        );
        assert!(text.contains("\"bins\":4"));

        let mut old = serde_json::to_value(&config).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("bins");
        fields.remove("bound");
        let read: StackConfig = serde_json::from_value(old).unwrap();
        assert_eq!((read.bins, read.bound), (DEFAULT_BINS, DEFAULT_BOUND));
    }
}
