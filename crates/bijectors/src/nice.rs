//! NICE additive coupling (Dinh, Krueger & Bengio 2014, "NICE: Non-linear Independent
//! Components Estimation"): one half shifted by a network of the other, log-det 0.

use crate::boundary::zero_log_det;
use crate::coupling::{SubnetConfig, check_subnet, split_lens, subnet_input};
use crate::{Bijector, BlockSpec, Error, Output, Result};
use autodiff::nn::Mlp;
use autodiff::{Bound, Float, Params, Var, concat_cols};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Options of a [`Nice`] block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NiceConfig {
    /// Width `d ≥ 2` of the batches.
    pub dim: usize,
    /// The shift network `t`.
    pub subnet: SubnetConfig,
    /// Transform the first half instead of the second (see [`Nice`]). Default `false`.
    pub swap: bool,
    /// Width of the condition input (0: unconditional, the default).
    pub cond_dim: usize,
}

impl NiceConfig {
    /// An unconditional, unswapped block of width `dim` with the given subnet.
    pub fn new(dim: usize, subnet: SubnetConfig) -> Self {
        Self {
            dim,
            subnet,
            swap: false,
            cond_dim: 0,
        }
    }
}

/// Additive coupling on batches `x: n × d` (one sample per row).
///
/// With `x = [x1, x2]`, `x1` the first `⌊d/2⌋` columns and `x2` the remaining `⌈d/2⌉`:
/// `y1 = x1`, `y2 = x2 + t(x1)`; the inverse is `x2 = y2 − t(y1)`, and `log|det J| = 0`
/// (an `n × 1` column of zeros). With `swap` the roles are exchanged: `y1 = x1 + t(x2)`,
/// `y2 = x2`. A stack without permutations alternates `swap` so that every coordinate is
/// transformed. With a condition `c` (`n × cond_dim`) the network reads `[x1, c]`
/// (resp. `[x2, c]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NiceParts")]
pub struct Nice {
    config: NiceConfig,
    t: Mlp,
}

/// The serialised form, validated into a [`Nice`] on reading.
#[derive(Deserialize)]
struct NiceParts {
    config: NiceConfig,
    t: Mlp,
}

impl TryFrom<NiceParts> for Nice {
    type Error = Error;
    fn try_from(parts: NiceParts) -> Result<Self> {
        let (read, write) = Nice::widths(&parts.config)?;
        check_subnet(Nice::KIND, "t", &parts.t, read, write)?;
        Ok(Self {
            config: parts.config,
            t: parts.t,
        })
    }
}

impl Nice {
    /// The kind name in a [`BlockSpec`].
    pub const KIND: &'static str = "nice";

    /// Registers the shift network as `{name}.t.*` in `params`; errors when `dim < 2`.
    pub fn new<T: Float, R: Rng + ?Sized>(
        params: &mut Params<T>,
        name: &str,
        config: &NiceConfig,
        rng: &mut R,
    ) -> Result<Self> {
        let (read, write) = Self::widths(config)?;
        let t = config
            .subnet
            .build(params, &format!("{name}.t"), read, write, rng)?;
        Ok(Self {
            config: config.clone(),
            t,
        })
    }

    /// The block's options.
    pub fn config(&self) -> &NiceConfig {
        &self.config
    }

    /// The shift network.
    pub fn subnet(&self) -> &Mlp {
        &self.t
    }

    /// Input and output widths of `t`: it reads the fixed half (plus the condition) and
    /// writes the transformed half.
    fn widths(config: &NiceConfig) -> Result<(usize, usize)> {
        let (len1, len2) = split_lens(Self::KIND, config.dim)?;
        let (fixed, moved) = if config.swap {
            (len2, len1)
        } else {
            (len1, len2)
        };
        Ok((fixed + config.cond_dim, moved))
    }

