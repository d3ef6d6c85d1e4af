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

/// Options of the optimisation loop. Defaults: 1000 steps, Adam (PyTorch defaults, lr 1e-3),
/// constant rate, no clipping, no validation, progress bar on (shown only on a terminal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    /// Number of optimizer steps.
    pub steps: usize,
    /// Adam hyper-parameters (the base learning rate is `adam.lr`).
    pub adam: AdamConfig,
    /// Learning-rate schedule applied to `adam.lr`.
    pub schedule: Schedule,
    /// Global gradient-norm clipping (PyTorch `clip_grad_norm_`), if any.
    pub clip_norm: Option<f64>,
    /// Elementwise gradient clamp to `[−v, v]` (the INN paper clamps at 15), if any.
    pub clip_value: Option<f64>,
    /// Evaluate the validation loss every this many steps (0: never).
    pub validate_every: usize,
    /// Stop when the validation loss has not improved for this many evaluations.
    pub patience: Option<usize>,
    /// At the end, restore the parameters with the best validation loss. Default `true`.
    pub keep_best: bool,
    /// Show a progress bar (only when stderr is a terminal). Default `true`.
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

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            steps: 1000,
            adam: AdamConfig::default(),
            schedule: Schedule::Constant,
            clip_norm: None,
            clip_value: None,
            validate_every: 0,
            patience: None,
            keep_best: true,
            progress: true,
            data_parallel: true,
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

/// The history of a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Training loss at every step.
    pub losses: Vec<f64>,
    /// `(step, validation loss)` at every evaluation.
    pub val_losses: Vec<(usize, f64)>,
    /// `(step, validation loss)` of the best evaluation, if any.
    pub best: Option<(usize, f64)>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

