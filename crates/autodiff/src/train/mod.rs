//! Training: the one optimisation loop every crate that trains shares.
//!
//! An [`Objective`] is the loss of a minibatch on a tape. [`optimize`] does everything else:
//! draws minibatches from the training rows, splits each step across rayon's threads (row
//! shards or the objective's terms) and recycles the gradient buffers, runs Adam with a
//! [`Schedule`] and optional clipping, validates once per epoch, stops early and keeps the best
//! validated parameters, treats any non-finite value in a step as divergence (restoring the last
//! good parameters), shows a progress bar and calls a per-step callback.
//!
//! ```
//! use autodiff::nalgebra::DMatrix;
//! use autodiff::optim::AdamConfig;
//! use autodiff::train::{Batches, Minibatch, Objective, OptimConfig, optimize};
//! use autodiff::{Bound, Params, Tape, Var, lit};
//! use rand::SeedableRng;
//!
//! /// Least squares: the mean over rows of (w·x − y)².
//! struct LeastSquares(autodiff::ParamId);
//!
//! impl Objective<f64> for LeastSquares {
//!     type Error = autodiff::Error;
//!     fn loss<'t>(&self, tape: &'t Tape<f64>, p: &Bound<'t, f64>, b: &Minibatch<'_, f64>)
//!         -> autodiff::Result<Var<'t, f64>> {
//!         let (x, y) = (tape.constant(b.data[0].clone()), tape.constant(b.data[1].clone()));
//!         let r = x.matmul(p.get(self.0))?.sub(y)?;
//!         Ok(r.square().mean().scale(lit(b.part.weight)))
//!     }
//! }
//!
//! let x = DMatrix::from_fn(400, 2, |i, j| ((i * 7 + j * 3) as f64 * 0.1).sin());
//! let y = &x * DMatrix::from_column_slice(2, 1, &[2.0, -1.0]);
//! let mut params = Params::new();
//! let w = params.add("w", DMatrix::zeros(2, 1))?;
//! let adam = AdamConfig { lr: 1e-2, ..AdamConfig::default() };
//! let config = OptimConfig { steps: 2000, adam, progress: false, ..OptimConfig::default() };
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let batches = Batches { rows: &[&x, &y], batch_size: 64 };
//! optimize(&mut params, &config, &LeastSquares(w), batches, &mut rng, None)?;
//! assert!((params.get(w)[(0, 0)] - 2.0).abs() < 1e-2);
//! # Ok::<(), autodiff::Error>(())
//! ```

mod config;
mod objective;
mod progress;
mod schedule;
#[cfg(test)]
mod tests;

pub use config::{
    KeptScores, OptimConfig, Plateau, StepInfo, StopReason, TrainReport, ValidateEvery,
};
pub use objective::{Minibatch, Objective, Part, Split, TrainError};
pub use schedule::Schedule;

use crate::optim::{Adam, Optimizer, clamp_grad_values, clip_grad_norm};
use crate::{Error, Float, Params, Tape};
use nalgebra::DMatrix;
use progress::Progress;
use rand::Rng;
use rayon::prelude::*;
use std::ops::Range;

/// The training rows a run draws its minibatches from: row-aligned matrices (data, conditions)
/// and the minibatch size. With no matrices (an objective that draws all its inputs as
/// [`Objective::noise`]), each minibatch is `batch_size` rows of noise.
#[derive(Clone, Copy, Debug)]
pub struct Batches<'a, T: Float> {
    /// The training matrices, all with the same rows (`n × d_k`).
    pub rows: &'a [&'a DMatrix<T>],
    /// Rows per minibatch, drawn uniformly with replacement (as the FrEIA examples do).
    pub batch_size: usize,
}

