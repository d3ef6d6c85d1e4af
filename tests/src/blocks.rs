//! Block descriptions the strategies generate, and how to build them with random parameters.

use autodiff::nalgebra::DMatrix;
use autodiff::nn::Activation;
use autodiff::{Bound, ParamId, Params, Var};
use bijectors::{
    ActNorm, Bijector, BlockSpec, Chain, CouplingKind, IResNet, IResNetConfig, LogDet, Nice,
    NiceConfig, Output, Permutation, RealNvp, RealNvpConfig, RqSpline, RqSplineConfig, SoftClamp,
    StackConfig, SubnetConfig, SubnetLayout,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Every block type of the `bijectors` crate (a coupling stack counts as one: it is a nested chain).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlockKind {
    /// [`Nice`] additive coupling.
    Nice,
    /// [`RealNvp`] with separate `s`, `t` subnets.
    RealNvp,
    /// [`RealNvp`] with joint `[s, t]` subnets (GLOW layout).
    Glow,
    /// A random [`Permutation`].
    Permutation,
    /// [`ActNorm`], with random parameters or initialised from a random batch.
    ActNorm,
    /// [`Chain::coupling_stack`]: one or two couplings with permutations and ActNorm.
    Stack,
    /// [`IResNet`] with the exact log-determinant (so that both directions are deterministic;
    /// the series estimator has its own law).
    IResNet,
    /// [`RqSpline`] rational-quadratic spline coupling.
    Spline,
}

impl BlockKind {
    /// All kinds, in a fixed order.
    pub const ALL: [BlockKind; 8] = [
        BlockKind::Nice,
        BlockKind::RealNvp,
        BlockKind::Glow,
        BlockKind::Permutation,
        BlockKind::ActNorm,
        BlockKind::Stack,
        BlockKind::IResNet,
        BlockKind::Spline,
    ];

    /// The smallest width the block accepts (couplings split their input in two).
    pub fn min_dim(self) -> usize {
        match self {
            BlockKind::Permutation | BlockKind::ActNorm | BlockKind::IResNet => 1,
            _ => 2,
        }
    }

    /// Whether the block reads a condition when its configuration has `cond_dim > 0`.
    pub fn takes_condition(self) -> bool {
        matches!(
            self,
            BlockKind::Nice
                | BlockKind::RealNvp
                | BlockKind::Glow
                | BlockKind::Stack
                | BlockKind::Spline
        )
    }
}

/// A block to build: its kind and every choice that shapes it. The parameters come from
/// `seed`: the constructor's initialisation, then every entry `v ↦ gain · v + jitter · u`
/// with `u` uniform in `[−1, 1]`, so that no block is left at its identity initialisation
/// (zero biases, zero ActNorm parameters) and large gains drive RealNVP's log-scales into the
/// saturated part of the soft clamp.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockConfig {
    /// The block type.
    pub kind: BlockKind,
    /// Hidden layer widths of coupling subnets.
    pub hidden: Vec<usize>,
    /// Activation of coupling subnets.
    pub activation: Activation,
    /// RealNVP soft-clamp bound.
    pub clamp: f64,
    /// RealNVP soft-clamp form.
    pub soft_clamp: SoftClamp,
    /// NICE: transform the first half instead of the second.
    pub swap: bool,
    /// The shape of a [`BlockKind::Stack`].
    pub stack: StackChoice,
    /// ActNorm: initialise from a random batch (`data_init`) instead of random parameters.
    pub data_init: bool,
    /// Spline bins `K` (spline couplings and stacks of them).
    pub bins: usize,
    /// Spline bound `B`.
    pub bound: f64,
    /// i-ResNet spectral coefficient `c` (every weight scaled to spectral norm ≤ c).
    pub coeff: f64,
    /// i-ResNet inverse tolerance (`None`: the block's default, 1e-10 in f64).
    pub inverse_tol: Option<f64>,
    /// Multiplier of the initialised parameters.
    pub gain: f64,
    /// Size of the uniform noise added to every parameter entry.
    pub jitter: f64,
    /// Seed of the weights, permutations and noise.
    pub seed: u64,
}

/// The choices of a [`BlockKind::Stack`] (see [`StackConfig`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackChoice {
    /// Which coupling block.
    pub coupling: CouplingKind,
    /// Number of couplings.
    pub blocks: usize,
    /// Follow every coupling by a random permutation.
    pub permute: bool,
    /// Follow every coupling by an ActNorm.
    pub actnorm: bool,
}

/// A built block with the parameter store it registered in.
#[derive(Debug)]
pub struct Built {
    /// The block.
    pub block: Box<dyn Bijector<f64>>,
    /// Its parameters.
    pub params: Params<f64>,
}

