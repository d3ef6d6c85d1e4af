//! The classifier two-sample test (C2ST): how well a small MLP tells two samples apart.

use crate::{Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::nn::{Activation, Init, Mlp, MlpConfig};
use autodiff::optim::{Adam, AdamConfig, Optimizer};
use autodiff::{Float, Params, Tape};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Options of [`c2st`]. The defaults are the classifier of sbi's `c2st` (scikit-learn's
/// `MLPClassifier(activation="relu", hidden_layer_sizes=(10d, 10d), solver="adam")` with its
/// default learning rate, minibatch, L2 penalty and stopping rule), except for `max_epochs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct C2stConfig {
    /// Number of cross-validation folds, at least 2. Default 5 (sbi's `n_folds`).
    pub folds: usize,
    /// The two hidden ReLU layers have `hidden_factor · d` units each. Default 10 (sbi).
    pub hidden_factor: usize,
    /// Upper bound on the epochs of one fold's training, so that every call ends. Default
    /// 2000 (scikit-learn's `max_iter = 10000` is never reached in practice): on 1000 + 1000
    /// Gaussian rows the tolerance rule stops each fold after 20–180 epochs in 2-D and
    /// 430–1400 in 5-D, so the cap rarely binds; [`C2stResult::epochs`] says when it did.
    pub max_epochs: usize,
    /// Adam's learning rate (β₁ = 0.9, β₂ = 0.999, ε = 1e-8). Default `1e-3`.
    pub lr: f64,
    /// Minibatch size; a fold's training rows are reshuffled every epoch and cut into
    /// consecutive batches of `min(batch_size, n_train)` rows (the last one may be smaller).
    /// Default 200 (scikit-learn's `"auto"`).
    pub batch_size: usize,
    /// L2 penalty `α`: a batch of `B` rows adds `α/(2B) · Σ‖W‖²` over the weight matrices (not
    /// the biases) to its loss, as scikit-learn's `alpha`. Default `1e-4`.
    pub weight_decay: f64,
    /// An epoch counts as an improvement when its mean training loss is below the best so far
    /// minus `tol`. Default `1e-4` (scikit-learn's `tol`).
    pub tol: f64,
    /// Training stops after more than `patience` consecutive epochs without improvement.
    /// Default 10 (scikit-learn's `n_iter_no_change`).
    pub patience: usize,
}

impl Default for C2stConfig {
    fn default() -> Self {
        Self {
            folds: 5,
            hidden_factor: 10,
            max_epochs: 2000,
            lr: 1e-3,
            batch_size: 200,
            weight_decay: 1e-4,
            tol: 1e-4,
            patience: 10,
        }
    }
}

/// The outcome of [`c2st`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct C2stResult {
    /// Mean held-out accuracy over the folds: 0.5 when the classifier cannot tell the samples
    /// apart (for equal sample sizes), 1.0 when it separates them perfectly.
    pub accuracy: f64,
    /// Held-out accuracy of each fold.
    pub fold_accuracies: Vec<f64>,
    /// Epochs trained in each fold; equal to [`C2stConfig::max_epochs`] where the cap, not the
    /// tolerance rule, stopped training.
    pub epochs: Vec<usize>,
}

