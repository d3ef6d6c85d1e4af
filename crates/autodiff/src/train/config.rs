//! The loop's options ([`OptimConfig`], [`Plateau`], [`ValidateEvery`]) and what it reports
//! ([`TrainReport`], [`KeptScores`], [`StopReason`], [`StepInfo`]).

use super::Schedule;
use crate::optim::AdamConfig;
use serde::{Deserialize, Serialize};

/// Options of the optimisation loop.
///
/// Defaults: at most 20 000 steps of Adam (PyTorch defaults, lr 1e-3) at a constant rate, no
/// clipping; 10% of the rows held out, validated once per epoch, the rate divided by 5 after
/// every 7 validations without improvement ([`Plateau`]), training stopped after 20 and the
/// best validated parameters restored; a progress bar (shown only on a terminal).
///
/// Why these defaults: a flow fitted to a finite table overfits — its held-out likelihood
/// improves, peaks and then degrades, sometimes by orders of magnitude — so the run is ended by
/// the held-out loss, not by a step count, and `steps` is only a cap. Validating once per pass
/// over the training rows costs a fixed share of the run whatever the data size (a forward pass
/// over the held-out rows against forward and backward passes over the training rows: about
/// `val_fraction / (1 − val_fraction) / 3` ≈ 4% at the default fraction), and a patience of 20
/// epochs is the one sbi uses (`stop_after_epochs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    /// The most optimizer steps. With validation, early stopping usually ends the run first.
    pub steps: usize,
    /// Adam hyper-parameters (the base learning rate is `adam.lr`; `adam.weight_decay` with
    /// `adam.decoupled = true` is AdamW's decoupled weight decay).
    pub adam: AdamConfig,
    /// Learning-rate schedule applied to `adam.lr` over `steps`.
    pub schedule: Schedule,
    /// Global gradient-norm clipping (PyTorch `clip_grad_norm_`), if any.
    pub clip_norm: Option<f64>,
    /// Elementwise gradient clamp to `[−v, v]` (the INN paper clamps at 15), if any.
    pub clip_value: Option<f64>,
    /// Fraction of the rows a trainer holds out for validation (after a seeded shuffle,
    /// `split_rows` (in the `inn` crate)) when it is not given validation rows explicitly, in
    /// `[0, 1)`; 0 trains on every row without validation. Default 0.1.
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
    /// How often the validation loss is evaluated (and always after the last step).
    pub validate_every: ValidateEvery,
    /// Stop when the validation loss has not improved for this many validations
    /// (`None`: run to `steps`). Default `Some(20)`.
    pub patience: Option<usize>,
    /// Lower the learning rate when the validation loss stalls, restarting from the best
    /// parameters (`None`: never). Default `Some(Plateau { patience: 7, factor: 0.2 })`.
    #[serde(default)]
    pub plateau: Option<Plateau>,
    /// At the end, restore the parameters with the best validation loss. Default `true`.
    pub keep_best: bool,
    /// Show a progress bar with the training and validation losses (only when stderr is a
    /// terminal). Default `true`.
    pub progress: bool,
    /// Split each step into independent parts (minibatch row shards, or the terms an objective
    /// names in [`Objective::split`](super::Objective::split)) evaluated on rayon's threads.
    /// Default `true`; `false` evaluates the step on one tape (the same step up to the order
    /// of floating-point additions).
    ///
    /// The number of shards follows rayon's thread count (`RAYON_NUM_THREADS`), so a run is
    /// reproducible bit for bit on the same thread count; across thread counts it agrees up to
    /// rounding, which training can amplify. Measured on 2 cores: config A of `cargo xtask
    /// bench` (2-D flow, batch 512) takes 16 ms per step on one tape and 8–9 ms in two shards.
    #[serde(default = "yes")]
    pub data_parallel: bool,
}

fn yes() -> bool {
    true
}

fn default_val_fraction() -> f64 {
    0.1
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            steps: 20_000,
            adam: AdamConfig::default(),
            schedule: Schedule::Constant,
            clip_norm: None,
            clip_value: None,
            val_fraction: default_val_fraction(),
            validate_every: ValidateEvery::Epoch,
            patience: Some(20),
            plateau: Some(Plateau::default()),
            keep_best: true,
            progress: true,
            data_parallel: true,
        }
    }
}

/// Learning-rate decay on a validation plateau (PyTorch's `ReduceLROnPlateau`, with a restart
/// from the best parameters): after every `patience` validations without improvement the rate
/// is multiplied by `factor` and the best validated parameters are restored (Adam's moment
/// estimates are kept).
///
/// Why: at a constant rate the minibatch noise keeps the parameters a little away from the
/// best they can reach; decaying once the held-out loss stalls lets them settle. Measured with
/// `inn fit` defaults on 10⁴ simulations (`cargo xtask quality`): held-out NLL gap to the
/// exact posterior 0.192 → 0.088 nats on the linear-Gaussian problem, 0.091 → 0.077 on the
/// eight-modes posterior. With the default early-stopping patience of 20 the rate is lowered at
/// most twice (after 7 and 14 validations without improvement) before the run stops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    /// Validations without improvement before each decay (0: never). Default 7.
    pub patience: usize,
    /// Multiplier of the learning rate, in `(0, 1)`. Default 0.2.
    pub factor: f64,
}

