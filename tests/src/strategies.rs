//! Proptest strategies as free functions (nalgebra's `proptest::matrix` style): batches over
//! six decades of magnitude, conditions, block configurations and random chains.

use crate::blocks::{BlockConfig, BlockKind, StackChoice};
use autodiff::nalgebra::DMatrix;
use autodiff::nn::Activation;
use bijectors::{CouplingKind, SoftClamp};
use proptest::prelude::*;
use std::ops::RangeInclusive;

/// Largest batch width the suites generate.
pub const MAX_DIM: usize = 16;
/// Batch sizes (rows) the suites generate: small, to keep the suite fast.
pub const ROWS: RangeInclusive<usize> = 1..=8;

/// One entry `sign · 10^(e + spread·o)` with the exponent clamped to `[min_exp, max_exp]`.
fn entry(row_exp: f64, spread: f64, min_exp: f64, max_exp: f64, (neg, o): (bool, f64)) -> f64 {
    let u = (row_exp + spread * o).clamp(min_exp, max_exp);
    let v = 10f64.powf(u);
    if neg { -v } else { v }
}

/// Batches of `rows` samples of width `dim` (`n × dim`, one sample per row) whose entries
/// have magnitudes `10^u`, `u ∈ [min_exp, max_exp]`, and random signs.
///
/// Each sample draws its own scale exponent; its entries then either stay within half a decade
/// of it (a per-sample scale, as in data of mixed units) or spread over the whole range
/// independently (a sample holding both 1e-3 and 1e3).
pub fn batch(
    rows: RangeInclusive<usize>,
    dim: usize,
    min_exp: f64,
    max_exp: f64,
) -> impl Strategy<Value = DMatrix<f64>> {
    let row = (
        min_exp..=max_exp,
        prop_oneof![Just(0.5), Just(max_exp - min_exp)],
        proptest::collection::vec((any::<bool>(), -1.0f64..=1.0), dim),
    );
    proptest::collection::vec(row, rows).prop_map(move |samples| {
        let n = samples.len();
        DMatrix::from_fn(n, dim, |i, j| {
            let (e, spread, ref entries) = samples[i];
            entry(e, spread, min_exp, max_exp, entries[j])
        })
    })
}

/// Conditions for a batch: `rows × cond_dim`, entries uniform in `[−3, 3]` (conditions are
/// features the subnets read, not data spanning decades).
pub fn condition(rows: usize, cond_dim: usize) -> impl Strategy<Value = DMatrix<f64>> {
    proptest::collection::vec(-3.0f64..=3.0, rows * cond_dim)
        .prop_map(move |v| DMatrix::from_vec(rows, cond_dim, v))
}

/// A batch `x` (`n × dim`, entries `10^[min_exp, max_exp]`) with its condition (`n × cond_dim`,
/// `None` when `cond_dim = 0`).
pub fn batch_with_condition(
    dim: usize,
    cond_dim: usize,
    min_exp: f64,
    max_exp: f64,
) -> impl Strategy<Value = (DMatrix<f64>, Option<DMatrix<f64>>)> {
    batch(ROWS, dim, min_exp, max_exp).prop_flat_map(move |x| {
        let n = x.nrows();
        let cond = if cond_dim == 0 {
            Just(None).boxed()
        } else {
            condition(n, cond_dim).prop_map(Some).boxed()
        };
        (Just(x), cond)
    })
}

/// Subnet activations. With `smooth_only` only infinitely differentiable ones (tanh,
/// softplus, LipSwish, sigmoid): finite differences straddling a kink measure the kink, not
/// the derivative, and the numerical Jacobian's Richardson step assumes four continuous
/// derivatives, which ELU (a jump in the second derivative at 0) lacks; a 1e-3 step across
/// that jump was measured to move a RealNVP log-det by 1.1e-3. The other laws also get ReLU,
/// leaky ReLU and ELU.
pub fn activation(smooth_only: bool) -> BoxedStrategy<Activation> {
    let smooth = prop_oneof![
        Just(Activation::Tanh),
        Just(Activation::Softplus),
        Just(Activation::LipSwish),
        Just(Activation::Sigmoid),
    ];
    if smooth_only {
        smooth.boxed()
    } else {
        prop_oneof![
            3 => smooth,
            1 => Just(Activation::Relu),
            1 => Just(Activation::LeakyRelu(0.1)),
            1 => Just(Activation::Elu(1.0)),
        ]
        .boxed()
    }
}

