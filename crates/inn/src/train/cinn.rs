//! The conditional invertible neural network (cINN) of Ardizzone et al. 2019 ("Guided Image
//! Generation with Conditional Invertible Neural Networks"): couplings whose subnets also read
//! the observation `y`, trained by maximum likelihood of `z = f(x; y)` under N(0, I).

use super::defaults::{non_negative, paper_optim, paper_stack, sized_stack, upgrade_config};
use super::holdout::{PairNames, check_pairs, chunked_mean, fit_holding_out, probe_rows};
use super::{OptimConfig, TrainReport};
use crate::network::{Network, decode_model};
use crate::posterior::{PosteriorSampler, per_observation, standard_normal};
use crate::summary::{SummaryConfig, SummaryNet};
use crate::{Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::train::{Batches, Minibatch, Objective, optimize};
use autodiff::{Bound, Float, Params, Tape, Var, lit};
use bijectors::{Bijector, Chain, StackConfig, check_batch};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Options of a [`ConditionalInn`]: the coupling stack, noise on `y`, minibatch and optimiser.
/// The defaults mirror the INN's eight-modes toy settings ([`super::InnConfig`]): the stack of
/// [`paper_stack`] (8 GLOW-style couplings with subnets `in → 512 → ReLU → out`, the input
/// being the coupling half followed by `y`), batch 1600, 400 steps of the paper's Adam
/// ([`paper_optim`]), no noise on `y`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CinnConfig {
    /// The coupling stack (written flat into model files). Its `dim`, `cond_dim` and `name` are
    /// set by [`ConditionalInn::new`] from the widths of the problem.
    #[serde(flatten)]
    pub stack: StackConfig,
    /// Standard deviation of Gaussian noise added to the condition `y` of every training
    /// batch (0: none; `inn fit --y-noise`). A regulariser: the network cannot key on the exact
    /// `y` of its training rows, so its posterior varies smoothly with `y`; the price is that it
    /// learns `p(x | y + noise)`, wider than `p(x | y)` by that much observation noise — keep it
    /// well below the real noise of `y`. Not applied to validation rows. Default 0.
    pub y_noise: f64,
    /// Minibatch size (rows drawn with replacement from the training set). Default 1600.
    pub batch_size: usize,
    /// The optimisation loop: steps, Adam, schedule, clipping.
    pub optim: OptimConfig,
    /// A summary network `h(y)` ([`SummaryNet`]) trained jointly with the flow, whose output
    /// is the condition of every coupling instead of the raw `y` (`inn fit --summary`).
    /// `None` (the default, and what files without the entry read): the couplings read `y`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<SummaryConfig>,
}

impl Default for CinnConfig {
    fn default() -> Self {
        Self {
            stack: paper_stack(),
            y_noise: 0.0,
            batch_size: 1600,
            optim: paper_optim(400),
            summary: None,
        }
    }
}

impl CinnConfig {
    fn validate(&self, x_dim: usize, y_dim: usize) -> Result<()> {
        if x_dim < 2 || y_dim == 0 {
            return Err(Error::Config(format!(
                "ConditionalInn: needs x_dim >= 2 (a coupling splits x) and y_dim >= 1, got {x_dim}, {y_dim}"
            )));
        }
        non_negative("y_noise", self.y_noise)?;
        if self.batch_size == 0 {
            return Err(Error::Config(
                "ConditionalInn: batch_size must be at least 1".into(),
            ));
        }
        if let Some(summary) = &self.summary {
            summary.validate(y_dim)?;
        }
        Ok(())
    }
}

