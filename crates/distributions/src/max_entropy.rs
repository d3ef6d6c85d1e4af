//! Maximum-entropy flows: train a flow to the maximum-entropy density under moment constraints.

use crate::density::standard_normal_matrix;
use crate::{Error, Result, StandardNormal};
use autodiff::nalgebra::DMatrix;
use autodiff::optim::AdamConfig;
use autodiff::train::{Batches, Minibatch, Objective, OptimConfig, Split, optimize};
use autodiff::{Bound, Float, Params, Tape, Var, lit};
use bijectors::Bijector;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// Options of [`MaxEntropy::fit`]; the defaults suit small flows in a few dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaxEntConfig {
    /// Outer augmented-Lagrangian rounds (multiplier and penalty updates). Default `12`.
    pub rounds: usize,
    /// Adam steps on the augmented Lagrangian per round. Default `200`.
    pub inner_steps: usize,
    /// Latent samples per step (≥ 2). Default `1024`.
    pub batch: usize,
    /// Fresh samples for the constraint estimate of each multiplier update and for the
    /// final report (≥ 2). Its standard error is the floor of the attainable violation.
    /// Default `32768`.
    pub eval_batch: usize,
    /// Adam learning rate. Default `1e-2`.
    pub lr: f64,
    /// Learning-rate factor applied after every round (1 keeps it constant). Default `0.8`.
    pub lr_decay: f64,
    /// Initial penalty weight `c₀ > 0`. Default `1`.
    pub penalty: f64,
    /// Penalty growth factor `β > 1`. Default `4`.
    pub growth: f64,
    /// Required decrease `γ ∈ (0, 1)`: the penalty grows when the violation did not fall below
    /// `γ` times its previous value. Default `0.25`.
    pub decrease: f64,
    /// Upper limit on the penalty weight. Default `20`: the stochastic gradient of the
    /// penalty has noise proportional to `c`, so beyond a moderate `c` the multipliers, not
    /// the penalty, should close the remaining gap.
    pub max_penalty: f64,
    /// Global gradient-norm clipping threshold (`None`: no clipping). Default `Some(10)`.
    pub clip: Option<f64>,
}

impl Default for MaxEntConfig {
    fn default() -> Self {
        Self {
            rounds: 12,
            inner_steps: 200,
            batch: 1024,
            eval_batch: 32_768,
            lr: 1e-2,
            lr_decay: 0.8,
            penalty: 1.0,
            growth: 4.0,
            decrease: 0.25,
            max_penalty: 20.0,
            clip: Some(10.0),
        }
    }
}

impl MaxEntConfig {
    fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(format!("MaxEntConfig: {what}")));
        if self.rounds == 0 || self.inner_steps == 0 {
            return bad("rounds and inner_steps must be >= 1");
        }
        if self.batch < 2 || self.eval_batch < 2 {
            return bad("batch and eval_batch must be >= 2");
        }
        if !(self.lr > 0.0 && self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return bad("need lr > 0 and 0 < lr_decay <= 1");
        }
        if !(self.penalty > 0.0 && self.growth > 1.0 && self.max_penalty >= self.penalty) {
            return bad("need penalty > 0, growth > 1, max_penalty >= penalty");
        }
        if !(self.decrease > 0.0 && self.decrease < 1.0) {
            return bad("decrease must lie in (0, 1)");
        }
        if self.clip.is_some_and(|c| c.is_nan() || c <= 0.0) {
            return bad("clip must be > 0");
        }
        Ok(())
    }
}

/// State after one outer round of [`MaxEntropy::fit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaxEntRound {
    /// Entropy estimate (nats) on the round's evaluation batch.
    pub entropy: f64,
    /// ‖Ê[T(x)] − b‖₂ on the round's evaluation batch.
    pub violation: f64,
    /// Penalty weight used during the round.
    pub penalty: f64,
}

