//! What the cINN and the INN share: the paper's coupling stack and optimiser, option checks,
//! and reading configurations saved before the coupling stack was nested in them.

use crate::{Error, Result};
use autodiff::nn::{Activation, Init};
use autodiff::optim::AdamConfig;
use autodiff::train::OptimConfig;
use bijectors::{CouplingKind, SoftClamp, StackConfig, SubnetConfig};
use serde_json::{Value, json};

/// The coupling stack of the INN paper's code (Ardizzone et al. 2018, its eight-modes toy,
/// mirrored by the peer anchor `freia_inn_eight_modes.py`): 8 GLOW-style couplings with
/// subnets `in → 512 → ReLU → out`, every parameter initialised from N(0, 0.05²), log-scale
/// soft clamp 2 in FrEIA's `atan` form, a random permutation after each block, no ActNorm.
/// `dim`, `cond_dim` and `name` are placeholders that the models set from their widths.
pub fn paper_stack() -> StackConfig {
    StackConfig {
        blocks: 8,
        coupling: CouplingKind::Glow,
        subnet: SubnetConfig {
            init: Some(Init::Normal(0.05)),
            ..SubnetConfig::new(&[512], Activation::Relu)
        },
        ..StackConfig::default()
    }
}

/// The paper's optimiser for `steps` steps: Adam lr 1e-3, betas (0.8, 0.9), eps 1e-6, L2
/// weight decay 2e-5, elementwise gradient clamp 15, constant rate.
pub fn paper_optim(steps: usize) -> OptimConfig {
    OptimConfig {
        steps,
        adam: AdamConfig {
            lr: 1e-3,
            beta1: 0.8,
            beta2: 0.9,
            eps: 1e-6,
            weight_decay: 2e-5,
            decoupled: false,
        },
        clip_value: Some(15.0),
        ..OptimConfig::default()
    }
}

/// `stack` with the widths and parameter prefix of a model filled in.
pub(crate) fn sized_stack(
    stack: &StackConfig,
    dim: usize,
    cond_dim: usize,
    name: &str,
) -> StackConfig {
    StackConfig {
        dim,
        cond_dim,
        name: name.into(),
        ..stack.clone()
    }
}

/// Errors unless `v` is finite and `≥ 0`.
pub(crate) fn non_negative(name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{name} must be finite and >= 0, got {v}"
        )))
    }
}

/// Rewrites a cINN or INN configuration saved before the coupling stack was nested in it (it
/// then has no `coupling` entry) into the current layout: `init_std` becomes the subnet's
/// N(0, σ²) initialisation, and the stack options those models always used (GLOW couplings,
/// permutations, no ActNorm, the soft-clamp form of files without one) are written out.
pub(crate) fn upgrade_config(config: &mut Value, dim: usize, cond_dim: usize, name: &str) {
    let Some(map) = config.as_object_mut() else {
        return;
    };
    if map.contains_key("coupling") {
        return;
    }
    if let Some(std) = map.remove("init_std") {
        map.insert("init".into(), json!({ "Normal": std }));
    }
    map.entry("soft_clamp")
        .or_insert_with(|| json!(SoftClamp::ScaledAtan));
    for (key, value) in [
        ("coupling", json!(CouplingKind::Glow)),
        ("zero_last", json!(false)),
        ("permute", json!(true)),
        ("actnorm", json!(false)),
        ("dim", json!(dim)),
        ("cond_dim", json!(cond_dim)),
        ("name", json!(name)),
    ] {
        map.insert(key.into(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{CinnConfig, InnConfig};

    /// The configuration of a version-1 cINN file, as the release before the nesting wrote it.
    const V1_CINN: &str = r#"{"blocks":2,"hidden":[8],"activation":"Relu","clamp":2.0,
        "init_std":0.05,"y_noise":0.0,"batch_size":256,"optim":{"steps":30,"adam":{"lr":0.001,
        "beta1":0.8,"beta2":0.9,"eps":1e-6,"weight_decay":0.00002,"decoupled":false},
        "schedule":"Constant","clip_norm":null,"clip_value":15.0,"validate_every":0,
        "patience":null,"keep_best":true,"progress":true,"data_parallel":true}}"#;

    #[test]
    fn configurations_before_the_nesting_read_as_the_stack_they_built() {
        let mut value: Value = serde_json::from_str(V1_CINN).unwrap();
        upgrade_config(&mut value, 2, 3, "cinn");
        let config: CinnConfig = serde_json::from_value(value).unwrap();
        let expected = StackConfig {
            dim: 2,
            cond_dim: 3,
            name: "cinn".into(),
            soft_clamp: SoftClamp::ScaledAtan,
            ..paper_stack().with_widths(2, &[8])
        };
        assert_eq!(config.stack, expected);
        assert_eq!(config.batch_size, 256);

        // A current configuration is left as it is and reads back equal.
        let current = InnConfig::default();
        let mut value = serde_json::to_value(&current).unwrap();
        assert!(value.get("hidden").is_some(), "the stack is written flat");
        upgrade_config(&mut value, 16, 0, "inn");
        assert_eq!(serde_json::from_value::<InnConfig>(value).unwrap(), current);
    }
}