impl<T: Float> Batches<'_, T> {
    /// Training rows (0 without matrices).
    fn n(&self) -> usize {
        self.rows.first().map_or(0, |m| m.nrows())
    }

    /// Steps per pass over the training rows, `⌈n / batch⌉` (1 without rows).
    fn steps_per_epoch(&self) -> usize {
        self.n().div_ceil(self.batch_size.max(1)).max(1)
    }

    fn check(&self) -> crate::Result<()> {
        let bad = |reason: String| {
            Err(Error::InvalidArgument {
                op: "train",
                reason,
            })
        };
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        let n = self.n();
        if !self.rows.is_empty() && n == 0 {
            return bad("no training rows".into());
        }
        if let Some(m) = self.rows.iter().find(|m| m.nrows() != n) {
            return bad(format!(
                "the training matrices have {n} and {} rows",
                m.nrows()
            ));
        }
        Ok(())
    }

    /// The next minibatch: `batch_size` row indices drawn with replacement, those rows of every
    /// matrix, then the objective's noise for them.
    fn draw<O, R>(&self, objective: &O, rng: &mut R) -> Vec<DMatrix<T>>
    where
        O: Objective<T>,
        R: Rng + ?Sized,
    {
        let n = self.n();
        let mut data = Vec::with_capacity(self.rows.len());
        if n > 0 {
            let idx: Vec<usize> = (0..self.batch_size)
                .map(|_| rng.random_range(0..n))
                .collect();
            data.extend(self.rows.iter().map(|m| m.select_rows(idx.iter())));
        }
        data.extend(objective.noise(self.batch_size, rng));
        data
    }
}

/// Rows per shard below which a minibatch is not worth splitting: a shard's products should
/// stay large enough to run GEMM near its single-core peak.
const MIN_SHARD_ROWS: usize = 128;

/// Splits `rows` minibatch rows into at most `parts` shards of at least [`MIN_SHARD_ROWS`]
/// rows, or `None` when one shard would do.
fn shard_rows(rows: usize, parts: usize) -> Option<Vec<Range<usize>>> {
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
                let shard = start..start + len;
                start += len;
                shard
            })
            .collect(),
    )
}

/// The parts of one step for `threads` threads, each with the minibatch rows it reads; a
/// single [`Part::WHOLE`] when the step is not worth splitting.
fn plan(split: Split, rows: usize, threads: usize) -> Vec<(Part, Range<usize>)> {
    let whole = vec![(Part::WHOLE, 0..rows)];
    if threads < 2 {
        return whole;
    }
    let share = |r: &Range<usize>| r.len() as f64 / rows as f64;
    match split {
        Split::RowMean => match shard_rows(rows, threads) {
            Some(shards) => shards
                .into_iter()
                .map(|r| {
                    let part = Part {
                        term: None,
                        weight: share(&r),
                    };
                    (part, r)
                })
                .collect(),
            None => whole,
        },
        Split::Terms {
            whole: sets,
            row_means,
        } => {
            // One shard (the whole minibatch) when it is too small to split.
            let shards =
                shard_rows(rows, threads).unwrap_or_else(|| std::iter::once(0..rows).collect());
            let set_parts = sets.into_iter().map(|t| {
                let part = Part {
                    term: Some(t),
                    weight: 1.0,
                };
                (part, 0..rows)
            });
            let row_parts: Vec<_> = row_means
                .into_iter()
                .flat_map(|t| {
                    shards.iter().map(move |r| {
                        let part = Part {
                            term: Some(t),
                            weight: share(r),
                        };
                        (part, r.clone())
                    })
                })
                .collect();
            // Interleave [set, row shard, set, row shard, …, the rest] so that rayon's halving
            // of the list pairs each (expensive) set term with a row shard.
            let mut parts = Vec::new();
            let mut a = set_parts;
            let mut b = row_parts.into_iter();
            loop {
                match (a.next(), b.next()) {
                    (None, None) => break,
                    (x, y) => parts.extend(x.into_iter().chain(y)),
                }
            }
            if parts.len() < 2 { whole } else { parts }
        }
    }
}

