//! Adam (Kingma & Ba 2015) with bias correction and optional (decoupled) weight decay.

use super::{Optimizer, validate};
use crate::{Float, Params, Result, lit};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// Hyper-parameters of [`Adam`]; defaults are PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate. Default `1e-3`.
    pub lr: f64,
    /// First-moment decay β₁. Default `0.9`.
    pub beta1: f64,
    /// Second-moment decay β₂. Default `0.999`.
    pub beta2: f64,
    /// Denominator guard ε. Default `1e-8`.
    pub eps: f64,
    /// Weight decay λ. Default `0`.
    pub weight_decay: f64,
    /// `false`: L2 penalty added to the gradient (PyTorch `Adam`); `true`: decoupled
    /// decay `p ← p − ηλp` (PyTorch `AdamW`). Default `false`.
    pub decoupled: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

/// Adam: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p − η m̂ / (√v̂ + ε)` with the
/// bias-corrected moments `m̂ = m / (1−β₁ᵗ)`, `v̂ = v / (1−β₂ᵗ)`.
#[derive(Clone, Debug)]
pub struct Adam<T: Float> {
    config: AdamConfig,
    m: Vec<DMatrix<T>>,
    v: Vec<DMatrix<T>>,
    t: u64,
}

impl<T: Float> Adam<T> {
    /// Adam with the given hyper-parameters.
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            m: Vec::new(),
            v: Vec::new(),
            t: 0,
        }
    }

    /// Adam with PyTorch's defaults and learning rate `lr`.
    pub fn with_lr(lr: f64) -> Self {
        Self::new(AdamConfig {
            lr,
            ..AdamConfig::default()
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut Params<T>, grads: &[DMatrix<T>]) -> Result<()> {
        validate(params, grads)?;
        if self.m.len() != grads.len() {
            self.m = grads
                .iter()
                .map(|g| DMatrix::zeros(g.nrows(), g.ncols()))
                .collect();
            self.v = self.m.clone();
            self.t = 0;
        }
        self.t += 1;
        let c = self.config;
        let t = self.t as i32;
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2 = 1.0 - c.beta2.powi(t);
        // Fold the bias corrections into the step size and ε (as PyTorch does).
        let step: T = lit(c.lr / bc1);
        let sqrt_bc2: T = lit(bc2.sqrt());
        let (b1, b2, eps): (T, T, T) = (lit(c.beta1), lit(c.beta2), lit(c.eps));
        let (one_b1, one_b2) = (T::one() - b1, T::one() - b2);
        let wd: T = lit(c.weight_decay);
        let decay: T = lit(1.0 - c.lr * c.weight_decay);
        let update = move |p: &mut [T], g: &[T], m: &mut [T], v: &mut [T]| {
            crate::simd::dispatch(
                #[inline(always)]
                move || {
                    let iter = p.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut()));
                    for ((pv, &gv), (mv, vv)) in iter {
                        let gv = if c.decoupled || c.weight_decay == 0.0 {
                            gv
                        } else {
                            gv + wd * *pv
                        };
                        if c.decoupled {
                            *pv *= decay;
                        }
                        *mv = b1 * *mv + one_b1 * gv;
                        *vv = b2 * *vv + one_b2 * gv * gv;
                        *pv -= step * *mv / (vv.sqrt() / sqrt_bc2 + eps);
                    }
                },
            )
        };
        let scalars = params.n_scalars();
        let mut chunks: Vec<_> = params
            .values_mut()
            .zip(grads)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
            .flat_map(|((p, g), (m, v))| {
                p.as_mut_slice()
                    .chunks_mut(crate::par::CHUNK)
                    .zip(g.as_slice().chunks(crate::par::CHUNK))
                    .zip(
                        m.as_mut_slice()
                            .chunks_mut(crate::par::CHUNK)
                            .zip(v.as_mut_slice().chunks_mut(crate::par::CHUNK)),
                    )
            })
            .collect();
        crate::par::for_each(scalars, &mut chunks, |((p, g), (m, v))| update(p, g, m, v));
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}
