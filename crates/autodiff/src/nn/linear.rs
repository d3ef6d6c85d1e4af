//! The dense layer `x · W + b` over batches.

use crate::{Bound, Error, Float, ParamId, Params, Result, Var, lit};
use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

/// Weight initialisation schemes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Init {
    /// Glorot/Xavier uniform: U(−a, a), a = √(6 / (fan_in + fan_out)). For tanh, sigmoid, identity.
    Glorot,
    /// He/Kaiming normal: N(0, 2 / fan_in). For ReLU-like activations.
    He,
    /// N(0, σ²) with the given σ (the INN paper's toy code uses σ = 0.05 for every parameter).
    Normal(f64),
    /// PyTorch's default for `nn.Linear` (Kaiming uniform with a = √5): weights and bias
    /// from U(−1/√fan_in, 1/√fan_in). Use it to match a PyTorch/FrEIA model's initial state.
    Torch,
    /// All zeros (an output layer that starts a coupling block at the identity).
    Zeros,
}

impl Init {
    /// Draws a `fan_in × fan_out` weight matrix.
    pub fn sample<T: Float, R: Rng + ?Sized>(
        self,
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Result<DMatrix<T>> {
        let bad = |reason: String| Error::InvalidArgument {
            op: "Init::sample",
            reason,
        };
        Ok(match self {
            Init::Glorot => {
                let a = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
                let u = Uniform::new(-a, a).map_err(|e| bad(e.to_string()))?;
                DMatrix::from_fn(fan_in, fan_out, |_, _| lit(u.sample(rng)))
            }
            Init::He => {
                let n = Normal::new(0.0, (2.0 / fan_in.max(1) as f64).sqrt())
                    .map_err(|e| bad(e.to_string()))?;
                DMatrix::from_fn(fan_in, fan_out, |_, _| lit(n.sample(rng)))
            }
            Init::Normal(s) => {
                let n = Normal::new(0.0, s).map_err(|e| bad(e.to_string()))?;
                DMatrix::from_fn(fan_in, fan_out, |_, _| lit(n.sample(rng)))
            }
            Init::Torch => {
                let a = 1.0 / (fan_in.max(1) as f64).sqrt();
                let u = Uniform::new_inclusive(-a, a).map_err(|e| bad(e.to_string()))?;
                DMatrix::from_fn(fan_in, fan_out, |_, _| lit(u.sample(rng)))
            }
            Init::Zeros => DMatrix::zeros(fan_in, fan_out),
        })
    }
}

/// A dense layer `y = x · W + b` for a batch `x: n × fan_in`, with `W: fan_in × fan_out` and a
/// bias row `b: 1 × fan_out`; the output is `n × fan_out`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    weight: ParamId,
    bias: ParamId,
    fan_in: usize,
    fan_out: usize,
}

impl Linear {
    /// Registers `{name}.weight` and `{name}.bias` (bias zero, except that `Init::Normal` and
    /// `Init::Torch` draw it like the weights, as their sources do).
    pub fn new<T: Float, R: Rng + ?Sized>(
        params: &mut Params<T>,
        name: &str,
        fan_in: usize,
        fan_out: usize,
        init: Init,
        rng: &mut R,
    ) -> Result<Self> {
        if fan_in == 0 || fan_out == 0 {
            return Err(Error::InvalidArgument {
                op: "Linear::new",
                reason: format!("layer {name} has size {fan_in} -> {fan_out}"),
            });
        }
        let w = init.sample(fan_in, fan_out, rng)?;
        let b = match init {
            Init::Normal(_) => init.sample(1, fan_out, rng)?,
            // PyTorch draws the bias from U(±1/√fan_in) too.
            Init::Torch => {
                let a = 1.0 / (fan_in as f64).sqrt();
                let u = Uniform::new_inclusive(-a, a).map_err(|e| Error::InvalidArgument {
                    op: "Linear::new",
                    reason: e.to_string(),
                })?;
                DMatrix::from_fn(1, fan_out, |_, _| lit(u.sample(rng)))
            }
            _ => DMatrix::zeros(1, fan_out),
        };
        Ok(Self {
            weight: params.add(format!("{name}.weight"), w)?,
            bias: params.add(format!("{name}.bias"), b)?,
            fan_in,
            fan_out,
        })
    }

    /// `x · W + b` for a batch `x: n × fan_in`.
    pub fn forward<'t, T: Float>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        if x.ncols() != self.fan_in {
            return Err(Error::Shape {
                op: "Linear::forward",
                left: x.shape(),
                right: (self.fan_in, self.fan_out),
            });
        }
        x.affine(p.get(self.weight), p.get(self.bias))
    }

    /// `f(x · W + b)` as one tape operation where `f` allows it (`Var::dense`).
    pub(crate) fn forward_activated<'t, T: Float>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        f: crate::op::UnaryFn<T>,
    ) -> Result<Var<'t, T>> {
        if x.ncols() != self.fan_in {
            return Err(Error::Shape {
                op: "Linear::forward",
                left: x.shape(),
                right: (self.fan_in, self.fan_out),
            });
        }
        x.dense(p.get(self.weight), p.get(self.bias), f)
    }

    /// The weight parameter (`fan_in × fan_out`).
    pub fn weight(&self) -> ParamId {
        self.weight
    }
    /// The bias parameter (`1 × fan_out`).
    pub fn bias(&self) -> ParamId {
        self.bias
    }
    /// Input width.
    pub fn fan_in(&self) -> usize {
        self.fan_in
    }
    /// Output width.
    pub fn fan_out(&self) -> usize {
        self.fan_out
    }
}