/// Hidden layer widths of coupling subnets: zero to two layers of 1–16 units.
pub fn hidden() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..=16, 0..=2)
}

/// The shape of a coupling stack: 1–2 couplings of any kind, with or without permutations
/// and ActNorm.
pub fn stack_choice() -> impl Strategy<Value = StackChoice> {
    (
        prop_oneof![
            Just(CouplingKind::RealNvp),
            Just(CouplingKind::Glow),
            Just(CouplingKind::Nice),
            Just(CouplingKind::Spline)
        ],
        1usize..=2,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(coupling, blocks, permute, actnorm)| StackChoice {
            coupling,
            blocks,
            permute,
            actnorm,
        })
}

/// A configuration of a block of kind `kind`: subnet shape and activation, clamp in
/// `[0.5, 2.5]` (around FrEIA's default 2) in either soft-clamp form, parameter gain in `[0.5, 1.25]` times the
/// constructor's Glorot/He initialisation, parameter noise in `[0, 0.3]`, and the construction
/// seed; i-ResNet coefficients in `[0.5, 0.97]` (0.97 as in the image models); spline bins in
/// `2..=8` and bounds in `[1, 4]`, so that the batches' entries fall inside and outside it. Inputs of 1e3
/// saturate the soft clamp with these weights already.
///
/// Why not larger: the laws' tolerances are absolute in units of `ε·(1 + ‖x‖)`, and a flow's
/// round trip loses about `ε · cond(J)`. Measured with gain up to 3 and clamp up to 4, a
/// two-coupling GLOW stack with linear subnets mapped `‖x‖∞ = 3` to `‖y‖∞ ≈ 2000` and its
/// round trip came back 6.5e-9·(1 + ‖x‖∞) off, every block being exact to 5e-13 on its own;
/// a single RealNVP Jacobian had condition number 5e7, and central differences at step 1e-6
/// on a chain's inverse were off by 1.4e-5 relative while Richardson extrapolation agreed with
/// the analytic gradient to 1e-10. Those are properties of the random maps, not errors of the
/// blocks, so the suite draws maps as conditioned as initialised or trained flows are.
pub fn block_config(kind: BlockKind, smooth_only: bool) -> impl Strategy<Value = BlockConfig> {
    (
        hidden(),
        activation(smooth_only),
        (0.5f64..=2.5, any::<bool>()),
        any::<bool>(),
        stack_choice(),
        any::<bool>(),
        (0.5f64..=1.25, 0.0f64..=0.3, 0.5f64..=0.97),
        any::<u64>(),
        (2usize..=8, 1.0f64..=4.0),
    )
        .prop_map(
            move |(
                hidden,
                activation,
                (clamp, scaled),
                swap,
                stack,
                data_init,
                (gain, jitter, coeff),
                seed,
                (bins, bound),
            )| {
                BlockConfig {
                    kind,
                    hidden,
                    activation,
                    clamp,
                    soft_clamp: if scaled {
                        SoftClamp::ScaledAtan
                    } else {
                        SoftClamp::Atan
                    },
                    swap,
                    stack,
                    data_init,
                    bins,
                    bound,
                    coeff,
                    inverse_tol: None,
                    gain,
                    jitter,
                    seed,
                }
            },
        )
}

/// Any block kind, uniformly.
pub fn block_kind() -> impl Strategy<Value = BlockKind> {
    proptest::sample::select(BlockKind::ALL.to_vec())
}

