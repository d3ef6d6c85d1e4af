//! Inversion by gradient descent: `x̂ = argmin_x L(f(x), y)` from many starting points, with the
//! solutions that coincide grouped together.

use crate::{Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::optim::{Adam, AdamConfig, Optimizer};
use autodiff::{Float, ParamId, Params, Tape, Var};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Options of [`gradient_descent`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvertOptions {
    /// Maximum Adam steps per start. Default 2000.
    pub steps: usize,
    /// The optimiser on `x` ([`autodiff::optim::Adam`], one per start, so every start moves as
    /// if it were optimised alone). Default: PyTorch's Adam with learning rate 1e-2 (a start
    /// moves by about `lr` per step, and inputs are on the scale of a standardised table).
    pub adam: AdamConfig,
    /// A start has converged when its final loss is `≤ tol`. Default 1e-8 (for the MSE: the
    /// output within 1e-4 of the target).
    pub tol: f64,
    /// Stop updating a start as soon as its loss is `≤ tol`. Default `true`.
    pub stop_at_tol: bool,
    /// Converged solutions closer than this (Euclidean) are grouped into one cluster.
    /// Default 1e-2.
    pub cluster_eps: f64,
    /// Starts optimised together on one tape (each chunk runs on its own rayon task). The
    /// result does not depend on it as long as `f` maps rows independently. Default 1.
    pub chunk_size: usize,
}

impl Default for InvertOptions {
    fn default() -> Self {
        Self {
            steps: 2000,
            adam: AdamConfig {
                lr: 1e-2,
                ..AdamConfig::default()
            },
            tol: 1e-8,
            stop_at_tol: true,
            cluster_eps: 1e-2,
            chunk_size: 1,
        }
    }
}

impl InvertOptions {
    fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(format!("InvertOptions: {what}")));
        if self.steps == 0 || self.chunk_size == 0 {
            return bad("steps and chunk_size must be at least 1");
        }
        let a = &self.adam;
        if !(a.lr.is_finite() && a.lr > 0.0) {
            return bad("adam.lr must be positive");
        }
        if !((0.0..1.0).contains(&a.beta1) && (0.0..1.0).contains(&a.beta2)) {
            return bad("adam betas must be in [0, 1)");
        }
        if !(a.eps.is_finite() && a.eps > 0.0) {
            return bad("adam.eps must be positive");
        }
        if !(a.weight_decay.is_finite() && a.weight_decay >= 0.0) {
            return bad("adam.weight_decay must be finite and >= 0");
        }
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !(non_negative(self.tol) && non_negative(self.cluster_eps)) {
            return bad("tol and cluster_eps must be finite and >= 0");
        }
        Ok(())
    }
}

/// A group of converged solutions within `cluster_eps` of their representative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Cluster<T: Float> {
    /// The first solution of the group (in start order), `1 × d`.
    pub representative: DMatrix<T>,
    /// Indices of the starts whose solutions belong to the group.
    pub members: Vec<usize>,
}

impl<T: Float> Cluster<T> {
    /// Number of solutions in the group.
    pub fn count(&self) -> usize {
        self.members.len()
    }
}

/// The outcome of [`gradient_descent`]: one row per start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Inversion<T: Float> {
    /// Final points, `n_starts × d`, one per row.
    pub x: DMatrix<T>,
    /// Final loss of every start (`+∞` when the loss became non-finite and the start was stopped).
    pub loss: Vec<f64>,
    /// Whether the final loss is `≤ tol`.
    pub converged: Vec<bool>,
    /// Adam steps taken by every start.
    pub steps: Vec<usize>,
    /// The converged solutions grouped greedily in start order: a solution joins the first
    /// cluster whose representative is within `cluster_eps`, else it starts a new one; sorted
    /// by decreasing size (ties in order of appearance).
    pub clusters: Vec<Cluster<T>>,
}

impl<T: Float> Inversion<T> {
    /// Number of starts that converged.
    pub fn n_converged(&self) -> usize {
        self.converged.iter().filter(|&&c| c).count()
    }
}

/// The mean squared error per row, `mean_j (pred_ij − target_ij)²` (`n × 1`): the default loss.
pub fn mse_rows<'t, T: Float>(pred: Var<'t, T>, target: Var<'t, T>) -> Result<Var<'t, T>> {
    Ok(pred.sub(target)?.square().mean_cols())
}

