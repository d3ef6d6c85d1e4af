//! Summary (conditioning) networks `h(y)`: learned features of the observation that a
//! conditional flow reads instead of the raw `y`, trained jointly with it.
//!
//! A conditional INN's couplings read their condition in every subnet. When `y` is large
//! (a spectrum of 200 bins), structured (a set of 50 exchangeable draws, a time series) or
//! redundant, feeding it raw makes every coupling relearn the same features from it, and
//! ignores structure it is known to have. A summary network `h: ℝ^y_dim → ℝ^k` computes the
//! features once, with the right inductive bias, and its output `h(y)` (`n × k`) is the
//! condition of every coupling. Training is joint (Radev et al. 2020, "BayesFlow: learning
//! complex stochastic models with invertible neural networks"): the maximum-likelihood loss
//! `mean_i(½‖f(xᵢ; h(yᵢ))‖² − log|det ∂f/∂x|)` is differentiated with respect to `h`'s
//! parameters too, through every coupling that reads `h(y)`, so `h` learns the statistics of
//! `y` that the posterior depends on (at the optimum, sufficient ones: the loss is the expected
//! KL divergence from the true posterior plus a constant, and it cannot go lower than with
//! sufficient statistics).
//!
//! Three kinds ([`SummaryKind`]):
//! - **`Mlp`**: a dense network, `y → ℝ^k`; no structural assumption, a learned compression.
//! - **`DeepSet`** (Zaheer et al. 2017, "Deep sets"): `y` holds a set of `s` exchangeable
//!   observations of width `d` (row-major: observation `i` in columns `i·d .. (i+1)·d`);
//!   `h(y) = ρ(pool_{i=1..s} φ(yᵢ))` with `φ` an MLP on every element (followed by the
//!   activation), `pool` the mean over the set (and optionally the max, concatenated), `ρ` an
//!   MLP. Invariant to permuting the set by construction, and the mean of `φ` can represent
//!   empirical moments, the sufficient statistics of exponential families (for i.i.d. normal
//!   draws, the sample mean and variance).
//! - **`Conv1d`**: `y` is a 1-D signal of `length` positions and `in_channels` channels
//!   (position-major: channel `c` of position `t` in column `t·in_channels + c`): strided 1-D
//!   convolutions without padding, each followed by the activation, then the mean over the
//!   remaining positions (global average pooling) and a dense layer to `k`; by default the
//!   normalised position is one more input channel, so that the pooled features can still say
//!   where a peak is. Local, shared
//!   filters for spectra and time series: a peak is recognised wherever it lies. Convolutions
//!   are one GEMM per layer over the patches ([`autodiff::Var::im2col_1d`]).
//!
//! A [`SummaryNet`] registers its parameters in a [`Params`] store under a name prefix (the
//! flow's store, so one optimizer trains both), runs on a tape ([`SummaryNet::forward`], for
//! training) or on plain matrices ([`SummaryNet::apply`], for inference), and serialises as its
//! description (configuration, widths and parameter handles), which restores it without an rng.

