//! Banach (Picard) fixed-point iteration xₙ = f(xₙ₋₁) for f: ℝᵈ → ℝᵈ, over a vector or over an
//! `n × d` batch, with error bounds, optional Anderson acceleration, and diagnostics for
//! non-convergence, divergence and cycles.

use crate::anderson::{AndersonMixer, AndersonOptions};
use crate::bounds::{a_posteriori_bound, a_priori_bound};
use crate::check;
use crate::cycle::CycleDetector;
use crate::error::{Divergence, Error, Result};
use crate::norm::Norm;
use crate::scalar::{eps_tolerance, from_f64, to_f64};
use nalgebra::{DMatrix, DVector, RealField};
use std::collections::VecDeque;

/// Number of trailing steps carried by [`Error::NotConverged`].
const ERROR_TAIL: usize = 16;

/// How the iteration is sped up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Acceleration<T> {
    /// Plain Picard iteration xₙ = f(xₙ₋₁).
    #[default]
    None,
    /// Anderson acceleration (see [`AndersonOptions`]).
    Anderson(AndersonOptions<T>),
}

/// Which step sizes the result keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// The last `k` steps.
    Tail(usize),
    /// Every step, one per iteration (for convergence plots).
    Full,
}

impl Default for History {
    /// The last 16 steps.
    fn default() -> Self {
        Self::Tail(16)
    }
}

/// Options of [`banach`] and [`banach_batch`]. Build with `Default` and struct update syntax.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BanachOptions<T> {
    /// Error tolerance; default max(1e-10, 100·ε): 1e-10 for f64, ≈1.2e-5 for f32.
    ///
    /// With a known contraction constant the iteration stops when the a-posteriori bound
    /// c/(1−c)·‖xₙ − xₙ₋₁‖ ≤ `tol`; otherwise when the step ‖xₙ − xₙ₋₁‖ ≤ `tol`.
    pub tol: T,
    /// Maximum number of map evaluations; default 1000.
    pub max_iter: usize,
    /// A known Lipschitz constant c ∈ (0, 1) of f in `norm`; default `None`. When given, the
    /// result carries the a-posteriori and a-priori error bounds.
    pub contraction: Option<T>,
    /// Norm of the steps (per row for a batch); default [`Norm::L2`].
    pub norm: Norm,
    /// Plain iteration (default) or Anderson acceleration.
    pub acceleration: Acceleration<T>,
    /// Largest cycle period looked for (plain iteration only); default 8, 0 disables.
    pub max_cycle_period: usize,
    /// Closing tolerance ‖xₙ − xₙ₋ₚ‖ ≤ `cycle_tol` of a cycle; its points must also be pairwise
    /// at least √`cycle_tol` apart. Default max(1e-8, 1000·ε): 1e-8 for f64, ≈1.2e-4 for f32.
    pub cycle_tol: T,
    /// Declare divergence after this many consecutive strictly growing steps (default 10; 0
    /// disables) ...
    pub divergence_window: usize,
    /// ... once the step is at least this many times the smallest step seen; default 1e4.
    /// (Transient growth of a convergent non-normal linear map stays below this.)
    pub divergence_growth: T,
    /// Which steps the result keeps; default the last 16.
    pub history: History,
}

impl<T: RealField + Copy> Default for BanachOptions<T> {
    fn default() -> Self {
        Self {
            tol: eps_tolerance(1e-10, 100.0),
            max_iter: 1000,
            contraction: None,
            norm: Norm::L2,
            acceleration: Acceleration::None,
            max_cycle_period: 8,
            cycle_tol: eps_tolerance(1e-8, 1000.0),
            divergence_window: 10,
            divergence_growth: from_f64(1e4),
            history: History::default(),
        }
    }
}

