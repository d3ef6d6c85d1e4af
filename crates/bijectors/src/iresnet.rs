//! The invertible residual block y = x + g(x) with a spectrally normalised branch
//! (Behrmann et al. 2019, "Invertible Residual Networks").
//!
//! - g is an MLP d → hidden… → d whose activations have Lipschitz constant ≤ 1 (ELU with
//!   0 < α ≤ 1, tanh, LipSwish). Before every use each weight is normalised,
//!   W̃ = W·min(1, c/σ̂(W)), with σ̂ = uᵀWv from power iteration warm-started at the u of the
//!   previous call. σ̂ is computed on the tape, so gradients are those of the normalised
//!   weight. On a recording tape (training) `train_power_iters` iterations run per call; on a
//!   no-grad tape (evaluation, inversion) σ̂ comes from the SVD by default (or from many power
//!   iterations, see [`EvalNormalisation`]), and that estimate is reused, in either mode,
//!   while the weights do not change.
//! - The inverse is the Banach iteration x ← y − g(x) from x₀ = y, stopped by the
//!   a-posteriori bound L/(1−L)·‖xₙ − xₙ₋₁‖ ≤ tol, where L = Π‖W̃ₖ‖₂ · Lip(σ)^(layers−1) is
//!   computed from the SVD of every normalised weight (a true upper bound on Lip(g), not a
//!   power-iteration estimate). L ≥ 1 is [`Error::NotContractive`]; no convergence within
//!   the budget is [`Error::Inversion`].
//! - On a recording tape the inverse is differentiable with the exact implicit gradient
//!   (default) or the cheaper one-step approximation, see [`InverseGradient`].
//! - ln det(I + J_g) is exact (LU elimination in tape operations) or the truncated power
//!   series Σₖ₌₁ⁿ (−1)ᵏ⁺¹ tr(J_gᵏ)/k with Hutchinson's estimator, see [`LogDet`]; both are
//!   differentiable. The inverse's log-det is minus the forward log-det evaluated at the
//!   recovered x.

mod branch;
mod log_det;
mod spectral;

pub use log_det::series_truncation_bound;

use crate::{Bijector, BlockSpec, Error, Output, Result, check_batch};
use autodiff::nalgebra::DMatrix;
use autodiff::nn::{Activation, Init, Linear};
use autodiff::{Bound, Float, Params, Tape, Var, lit};
use branch::Branch;
use fixedpoint::{Acceleration, AndersonOptions, BanachOptions, banach_batch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use spectral::{Estimate, PowerState};
use std::sync::{Mutex, MutexGuard};

const KIND: &str = IResNet::KIND;

/// Largest dimension for which [`LogDet::Auto`] computes the exact log-determinant.
pub const EXACT_LOG_DET_MAX_DIM: usize = 8;

/// The inverse's tolerance is never below `INVERSE_ROUNDING_ULPS · L/(1−L) · ε · ‖y‖∞`
/// ([`IResNetConfig::inverse_tol`]): rounding keeps the fixed-point steps above a few ε‖y‖∞
/// (measured up to 4.45·ε‖y‖∞ for a block inside a random chain, f64, L = 0.962), and the
/// a-posteriori bound is L/(1−L) times the last step.
pub const INVERSE_ROUNDING_ULPS: f64 = 8.0;

/// The smallest tolerance the inverse of a block with Lipschitz bound `lip` can certify for
/// outputs of magnitude `y_max = ‖y‖∞` in a scalar type with machine epsilon `epsilon`.
pub fn inverse_rounding_floor(lip: f64, epsilon: f64, y_max: f64) -> f64 {
    INVERSE_ROUNDING_ULPS * lip / (1.0 - lip).max(f64::EPSILON) * epsilon * y_max
}

/// How the block computes ln det(I + J_g).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogDet {
    /// Exact for d ≤ [`EXACT_LOG_DET_MAX_DIM`], otherwise `Series { terms: 10, probes: 2 }`.
    Auto,
    /// Exact: d Jacobian-vector products build I + J_g per sample, reduced by Gaussian
    /// elimination in tape operations (O(n·d³)). Any d, but meant for small ones.
    Exact,
    /// Σₖ₌₁ⁿ (−1)ᵏ⁺¹ tr(J_gᵏ)/k with n = `terms` and tr estimated by Hutchinson's estimator
    /// with `probes` Rademacher vectors per sample. Unbiased for the truncated series; the
    /// truncation error is at most [`series_truncation_bound`]`(d, Lip(g), terms)`.
    Series {
        /// Number of series terms n ≥ 1.
        terms: usize,
        /// Number of probe vectors m ≥ 1 per sample.
        probes: usize,
    },
}

