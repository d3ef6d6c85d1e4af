//! The residual branch g of an i-ResNet block on the tape: its value, the activation slopes
//! σ'(z) as differentiable values, and Jacobian-vector products built from them.

use crate::Result;
use autodiff::nalgebra::DMatrix;
use autodiff::nn::Activation;
use autodiff::{Float, Tape, Var, lit};

/// g(x) = σ(…σ(x W̃₁ + b₁)…) W̃_L + b_L with (already normalised) weights on one tape.
pub(crate) struct Branch<'t, T: Float> {
    pub(crate) layers: Vec<(Var<'t, T>, Var<'t, T>)>,
    pub(crate) activation: Activation,
}

/// g evaluated at a batch: the output (`n × d`) and the hidden pre-activations zₖ.
pub(crate) struct Evaluated<'t, T: Float> {
    pub(crate) value: Var<'t, T>,
    pub(crate) pre: Vec<Var<'t, T>>,
}

impl<'t, T: Float> Branch<'t, T> {
    /// The branch with plain weight matrices as constants on `tape` (fixed-point iteration).
    pub(crate) fn constant(
        tape: &'t Tape<T>,
        layers: &[(DMatrix<T>, DMatrix<T>)],
        activation: Activation,
    ) -> Self {
        Self {
            layers: layers
                .iter()
                .map(|(w, b)| (tape.constant(w.clone()), tape.constant(b.clone())))
                .collect(),
            activation,
        }
    }

    /// The weights and biases as plain matrices.
    pub(crate) fn values(&self) -> Vec<(DMatrix<T>, DMatrix<T>)> {
        self.layers
            .iter()
            .map(|(w, b)| (w.to_matrix(), b.to_matrix()))
            .collect()
    }

    /// g(x) for a batch `x: n × d`, keeping the hidden pre-activations.
    pub(crate) fn eval(&self, x: Var<'t, T>) -> Result<Evaluated<'t, T>> {
        let last = self.layers.len() - 1;
        let mut h = x;
        let mut pre = Vec::with_capacity(last);
        for (k, &(w, b)) in self.layers.iter().enumerate() {
            h = h.matmul(w)?.add(b)?;
            if k < last {
                pre.push(h);
                h = self.activation.apply(h);
            }
        }
        Ok(Evaluated { value: h, pre })
    }

    /// σ'(zₖ) for every hidden pre-activation, as differentiable values (so a log-det built
    /// from them has gradients with respect to the weights and the input).
    pub(crate) fn slopes(&self, pre: &[Var<'t, T>]) -> Result<Vec<Var<'t, T>>> {
        pre.iter().map(|&z| slope(self.activation, z)).collect()
    }

    /// t · ∂g/∂x per sample (row convention: row s of `t` times the d × d matrix
    /// M = ∂g/∂x of sample s with Mᵢⱼ = ∂gⱼ/∂xᵢ): t ↦ (…((t W̃₁) ⊙ σ'(z₁)) W̃₂ …) W̃_L.
    pub(crate) fn jvp(&self, slopes: &[Var<'t, T>], t: Var<'t, T>) -> Result<Var<'t, T>> {
        let mut t = t;
        for (k, &(w, _)) in self.layers.iter().enumerate() {
            t = t.matmul(w)?;
            if let Some(&s) = slopes.get(k) {
                t = t.mul(s)?;
            }
        }
        Ok(t)
    }

    /// The rows of the per-sample Jacobian: entry `i` is the `n × d` batch whose row s is
    /// row i of M(xₛ), i.e. ∂g(xₛ)/∂xᵢ.
    pub(crate) fn jacobian_rows(
        &self,
        slopes: &[Var<'t, T>],
        n: usize,
        d: usize,
    ) -> Result<Vec<Var<'t, T>>> {
        let tape = self.layers[0].0.tape();
        (0..d)
            .map(|i| {
                let e = DMatrix::from_fn(n, d, |_, j| if i == j { T::one() } else { T::zero() });
                self.jvp(slopes, tape.constant(e))
            })
            .collect()
    }
}

/// σ'(z) elementwise, written with differentiable operations.
fn slope<'t, T: Float>(activation: Activation, z: Var<'t, T>) -> Result<Var<'t, T>> {
    let tape = z.tape();
    match activation {
        // 1 − tanh²z.
        Activation::Tanh => Ok(z.tanh().square().neg().add_scalar(T::one())),
        // 1 for z > 0, α·e^z otherwise; e^min(z, 0) so that large z cannot overflow.
        Activation::Elu(alpha) => {
            let zv = z.value();
            let pos = zv.map(|v| if v > T::zero() { T::one() } else { T::zero() });
            let neg = pos.map(|m| T::one() - m);
            Ok(z.neg()
                .relu()
                .neg()
                .exp()
                .scale(lit(alpha))
                .mul(tape.constant(neg))?
                .add(tape.constant(pos))?)
        }
        // d/dz [z σ(z) / 1.1] = (σ + z σ (1 − σ)) / 1.1.
        Activation::LipSwish => {
            let s = z.sigmoid();
            let one_minus = s.neg().add_scalar(T::one());
            Ok(z.mul(s)?.mul(one_minus)?.add(s)?.scale(lit(1.0 / 1.1)))
        }
        other => Err(crate::Error::Config(format!(
            "i-ResNet: activation {other:?} is not supported (use Elu, Tanh or LipSwish)"
        ))),
    }
}