impl<T: RealField + Copy> BanachOptions<T> {
    /// Default options with a known contraction constant `c` (checked when iterating).
    pub fn with_contraction(c: T) -> Self {
        Self {
            contraction: Some(c),
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        check::positive("tol", self.tol)?;
        if self.max_iter == 0 {
            return Err(Error::InvalidInput("max_iter must be at least 1".into()));
        }
        if let Some(c) = self.contraction {
            check::contraction_constant(c)?;
        }
        if let Acceleration::Anderson(a) = &self.acceleration {
            a.validate()?;
        }
        check::positive("cycle_tol", self.cycle_tol)?;
        check::positive("divergence_growth", self.divergence_growth)?;
        if let History::Tail(0) = self.history {
            return Err(Error::InvalidInput(
                "History::Tail needs at least one entry".into(),
            ));
        }
        Ok(())
    }

    /// Whether a step (‖xₙ − xₙ₋₁‖, or ‖f(y) − y‖ under acceleration) meets the stop rule.
    fn is_converged(&self, step: T) -> bool {
        match self.contraction {
            Some(c) => c / (T::one() - c) * step <= self.tol,
            None => step <= self.tol,
        }
    }
}

/// What a converged iteration returns.
#[derive(Debug, Clone, PartialEq)]
pub struct BanachSolution<X, T> {
    /// The approximate fixed point: xₙ = f(xₙ₋₁) for plain iteration; f(y) for the point y with
    /// the smallest residual under Anderson acceleration.
    pub point: X,
    /// Number of map evaluations n.
    pub iterations: usize,
    /// The last step ‖xₙ − xₙ₋₁‖ (max over rows for a batch); under acceleration ‖f(y) − y‖.
    pub step: T,
    /// The first step ‖x₁ − x₀‖ = ‖f(x₀) − x₀‖.
    pub first_step: T,
    /// Step sizes of the last `history.len()` iterations (all of them with [`History::Full`]),
    /// oldest first; the last entry belongs to iteration `iterations`.
    pub history: Vec<T>,
    /// c/(1−c)·`step` when c is known: a bound on the error of `point`.
    pub a_posteriori_bound: Option<T>,
    /// cⁿ/(1−c)·`first_step` when c is known and the iteration is plain (Anderson iterates do
    /// not obey it).
    pub a_priori_bound: Option<T>,
}

/// Solves x = f(x) for f: ℝᵈ → ℝᵈ by Banach (Picard) iteration from `x0`.
///
/// Errors: [`Error::InvalidInput`] for an empty or non-finite `x0`, bad options, or an `f`
/// returning a vector of another length; [`Error::NotConverged`], [`Error::Diverged`] and
/// [`Error::CycleDetected`] as described on [`Error`].
///
/// ```
/// use fixedpoint::{banach, BanachOptions};
/// use nalgebra::DVector;
///
/// // x ↦ cos(x) componentwise is a contraction on [0, 1] with c = sin(1) < 0.85.
/// let opts = BanachOptions::with_contraction(0.85);
/// let sol = banach(|x: &DVector<f64>| x.map(f64::cos), &DVector::from_element(2, 1.0), &opts)?;
/// assert!((sol.point[0] - 0.739_085_133_215_160_6).abs() <= sol.a_posteriori_bound.unwrap());
/// assert!(sol.a_posteriori_bound.unwrap() <= 1e-10);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn banach<T, F>(
    mut f: F,
    x0: &DVector<T>,
    opts: &BanachOptions<T>,
) -> Result<BanachSolution<DVector<T>, T>>
where
    T: RealField + Copy,
    F: FnMut(&DVector<T>) -> DVector<T>,
{
    let d = x0.len();
    let batch = DMatrix::from_row_slice(1, d, x0.as_slice());
    let mut length_error = None;
    let sol = banach_batch(
        |m: &DMatrix<T>| {
            let y = f(&DVector::from_column_slice(m.as_slice()));
            if y.len() != d {
                length_error.get_or_insert(y.len());
                // An empty output makes the batch driver report the shape mismatch.
                return DMatrix::zeros(0, 0);
            }
            DMatrix::from_row_slice(1, d, y.as_slice())
        },
        &batch,
        opts,
    )
    .map_err(|e| match length_error {
        Some(len) => Error::InvalidInput(format!(
            "the map returned a vector of length {len} for an input of length {d}"
        )),
        None => e,
    })?;
    Ok(BanachSolution {
        point: DVector::from_column_slice(sol.point.as_slice()),
        iterations: sol.iterations,
        step: sol.step,
        first_step: sol.first_step,
        history: sol.history,
        a_posteriori_bound: sol.a_posteriori_bound,
        a_priori_bound: sol.a_priori_bound,
    })
}

