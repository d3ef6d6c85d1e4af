//! The optimisation loop every trainer shares: Adam with a schedule, clipping, validation with
//! best-model keeping, early stopping, divergence detection with restore, progress, callbacks.

use super::progress::Progress;
use super::schedule::Schedule;
use crate::{Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::optim::{Adam, AdamConfig, Optimizer, clamp_grad_values, clip_grad_norm};
use autodiff::{Bound, Float, Params, Tape, Var};
use rayon::prelude::*;
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
    /// [`split_rows`](super::split_rows)) when it is not given validation rows explicitly, in
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
    /// Split each step into independent pieces (minibatch shards, or the INN's forward and
    /// inverse losses) evaluated on rayon's threads, when the objective offers it
    /// ([`Objective::pieces`]). Default `true`; `false` evaluates the step on one tape (the same
    /// step up to the order of floating-point additions).
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
    /// Once per epoch: every [`Objective::steps_per_epoch`] steps (`⌈training rows / batch⌉`
    /// for minibatch objectives).
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
    /// to fall back on, divergence is an error, [`Error::Diverged`].)
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
    /// The validation metric on training rows ([`Objective::training_loss`]).
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

/// A training objective: builds the minibatch loss of step `step` on a tape (drawing its batch
/// from its own seeded RNG), and optionally a validation loss on plain parameters.
pub trait Objective<T: Float> {
    /// The `1 × 1` loss for step `step`.
    fn loss<'t>(
        &mut self,
        tape: &'t Tape<T>,
        params: &Bound<'t, T>,
        step: usize,
    ) -> Result<Var<'t, T>>;

    /// The validation loss (lower is better) of `params` on the held-out rows, or `None` when
    /// there are none.
    fn validation_loss(&mut self, _params: &Params<T>) -> Result<Option<f64>> {
        Ok(None)
    }

    /// The validation metric of `params` on training rows (as many as the held-out rows, so
    /// that both sides have the same sampling noise), or `None` without validation rows: the
    /// train side of the train–validation gap.
    fn training_loss(&mut self, _params: &Params<T>) -> Result<Option<f64>> {
        Ok(None)
    }

    /// Steps per pass over the training rows, the period of [`ValidateEvery::Epoch`].
    fn steps_per_epoch(&self) -> usize {
        1
    }

    /// The data-parallel path (optional): draws step `step`'s random inputs and splits the
    /// step's loss into at most `parts` independent [`Piece`]s whose losses add up to it, each
    /// evaluated on its own tape and thread by [`Pieces::loss`]. `None` (the default) runs
    /// [`Objective::loss`] on one tape.
    ///
    /// A minibatch mean splits into row shards weighted by their share of the rows; an objective
    /// whose terms need different passes (the INN's forward and inverse losses) splits by term.
    /// The gradient is the sum of the pieces' gradients, so the step is the same as the one-tape
    /// step up to the order of floating-point additions.
    fn pieces(&mut self, _step: usize, _parts: usize) -> Result<Option<Pieces<'_, T>>> {
        Ok(None)
    }
}

/// One independent part of a step's loss (see [`Objective::pieces`]): what it is (`kind`, the
/// objective's own numbering), the matrices it reads, and its weight in the step's loss.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece<T: Float> {
    /// Which part of the objective (its meaning is the objective's).
    pub kind: usize,
    /// The inputs of this part (minibatch rows, noise draws, …).
    pub data: Vec<DMatrix<T>>,
    /// The weight of this part's loss in the step's loss.
    pub weight: f64,
}

/// The loss of one [`Piece`], shared across threads.
pub trait PieceLoss<T: Float>: Sync {
    /// The `1 × 1` loss of `piece`, already multiplied by its weight.
    fn piece_loss<'t>(
        &self,
        tape: &'t Tape<T>,
        params: &Bound<'t, T>,
        piece: &Piece<T>,
    ) -> Result<Var<'t, T>>;
}

/// A step's loss split into pieces, and what evaluates them.
pub struct Pieces<'a, T: Float> {
    /// The pieces; the step's loss is the sum of their losses.
    pub pieces: Vec<Piece<T>>,
    /// Evaluates one piece.
    pub loss: &'a dyn PieceLoss<T>,
}