/// A conditional normalizing flow `z = f(x; y)` for posteriors `p(x | y)`.
///
/// Every coupling subnet reads its half of `x` followed by the condition `y` (`n × y_dim`), so
/// `f(·; y)` is invertible for every `y`. With a summary network ([`CinnConfig::summary`]) the
/// condition is `h(y)` (`n × out_dim`) instead, computed once per batch and trained jointly
/// with the couplings; the network's condition width is then `out_dim`, while the model's
/// [`ConditionalInn::y_dim`] stays the width of the raw observation that every method takes. Training ([`ConditionalInn::fit`]) minimises the
/// negative log-likelihood per sample, up to the constant `(x_dim/2)·ln 2π`:
///
/// `L = mean_i(½‖f(xᵢ; yᵢ)‖² − log|det ∂f/∂x (xᵢ; yᵢ)|)`,
///
/// and the posterior is sampled as `x = f⁻¹(z; y)`, `z ~ N(0, I_{x_dim})`.
///
/// ```no_run
/// use inn::train::{CinnConfig, ConditionalInn};
/// use inn::data::{LabelMap, toy::eight_modes};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let data = eight_modes(20_000, LabelMap::Some, &mut rng);
/// let (x, y) = (data.x.cast::<f32>(), data.y_onehot.cast::<f32>());
/// let mut cinn = ConditionalInn::<f32>::new(CinnConfig::default(), 2, 8, &mut rng)?;
/// cinn.fit(&x, &y, &mut rng)?;
/// let samples = cinn.posterior(&y.rows(0, 1).into_owned(), 1000, &mut rng)?;
/// assert_eq!(samples[0].shape(), (1000, 2));
/// # Ok::<(), inn::Error>(())
/// ```
#[derive(Debug)]
pub struct ConditionalInn<T: Float = f32> {
    config: CinnConfig,
    x_dim: usize,
    y_dim: usize,
    /// The summary network (its parameters in `net`'s store, under `summary.*`).
    summary: Option<SummaryNet>,
    net: Network<T>,
}

crate::network::deref_to_network!(ConditionalInn);

/// What a model file records of a [`ConditionalInn`] besides its network.
#[derive(Serialize, Deserialize)]
struct CinnModel {
    config: CinnConfig,
    x_dim: usize,
    y_dim: usize,
    /// The summary network's description (parameter handles into the file's store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summary: Option<SummaryNet>,
}

/// The condition the couplings read for observations `y` (`n × y_dim`): `h(y)` with a
/// summary network, else `y` itself.
fn condition<T: Float>(
    summary: Option<&SummaryNet>,
    params: &Params<T>,
    y: DMatrix<T>,
) -> Result<DMatrix<T>> {
    match summary {
        Some(h) => h.apply(params, &y),
        None => Ok(y),
    }
}

/// Maximum likelihood on minibatches `[x, y]` (with noise on `y`), validated by the NLL of
/// held-out pairs.
struct CinnObjective<'a, T: Float> {
    flow: &'a dyn Bijector<T>,
    /// The summary network whose output conditions the flow (`None`: raw `y`).
    summary: Option<&'a SummaryNet>,
    y_noise: f64,
    y_dim: usize,
    /// Held-out `(x, y)` pairs.
    val: Option<(&'a DMatrix<T>, &'a DMatrix<T>)>,
    /// Training pairs scored by the validation metric ([`Objective::training_score`]).
    probe: (DMatrix<T>, DMatrix<T>),
}

impl<T: Float> CinnObjective<'_, T> {
    /// The mean NLL `−mean ln p(x | y)` (nats per row) of `(x, y)` pairs with candidate
    /// parameters `params`, chunk by chunk.
    fn mean_nll(&self, params: &Params<T>, x: &DMatrix<T>, y: &DMatrix<T>) -> Result<f64> {
        let constant = 0.5 * x.ncols() as f64 * (2.0 * std::f64::consts::PI).ln();
        let mean = chunked_mean(x.nrows(), |start, len| {
            let c = condition(self.summary, params, y.rows(start, len).into_owned())?;
            let (z, log_det) = self.flow.forward_matrix_with(
                params,
                &x.rows(start, len).into_owned(),
                Some(&c),
            )?;
            let sq: f64 = z.iter().map(|v| v.to_f64() * v.to_f64()).sum();
            let ld: f64 = log_det.iter().map(|v| v.to_f64()).sum();
            Ok(0.5 * sq - ld)
        })?;
        Ok(mean + constant)
    }
}

