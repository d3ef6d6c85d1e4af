//! Rebuilding blocks from their descriptions: a (spec, parameter store) pair restores a model.

use crate::{ActNorm, Bijector, BlockSpec, Chain, Error, Nice, Permutation, RealNvp, Result};
use autodiff::Float;

/// The block a [`BlockSpec`] describes (as written by [`Bijector::spec`]), chains included.
/// Its [`autodiff::ParamId`]s refer to the parameter store the block was built with (or that
/// store saved and loaded), so the pair restores the model exactly. Errors on an unknown kind
/// or a description that does not decode into a valid block.
pub fn block_from_spec<T: Float>(spec: &BlockSpec) -> Result<Box<dyn Bijector<T>>> {
    Ok(match spec.kind.as_str() {
        Nice::KIND => Box::new(spec.decode::<Nice>()?),
        RealNvp::KIND => Box::new(spec.decode::<RealNvp>()?),
        Permutation::KIND => Box::new(spec.decode::<Permutation>()?),
        ActNorm::KIND => Box::new(spec.decode::<ActNorm>()?),
        crate::chain::KIND => Box::new(Chain::<T>::from_spec(spec)?),
        other => return Err(Error::Spec(format!("unknown block kind {other:?}"))),
    })
}