/// The classifier two-sample test (Lopez-Paz & Oquab 2017, "Revisiting classifier two-sample
/// tests"), as sbi's `c2st`: the rows of `a` (`n × d`, one sample per row) get label 0, the
/// rows of `b` (`m × d`) label 1; every row is standardised with the per-column mean and
/// standard deviation (`n − 1` denominator) of `a` (a column whose deviation is below `1e-14`
/// is only centred); an MLP `d → h → h → 1` (`h = hidden_factor · d`, ReLU, one logit) is
/// trained with Adam on the binary cross-entropy `softplus(z) − y·z`; the result is its mean
/// held-out accuracy over `folds` stratified folds (each sample's rows shuffled with `rng` and
/// split evenly). The weights and biases start from scikit-learn's Glorot uniform
/// `U(±√(6/(fan_in + fan_out)))`. The classifier works in `f64` whatever `T` is.
///
/// About 0.5 means the classifier found no difference; values well above 0.5 measure how
/// distinguishable the samples are (for two Gaussians the ceiling is the Bayes accuracy).
/// Folds are trained in parallel, each from its own seed drawn from `rng`, so a fixed seed
/// gives the same result on any number of threads.
///
/// ```
/// use inn::eval::{C2stConfig, c2st};
/// use inn::autodiff::nalgebra::DMatrix;
/// use rand::{Rng, SeedableRng};
/// use rand_distr::StandardNormal;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let a = DMatrix::<f64>::from_fn(100, 1, |_, _| rng.sample(StandardNormal));
/// let b = DMatrix::<f64>::from_fn(100, 1, |_, _| 4.0 + rng.sample::<f64, _>(StandardNormal));
/// let config = C2stConfig { max_epochs: 300, ..C2stConfig::default() };
/// let result = c2st(&a, &b, &config, &mut rng)?;
/// // N(0, 1) against N(4, 1): the Bayes accuracy is Φ(2) ≈ 0.98.
/// assert!(result.accuracy > 0.9, "{}", result.accuracy);
/// assert_eq!(result.fold_accuracies.len(), 5);
/// # Ok::<(), inn::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] when the samples differ in width or have none, either sample has fewer
/// rows than `folds`, an entry is not finite (naming the sample and the first bad row), a
/// column of `a` is too large to standardise, or the options are out of range (`folds < 2`,
/// zero `hidden_factor`, `max_epochs` or `batch_size`, a learning rate that is not positive
/// and finite, a negative or non-finite `weight_decay` or `tol`); [`Error::Autodiff`] if
/// training produces a non-finite gradient.
pub fn c2st<T: Float, R: Rng + ?Sized>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
    config: &C2stConfig,
    rng: &mut R,
) -> Result<C2stResult> {
    let hidden = check(a, b, config)?;
    let (n, d) = a.shape();
    let m = b.nrows();
    let a = a.map(|v| v.to_f64());
    let b = b.map(|v| v.to_f64());
    let (mean, scale) = standardisation(&a)?;
    let x = DMatrix::from_fn(n + m, d, |i, j| {
        let v = if i < n { a[(i, j)] } else { b[(i - n, j)] };
        (v - mean[j]) / scale[j]
    });
    let labels: Vec<f64> = (0..n + m).map(|i| f64::from(u8::from(i >= n))).collect();
    let folds = stratified_folds(n, m, config.folds, rng);
    let seeds: Vec<u64> = (0..config.folds).map(|_| rng.random()).collect();
    let outcomes = folds
        .par_iter()
        .zip(seeds)
        .map(|(test, seed)| {
            let mut in_test = vec![false; n + m];
            for &i in test {
                in_test[i] = true;
            }
            let train: Vec<usize> = (0..n + m).filter(|&i| !in_test[i]).collect();
            let mut fold_rng = StdRng::seed_from_u64(seed);
            let (mlp, params, epochs) =
                train_classifier(&x, &labels, &train, hidden, config, &mut fold_rng)?;
            let logits = mlp.eval(&params, &select_rows(&x, test))?;
            // A logit above 0 is a predicted probability above 1/2 for label 1.
            let right = test
                .iter()
                .zip(logits.iter())
                .filter(|&(&i, &z)| (z > 0.0) == (labels[i] > 0.5))
                .count();
            Ok((right as f64 / test.len() as f64, epochs))
        })
        .collect::<Result<Vec<_>>>()?;
    let (fold_accuracies, epochs): (Vec<f64>, Vec<usize>) = outcomes.into_iter().unzip();
    let accuracy = fold_accuracies.iter().sum::<f64>() / fold_accuracies.len() as f64;
    Ok(C2stResult {
        accuracy,
        fold_accuracies,
        epochs,
    })
}