/// Gradient buffers made on rayon's workers, with the worker that made each set, to hand back
/// to it ([`crate::pool::return_to_workers`]).
type Spent<T> = Vec<(Option<usize>, Vec<DMatrix<T>>)>;

/// One step's loss and gradients, with where their buffers came from.
struct StepGradients<T: Float> {
    loss: f64,
    /// The summed gradients (empty when the loss is not finite).
    grads: Vec<DMatrix<T>>,
    /// The worker that made `grads`' buffers (`None`: the calling thread).
    owner: Option<usize>,
    /// The other parts' gradient sets, already added into `grads`.
    spent: Spent<T>,
}

/// The loss of one part on a fresh tape with `params` bound to it, and — when it is finite —
/// the parameter gradients.
fn part_gradients<T: Float, O: Objective<T>>(
    params: &Params<T>,
    objective: &O,
    batch: &Minibatch<'_, T>,
) -> Result<(f64, Vec<DMatrix<T>>), O::Error> {
    let tape = Tape::new();
    let bound = params.bind(&tape);
    let loss = objective.loss(&tape, &bound, batch)?;
    let value = loss.item().to_f64();
    if !value.is_finite() {
        return Ok((value, Vec::new()));
    }
    let mut g = tape.backward(loss)?;
    Ok((value, bound.gradients(&mut g)))
}

/// The loss and gradients of step `step` on minibatch `data`, split into `parts` evaluated in
/// parallel.
fn step_gradients<T: Float, O: Objective<T>>(
    params: &Params<T>,
    objective: &O,
    data: &[DMatrix<T>],
    step: usize,
    parts: Vec<(Part, Range<usize>)>,
) -> Result<StepGradients<T>, O::Error> {
    let rows = data.first().map_or(0, |m| m.nrows());
    if let [(part, _)] = parts.as_slice() {
        let batch = Minibatch {
            data,
            step,
            part: *part,
        };
        let (loss, grads) = part_gradients(params, objective, &batch)?;
        return Ok(StepGradients {
            loss,
            grads,
            owner: None,
            spent: Vec::new(),
        });
    }
    type PartResult<T> = (f64, Vec<DMatrix<T>>, Option<usize>);
    let results: Vec<Result<PartResult<T>, O::Error>> = parts
        .par_iter()
        .map(|(part, range)| {
            let sliced: Vec<DMatrix<T>>;
            let part_data = if range.len() == rows {
                data
            } else {
                sliced = data
                    .iter()
                    .map(|m| m.rows(range.start, range.len()).into_owned())
                    .collect();
                &sliced
            };
            let batch = Minibatch {
                data: part_data,
                step,
                part: *part,
            };
            let (loss, grads) = part_gradients(params, objective, &batch)?;
            Ok((loss, grads, rayon::current_thread_index()))
        })
        .collect();
    let mut total = 0.0;
    let mut grads: Vec<DMatrix<T>> = Vec::new();
    let mut owner = None;
    let mut spent = Vec::new();
    for r in results {
        let (value, g, made_by) = r?;
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
            crate::par::add_assign(&mut grads, &g);
            spent.push((made_by, g));
        }
    }
    Ok(StepGradients {
        loss: total,
        grads,
        owner,
        spent,
    })
}

/// The loss and parameter gradients of step `step` on the minibatch `data`, split for
/// `threads` threads exactly as [`optimize`] splits it (`threads = 1`: the whole loss on one
/// tape). Checks an objective's law: the result must not depend on `threads` beyond rounding.
/// The gradients are empty when the loss is not finite.
pub fn step_gradients_for_threads<T: Float, O: Objective<T>>(
    params: &Params<T>,
    objective: &O,
    data: &[DMatrix<T>],
    step: usize,
    threads: usize,
) -> Result<(f64, Vec<DMatrix<T>>), O::Error> {
    let rows = data.first().map_or(0, |m| m.nrows());
    let parts = plan(objective.split(step), rows, threads);
    let g = step_gradients(params, objective, data, step, parts)?;
    crate::pool::return_to_workers(g.spent);
    Ok((g.loss, g.grads))
}