impl Default for Plateau {
    fn default() -> Self {
        Self {
            patience: 7,
            factor: 0.2,
        }
    }
}

/// How often the optimisation loop evaluates the validation loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "CadenceRepr", try_from = "CadenceRepr")]
pub enum ValidateEvery {
    /// Once per epoch: every `⌈training rows / batch⌉` steps (every step for an objective
    /// without training rows).
    #[default]
    Epoch,
    /// Every this many steps (at least 1).
    Steps(usize),
}

/// The file form of [`ValidateEvery`]: `"epoch"` or a step count. Files written before the
/// cadence had a name hold a number, `0` for "never" (those runs had no validation rows):
/// it reads as `"epoch"`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CadenceRepr {
    Steps(usize),
    Named(String),
}

impl From<ValidateEvery> for CadenceRepr {
    fn from(v: ValidateEvery) -> Self {
        match v {
            ValidateEvery::Epoch => CadenceRepr::Named("epoch".into()),
            ValidateEvery::Steps(n) => CadenceRepr::Steps(n),
        }
    }
}

impl TryFrom<CadenceRepr> for ValidateEvery {
    type Error = String;
    fn try_from(r: CadenceRepr) -> std::result::Result<Self, String> {
        match r {
            CadenceRepr::Steps(0) => Ok(ValidateEvery::Epoch),
            CadenceRepr::Steps(n) => Ok(ValidateEvery::Steps(n)),
            CadenceRepr::Named(s) if s == "epoch" => Ok(ValidateEvery::Epoch),
            CadenceRepr::Named(s) => Err(format!(
                "validate_every: expected \"epoch\" or a step count, got {s:?}"
            )),
        }
    }
}

/// What one step reports to a callback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// 0-based step.
    pub step: usize,
    /// Training loss of the step's minibatch.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Validation loss, on the steps where it was evaluated.
    pub val_loss: Option<f64>,
}

/// Why a training run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum StopReason {
    /// It ran the most steps allowed ([`OptimConfig::steps`]).
    #[default]
    StepCap,
    /// The validation loss did not improve for [`OptimConfig::patience`] validations.
    Patience,
    /// A loss or gradient became non-finite at `step` after a validated best existed: the run
    /// ended there and the best validated parameters were restored. (Without a validated best
    /// to fall back on, divergence is an error, [`Error::Diverged`](crate::Error::Diverged).)
    Diverged {
        /// The step whose loss or gradient was not finite.
        step: usize,
        /// Its loss.
        loss: f64,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::StepCap => write!(f, "step cap"),
            StopReason::Patience => write!(f, "patience (no validation improvement)"),
            StopReason::Diverged { step, loss } => {
                write!(f, "divergence (loss {loss} at step {step})")
            }
        }
    }
}

/// The scores of the parameters a run returned: validated ones, by the validation metric on the
/// held-out rows and on as many training rows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptScores {
    /// The 0-based step after which the parameters were validated.
    pub step: usize,
    /// The validation metric on training rows ([`Objective::training_score`](super::Objective::training_score)).
    pub train: f64,
    /// The validation metric on the held-out rows.
    pub validation: f64,
}

/// The history of a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Training loss at every step.
    pub losses: Vec<f64>,
    /// `(step, validation loss)` at every evaluation.
    pub val_losses: Vec<(usize, f64)>,
    /// `(step, validation loss)` of the best evaluation, if any.
    pub best: Option<(usize, f64)>,
    /// The returned parameters' training and validation scores (with validation rows only;
    /// the best validated parameters when `keep_best`).
    #[serde(default)]
    pub kept: Option<KeptScores>,
    /// Why the run ended.
    #[serde(default)]
    pub stop: StopReason,
    /// Steps between validations (`None`: no validation rows).
    #[serde(default)]
    pub validate_every: Option<usize>,
    /// Steps after which the learning rate was lowered on a plateau ([`OptimConfig::plateau`]).
    #[serde(default)]
    pub lr_decays: Vec<usize>,
    /// Wall-clock seconds of the run, validation included.
    pub seconds: f64,
    /// Wall-clock seconds spent evaluating validation losses.
    #[serde(default)]
    pub validation_seconds: f64,
}

impl TrainReport {
    /// Mean training loss over the last `k` steps (or fewer when the run was shorter).
    pub fn final_loss(&self, k: usize) -> f64 {
        let tail = &self.losses[self.losses.len().saturating_sub(k.max(1))..];
        tail.iter().sum::<f64>() / tail.len().max(1) as f64
    }

    /// Number of steps run.
    pub fn steps(&self) -> usize {
        self.losses.len()
    }

    /// The JSON summary trainers record in a model's metadata under `"training"`.
    pub fn summary(&self, method: &str) -> serde_json::Value {
        serde_json::json!({
            "method": method,
            "steps": self.steps(),
            "stop": self.stop.to_string(),
            "final_loss": self.final_loss(50),
            "validate_every": self.validate_every,
            "best_step": self.best.map(|b| b.0),
            "best_validation": self.best.map(|b| b.1),
            "kept": self.kept,
            "seconds": self.seconds,
            "validation_seconds": self.validation_seconds,
        })
    }
}