/// Solves x = f(x) for a batch: `x0` is `n × d` with one sample per row and `f` maps an
/// `n × d` batch to an `n × d` batch row by row (as the inverse of an i-ResNet block,
/// x ↦ y − g(x)). Steps are measured per row in `opts.norm`; the reported step, history and
/// bounds are the maximum over rows, so every row satisfies them.
///
/// Errors as for [`banach`]; a shape mismatch of `f`'s output names both shapes.
///
/// ```
/// use fixedpoint::{banach_batch, BanachOptions};
/// use nalgebra::DMatrix;
///
/// // Invert y = x + g(x) with g(x) = 0.5·sin(x) (Lipschitz 0.5): iterate x ↦ y − g(x).
/// let y = DMatrix::from_row_slice(3, 2, &[0.0, 1.0, -2.0, 0.3, 1.5, -0.7]);
/// let opts = BanachOptions::with_contraction(0.5);
/// let sol = banach_batch(|x: &DMatrix<f64>| &y - x.map(|v| 0.5 * v.sin()), &y, &opts)?;
/// let x = &sol.point;
/// let back = x + x.map(|v| 0.5 * v.sin());
/// assert!((back - &y).amax() < 1e-9);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn banach_batch<T, F>(
    f: F,
    x0: &DMatrix<T>,
    opts: &BanachOptions<T>,
) -> Result<BanachSolution<DMatrix<T>, T>>
where
    T: RealField + Copy,
    F: FnMut(&DMatrix<T>) -> DMatrix<T>,
{
    opts.validate()?;
    check::non_empty("x0", x0)?;
    check::finite_matrix("x0", x0)?;
    let run = Run::new(f, x0.shape(), opts);
    match opts.acceleration {
        Acceleration::None => run.picard(x0.clone()),
        Acceleration::Anderson(a) => run.anderson(x0.clone(), a),
    }
}

/// The state shared by the plain and the accelerated loop: the map, the step record and the
/// divergence monitor.
struct Run<'o, T: RealField + Copy, F> {
    f: F,
    shape: (usize, usize),
    opts: &'o BanachOptions<T>,
    history: VecDeque<T>,
    first_step: Option<T>,
    smallest_step: T,
    growing_for: usize,
}