/// What [`MaxEntropy::fit`] reached, measured on a fresh evaluation batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaxEntReport {
    /// Entropy estimate `H(p_Z) + mean ln|det ∂g/∂z|` in nats.
    pub entropy: f64,
    /// Monte-Carlo standard error of [`MaxEntReport::entropy`] (0 for a linear flow).
    pub entropy_std_error: f64,
    /// The constraint statistics `Ê[T(x)]`, one per constraint.
    pub moments: Vec<f64>,
    /// ‖Ê[T(x)] − b‖₂.
    pub violation: f64,
    /// Final Lagrange multipliers λ, one per constraint.
    pub lambda: Vec<f64>,
    /// Final penalty weight c.
    pub penalty: f64,
    /// One entry per outer round.
    pub history: Vec<MaxEntRound>,
}

/// Maximum-entropy flow networks (Loaiza-Ganem, Gao & Cunningham 2017, "Maximum Entropy Flow
/// Networks", ICLR): fit a flow so that its density `p` maximises the differential entropy
/// `H(p)` subject to moment constraints `E_p[T(x)] = b`.
///
/// The flow is a bijector `f` (data → latent, as in
/// [`TransformedDistribution`](crate::TransformedDistribution)) with a standard-normal base;
/// samples are `x = g(z) = f⁻¹(z)`, `z ~ N(0, I)`, and the entropy is exact up to one
/// expectation: `H(p) = H(p_Z) + E_z[ln|det ∂g/∂z|]`, with `H(p_Z) = (d/2) ln(2πe)`.
/// Writing `R = E[T(x)] − b`, each round `k` minimises the augmented Lagrangian
///
/// `L(θ; λ, c) = −H(p_θ) + λᵀR(θ) + (c/2)‖R(θ)‖²`
///
/// with [`MaxEntConfig::inner_steps`] Adam steps on reparametrised minibatches, then updates
/// `λ ← λ + c R̂` and, following the paper's Algorithm 1, `c ← β c` when
/// `‖R̂ₖ‖ > γ ‖R̂ₖ₋₁‖` (`β` = [`MaxEntConfig::growth`], `γ` = [`MaxEntConfig::decrease`]),
/// where `R̂` is measured on a fresh evaluation batch. Two details differ from a naive
/// implementation: the penalty uses the pairwise estimate `Û = mean_{i≠k} (T(xᵢ) − b)ᵀ(T(xₖ) − b)`,
/// whose expectation is exactly `‖R‖²` (the square of one batch mean is biased upwards by
/// `tr Cov(T) / n`, which would pull the fit towards lower entropy), and the
/// penalty does not grow once `‖R̂‖` is within two standard errors of zero, since the
/// evaluation batch cannot resolve a smaller violation.
///
/// ```
/// use distributions::{MaxEntConfig, MaxEntropy};
/// use autodiff::{Params, concat_cols};
/// # use autodiff::{Bound, Var, nalgebra::DMatrix};
/// # use bijectors::{Bijector, BlockSpec};
/// # /// x = e^s z + m in 1-D: trainable scale and shift.
/// # #[derive(Debug)] struct Affine { s: autodiff::ParamId, m: autodiff::ParamId }
/// # impl Bijector<f64> for Affine {
/// #     fn dim(&self) -> usize { 1 }
/// #     fn forward_unchecked<'t>(&self, p: &Bound<'t, f64>, x: Var<'t, f64>, _: Option<Var<'t, f64>>)
/// #         -> bijectors::Result<(Var<'t, f64>, Var<'t, f64>)> {
/// #         let (s, m) = (p.get(self.s), p.get(self.m));
/// #         let ones = x.tape().constant(DMatrix::from_element(x.nrows(), 1, 1.0));
/// #         Ok((x.sub(m)?.mul(s.neg().exp())?, ones.mul(s.neg())?))
/// #     }
/// #     fn inverse_unchecked<'t>(&self, p: &Bound<'t, f64>, z: Var<'t, f64>, _: Option<Var<'t, f64>>)
/// #         -> bijectors::Result<(Var<'t, f64>, Var<'t, f64>)> {
/// #         let (s, m) = (p.get(self.s), p.get(self.m));
/// #         let ones = z.tape().constant(DMatrix::from_element(z.nrows(), 1, 1.0));
/// #         Ok((z.mul(s.exp())?.add(m)?, ones.mul(s)?))
/// #     }
/// #     fn spec(&self) -> bijectors::Result<BlockSpec> { BlockSpec::new("affine", &()) }
/// # }
/// use rand::SeedableRng;
/// let mut params = Params::<f64>::new();
/// let s = params.add("s", DMatrix::zeros(1, 1))?;
/// let m = params.add("m", DMatrix::zeros(1, 1))?;
/// let flow = Affine { s, m };
/// // E[x] = 1, E[x²] = 1.25: the maximum-entropy density is N(1, 0.25).
/// let maxent = MaxEntropy::new(
///     |x| concat_cols(&[x, x.square()]),
///     &[1.0, 1.25],
///     MaxEntConfig::default(),
/// )?;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let report = maxent.fit(&mut params, &flow, &mut rng)?;
/// let exact = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * 0.25).ln();
/// assert!((report.entropy - exact).abs() < 0.02 && report.violation < 0.05);
/// # Ok::<(), distributions::Error>(())
/// ```
pub struct MaxEntropy<T: Float, F> {
    constraints: F,
    targets: Vec<f64>,
    config: MaxEntConfig,
    scalar: PhantomData<T>,
}