impl TrainReport {
    /// Mean training loss over the last `k` steps (or fewer when the run was shorter).
    pub fn final_loss(&self, k: usize) -> f64 {
        let tail = &self.losses[self.losses.len().saturating_sub(k.max(1))..];
        tail.iter().sum::<f64>() / tail.len().max(1) as f64
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

    /// The validation loss (lower is better), or `None` when there is no validation set.
    fn validation_loss(&mut self, _params: &Params<T>) -> Result<Option<f64>> {
        Ok(None)
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

/// Runs `config.steps` Adam steps on `objective`, updating `params`.
///
/// A non-finite loss or gradient stops the run with [`Error::Diverged`] after restoring the
/// parameters of the previous step (the last ones that gave a finite loss). With validation,
/// the best parameters are restored at the end when `keep_best` is set.
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
    params.check_finite()?;
    let start = std::time::Instant::now();
    let mut adam = Adam::<T>::new(config.adam);
    let mut report = TrainReport::default();
    let mut previous = params.clone();
    let mut best: Option<Params<T>> = None;
    let mut since_best = 0usize;
    let progress = Progress::new(config.steps, config.progress);
    let parts = if config.data_parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    for step in 0..config.steps {
        let lr = config.schedule.rate(config.adam.lr, step, config.steps);
        adam.set_learning_rate(lr);
        let StepGradients {
            loss,
            mut grads,
            owner,
            mut spent,
        } = loss_and_gradients_owned(params, objective, step, parts)?;
        let grads_finite = autodiff::par::all_finite(&grads);
        if !loss.is_finite() || !grads_finite {
            params.copy_from(&previous)?;
            progress.finish();
            return Err(Error::Diverged {
                step,
                loss,
                restored_step: step.saturating_sub(1),
            });
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
        let validate_now = config.validate_every > 0
            && ((step + 1).is_multiple_of(config.validate_every) || step + 1 == config.steps);
        if validate_now && let Some(v) = objective.validation_loss(params)? {
            val_loss = Some(v);
            report.val_losses.push((step, v));
            if v.is_finite() && report.best.is_none_or(|(_, b)| v < b) {
                report.best = Some((step, v));
                best = Some(params.clone());
                since_best = 0;
            } else {
                since_best += 1;
            }
        }
        progress.tick(step, loss, val_loss);
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
            report.stopped_early = true;
            break;
        }
    }
    progress.finish();
    if config.keep_best
        && let Some(b) = best
    {
        params.copy_from(&b)?;
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodiff::nalgebra::DMatrix;

    /// Fits w to minimise (w − 3)² plus a validation loss |w − 2|, with optional blow-up.
    struct Quadratic {
        id: autodiff::ParamId,
        blow_up_at: Option<usize>,
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
            Ok(Some((params.get(self.id)[(0, 0)] - 2.0).abs()))
        }
    }

    fn store() -> (Params<f64>, autodiff::ParamId) {
        let mut p = Params::new();
        let id = p.add("w", DMatrix::zeros(1, 1)).unwrap();
        (p, id)
    }

    #[test]
    fn converges_and_reports_every_step() {
        let (mut p, id) = store();
        let cfg = OptimConfig {
            steps: 400,
            adam: AdamConfig {
                lr: 0.05,
                ..Default::default()
            },
            progress: false,
            ..Default::default()
        };
        let mut seen = 0;
        let mut cb = |_: &StepInfo| seen += 1;
        let r = optimize(
            &mut p,
            &cfg,
            &mut Quadratic {
                id,
                blow_up_at: None,
            },
            Some(&mut cb),
        )
        .unwrap();
        assert_eq!(seen, 400);
        assert_eq!(r.losses.len(), 400);
        assert!((p.get(id)[(0, 0)] - 3.0).abs() < 1e-2);
    }

    #[test]
    fn divergence_restores_the_last_good_parameters() {
        let (mut p, id) = store();
        let cfg = OptimConfig {
            steps: 100,
            adam: AdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            progress: false,
            ..Default::default()
        };
        // Record the parameters after each step; step 10's loss is NaN.
        let mut history = Vec::new();
        let err = {
            let mut obj = Quadratic {
                id,
                blow_up_at: Some(10),
            };
            let mut reference = store().0;
            let cfg9 = OptimConfig {
                steps: 10,
                keep_best: false,
                ..cfg.clone()
            };
            optimize(
                &mut reference,
                &cfg9,
                &mut Quadratic {
                    id,
                    blow_up_at: None,
                },
                None,
            )
            .unwrap();
            history.push(reference.get(id)[(0, 0)]);
            optimize(&mut p, &cfg, &mut obj, None).unwrap_err()
        };
        assert!(matches!(err, Error::Diverged { step: 10, .. }), "{err}");
        // Parameters after 9 updates (the last that produced a finite loss at step 9).
        let mut nine = store().0;
        let cfg9 = OptimConfig {
            steps: 9,
            keep_best: false,
            ..cfg
        };
        optimize(
            &mut nine,
            &cfg9,
            &mut Quadratic {
                id,
                blow_up_at: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(p.get(id)[(0, 0)], nine.get(id)[(0, 0)]);
        assert_ne!(p.get(id)[(0, 0)], history[0]);
    }

    #[test]
    fn keeps_the_best_validated_parameters_and_stops_early() {
        let (mut p, id) = store();
        let cfg = OptimConfig {
            steps: 2000,
            adam: AdamConfig {
                lr: 0.05,
                ..Default::default()
            },
            validate_every: 5,
            patience: Some(10),
            keep_best: true,
            progress: false,
            ..Default::default()
        };
        let r = optimize(
            &mut p,
            &cfg,
            &mut Quadratic {
                id,
                blow_up_at: None,
            },
            None,
        )
        .unwrap();
        assert!(r.stopped_early);
        assert!(r.losses.len() < 2000);
        let (_, best) = r.best.unwrap();
        // Training pulls w to 3, validation prefers 2: the kept parameters are the best seen.
        assert!((p.get(id)[(0, 0)] - 2.0).abs() <= best + 1e-12);
        assert!(best < 0.1);
    }

    #[test]
    fn bad_configs_are_errors() {
        let (mut p, id) = store();
        let mut obj = Quadratic {
            id,
            blow_up_at: None,
        };
        let zero = OptimConfig {
            steps: 0,
            ..Default::default()
        };
        assert!(matches!(
            optimize(&mut p, &zero, &mut obj, None),
            Err(Error::Config(_))
        ));
        let neg = OptimConfig {
            adam: AdamConfig {
                lr: -1.0,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(
            optimize(&mut p, &neg, &mut obj, None),
            Err(Error::Config(_))
        ));
    }
}
