//! A builder for the usual flow: K coupling blocks, each followed by a random permutation
//! (and optionally ActNorm), as one [`Chain`].

use crate::coupling::SubnetConfig;
use crate::{
    ActNorm, Bijector, Chain, Error, Nice, NiceConfig, Permutation, RealNvp, RealNvpConfig, Result,
    RqSpline, RqSplineConfig, SoftClamp, SubnetLayout,
};
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
    /// The subnet of every coupling (written flat into saved configurations). Default
    /// [`SubnetConfig::default`].
    #[serde(flatten)]
    pub subnet: SubnetConfig,
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
            subnet: SubnetConfig::default(),
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

impl StackConfig {
    /// This configuration with `blocks` couplings whose subnets have the hidden widths
    /// `hidden`: the two options most often varied.
    ///
    /// ```
    /// use bijectors::StackConfig;
    /// let small = StackConfig::default().with_widths(4, &[64, 64]);
    /// assert_eq!((small.blocks, small.subnet.hidden.as_slice()), (4, &[64, 64][..]));
    /// ```
    pub fn with_widths(self, blocks: usize, hidden: &[usize]) -> Self {
        Self {
            blocks,
            subnet: SubnetConfig {
                hidden: hidden.to_vec(),
                ..self.subnet
            },
            ..self
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
    /// let config = StackConfig { dim: 3, coupling: CouplingKind::Nice, ..StackConfig::default().with_widths(2, &[16]) };
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
        let subnet = &config.subnet;
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