use crate::{Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::nn::{Activation, Init, Linear, Mlp, MlpConfig};
use autodiff::{Bound, Float, ParamId, Params, Tape, Var, conv1d_output_length};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The architecture of a [`SummaryNet`], by kind. The constructors on [`SummaryConfig`] fill in
/// the documented defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SummaryKind {
    /// A dense network `y_dim → hidden… → out_dim`.
    Mlp {
        /// Hidden widths. Default `[128, 128]` (two layers: enough to learn nonlinear
        /// statistics of a `y` of tens of columns, the size of a coupling subnet).
        hidden: Vec<usize>,
    },
    /// `ρ(pool φ(yᵢ))` over a set of `set_size` observations of width `elem_dim`
    /// (`y_dim = set_size · elem_dim`, observation `i` in columns `i·elem_dim .. (i+1)·elem_dim`).
    DeepSet {
        /// Number `s` of observations in every set.
        set_size: usize,
        /// Width `d` of one observation.
        elem_dim: usize,
        /// Widths of `φ` after its input (at least one; the last is the width of the pooled
        /// features): `elem_dim → phi_hidden…`, the activation after every layer, the last
        /// included. Default `[64, 64]` (two layers per element: moments such as `yᵢ²` need
        /// a nonlinearity before the mean).
        phi_hidden: Vec<usize>,
        /// Concatenate the max over the set to the mean (doubles `ρ`'s input). Default
        /// `false`: the mean already estimates moments; the max helps when the extremes of
        /// the set carry the information (the support of a uniform).
        max_pool: bool,
        /// Hidden widths of `ρ` (`pooled → rho_hidden… → out_dim`). Default `[64]`.
        rho_hidden: Vec<usize>,
    },
    /// Strided 1-D convolutions, global average pooling and a dense layer.
    Conv1d {
        /// Positions of the signal.
        length: usize,
        /// Channels per position (`y_dim = length · in_channels`). Default 1 (a spectrum).
        in_channels: usize,
        /// Output channels of every convolution, in order. Default `[16, 32, 32]`.
        channels: Vec<usize>,
        /// Kernel width of every convolution. Default 5 (with stride 2 and three layers the
        /// receptive field is 1 + 4·(1 + 2 + 4) = 29 positions, wide enough for a peak a few
        /// bins wide and its flanks).
        kernel: usize,
        /// Stride of every convolution. Default 2 (halves the positions per layer: 200 → 98 →
        /// 47 → 22, so the three layers cost less than the first alone would at stride 1).
        stride: usize,
        /// Append the normalised position `(t + ½)/length` as one more input channel
        /// ("CoordConv", Liu et al. 2018). Default `true`: global average pooling makes the
        /// summary blind to where a feature is (only the borders break the translation
        /// invariance), so without it the position of a peak is nearly lost; with it a filter
        /// can weigh what it finds by where it finds it. Descriptions without the field read
        /// `false`.
        #[serde(default)]
        position_channel: bool,
    },
}

/// Options of a [`SummaryNet`]: its kind, output width, activation and initialisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryConfig {
    /// The architecture.
    pub kind: SummaryKind,
    /// Width `k` of the summary `h(y)` (the condition width of the flow). Default 16 (64 for
    /// [`SummaryConfig::conv1d`]): room
    /// for a few sufficient statistics per parameter of the small problems here (2 suffice
    /// for normal draws), and well below a raw `y` of 50–200 columns, so every coupling's
    /// first layer shrinks (BayesFlow's DeepSet uses 10).
    pub out_dim: usize,
    /// Activation between layers (and after `φ` and every convolution). Default ReLU.
    pub activation: Activation,
    /// Weight initialisation; `None` picks [`Activation::default_init`] (He for ReLU).
    /// Default `None`.
    #[serde(default)]
    pub init: Option<Init>,
}

impl SummaryConfig {
    /// Default output width (see [`SummaryConfig::out_dim`]) of the dense and deep-set
    /// summaries.
    pub const DEFAULT_OUT_DIM: usize = 16;
    /// Default output width of the convolutional summary (see [`SummaryConfig::conv1d`]).
    pub const DEFAULT_CONV1D_OUT_DIM: usize = 64;

    fn with_kind(kind: SummaryKind) -> Self {
        Self {
            kind,
            out_dim: Self::DEFAULT_OUT_DIM,
            activation: Activation::Relu,
            init: None,
        }
    }

    /// A dense summary with the defaults: hidden `[128, 128]`, ReLU, `out_dim` 16.
    pub fn mlp() -> Self {
        Self::with_kind(SummaryKind::Mlp {
            hidden: vec![128, 128],
        })
    }

    /// A deep set over `set_size` observations of width `elem_dim` with the defaults:
    /// `φ` widths `[64, 64]`, mean pooling only, `ρ` hidden `[64]`, ReLU, `out_dim` 16.
    pub fn deep_set(set_size: usize, elem_dim: usize) -> Self {
        Self::with_kind(SummaryKind::DeepSet {
            set_size,
            elem_dim,
            phi_hidden: vec![64, 64],
            max_pool: false,
            rho_hidden: vec![64],
        })
    }