/// Inverts `f` by gradient descent from every row of `starts`, with the MSE loss
/// ([`mse_rows`]); see [`gradient_descent_with_loss`].
///
/// ```
/// use inn::invert::{InvertOptions, gradient_descent};
/// use inn::autodiff::nalgebra::DMatrix;
/// // f(x) = x², target 4: the solutions are ±2.
/// let starts = DMatrix::from_column_slice(4, 1, &[-3.0, -0.5, 0.5, 3.0]);
/// let y = DMatrix::from_element(1, 1, 4.0);
/// let inv = gradient_descent(|_tape, x| Ok(x.square()), &y, &starts, &InvertOptions::default())?;
/// assert_eq!(inv.n_converged(), 4);
/// assert_eq!(inv.clusters.len(), 2);
/// # Ok::<(), inn::Error>(())
/// ```
///
/// # Errors
/// As [`gradient_descent_with_loss`].
pub fn gradient_descent<T, F>(
    f: F,
    y_target: &DMatrix<T>,
    starts: &DMatrix<T>,
    opts: &InvertOptions,
) -> Result<Inversion<T>>
where
    T: Float,
    F: for<'t> Fn(&'t Tape<T>, Var<'t, T>) -> Result<Var<'t, T>> + Sync,
{
    gradient_descent_with_loss(f, mse_rows, y_target, starts, opts)
}