impl LogDet {
    /// The method used for dimension `d` (`Auto` resolved).
    pub fn resolve(self, d: usize) -> LogDet {
        match self {
            LogDet::Auto if d <= EXACT_LOG_DET_MAX_DIM => LogDet::Exact,
            LogDet::Auto => LogDet::Series {
                terms: 10,
                probes: 2,
            },
            other => other,
        }
    }
}

/// How evaluation (a no-grad tape: inference, inversion) estimates σ(W) for normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EvalNormalisation {
    /// σ̂ = σ_max(W) and its singular vectors from nalgebra's SVD, so ‖W̃‖₂ ≤ c holds to
    /// rounding. One SVD per layer each time the weights change (the result is cached).
    Svd,
    /// Up to this many power iterations from the training warm start (peers use ≈200). σ̂
    /// approaches σ from below, so ‖W̃‖₂ can exceed c by σ̂'s relative shortfall, which is
    /// large when the top two singular values are close.
    PowerIteration(usize),
}

/// The gradient an inverse on a recording tape carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InverseGradient {
    /// The exact implicit gradient at the fixed point x*: dx = (I + J_g(x*))⁻¹(dy − ∂_θ g dθ).
    /// Built as x = x* + (s − stop(s)) with s = (y − x* − g(x*))·A⁻¹ per sample, A = I + M
    /// solved by LU for every sample (O(n·d³)); the value stays x* exactly.
    Implicit,
    /// The one-step approximation x = x* + (t − stop(t)), t = y − g(x*): the gradient
    /// dy − ∂_θ g dθ leaves out the factor (I + J_g)⁻¹, so it is off by a relative amount of
    /// order Lip(g). Cheap (one branch evaluation) for large d.
    OneStep,
}

/// Options of an [`IResNet`] block. Start from [`IResNetConfig::new`] and change fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IResNetConfig {
    /// Hidden widths of g (d → hidden… → d); may be empty (then g is affine).
    pub hidden: Vec<usize>,
    /// Activation between the layers of g: `Elu(α)` with 0 < α ≤ 1, `Tanh` or `LipSwish`.
    pub activation: Activation,
    /// Spectral coefficient c: every weight is scaled to spectral norm ≤ c. Default 0.9.
    /// A value c ≥ 1 is accepted (for experiments) but does not guarantee invertibility:
    /// the inverse then checks the measured bound and returns [`Error::NotContractive`].
    pub coeff: f64,
    /// Power iterations per call on a recording tape (training); default 2.
    pub train_power_iters: usize,
    /// How σ̂ is estimated on a no-grad tape (evaluation, inversion); default
    /// [`EvalNormalisation::Svd`].
    pub eval_normalisation: EvalNormalisation,
    /// Tolerance on the a-posteriori error bound of the inverse (L2 norm per sample);
    /// `None` (default) means 1e-10 in f64 and 1e-5 in f32. It is raised to the rounding
    /// floor [`inverse_rounding_floor`] `= 8·L/(1−L)·ε·‖y‖∞` when that is larger: steps
    /// cannot shrink below a few ε‖y‖∞ (measured up to 4.45·ε‖y‖∞), so for large inputs a
    /// smaller tolerance could never be certified.
    pub inverse_tol: Option<f64>,
    /// Maximum number of fixed-point iterations of the inverse; default 500.
    pub inverse_max_iter: usize,
    /// Anderson acceleration of the inverse with this depth (λ = 1e-4); default `None` (plain).
    pub anderson_depth: Option<usize>,
    /// Log-determinant method; default [`LogDet::Auto`].
    pub log_det: LogDet,
    /// Gradient of the inverse; default [`InverseGradient::Implicit`].
    pub inverse_gradient: InverseGradient,
    /// Seed of the Hutchinson probes in `forward` and `inverse`, mixed with the bits of the
    /// batch, so a pass is a pure function of its input (use [`IResNet::log_det_with`] to pass
    /// an rng instead); default 0.
    pub probe_seed: u64,
    /// Weight initialisation; `None` picks the activation's default.
    pub init: Option<Init>,
}