impl<T: Float, F> std::fmt::Debug for MaxEntropy<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaxEntropy")
            .field("targets", &self.targets)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<T, F> MaxEntropy<T, F>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> autodiff::Result<Var<'t, T>> + Sync,
{
    /// A problem with constraint statistics `T` (a map from a batch `n × d` to `n × m`, one
    /// statistic per column, built from differentiable `Var` operations) and targets `b`
    /// (`m` finite values).
    pub fn new(constraints: F, targets: &[f64], config: MaxEntConfig) -> Result<Self> {
        config.validate()?;
        if targets.is_empty() {
            return Err(Error::Config("MaxEntropy needs at least one target".into()));
        }
        if let Some(j) = targets.iter().position(|b| !b.is_finite()) {
            return Err(Error::Config(format!(
                "MaxEntropy target {j} is not finite"
            )));
        }
        Ok(Self {
            constraints,
            targets: targets.to_vec(),
            config,
            scalar: PhantomData,
        })
    }

    /// The targets `b`.
    pub fn targets(&self) -> &[f64] {
        &self.targets
    }

    /// The options.
    pub fn config(&self) -> &MaxEntConfig {
        &self.config
    }

    /// Trains the parameters of `bijector` (data → latent, unconditional) in `params` so that
    /// `x = f⁻¹(z)`, `z ~ N(0, I)`, approaches the maximum-entropy density under the
    /// constraints; returns the final estimates. A fit that leaves the constraints violated
    /// is not an error: read [`MaxEntReport::violation`].
    ///
    /// Each round runs [`MaxEntConfig::inner_steps`] steps of the shared training loop
    /// ([`autodiff::train::optimize`], a fresh Adam at the round's rate) on the round's
    /// augmented Lagrangian. A step with a non-finite value ends the fit with an error, the
    /// parameters restored to the last ones that gave a finite loss.
    pub fn fit<R: Rng + ?Sized>(
        &self,
        params: &mut Params<T>,
        bijector: &dyn Bijector<T>,
        rng: &mut R,
    ) -> Result<MaxEntReport> {
        if bijector.cond_dim() != 0 {
            return Err(Error::Config(
                "MaxEntropy fits unconditional flows only".into(),
            ));
        }
        let cfg = self.config;
        let d = bijector.dim();
        let m = self.targets.len();
        let base_entropy = StandardNormal::new(d)?.entropy();
        let mut lambda = vec![0.0; m];
        let mut penalty = cfg.penalty;
        let mut lr = cfg.lr;
        let mut previous = self.evaluate(params, bijector, base_entropy, rng)?;
        let mut history = Vec::with_capacity(cfg.rounds);
        for round in 0..cfg.rounds {
            let lagrangian = Lagrangian {
                problem: self,
                bijector,
                lambda: &lambda,
                penalty,
            };
            let optim = OptimConfig {
                steps: cfg.inner_steps,
                adam: AdamConfig {
                    lr,
                    ..AdamConfig::default()
                },
                clip_norm: cfg.clip,
                patience: None,
                plateau: None,
                progress: false,
                ..OptimConfig::default()
            };
            let batches = Batches {
                rows: &[],
                batch_size: cfg.batch,
            };
            optimize(params, &optim, &lagrangian, batches, rng, None).map_err(|e| match e {
                Error::Autodiff(autodiff::Error::Diverged { step, .. }) => {
                    Error::MaxEntropy(format!("non-finite loss at round {round}, step {step}"))
                }
                other => other,
            })?;
            let current = self.evaluate(params, bijector, base_entropy, rng)?;
            history.push(MaxEntRound {
                entropy: current.entropy,
                violation: current.violation,
                penalty,
            });
            for (l, r) in lambda.iter_mut().zip(&current.residual) {
                *l += penalty * r;
            }
            let resolvable = current.violation > 2.0 * current.residual_std_error;
            if resolvable && current.violation > cfg.decrease * previous.violation {
                penalty = (penalty * cfg.growth).min(cfg.max_penalty);
            }
            lr *= cfg.lr_decay;
            previous = current;
        }
        let last = self.evaluate(params, bijector, base_entropy, rng)?;
        Ok(MaxEntReport {
            entropy: last.entropy,
            entropy_std_error: last.entropy_std_error,
            moments: last.moments,
            violation: last.violation,
            lambda,
            penalty,
            history,
        })
    }

    /// The statistics `T(x)` of a batch, checked to be `n × m`.
    fn statistics<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let t = (self.constraints)(x)?;
        if t.shape() != (x.nrows(), self.targets.len()) {
            return Err(Error::MaxEntropy(format!(
                "the constraint function returned {} x {} for a batch of {} rows and {} targets",
                t.nrows(),
                t.ncols(),
                x.nrows(),
                self.targets.len()
            )));
        }
        Ok(t)
    }

    /// Entropy, moments and constraint residual on a fresh evaluation batch.
    fn evaluate(
        &self,
        params: &Params<T>,
        bijector: &dyn Bijector<T>,
        base_entropy: f64,
        rng: &mut (impl Rng + ?Sized),
    ) -> Result<Evaluation> {
        let n = self.config.eval_batch;
        let z = standard_normal_matrix::<T, _>(n, bijector.dim(), rng);
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let (x, log_det) = bijector.inverse(&p, tape.constant(z))?;
        let t = self.statistics(x)?.to_matrix();
        let (ld_mean, ld_se) = mean_and_std_error(log_det.value().column(0).iter());
        let mut moments = Vec::with_capacity(t.ncols());
        let mut residual = Vec::with_capacity(t.ncols());
        let mut var_sum = 0.0;
        for (j, b) in self.targets.iter().enumerate() {
            let (mean, se) = mean_and_std_error(t.column(j).iter());
            moments.push(mean);
            residual.push(mean - b);
            var_sum += se * se;
        }
        let violation = residual.iter().map(|r| r * r).sum::<f64>().sqrt();
        if !(violation.is_finite() && ld_mean.is_finite()) {
            return Err(Error::MaxEntropy(
                "the flow's samples or log-determinants are not finite".into(),
            ));
        }
        Ok(Evaluation {
            entropy: base_entropy + ld_mean,
            entropy_std_error: ld_se,
            moments,
            residual,
            violation,
            residual_std_error: var_sum.sqrt(),
        })
    }
}

