//! The [`Bijector`] trait: an invertible map with its log-determinant, both directions differentiable.

use crate::boundary::check_inputs;
use crate::{Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, Params, Tape, Var};
use serde::{Deserialize, Serialize};

/// The result of pushing a batch through a bijector: the output batch (`n × d`) and the
/// per-sample log|det J| of the map that was applied (`n × 1`).
pub type Output<'t, T> = (Var<'t, T>, Var<'t, T>);

/// An invertible map `f: ℝᵈ → ℝᵈ` on batches (`n × d`, one sample per row), optionally
/// conditioned on a side input `c` (`n × cond_dim`, as in conditional INNs).
///
/// Laws every implementation satisfies (checked for every block by the workspace property
/// suite in `tests/`):
/// - round trip: `inverse(forward(x)) = x` (and `forward(inverse(y)) = y`);
/// - the log-determinant returned by `forward` is `ln|det ∂f/∂x|` at `x`, per sample;
/// - the log-determinant returned by `inverse` at `y = f(x)` is its negative;
/// - both directions are differentiable with respect to inputs and parameters.
///
/// Parameters live in an [`autodiff::Params`] store that the block registered them in when
/// it was built; the methods take that store bound to a tape.
pub trait Bijector<T: Float>: Send + Sync + std::fmt::Debug {
    /// Width `d` of the batches the block maps.
    fn dim(&self) -> usize;

    /// The block's kind name, for error messages and model files (`"real_nvp"`, …).
    fn name(&self) -> &'static str {
        "bijector"
    }

    /// `y = f(x; c)` and `ln|det ∂y/∂x|` per sample (`n × 1`), after validating the input:
    /// `d` columns, at least one row, finite entries, and a condition of the right shape
    /// (errors name the block and the first bad entry).
    fn forward_with<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        check_inputs(self.name(), x, self.dim(), cond, self.cond_dim())?;
        self.forward_unchecked(p, x, cond)
    }

    /// `x = f⁻¹(y; c)` and `ln|det ∂x/∂y|` per sample (`n × 1`), after validating the input
    /// as [`Bijector::forward_with`] does.
    fn inverse_with<'t>(
        &self,
        p: &Bound<'t, T>,
        y: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        check_inputs(self.name(), y, self.dim(), cond, self.cond_dim())?;
        self.inverse_unchecked(p, y, cond)
    }

    /// The forward map itself, without validating its input: for a caller that validated the
    /// batch once at its own boundary (a [`Chain`](crate::Chain) checks its input at entry and
    /// runs its blocks unchecked, so a pass scans the batch once, not once per block). The
    /// caller guarantees the shapes; a non-finite entry propagates into the output (where a
    /// trainer sees it as a non-finite loss) instead of being an error.
    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>>;

    /// The inverse map without validating its input (see [`Bijector::forward_unchecked`]).
    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        y: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>>;

    /// The block as a serialisable description (kind name + its own serde form), for model files.
    fn spec(&self) -> Result<BlockSpec>;

    /// Width of the condition input, 0 for unconditional blocks (the default).
    fn cond_dim(&self) -> usize {
        0
    }

    /// Data-dependent initialisation on a first batch (ActNorm sets its scale and shift so the
    /// output is standardised). Returns the block's forward output on that batch, so a chain
    /// can initialise block after block. The default initialises nothing.
    fn data_init(
        &self,
        params: &mut Params<T>,
        x: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<DMatrix<T>> {
        Ok(self.forward_matrix_with(params, x, cond)?.0)
    }

    /// `y = f(x)` for an unconditional block.
    fn forward<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Output<'t, T>> {
        self.forward_with(p, x, None)
    }

    /// `x = f⁻¹(y)` for an unconditional block.
    fn inverse<'t>(&self, p: &Bound<'t, T>, y: Var<'t, T>) -> Result<Output<'t, T>> {
        self.inverse_with(p, y, None)
    }

    /// Forward on plain matrices without recording gradients: `(y, log|det J|)` as `n × d`, `n × 1`.
    fn forward_matrix_with(
        &self,
        params: &Params<T>,
        x: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        let (y, ld) = self.forward_with(&p, tape.constant(x.clone()), c)?;
        Ok((y.to_matrix(), ld.to_matrix()))
    }

    /// Inverse on plain matrices without recording gradients: `(x, log|det J⁻¹|)`.
    fn inverse_matrix_with(
        &self,
        params: &Params<T>,
        y: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        let (x, ld) = self.inverse_with(&p, tape.constant(y.clone()), c)?;
        Ok((x.to_matrix(), ld.to_matrix()))
    }

    /// [`Bijector::forward_matrix_with`] without a condition.
    fn forward_matrix(
        &self,
        params: &Params<T>,
        x: &DMatrix<T>,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        self.forward_matrix_with(params, x, None)
    }

    /// [`Bijector::inverse_matrix_with`] without a condition.
    fn inverse_matrix(
        &self,
        params: &Params<T>,
        y: &DMatrix<T>,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        self.inverse_matrix_with(params, y, None)
    }
}

/// A serialisable description of a block: its kind and its own serde form (architecture and
/// parameter handles; the parameter values live in the [`Params`] store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockSpec {
    /// The block type, e.g. `"real_nvp"`.
    pub kind: String,
    /// The block's serde form.
    pub config: serde_json::Value,
}

impl BlockSpec {
    /// Describes `block` under `kind`.
    pub fn new<B: Serialize>(kind: &str, block: &B) -> Result<Self> {
        Ok(Self {
            kind: kind.to_string(),
            config: serde_json::to_value(block).map_err(|e| Error::Spec(e.to_string()))?,
        })
    }

    /// Reads the block back as type `B`.
    pub fn decode<B: serde::de::DeserializeOwned>(&self) -> Result<B> {
        serde_json::from_value(self.config.clone())
            .map_err(|e| Error::Spec(format!("{}: {e}", self.kind)))
    }
}

/// Checks a batch at a block's boundary: `d` columns, at least one row, all entries finite
/// (the error names the first bad row).
pub fn check_batch<T: Float>(block: &'static str, x: &DMatrix<T>, d: usize) -> Result<()> {
    let (rows, cols) = x.shape();
    if cols != d {
        return Err(Error::Width {
            block,
            expected: d,
            rows,
            cols,
        });
    }
    if rows == 0 {
        return Err(Error::EmptyBatch { block });
    }
    autodiff::check_finite(block, x).map_err(|e| match e {
        autodiff::Error::NonFinite { row, col, .. } => Error::NonFinite { block, row, col },
        other => Error::Autodiff(other),
    })
}

/// Checks the condition input of a block with condition width `cond_dim` for a batch of `n` rows.
pub fn check_cond<T: Float>(
    block: &'static str,
    cond: Option<&DMatrix<T>>,
    cond_dim: usize,
    n: usize,
) -> Result<()> {
    match (cond, cond_dim) {
        (None, 0) => Ok(()),
        (Some(c), 0) => Err(Error::Condition {
            block,
            reason: format!(
                "the block takes no condition, got {} x {}",
                c.nrows(),
                c.ncols()
            ),
        }),
        (None, k) => Err(Error::Condition {
            block,
            reason: format!("the block needs a condition with {k} columns"),
        }),
        (Some(c), k) => {
            if c.shape() != (n, k) {
                return Err(Error::Condition {
                    block,
                    reason: format!("expected {n} x {k}, got {} x {}", c.nrows(), c.ncols()),
                });
            }
            check_batch(block, c, k)
        }
    }
}