    /// A 1-D convolutional summary of a one-channel signal of `length` positions with the
    /// defaults: channels `[32, 64, 64]`, kernel 7, stride 2, a position channel, ReLU,
    /// `out_dim` [`Self::DEFAULT_CONV1D_OUT_DIM`] (64).
    ///
    /// Wider than the other kinds' defaults because global average pooling has to carry
    /// every peak's position, width and height through a handful of pooled channels: on
    /// `LorentzSpectrum` (9 parameters, 200 bins; 1500 steps, 20 000 pairs, seed 0, the
    /// `cinn_summary` example) the held-out NLL was −21.4 nats with channels `[16, 32, 32]`,
    /// kernel 5 and `out_dim` 16, −23.8 with `[32, 64, 64]` and 32, −25.7 with these
    /// defaults and −26.5 with `out_dim` 128 (271k parameters, close to the raw-bin cINN's
    /// 330k; −24.1 with the raw bins).
    pub fn conv1d(length: usize) -> Self {
        Self {
            out_dim: Self::DEFAULT_CONV1D_OUT_DIM,
            ..Self::with_kind(SummaryKind::Conv1d {
                length,
                in_channels: 1,
                channels: vec![32, 64, 64],
                kernel: 7,
                stride: 2,
                position_channel: true,
            })
        }
    }

    /// The observation width this configuration requires, when it fixes one (`None` for
    /// [`SummaryKind::Mlp`], which takes any).
    pub fn required_y_dim(&self) -> Option<usize> {
        match &self.kind {
            SummaryKind::Mlp { .. } => None,
            SummaryKind::DeepSet {
                set_size, elem_dim, ..
            } => Some(set_size * elem_dim),
            SummaryKind::Conv1d {
                length,
                in_channels,
                ..
            } => Some(length * in_channels),
        }
    }

    /// Checks the options for observations of width `y_dim`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first bad option.
    pub fn validate(&self, y_dim: usize) -> Result<()> {
        let bad = |reason: String| Err(Error::Config(format!("SummaryNet: {reason}")));
        if y_dim == 0 || self.out_dim == 0 {
            return bad(format!(
                "needs y_dim >= 1 and out_dim >= 1, got {y_dim}, {}",
                self.out_dim
            ));
        }
        if let Some(required) = self.required_y_dim()
            && required != y_dim
        {
            return bad(format!(
                "the {} summary reads {required} columns, y has {y_dim}",
                self.kind_name()
            ));
        }
        let widths = |name: &str, w: &[usize], at_least_one: bool| {
            if w.contains(&0) || (at_least_one && w.is_empty()) {
                bad(format!("{name} must be non-empty widths >= 1, got {w:?}"))
            } else {
                Ok(())
            }
        };
        match &self.kind {
            SummaryKind::Mlp { hidden } => widths("hidden", hidden, false),
            SummaryKind::DeepSet {
                set_size,
                elem_dim,
                phi_hidden,
                rho_hidden,
                ..
            } => {
                if *set_size == 0 || *elem_dim == 0 {
                    return bad(format!(
                        "set_size and elem_dim must be >= 1, got {set_size}, {elem_dim}"
                    ));
                }
                widths("phi_hidden", phi_hidden, true)?;
                widths("rho_hidden", rho_hidden, false)
            }
            SummaryKind::Conv1d {
                length,
                in_channels,
                channels,
                kernel,
                stride,
                ..
            } => {
                if *in_channels == 0 || *kernel == 0 || *stride == 0 {
                    return bad(format!(
                        "in_channels, kernel and stride must be >= 1, got {in_channels}, {kernel}, {stride}"
                    ));
                }
                widths("channels", channels, true)?;
                let mut len = *length;
                for k in 0..channels.len() {
                    let next = conv1d_output_length(len, *kernel, *stride);
                    if next == 0 {
                        return bad(format!(
                            "convolution {k} gets {len} positions, fewer than the kernel {kernel}"
                        ));
                    }
                    len = next;
                }
                Ok(())
            }
        }
    }

    /// `"mlp"`, `"deep_set"` or `"conv1d"`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            SummaryKind::Mlp { .. } => "mlp",
            SummaryKind::DeepSet { .. } => "deep_set",
            SummaryKind::Conv1d { .. } => "conv1d",
        }
    }
}