/// Inverts `f: ℝ^d → ℝ^m` by gradient descent on the input: for every row `x₀` of `starts`
/// (`n × d`), Adam on `x` minimises `loss(f(x), y)` from `x₀`, where `y` is `y_target`
/// (`1 × m`, shared by every start, or `n × m`, one target per start).
///
/// `f` builds the network on a tape for a batch of rows (`k × d → k × m`) and must map rows
/// independently (an MLP does); `loss` returns one loss per row (`k × 1`). Chunks of
/// `opts.chunk_size` starts run in parallel (rayon), each on its own tape per step, so `f` and
/// `loss` must be `Sync` (close over a shared `Params` and `Mlp`, not over a tape). Every start
/// runs `opts.steps` steps, or stops once its loss is `≤ tol` when `stop_at_tol` is set; a
/// start whose loss or gradient becomes non-finite is stopped and reported with loss `+∞`.
///
/// # Errors
/// [`Error::Config`] for an empty or non-finite `starts` / `y_target`, widths or row counts
/// that do not fit, options out of range, or `f` / `loss` returning the wrong shape; errors
/// returned by `f` or `loss`.
pub fn gradient_descent_with_loss<T, F, L>(
    f: F,
    loss: L,
    y_target: &DMatrix<T>,
    starts: &DMatrix<T>,
    opts: &InvertOptions,
) -> Result<Inversion<T>>
where
    T: Float,
    F: for<'t> Fn(&'t Tape<T>, Var<'t, T>) -> Result<Var<'t, T>> + Sync,
    L: for<'t> Fn(Var<'t, T>, Var<'t, T>) -> Result<Var<'t, T>> + Sync,
{
    opts.validate()?;
    let (n, d) = starts.shape();
    let m = y_target.ncols();
    if n == 0 || d == 0 || m == 0 {
        return Err(Error::Config(format!(
            "gradient_descent: {n} x {d} starts, target width {m}: need rows and columns"
        )));
    }
    if y_target.nrows() != 1 && y_target.nrows() != n {
        return Err(Error::Config(format!(
            "gradient_descent: target has {} rows, expected 1 or {n}",
            y_target.nrows()
        )));
    }
    autodiff::check_finite("gradient_descent starts", starts)?;
    autodiff::check_finite("gradient_descent y_target", y_target)?;
    let chunks: Vec<(usize, usize)> = (0..n)
        .step_by(opts.chunk_size)
        .map(|s| (s, opts.chunk_size.min(n - s)))
        .collect();
    let results = chunks
        .par_iter()
        .map(|&(start, len)| {
            let x0 = starts.rows(start, len).into_owned();
            let target = if y_target.nrows() == 1 {
                DMatrix::from_fn(len, m, |_, j| y_target[(0, j)])
            } else {
                y_target.rows(start, len).into_owned()
            };
            descend(&f, &loss, x0, &target, opts)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut x = DMatrix::zeros(n, d);
    let mut losses = Vec::with_capacity(n);
    let mut steps = Vec::with_capacity(n);
    for (&(start, len), chunk) in chunks.iter().zip(results) {
        x.rows_mut(start, len).copy_from(&chunk.x);
        losses.extend(chunk.loss);
        steps.extend(chunk.steps);
    }
    let converged: Vec<bool> = losses.iter().map(|&l| l <= opts.tol).collect();
    let clusters = cluster(&x, &converged, opts.cluster_eps);
    Ok(Inversion {
        x,
        loss: losses,
        converged,
        steps,
        clusters,
    })
}

/// One chunk's outcome.
struct ChunkResult<T: Float> {
    x: DMatrix<T>,
    loss: Vec<f64>,
    steps: Vec<usize>,
}

/// Per-row losses of `f` at `x` on `tape` (checked to be `k × 1`).
fn row_losses<'t, T, F, L>(
    f: &F,
    loss: &L,
    tape: &'t Tape<T>,
    x: Var<'t, T>,
    target: &DMatrix<T>,
) -> Result<Var<'t, T>>
where
    T: Float,
    F: for<'s> Fn(&'s Tape<T>, Var<'s, T>) -> Result<Var<'s, T>>,
    L: for<'s> Fn(Var<'s, T>, Var<'s, T>) -> Result<Var<'s, T>>,
{
    let pred = f(tape, x)?;
    if pred.shape() != target.shape() {
        return Err(Error::Config(format!(
            "gradient_descent: f maps {} rows to {:?}, the target is {:?}",
            x.nrows(),
            pred.shape(),
            target.shape()
        )));
    }
    let l = loss(pred, tape.constant(target.clone()))?;
    if l.shape() != (x.nrows(), 1) {
        return Err(Error::Config(format!(
            "gradient_descent: the loss returned {:?}, expected one value per row ({} x 1)",
            l.shape(),
            x.nrows()
        )));
    }
    Ok(l)
}

/// Adam on the rows of `x`, each row with its own loss and its own optimiser; rows stop
/// independently (a stopped row never moves again, so every running row's optimiser has taken
/// exactly as many steps as the loop).
fn descend<T, F, L>(
    f: &F,
    loss: &L,
    mut x: DMatrix<T>,
    target: &DMatrix<T>,
    opts: &InvertOptions,
) -> Result<ChunkResult<T>>
where
    T: Float,
    F: for<'s> Fn(&'s Tape<T>, Var<'s, T>) -> Result<Var<'s, T>>,
    L: for<'s> Fn(Var<'s, T>, Var<'s, T>) -> Result<Var<'s, T>>,
{
    let k = x.nrows();
    let mut rows: Vec<(Params<T>, ParamId, Adam<T>)> = (0..k)
        .map(|i| {
            let mut p = Params::new();
            let id = p.add("x", x.rows(i, 1).into_owned())?;
            Ok((p, id, Adam::new(opts.adam)))
        })
        .collect::<Result<_>>()?;
    let mut active = vec![true; k];
    let mut failed = vec![false; k];
    let mut steps = vec![0usize; k];
    for _ in 0..opts.steps {
        let tape = Tape::new();
        let xv = tape.var(x.clone());
        let per_row = row_losses(f, loss, &tape, xv, target)?;
        let values = per_row.to_matrix();
        for i in 0..k {
            let v = values[(i, 0)].to_f64();
            if !v.is_finite() {
                active[i] = false;
                failed[i] = true;
            } else if opts.stop_at_tol && v <= opts.tol {
                active[i] = false;
            }
        }
        if !active.iter().any(|&a| a) {
            break;
        }
        let grad = tape.backward(per_row.sum())?.wrt(xv);
        for (i, (params, id, adam)) in rows.iter_mut().enumerate() {
            if !active[i] {
                continue;
            }
            // A non-finite gradient is refused by the optimiser and stops this start only.
            if adam.step(params, &[grad.rows(i, 1).into_owned()]).is_err() {
                active[i] = false;
                failed[i] = true;
                continue;
            }
            x.set_row(i, &params.get(*id).row(0));
            steps[i] += 1;
        }
    }
    // The reported loss is evaluated at the returned point.
    let tape = Tape::no_grad();
    let final_losses = row_losses(f, loss, &tape, tape.constant(x.clone()), target)?.to_matrix();
    let loss = (0..k)
        .map(|i| {
            let v = final_losses[(i, 0)].to_f64();
            if failed[i] || !v.is_finite() {
                f64::INFINITY
            } else {
                v
            }
        })
        .collect();
    Ok(ChunkResult { x, loss, steps })
}

/// Greedy grouping of the converged rows of `x` (see [`Inversion::clusters`]).
fn cluster<T: Float>(x: &DMatrix<T>, converged: &[bool], eps: f64) -> Vec<Cluster<T>> {
    let mut clusters: Vec<Cluster<T>> = Vec::new();
    for (i, _) in converged.iter().enumerate().filter(|(_, c)| **c) {
        let row = x.row(i);
        let near = clusters.iter_mut().find(|c| {
            let d2: f64 = c
                .representative
                .iter()
                .zip(row.iter())
                .map(|(a, b)| (a.to_f64() - b.to_f64()).powi(2))
                .sum();
            d2.sqrt() <= eps
        });
        match near {
            Some(c) => c.members.push(i),
            None => clusters.push(Cluster {
                representative: DMatrix::from_iterator(1, row.len(), row.iter().copied()),
                members: vec![i],
            }),
        }
    }
    clusters.sort_by_key(|c| std::cmp::Reverse(c.count()));
    clusters
}

/// `n` starting points drawn uniformly from the box `[low_j, high_j)` (`n × d`, `d = low.len()`).
///
/// # Errors
/// [`Error::Config`] when the bounds differ in length, are empty, not finite, or `low_j ≥ high_j`.
pub fn uniform_starts<T: Float, R: Rng + ?Sized>(
    n: usize,
    low: &[f64],
    high: &[f64],
    rng: &mut R,
) -> Result<DMatrix<T>> {
    if low.is_empty() || low.len() != high.len() {
        return Err(Error::Config(format!(
            "uniform_starts: bounds of lengths {} and {}",
            low.len(),
            high.len()
        )));
    }
    let dists = low
        .iter()
        .zip(high)
        .enumerate()
        .map(|(j, (&a, &b))| {
            Uniform::new(a, b).map_err(|e| {
                Error::Config(format!(
                    "uniform_starts: bounds [{a}, {b}) of column {j}: {e}"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut x = DMatrix::zeros(n, low.len());
    for i in 0..n {
        for (j, u) in dists.iter().enumerate() {
            x[(i, j)] = T::of_f64(u.sample(rng));
        }
    }
    Ok(x)
}

/// `n` starting points from the Gaussian prior `N(mean, std² I)` (`n × d`, `d = mean.len()`).
///
/// # Errors
/// [`Error::Config`] for an empty or non-finite mean or a `std` that is not positive and finite.
pub fn normal_starts<T: Float, R: Rng + ?Sized>(
    n: usize,
    mean: &[f64],
    std: f64,
    rng: &mut R,
) -> Result<DMatrix<T>> {
    if mean.is_empty() || mean.iter().any(|m| !m.is_finite()) || !(std.is_finite() && std > 0.0) {
        return Err(Error::Config(format!(
            "normal_starts: mean of length {} (finite entries) and std > 0 required, got std {std}",
            mean.len()
        )));
    }
    let normal = Normal::new(0.0, std).map_err(|e| Error::Config(format!("normal_starts: {e}")))?;
    let mut x = DMatrix::zeros(n, mean.len());
    for i in 0..n {
        for (j, &mu) in mean.iter().enumerate() {
            x[(i, j)] = T::of_f64(mu + normal.sample(rng));
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodiff::Params;
    use autodiff::nn::{Activation, Mlp, MlpConfig};
    use autodiff::optim::{Adam, Optimizer};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn squared_norm<'t>(_tape: &'t Tape<f64>, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
        Ok(x.square().sum_cols())
    }

    #[test]
    fn recovers_the_level_set_of_the_true_function() {
        let mut rng = StdRng::seed_from_u64(1);
        let starts = uniform_starts::<f64, _>(64, &[-2.0, -2.0], &[2.0, 2.0], &mut rng).unwrap();
        let y = DMatrix::from_element(1, 1, 2.0);
        let opts = InvertOptions::default();
        let inv = gradient_descent(squared_norm, &y, &starts, &opts).unwrap();
        assert_eq!(inv.x.shape(), (64, 2));
        assert!(inv.n_converged() >= 60, "{} converged", inv.n_converged());
        for i in (0..64).filter(|&i| inv.converged[i]) {
            let r2 = inv.x.row(i).norm_squared();
            // loss = (‖x‖² − 2)² ≤ tol.
            assert!(
                (r2 - 2.0).abs() <= opts.tol.sqrt() * (1.0 + 1e-9),
                "start {i}: ‖x‖² = {r2}"
            );
        }
        // The solutions cover the whole circle: every 45° sector holds some.
        let mut sectors = [0usize; 8];
        for i in (0..64).filter(|&i| inv.converged[i]) {
            let angle = inv.x[(i, 1)].atan2(inv.x[(i, 0)]) + std::f64::consts::PI;
            sectors[((angle / std::f64::consts::FRAC_PI_4) as usize).min(7)] += 1;
        }
        assert!(sectors.iter().all(|&c| c > 0), "{sectors:?}");
        // Distinct starting angles give distinct solutions on the circle.
        assert!(inv.clusters.len() > 40);
        let total: usize = inv.clusters.iter().map(|c| c.count()).sum();
        assert_eq!(total, inv.n_converged());
        // Chunked evaluation gives the same answer.
        let chunked = gradient_descent(
            squared_norm,
            &y,
            &starts,
            &InvertOptions {
                chunk_size: 16,
                ..opts
            },
        )
        .unwrap();
        assert!((chunked.x - &inv.x).amax() < 1e-12);
    }

    #[test]
    fn isolated_solutions_are_clustered() {
        let starts = DMatrix::<f64>::from_column_slice(6, 1, &[-3.0, -1.0, -0.2, 0.7, 1.5, 4.0]);
        let y = DMatrix::from_element(1, 1, 4.0);
        let inv = gradient_descent(
            |_, x| Ok(x.square()),
            &y,
            &starts,
            &InvertOptions::default(),
        )
        .unwrap();
        assert_eq!(inv.n_converged(), 6);
        assert_eq!(inv.clusters.len(), 2);
        for c in &inv.clusters {
            assert_eq!(c.count(), 3);
            assert!((c.representative[(0, 0)].abs() - 2.0f64).abs() < 1e-4);
        }
        // Per-start targets: x² = 1, 9, … for each start.
        let targets = DMatrix::from_column_slice(6, 1, &[1.0, 1.0, 1.0, 9.0, 9.0, 9.0]);
        let inv = gradient_descent(
            |_, x| Ok(x.square()),
            &targets,
            &starts,
            &InvertOptions::default(),
        )
        .unwrap();
        assert_eq!(inv.n_converged(), 6);
        for i in 0..6 {
            assert!((inv.x[(i, 0)] * inv.x[(i, 0)] - targets[(i, 0)]).abs() < 1e-4f64);
        }
    }

    /// A trained MLP f ≈ ‖x‖²: every converged start lies on the level set of the true
    /// function up to the network's own error.
    #[test]
    fn recovers_the_level_set_through_a_trained_mlp() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut params = Params::<f64>::new();
        let net = Mlp::new(
            &mut params,
            "f",
            &MlpConfig::new(&[2, 32, 32, 1], Activation::Tanh),
            &mut rng,
        )
        .unwrap();
        let mut adam = Adam::with_lr(3e-3);
        for _ in 0..1500 {
            let x = uniform_starts::<f64, _>(128, &[-2.0, -2.0], &[2.0, 2.0], &mut rng).unwrap();
            let y = DMatrix::from_fn(128, 1, |i, _| x.row(i).norm_squared());
            let tape = Tape::new();
            let p = params.bind(&tape);
            let pred = net.forward(&p, tape.constant(x)).unwrap();
            let l = pred.sub(tape.constant(y)).unwrap().square().mean();
            let mut g = tape.backward(l).unwrap();
            adam.step(&mut params, &p.gradients(&mut g)).unwrap();
        }
        // The network's error on the target level set.
        let ring = DMatrix::from_fn(256, 2, |i, j| {
            let a = i as f64 / 256.0 * std::f64::consts::TAU;
            2f64.sqrt() * if j == 0 { a.cos() } else { a.sin() }
        });
        let model_error = net
            .eval(&params, &ring)
            .unwrap()
            .iter()
            .map(|v| (v - 2.0).abs())
            .fold(0.0, f64::max);
        assert!(
            model_error < 0.25,
            "MLP error on the level set {model_error}"
        );
        let starts = uniform_starts::<f64, _>(64, &[-1.8, -1.8], &[1.8, 1.8], &mut rng).unwrap();
        let y = DMatrix::from_element(1, 1, 2.0);
        let inv = gradient_descent(
            |tape, x| Ok(net.forward(&params.bind(tape), x)?),
            &y,
            &starts,
            &InvertOptions::default(),
        )
        .unwrap();
        assert!(inv.n_converged() >= 48, "{} converged", inv.n_converged());
        for i in (0..64).filter(|&i| inv.converged[i]) {
            let r2 = inv.x.row(i).norm_squared();
            // |f(x) − 2| ≤ 1e-4 and |f − ‖·‖²| is small near the level set.
            assert!(
                (r2 - 2.0).abs() < 2.0 * model_error + 1e-3,
                "start {i}: ‖x‖² = {r2}"
            );
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let y = DMatrix::from_element(1, 1, 2.0);
        let starts = DMatrix::from_element(3, 2, 0.5);
        let o = InvertOptions::default();
        assert!(gradient_descent(squared_norm, &y, &DMatrix::zeros(0, 2), &o).is_err());
        let mut nan = starts.clone();
        nan[(2, 0)] = f64::NAN;
        assert!(matches!(
            gradient_descent(squared_norm, &y, &nan, &o),
            Err(Error::Autodiff(autodiff::Error::NonFinite {
                row: 2,
                col: 0,
                ..
            }))
        ));
        assert!(gradient_descent(squared_norm, &DMatrix::zeros(2, 1), &starts, &o).is_err());
        // f returns two columns for a one-column target.
        assert!(matches!(
            gradient_descent(|_, x: Var<'_, f64>| Ok(x), &y, &starts, &o),
            Err(Error::Config(_))
        ));
        for bad in [
            InvertOptions {
                steps: 0,
                ..o.clone()
            },
            InvertOptions {
                adam: AdamConfig { lr: -1.0, ..o.adam },
                ..o.clone()
            },
            InvertOptions {
                chunk_size: 0,
                ..o.clone()
            },
            InvertOptions {
                tol: f64::NAN,
                ..o.clone()
            },
            InvertOptions {
                adam: AdamConfig {
                    beta1: 1.0,
                    ..o.adam
                },
                ..o.clone()
            },
        ] {
            assert!(matches!(
                gradient_descent(squared_norm, &y, &starts, &bad),
                Err(Error::Config(_))
            ));
        }
        let mut rng = StdRng::seed_from_u64(0);
        assert!(uniform_starts::<f64, _>(3, &[0.0], &[1.0, 2.0], &mut rng).is_err());
        assert!(uniform_starts::<f64, _>(3, &[1.0], &[1.0], &mut rng).is_err());
        assert!(normal_starts::<f64, _>(3, &[0.0], 0.0, &mut rng).is_err());
        assert_eq!(
            normal_starts::<f32, _>(5, &[0.0, 1.0], 0.5, &mut rng)
                .unwrap()
                .shape(),
            (5, 2)
        );
    }

    /// A start where the loss turns NaN is stopped and reported, not an error for the others.
    #[test]
    fn non_finite_losses_stop_that_start_only() {
        let starts = DMatrix::<f64>::from_column_slice(2, 1, &[-1.0, 3.0]);
        let y = DMatrix::from_element(1, 1, 1.0);
        // ln x: NaN for x < 0; the target ln x = 1 has the solution e.
        let inv = gradient_descent(
            |_, x: Var<'_, f64>| Ok(x.ln()),
            &y,
            &starts,
            &InvertOptions::default(),
        )
        .unwrap();
        assert_eq!(inv.loss[0], f64::INFINITY);
        assert!(!inv.converged[0] && inv.converged[1]);
        assert!((inv.x[(1, 0)] - std::f64::consts::E).abs() < 1e-3);
    }
}