/// Rows per shard below which a minibatch is not worth splitting: a shard's products should
/// stay large enough to run GEMM near its single-core peak.
pub const MIN_SHARD_ROWS: usize = 128;

/// Splits `rows` minibatch rows into at most `parts` shards of at least [`MIN_SHARD_ROWS`]
/// rows: the `(start, len)` of each, or `None` when one shard would do.
pub fn shard_rows(rows: usize, parts: usize) -> Option<Vec<(usize, usize)>> {
    let parts = parts.min(rows / MIN_SHARD_ROWS);
    if parts < 2 {
        return None;
    }
    let base = rows / parts;
    let extra = rows % parts;
    let mut start = 0;
    Some(
        (0..parts)
            .map(|i| {
                let len = base + usize::from(i < extra);
                let shard = (start, len);
                start += len;
                shard
            })
            .collect(),
    )
}

/// Gradient buffers made on rayon's workers, with the worker that made each set, to hand back
/// to it ([`autodiff::pool::return_to_workers`]).
pub(crate) type Spent<T> = Vec<(Option<usize>, Vec<DMatrix<T>>)>;

/// The loss and parameter gradients of one step: on one tape, or piece by piece in parallel.
#[cfg(test)]
pub(crate) fn loss_and_gradients<T: Float>(
    params: &Params<T>,
    objective: &mut dyn Objective<T>,
    step: usize,
    parts: usize,
) -> Result<(f64, Vec<DMatrix<T>>)> {
    let g = loss_and_gradients_owned(params, objective, step, parts)?;
    autodiff::pool::return_to_workers(g.spent);
    Ok((g.loss, g.grads))
}

/// One step's loss and gradients, with where their buffers came from.
struct StepGradients<T: Float> {
    loss: f64,
    /// The summed gradients (empty when the loss is not finite).
    grads: Vec<DMatrix<T>>,
    /// The worker that made `grads`' buffers (`None`: the calling thread).
    owner: Option<usize>,
    /// The other pieces' gradient sets, already added into `grads`.
    spent: Spent<T>,
}

/// [`loss_and_gradients`], also saying which worker made the returned gradients (`None` for
/// the calling thread) and returning the other pieces' spent gradient sets.
fn loss_and_gradients_owned<T: Float>(
    params: &Params<T>,
    objective: &mut dyn Objective<T>,
    step: usize,
    parts: usize,
) -> Result<StepGradients<T>> {
    if parts > 1
        && let Some(split) = objective.pieces(step, parts)?
    {
        let evaluator = split.loss;
        type PieceResult<T> = Result<((f64, Vec<DMatrix<T>>), Option<usize>)>;
        let results: Vec<PieceResult<T>> = split
            .pieces
            .par_iter()
            .map(|piece| {
                let r = on_tape(params, |tape, bound| {
                    evaluator.piece_loss(tape, bound, piece)
                });
                r.map(|r| (r, rayon::current_thread_index()))
            })
            .collect();
        let mut total = 0.0;
        let mut grads: Vec<DMatrix<T>> = Vec::new();
        let mut owner = None;
        let mut spent = Vec::new();
        for r in results {
            let ((value, g), made_by) = r?;
            total += value;
            if !value.is_finite() {
                return Ok(StepGradients {
                    loss: total,
                    grads: Vec::new(),
                    owner: None,
                    spent,
                });
            }
            if grads.is_empty() {
                grads = g;
                owner = made_by;
            } else {
                autodiff::par::add_assign(&mut grads, &g);
                spent.push((made_by, g));
            }
        }
        return Ok(StepGradients {
            loss: total,
            grads,
            owner,
            spent,
        });
    }
    let (loss, grads) = on_tape(params, |tape, bound| objective.loss(tape, bound, step))?;
    Ok(StepGradients {
        loss,
        grads,
        owner: None,
        spent: Vec::new(),
    })
}

/// Builds a loss on a fresh tape with `params` bound to it, and returns its value and, when it
/// is finite, the parameter gradients (none otherwise).
fn on_tape<T: Float>(
    params: &Params<T>,
    build: impl for<'t> FnOnce(&'t Tape<T>, &Bound<'t, T>) -> Result<Var<'t, T>>,
) -> Result<(f64, Vec<DMatrix<T>>)> {
    let tape = Tape::new();
    let bound = params.bind(&tape);
    let loss = build(&tape, &bound)?;
    let value = loss.item().to_f64();
    if !value.is_finite() {
        return Ok((value, Vec::new()));
    }
    let mut g = tape.backward(loss)?;
    Ok((value, bound.gradients(&mut g)))
}