/// The layers of a built [`SummaryNet`] (parameter handles into the store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Layers {
    Mlp(Mlp),
    DeepSet {
        phi: Mlp,
        rho: Mlp,
    },
    Conv1d {
        /// Convolution `k` as a dense layer on its patches: `(kernel · c_in) × c_out`.
        convs: Vec<Linear>,
        /// The dense layer after pooling: `channels.last() × out_dim`.
        head: Linear,
    },
}

/// A summary network `h: ℝ^y_dim → ℝ^out_dim` on batches of observations (`n × y_dim` in,
/// `n × out_dim` out, one observation per row). See the [module docs](self) for the kinds.
///
/// ```
/// use inn::summary::{SummaryConfig, SummaryNet};
/// use inn::autodiff::{Params, Tape, nalgebra::DMatrix};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut params = Params::<f64>::new();
/// // Sets of 10 scalar draws per row.
/// let net = SummaryNet::new(&mut params, "summary", &SummaryConfig::deep_set(10, 1), 10, &mut rng)?;
/// let y = DMatrix::from_fn(4, 10, |i, j| (i * 10 + j) as f64 / 40.0);
/// let h = net.apply(&params, &y)?;                         // inference: 4 × 16
/// let tape = Tape::new();
/// let p = params.bind(&tape);
/// let h_on_tape = net.forward(&p, tape.constant(y.clone()))?; // training: differentiable
/// assert_eq!((h.shape(), h_on_tape.to_matrix()), ((4, 16), h.clone()));
/// // The description restores the network (no rng): same output from the same store.
/// let restored: SummaryNet = serde_json::from_str(&serde_json::to_string(&net).unwrap()).unwrap();
/// restored.check_params(&params)?;
/// assert_eq!(restored.apply(&params, &y)?, h);
/// # Ok::<(), inn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryNet {
    config: SummaryConfig,
    y_dim: usize,
    layers: Layers,
}

impl SummaryNet {
    /// Builds the network for observations of width `y_dim`, registering its parameters in
    /// `params` under `{name}.mlp.*`, `{name}.phi.*` / `{name}.rho.*`, or `{name}.conv.{k}.*` /
    /// `{name}.head.*`, weights drawn from `rng`.
    ///
    /// # Errors
    /// [`Error::Config`] for options that do not fit `y_dim` ([`SummaryConfig::validate`]);
    /// [`Error::Autodiff`] when a parameter name is taken.
    pub fn new<T: Float, R: Rng + ?Sized>(
        params: &mut Params<T>,
        name: &str,
        config: &SummaryConfig,
        y_dim: usize,
        rng: &mut R,
    ) -> Result<Self> {
        config.validate(y_dim)?;
        let mlp = |params: &mut Params<T>, suffix: &str, sizes: Vec<usize>, rng: &mut R| {
            let cfg = MlpConfig {
                init: config.init,
                ..MlpConfig::new(&sizes, config.activation)
            };
            Mlp::new(params, &format!("{name}.{suffix}"), &cfg, rng)
        };
        let init = config
            .init
            .unwrap_or_else(|| config.activation.default_init());
        let layers = match &config.kind {
            SummaryKind::Mlp { hidden } => {
                let sizes = [&[y_dim][..], hidden, &[config.out_dim]].concat();
                Layers::Mlp(mlp(params, "mlp", sizes, rng)?)
            }
            SummaryKind::DeepSet {
                elem_dim,
                phi_hidden,
                max_pool,
                rho_hidden,
                ..
            } => {
                let phi = mlp(params, "phi", [&[*elem_dim][..], phi_hidden].concat(), rng)?;
                let pooled = phi.out_dim() * if *max_pool { 2 } else { 1 };
                let rho_sizes = [&[pooled][..], rho_hidden, &[config.out_dim]].concat();
                let rho = mlp(params, "rho", rho_sizes, rng)?;
                Layers::DeepSet { phi, rho }
            }
            SummaryKind::Conv1d {
                in_channels,
                channels,
                kernel,
                position_channel,
                ..
            } => {
                let mut c_in = in_channels + usize::from(*position_channel);
                let mut convs = Vec::with_capacity(channels.len());
                for (k, &c_out) in channels.iter().enumerate() {
                    let conv_name = format!("{name}.conv.{k}");
                    convs.push(Linear::new(
                        params,
                        &conv_name,
                        kernel * c_in,
                        c_out,
                        init,
                        rng,
                    )?);
                    c_in = c_out;
                }
                let head_name = format!("{name}.head");
                let head = Linear::new(params, &head_name, c_in, config.out_dim, init, rng)?;
                Layers::Conv1d { convs, head }
            }
        };
        Ok(Self {
            config: config.clone(),
            y_dim,
            layers,
        })
    }