impl<T: Float> Objective<T> for CinnObjective<'_, T> {
    type Error = Error;

    /// `mean_i(½‖zᵢ‖² − log|det Jᵢ|)` of `z = f(x; y + ε)` (of `z = f(x; h(y + ε))` with a
    /// summary network, on the tape, so that its parameters get gradients through every
    /// coupling); `data` is `[x, y]` or `[x, y, ε]`.
    fn loss<'t>(
        &self,
        tape: &'t Tape<T>,
        params: &Bound<'t, T>,
        batch: &Minibatch<'_, T>,
    ) -> Result<Var<'t, T>> {
        let x = tape.constant(batch.data[0].clone());
        let mut y = batch.data[1].clone();
        if let Some(noise) = batch.data.get(2) {
            y += noise;
        }
        let y = tape.constant(y);
        let cond = match self.summary {
            Some(h) => h.forward(params, y)?,
            None => y,
        };
        let (z, log_det) = self.flow.forward_with(params, x, Some(cond))?;
        let nll = z.square().sum_cols().scale(lit(0.5)).sub(log_det)?.mean();
        Ok(nll.scale(lit(batch.part.weight)))
    }

    /// N(0, y_noise²) on every observation of the minibatch (nothing when `y_noise` is 0).
    fn noise<R: Rng + ?Sized>(&self, rows: usize, rng: &mut R) -> Vec<DMatrix<T>> {
        if self.y_noise > 0.0 {
            let mut noise = standard_normal::<T, R>(rows, self.y_dim, rng);
            noise *= T::of_f64(self.y_noise);
            vec![noise]
        } else {
            Vec::new()
        }
    }

    /// The mean NLL of the held-out pairs (without noise on `y`).
    fn validation(&self, params: &Params<T>) -> Result<Option<f64>> {
        self.val
            .map(|(x, y)| self.mean_nll(params, x, y))
            .transpose()
    }

    fn training_score(&self, params: &Params<T>) -> Result<Option<f64>> {
        match self.val {
            Some(_) => Ok(Some(self.mean_nll(params, &self.probe.0, &self.probe.1)?)),
            None => Ok(None),
        }
    }
}

/// The names of the training and validation batches in errors.
const FIT_NAMES: PairNames = [
    "ConditionalInn::fit x",
    "ConditionalInn::fit y",
    "ConditionalInn::fit validation x",
    "ConditionalInn::fit validation y",
];

impl<T: Float> ConditionalInn<T> {
    /// The model-file kind.
    pub const KIND: &'static str = "cinn";

    /// A fresh network for `x ∈ ℝ^x_dim` (`x_dim ≥ 2`) conditioned on `y ∈ ℝ^y_dim`, weights and
    /// permutations drawn from `rng`.
    ///
    /// # Errors
    /// [`Error::Config`] for widths or options out of range.
    pub fn new<R: Rng + ?Sized>(
        config: CinnConfig,
        x_dim: usize,
        y_dim: usize,
        rng: &mut R,
    ) -> Result<Self> {
        config.validate(x_dim, y_dim)?;
        let mut params = Params::new();
        let summary = config
            .summary
            .as_ref()
            .map(|s| SummaryNet::new(&mut params, "summary", s, y_dim, rng))
            .transpose()?;
        let cond_dim = summary.as_ref().map_or(y_dim, SummaryNet::out_dim);
        let config = CinnConfig {
            stack: sized_stack(&config.stack, x_dim, cond_dim, Self::KIND),
            ..config
        };
        let flow = Chain::coupling_stack(&mut params, &config.stack, rng)?;
        Ok(Self {
            config,
            x_dim,
            y_dim,
            summary,
            net: Network::new(Box::new(flow), params)?,
        })
    }

    /// The options (with the stack's widths filled in).
    pub fn config(&self) -> &CinnConfig {
        &self.config
    }
    /// Width of `x`.
    pub fn x_dim(&self) -> usize {
        self.x_dim
    }
    /// Width of the observation `y` (of the network's condition without a summary network).
    pub fn y_dim(&self) -> usize {
        self.y_dim
    }
    /// The summary network, if the model has one ([`CinnConfig::summary`]).
    pub fn summary(&self) -> Option<&SummaryNet> {
        self.summary.as_ref()
    }
    /// The condition the couplings read for observations `y` (`n × y_dim`): `h(y)`
    /// (`n × out_dim`) with a summary network, else `y` itself — what [`Network::log_prob`]
    /// and [`Network::sample`] of this model's network take.
    ///
    /// # Errors
    /// Wrong width, an empty batch or non-finite entries ([`Error::Bijector`]).
    pub fn condition(&self, y: &DMatrix<T>) -> Result<DMatrix<T>> {
        check_batch("ConditionalInn::condition y", y, self.y_dim)?;
        condition(self.summary.as_ref(), self.net.params(), y.clone())
    }