/// Runs at most `config.steps` Adam steps on `objective`, updating `params`.
///
/// With validation rows (the objective's [`Objective::validation_loss`] is `Some`), the
/// validation loss is evaluated every [`OptimConfig::validate_every`] and after the last step;
/// the run stops early after [`OptimConfig::patience`] validations without improvement; with
/// `keep_best` the best validated parameters are restored at the end, and
/// [`TrainReport::kept`] scores them on the held-out rows and on as many training rows.
///
/// A non-finite loss or gradient ends the run: when a validated best exists and `keep_best` is
/// set, it is restored and the run returns normally with [`StopReason::Diverged`]; otherwise
/// the parameters of the previous step (the last ones that gave a finite loss) are restored and
/// the run fails with [`Error::Diverged`].
pub fn optimize<T: Float>(
    params: &mut Params<T>,
    config: &OptimConfig,
    objective: &mut dyn Objective<T>,
    mut on_step: Option<&mut dyn FnMut(&StepInfo)>,
) -> Result<TrainReport> {
    if config.steps == 0 {
        return Err(Error::Config("steps must be at least 1".into()));
    }
    if !(config.adam.lr > 0.0 && config.adam.lr.is_finite()) {
        return Err(Error::Config(format!(
            "learning rate {} is not positive",
            config.adam.lr
        )));
    }
    if let Some(p) = config.plateau
        && !(p.factor > 0.0 && p.factor < 1.0)
    {
        return Err(Error::Config(format!(
            "plateau: the decay factor {} is not in (0, 1)",
            p.factor
        )));
    }
    let every = match config.validate_every {
        ValidateEvery::Epoch => objective.steps_per_epoch().max(1),
        ValidateEvery::Steps(0) => {
            return Err(Error::Config(
                "validate_every: a cadence of 0 steps; use at least 1".into(),
            ));
        }
        ValidateEvery::Steps(n) => n,
    };
    params.check_finite()?;
    let start = std::time::Instant::now();
    let mut adam = Adam::<T>::new(config.adam);
    let mut report = TrainReport::default();
    let mut previous = params.clone();
    let mut best: Option<Params<T>> = None;
    let mut since_best = 0usize;
    let mut lr_scale = 1.0;
    let progress = Progress::new(config.steps, config.progress);
    let parts = if config.data_parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    for step in 0..config.steps {
        let lr = config.schedule.rate(config.adam.lr, step, config.steps) * lr_scale;
        adam.set_learning_rate(lr);
        // The inputs were validated at the trainer's entry, so a non-finite value that a check
        // inside the step finds (an intermediate of a block, a latent code) was made by the
        // current parameters: the run diverged, exactly as when the loss itself is non-finite.
        let StepGradients {
            loss,
            mut grads,
            owner,
            mut spent,
        } = match loss_and_gradients_owned(params, objective, step, parts) {
            Err(e) if e.is_non_finite() => StepGradients {
                loss: f64::NAN,
                grads: Vec::new(),
                owner: None,
                spent: Vec::new(),
            },
            other => other?,
        };
        let grads_finite = autodiff::par::all_finite(&grads);
        if !loss.is_finite() || !grads_finite {
            match &best {
                Some(b) if config.keep_best => {
                    params.copy_from(b)?;
                    report.stop = StopReason::Diverged { step, loss };
                    break;
                }
                _ => {
                    params.copy_from(&previous)?;
                    progress.finish();
                    return Err(Error::Diverged {
                        step,
                        loss,
                        restored_step: step.saturating_sub(1),
                    });
                }
            }
        }
        if let Some(v) = config.clip_value {
            clamp_grad_values(&mut grads, v);
        }
        if let Some(c) = config.clip_norm {
            clip_grad_norm(&mut grads, c);
        }
        previous.copy_from(params)?;
        adam.step(params, &grads)?;
        spent.push((owner, grads));
        autodiff::pool::return_to_workers(spent);
        report.losses.push(loss);

        let mut val_loss = None;
        if (step + 1).is_multiple_of(every) || step + 1 == config.steps {
            let started = std::time::Instant::now();
            let v = objective.validation_loss(params)?;
            report.validation_seconds += started.elapsed().as_secs_f64();
            if let Some(v) = v {
                report.validate_every = Some(every);
                val_loss = Some(v);
                report.val_losses.push((step, v));
                if v.is_finite() && report.best.is_none_or(|(_, b)| v < b) {
                    report.best = Some((step, v));
                    match &mut best {
                        Some(b) => b.copy_from(params)?,
                        None => best = Some(params.clone()),
                    }
                    since_best = 0;
                } else {
                    since_best += 1;
                    // A decay only matters to the steps after it: none after the last step or
                    // the one that ends the run.
                    let continues =
                        step + 1 < config.steps && config.patience.is_none_or(|p| since_best < p);
                    if let (Some(plateau), Some(b)) = (config.plateau, &best)
                        && continues
                        && plateau.patience > 0
                        && since_best.is_multiple_of(plateau.patience)
                    {
                        lr_scale *= plateau.factor;
                        params.copy_from(b)?;
                        report.lr_decays.push(step);
                    }
                }
            }
        }
        progress.tick(step, loss, val_loss, report.best);
        if let Some(cb) = on_step.as_deref_mut() {
            cb(&StepInfo {
                step,
                loss,
                lr,
                val_loss,
            });
        }
        if config
            .patience
            .is_some_and(|p| since_best >= p && report.best.is_some())
        {
            report.stop = StopReason::Patience;
            break;
        }
    }
    progress.finish();
    let kept = match (&best, config.keep_best) {
        (Some(b), true) => {
            params.copy_from(b)?;
            report.best
        }
        _ => report.val_losses.last().copied(),
    };
    if let Some((step, validation)) = kept {
        let started = std::time::Instant::now();
        if let Some(train) = objective.training_loss(params)? {
            report.kept = Some(KeptScores {
                step,
                train,
                validation,
            });
        }
        report.validation_seconds += started.elapsed().as_secs_f64();
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodiff::nalgebra::DMatrix;

    /// Fits w to minimise (w − 3)², validated (when `validated`) by |w − 2| with (w − 3)² as
    /// the training-rows score; blows up (a NaN loss) at step `blow_up_at`.
    struct Quadratic {
        id: autodiff::ParamId,
        blow_up_at: Option<usize>,
        validated: bool,
    }

    impl Quadratic {
        fn new(id: autodiff::ParamId, blow_up_at: Option<usize>, validated: bool) -> Self {
            Self {
                id,
                blow_up_at,
                validated,
            }
        }
    }

    impl Objective<f64> for Quadratic {
        fn loss<'t>(
            &mut self,
            tape: &'t Tape<f64>,
            p: &Bound<'t, f64>,
            step: usize,
        ) -> Result<Var<'t, f64>> {
            let w = p.get(self.id);
            let l = w.add_scalar(-3.0).square().sum();
            if self.blow_up_at == Some(step) {
                return Ok(l.add(tape.scalar(f64::NAN))?);
            }
            Ok(l)
        }
        fn validation_loss(&mut self, params: &Params<f64>) -> Result<Option<f64>> {
            let w = params.get(self.id)[(0, 0)];
            Ok(self.validated.then_some((w - 2.0).abs()))
        }
        fn training_loss(&mut self, params: &Params<f64>) -> Result<Option<f64>> {
            let w = params.get(self.id)[(0, 0)];
            Ok(self.validated.then_some((w - 3.0).powi(2)))
        }
        fn steps_per_epoch(&self) -> usize {
            4
        }
    }

    fn store() -> (Params<f64>, autodiff::ParamId) {
        let mut p = Params::new();
        let id = p.add("w", DMatrix::zeros(1, 1)).unwrap();
        (p, id)
    }

    fn config(steps: usize, lr: f64) -> OptimConfig {
        OptimConfig {
            steps,
            adam: AdamConfig {
                lr,
                ..Default::default()
            },
            progress: false,
            ..Default::default()
        }
    }

    #[test]
    fn converges_and_reports_every_step() {
        let (mut p, id) = store();
        let mut seen = 0;
        let mut cb = |_: &StepInfo| seen += 1;
        let r = optimize(
            &mut p,
            &config(400, 0.05),
            &mut Quadratic::new(id, None, false),
            Some(&mut cb),
        )
        .unwrap();
        assert_eq!(seen, 400);
        assert_eq!(r.losses.len(), 400);
        assert_eq!(r.stop, StopReason::StepCap);
        assert_eq!((r.validate_every, r.kept, r.best), (None, None, None));
        assert!((p.get(id)[(0, 0)] - 3.0).abs() < 1e-2);
    }

    /// Without a validated best, a NaN loss is an error and the parameters are those after the
    /// last step that gave a finite loss.
    #[test]
    fn divergence_restores_the_last_good_parameters() {
        let (mut p, id) = store();
        let err = optimize(
            &mut p,
            &config(100, 0.1),
            &mut Quadratic::new(id, Some(10), false),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Diverged {
                    step: 10,
                    restored_step: 9,
                    ..
                }
            ),
            "{err}"
        );
        // The loss of step 9 (after the updates of steps 0..=8) was the last finite one: those
        // parameters are restored, not the ones step 9's update made.
        let after = |steps: usize| {
            let mut q = store().0;
            optimize(
                &mut q,
                &config(steps, 0.1),
                &mut Quadratic::new(id, None, false),
                None,
            )
            .unwrap();
            q.get(id)[(0, 0)]
        };
        assert_eq!(p.get(id)[(0, 0)], after(9));
        assert_ne!(p.get(id)[(0, 0)], after(10));
    }

    /// With a validated best, divergence ends the run normally with the best parameters and
    /// says so in the report.
    #[test]
    fn divergence_after_validation_keeps_the_best() {
        let (mut p, id) = store();
        let cfg = OptimConfig {
            patience: None,
            ..config(100, 0.1)
        };
        let r = optimize(&mut p, &cfg, &mut Quadratic::new(id, Some(30), true), None).unwrap();
        assert!(
            matches!(r.stop, StopReason::Diverged { step: 30, .. }),
            "{:?}",
            r.stop
        );
        assert_eq!(r.losses.len(), 30);
        let (best_step, best) = r.best.unwrap();
        assert_eq!(r.kept.unwrap().step, best_step);
        assert_eq!(((p.get(id)[(0, 0)] - 2.0).abs()), best);
        // Validated every 4 steps (the objective's epoch): steps 3, 7, …, 27.
        assert_eq!(r.validate_every, Some(4));
        assert_eq!(r.val_losses.len(), 7);
    }

    #[test]
    fn keeps_the_best_validated_parameters_and_stops_early() {
        let (mut p, id) = store();
        let cfg = OptimConfig {
            validate_every: ValidateEvery::Steps(5),
            patience: Some(10),
            ..config(2000, 0.05)
        };
        let r = optimize(&mut p, &cfg, &mut Quadratic::new(id, None, true), None).unwrap();
        assert_eq!(r.stop, StopReason::Patience);
        assert!(r.losses.len() < 2000);
        assert!(r.val_losses.iter().all(|&(s, _)| (s + 1) % 5 == 0));
        let (best_step, best) = r.best.unwrap();
        // Training pulls w to 3, validation prefers 2: the kept parameters are the best seen.
        let w = p.get(id)[(0, 0)];
        assert_eq!((w - 2.0).abs(), best);
        assert!(best < 0.1);
        // Ten validations after the best one, the run stopped.
        assert_eq!(r.val_losses.last().unwrap().0, best_step + 50);
        let kept = r.kept.unwrap();
        assert_eq!((kept.step, kept.validation), (best_step, best));
        assert_eq!(kept.train, (w - 3.0).powi(2));
        assert!(r.validation_seconds <= r.seconds);
    }

    /// A stalled validation loss lowers the rate every `patience` validations, each time from
    /// the best parameters; a factor outside (0, 1) is an error.
    #[test]
    fn plateaus_lower_the_rate_from_the_best_parameters() {
        let (mut p, id) = store();
        let mut rates = Vec::new();
        let mut record = |info: &StepInfo| rates.push(info.lr);
        let cfg = OptimConfig {
            validate_every: ValidateEvery::Steps(5),
            patience: Some(10),
            plateau: Some(Plateau {
                patience: 3,
                factor: 0.5,
            }),
            ..config(2000, 0.05)
        };
        let r = optimize(
            &mut p,
            &cfg,
            &mut Quadratic::new(id, None, true),
            Some(&mut record),
        )
        .unwrap();
        // Each decay halves the rate from the next step on and happens at a validation.
        assert!(!r.lr_decays.is_empty());
        for (k, &d) in r.lr_decays.iter().enumerate() {
            assert_eq!((d + 1) % 5, 0);
            assert_eq!(rates[d], 0.05 * 0.5f64.powi(k as i32));
            assert_eq!(rates[d + 1], 0.05 * 0.5f64.powi(k as i32 + 1));
        }
        // Restarting from the best parameters at a lower rate reaches a better validation
        // loss than the same run at a constant rate.
        let mut q = store().0;
        let constant = OptimConfig {
            plateau: None,
            ..cfg.clone()
        };
        let flat = optimize(&mut q, &constant, &mut Quadratic::new(id, None, true), None).unwrap();
        assert!(flat.lr_decays.is_empty());
        assert!(r.best.unwrap().1 < flat.best.unwrap().1);
        assert_eq!(r.stop, StopReason::Patience);
        let bad = OptimConfig {
            plateau: Some(Plateau {
                patience: 3,
                factor: 1.0,
            }),
            ..cfg
        };
        assert!(matches!(
            optimize(&mut p, &bad, &mut Quadratic::new(id, None, true), None),
            Err(Error::Config(_))
        ));
    }

    /// No decay (and no restore) at the validation that ends a run: the parameters of the last
    /// step stay when `keep_best` is off.
    #[test]
    fn no_plateau_restore_at_the_end_of_a_run() {
        let (mut p, id) = store();
        let cfg = OptimConfig {
            keep_best: false,
            patience: Some(6),
            validate_every: ValidateEvery::Steps(5),
            plateau: Some(Plateau {
                patience: 3,
                factor: 0.5,
            }),
            ..config(2000, 0.05)
        };
        let r = optimize(&mut p, &cfg, &mut Quadratic::new(id, None, true), None).unwrap();
        assert_eq!(r.stop, StopReason::Patience);
        let last = *r.val_losses.last().unwrap();
        assert!(r.lr_decays.iter().all(|&d| d < last.0));
        assert_eq!((p.get(id)[(0, 0)] - 2.0).abs(), last.1);
    }

    /// Without `keep_best` the last parameters stay, scored by the last validation.
    #[test]
    fn without_keep_best_the_last_parameters_stay() {
        let (mut p, id) = store();
        let cfg = OptimConfig {
            keep_best: false,
            patience: None,
            ..config(103, 0.05)
        };
        let r = optimize(&mut p, &cfg, &mut Quadratic::new(id, None, true), None).unwrap();
        // Every 4 steps and after the last one.
        assert_eq!(r.val_losses.len(), 26);
        assert_eq!(r.val_losses.last().unwrap().0, 102);
        let w = p.get(id)[(0, 0)];
        assert_eq!(r.kept.unwrap().validation, (w - 2.0).abs());
        assert!(r.kept.unwrap().validation > r.best.unwrap().1);
    }

    #[test]
    fn bad_configs_are_errors() {
        let (mut p, id) = store();
        let mut obj = Quadratic::new(id, None, true);
        for bad in [
            OptimConfig {
                steps: 0,
                ..Default::default()
            },
            config(10, -1.0),
            OptimConfig {
                validate_every: ValidateEvery::Steps(0),
                ..config(10, 0.1)
            },
        ] {
            assert!(matches!(
                optimize(&mut p, &bad, &mut obj, None),
                Err(Error::Config(_))
            ));
        }
    }

    /// The cadence reads `"epoch"`, a step count, and the `0` of files written before it had
    /// a name.
    #[test]
    fn cadence_files_round_trip_and_read_old_numbers() {
        for v in [ValidateEvery::Epoch, ValidateEvery::Steps(7)] {
            let text = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<ValidateEvery>(&text).unwrap(), v);
        }
        assert_eq!(
            serde_json::to_string(&ValidateEvery::Epoch).unwrap(),
            "\"epoch\""
        );
        assert_eq!(
            serde_json::from_str::<ValidateEvery>("0").unwrap(),
            ValidateEvery::Epoch
        );
        assert!(serde_json::from_str::<ValidateEvery>("\"weekly\"").is_err());
    }
}
