//! Gradient clipping: global norm (PyTorch's `clip_grad_norm_`) and elementwise clamp.

use crate::{Float, lit};
use nalgebra::DMatrix;

/// The global L2 norm of all gradients together.
pub fn grad_norm<T: Float>(grads: &[DMatrix<T>]) -> f64 {
    grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|&v| {
            let v = v.to_f64();
            v * v
        })
        .sum::<f64>()
        .sqrt()
}

/// Scales all gradients together so their global L2 norm is at most `max_norm`; returns the
/// norm before clipping.
pub fn clip_grad_norm<T: Float>(grads: &mut [DMatrix<T>], max_norm: f64) -> f64 {
    let norm = grad_norm(grads);
    if norm > max_norm && norm > 0.0 {
        let s: T = lit(max_norm / norm);
        for g in grads.iter_mut() {
            *g *= s;
        }
    }
    norm
}

/// Clamps every gradient entry to `[−limit, limit]` (the INN paper's code clamps at 15).
pub fn clamp_grad_values<T: Float>(grads: &mut [DMatrix<T>], limit: f64) {
    let hi: T = lit(limit);
    let lo = -hi;
    for g in grads.iter_mut() {
        g.apply(|v| *v = v.clamp(lo, hi));
    }
}