    /// Trains on `x` (`n × x_dim`) with conditions `y` (`n × y_dim`), one sample per row, by
    /// maximum likelihood in the shared loop ([`optimize`]), holding out
    /// `config.optim.val_fraction` of the rows (after a shuffle with `rng`) for validation; the
    /// best validated parameters are kept.
    ///
    /// # Errors
    /// Wrong widths, an empty set, non-finite entries, a row-count mismatch; [`Error::Diverged`].
    pub fn fit<R: Rng + ?Sized>(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        rng: &mut R,
    ) -> Result<TrainReport> {
        let dims = (self.x_dim, self.y_dim);
        let val_fraction = self.config.optim.val_fraction;
        fit_holding_out(
            FIT_NAMES,
            (x, y),
            dims,
            val_fraction,
            rng,
            |x, y, val, rng| self.fit_with_validation(x, y, val, rng),
        )
    }

    /// Trains on the pairs `(x, y)` and validates on the held-out pairs `val` (same widths;
    /// `None`: no validation, `config.optim.val_fraction` is ignored).
    ///
    /// # Errors
    /// As [`ConditionalInn::fit`].
    pub fn fit_with_validation<R: Rng + ?Sized>(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        val: Option<(&DMatrix<T>, &DMatrix<T>)>,
        rng: &mut R,
    ) -> Result<TrainReport> {
        check_pairs(FIT_NAMES, (x, y), val, (self.x_dim, self.y_dim))?;
        let probe = probe_rows(x.nrows(), val.map_or(0, |(xv, _)| xv.nrows()));
        let (params, flow) = self.net.parts_mut();
        let objective = CinnObjective {
            flow,
            summary: self.summary.as_ref(),
            y_noise: self.config.y_noise,
            y_dim: self.y_dim,
            val,
            probe: (x.select_rows(probe.iter()), y.select_rows(probe.iter())),
        };
        let batches = Batches {
            rows: &[x, y],
            batch_size: self.config.batch_size,
        };
        let report = optimize(params, &self.config.optim, &objective, batches, rng, None)?;
        self.net
            .record_training(&report, "conditional_maximum_likelihood");
        Ok(report)
    }

    /// The log-density `log p(x | y) = −½‖z‖² − (x_dim/2)·ln 2π + log|det ∂f/∂x|` per row
    /// (`n × 1`) for `x` (`n × x_dim`) and `y` (`n × y_dim`).
    ///
    /// # Errors
    /// Wrong widths, row counts, an empty batch or non-finite entries ([`Error::Bijector`]).
    pub fn log_prob(&self, x: &DMatrix<T>, y: &DMatrix<T>) -> Result<DMatrix<T>> {
        check_batch("ConditionalInn::log_prob x", x, self.x_dim)?;
        bijectors::check_cond("ConditionalInn::log_prob y", Some(y), self.y_dim, x.nrows())?;
        let c = condition(self.summary.as_ref(), self.net.params(), y.clone())?;
        self.net.log_prob(x, Some(&c))
    }

    /// `n_per_obs` posterior samples `x = f⁻¹(z; y)`, `z ~ N(0, I)`, for every row `y` of
    /// `y_obs` (`m × y_dim`): `m` matrices `n_per_obs × x_dim`, drawn observation by observation
    /// (a summary network runs once per observation).
    ///
    /// # Errors
    /// See [`PosteriorSampler::posterior`].
    pub fn posterior<R: Rng + ?Sized>(
        &self,
        y_obs: &DMatrix<T>,
        n_per_obs: usize,
        rng: &mut R,
    ) -> Result<Vec<DMatrix<T>>> {
        let what = "ConditionalInn::posterior y_obs";
        let Some(summary) = &self.summary else {
            return per_observation(what, y_obs, self.y_dim, n_per_obs, rng, |y, rng| {
                Ok(self.net.sample(n_per_obs, Some(y), rng)?.0)
            });
        };
        check_batch(what, y_obs, self.y_dim)?;
        let h = summary.apply(self.net.params(), y_obs)?;
        per_observation(what, &h, h.ncols(), n_per_obs, rng, |c, rng| {
            Ok(self.net.sample(n_per_obs, Some(c), rng)?.0)
        })
    }