impl IResNetConfig {
    /// Hidden widths and activation, every other option at its default.
    pub fn new(hidden: &[usize], activation: Activation) -> Self {
        Self {
            hidden: hidden.to_vec(),
            activation,
            coeff: 0.9,
            train_power_iters: 2,
            eval_normalisation: EvalNormalisation::Svd,
            inverse_tol: None,
            inverse_max_iter: 500,
            anderson_depth: None,
            log_det: LogDet::Auto,
            inverse_gradient: InverseGradient::Implicit,
            probe_seed: 0,
            init: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("{KIND}: {m}")));
        match self.activation {
            Activation::Tanh | Activation::LipSwish => {}
            Activation::Elu(a) if a > 0.0 && a <= 1.0 => {}
            other => {
                return bad(format!(
                    "activation {other:?} is not allowed: use Elu(α) with 0 < α ≤ 1, Tanh or LipSwish (Lipschitz ≤ 1)"
                ));
            }
        }
        if !(self.coeff.is_finite() && self.coeff > 0.0) {
            return bad(format!(
                "coeff must be positive and finite, got {}",
                self.coeff
            ));
        }
        if let Some(k) = self.hidden.iter().position(|&h| h == 0) {
            return bad(format!("hidden layer {k} has width 0"));
        }
        if self.train_power_iters == 0
            || self.eval_normalisation == EvalNormalisation::PowerIteration(0)
        {
            return bad("power iteration counts must be at least 1".into());
        }
        if let Some(t) = self.inverse_tol
            && !(t.is_finite() && t > 0.0)
        {
            return bad(format!("inverse_tol must be positive and finite, got {t}"));
        }
        if self.inverse_max_iter == 0 {
            return bad("inverse_max_iter must be at least 1".into());
        }
        if self.anderson_depth == Some(0) {
            return bad("anderson_depth must be at least 1".into());
        }
        if let LogDet::Series { terms, probes } = self.log_det
            && (terms == 0 || probes == 0)
        {
            return bad(format!(
                "the log-det series needs terms ≥ 1 and probes ≥ 1, got {terms} and {probes}"
            ));
        }
        Ok(())
    }
}

impl Default for IResNetConfig {
    /// Two hidden layers of 32 with ELU(1), c = 0.9.
    fn default() -> Self {
        Self::new(&[32, 32], Activation::Elu(1.0))
    }
}

/// What the last inversion measured: iterations and error bounds (L2 norm per sample, maximum
/// over the batch).
#[derive(Clone, Debug, PartialEq)]
pub struct InversionReport {
    /// Evaluations of g.
    pub iterations: usize,
    /// The a-posteriori bound L/(1−L)·‖xₙ − xₙ₋₁‖ on ‖x − x*‖ (under Anderson acceleration
    /// L/(1−L)·‖f(z) − z‖ for the returned x = f(z)).
    pub error_bound: f64,
    /// The a-priori bound Lⁿ/(1−L)·‖x₁ − x₀‖ (plain iteration only).
    pub a_priori_bound: Option<f64>,
    /// The last step ‖xₙ − xₙ₋₁‖ (residual under Anderson acceleration).
    pub last_step: f64,
    /// The first step ‖x₁ − x₀‖ = ‖g(y)‖ (with [`fixedpoint::iterations_needed`] it gives the
    /// count the a-priori bound predicts).
    pub first_step: f64,
    /// The contraction constant L used: Π‖W̃ₖ‖₂ (SVD) · Lip(σ)^(layers−1).
    pub lipschitz: f64,
    /// Whether Anderson acceleration was used.
    pub anderson: bool,
}

