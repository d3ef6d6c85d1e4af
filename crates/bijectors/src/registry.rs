//! Rebuilding blocks from their descriptions: a (spec, parameter store) pair restores a model.

use crate::{
    ActNorm, Bijector, BlockSpec, Chain, Error, IResNet, Nice, Permutation, RealNvp, Result,
    RqSpline,
};
use autodiff::Float;

/// The block a [`BlockSpec`] describes (as written by [`Bijector::spec`]), chains included.
/// Its [`autodiff::ParamId`]s refer to the parameter store the block was built with (or that
/// store saved and loaded), so the pair restores the model exactly; before using a description
/// read from a file with a loaded store, `Params::check_ids(&spec.config)` confirms that every
/// handle exists in that store. Errors on an unknown kind or a description that does not
/// decode into a valid block (widths that do not fit together, an invalid permutation, …).
///
/// A new block type adds one arm here: `MyBlock::KIND => Box::new(spec.decode::<MyBlock>()?)`.
pub fn block_from_spec<T: Float>(spec: &BlockSpec) -> Result<Box<dyn Bijector<T>>> {
    Ok(match spec.kind.as_str() {
        Nice::KIND => Box::new(spec.decode::<Nice>()?),
        RealNvp::KIND => Box::new(spec.decode::<RealNvp>()?),
        RqSpline::KIND => Box::new(spec.decode::<RqSpline>()?),
        Permutation::KIND => Box::new(spec.decode::<Permutation>()?),
        ActNorm::KIND => Box::new(spec.decode::<ActNorm>()?),
        IResNet::KIND => Box::new(spec.decode::<IResNet>()?),
        crate::chain::KIND => Box::new(Chain::<T>::from_spec(spec)?),
        other => return Err(Error::Spec(format!("unknown block kind {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SubnetConfig;
    use autodiff::Params;
    use autodiff::nalgebra::DMatrix;

    #[test]
    fn unknown_kinds_and_malformed_configs_are_errors() {
        let unknown = BlockSpec {
            kind: "glow_conv".into(),
            config: serde_json::json!({}),
        };
        assert!(matches!(
            block_from_spec::<f64>(&unknown),
            Err(Error::Spec(_))
        ));
        let malformed = BlockSpec {
            kind: RealNvp::KIND.into(),
            config: serde_json::json!({ "config": 3 }),
        };
        assert!(matches!(
            block_from_spec::<f32>(&malformed),
            Err(Error::Spec(_))
        ));
        let chain = BlockSpec {
            kind: "chain".into(),
            config: serde_json::json!({ "blocks": [] }),
        };
        assert!(matches!(
            block_from_spec::<f64>(&chain),
            Err(Error::Config(_))
        ));
    }

    /// A (spec, saved parameter store) pair restores a trained-looking model exactly.
    #[test]
    fn spec_and_saved_params_restore_a_model() {
        use crate::{Chain, StackConfig};
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let mut params = Params::<f64>::new();
        let config = StackConfig {
            subnet: SubnetConfig {
                hidden: vec![6],
                ..SubnetConfig::default()
            },
            dim: 3,
            blocks: 2,
            actnorm: true,
            ..StackConfig::default()
        };
        let flow = Chain::coupling_stack(&mut params, &config, &mut rng).unwrap();
        let x = DMatrix::from_fn(10, 3, |i, j| (i as f64 * 0.37 + j as f64).sin());
        flow.data_init(&mut params, &x, None).unwrap();
        let spec_text = serde_json::to_string(&flow.spec().unwrap()).unwrap();
        let params_text = params.to_json().unwrap();
        let restored = block_from_spec::<f64>(&serde_json::from_str(&spec_text).unwrap()).unwrap();
        let restored_params = Params::from_json(&params_text).unwrap();
        assert_eq!(
            restored_params, params,
            "the parameter store reads back bit for bit"
        );
        assert_eq!(
            restored.forward_matrix(&restored_params, &x).unwrap(),
            flow.forward_matrix(&params, &x).unwrap()
        );
    }
}