/// One round's augmented Lagrangian `−mean ln|det ∂g/∂z| + λᵀR̂ + (c/2) Û` on a batch of latent
/// draws `z ~ N(0, I)` pushed through the inverse, with `Û` the pairwise (U-statistic)
/// estimate of `‖R‖²` (the constant `H(p_Z)` dropped).
struct Lagrangian<'a, T: Float, F> {
    problem: &'a MaxEntropy<T, F>,
    bijector: &'a dyn Bijector<T>,
    lambda: &'a [f64],
    penalty: f64,
}

impl<T, F> Objective<T> for Lagrangian<'_, T, F>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> autodiff::Result<Var<'t, T>> + Sync,
{
    type Error = Error;

    /// `data` is `[z]` (`n × d`).
    fn loss<'t>(
        &self,
        tape: &'t Tape<T>,
        p: &Bound<'t, T>,
        batch: &Minibatch<'_, T>,
    ) -> Result<Var<'t, T>> {
        let z = tape.constant(batch.data[0].clone());
        let (n, m) = (z.nrows(), self.problem.targets.len());
        let (x, log_det) = self.bijector.inverse(p, z)?;
        let t = self.problem.statistics(x)?;
        let b = tape.constant(DMatrix::from_fn(1, m, |_, j| lit(self.problem.targets[j])));
        let lam = tape.constant(DMatrix::from_fn(1, m, |_, j| lit(self.lambda[j])));
        // Per-sample residuals Dᵢ = T(xᵢ) − b, their sum S, and the U-statistic
        // (‖S‖² − Σᵢ‖Dᵢ‖²) / (n(n−1)) = mean over pairs i ≠ k of DᵢᵀDₖ, unbiased for ‖R‖².
        let residuals = t.sub(b)?;
        let total = residuals.sum_rows();
        let r = total.scale(lit(1.0 / n as f64));
        let pairs = total
            .square()
            .sum()
            .sub(residuals.square().sum())?
            .scale(lit(1.0 / (n as f64 * (n as f64 - 1.0))));
        Ok(log_det
            .mean()
            .neg()
            .add(r.mul(lam)?.sum())?
            .add(pairs.scale(lit(0.5 * self.penalty)))?)
    }

    fn noise<R: Rng + ?Sized>(&self, rows: usize, rng: &mut R) -> Vec<DMatrix<T>> {
        vec![standard_normal_matrix(rows, self.bijector.dim(), rng)]
    }

    /// The pairwise penalty couples all rows: the batch is not split.
    fn split(&self, _step: usize) -> Split {
        Split::Terms {
            whole: vec![0],
            row_means: Vec::new(),
        }
    }
}

