//! A builder for the usual flow: K coupling blocks, each followed by a random permutation
//! (and optionally ActNorm), as one [`Chain`].

use crate::coupling::SubnetConfig;
use crate::{
    ActNorm, Bijector, Chain, Error, Nice, NiceConfig, Permutation, RealNvp, RealNvpConfig, Result,
    RqSpline, RqSplineConfig, SoftClamp, SubnetLayout,
};
use autodiff::nn::{Activation, Init};
use autodiff::{Float, Params};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The coupling block of a [`StackConfig`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CouplingKind {
    /// [`RealNvp`] with separate `s` and `t` subnets. The default.
    #[default]
    RealNvp,
    /// [`RealNvp`] with joint `[s, t]` subnets ([`SubnetLayout::Joint`], GLOW style).
    Glow,
    /// [`Nice`] additive coupling.
    Nice,
    /// [`RqSpline`] rational-quadratic spline coupling (`bins` and `bound` of the
    /// [`StackConfig`]).
    Spline,
}

/// Options of [`Chain::coupling_stack`]. Build with struct-update syntax from the default:
/// `StackConfig { dim: 4, blocks: 8, ..StackConfig::default() }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackConfig {
    /// Width `d ≥ 2` of the batches. Default 2.
    pub dim: usize,
    /// Number `K ≥ 1` of coupling blocks. Default 8.
    pub blocks: usize,
    /// Which coupling block. Default [`CouplingKind::RealNvp`].
    pub coupling: CouplingKind,
    /// Hidden layer widths of every subnet. Default `[128, 128]`.
    pub hidden: Vec<usize>,
    /// Activation of the subnets. Default ReLU.
    pub activation: Activation,
    /// Subnet weight initialisation; `None` picks the activation's default. Default
    /// `Some(Init::Torch)` (PyTorch's `nn.Linear` initialisation, as FrEIA models start).
    pub init: Option<Init>,
    /// Zero the last layer of every subnet so that the flow starts as the identity (up to the
    /// permutations). Default `false`.
    pub zero_last: bool,
    /// Soft-clamp bound of the RealNVP / GLOW log-scales. Default 2.
    pub clamp: f64,
    /// The form of the RealNVP / GLOW soft clamp. Default [`SoftClamp::Atan`] (FrEIA's).
    #[serde(default)]
    pub soft_clamp: SoftClamp,
    /// Follow every coupling by a random permutation drawn from the builder's `rng`.
    /// Default `true`. Without permutations, consecutive NICE blocks alternate which half they
    /// transform (RealNVP transforms both halves anyway).
    pub permute: bool,
    /// Follow every coupling (and its permutation) by an [`ActNorm`]. Default `false`.
    pub actnorm: bool,
    /// Condition width of every coupling (0: unconditional). Default 0.
    pub cond_dim: usize,
    /// Bins `K` of every spline of [`CouplingKind::Spline`]. Default
    /// [`DEFAULT_BINS`](crate::DEFAULT_BINS).
    #[serde(default = "crate::rq_spline::default_bins")]
    pub bins: usize,
    /// Bound `B` of the splines of [`CouplingKind::Spline`] (identity outside `[−B, B]`).
    /// Default [`DEFAULT_BOUND`](crate::DEFAULT_BOUND).
    #[serde(default = "crate::rq_spline::default_bound")]
    pub bound: f64,
    /// Prefix of the parameter names: block `k` registers `{name}.{k}.coupling.*` and
    /// `{name}.{k}.act_norm.*`. Default `"flow"`.
    pub name: String,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            dim: 2,
            blocks: 8,
            coupling: CouplingKind::RealNvp,
            hidden: vec![128, 128],
            activation: Activation::Relu,
            init: Some(Init::Torch),
            zero_last: false,
            clamp: crate::DEFAULT_CLAMP,
            soft_clamp: SoftClamp::Atan,
            permute: true,
            actnorm: false,
            cond_dim: 0,
            bins: crate::DEFAULT_BINS,
            bound: crate::DEFAULT_BOUND,
            name: "flow".into(),
        }
    }
}

impl<T: Float> Chain<T> {
    /// Builds `config.blocks` couplings, each followed by a random permutation (when
    /// `permute`) and an ActNorm (when `actnorm`), registering their parameters in `params`
    /// and drawing weights and permutations from `rng`.
    ///
    /// ```
    /// use bijectors::{Bijector, Chain, CouplingKind, StackConfig};
    /// use autodiff::{Params, nalgebra::DMatrix};
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let mut params = Params::<f64>::new();
    /// let config = StackConfig { dim: 3, blocks: 2, coupling: CouplingKind::Nice, hidden: vec![16], ..StackConfig::default() };
    /// let flow = Chain::coupling_stack(&mut params, &config, &mut rng)?;
    /// assert_eq!((flow.len(), flow.dim()), (4, 3)); // coupling, permutation, coupling, permutation
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn coupling_stack<R: Rng + ?Sized>(
        params: &mut Params<T>,
        config: &StackConfig,
        rng: &mut R,
    ) -> Result<Self> {
        if config.blocks == 0 {
            return Err(Error::Config(
                "coupling_stack: needs at least one block".into(),
            ));
        }
        let subnet = SubnetConfig {
            hidden: config.hidden.clone(),
            activation: config.activation,
            init: config.init,
            zero_last: config.zero_last,
        };
        let mut blocks: Vec<Box<dyn Bijector<T>>> = Vec::new();
        for k in 0..config.blocks {
            let name = format!("{}.{k}", config.name);
            let coupling_name = format!("{name}.coupling");
            let real_nvp = |layout| RealNvpConfig {
                clamp: config.clamp,
                soft_clamp: config.soft_clamp,
                layout,
                cond_dim: config.cond_dim,
                ..RealNvpConfig::new(config.dim, subnet.clone())
            };
            blocks.push(match config.coupling {
                CouplingKind::RealNvp => Box::new(RealNvp::new(
                    params,
                    &coupling_name,
                    &real_nvp(SubnetLayout::Separate),
                    rng,
                )?),
                CouplingKind::Glow => Box::new(RealNvp::new(
                    params,
                    &coupling_name,
                    &real_nvp(SubnetLayout::Joint),
                    rng,
                )?),
                CouplingKind::Nice => {
                    let nice = NiceConfig {
                        swap: !config.permute && k % 2 == 1,
                        cond_dim: config.cond_dim,
                        ..NiceConfig::new(config.dim, subnet.clone())
                    };
                    Box::new(Nice::new(params, &coupling_name, &nice, rng)?)
                }
                CouplingKind::Spline => {
                    let spline = RqSplineConfig {
                        bins: config.bins,
                        bound: config.bound,
                        cond_dim: config.cond_dim,
                        ..RqSplineConfig::new(config.dim, subnet.clone())
                    };
                    Box::new(RqSpline::new(params, &coupling_name, &spline, rng)?)
                }
            });
            if config.permute {
                blocks.push(Box::new(Permutation::random(config.dim, rng)?));
            }
            if config.actnorm {
                blocks.push(Box::new(ActNorm::new(
                    params,
                    &format!("{name}.act_norm"),
                    config.dim,
                )?));
            }
        }
        Self::new(blocks)
    }
}
