//! Detection of periodic orbits x_n ≈ x_{n−p} (p ≥ 2) in a plain fixed-point iteration.

use crate::norm::Norm;
use crate::scalar::to_f64;
use nalgebra::{DMatrix, RealField};
use std::collections::VecDeque;

/// Keeps the last `max_period + 1` iterates and reports the smallest period p ∈ [2, max_period]
/// with max-row ‖xₙ − xₙ₋ₚ‖ ≤ `tol` whose p points are pairwise at least √`tol` apart.
///
/// The separation test keeps a slowly converging oscillation around a fixed point (multiplier
/// close to −1, where ‖xₙ − xₙ₋₂‖ ≪ ‖xₙ − xₙ₋₁‖) from being mistaken for a 2-cycle: there the
/// "cycle points" are as close to each other as the step, which shrinks to 0.
pub(crate) struct CycleDetector<T: RealField + Copy> {
    max_period: usize,
    tol: T,
    separation: T,
    norm: Norm,
    recent: VecDeque<DMatrix<T>>,
}

impl<T: RealField + Copy> CycleDetector<T> {
    /// A detector for periods up to `max_period` (0 or 1 disables it).
    pub(crate) fn new(max_period: usize, tol: T, norm: Norm) -> Self {
        Self {
            max_period,
            tol,
            separation: tol.sqrt(),
            norm,
            recent: VecDeque::with_capacity(max_period + 1),
        }
    }

    /// Records the iterate `x` and returns `(period, points)` when the recent iterates close up
    /// into a cycle (points flattened row-major, in orbit order).
    pub(crate) fn push(&mut self, x: &DMatrix<T>) -> Option<(usize, Vec<Vec<f64>>)> {
        if self.max_period < 2 {
            return None;
        }
        if self.recent.len() > self.max_period {
            self.recent.pop_front();
        }
        self.recent.push_back(x.clone());
        let last = self.recent.len() - 1;
        let period = (2..=self.max_period.min(last)).find(|&p| {
            self.distance(last, last - p) <= self.tol && self.points_are_distinct(last, p)
        })?;
        let points = (last + 1 - period..=last)
            .map(|k| {
                let m = &self.recent[k];
                let mut flat = Vec::with_capacity(m.len());
                for row in m.row_iter() {
                    flat.extend(row.iter().map(|&v| to_f64(v)));
                }
                flat
            })
            .collect();
        Some((period, points))
    }

    fn distance(&self, a: usize, b: usize) -> T {
        self.norm.max_row_distance(&self.recent[a], &self.recent[b])
    }

    fn points_are_distinct(&self, last: usize, p: usize) -> bool {
        let first = last + 1 - p;
        (first..=last).all(|a| (a + 1..=last).all(|b| self.distance(a, b) >= self.separation))
    }
}