    /// The options it was built with.
    pub fn config(&self) -> &SummaryConfig {
        &self.config
    }
    /// Width of the observations it reads.
    pub fn in_dim(&self) -> usize {
        self.y_dim
    }
    /// Width `k` of the summary (the condition width of the flow that reads it).
    pub fn out_dim(&self) -> usize {
        self.config.out_dim
    }

    /// `h(y)` on a tape for a batch `y` (`n × y_dim`, one observation per row): `n × out_dim`,
    /// differentiable with respect to `y` and to the parameters bound in `p` (the store the
    /// network was built in, bound to `y`'s tape).
    ///
    /// # Errors
    /// [`Error::Bijector`] (`Width`, `EmptyBatch`) for a `y` of the wrong width or without rows;
    /// entries are not scanned for NaN here (see [`SummaryNet::apply`]).
    pub fn forward<'t, T: Float>(&self, p: &Bound<'t, T>, y: Var<'t, T>) -> Result<Var<'t, T>> {
        let (rows, cols) = y.shape();
        if cols != self.y_dim {
            return Err(bijectors::Error::Width {
                block: "SummaryNet",
                expected: self.y_dim,
                rows,
                cols,
            }
            .into());
        }
        if rows == 0 {
            return Err(bijectors::Error::EmptyBatch {
                block: "SummaryNet",
            }
            .into());
        }
        let act = self.config.activation;
        Ok(match (&self.layers, &self.config.kind) {
            (Layers::Mlp(mlp), _) => mlp.forward(p, y)?,
            (
                Layers::DeepSet { phi, rho },
                SummaryKind::DeepSet {
                    set_size,
                    elem_dim,
                    max_pool,
                    ..
                },
            ) => {
                // One row per element: row r·s + i is observation i of sample r.
                let elements = y.reshape(rows * set_size, *elem_dim)?;
                let features = act.apply(phi.forward(p, elements)?);
                let mean = features.mean_row_groups(*set_size)?;
                let pooled = if *max_pool {
                    autodiff::concat_cols(&[mean, features.max_row_groups(*set_size)?])?
                } else {
                    mean
                };
                rho.forward(p, pooled)?
            }
            (
                Layers::Conv1d { convs, head },
                SummaryKind::Conv1d {
                    length,
                    in_channels,
                    kernel,
                    stride,
                    position_channel,
                    ..
                },
            ) => {
                // One row per position: row r·length + t is position t of signal r.
                let mut h = y.reshape(rows * length, *in_channels)?;
                if *position_channel {
                    let at = |r: usize| T::of_f64(((r % length) as f64 + 0.5) / *length as f64);
                    let position = DMatrix::from_fn(rows * length, 1, |r, _| at(r));
                    h = autodiff::concat_cols(&[h, y.tape().constant(position)])?;
                }
                let mut len = *length;
                for conv in convs {
                    h = act.apply(conv.forward(p, h.im2col_1d(len, *kernel, *stride)?)?);
                    len = conv1d_output_length(len, *kernel, *stride);
                }
                head.forward(p, h.mean_row_groups(len)?)?
            }
            _ => {
                return Err(Error::Config(
                    "SummaryNet: its layers do not match its configuration".into(),
                ));
            }
        })
    }