/// A configuration of a block of any kind.
pub fn any_block_config(smooth_only: bool) -> impl Strategy<Value = BlockConfig> {
    block_kind().prop_flat_map(move |k| block_config(k, smooth_only))
}

/// One to `max_blocks` block configurations of mixed kinds, for a chain.
pub fn chain_configs(
    max_blocks: usize,
    smooth_only: bool,
) -> impl Strategy<Value = Vec<BlockConfig>> {
    proptest::collection::vec(any_block_config(smooth_only), 1..=max_blocks)
}

/// A width for blocks that need at least `min_dim` features, up to [`MAX_DIM`], and a
/// condition width in `0..=3` (0 for blocks that take none).
pub fn dims(min_dim: usize, conditional: bool) -> impl Strategy<Value = (usize, usize)> {
    let cond = if conditional { 0usize..=3 } else { 0usize..=0 };
    (min_dim..=MAX_DIM, cond)
}

/// Everything one law check needs: a block configuration, the width, and a batch with its
/// condition.
#[derive(Clone)]
pub struct BlockCase {
    /// The block (or, for chains, the blocks) to build.
    pub configs: Vec<BlockConfig>,
    /// Batch width.
    pub dim: usize,
    /// Condition width (0: none).
    pub cond_dim: usize,
    /// The batch, `n × dim`.
    pub x: DMatrix<f64>,
    /// The condition, `n × cond_dim`.
    pub cond: Option<DMatrix<f64>>,
}

/// Rows of a matrix as nested lists, on one line (full precision, so a shrunk case can be
/// pasted back into a test).
fn rows(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    m.row_iter().map(|r| r.iter().copied().collect()).collect()
}

impl std::fmt::Debug for BlockCase {
    // Written by hand so that proptest's `{:#?}` report stays compact: one line per field.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "BlockCase {{")?;
        for c in &self.configs {
            writeln!(f, "  config: {c:?}")?;
        }
        writeln!(f, "  dim: {}, cond_dim: {}", self.dim, self.cond_dim)?;
        writeln!(f, "  x: {:?}", rows(&self.x))?;
        writeln!(f, "  cond: {:?}", self.cond.as_ref().map(rows))?;
        write!(f, "}}")
    }
}

/// A case for one block of kind `kind`, with batch entries in `10^[min_exp, max_exp]`.
pub fn block_case(
    kind: BlockKind,
    smooth_only: bool,
    min_exp: f64,
    max_exp: f64,
) -> impl Strategy<Value = BlockCase> {
    (
        block_config(kind, smooth_only),
        dims(kind.min_dim(), kind.takes_condition()),
    )
        .prop_flat_map(move |(config, (dim, cond_dim))| {
            (
                Just(config),
                Just(dim),
                Just(cond_dim),
                batch_with_condition(dim, cond_dim, min_exp, max_exp),
            )
        })
        .prop_map(|(config, dim, cond_dim, (x, cond))| BlockCase {
            configs: vec![config],
            dim,
            cond_dim,
            x,
            cond,
        })
}

/// A case for a chain of up to `max_blocks` blocks of mixed kinds (width ≥ 2, so that every
/// kind fits), with batch entries in `10^[min_exp, max_exp]`.
pub fn chain_case(
    max_blocks: usize,
    smooth_only: bool,
    min_exp: f64,
    max_exp: f64,
) -> impl Strategy<Value = BlockCase> {
    (chain_configs(max_blocks, smooth_only), dims(2, true))
        .prop_flat_map(move |(configs, (dim, cond_dim))| {
            let cond_dim = if configs.iter().any(|c| c.kind.takes_condition()) {
                cond_dim
            } else {
                0
            };
            (
                Just(configs),
                Just(dim),
                Just(cond_dim),
                batch_with_condition(dim, cond_dim, min_exp, max_exp),
            )
        })
        .prop_map(|(configs, dim, cond_dim, (x, cond))| BlockCase {
            configs,
            dim,
            cond_dim,
            x,
            cond,
        })
}