/// Mutable state behind the block's shared reference: power-iteration warm starts and the last
/// inversion's diagnostics (neither changes what a pass computes beyond the power iteration's
/// convergence).
#[derive(Debug, Clone)]
struct State {
    power: Vec<PowerState>,
    last: Option<InversionReport>,
}

/// An i-ResNet block y = x + g(x) on batches (`n × d`, one sample per row); see the module
/// docs for the method.
///
/// ```
/// use bijectors::{Bijector, IResNet, IResNetConfig};
/// use autodiff::{Params, nn::Activation, nalgebra::DMatrix};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let mut params = Params::<f64>::new();
/// let block = IResNet::new(&mut params, "res", 2, IResNetConfig::new(&[16, 16], Activation::Elu(1.0)), &mut rng)?;
/// let x = DMatrix::from_row_slice(3, 2, &[0.5, -1.0, 2.0, 0.1, -0.3, 0.8]);
/// let (y, log_det) = block.forward_matrix(&params, &x)?;
/// let (x_back, report) = block.invert(&params, &y)?;
/// println!("{} iterations, error bound {:.1e}, Lip(g) ≤ {:.3}", report.iterations, report.error_bound, report.lipschitz);
/// assert!(report.error_bound <= 1e-10);
/// assert!((x_back - &x).abs().max() <= report.error_bound);
/// assert_eq!(log_det.shape(), (3, 1));
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug)]
pub struct IResNet {
    dim: usize,
    config: IResNetConfig,
    layers: Vec<Linear>,
    state: Mutex<State>,
}

/// The serde form: architecture, parameter handles, and the power-iteration warm starts.
#[derive(Serialize, Deserialize)]
struct Repr {
    dim: usize,
    config: IResNetConfig,
    layers: Vec<Linear>,
    power_u: Vec<Option<Vec<f64>>>,
}

impl IResNet {
    /// The block name used in errors and in [`BlockSpec`]s.
    pub const KIND: &'static str = "iresnet";