    /// `h(y)` on plain matrices without recording gradients: `y` is `n × y_dim` (one
    /// observation per row, `n ≥ 1`, finite), the result `n × out_dim`. Large batches run in
    /// chunks of rows so that memory stays bounded.
    ///
    /// # Errors
    /// [`Error::Bijector`] (`Width`, `EmptyBatch`, `NonFinite` with the first bad entry).
    pub fn apply<T: Float>(&self, params: &Params<T>, y: &DMatrix<T>) -> Result<DMatrix<T>> {
        bijectors::check_batch("SummaryNet::apply y", y, self.y_dim)?;
        let n = y.nrows();
        let mut out = DMatrix::zeros(n, self.out_dim());
        let mut start = 0;
        while start < n {
            let len = CHUNK_ROWS.min(n - start);
            let tape = Tape::no_grad();
            let p = params.bind(&tape);
            let h = self.forward(&p, tape.constant(y.rows(start, len).into_owned()))?;
            out.rows_mut(start, len).copy_from(&*h.value());
            start += len;
        }
        Ok(out)
    }

    /// Checks that every parameter the network refers to exists in `params` with the shape
    /// its layer expects: for a network restored from its description (a model file) before
    /// it is run.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first missing or misshapen parameter.
    pub fn check_params<T: Float>(&self, params: &Params<T>) -> Result<()> {
        self.config.validate(self.y_dim)?;
        let linears: Vec<&Linear> = match &self.layers {
            Layers::Mlp(m) => m.layers().iter().collect(),
            Layers::DeepSet { phi, rho } => phi.layers().iter().chain(rho.layers()).collect(),
            Layers::Conv1d { convs, head } => convs.iter().chain([head]).collect(),
        };
        if !self.layers_fit_config() {
            return Err(Error::Config(
                "SummaryNet: its layers do not match its configuration".into(),
            ));
        }
        let shape_of = |id: ParamId| (id.index() < params.len()).then(|| params.get(id).shape());
        for l in linears {
            for (id, shape) in [
                (l.weight(), (l.fan_in(), l.fan_out())),
                (l.bias(), (1, l.fan_out())),
            ] {
                if shape_of(id) != Some(shape) {
                    return Err(Error::Config(format!(
                        "SummaryNet: parameter {} should be {}x{}, the store has {:?}",
                        id.index(),
                        shape.0,
                        shape.1,
                        shape_of(id)
                    )));
                }
            }
        }
        Ok(())
    }
}

impl SummaryNet {
    /// Whether the layers' widths are the ones the configuration builds.
    fn layers_fit_config(&self) -> bool {
        let out = self.config.out_dim;
        match (&self.layers, &self.config.kind) {
            (Layers::Mlp(m), SummaryKind::Mlp { hidden }) => {
                m.in_dim() == self.y_dim
                    && m.out_dim() == out
                    && m.layers().len() == hidden.len() + 1
            }
            (
                Layers::DeepSet { phi, rho },
                SummaryKind::DeepSet {
                    elem_dim,
                    phi_hidden,
                    max_pool,
                    ..
                },
            ) => {
                let pooled = phi.out_dim() * if *max_pool { 2 } else { 1 };
                phi.in_dim() == *elem_dim
                    && phi.out_dim() == phi_hidden[phi_hidden.len() - 1]
                    && rho.in_dim() == pooled
                    && rho.out_dim() == out
            }
            (
                Layers::Conv1d { convs, head },
                SummaryKind::Conv1d {
                    in_channels,
                    channels,
                    kernel,
                    position_channel,
                    ..
                },
            ) => {
                let first = in_channels + usize::from(*position_channel);
                let ins = std::iter::once(&first).chain(channels);
                convs.len() == channels.len()
                    && convs
                        .iter()
                        .zip(ins.zip(channels))
                        .all(|(c, (&i, &o))| c.fan_in() == kernel * i && c.fan_out() == o)
                    && head.fan_in() == channels[channels.len() - 1]
                    && head.fan_out() == out
            }
            _ => false,
        }
    }
}

/// Rows per no-grad pass of [`SummaryNet::apply`]: a deep set's tape holds
/// `rows · set_size × width` activations per layer (2048 · 50 · 64 · 8 B ≈ 52 MB in f64).
const CHUNK_ROWS: usize = 2048;

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
