//! Anderson acceleration (type II, Walker & Ni 2011) of a fixed-point iteration, row by row.
//!
//! With residuals gₖ = f(xₖ) − xₖ and the last m differences ΔXⱼ = xⱼ₊₁ − xⱼ,
//! ΔGⱼ = gⱼ₊₁ − gⱼ, each step solves the regularised least-squares problem
//! γ = argmin ‖gₖ − ΔG γ‖² + λ·s·‖γ‖² (s = the largest diagonal entry of ΔGᵀΔG, which
//! makes λ scale-free) and moves to xₖ₊₁ = xₖ + β gₖ − (ΔX + β ΔG) γ. This is the
//! constrained form min ‖Σ αⱼ gⱼ‖, Σ αⱼ = 1, written in differences.

use crate::check;
use crate::error::Result;
use crate::scalar::from_f64;
use nalgebra::{DMatrix, RealField};
use std::collections::VecDeque;

/// Options of Anderson acceleration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AndersonOptions<T> {
    /// History depth m (number of past differences used); default 5.
    pub depth: usize,
    /// Mixing parameter β in (0, 1]; 1 (default) mixes the map values f(xⱼ) only.
    pub mixing: T,
    /// Tikhonov regularisation λ ≥ 0 of the least-squares problem, relative to the largest
    /// diagonal entry of the Gram matrix ΔGᵀΔG; default 1e-4.
    pub regularization: T,
}

impl<T: RealField + Copy> Default for AndersonOptions<T> {
    fn default() -> Self {
        Self {
            depth: 5,
            mixing: T::one(),
            regularization: from_f64(1e-4),
        }
    }
}

impl<T: RealField + Copy> AndersonOptions<T> {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return Err(crate::Error::InvalidInput(
                "Anderson depth must be at least 1".into(),
            ));
        }
        check::positive("Anderson mixing", self.mixing)?;
        if self.mixing > T::one() {
            return Err(crate::Error::InvalidInput(format!(
                "Anderson mixing must lie in (0, 1], got {}",
                self.mixing
            )));
        }
        check::non_negative("Anderson regularization", self.regularization)
    }
}

/// The Anderson state for an `n × d` batch: each row (sample) has its own least-squares problem,
/// so samples do not mix.
pub(crate) struct AndersonMixer<T: RealField + Copy> {
    opts: AndersonOptions<T>,
    dx: VecDeque<DMatrix<T>>,
    dg: VecDeque<DMatrix<T>>,
    previous: Option<(DMatrix<T>, DMatrix<T>)>,
}

impl<T: RealField + Copy> AndersonMixer<T> {
    pub(crate) fn new(opts: AndersonOptions<T>) -> Self {
        Self {
            opts,
            dx: VecDeque::with_capacity(opts.depth),
            dg: VecDeque::with_capacity(opts.depth),
            previous: None,
        }
    }

    /// The next iterate from the current iterate `x` and its residual `g = f(x) − x`.
    /// Rows with `frozen[i]` keep their value (they have already converged).
    pub(crate) fn next(&mut self, x: DMatrix<T>, g: DMatrix<T>, frozen: &[bool]) -> DMatrix<T> {
        if let Some((x_prev, g_prev)) = self.previous.take() {
            if self.dx.len() == self.opts.depth {
                self.dx.pop_front();
                self.dg.pop_front();
            }
            self.dx.push_back(&x - x_prev);
            self.dg.push_back(&g - g_prev);
        }
        let beta = self.opts.mixing;
        let mut next = &x + &g * beta;
        for (i, &done) in frozen.iter().enumerate() {
            if done {
                next.set_row(i, &x.row(i));
            } else if let Some(gamma) = self.coefficients(i, &g) {
                for (k, &gk) in gamma.iter().enumerate() {
                    let correction = (self.dx[k].row(i) + self.dg[k].row(i) * beta) * gk;
                    let mut row = next.row_mut(i);
                    row -= correction;
                }
            }
        }
        self.previous = Some((x, g));
        next
    }

    /// γ for row `i`, or `None` when there is no usable history (plain mixing step then).
    fn coefficients(&self, i: usize, g: &DMatrix<T>) -> Option<Vec<T>> {
        let k = self.dg.len();
        if k == 0 {
            return None;
        }
        let mut gram = DMatrix::<T>::zeros(k, k);
        let mut rhs = nalgebra::DVector::<T>::zeros(k);
        for a in 0..k {
            let ga = self.dg[a].row(i);
            rhs[a] = ga.dot(&g.row(i));
            for b in 0..=a {
                let v = ga.dot(&self.dg[b].row(i));
                gram[(a, b)] = v;
                gram[(b, a)] = v;
            }
        }
        let scale = (0..k).fold(T::zero(), |s, a| s.max(gram[(a, a)]));
        if !(scale > T::zero() && scale.is_finite()) {
            return None;
        }
        // A floor of one ulp keeps the Cholesky factorisation defined when λ = 0.
        let ridge = scale * self.opts.regularization.max(T::default_epsilon());
        for a in 0..k {
            gram[(a, a)] += ridge;
        }
        let gamma = gram.cholesky()?.solve(&rhs);
        gamma
            .iter()
            .all(|v| v.is_finite())
            .then(|| gamma.iter().copied().collect())
    }
}
