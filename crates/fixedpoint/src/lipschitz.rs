//! Lipschitz constants: a guaranteed upper bound for an MLP, an empirical lower bound from
//! sampled pairs, and the contraction verdict that combines them.

use crate::check;
use crate::error::{Error, Result};
use crate::spectral_norm::spectral_norm_exact;
use nalgebra::{DMatrix, RealField};
use rand::Rng;

/// Upper bound Lip(f) ≤ L_act^(k−1) · Πᵢ σ_max(Wᵢ) for an MLP f = W_k ∘ φ ∘ … ∘ φ ∘ W₁ (biases
/// do not change Lipschitz constants) whose activation φ has Lipschitz constant
/// `activation_lipschitz` (1 for ReLU, ELU, tanh; ≈ 1.0998 for Swish, 1 for LipSwish).
///
/// `weights` are the layer matrices in order of application, in any orientation (σ_max(W) =
/// σ_max(Wᵀ)); the spectral norms come from the SVD, so the bound is not weakened by an
/// unconverged power iteration. Consecutive shapes are not checked against each other.
///
/// ```
/// use nalgebra::DMatrix;
/// let w1 = DMatrix::from_row_slice(2, 2, &[0.5, 0.0, 0.0, 0.2]);
/// let w2 = DMatrix::from_row_slice(1, 2, &[1.0, 1.0]);
/// let lip = fixedpoint::mlp_lipschitz_upper_bound(&[w1, w2], 1.0)?;
/// assert!((lip - 0.5 * 2f64.sqrt()).abs() < 1e-12);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn mlp_lipschitz_upper_bound<T: RealField + Copy>(
    weights: &[DMatrix<T>],
    activation_lipschitz: T,
) -> Result<T> {
    if weights.is_empty() {
        return Err(Error::InvalidInput("no weight matrices given".into()));
    }
    check::non_negative("activation_lipschitz", activation_lipschitz)?;
    let mut bound = T::one();
    for (i, w) in weights.iter().enumerate() {
        if i > 0 {
            bound *= activation_lipschitz;
        }
        bound *= spectral_norm_exact(w)
            .map_err(|e| Error::InvalidInput(format!("weight matrix {i}: {e}")))?;
    }
    Ok(bound)
}

/// The empirical Lipschitz ratio of [`empirical_lipschitz`] and the pair that attains it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmpiricalLipschitz<T> {
    /// max ‖f(a) − f(b)‖₂ / ‖a − b‖₂ over the sampled pairs: a lower bound on Lip(f).
    pub ratio: T,
    /// Row indices (a, b) of the maximising pair in `points`.
    pub pair: (usize, usize),
}

/// Lower bound on Lip(f) in the Euclidean norm: the largest ratio ‖f(a) − f(b)‖₂ / ‖a − b‖₂
/// over `n_pairs` pairs of distinct rows of `points` (an `n × d` batch, one sample per row),
/// drawn uniformly with `rng`. `f` maps the whole batch at once (`n × d` → `n × e`, row by
/// row) and is called once.
///
/// Pairs at equal points are skipped. Close points probe the local slope (the Jacobian norm),
/// so include some near pairs in `points` for a tight bound.
pub fn empirical_lipschitz<T, F, R>(
    mut f: F,
    points: &DMatrix<T>,
    n_pairs: usize,
    rng: &mut R,
) -> Result<EmpiricalLipschitz<T>>
where
    T: RealField + Copy,
    F: FnMut(&DMatrix<T>) -> DMatrix<T>,
    R: Rng + ?Sized,
{
    check::non_empty("points", points)?;
    check::finite_matrix("points", points)?;
    let n = points.nrows();
    if n < 2 || n_pairs == 0 {
        return Err(Error::InvalidInput(format!(
            "need at least 2 points and 1 pair, got {n} points and {n_pairs} pairs"
        )));
    }
    let values = f(points);
    if values.nrows() != n {
        return Err(Error::InvalidInput(format!(
            "the map returned {} rows for {n} points",
            values.nrows()
        )));
    }
    check::finite_matrix("f(points)", &values)?;
    let mut best = EmpiricalLipschitz {
        ratio: T::zero(),
        pair: (0, 1),
    };
    for _ in 0..n_pairs {
        let a = rng.random_range(0..n);
        // Draw b ≠ a uniformly among the other n − 1 rows.
        let b = (a + 1 + rng.random_range(0..n - 1)) % n;
        let dx = (points.row(a) - points.row(b)).norm();
        if dx == T::zero() {
            continue;
        }
        let ratio = (values.row(a) - values.row(b)).norm() / dx;
        if ratio > best.ratio {
            best = EmpiricalLipschitz {
                ratio,
                pair: (a, b),
            };
        }
    }
    Ok(best)
}

