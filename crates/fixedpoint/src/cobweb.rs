//! Orbits and cobweb trajectories of scalar maps, the point lists that orbit and cobweb plots
//! draw.

use crate::error::{Divergence, Error, Result};
use nalgebra::RealField;

/// The orbit x₀, f(x₀), f(f(x₀)), … with `n` applications of f (n + 1 points).
///
/// Errors with [`Error::InvalidInput`] for a non-finite `x0` and [`Error::Diverged`] when f
/// returns a non-finite value.
pub fn orbit<T, F>(mut f: F, x0: T, n: usize) -> Result<Vec<T>>
where
    T: RealField + Copy,
    F: FnMut(T) -> T,
{
    if !x0.is_finite() {
        return Err(Error::InvalidInput(format!("x0 is not finite: {x0}")));
    }
    let mut points = Vec::with_capacity(n + 1);
    points.push(x0);
    let mut x = x0;
    for iteration in 1..=n {
        x = f(x);
        if !x.is_finite() {
            return Err(Error::Diverged {
                iteration,
                reason: Divergence::NonFinite { row: 0, col: 0 },
            });
        }
        points.push(x);
    }
    Ok(points)
}

/// The cobweb path of `n` steps of f from x₀: (x₀, x₀) → (x₀, f(x₀)) → (f(x₀), f(x₀)) →
/// (f(x₀), f²(x₀)) → …, i.e. alternately a vertical move to the graph y = f(x) and a horizontal
/// move to the diagonal y = x; 2n + 1 points.
///
/// ```
/// let path = fixedpoint::cobweb(|x: f64| 0.5 * x, 1.0, 2)?;
/// assert_eq!(path, vec![(1.0, 1.0), (1.0, 0.5), (0.5, 0.5), (0.5, 0.25), (0.25, 0.25)]);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn cobweb<T, F>(f: F, x0: T, n: usize) -> Result<Vec<(T, T)>>
where
    T: RealField + Copy,
    F: FnMut(T) -> T,
{
    let xs = orbit(f, x0, n)?;
    let mut path = Vec::with_capacity(2 * n + 1);
    path.push((x0, x0));
    for w in xs.windows(2) {
        path.push((w[0], w[1]));
        path.push((w[1], w[1]));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogisticMap;

    #[test]
    fn cobweb_alternates_graph_and_diagonal() {
        let m = LogisticMap::new(2.8f64).unwrap();
        let path = cobweb(|x| m.apply(x), 0.2, 50).unwrap();
        assert_eq!(path.len(), 101);
        for (k, &(x, y)) in path.iter().enumerate() {
            if k % 2 == 0 {
                assert_eq!(x, y);
            } else {
                assert_eq!(y, m.apply(x));
            }
        }
        assert!((path[100].0 - m.fixed_point().unwrap()).abs() < 1e-4);
    }

    #[test]
    fn non_finite_values_are_errors() {
        assert!(matches!(
            orbit(|x: f64| x, f64::NAN, 3),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            orbit(|x: f64| x * 1e200, 1e200, 3),
            Err(Error::Diverged { iteration: 1, .. })
        ));
    }
}
