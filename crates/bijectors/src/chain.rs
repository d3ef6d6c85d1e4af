//! A sequence of blocks applied one after another; its log-determinant is the sum of theirs.

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
        let mut h = x;
        let mut log_det: Option<Var<'t, T>> = None;
        let mut step = |block: &dyn Bijector<T>| -> Result<()> {
            let c = Self::cond_for(block, cond);
            let (next, ld) = if inverse {
                block.inverse_unchecked(p, h, c)?
            } else {
                block.forward_unchecked(p, h, c)?
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

    fn name(&self) -> &'static str {
        KIND
    }

    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        self.run(p, x, cond, false)
    }

    fn inverse_unchecked<'t>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{Case, normal_batch};
    use crate::{
        ActNorm, CouplingKind, Permutation, RealNvp, RealNvpConfig, StackConfig, SubnetConfig,
    };
    use autodiff::nn::Activation;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn stack(
        kind: CouplingKind,
        dim: usize,
        cond_dim: usize,
        permute: bool,
        actnorm: bool,
    ) -> (Chain<f64>, Params<f64>) {
        let mut params = Params::new();
        let config = StackConfig {
            subnet: SubnetConfig {
                hidden: vec![8],
                activation: Activation::Tanh,
                ..SubnetConfig::default()
            },
            dim,
            blocks: 3,
            coupling: kind,
            permute,
            actnorm,
            cond_dim,
            ..StackConfig::default()
        };
        let chain =
            Chain::coupling_stack(&mut params, &config, &mut StdRng::seed_from_u64(dim as u64))
                .unwrap();
        (chain, params)
    }

    #[test]
    fn laws_hold_for_every_coupling_stack() {
        for kind in [
            CouplingKind::RealNvp,
            CouplingKind::Glow,
            CouplingKind::Nice,
        ] {
            for (dim, cond_dim, permute, actnorm) in
                [(2, 0, true, false), (3, 0, false, true), (5, 2, true, true)]
            {
                let (chain, mut params) = stack(kind, dim, cond_dim, permute, actnorm);
                let mut rng = StdRng::seed_from_u64(7);
                let x = normal_batch(6, dim, &mut rng);
                let cond = (cond_dim > 0).then(|| normal_batch(6, cond_dim, &mut rng));
                chain
                    .data_init(&mut params, &x.scale(2.0), cond.as_ref())
                    .unwrap();
                Case {
                    block: &chain,
                    params: &params,
                    x,
                    cond,
                }
                .check_all();
            }
        }
    }

    #[test]
    fn stack_layout_follows_the_config() {
        let (chain, params) = stack(CouplingKind::Nice, 4, 0, false, true);
        assert_eq!(chain.len(), 6);
        let kinds: Vec<_> = chain
            .blocks()
            .iter()
            .map(|b| b.spec().unwrap().kind)
            .collect();
        assert_eq!(
            kinds,
            ["nice", "act_norm", "nice", "act_norm", "nice", "act_norm"]
        );
        // Without permutations, NICE blocks alternate the transformed half.
        let swaps: Vec<_> = chain
            .blocks()
            .iter()
            .step_by(2)
            .map(|b| b.spec().unwrap().config["config"]["swap"].clone())
            .collect();
        assert_eq!(swaps, [false, true, false]);
        assert!(params.id("flow.1.coupling.t.0.weight").is_some());
        assert!(params.id("flow.2.act_norm.log_scale").is_some());
        let (chain, _) = stack(CouplingKind::Glow, 4, 3, true, false);
        let kinds: Vec<_> = chain
            .blocks()
            .iter()
            .map(|b| b.spec().unwrap().kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "real_nvp",
                "permutation",
                "real_nvp",
                "permutation",
                "real_nvp",
                "permutation"
            ]
        );
        assert_eq!(chain.cond_dim(), 3);
    }

    /// The chain's output is the blocks applied in order, its log-det the sum of theirs; the
    /// inverse runs them in reverse.
    #[test]
    fn chain_composes_blocks_and_sums_log_dets() {
        let (chain, params) = stack(CouplingKind::RealNvp, 3, 0, true, false);
        let x = normal_batch(5, 3, &mut StdRng::seed_from_u64(1));
        let mut h = x.clone();
        let mut total = DMatrix::zeros(5, 1);
        for b in chain.blocks() {
            let (next, ld) = b.forward_matrix(&params, &h).unwrap();
            h = next;
            total += ld;
        }
        let (y, ld) = chain.forward_matrix(&params, &x).unwrap();
        assert_eq!(y, h);
        assert!((ld - &total).abs().max() < 1e-14);
        let mut back = y.clone();
        for b in chain.blocks().iter().rev() {
            back = b.inverse_matrix(&params, &back).unwrap().0;
        }
        assert_eq!(chain.inverse_matrix(&params, &y).unwrap().0, back);
    }

    /// data_init initialises every ActNorm on the output of the blocks before it, so the
    /// chain's output on the first batch is standardised when it ends with an ActNorm.
    #[test]
    fn data_init_runs_block_after_block() {
        let (chain, mut params) = stack(CouplingKind::RealNvp, 2, 0, true, true);
        let x = normal_batch(400, 2, &mut StdRng::seed_from_u64(2)).map(|v| 4.0 * v + 1.0);
        let y = chain.data_init(&mut params, &x, None).unwrap();
        assert_eq!(y, chain.forward_matrix(&params, &x).unwrap().0);
        for j in 0..2 {
            let col = y.column(j);
            let mean = col.mean();
            let var = col.map(|v| (v - mean) * (v - mean)).sum() / 400.0;
            assert!(
                mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-4,
                "feature {j}: {mean}, {var}"
            );
        }
    }

    /// A condition reaches the conditional blocks only; the others never see it.
    #[test]
    fn conditions_go_to_conditional_blocks_only() {
        let mut params = Params::<f64>::new();
        let mut rng = StdRng::seed_from_u64(3);
        let coupling = RealNvpConfig {
            cond_dim: 2,
            ..RealNvpConfig::new(4, SubnetConfig::new(&[8], Activation::Tanh))
        };
        let blocks: Vec<Box<dyn Bijector<f64>>> = vec![
            Box::new(ActNorm::new(&mut params, "a", 4).unwrap()),
            Box::new(RealNvp::new(&mut params, "r", &coupling, &mut rng).unwrap()),
            Box::new(Permutation::reverse(4).unwrap()),
        ];
        let chain = Chain::new(blocks).unwrap();
        assert_eq!(chain.cond_dim(), 2);
        let x = normal_batch(6, 4, &mut rng);
        let cond = Some(normal_batch(6, 2, &mut rng));
        Case {
            block: &chain,
            params: &params,
            x,
            cond,
        }
        .check_all();
    }

    #[test]
    fn invalid_chains_are_errors() {
        let mut params = Params::<f64>::new();
        let mut rng = StdRng::seed_from_u64(0);
        assert!(matches!(Chain::<f64>::new(vec![]), Err(Error::Config(_))));
        let mixed: Vec<Box<dyn Bijector<f64>>> = vec![
            Box::new(Permutation::reverse(3).unwrap()),
            Box::new(Permutation::reverse(4).unwrap()),
        ];
        assert!(matches!(Chain::new(mixed), Err(Error::Config(_))));
        let net = SubnetConfig::new(&[4], Activation::Tanh);
        let c1 = RealNvpConfig {
            cond_dim: 1,
            ..RealNvpConfig::new(2, net.clone())
        };
        let c2 = RealNvpConfig {
            cond_dim: 2,
            ..RealNvpConfig::new(2, net)
        };
        let conds: Vec<Box<dyn Bijector<f64>>> = vec![
            Box::new(RealNvp::new(&mut params, "a", &c1, &mut rng).unwrap()),
            Box::new(RealNvp::new(&mut params, "b", &c2, &mut rng).unwrap()),
        ];
        assert!(matches!(Chain::new(conds), Err(Error::Config(_))));
        let zero = StackConfig {
            blocks: 0,
            ..StackConfig::default()
        };
        assert!(matches!(
            Chain::coupling_stack(&mut params, &zero, &mut rng),
            Err(Error::Config(_))
        ));
        let thin = StackConfig {
            dim: 1,
            ..StackConfig::default()
        };
        assert!(matches!(
            Chain::coupling_stack(&mut params, &thin, &mut rng),
            Err(Error::Config(_))
        ));
    }

    /// Chains nest, and a nested chain restores from its spec like any block.
    #[test]
    fn nested_chains_restore_from_their_spec() {
        let (inner, params) = stack(CouplingKind::Glow, 3, 0, true, false);
        let outer = Chain::new(vec![
            Box::new(inner),
            Box::new(Permutation::reverse(3).unwrap()),
        ])
        .unwrap();
        let x = normal_batch(4, 3, &mut StdRng::seed_from_u64(9));
        Case {
            block: &outer,
            params: &params,
            x,
            cond: None,
        }
        .spec_restores();
    }
}