    /// Writes the model (with its [`Network::metadata`]) as a model file of kind
    /// [`ConditionalInn::KIND`].
    ///
    /// # Errors
    /// [`Error::Model`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let model = CinnModel {
            config: self.config.clone(),
            x_dim: self.x_dim,
            y_dim: self.y_dim,
            summary: self.summary.clone(),
        };
        self.net.save(path, Self::KIND, &model)
    }

    /// Reads a model written by [`ConditionalInn::save`] (or by an earlier release) with the
    /// same scalar type. No random initialisation: the network is rebuilt from the file's
    /// description.
    ///
    /// # Errors
    /// [`Error::Model`] for a missing, corrupt or other-kind file, another scalar type, or
    /// contents that do not form this model.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let (net, mut model) = Network::load(path, Self::KIND)?;
        upgrade_config(&mut model["config"], net.dim(), net.cond_dim(), Self::KIND);
        let CinnModel {
            config,
            x_dim,
            y_dim,
            summary,
        } = decode_model(path, model)?;
        config.validate(x_dim, y_dim)?;
        let bad = |reason: String| Error::Model {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(h) = &summary {
            if config.summary.as_ref() != Some(h.config()) || h.in_dim() != y_dim {
                return Err(bad(
                    "the summary network does not match the model's configuration".into(),
                ));
            }
            h.check_params(net.params())
                .map_err(|e| bad(format!("summary network: {e}")))?;
        } else if config.summary.is_some() {
            return Err(bad(
                "the configuration names a summary network the file does not hold".into(),
            ));
        }
        let cond_dim = summary.as_ref().map_or(y_dim, SummaryNet::out_dim);
        net.expect_widths(path, x_dim, cond_dim)?;
        Ok(Self {
            config,
            x_dim,
            y_dim,
            summary,
            net,
        })
    }
}

impl<T: Float> PosteriorSampler<T> for ConditionalInn<T> {
    fn x_dim(&self) -> usize {
        self.x_dim
    }
    fn y_dim(&self) -> usize {
        self.y_dim
    }
    fn posterior<R: Rng + ?Sized>(
        &self,
        y_obs: &DMatrix<T>,
        n_per_obs: usize,
        rng: &mut R,
    ) -> Result<Vec<DMatrix<T>>> {
        ConditionalInn::posterior(self, y_obs, n_per_obs, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::LabelMap;
    use crate::data::toy::{EIGHT_MODES_SIGMA, eight_modes};
    use crate::param_check::assert_param_gradients;
    use autodiff::nn::{Activation, Init};
    use autodiff::{GradCheckOptions, grad_check};
    use bijectors::SubnetConfig;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn tiny() -> ConditionalInn<f64> {
        let config = CinnConfig {
            stack: StackConfig {
                blocks: 2,
                subnet: SubnetConfig {
                    hidden: vec![8],
                    activation: Activation::Tanh,
                    init: Some(Init::Normal(0.3)),
                    ..paper_stack().subnet
                },
                ..paper_stack()
            },
            batch_size: 6,
            optim: OptimConfig {
                progress: false,
                ..paper_optim(5)
            },
            ..CinnConfig::default()
        };
        ConditionalInn::new(config, 3, 2, &mut StdRng::seed_from_u64(1)).unwrap()
    }

    /// The training objective of `model` without held-out rows.
    fn objective<'a>(
        model: &'a ConditionalInn<f64>,
        y_noise: f64,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
    ) -> CinnObjective<'a, f64> {
        CinnObjective {
            flow: model.bijector(),
            summary: model.summary(),
            y_noise,
            y_dim: model.y_dim(),
            val: None,
            probe: (x.clone(), y.clone()),
        }
    }