/// Builds the block `config` describes for batches of width `dim`, with condition width
/// `cond_dim` (ignored by blocks that take no condition), under the parameter name `name`,
/// into `params`.
pub fn build_into(
    params: &mut Params<f64>,
    name: &str,
    config: &BlockConfig,
    dim: usize,
    cond_dim: usize,
) -> bijectors::Result<Box<dyn Bijector<f64>>> {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let first_new = params.len();
    let cond_dim = if config.kind.takes_condition() {
        cond_dim
    } else {
        0
    };
    let spline = config.kind == BlockKind::Spline
        || (config.kind == BlockKind::Stack && config.stack.coupling == CouplingKind::Spline);
    let (hidden, activation) = if spline {
        spline_subnet(config)
    } else {
        (config.hidden.clone(), config.activation)
    };
    let subnet = SubnetConfig::new(&hidden, activation);
    let real_nvp = |layout| RealNvpConfig {
        clamp: config.clamp,
        soft_clamp: config.soft_clamp,
        layout,
        cond_dim,
        ..RealNvpConfig::new(dim, subnet.clone())
    };
    let block: Box<dyn Bijector<f64>> = match config.kind {
        BlockKind::Nice => {
            let nice = NiceConfig {
                swap: config.swap,
                cond_dim,
                ..NiceConfig::new(dim, subnet.clone())
            };
            Box::new(Nice::new(params, name, &nice, &mut rng)?)
        }
        BlockKind::RealNvp => Box::new(RealNvp::new(
            params,
            name,
            &real_nvp(SubnetLayout::Separate),
            &mut rng,
        )?),
        BlockKind::Glow => Box::new(RealNvp::new(
            params,
            name,
            &real_nvp(SubnetLayout::Joint),
            &mut rng,
        )?),
        BlockKind::Permutation => Box::new(Permutation::random(dim, &mut rng)?),
        BlockKind::ActNorm => Box::new(ActNorm::new(params, name, dim)?),
        BlockKind::Stack => {
            let choice = config.stack;
            let stack = StackConfig {
                subnet: SubnetConfig {
                    hidden: hidden.clone(),
                    activation,
                    ..SubnetConfig::default()
                },
                dim,
                blocks: choice.blocks,
                coupling: choice.coupling,
                permute: choice.permute,
                actnorm: choice.actnorm,
                clamp: config.clamp,
                soft_clamp: config.soft_clamp,
                cond_dim,
                bins: config.bins,
                bound: config.bound,
                name: name.to_string(),
            };
            Box::new(Chain::coupling_stack(params, &stack, &mut rng)?)
        }
        BlockKind::Spline => {
            let spline = RqSplineConfig {
                bins: config.bins,
                bound: config.bound,
                cond_dim,
                ..RqSplineConfig::new(dim, subnet.clone())
            };
            Box::new(RqSpline::new(params, name, &spline, &mut rng)?)
        }
        BlockKind::IResNet => Box::new(IResNet::new(
            params,
            name,
            dim,
            iresnet_config(config),
            &mut rng,
        )?),
    };
    perturb(params, first_new, config, &mut rng);
    if config.kind == BlockKind::ActNorm && config.data_init {
        // A batch with per-feature offsets and spreads, so the fitted shift and scale differ
        // per feature (and from the identity).
        let offsets: Vec<f64> = (0..dim).map(|_| rng.random_range(-5.0..5.0)).collect();
        let spreads: Vec<f64> = (0..dim)
            .map(|_| 10f64.powf(rng.random_range(-1.0..1.0)))
            .collect();
        let batch = DMatrix::from_fn(16, dim, |_, j| {
            offsets[j] + spreads[j] * rng.random_range(-1.0..1.0)
        });
        block.data_init(params, &batch, None)?;
    }
    Ok(block)
}

/// The subnet of a spline coupling a [`BlockConfig`] describes: at least one hidden layer and a
/// bounded activation (sigmoid as drawn, tanh for every other), so that the raw spline
/// parameters stay of order 1 at inputs of 1e3, as in initialised and trained flows.
///
/// Why: unbounded raw outputs (a linear or softplus subnet reading entries of 1e3) push bins to
/// the minimum width and knot derivatives towards 1e3, so slopes span 1e-6 to 1e6 within one
/// coordinate. The block stays exact in its formulas, but its inverse then loses `ε·cond` in the
/// recovered point and the log-det there: measured 3.4e-8 relative inverse-log-det mismatch (the
/// law allows 1e-9), and a numerical Jacobian 0.16 off near the bound with an error estimate of
/// only 0.011, the ladder's smallest step being coarser than the spline's narrowest bins.
pub fn spline_subnet(config: &BlockConfig) -> (Vec<usize>, Activation) {
    let hidden = if config.hidden.is_empty() {
        vec![8]
    } else {
        config.hidden.clone()
    };
    let activation = match config.activation {
        Activation::Sigmoid => Activation::Sigmoid,
        _ => Activation::Tanh,
    };
    (hidden, activation)
}

