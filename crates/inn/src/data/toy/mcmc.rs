//! An adaptive random-walk Metropolis sampler: reference posterior samples for test problems
//! whose posterior has no closed form ([`super::LorentzSpectrum`]).
//!
//! Haario et al. 2001 ("An adaptive Metropolis algorithm") in its simplest two-stage form: the
//! first half of the burn-in proposes `x' = x + λ s ⊙ ε` (diagonal scales `s`); the second half
//! `x' = x + λ (2.38/√d) L ε` with `L L'` the covariance of the first half's states; in both, the
//! global scale `λ` follows a Robbins–Monro recursion towards acceptance rate 0.234
//! (`ln λ ← ln λ + (accepted − 0.234)/√(t + 1)`). The kept states come after the burn-in, from a
//! fixed proposal, so they form an ordinary Metropolis chain with the target as its stationary
//! distribution.

use nalgebra::{Cholesky, DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::{Error, Result};

/// Options of the reference sampler ([`super::LorentzSpectrum::posterior_sample_mcmc`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McmcOptions {
    /// Adaptation steps before the first kept state (half diagonal, half full covariance).
    /// Default 20 000.
    pub burn_in: usize,
    /// Steps between kept states (thinning against autocorrelation). Default 20.
    pub thin: usize,
}

impl Default for McmcOptions {
    fn default() -> Self {
        Self {
            burn_in: 20_000,
            thin: 20,
        }
    }
}

/// Target acceptance rate of a random-walk Metropolis sampler in several dimensions
/// (Roberts, Gelman and Gilks 1997).
const TARGET_ACCEPTANCE: f64 = 0.234;

/// `n` states (an `n × d` matrix, one per row) of an adaptive Metropolis chain targeting the
/// unnormalised log-density `log_density`, started at `start` (where it must be finite), with
/// initial per-coordinate proposal scales `scales`.
pub(super) fn adaptive_metropolis(
    log_density: impl Fn(&[f64]) -> f64,
    start: &[f64],
    scales: &[f64],
    n: usize,
    options: McmcOptions,
    rng: &mut impl Rng,
) -> Result<DMatrix<f64>> {
    let d = start.len();
    let mut x = start.to_vec();
    let mut lp = log_density(&x);
    if !lp.is_finite() {
        return Err(Error::InvalidParameter {
            name: "start",
            value: lp,
            reason: "the chain must start where the log-density is finite",
        });
    }
    let mut log_lambda = 0.0_f64;
    let mut proposal = vec![0.0; d];
    // One Metropolis step with the proposal step `delta`; returns whether it moved.
    let mut step = |x: &mut Vec<f64>, lp: &mut f64, delta: &[f64], rng: &mut dyn rand::RngCore| {
        for ((p, xi), di) in proposal.iter_mut().zip(x.iter()).zip(delta) {
            *p = xi + di;
        }
        let lp_new = log_density(&proposal);
        let accept = lp_new.is_finite() && rng.random::<f64>().ln() < lp_new - *lp;
        if accept {
            x.copy_from_slice(&proposal);
            *lp = lp_new;
        }
        accept
    };
    let normal = |rng: &mut dyn rand::RngCore| -> DVector<f64> {
        DVector::from_fn(d, |_, _| rng.sample(StandardNormal))
    };
    let half = options.burn_in / 2;
    let mut history = DMatrix::zeros(half.max(1), d);
    for t in 0..half {
        let eps = normal(rng);
        let delta: Vec<f64> = (0..d)
            .map(|k| log_lambda.exp() * scales[k] * eps[k])
            .collect();
        let accepted = step(&mut x, &mut lp, &delta, rng);
        log_lambda += (f64::from(u8::from(accepted)) - TARGET_ACCEPTANCE) / ((t + 1) as f64).sqrt();
        history.row_mut(t).copy_from_slice(&x);
    }
    // The covariance of the first half's states (a ridge keeps it positive definite when a
    // coordinate never moved), scaled by 2.38²/d.
    let factor = if half >= 2 * d {
        let mean = history.row_mean();
        let mut centred = history.clone();
        for mut row in centred.row_iter_mut() {
            row -= &mean;
        }
        let mut cov = centred.transpose() * centred / (half - 1) as f64;
        for k in 0..d {
            cov[(k, k)] += 1e-12 + 1e-9 * scales[k] * scales[k];
        }
        Cholesky::new(cov).map(|c| c.l() * (2.38 / (d as f64).sqrt()))
    } else {
        None
    }
    .unwrap_or_else(|| DMatrix::from_diagonal(&DVector::from_column_slice(scales)));
    log_lambda = 0.0;
    let mut draw =
        |x: &mut Vec<f64>, lp: &mut f64, log_lambda: f64, rng: &mut dyn rand::RngCore| {
            let delta = (&factor * normal(rng)) * log_lambda.exp();
            step(x, lp, delta.as_slice(), rng)
        };
    for t in 0..options.burn_in - half {
        let accepted = draw(&mut x, &mut lp, log_lambda, rng);
        log_lambda += (f64::from(u8::from(accepted)) - TARGET_ACCEPTANCE) / ((t + 1) as f64).sqrt();
    }
    let mut out = DMatrix::zeros(n, d);
    for i in 0..n {
        for _ in 0..options.thin.max(1) {
            draw(&mut x, &mut lp, log_lambda, rng);
        }
        out.row_mut(i).copy_from_slice(&x);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// On a correlated 2-D Gaussian (correlation 0.9, scales 1 and 0.01) started at its mean,
    /// the kept states have the target's mean and covariance.
    #[test]
    fn samples_a_correlated_gaussian() {
        let (s1, s2, rho) = (1.0, 0.01, 0.9);
        let cov = DMatrix::from_row_slice(2, 2, &[s1 * s1, rho * s1 * s2, rho * s1 * s2, s2 * s2]);
        let precision = cov.clone().try_inverse().unwrap();
        let mean = [0.5, -2.0];
        let log_density = |x: &[f64]| {
            let r = DVector::from_column_slice(&[x[0] - mean[0], x[1] - mean[1]]);
            -0.5 * (r.transpose() * &precision * &r)[(0, 0)]
        };
        let n = 20_000;
        let draws = adaptive_metropolis(
            log_density,
            &mean,
            &[0.1, 0.1],
            n,
            McmcOptions {
                burn_in: 10_000,
                thin: 5,
            },
            &mut StdRng::seed_from_u64(4),
        )
        .unwrap();
        let m = draws.row_mean();
        assert!((m[0] - mean[0]).abs() < 0.05 * s1, "{m}");
        assert!((m[1] - mean[1]).abs() < 0.05 * s2, "{m}");
        let mut centred = draws.clone();
        for mut row in centred.row_iter_mut() {
            row -= &m;
        }
        let c = centred.transpose() * centred / (n - 1) as f64;
        assert!((c[(0, 0)] / cov[(0, 0)] - 1.0).abs() < 0.1, "{c}");
        assert!((c[(1, 1)] / cov[(1, 1)] - 1.0).abs() < 0.1, "{c}");
        assert!(
            (c[(0, 1)] / (c[(0, 0)] * c[(1, 1)]).sqrt() - rho).abs() < 0.03,
            "{c}"
        );
    }

    #[test]
    fn a_start_outside_the_support_is_an_error() {
        let err = adaptive_metropolis(
            |_| f64::NEG_INFINITY,
            &[0.0],
            &[1.0],
            3,
            McmcOptions::default(),
            &mut StdRng::seed_from_u64(0),
        );
        assert!(matches!(
            err,
            Err(Error::InvalidParameter { name: "start", .. })
        ));
    }
}