    /// The objective's loss of the minibatch `[x, y]` as a whole, on `tape`.
    fn whole_batch_loss<'t>(
        model: &ConditionalInn<f64>,
        tape: &'t Tape<f64>,
        p: &Bound<'t, f64>,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
    ) -> Var<'t, f64> {
        let data = [x.clone(), y.clone()];
        let batch = Minibatch {
            data: &data,
            step: 0,
            part: autodiff::train::Part::WHOLE,
        };
        objective(model, 0.0, x, y).loss(tape, p, &batch).unwrap()
    }

    fn data(n: usize, seed: u64) -> (DMatrix<f64>, DMatrix<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        (
            standard_normal(n, 3, &mut rng),
            standard_normal(n, 2, &mut rng),
        )
    }

    /// Minibatch shards on the optimiser's parallel path give the one-tape loss and gradient
    /// (the same minibatch and y-noise draws from the same seed), for even and uneven splits.
    #[test]
    fn sharded_steps_match_one_tape() {
        use autodiff::train::step_gradients_for_threads;
        let model = tiny();
        let (x, y) = data(500, 4);
        let objective = objective(&model, 0.1, &x, &y);
        // Shards of at least 128 rows: two of 256 rows, three of 385.
        for (batch, parts) in [(256, 2), (385, 3)] {
            let mut rng = StdRng::seed_from_u64(21);
            let mut minibatch = vec![x.rows(0, batch).into_owned(), y.rows(0, batch).into_owned()];
            minibatch.extend(objective.noise(batch, &mut rng));
            let run = |threads: usize| {
                step_gradients_for_threads(model.params(), &objective, &minibatch, 0, threads)
                    .unwrap()
            };
            let (one, g1) = run(1);
            let (split, gs) = run(parts);
            assert_ne!(gs, g1, "the step was split");
            assert!(
                (one - split).abs() < 1e-12 * (1.0 + one.abs()),
                "{one} vs {split}"
            );
            for (a, b) in gs.iter().zip(&g1) {
                assert!(
                    (a - b).abs().max() < 1e-12 * (1.0 + b.abs().max()),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn loss_is_the_mean_negative_log_likelihood() {
        let model = tiny();
        let (x, y) = data(6, 2);
        let tape = Tape::no_grad();
        let p = model.params().bind(&tape);
        let loss = whole_batch_loss(&model, &tape, &p, &x, &y).item();
        let (z, ld) = model
            .bijector()
            .forward_matrix_with(model.params(), &x, Some(&y))
            .unwrap();
        let mut by_hand = 0.0;
        for i in 0..6 {
            let sq: f64 = (0..3).map(|j| z[(i, j)] * z[(i, j)]).sum();
            by_hand += 0.5 * sq - ld[(i, 0)];
        }
        by_hand /= 6.0;
        assert!((loss - by_hand).abs() < 1e-12, "{loss} vs {by_hand}");
        // log_prob adds the normalising constant and flips the sign.
        let lp = model.log_prob(&x, &y).unwrap();
        let constant = 1.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((-lp.mean() - constant - by_hand).abs() < 1e-12);
    }

    /// log_prob integrates to one: a Monte-Carlo check with a uniform proposal on a box that
    /// holds nearly all the mass of a 2-D cINN (at init the flow is close to the identity).
    #[test]
    fn log_prob_is_a_normalised_density() {
        let config = CinnConfig {
            stack: StackConfig {
                blocks: 2,
                subnet: SubnetConfig {
                    hidden: vec![8],
                    init: Some(Init::Normal(0.1)),
                    ..paper_stack().subnet
                },
                ..paper_stack()
            },
            ..CinnConfig::default()
        };
        let model =
            ConditionalInn::<f64>::new(config, 2, 1, &mut StdRng::seed_from_u64(3)).unwrap();
        let k = 200;
        let half = 7.0;
        let x = DMatrix::from_fn(k * k, 2, |i, j| {
            let idx = if j == 0 { i / k } else { i % k };
            -half + (idx as f64 + 0.5) * 2.0 * half / k as f64
        });
        let y = DMatrix::from_element(k * k, 1, 0.5);
        let lp = model.log_prob(&x, &y).unwrap();
        let cell = (2.0 * half / k as f64).powi(2);
        let mass: f64 = lp.iter().map(|v| v.exp() * cell).sum();
        assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
    }

    #[test]
    fn objective_gradients_match_finite_differences() {
        let model = tiny();
        let (x, y) = data(6, 4);
        let as_autodiff = |e: bijectors::Error| autodiff::Error::InvalidArgument {
            op: "cinn",
            reason: e.to_string(),
        };
        let report = grad_check(
            |tape, v| {
                let p = model.params().bind(tape);
                let (z, ld) = model
                    .bijector()
                    .forward_with(&p, v[0], Some(v[1]))
                    .map_err(as_autodiff)?;
                Ok(z.square().sum_cols().scale(0.5).sub(ld)?.mean())
            },
            &[x.clone(), y.clone()],
            GradCheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.entries, 30);
        let loss_at = |params: &Params<f64>| {
            let (z, ld) = model
                .bijector()
                .forward_matrix_with(params, &x, Some(&y))
                .unwrap();
            (0..6)
                .map(|i| 0.5 * z.row(i).norm_squared() - ld[(i, 0)])
                .sum::<f64>()
                / 6.0
        };
        let tape = Tape::new();
        let p = model.params().bind(&tape);
        let loss = whole_batch_loss(&model, &tape, &p, &x, &y);
        let analytic = p.gradients(&mut tape.backward(loss).unwrap());
        assert_param_gradients(model.params(), &analytic, loss_at, |_| true);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = StdRng::seed_from_u64(0);
        assert!(matches!(
            ConditionalInn::<f64>::new(CinnConfig::default(), 1, 2, &mut rng),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ConditionalInn::<f64>::new(
                CinnConfig {
                    y_noise: -0.1,
                    ..CinnConfig::default()
                },
                2,
                2,
                &mut rng
            ),
            Err(Error::Config(_))
        ));
        let mut model = tiny();
        let (x, y) = data(6, 1);
        let mut nan = y.clone();
        nan[(3, 0)] = f64::NAN;
        assert!(matches!(
            model.fit(&x, &nan, &mut rng),
            Err(Error::Bijector(bijectors::Error::NonFinite {
                row: 3,
                col: 0,
                ..
            }))
        ));
        assert!(matches!(
            model.fit(&x.columns(0, 2).into_owned(), &y, &mut rng),
            Err(Error::Bijector(bijectors::Error::Width { expected: 3, .. }))
        ));
        assert!(matches!(
            model.fit(&DMatrix::zeros(0, 3), &DMatrix::zeros(0, 2), &mut rng),
            Err(Error::Bijector(bijectors::Error::EmptyBatch { .. }))
        ));
        assert!(model.log_prob(&x, &y.rows(0, 5).into_owned()).is_err());
        assert!(model.posterior(&DMatrix::zeros(1, 3), 4, &mut rng).is_err());
        assert!(matches!(
            model.posterior(&y, 0, &mut rng),
            Err(Error::Config(_))
        ));
        let s = model.posterior(&y, 4, &mut rng).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s[5].shape(), (4, 3));
    }

    /// The cINN learns the eight-modes posterior with labels "all".
    #[test]
    fn learns_eight_modes_posterior() {
        let mut rng = StdRng::seed_from_u64(12);
        let labels = LabelMap::All;
        let data = eight_modes(20_000, labels, &mut rng);
        let (x, y) = (data.x.cast::<f32>(), data.y_onehot.cast::<f32>());
        let mut model = ConditionalInn::<f32>::new(test_budget(), 2, 8, &mut rng).unwrap();
        model.fit(&x, &y, &mut rng).unwrap();
        let mut near = 0.0;
        for label in 0..8 {
            let mut obs = DMatrix::zeros(1, 8);
            obs[(0, label)] = 1.0f32;
            let s = model
                .posterior(&obs, 500, &mut rng)
                .unwrap()
                .remove(0)
                .cast::<f64>();
            near += labels
                .fraction_near_modes(label, &s, 3.0 * EIGHT_MODES_SIGMA)
                .unwrap()
                / 8.0;
        }
        assert!(near >= 0.9, "fraction near the right mode: {near}");
    }

    /// A smaller budget than the defaults: 6 blocks with 128-wide subnets, batch 256, 500 steps.
    fn test_budget() -> CinnConfig {
        CinnConfig {
            stack: paper_stack().with_widths(6, &[128]),
            batch_size: 256,
            optim: OptimConfig {
                progress: false,
                ..paper_optim(500)
            },
            ..CinnConfig::default()
        }
    }
}

#[cfg(test)]
#[path = "cinn_summary_tests.rs"]
mod summary_tests;
