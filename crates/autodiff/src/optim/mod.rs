//! Optimizers ([`Sgd`], [`Adam`]) and gradient clipping.

mod adam;
mod clip;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use clip::{clamp_grad_values, clip_grad_norm, grad_norm};
pub use sgd::Sgd;

use crate::{Error, Float, Params, Result, check_finite};
use nalgebra::DMatrix;

/// Updates parameters from their gradients (one gradient per parameter, in store order, as
/// [`Bound::gradients`](crate::Bound::gradients) returns them).
pub trait Optimizer<T: Float> {
    /// One update. Nothing changes when it errors (wrong count or shapes, non-finite gradients).
    fn step(&mut self, params: &mut Params<T>, grads: &[DMatrix<T>]) -> Result<()>;
    /// The current learning rate.
    fn learning_rate(&self) -> f64;
    /// Sets the learning rate (schedules call this before each step).
    fn set_learning_rate(&mut self, lr: f64);
}

/// Checks gradients against the store before any state changes.
pub(crate) fn validate<T: Float>(params: &Params<T>, grads: &[DMatrix<T>]) -> Result<()> {
    if grads.len() != params.len() {
        return Err(Error::Param(format!(
            "{} gradients for {} parameters",
            grads.len(),
            params.len()
        )));
    }
    for ((_, _, value), g) in params.iter().zip(grads) {
        if value.shape() != g.shape() {
            return Err(Error::Shape {
                op: "Optimizer::step",
                left: value.shape(),
                right: g.shape(),
            });
        }
    }
    if crate::par::all_finite(grads) {
        return Ok(());
    }
    for ((_, name, _), g) in params.iter().zip(grads) {
        check_finite(&format!("gradient of {name}"), g)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(v: f64) -> Params<f64> {
        let mut p = Params::new();
        p.add("w", DMatrix::from_element(1, 2, v)).unwrap();
        p
    }

    #[test]
    fn adam_first_steps_match_hand_computation() {
        let mut p = store(1.0);
        let mut adam = Adam::new(AdamConfig {
            lr: 0.1,
            ..AdamConfig::default()
        });
        let g = vec![DMatrix::from_row_slice(1, 2, &[0.5, -2.0])];
        adam.step(&mut p, &g).unwrap();
        // Step 1: m̂ = g, v̂ = g², update = lr · g / (|g| + ε) ≈ lr · sign(g).
        let w = p.get(p.id("w").unwrap());
        assert!((w[(0, 0)] - 0.9).abs() < 1e-7 && (w[(0, 1)] - 1.1).abs() < 1e-7);
        adam.step(&mut p, &g).unwrap();
        let w = p.get(p.id("w").unwrap());
        assert!((w[(0, 0)] - 0.8).abs() < 1e-7 && (w[(0, 1)] - 1.2).abs() < 1e-7);
    }

    #[test]
    fn weight_decay_variants() {
        let g = vec![DMatrix::zeros(1, 2)];
        let mut p = store(2.0);
        let mut adamw = Adam::new(AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            decoupled: true,
            ..AdamConfig::default()
        });
        adamw.step(&mut p, &g).unwrap();
        assert!((p.get(p.id("w").unwrap())[(0, 0)] - 2.0 * (1.0 - 0.05)).abs() < 1e-12);
        let mut p = store(2.0);
        let mut adam = Adam::new(AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..AdamConfig::default()
        });
        adam.step(&mut p, &g).unwrap();
        // L2 decay enters the gradient (g = λ p = 1), so the first step is −lr.
        assert!((p.get(p.id("w").unwrap())[(0, 0)] - 1.9).abs() < 1e-7);
    }

    #[test]
    fn sgd_with_momentum() {
        let mut p = store(1.0);
        let mut sgd = Sgd::new(0.1).with_momentum(0.9);
        let g = vec![DMatrix::from_element(1, 2, 1.0)];
        sgd.step(&mut p, &g).unwrap();
        sgd.step(&mut p, &g).unwrap();
        // v1 = 1, v2 = 1.9: w = 1 − 0.1 − 0.19.
        assert!((p.get(p.id("w").unwrap())[(0, 0)] - 0.71).abs() < 1e-12);
    }

    #[test]
    fn bad_gradients_are_errors_and_change_nothing() {
        let mut p = store(1.0);
        let before = p.clone();
        let mut adam = Adam::with_lr(0.1);
        let nan = vec![DMatrix::from_row_slice(1, 2, &[0.0, f64::NAN])];
        assert!(matches!(
            adam.step(&mut p, &nan),
            Err(Error::NonFinite { col: 1, .. })
        ));
        assert!(matches!(
            adam.step(&mut p, &[DMatrix::zeros(2, 2)]),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(adam.step(&mut p, &[]), Err(Error::Param(_))));
        assert_eq!(p, before);
        assert_eq!(adam.steps(), 0);
    }

    #[test]
    fn clipping() {
        let mut g = vec![
            DMatrix::from_row_slice(1, 2, &[3.0, 0.0]),
            DMatrix::from_element(1, 1, 4.0),
        ];
        let norm = clip_grad_norm(&mut g, 1.0);
        assert!((norm - 5.0).abs() < 1e-12);
        assert!((grad_norm(&g) - 1.0).abs() < 1e-12);
        let mut g = vec![DMatrix::from_row_slice(1, 3, &[-20.0, 3.0, 16.0])];
        clamp_grad_values(&mut g, 15.0);
        assert_eq!(g[0], DMatrix::from_row_slice(1, 3, &[-15.0, 3.0, 15.0]));
    }
}