/// Validates the inputs and options; returns the hidden width.
fn check<T: Float>(a: &DMatrix<T>, b: &DMatrix<T>, config: &C2stConfig) -> Result<usize> {
    let bad = |reason: String| Err(Error::Config(format!("c2st: {reason}")));
    if a.ncols() != b.ncols() || a.ncols() == 0 {
        return bad(format!(
            "samples a ({} x {}) and b ({} x {}) must have the same positive width",
            a.nrows(),
            a.ncols(),
            b.nrows(),
            b.ncols()
        ));
    }
    if config.folds < 2 {
        return bad(format!("folds = {} must be at least 2", config.folds));
    }
    for (name, s) in [("a", a), ("b", b)] {
        if s.nrows() < config.folds {
            return bad(format!(
                "sample {name} has {} rows, fewer than the {} folds",
                s.nrows(),
                config.folds
            ));
        }
        if let Some(i) = s.row_iter().position(|r| r.iter().any(|v| !v.is_finite())) {
            return bad(format!("sample {name} has a non-finite entry in row {i}"));
        }
    }
    if config.max_epochs == 0 || config.batch_size == 0 {
        return bad(format!(
            "max_epochs = {} and batch_size = {} must be positive",
            config.max_epochs, config.batch_size
        ));
    }
    if !(config.lr.is_finite() && config.lr > 0.0) {
        return bad(format!("lr = {} must be positive and finite", config.lr));
    }
    for (name, v) in [("weight_decay", config.weight_decay), ("tol", config.tol)] {
        if !(v.is_finite() && v >= 0.0) {
            return bad(format!("{name} = {v} must be non-negative and finite"));
        }
    }
    match config.hidden_factor.checked_mul(a.ncols()) {
        Some(h) if h > 0 => Ok(h),
        _ => bad(format!(
            "hidden_factor = {} gives no usable hidden width for d = {}",
            config.hidden_factor,
            a.ncols()
        )),
    }
}

/// Per-column mean and standard deviation (`n − 1` denominator, as `torch.std`) of `a`; a
/// deviation below `1e-14` becomes 1, as in sbi, so a constant column is only centred.
fn standardisation(a: &DMatrix<f64>) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = a.nrows() as f64;
    let mut means = Vec::with_capacity(a.ncols());
    let mut scales = Vec::with_capacity(a.ncols());
    for (j, col) in a.column_iter().enumerate() {
        let mean = col.iter().sum::<f64>() / n;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let sd = var.sqrt();
        if !sd.is_finite() || !mean.is_finite() {
            return Err(Error::Config(format!(
                "c2st: column {j} of sample a is too large to standardise"
            )));
        }
        means.push(mean);
        scales.push(if sd < 1e-14 { 1.0 } else { sd });
    }
    Ok((means, scales))
}

/// The test rows of each fold (indices into the stacked `a`-then-`b` rows): each sample's rows
/// are shuffled and cut into `k` consecutive parts whose sizes differ by at most one, and fold
/// `f` takes part `f` of both, so every fold keeps the samples' proportions.
fn stratified_folds<R: Rng + ?Sized>(n: usize, m: usize, k: usize, rng: &mut R) -> Vec<Vec<usize>> {
    let mut folds = vec![Vec::new(); k];
    for (offset, len) in [(0, n), (n, m)] {
        let mut rows: Vec<usize> = (offset..offset + len).collect();
        rows.shuffle(rng);
        let mut start = 0;
        for (f, fold) in folds.iter_mut().enumerate() {
            let size = len / k + usize::from(f < len % k);
            fold.extend_from_slice(&rows[start..start + size]);
            start += size;
        }
    }
    folds
}

/// The rows `index` of `x`, in that order.
fn select_rows(x: &DMatrix<f64>, index: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(index.len(), x.ncols(), |i, j| x[(index[i], j)])
}

