//! Learning-rate schedules.

use serde::{Deserialize, Serialize};

/// How the learning rate evolves over `steps` optimizer steps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Cosine annealing from the base rate to `min_lr` over the run (PyTorch's
    /// `CosineAnnealingLR` with `T_max = steps`): `η_t = η_min + (η − η_min)(1 + cos(π t/T))/2`.
    Cosine {
        /// Rate at the end of the run.
        min_lr: f64,
    },
    /// Linear warm-up over `warmup` steps, then cosine annealing to `min_lr`.
    WarmupCosine {
        /// Steps of linear warm-up from 0.
        warmup: usize,
        /// Rate at the end of the run.
        min_lr: f64,
    },
}

impl Schedule {
    /// The rate at step `t` (0-based) of `steps`, for base rate `lr`.
    pub fn rate(self, lr: f64, t: usize, steps: usize) -> f64 {
        let cosine = |t: usize, total: usize, min_lr: f64| {
            let frac = if total == 0 {
                1.0
            } else {
                (t as f64 / total as f64).min(1.0)
            };
            min_lr + (lr - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
        };
        match self {
            Schedule::Constant => lr,
            Schedule::Cosine { min_lr } => cosine(t, steps, min_lr),
            Schedule::WarmupCosine { warmup, min_lr } => {
                if t < warmup {
                    lr * (t + 1) as f64 / warmup as f64
                } else {
                    cosine(t - warmup, steps.saturating_sub(warmup), min_lr)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_matches_pytorch_endpoints_and_midpoint() {
        let s = Schedule::Cosine { min_lr: 0.0 };
        assert_eq!(s.rate(1e-3, 0, 100), 1e-3);
        assert!((s.rate(1e-3, 50, 100) - 5e-4).abs() < 1e-15);
        assert!(s.rate(1e-3, 100, 100).abs() < 1e-15);
        let w = Schedule::WarmupCosine {
            warmup: 10,
            min_lr: 0.0,
        };
        assert!((w.rate(1.0, 4, 110) - 0.5).abs() < 1e-15);
        assert_eq!(w.rate(1.0, 10, 110), 1.0);
        assert_eq!(Schedule::Constant.rate(0.3, 77, 100), 0.3);
    }
}
