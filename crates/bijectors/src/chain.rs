//! A sequence of blocks applied one after another; its log-determinant is the sum of theirs.

use crate::boundary::check_inputs;
use crate::registry::block_from_spec;
use crate::{Bijector, BlockSpec, Error, Output, Result, check_batch, check_cond};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, Params, Var};
use serde::{Deserialize, Serialize};

/// The composition `f_K ∘ … ∘ f_1` of blocks on batches `x: n × d` (one sample per row).
///
/// Forward runs the blocks in order and sums their log-determinants (`n × 1`); inverse runs
/// the inverses in reverse order and sums theirs. Every block has the same width `d`
/// (checked at construction). The chain's condition width is the one shared by its
/// conditional blocks (0 when there are none); a condition is passed only to the blocks with
/// `cond_dim() > 0`. [`Bijector::data_init`] initialises the blocks one after another, each on
/// the previous one's output.
#[derive(Debug)]
pub struct Chain<T: Float> {
    blocks: Vec<Box<dyn Bijector<T>>>,
    dim: usize,
    cond_dim: usize,
}

/// The serialised form of a [`Chain`]: the specs of its blocks, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ChainSpec {
    blocks: Vec<BlockSpec>,
}

impl<T: Float> Chain<T> {
    /// The kind name in a [`BlockSpec`].
    pub const KIND: &'static str = KIND;

    /// Chains `blocks` (at least one). Errors when their widths differ or when conditional
    /// blocks disagree on the condition width.
    pub fn new(blocks: Vec<Box<dyn Bijector<T>>>) -> Result<Self> {
        let first = blocks
            .first()
            .ok_or_else(|| Error::Config("chain: needs at least one block".into()))?;
        let dim = first.dim();
        let mut cond_dim = 0;
        for (k, block) in blocks.iter().enumerate() {
            if block.dim() != dim {
                return Err(Error::Config(format!(
                    "chain: block {k} has width {}, block 0 has width {dim}",
                    block.dim()
                )));
            }
            let c = block.cond_dim();
            if c > 0 {
                if cond_dim > 0 && c != cond_dim {
                    return Err(Error::Config(format!(
                        "chain: block {k} takes a condition of width {c}, an earlier block takes {cond_dim}"
                    )));
                }
                cond_dim = c;
            }
        }
        Ok(Self {
            blocks,
            dim,
            cond_dim,
        })
    }

    /// Rebuilds a chain from a spec of kind `"chain"` (every block through [`block_from_spec`]).
    pub fn from_spec(spec: &BlockSpec) -> Result<Self> {
        if spec.kind != KIND {
            return Err(Error::Spec(format!(
                "expected a {KIND:?} spec, got {:?}",
                spec.kind
            )));
        }
        let parts: ChainSpec = spec.decode()?;
        Self::new(
            parts
                .blocks
                .iter()
                .map(block_from_spec)
                .collect::<Result<_>>()?,
        )
    }

    /// The blocks, in forward order.
    pub fn blocks(&self) -> &[Box<dyn Bijector<T>>] {
        &self.blocks
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Always `false`: a chain holds at least one block.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The condition for one block: the chain's, for conditional blocks only.
    fn cond_for<C>(block: &dyn Bijector<T>, cond: Option<C>) -> Option<C> {
        if block.cond_dim() > 0 { cond } else { None }
    }

    /// Adds up the per-block log-determinants.
    fn run<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
        inverse: bool,
    ) -> Result<Output<'t, T>> {
        check_inputs(KIND, x, self.dim, cond, self.cond_dim)?;
        let mut h = x;
        let mut log_det: Option<Var<'t, T>> = None;
        let mut step = |block: &dyn Bijector<T>| -> Result<()> {
            let c = Self::cond_for(block, cond);
            let (next, ld) = if inverse {
                block.inverse_with(p, h, c)?
            } else {
                block.forward_with(p, h, c)?
            };
            h = next;
            log_det = Some(match log_det {
                Some(acc) => acc.add(ld)?,
                None => ld,
            });
            Ok(())
        };
        if inverse {
            self.blocks
                .iter()
                .rev()
                .try_for_each(|b| step(b.as_ref()))?;
        } else {
            self.blocks.iter().try_for_each(|b| step(b.as_ref()))?;
        }
        // `new` guarantees at least one block, so the sum exists.
        let log_det = log_det.ok_or_else(|| Error::Config("chain: no blocks".into()))?;
        Ok((h, log_det))
    }
}

/// The kind name of a chain in a [`BlockSpec`].
pub(crate) const KIND: &str = "chain";

impl<T: Float> Bijector<T> for Chain<T> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn cond_dim(&self) -> usize {
        self.cond_dim
    }

    fn forward_with<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.run(p, x, cond, false)
    }

    fn inverse_with<'t>(
        &self,
        p: &Bound<'t, T>,
        y: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.run(p, y, cond, true)
    }

    fn spec(&self) -> Result<BlockSpec> {
        let blocks = self
            .blocks
            .iter()
            .map(|b| b.spec())
            .collect::<Result<Vec<_>>>()?;
        BlockSpec::new(KIND, &ChainSpec { blocks })
    }

    fn data_init(
        &self,
        params: &mut Params<T>,
        x: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<DMatrix<T>> {
        check_batch(KIND, x, self.dim)?;
        check_cond(KIND, cond, self.cond_dim, x.nrows())?;
        let mut h = x.clone();
        for block in &self.blocks {
            h = block.data_init(params, &h, Self::cond_for(block.as_ref(), cond))?;
        }
        Ok(h)
    }
}