    /// Registers g's layers as `{name}.{k}.weight` / `{name}.{k}.bias` in `params`.
    ///
    /// Errors: d = 0, an invalid [`IResNetConfig`] (an activation other than ELU with
    /// 0 < α ≤ 1, tanh or LipSwish; c ≤ 0; zero widths, counts or tolerances), or duplicate
    /// parameter names.
    pub fn new<T: Float, R: Rng + ?Sized>(
        params: &mut Params<T>,
        name: &str,
        dim: usize,
        config: IResNetConfig,
        rng: &mut R,
    ) -> Result<Self> {
        if dim == 0 {
            return Err(Error::Config(format!(
                "{KIND}: dimension must be at least 1"
            )));
        }
        config.validate()?;
        let init = config.init.unwrap_or(config.activation.default_init());
        let mut sizes = vec![dim];
        sizes.extend(&config.hidden);
        sizes.push(dim);
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(k, w)| Linear::new(params, &format!("{name}.{k}"), w[0], w[1], init, rng))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let power_u = vec![None; layers.len()];
        Self::from_repr(Repr {
            dim,
            config,
            layers,
            power_u,
        })
    }

    fn from_repr(r: Repr) -> Result<Self> {
        if r.dim == 0 {
            return Err(Error::Config(format!(
                "{KIND}: dimension must be at least 1"
            )));
        }
        r.config.validate()?;
        let mut sizes = vec![r.dim];
        sizes.extend(&r.config.hidden);
        sizes.push(r.dim);
        if r.layers.len() != sizes.len() - 1
            || r.layers
                .iter()
                .zip(sizes.windows(2))
                .any(|(l, w)| (l.fan_in(), l.fan_out()) != (w[0], w[1]))
        {
            return Err(Error::Spec(format!(
                "{KIND}: layers do not match the sizes {sizes:?}"
            )));
        }
        if r.power_u.len() != r.layers.len() {
            return Err(Error::Spec(format!(
                "{KIND}: {} power-iteration vectors for {} layers",
                r.power_u.len(),
                r.layers.len()
            )));
        }
        let mut power = Vec::with_capacity(r.layers.len());
        for (k, (u, l)) in r.power_u.into_iter().zip(&r.layers).enumerate() {
            if let Some(u) = &u
                && (u.len() != l.fan_in() || u.iter().any(|v| !v.is_finite()))
            {
                return Err(Error::Spec(format!(
                    "{KIND}: power-iteration vector {k} has length {} (expected {}) or a non-finite entry",
                    u.len(),
                    l.fan_in()
                )));
            }
            power.push(PowerState::with_u(u));
        }
        Ok(Self {
            dim: r.dim,
            state: Mutex::new(State { power, last: None }),
            config: r.config,
            layers: r.layers,
        })
    }

    fn repr(&self) -> Repr {
        Repr {
            dim: self.dim,
            config: self.config.clone(),
            layers: self.layers.clone(),
            power_u: self.state().power.iter().map(|p| p.u.clone()).collect(),
        }
    }

    /// The state lock; a poisoned lock (a panic elsewhere while holding it) still holds
    /// consistent data, because every update writes whole values.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The block's options.
    pub fn config(&self) -> &IResNetConfig {
        &self.config
    }

    /// The dense layers of g, input first (their weights are raw; see
    /// [`IResNet::normalised_weights`]).
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// Diagnostics of the last inversion through the [`Bijector`] methods, if any.
    pub fn last_inversion(&self) -> Option<InversionReport> {
        self.state().last.clone()
    }

    /// The normalised weights W̃ₖ (`fan_in × fan_out`) as evaluation uses them.
    pub fn normalised_weights<T: Float>(&self, params: &Params<T>) -> Result<Vec<DMatrix<T>>> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let (branch, _) = self.branch(&self.raw(&p))?;
        Ok(branch.layers.iter().map(|(w, _)| w.to_matrix()).collect())
    }

    /// The upper bound L = Π‖W̃ₖ‖₂ · Lip(σ)^(layers−1) on Lip(g) used by the inverse, with
    /// every ‖W̃ₖ‖₂ from nalgebra's SVD (evaluation-mode normalisation).
    pub fn lipschitz_bound<T: Float>(&self, params: &Params<T>) -> Result<f64> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let (_, lip) = self.branch_with_bound(&self.raw(&p))?;
        Ok(lip)
    }

    /// Inverts a batch `y` (`n × d`) without recording gradients and returns x (`n × d`) with
    /// the iteration's diagnostics.
    pub fn invert<T: Float>(
        &self,
        params: &Params<T>,
        y: &DMatrix<T>,
    ) -> Result<(DMatrix<T>, InversionReport)> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let (x, _, report) = self.inverse_layers(&self.raw(&p), tape.constant(y.clone()))?;
        Ok((x.to_matrix(), report))
    }

    /// ln det(I + J_g(x)) per sample (`n × 1`) for a batch `x: n × d`, by `method`, drawing the
    /// Hutchinson probes (series only) from `rng`. Differentiable on a recording tape.
    pub fn log_det_with<'t, T: Float, R: Rng + ?Sized>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        method: LogDet,
        rng: &mut R,
    ) -> Result<Var<'t, T>> {
        check_batch(KIND, &x.value(), self.dim)?;
        if let LogDet::Series { terms, probes } = method
            && (terms == 0 || probes == 0)
        {
            return Err(Error::Config(format!(
                "{KIND}: the log-det series needs terms ≥ 1 and probes ≥ 1, got {terms} and {probes}"
            )));
        }
        self.log_det_layers(&self.raw(p), x, method, rng)
    }

    /// [`IResNet::log_det_with`] with the raw layer variables given explicitly.
    fn log_det_layers<'t, T: Float, R: Rng + ?Sized>(
        &self,
        raw: &[(Var<'t, T>, Var<'t, T>)],
        x: Var<'t, T>,
        method: LogDet,
        rng: &mut R,
    ) -> Result<Var<'t, T>> {
        let (branch, _) = self.branch(raw)?;
        let ev = branch.eval(x)?;
        self.log_det_at(&branch, &ev.pre, x, method, Some(rng))
    }

    /// The raw (weight, bias) variables of every layer.
    fn raw<'t, T: Float>(&self, p: &Bound<'t, T>) -> Vec<(Var<'t, T>, Var<'t, T>)> {
        self.layers
            .iter()
            .map(|l| (p.get(l.weight()), p.get(l.bias())))
            .collect()
    }

    /// g with normalised weights, and the normalisation factors.
    fn branch<'t, T: Float>(
        &self,
        raw: &[(Var<'t, T>, Var<'t, T>)],
    ) -> Result<(Branch<'t, T>, Vec<f64>)> {
        let Some(&(w0, _)) = raw.first() else {
            return Err(Error::Config(format!("{KIND}: no layers")));
        };
        let estimate = if w0.tape().is_recording() {
            Estimate::Train(self.config.train_power_iters)
        } else {
            match self.config.eval_normalisation {
                EvalNormalisation::Svd => Estimate::EvalSvd,
                EvalNormalisation::PowerIteration(n) => Estimate::EvalPower(n),
            }
        };
        let mut state = self.state();
        let mut layers = Vec::with_capacity(raw.len());
        let mut scales = Vec::with_capacity(raw.len());
        for (&(w, b), power) in raw.iter().zip(state.power.iter_mut()) {
            let nw = power.normalise(w, self.config.coeff, estimate)?;
            layers.push((nw.weight, b));
            scales.push(nw.scale);
        }
        Ok((
            Branch {
                layers,
                activation: self.config.activation,
            },
            scales,
        ))
    }

    /// g with normalised weights and the SVD-based upper bound on Lip(g).
    fn branch_with_bound<'t, T: Float>(
        &self,
        raw: &[(Var<'t, T>, Var<'t, T>)],
    ) -> Result<(Branch<'t, T>, f64)> {
        let (branch, scales) = self.branch(raw)?;
        let mut state = self.state();
        let mut lip = self
            .config
            .activation
            .lipschitz()
            .powi(i32::try_from(raw.len() - 1).unwrap_or(i32::MAX));
        for ((&(w, _), power), s) in raw.iter().zip(state.power.iter_mut()).zip(&scales) {
            lip *= power.exact_norm(&*w.value())? * s;
        }
        Ok((branch, lip))
    }

    /// The log-det at `x` (pre-activations `pre`); probes from `rng` or, without one, from
    /// [`IResNet::probe_rng`].
    fn log_det_at<'t, T: Float, R: Rng + ?Sized>(
        &self,
        branch: &Branch<'t, T>,
        pre: &[Var<'t, T>],
        x: Var<'t, T>,
        method: LogDet,
        rng: Option<&mut R>,
    ) -> Result<Var<'t, T>> {
        let slopes = branch.slopes(pre)?;
        let n = x.nrows();
        match method.resolve(self.dim) {
            LogDet::Series { terms, probes } => {
                let v = match rng {
                    Some(r) => log_det::rademacher(r, n, self.dim, probes),
                    None => {
                        log_det::rademacher(&mut self.probe_rng(&x.value()), n, self.dim, probes)
                    }
                };
                log_det::series(branch, &slopes, terms, &v)
            }
            _ => log_det::exact(branch, &slopes, n, self.dim),
        }
    }

    /// The Hutchinson probes' generator of a pass without an explicit rng: seeded by
    /// [`IResNetConfig::probe_seed`] and the bits of the batch (FNV-1a), so the same input
    /// gives the same estimate — `&self` stays a pure function — while different minibatches
    /// get different probes.
    fn probe_rng<T: Float>(&self, x: &DMatrix<T>) -> StdRng {
        const FNV_PRIME: u64 = 0x0100_0000_01b3;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.config.probe_seed;
        for v in x.iter() {
            for byte in v.to_f64().to_bits().to_le_bytes() {
                h = (h ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
            }
        }
        StdRng::seed_from_u64(h)
    }

    /// Forward pass with the raw layer variables given explicitly.
    fn forward_layers<'t, T: Float>(
        &self,
        raw: &[(Var<'t, T>, Var<'t, T>)],
        x: Var<'t, T>,
    ) -> Result<Output<'t, T>> {
        let (branch, _) = self.branch(raw)?;
        let ev = branch.eval(x)?;
        let y = x.add(ev.value)?;
        let ld = self.log_det_at::<T, StdRng>(&branch, &ev.pre, x, self.config.log_det, None)?;
        Ok((y, ld))
    }

    /// Inverse with the raw layer variables given explicitly; records the report.
    fn inverse_layers<'t, T: Float>(
        &self,
        raw: &[(Var<'t, T>, Var<'t, T>)],
        y: Var<'t, T>,
    ) -> Result<(Var<'t, T>, Var<'t, T>, InversionReport)> {
        let yv = y.to_matrix();
        check_batch(KIND, &yv, self.dim)?;
        let (branch, lip) = self.branch_with_bound(raw)?;
        if lip.is_nan() || lip >= 1.0 {
            return Err(Error::NotContractive { lipschitz: lip });
        }
        let values = branch.values();
        let activation = self.config.activation;
        let mut failure: Option<Error> = None;
        let map = |x: &DMatrix<T>| -> DMatrix<T> {
            // A fresh no-grad tape per iteration: a tape only grows.
            let tape = Tape::no_grad();
            let g = Branch::constant(&tape, &values, activation)
                .eval(tape.constant(x.clone()))
                .map(|e| e.value.to_matrix());
            match g {
                Ok(g) => &yv - g,
                Err(e) => {
                    failure.get_or_insert(e);
                    // An empty batch makes the iteration stop with a shape error.
                    DMatrix::zeros(0, 0)
                }
            }
        };
        let tol = self
            .config
            .inverse_tol
            .unwrap_or(if T::NAME == "f64" { 1e-10 } else { 1e-5 });
        // Never ask for less than rounding lets the iteration certify (see
        // INVERSE_ROUNDING_ULPS: the floor once assumed 4·ε‖y‖∞ per step, and a block inside a
        // chain stalled at 4.45·ε‖y‖∞, so 1e-12 could never be certified there).
        let y_max = yv
            .as_slice()
            .iter()
            .fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
        let epsilon = T::default_epsilon().to_f64();
        let floor = inverse_rounding_floor(lip, epsilon, y_max);
        let opts = BanachOptions {
            tol: lit::<T>(tol.max(floor)),
            max_iter: self.config.inverse_max_iter,
            // A zero bound (g constant) still needs a constant in (0, 1) for the stop rule.
            contraction: Some(lit::<T>(lip.max(f64::EPSILON))),
            acceleration: match self.config.anderson_depth {
                Some(depth) => Acceleration::Anderson(AndersonOptions {
                    depth,
                    ..Default::default()
                }),
                None => Acceleration::None,
            },
            ..Default::default()
        };
        let sol = banach_batch(map, &yv, &opts);
        if let Some(e) = failure {
            return Err(e);
        }
        let sol = sol?;
        let report = InversionReport {
            iterations: sol.iterations,
            error_bound: sol.a_posteriori_bound.map_or(f64::NAN, |b| b.to_f64()),
            a_priori_bound: sol.a_priori_bound.map(|b| b.to_f64()),
            last_step: sol.step.to_f64(),
            first_step: sol.first_step.to_f64(),
            lipschitz: lip,
            anderson: self.config.anderson_depth.is_some(),
        };
        self.state().last = Some(report.clone());
        let tape = y.tape();
        let x_star = tape.constant(sol.point);
        let x = if tape.is_recording() {
            self.attach_gradient(&branch, x_star, y)?
        } else {
            x_star
        };
        let ev = branch.eval(x)?;
        let ld = self
            .log_det_at::<T, StdRng>(&branch, &ev.pre, x, self.config.log_det, None)?
            .neg();
        Ok((x, ld, report))
    }

    /// x* with a gradient attached (value unchanged): x* + (s − stop(s)).
    fn attach_gradient<'t, T: Float>(
        &self,
        branch: &Branch<'t, T>,
        x_star: Var<'t, T>,
        y: Var<'t, T>,
    ) -> Result<Var<'t, T>> {
        let g = branch.eval(x_star)?.value;
        let s = match self.config.inverse_gradient {
            InverseGradient::OneStep => y.sub(g)?,
            InverseGradient::Implicit => {
                let r = y.sub(x_star)?.sub(g)?;
                self.solve_transposed(branch, x_star, r)?
            }
        };
        Ok(x_star.add(s.sub(s.detach())?)?)
    }

    /// s = r · (I + M(x*))⁻¹ per sample, with the matrices constant and r on the tape.
    fn solve_transposed<'t, T: Float>(
        &self,
        branch: &Branch<'t, T>,
        x_star: Var<'t, T>,
        r: Var<'t, T>,
    ) -> Result<Var<'t, T>> {
        let (n, d) = x_star.shape();
        // The per-sample Jacobians from plain values on a no-grad tape.
        let values = branch.values();
        let plain = Tape::no_grad();
        let constant = Branch::constant(&plain, &values, branch.activation);
        let ev = constant.eval(plain.constant(x_star.to_matrix()))?;
        let slopes = constant.slopes(&ev.pre)?;
        let rows: Vec<DMatrix<T>> = constant
            .jacobian_rows(&slopes, n, d)?
            .iter()
            .map(|v| v.to_matrix())
            .collect();
        // cols[k] row s = row k of A_s⁻¹, A_s = I + M(x*_s).
        let mut cols = vec![DMatrix::<T>::zeros(n, d); d];
        for s in 0..n {
            let a = DMatrix::from_fn(d, d, |i, j| {
                rows[i][(s, j)] + if i == j { T::one() } else { T::zero() }
            });
            let inv = a.lu().try_inverse().ok_or(Error::NotContractive {
                lipschitz: f64::INFINITY,
            })?;
            for (k, c) in cols.iter_mut().enumerate() {
                c.row_mut(s).copy_from(&inv.row(k));
            }
        }
        let tape = r.tape();
        let mut out: Option<Var<'t, T>> = None;
        for (k, c) in cols.into_iter().enumerate() {
            let term = tape.constant(c).mul(r.slice_cols(k, 1)?)?;
            out = Some(match out {
                Some(acc) => acc.add(term)?,
                None => term,
            });
        }
        out.ok_or_else(|| Error::Config(format!("{KIND}: dimension 0")))
    }
}

impl Clone for IResNet {
    fn clone(&self) -> Self {
        Self {
            dim: self.dim,
            config: self.config.clone(),
            layers: self.layers.clone(),
            state: Mutex::new(self.state().clone()),
        }
    }
}

impl Serialize for IResNet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.repr().serialize(s)
    }
}

impl<'de> Deserialize<'de> for IResNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let r = Repr::deserialize(d)?;
        Self::from_repr(r).map_err(serde::de::Error::custom)
    }
}

impl<T: Float> Bijector<T> for IResNet {
    fn dim(&self) -> usize {
        self.dim
    }

    fn name(&self) -> &'static str {
        KIND
    }

    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.forward_layers(&self.raw(p), x)
    }

    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        y: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        let (x, ld, _) = self.inverse_layers(&self.raw(p), y)?;
        Ok((x, ld))
    }

    fn spec(&self) -> Result<BlockSpec> {
        BlockSpec::new(KIND, self)
    }
}

#[cfg(test)]
mod tests;