    /// Checks the inputs and shifts the moved half by `+t(fixed)` (forward) or `−t(fixed)` (inverse).
    fn shift<'t, T: Float>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
        inverse: bool,
    ) -> Result<Output<'t, T>> {
        let len1 = self.config.dim / 2;
        let x1 = x.slice_cols(0, len1)?;
        let x2 = x.slice_cols(len1, self.config.dim - len1)?;
        let (fixed, moved) = if self.config.swap { (x2, x1) } else { (x1, x2) };
        let t = self.t.forward(p, subnet_input(fixed, cond)?)?;
        let moved = if inverse {
            moved.sub(t)?
        } else {
            moved.add(t)?
        };
        let y = if self.config.swap {
            concat_cols(&[moved, fixed])?
        } else {
            concat_cols(&[fixed, moved])?
        };
        Ok((y, zero_log_det(x)))
    }
}

impl<T: Float> Bijector<T> for Nice {
    fn dim(&self) -> usize {
        self.config.dim
    }

    fn cond_dim(&self) -> usize {
        self.config.cond_dim
    }

    fn name(&self) -> &'static str {
        Self::KIND
    }

    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.shift(p, x, cond, false)
    }

    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        y: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.shift(p, y, cond, true)
    }

    fn spec(&self) -> Result<BlockSpec> {
        BlockSpec::new(Self::KIND, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{Case, normal_batch};
    use autodiff::nalgebra::DMatrix;
    use autodiff::nn::Activation;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn build(dim: usize, swap: bool, cond_dim: usize, seed: u64) -> (Nice, Params<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut params = Params::new();
        let config = NiceConfig {
            swap,
            cond_dim,
            ..NiceConfig::new(dim, SubnetConfig::new(&[8, 8], Activation::Tanh))
        };
        let block = Nice::new(&mut params, "nice", &config, &mut rng).unwrap();
        (block, params)
    }

    #[test]
    fn laws_hold_for_even_odd_swapped_and_conditional_blocks() {
        for (dim, swap, cond_dim) in [
            (2, false, 0),
            (3, false, 0),
            (5, true, 0),
            (4, true, 2),
            (3, false, 1),
        ] {
            let (block, params) = build(dim, swap, cond_dim, dim as u64);
            let mut rng = StdRng::seed_from_u64(100 + dim as u64);
            let x = normal_batch(6, dim, &mut rng);
            let cond = (cond_dim > 0).then(|| normal_batch(6, cond_dim, &mut rng));
            let case = Case {
                block: &block,
                params: &params,
                x,
                cond,
            };
            case.check_all();
            case.param_gradients();
        }
    }

    /// The fixed half passes unchanged, the other is shifted by `t` of the fixed half, and
    /// the log-det is exactly zero.
    #[test]
    fn forward_is_the_additive_coupling_formula() {
        for swap in [false, true] {
            let (block, params) = build(5, swap, 0, 9);
            let x = normal_batch(4, 5, &mut StdRng::seed_from_u64(1));
            let (y, ld) = block.forward_matrix(&params, &x).unwrap();
            assert_eq!(ld, DMatrix::zeros(4, 1));
            let (fixed, moved) = if swap { (2..5, 0..2) } else { (0..2, 2..5) };
            let x_fixed = x.columns(fixed.start, fixed.len()).into_owned();
            let t = block.subnet().eval(&params, &x_fixed).unwrap();
            assert_eq!(y.columns(fixed.start, fixed.len()), x_fixed);
            let expected = x.columns(moved.start, moved.len()) + t;
            assert!((y.columns(moved.start, moved.len()) - expected).abs().max() < 1e-15);
        }
    }

    #[test]
    fn one_dimensional_input_is_a_configuration_error() {
        let mut params = Params::<f64>::new();
        let config = NiceConfig::new(1, SubnetConfig::new(&[4], Activation::Tanh));
        let r = Nice::new(&mut params, "n", &config, &mut StdRng::seed_from_u64(0));
        assert!(matches!(r, Err(Error::Config(_))));
        assert!(params.is_empty());
    }

    #[test]
    fn a_spec_whose_subnet_does_not_fit_is_rejected() {
        let (block, _) = build(4, false, 0, 3);
        let mut spec = Bijector::<f64>::spec(&block).unwrap();
        spec.config["config"]["dim"] = 6.into();
        assert!(matches!(
            crate::block_from_spec::<f64>(&spec),
            Err(Error::Spec(_))
        ));
    }
}