impl<'o, T, F> Run<'o, T, F>
where
    T: RealField + Copy,
    F: FnMut(&DMatrix<T>) -> DMatrix<T>,
{
    fn new(f: F, shape: (usize, usize), opts: &'o BanachOptions<T>) -> Self {
        Self {
            f,
            shape,
            opts,
            history: VecDeque::new(),
            first_step: None,
            smallest_step: T::max_value().unwrap_or_else(T::one),
            growing_for: 0,
        }
    }

    /// f(x), checked for shape and finiteness; `iteration` counts evaluations from 1.
    fn eval(&mut self, x: &DMatrix<T>, iteration: usize) -> Result<DMatrix<T>> {
        let y = (self.f)(x);
        if y.shape() != self.shape {
            return Err(Error::InvalidInput(format!(
                "the map returned a {} × {} batch for a {} × {} input",
                y.nrows(),
                y.ncols(),
                self.shape.0,
                self.shape.1
            )));
        }
        if let Some((row, col)) = check::first_non_finite(&y) {
            return Err(Error::Diverged {
                iteration,
                reason: Divergence::NonFinite { row, col },
            });
        }
        Ok(y)
    }

    /// Records the step of `iteration` and checks it for sustained growth.
    fn record(&mut self, step: T, iteration: usize) -> Result<()> {
        let previous = self.history.back().copied();
        let keep = match self.opts.history {
            History::Tail(k) => k.max(ERROR_TAIL),
            History::Full => usize::MAX,
        };
        if self.history.len() == keep {
            self.history.pop_front();
        }
        self.history.push_back(step);
        self.first_step.get_or_insert(step);
        self.growing_for = match previous {
            Some(p) if step > p => self.growing_for + 1,
            _ => 0,
        };
        self.smallest_step = self.smallest_step.min(step);
        let window = self.opts.divergence_window;
        if window > 0
            && self.growing_for >= window
            && step >= self.opts.divergence_growth * self.smallest_step
        {
            return Err(Error::Diverged {
                iteration,
                reason: Divergence::GrowingSteps {
                    window: self.growing_for,
                    growth: to_f64(step / self.smallest_step),
                },
            });
        }
        Ok(())
    }

    fn not_converged(&self) -> Error {
        let skip = self.history.len().saturating_sub(ERROR_TAIL);
        Error::NotConverged {
            iterations: self.opts.max_iter,
            residual_tail: self.history.iter().skip(skip).map(|&s| to_f64(s)).collect(),
        }
    }

    fn solution(
        self,
        point: DMatrix<T>,
        iterations: usize,
        step: T,
        plain: bool,
    ) -> Result<BanachSolution<DMatrix<T>, T>> {
        let first_step = self.first_step.unwrap_or(step);
        let (a_posteriori, a_priori) = match self.opts.contraction {
            Some(c) => (
                Some(a_posteriori_bound(c, step)?),
                if plain {
                    Some(a_priori_bound(c, iterations, first_step)?)
                } else {
                    None
                },
            ),
            None => (None, None),
        };
        let keep = match self.opts.history {
            History::Tail(k) => k,
            History::Full => usize::MAX,
        };
        let skip = self.history.len().saturating_sub(keep);
        Ok(BanachSolution {
            point,
            iterations,
            step,
            first_step,
            history: self.history.into_iter().skip(skip).collect(),
            a_posteriori_bound: a_posteriori,
            a_priori_bound: a_priori,
        })
    }

    fn picard(mut self, mut x: DMatrix<T>) -> Result<BanachSolution<DMatrix<T>, T>> {
        let opts = self.opts;
        let mut cycles = CycleDetector::new(opts.max_cycle_period, opts.cycle_tol, opts.norm);
        cycles.push(&x);
        for iteration in 1..=opts.max_iter {
            let y = self.eval(&x, iteration)?;
            let step = opts.norm.max_row_distance(&y, &x);
            self.record(step, iteration)?;
            if opts.is_converged(step) {
                return self.solution(y, iteration, step, true);
            }
            if let Some((period, points)) = cycles.push(&y) {
                return Err(Error::CycleDetected { period, points });
            }
            x = y;
        }
        Err(self.not_converged())
    }

    fn anderson(
        mut self,
        mut x: DMatrix<T>,
        anderson: AndersonOptions<T>,
    ) -> Result<BanachSolution<DMatrix<T>, T>> {
        let opts = self.opts;
        let n = self.shape.0;
        let mut mixer = AndersonMixer::new(anderson);
        // Per row: the smallest residual ‖f(y) − y‖ seen and the map value f(y) at that y.
        let mut best_residual = vec![T::max_value().unwrap_or_else(T::one); n];
        let mut best_value = x.clone();
        let mut residuals = Vec::with_capacity(n);
        let mut frozen = vec![false; n];
        for iteration in 1..=opts.max_iter {
            let fx = self.eval(&x, iteration)?;
            let g = &fx - &x;
            opts.norm.row_norms(&g, &mut residuals);
            for (i, &r) in residuals.iter().enumerate() {
                if r < best_residual[i] {
                    best_residual[i] = r;
                    best_value.set_row(i, &fx.row(i));
                }
                frozen[i] = opts.is_converged(best_residual[i]);
            }
            let step = residuals.iter().fold(T::zero(), |a, &b| a.max(b));
            self.record(step, iteration)?;
            if frozen.iter().all(|&f| f) {
                let best = best_residual.iter().fold(T::zero(), |a, &b| a.max(b));
                return self.solution(best_value, iteration, best, false);
            }
            x = mixer.next(x, g, &frozen);
        }
        Err(self.not_converged())
    }
}

#[cfg(test)]
mod tests;
