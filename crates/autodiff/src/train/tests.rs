//! The loop's contract on a one-parameter problem: convergence, validation and early stopping,
//! plateau decay, divergence with restore, bad options.

use super::*;
use crate::optim::AdamConfig;
use crate::{Bound, ParamId, Var};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Fits w to minimise (w − 3)², validated (when `validated`) by |w − 2| with (w − 3)² as
/// the training-rows score; blows up (a NaN loss) at step `blow_up_at`.
struct Quadratic {
    id: ParamId,
    blow_up_at: Option<usize>,
    validated: bool,
}

impl Quadratic {
    fn new(id: ParamId, blow_up_at: Option<usize>, validated: bool) -> Self {
        Self {
            id,
            blow_up_at,
            validated,
        }
    }
}

impl Objective<f64> for Quadratic {
    type Error = Error;
    fn loss<'t>(
        &self,
        tape: &'t Tape<f64>,
        p: &Bound<'t, f64>,
        batch: &Minibatch<'_, f64>,
    ) -> crate::Result<Var<'t, f64>> {
        let w = p.get(self.id);
        let l = w.add_scalar(-3.0).square().sum();
        if self.blow_up_at == Some(batch.step) {
            return l.add(tape.scalar(f64::NAN));
        }
        Ok(l)
    }
    fn validation(&self, params: &Params<f64>) -> crate::Result<Option<f64>> {
        let w = params.get(self.id)[(0, 0)];
        Ok(self.validated.then_some((w - 2.0).abs()))
    }
    fn training_score(&self, params: &Params<f64>) -> crate::Result<Option<f64>> {
        let w = params.get(self.id)[(0, 0)];
        Ok(self.validated.then_some((w - 3.0).powi(2)))
    }
}

/// Four training rows in minibatches of one: an epoch is four steps.
fn four_rows() -> DMatrix<f64> {
    DMatrix::zeros(4, 1)
}

/// `optimize` on [`Quadratic`] over [`four_rows`].
fn run(
    p: &mut Params<f64>,
    config: &OptimConfig,
    objective: &Quadratic,
    on_step: Option<&mut dyn FnMut(&StepInfo)>,
) -> crate::Result<TrainReport> {
    let rows = four_rows();
    let batches = Batches {
        rows: &[&rows],
        batch_size: 1,
    };
    optimize(
        p,
        config,
        objective,
        batches,
        &mut StdRng::seed_from_u64(0),
        on_step,
    )
}

fn store() -> (Params<f64>, ParamId) {
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
    let r = run(
        &mut p,
        &config(400, 0.05),
        &Quadratic::new(id, None, false),
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
    let err = run(
        &mut p,
        &config(100, 0.1),
        &Quadratic::new(id, Some(10), false),
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
        run(
            &mut q,
            &config(steps, 0.1),
            &Quadratic::new(id, None, false),
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
    let r = run(&mut p, &cfg, &Quadratic::new(id, Some(30), true), None).unwrap();
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
    let r = run(&mut p, &cfg, &Quadratic::new(id, None, true), None).unwrap();
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
    let r = run(
        &mut p,
        &cfg,
        &Quadratic::new(id, None, true),
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
    let flat = run(&mut q, &constant, &Quadratic::new(id, None, true), None).unwrap();
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
        run(&mut p, &bad, &Quadratic::new(id, None, true), None),
        Err(Error::InvalidArgument { .. })
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
    let r = run(&mut p, &cfg, &Quadratic::new(id, None, true), None).unwrap();
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
    let r = run(&mut p, &cfg, &Quadratic::new(id, None, true), None).unwrap();
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
    let obj = Quadratic::new(id, None, true);
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
            run(&mut p, &bad, &obj, None),
            Err(Error::InvalidArgument { .. })
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

/// Row shards of at least 128 rows, the remainder spread over the first shards; one tape for
/// small batches or one thread.
#[test]
fn row_shards_and_small_batches() {
    assert_eq!(shard_rows(255, 8), None);
    assert_eq!(shard_rows(1000, 1), None);
    assert_eq!(shard_rows(257, 2), Some(vec![0..129, 129..257]));
    let parts = plan(Split::RowMean, 517, 4);
    assert_eq!(
        parts.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        vec![0..130, 130..259, 259..388, 388..517]
    );
    let weights: f64 = parts.iter().map(|(p, _)| p.weight).sum();
    assert!((weights - 1.0).abs() < 1e-15);
    assert!(parts.iter().all(|(p, _)| p.term.is_none()));
    assert_eq!(plan(Split::RowMean, 200, 2), vec![(Part::WHOLE, 0..200)]);
    assert_eq!(plan(Split::RowMean, 1000, 1), vec![(Part::WHOLE, 0..1000)]);
}

/// Terms on the whole minibatch alternate with the shards of the row-mean terms; fewer than
/// two parts run on one tape.
#[test]
fn terms_interleave_with_row_shards() {
    let split = Split::Terms {
        whole: vec![0, 1],
        row_means: vec![2],
    };
    let parts = plan(split, 300, 2);
    let terms: Vec<_> = parts.iter().map(|(p, r)| (p.term, r.clone())).collect();
    assert_eq!(
        terms,
        vec![
            (Some(0), 0..300),
            (Some(2), 0..150),
            (Some(1), 0..300),
            (Some(2), 150..300)
        ]
    );
    assert_eq!(parts[1].0.weight, 0.5);
    // A small batch keeps the row term whole (weight 1), still in parallel with the others.
    let small = plan(
        Split::Terms {
            whole: vec![0],
            row_means: vec![2],
        },
        100,
        2,
    );
    assert_eq!(small.len(), 2);
    assert_eq!(small[1].0.weight, 1.0);
    let single = Split::Terms {
        whole: vec![0],
        row_means: vec![],
    };
    assert_eq!(plan(single, 300, 2), vec![(Part::WHOLE, 0..300)]);
}

/// An epoch is ⌈rows / batch⌉ steps; mismatched matrices and an empty batch are errors.
#[test]
fn batches_are_checked_and_define_the_epoch() {
    let a = DMatrix::<f64>::zeros(1000, 2);
    let b = DMatrix::<f64>::zeros(999, 1);
    let ok = Batches {
        rows: &[&a],
        batch_size: 256,
    };
    assert_eq!(ok.steps_per_epoch(), 4);
    assert!(ok.check().is_ok());
    let noise_only = Batches::<f64> {
        rows: &[],
        batch_size: 256,
    };
    assert_eq!(noise_only.steps_per_epoch(), 1);
    assert!(
        Batches {
            rows: &[&a, &b],
            batch_size: 8
        }
        .check()
        .is_err()
    );
    assert!(
        Batches {
            rows: &[&a],
            batch_size: 0
        }
        .check()
        .is_err()
    );
}