/// Estimates on one evaluation batch.
struct Evaluation {
    entropy: f64,
    entropy_std_error: f64,
    moments: Vec<f64>,
    residual: Vec<f64>,
    violation: f64,
    /// Standard error of the residual vector's norm under the null (root of summed variances).
    residual_std_error: f64,
}

/// Sample mean and its standard error `s / √n` (in f64).
fn mean_and_std_error<'a, T: Float>(values: impl Iterator<Item = &'a T>) -> (f64, f64) {
    let v: Vec<f64> = values.map(|x| x.to_f64()).collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::sample_moments;
    use crate::test_flows::{ConditionalAffine, ElementwiseAffine, Triangular2};
    use crate::{Density, TransformedDistribution};
    use autodiff::concat_cols;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::f64::consts::{E, PI};

    /// Differential entropy of N(μ, σ²) in nats.
    fn normal_entropy(sigma: f64) -> f64 {
        0.5 * (2.0 * PI * E * sigma * sigma).ln()
    }

    /// Mean and variance constraints per coordinate: columns `x` then `x²`.
    fn first_two_moments<'t>(x: Var<'t, f64>) -> autodiff::Result<Var<'t, f64>> {
        concat_cols(&[x, x.square()])
    }

    #[test]
    fn one_dimensional_mean_and_variance_give_the_normal() {
        let (mu, sigma) = (1.5, 0.7);
        let mut params = Params::new();
        let flow = ElementwiseAffine::new(&mut params, &[0.0], &[0.0]);
        let maxent = MaxEntropy::new(
            first_two_moments,
            &[mu, sigma * sigma + mu * mu],
            MaxEntConfig::default(),
        )
        .unwrap();
        let mut rng = StdRng::seed_from_u64(40);
        let report = maxent.fit(&mut params, &flow, &mut rng).unwrap();
        let dist =
            TransformedDistribution::new(Box::new(StandardNormal::new(1).unwrap()), Box::new(flow))
                .unwrap();
        let x = dist.sample(&params, 20_000, &mut rng).unwrap();
        let (mean, cov) = sample_moments(&x).unwrap();
        assert!((mean[0] - mu).abs() < 0.02 * mu, "mean {}", mean[0]);
        assert!(
            (cov[(0, 0)] - sigma * sigma).abs() < 0.03 * sigma * sigma,
            "var {}",
            cov[(0, 0)]
        );
        assert!(
            (report.entropy - normal_entropy(sigma)).abs() < 0.02,
            "{}",
            report.entropy
        );
        assert!(
            report.history[0].violation > 10.0 * report.violation,
            "{:?}",
            report.history
        );
    }

    #[test]
    fn marginal_constraints_leave_no_correlation() {
        // Only the marginal means and variances are constrained; the flow starts strongly
        // correlated, and maximum entropy must remove the correlation.
        let (mu, sigma): ([f64; 2], [f64; 2]) = ([1.0, -0.5], [0.5, 2.0]);
        let mut params = Params::new();
        let flow = Triangular2::new(&mut params, [0.0, 0.0], 1.5, [0.0, 0.0]);
        let targets = [
            mu[0],
            mu[1],
            sigma[0].powi(2) + mu[0].powi(2),
            sigma[1].powi(2) + mu[1].powi(2),
        ];
        let config = MaxEntConfig {
            rounds: 25,
            inner_steps: 300,
            lr: 2e-2,
            lr_decay: 0.85,
            ..MaxEntConfig::default()
        };
        let maxent = MaxEntropy::new(first_two_moments, &targets, config).unwrap();
        let mut rng = StdRng::seed_from_u64(41);
        let report = maxent.fit(&mut params, &flow, &mut rng).unwrap();
        let (m, c) = flow.mean_and_cov(&params);
        for j in 0..2 {
            assert!((m[j] - mu[j]).abs() < 0.02 * sigma[j], "mean {m:?}");
            assert!(
                (c[j][j] - sigma[j].powi(2)).abs() < 0.03 * sigma[j].powi(2),
                "cov {c:?}"
            );
        }
        let correlation = c[0][1] / (c[0][0] * c[1][1]).sqrt();
        assert!(correlation.abs() < 0.03, "correlation {correlation}");
        let exact = normal_entropy(sigma[0]) + normal_entropy(sigma[1]);
        assert!(
            (report.entropy - exact).abs() < 0.03,
            "{} vs {exact}",
            report.entropy
        );
    }

    #[test]
    fn bad_configurations_and_constraints_are_errors() {
        let ok = MaxEntConfig::default();
        for bad in [
            MaxEntConfig { batch: 1, ..ok },
            MaxEntConfig { rounds: 0, ..ok },
            MaxEntConfig { growth: 1.0, ..ok },
            MaxEntConfig {
                decrease: 1.0,
                ..ok
            },
            MaxEntConfig { lr: -1.0, ..ok },
            MaxEntConfig {
                clip: Some(0.0),
                ..ok
            },
        ] {
            assert!(matches!(
                MaxEntropy::new(first_two_moments, &[0.0, 1.0], bad),
                Err(Error::Config(_))
            ));
        }
        assert!(matches!(
            MaxEntropy::new(first_two_moments, &[0.0, f64::NAN], ok),
            Err(Error::Config(_))
        ));
        // Two targets but the constraint function returns one column.
        let maxent = MaxEntropy::new(|x: Var<'_, f64>| Ok(x), &[0.0, 1.0], ok).unwrap();
        let mut params = Params::new();
        let flow = ElementwiseAffine::new(&mut params, &[0.0], &[0.0]);
        let mut rng = StdRng::seed_from_u64(0);
        assert!(matches!(
            maxent.fit(&mut params, &flow, &mut rng),
            Err(Error::MaxEntropy(_))
        ));
        let mut params = Params::new();
        let flow = ConditionalAffine::new(&mut params, DMatrix::zeros(1, 1), DMatrix::zeros(1, 1));
        assert!(matches!(
            maxent.fit(&mut params, &flow, &mut rng),
            Err(Error::Config(_))
        ));
    }
}