/// The verdict of [`is_contraction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contraction {
    /// The upper bound is below 1: f is a contraction.
    Proven,
    /// The empirical lower bound is at least 1: f is not a contraction.
    Refuted,
    /// Lower bound < 1 ≤ upper bound: the bounds do not decide.
    Undecided,
}

/// Combines an upper bound (e.g. [`mlp_lipschitz_upper_bound`]) and an empirical lower bound
/// (e.g. [`empirical_lipschitz`]) on Lip(f): the upper bound decides (upper < 1 proves a
/// contraction); the empirical bound can only refute (lower ≥ 1). A lower bound above the
/// upper one means the upper bound is wrong, and the verdict is [`Contraction::Refuted`].
///
/// ```
/// use fixedpoint::{is_contraction, Contraction};
/// assert_eq!(is_contraction(0.9, 0.7)?, Contraction::Proven);
/// assert_eq!(is_contraction(1.3, 0.7)?, Contraction::Undecided);
/// assert_eq!(is_contraction(1.3, 1.1)?, Contraction::Refuted);
/// # Ok::<(), fixedpoint::Error>(())
/// ```
pub fn is_contraction<T: RealField + Copy>(upper: T, empirical_lower: T) -> Result<Contraction> {
    check::non_negative("upper bound", upper)?;
    check::non_negative("empirical lower bound", empirical_lower)?;
    Ok(if empirical_lower >= T::one() || empirical_lower > upper {
        Contraction::Refuted
    } else if upper < T::one() {
        Contraction::Proven
    } else {
        Contraction::Undecided
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn mlp_bound_dominates_the_empirical_bound() {
        let mut rng = StdRng::seed_from_u64(11);
        let w1 = DMatrix::from_fn(16, 3, |_, _| rng.random_range(-0.5..0.5));
        let w2 = DMatrix::from_fn(3, 16, |_, _| rng.random_range(-0.5..0.5));
        let upper = mlp_lipschitz_upper_bound(&[w1.clone(), w2.clone()], 1.0).unwrap();
        // f(x) = W₂ tanh(W₁ x) on rows: X ↦ tanh(X W₁ᵀ) W₂ᵀ.
        let f = |x: &DMatrix<f64>| (x * w1.transpose()).map(f64::tanh) * w2.transpose();
        let pts = DMatrix::from_fn(200, 3, |_, _| rng.random_range(-1.0..1.0));
        let lower = empirical_lipschitz(f, &pts, 5000, &mut rng).unwrap();
        assert!(lower.ratio > 0.0 && lower.ratio <= upper);
        let (a, b) = lower.pair;
        assert_ne!(a, b);
        // For a linear map the sampled ratio approaches σ_max from below.
        let a_lin = w2.clone() * w1.clone();
        let lin = |x: &DMatrix<f64>| x * a_lin.transpose();
        let lower = empirical_lipschitz(lin, &pts, 5000, &mut rng).unwrap();
        let sigma = a_lin.singular_values().max();
        assert!(lower.ratio <= sigma * (1.0 + 1e-12) && lower.ratio > 0.5 * sigma);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!(mlp_lipschitz_upper_bound::<f64>(&[], 1.0).is_err());
        let w = DMatrix::from_element(2, 2, f64::INFINITY);
        assert!(mlp_lipschitz_upper_bound(&[w], 1.0).is_err());
        let one = DMatrix::from_element(1, 2, 0.0);
        assert!(empirical_lipschitz(|x: &DMatrix<f64>| x.clone(), &one, 10, &mut rng).is_err());
        assert!(is_contraction(f64::NAN, 0.5).is_err());
        assert_eq!(is_contraction(0.5, 0.6).unwrap(), Contraction::Refuted);
    }
}