/// Runs at most `config.steps` Adam steps on `objective` over minibatches of `batches`,
/// updating `params`; `rng` draws the minibatches (and the objective's noise).
///
/// With held-out data (the objective's [`Objective::validation`] is `Some`), the validation
/// metric is evaluated every [`OptimConfig::validate_every`] and after the last step; the run
/// stops early after [`OptimConfig::patience`] validations without improvement, lowers the rate
/// on a [`Plateau`]; with `keep_best` the best validated parameters are restored at the end, and
/// [`TrainReport::kept`] scores them on the held-out rows and on as many training rows.
///
/// A non-finite loss or gradient — or an error of the objective that reports a non-finite value
/// met inside the step ([`TrainError::is_non_finite`]) — ends the run: when a validated best
/// exists and `keep_best` is set, it is restored and the run returns normally with
/// [`StopReason::Diverged`]; otherwise the parameters that gave the last finite loss are
/// restored and the run fails with [`Error::Diverged`].
pub fn optimize<T, O, R>(
    params: &mut Params<T>,
    config: &OptimConfig,
    objective: &O,
    batches: Batches<'_, T>,
    rng: &mut R,
    mut on_step: Option<&mut dyn FnMut(&StepInfo)>,
) -> Result<TrainReport, O::Error>
where
    T: Float,
    O: Objective<T>,
    R: Rng + ?Sized,
{
    let bad = |reason: String| -> O::Error {
        Error::InvalidArgument {
            op: "train",
            reason,
        }
        .into()
    };
    if config.steps == 0 {
        return Err(bad("steps must be at least 1".into()));
    }
    if !(config.adam.lr > 0.0 && config.adam.lr.is_finite()) {
        return Err(bad(format!(
            "learning rate {} is not positive",
            config.adam.lr
        )));
    }
    if let Some(p) = config.plateau
        && !(p.factor > 0.0 && p.factor < 1.0)
    {
        return Err(bad(format!(
            "plateau: the decay factor {} is not in (0, 1)",
            p.factor
        )));
    }
    batches.check()?;
    let every = match config.validate_every {
        ValidateEvery::Epoch => batches.steps_per_epoch(),
        ValidateEvery::Steps(0) => {
            return Err(bad(
                "validate_every: a cadence of 0 steps; use at least 1".into()
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
    let threads = if config.data_parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    for step in 0..config.steps {
        let lr = config.schedule.rate(config.adam.lr, step, config.steps) * lr_scale;
        adam.set_learning_rate(lr);
        let data = batches.draw(objective, rng);
        let rows = data.first().map_or(batches.batch_size, |m| m.nrows());
        let parts = plan(objective.split(step), rows, threads);
        // A non-finite value that a check inside the step finds was made by the current
        // parameters (the trainer validated its data at entry): the run diverged, exactly as
        // when the loss itself is non-finite.
        let StepGradients {
            loss,
            mut grads,
            owner,
            mut spent,
        } = match step_gradients(params, objective, &data, step, parts) {
            Err(e) if e.is_non_finite() => StepGradients {
                loss: f64::NAN,
                grads: Vec::new(),
                owner: None,
                spent: Vec::new(),
            },
            other => other?,
        };
        if !loss.is_finite() || !crate::par::all_finite(&grads) {
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
                    }
                    .into());
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
        crate::pool::return_to_workers(spent);
        report.losses.push(loss);

        let mut val_loss = None;
        if (step + 1).is_multiple_of(every) || step + 1 == config.steps {
            let started = std::time::Instant::now();
            let v = objective.validation(params)?;
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
        if let Some(train) = objective.training_score(params)? {
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
