//! Stochastic gradient descent with momentum and weight decay.

use super::{Optimizer, validate};
use crate::{Float, Params, Result, lit};
use nalgebra::DMatrix;

/// SGD: `v ← μ v + (g + λ p)`, `p ← p − η v` (PyTorch's convention; μ = 0 is plain SGD).
#[derive(Clone, Debug)]
pub struct Sgd<T: Float> {
    /// Learning rate η.
    pub lr: f64,
    /// Momentum μ.
    pub momentum: f64,
    /// L2 weight decay λ.
    pub weight_decay: f64,
    velocity: Vec<DMatrix<T>>,
}

impl<T: Float> Sgd<T> {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
            velocity: Vec::new(),
        }
    }

    /// With momentum μ.
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut Params<T>, grads: &[DMatrix<T>]) -> Result<()> {
        validate(params, grads)?;
        if self.velocity.len() != grads.len() {
            self.velocity = grads
                .iter()
                .map(|g| DMatrix::zeros(g.nrows(), g.ncols()))
                .collect();
        }
        let (lr, mu, wd): (T, T, T) = (lit(self.lr), lit(self.momentum), lit(self.weight_decay));
        let scalars = params.n_scalars();
        let chunk = crate::par::CHUNK;
        let mut chunks: Vec<_> = params
            .values_mut()
            .zip(grads)
            .zip(&mut self.velocity)
            .flat_map(|((p, g), v)| {
                p.as_mut_slice()
                    .chunks_mut(chunk)
                    .zip(g.as_slice().chunks(chunk))
                    .zip(v.as_mut_slice().chunks_mut(chunk))
            })
            .collect();
        crate::par::for_each(scalars, &mut chunks, |((p, g), v)| {
            for ((pv, &gv), vv) in p.iter_mut().zip(g.iter()).zip(v.iter_mut()) {
                *vv = mu * *vv + gv + wd * *pv;
                *pv -= lr * *vv;
            }
        });
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}
