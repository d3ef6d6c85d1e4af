//! A fixed permutation of the features: volume preserving, exactly invertible.

use crate::boundary::zero_log_det;
use crate::{Bijector, BlockSpec, Error, Output, Result};
use autodiff::{Bound, Float, Var};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Reorders the columns of a batch `x: n × d` (one sample per row): output column `k` is
/// input column `perm[k]`. The inverse applies the inverse permutation exactly, and
/// `log|det J| = 0` (an `n × 1` column of zeros). Placed between coupling blocks so that every
/// feature is eventually transformed. It has no parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PermutationParts")]
pub struct Permutation {
    perm: Vec<usize>,
    #[serde(skip_serializing)]
    inverse: Vec<usize>,
}

/// The serialised form (the permutation only), validated into a [`Permutation`] on reading.
#[derive(Deserialize)]
struct PermutationParts {
    perm: Vec<usize>,
}

impl TryFrom<PermutationParts> for Permutation {
    type Error = Error;
    fn try_from(parts: PermutationParts) -> Result<Self> {
        Permutation::new(parts.perm)
    }
}

impl Permutation {
    /// The kind name in a [`BlockSpec`].
    pub const KIND: &'static str = "permutation";

    /// The permutation `perm` of `0..d` (`d ≥ 1`); errors when an index is out of range or repeated.
    pub fn new(perm: Vec<usize>) -> Result<Self> {
        let d = perm.len();
        if d == 0 {
            return Err(Error::Config(
                "permutation: needs at least one feature".into(),
            ));
        }
        let mut inverse = vec![usize::MAX; d];
        for (k, &i) in perm.iter().enumerate() {
            if i >= d {
                return Err(Error::Config(format!(
                    "permutation: index {i} at position {k} is out of range for {d} features"
                )));
            }
            if inverse[i] != usize::MAX {
                return Err(Error::Config(format!(
                    "permutation: index {i} appears twice (positions {} and {k})",
                    inverse[i]
                )));
            }
            inverse[i] = k;
        }
        Ok(Self { perm, inverse })
    }

    /// A uniformly random permutation of `0..d`, drawn from `rng`.
    pub fn random<R: Rng + ?Sized>(dim: usize, rng: &mut R) -> Result<Self> {
        let mut perm: Vec<usize> = (0..dim).collect();
        perm.shuffle(rng);
        Self::new(perm)
    }

    /// The reversal `perm[k] = d − 1 − k`.
    pub fn reverse(dim: usize) -> Result<Self> {
        Self::new((0..dim).rev().collect())
    }

    /// Output column `k` is input column `perm()[k]`.
    pub fn perm(&self) -> &[usize] {
        &self.perm
    }

    /// The inverse permutation: `inverse_perm()[perm()[k]] = k`.
    pub fn inverse_perm(&self) -> &[usize] {
        &self.inverse
    }

    fn apply<'t, T: Float>(
        &self,
        x: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
        index: &[usize],
    ) -> Result<Output<'t, T>> {
        Ok((x.gather_cols(index)?, zero_log_det(x)))
    }
}

impl<T: Float> Bijector<T> for Permutation {
    fn dim(&self) -> usize {
        self.perm.len()
    }

    fn name(&self) -> &'static str {
        Self::KIND
    }

    fn forward_unchecked<'t>(
        &self,
        _p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.apply(x, cond, &self.perm)
    }

    fn inverse_unchecked<'t>(
        &self,
        _p: &Bound<'t, T>,
        y: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.apply(y, cond, &self.inverse)
    }

    fn spec(&self) -> Result<BlockSpec> {
        BlockSpec::new(Self::KIND, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{Case, normal_batch};
    use autodiff::Params;
    use autodiff::nalgebra::DMatrix;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn laws_hold_for_random_reverse_and_trivial_permutations() {
        let mut rng = StdRng::seed_from_u64(0);
        let params = Params::<f64>::new();
        for block in [
            Permutation::random(7, &mut rng).unwrap(),
            Permutation::reverse(4).unwrap(),
            Permutation::new(vec![0]).unwrap(),
        ] {
            let x = normal_batch(5, block.perm().len(), &mut rng);
            Case {
                block: &block,
                params: &params,
                x,
                cond: None,
            }
            .check_all();
        }
    }

    #[test]
    fn output_columns_follow_the_permutation() {
        let block = Permutation::new(vec![2, 0, 1]).unwrap();
        assert_eq!(block.inverse_perm(), &[1, 2, 0]);
        let x = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let (y, ld) = block.forward_matrix(&Params::new(), &x).unwrap();
        assert_eq!(
            y,
            DMatrix::from_row_slice(2, 3, &[3.0, 1.0, 2.0, 6.0, 4.0, 5.0])
        );
        assert_eq!(ld, DMatrix::zeros(2, 1));
        assert_eq!(Permutation::reverse(3).unwrap().perm(), &[2, 1, 0]);
    }

    /// Seeded draws reproduce, and different seeds give different permutations.
    #[test]
    fn random_permutations_come_from_the_rng() {
        let draw = |seed| Permutation::random(16, &mut StdRng::seed_from_u64(seed)).unwrap();
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        let mut sorted = draw(5).perm().to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn invalid_permutations_are_errors() {
        for perm in [vec![], vec![0, 0], vec![1, 2], vec![0, 3, 1]] {
            assert!(matches!(Permutation::new(perm), Err(Error::Config(_))));
        }
        assert!(Permutation::random(0, &mut StdRng::seed_from_u64(0)).is_err());
        let spec = BlockSpec {
            kind: Permutation::KIND.into(),
            config: serde_json::json!({ "perm": [1, 1, 0] }),
        };
        assert!(matches!(
            crate::block_from_spec::<f64>(&spec),
            Err(Error::Spec(_))
        ));
    }
}