/// Trains the classifier on the rows `train` of `x` as scikit-learn's `MLPClassifier` does:
/// epochs of shuffled consecutive minibatches, stopping after more than `patience` epochs whose
/// mean loss did not beat the best by `tol`, or after `max_epochs`. Returns the network, its
/// parameters and the number of epochs.
fn train_classifier<R: Rng + ?Sized>(
    x: &DMatrix<f64>,
    labels: &[f64],
    train: &[usize],
    hidden: usize,
    config: &C2stConfig,
    rng: &mut R,
) -> Result<(Mlp, Params<f64>, usize)> {
    let d = x.ncols();
    let mut params = Params::<f64>::new();
    let mlp_config = MlpConfig {
        init: Some(Init::Glorot),
        ..MlpConfig::new(&[d, hidden, hidden, 1], Activation::Relu)
    };
    let mlp = Mlp::new(&mut params, "c2st", &mlp_config, rng)?;
    // scikit-learn draws the biases from the weights' Glorot interval too (ours start at 0).
    for layer in mlp.layers() {
        let bound = (6.0 / (layer.fan_in() + layer.fan_out()) as f64).sqrt();
        params
            .get_mut(layer.bias())
            .iter_mut()
            .for_each(|v| *v = rng.random_range(-bound..bound));
    }
    let mut adam = Adam::<f64>::new(AdamConfig {
        lr: config.lr,
        ..AdamConfig::default()
    });
    let batch_size = config.batch_size.min(train.len());
    let mut order = train.to_vec();
    let mut best = f64::INFINITY;
    let mut stale = 0;
    let mut epochs = 0;
    while epochs < config.max_epochs {
        epochs += 1;
        order.shuffle(rng);
        let mut total = 0.0;
        for batch in order.chunks(batch_size) {
            let rows = batch.len() as f64;
            let tape = Tape::new();
            let p = params.bind(&tape);
            let z = mlp.forward(&p, tape.constant(select_rows(x, batch)))?;
            let y = tape.constant(DMatrix::from_fn(batch.len(), 1, |i, _| labels[batch[i]]));
            // Binary cross-entropy of the logit, −y ln σ(z) − (1 − y) ln(1 − σ(z)), written
            // without overflow.
            let mut loss = z.softplus().sub(z.mul(y)?)?.mean();
            for layer in mlp.layers() {
                let penalty = p.get(layer.weight()).square().sum();
                loss = loss.add(penalty.scale(0.5 * config.weight_decay / rows))?;
            }
            total += loss.item() * rows;
            let mut grads = tape.backward(loss)?;
            adam.step(&mut params, &p.gradients(&mut grads))?;
        }
        let epoch_loss = total / train.len() as f64;
        // scikit-learn's `_update_no_improvement_count` without a validation split.
        if epoch_loss > best - config.tol {
            stale += 1;
        } else {
            stale = 0;
        }
        best = best.min(epoch_loss);
        if stale > config.patience {
            break;
        }
    }
    Ok((mlp, params, epochs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::StandardNormal;

    /// `rows × d` draws of `N(shift · e₁, scale² I)`.
    fn gaussian(rows: usize, d: usize, shift: f64, scale: f64, rng: &mut StdRng) -> DMatrix<f64> {
        DMatrix::from_fn(rows, d, |_, j| {
            let z: f64 = rng.sample(StandardNormal);
            scale * z + if j == 0 { shift } else { 0.0 }
        })
    }

    #[test]
    fn same_distribution_is_near_chance() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = gaussian(500, 3, 0.0, 1.0, &mut rng);
        let b = gaussian(500, 3, 0.0, 1.0, &mut rng);
        let r = c2st(&a, &b, &C2stConfig::default(), &mut rng).unwrap();
        assert_eq!(r.fold_accuracies.len(), 5);
        assert!((0.4..=0.6).contains(&r.accuracy), "{r:?}");
    }

    /// N(0, I) against N(1.5 e₁, I): the best classifier thresholds x₁ at 0.75 and is right
    /// with probability Φ(0.75) ≈ 0.773, so a working C2ST lands a little below that.
    #[test]
    fn shifted_mean_is_detected() {
        let mut rng = StdRng::seed_from_u64(2);
        let a = gaussian(500, 2, 0.0, 1.0, &mut rng);
        let b = gaussian(500, 2, 1.5, 1.0, &mut rng);
        let r = c2st(&a, &b, &C2stConfig::default(), &mut rng).unwrap();
        assert!(r.accuracy > 0.7 && r.accuracy < 0.82, "{r:?}");
    }

    /// N(0, I) against N(0, I/4) in 2-D share their mean, so no linear classifier beats
    /// chance; the Bayes rule (label b inside ‖x‖² < ln 4 / 1.5) is right with probability
    /// (1 − e^{−1.85} + e^{−0.46}) / 2 ≈ 0.736; the MLP's estimate lands near it (within the
    /// ±0.03 scatter of 1000 held-out rows), a linear classifier's near 0.5.
    #[test]
    fn variance_mismatch_needs_the_hidden_layers() {
        let mut rng = StdRng::seed_from_u64(3);
        let a = gaussian(500, 2, 0.0, 1.0, &mut rng);
        let b = gaussian(500, 2, 0.0, 0.5, &mut rng);
        let r = c2st(&a, &b, &C2stConfig::default(), &mut rng).unwrap();
        assert!(r.accuracy > 0.65, "{r:?}");
    }

    #[test]
    fn fixed_seed_reproduces_the_result() {
        let mut rng = StdRng::seed_from_u64(4);
        let a = gaussian(60, 2, 0.0, 1.0, &mut rng);
        let b = gaussian(40, 2, 1.0, 1.0, &mut rng);
        let config = C2stConfig {
            max_epochs: 50,
            ..C2stConfig::default()
        };
        let run = |seed| c2st(&a, &b, &config, &mut StdRng::seed_from_u64(seed)).unwrap();
        let first = run(9);
        assert_eq!(first, run(9));
        assert_ne!(first.fold_accuracies, run(10).fold_accuracies);
        // Unequal sample sizes still give five stratified folds of 20 rows (12 + 8).
        assert_eq!(first.fold_accuracies.len(), 5);
        assert!(first.epochs.iter().all(|&e| (1..=50).contains(&e)));
        // f32 input is converted to f64 before anything else; the same draws follow.
        let a32 = a.map(|v| v as f32);
        let b32 = b.map(|v| v as f32);
        let r32 = c2st(&a32, &b32, &config, &mut StdRng::seed_from_u64(9)).unwrap();
        assert!(
            (r32.accuracy - first.accuracy).abs() < 0.05,
            "{r32:?} {first:?}"
        );
    }

    #[test]
    fn stratified_folds_partition_both_samples_evenly() {
        let mut rng = StdRng::seed_from_u64(5);
        let folds = stratified_folds(13, 7, 3, &mut rng);
        let mut all: Vec<usize> = folds.concat();
        all.sort_unstable();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        let from_a: Vec<usize> = folds
            .iter()
            .map(|f| f.iter().filter(|&&i| i < 13).count())
            .collect();
        assert_eq!(from_a, [5, 4, 4]);
        assert_eq!(folds.iter().map(Vec::len).collect::<Vec<_>>(), [8, 6, 6]);
    }

    #[test]
    fn constant_columns_are_centred_not_divided_by_zero() {
        let a = DMatrix::from_row_slice(3, 2, &[1.0, 5.0, 2.0, 5.0, 3.0, 5.0]);
        let (mean, scale) = standardisation(&a).unwrap();
        assert_eq!(mean, [2.0, 5.0]);
        assert_eq!(scale, [1.0, 1.0]);
        let huge = DMatrix::from_row_slice(2, 1, &[1e300, -1e300]);
        assert!(matches!(standardisation(&huge), Err(Error::Config(_))));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = StdRng::seed_from_u64(6);
        let a = gaussian(10, 2, 0.0, 1.0, &mut rng);
        let b = gaussian(10, 2, 0.0, 1.0, &mut rng);
        let ok = C2stConfig {
            max_epochs: 2,
            ..C2stConfig::default()
        };
        let run = |a: &DMatrix<f64>, b: &DMatrix<f64>, config: &C2stConfig| {
            c2st(a, b, config, &mut StdRng::seed_from_u64(0))
        };
        let message = |r: Result<C2stResult>| match r {
            Err(Error::Config(m)) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        };
        assert!(run(&a, &b, &ok).is_ok());
        assert!(message(run(&a, &gaussian(10, 3, 0.0, 1.0, &mut rng), &ok)).contains("width"));
        assert!(
            message(run(&DMatrix::zeros(10, 0), &DMatrix::zeros(10, 0), &ok)).contains("width")
        );
        assert!(message(run(&a, &b.rows(0, 4).into_owned(), &ok)).contains("sample b has 4 rows"));
        assert!(message(run(&a.rows(0, 4).into_owned(), &b, &ok)).contains("sample a has 4 rows"));
        let mut nan = b.clone();
        nan[(7, 1)] = f64::NAN;
        nan[(8, 0)] = f64::INFINITY;
        assert!(message(run(&a, &nan, &ok)).contains("sample b has a non-finite entry in row 7"));
        assert!(message(run(&nan, &a, &ok)).contains("sample a has a non-finite entry in row 7"));
        let bad_configs = [
            C2stConfig {
                folds: 1,
                ..ok.clone()
            },
            C2stConfig {
                hidden_factor: 0,
                ..ok.clone()
            },
            C2stConfig {
                max_epochs: 0,
                ..ok.clone()
            },
            C2stConfig {
                batch_size: 0,
                ..ok.clone()
            },
            C2stConfig {
                lr: 0.0,
                ..ok.clone()
            },
            C2stConfig {
                lr: f64::NAN,
                ..ok.clone()
            },
            C2stConfig {
                weight_decay: -1.0,
                ..ok.clone()
            },
            C2stConfig {
                tol: f64::INFINITY,
                ..ok.clone()
            },
        ];
        for config in &bad_configs {
            assert!(
                matches!(run(&a, &b, config), Err(Error::Config(_))),
                "{config:?}"
            );
        }
    }
}