/// Rescales and perturbs every parameter registered from index `first_new` on:
/// `v ↦ gain · v + jitter · u`, `u` uniform in `[−1, 1]`.
fn perturb(params: &mut Params<f64>, first_new: usize, config: &BlockConfig, rng: &mut StdRng) {
    let new_ids: Vec<ParamId> = params
        .iter()
        .map(|(id, _, _)| id)
        .filter(|id| id.index() >= first_new)
        .collect();
    for id in new_ids {
        for v in params.get_mut(id).iter_mut() {
            *v = config.gain * *v + config.jitter * rng.random_range(-1.0..=1.0);
        }
    }
}

/// An i-ResNet block as its own type (for its inversion report and log-det methods), built and
/// perturbed exactly as [`build`] builds a [`BlockKind::IResNet`] configuration, with the
/// log-determinant method `log_det`.
pub fn build_iresnet(
    config: &BlockConfig,
    dim: usize,
    log_det: LogDet,
) -> bijectors::Result<(IResNet, Params<f64>)> {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut params = Params::new();
    let block = IResNet::new(
        &mut params,
        "block",
        dim,
        IResNetConfig {
            log_det,
            ..iresnet_config(config)
        },
        &mut rng,
    )?;
    perturb(&mut params, 0, config, &mut rng);
    Ok((block, params))
}

/// The i-ResNet options a [`BlockConfig`] describes: its hidden widths, its activation mapped
/// to one with Lipschitz constant ≤ 1 that the block accepts ([`lipschitz_activation`]), `coeff`,
/// the exact log-determinant, `inverse_tol`, and an iteration budget that reaches 1e-13 at
/// c = 0.97.
pub fn iresnet_config(config: &BlockConfig) -> IResNetConfig {
    IResNetConfig {
        coeff: config.coeff,
        inverse_tol: config.inverse_tol,
        inverse_max_iter: 5000,
        log_det: LogDet::Exact,
        ..IResNetConfig::new(&config.hidden, lipschitz_activation(config.activation))
    }
}

/// The activation an i-ResNet branch uses for a generated one: tanh, LipSwish and ELU(α ≤ 1)
/// as they are; the other smooth ones become LipSwish, the kinked ones ELU(1).
pub fn lipschitz_activation(a: Activation) -> Activation {
    match a {
        Activation::Tanh | Activation::LipSwish => a,
        Activation::Elu(alpha) if alpha > 0.0 && alpha <= 1.0 => a,
        Activation::Softplus | Activation::Sigmoid | Activation::Identity => Activation::LipSwish,
        _ => Activation::Elu(1.0),
    }
}

/// Builds one block into a fresh parameter store (see [`build_into`]).
pub fn build(config: &BlockConfig, dim: usize, cond_dim: usize) -> bijectors::Result<Built> {
    let mut params = Params::new();
    let block = build_into(&mut params, "block", config, dim, cond_dim)?;
    Ok(Built { block, params })
}

/// A chain built from several block configurations, with the blocks also kept apart (as specs
/// rebuilt through [`bijectors::block_from_spec`]) for the additivity law.
#[derive(Debug)]
pub struct BuiltChain {
    /// The chain.
    pub chain: Chain<f64>,
    /// Its parameters (all blocks share one store).
    pub params: Params<f64>,
}

/// Builds `configs` (at least one) as a [`Chain`] of width `dim` and condition width `cond_dim`,
/// block `k` registering its parameters as `chain.{k}.*`.
pub fn build_chain(
    configs: &[BlockConfig],
    dim: usize,
    cond_dim: usize,
) -> bijectors::Result<BuiltChain> {
    let mut params = Params::new();
    let blocks = configs
        .iter()
        .enumerate()
        .map(|(k, c)| build_into(&mut params, &format!("chain.{k}"), c, dim, cond_dim))
        .collect::<bijectors::Result<Vec<_>>>()?;
    Ok(BuiltChain {
        chain: Chain::new(blocks)?,
        params,
    })
}

/// The inverse of a block as a block of its own: `forward` is the wrapped block's inverse and
/// `inverse` its forward, so every law stated for the forward direction (log-det against the
/// numerical Jacobian above all) also checks the inverse direction.
#[derive(Debug)]
pub struct Inverted(pub Box<dyn Bijector<f64>>);

impl Bijector<f64> for Inverted {
    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn cond_dim(&self) -> usize {
        self.0.cond_dim()
    }

    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, f64>,
        x: Var<'t, f64>,
        cond: Option<Var<'t, f64>>,
    ) -> bijectors::Result<Output<'t, f64>> {
        self.0.inverse_unchecked(p, x, cond)
    }

    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, f64>,
        y: Var<'t, f64>,
        cond: Option<Var<'t, f64>>,
    ) -> bijectors::Result<Output<'t, f64>> {
        self.0.forward_unchecked(p, y, cond)
    }

    /// The wrapped block's description (an inverted block is a test device, not a model part).
    fn spec(&self) -> bijectors::Result<BlockSpec> {
        self.0.spec()
    }
}
