//! Activation functions for [`Mlp`](super::Mlp), with their Lipschitz constants.

use crate::{Float, Var, lit};
use serde::{Deserialize, Serialize};

/// Elementwise nonlinearities between layers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    /// `x`.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x > 0`, `slope · x` otherwise.
    LeakyRelu(f64),
    /// `x` for `x > 0`, `α (eˣ − 1)` otherwise.
    Elu(f64),
    /// `tanh x`.
    Tanh,
    /// `1 / (1 + e⁻ˣ)`.
    Sigmoid,
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `x σ(x) / 1.1`, Lipschitz ≤ 1 (residual flows).
    LipSwish,
}

impl Activation {
    /// Applies the activation elementwise.
    pub fn apply<'t, T: Float>(self, x: Var<'t, T>) -> Var<'t, T> {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.relu(),
            Activation::LeakyRelu(s) => x.leaky_relu(lit(s)),
            Activation::Elu(a) => x.elu(lit(a)),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Softplus => x.softplus(),
            Activation::LipSwish => x.lipswish(),
        }
    }

    /// The elementwise map, when it is one of the tape's primitive maps (`None` for the
    /// identity and composite activations).
    pub(crate) fn unary_fn<T: Float>(self) -> Option<crate::op::UnaryFn<T>> {
        use crate::op::UnaryFn;
        match self {
            Activation::Relu => Some(UnaryFn::Relu),
            Activation::LeakyRelu(s) => Some(UnaryFn::LeakyRelu(lit(s))),
            Activation::Elu(a) => Some(UnaryFn::Elu(lit(a))),
            Activation::Tanh => Some(UnaryFn::Tanh),
            Activation::Sigmoid => Some(UnaryFn::Sigmoid),
            Activation::Softplus => Some(UnaryFn::Softplus),
            Activation::Identity | Activation::LipSwish => None,
        }
    }

    /// A global Lipschitz constant of the activation (sup of |σ'|).
    pub fn lipschitz(self) -> f64 {
        match self {
            Activation::Identity | Activation::Relu | Activation::Tanh | Activation::Softplus => {
                1.0
            }
            Activation::LeakyRelu(s) => s.abs().max(1.0),
            Activation::Elu(a) => a.abs().max(1.0),
            Activation::Sigmoid => 0.25,
            // max of d/dx [x σ(x)] is ≈ 1.0998; divided by 1.1.
            Activation::LipSwish => 1.0998 / 1.1,
        }
    }

    /// The initialisation that suits this activation: He for the ReLU family, Glorot otherwise.
    pub fn default_init(self) -> super::Init {
        match self {
            Activation::Relu | Activation::LeakyRelu(_) | Activation::Elu(_) => super::Init::He,
            _ => super::Init::Glorot,
        }
    }
}
