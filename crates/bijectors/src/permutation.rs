//! A fixed permutation of the features: volume preserving, exactly invertible.

use crate::boundary::{check_inputs, zero_log_det};
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
        cond: Option<Var<'t, T>>,
        index: &[usize],
    ) -> Result<Output<'t, T>> {
        check_inputs(Self::KIND, x, self.perm.len(), cond, 0)?;
        Ok((x.gather_cols(index)?, zero_log_det(x)))
    }
}

impl<T: Float> Bijector<T> for Permutation {
    fn dim(&self) -> usize {
        self.perm.len()
    }

    fn forward_with<'t>(
        &self,
        _p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.apply(x, cond, &self.perm)
    }

    fn inverse_with<'t>(
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
