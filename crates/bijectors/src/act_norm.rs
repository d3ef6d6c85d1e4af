//! ActNorm (Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1×1 Convolutions"):
//! a per-feature affine map initialised from data so that its first outputs are standardised.

use crate::{Bijector, BlockSpec, Error, Output, Result, check_batch, check_cond};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, ParamId, Params, Var, lit};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// Per-feature affine map on batches `x: n × d` (one sample per row):
/// `y = (x + b) ⊙ exp(log_s)`, with parameters `b` and `log_s` (`1 × d` rows, registered as
/// `{name}.bias` and `{name}.log_scale`), and `log|det J| = Σ_j log_s_j` for every sample
/// (`n × 1`). Inverse: `x = y ⊙ exp(−log_s) − b`.
///
/// A new block is the identity (`b = 0`, `log_s = 0`). [`Bijector::data_init`] sets, from a first
/// batch, `b = −mean` and `log_s = −ln(std + eps)` per feature (population standard deviation),
/// so that the block's output on that batch has mean 0 and standard deviation ≈ 1. The trainer
/// calls `data_init` once, before the first step; the block records that it was initialised
/// (the flag is part of its [`BlockSpec`]), and later calls leave the parameters alone.
#[derive(Debug, Serialize, Deserialize)]
#[serde(try_from = "ActNormParts")]
pub struct ActNorm {
    dim: usize,
    eps: f64,
    bias: ParamId,
    log_scale: ParamId,
    initialized: AtomicBool,
}

/// The serialised form, validated into an [`ActNorm`] on reading.
#[derive(Deserialize)]
struct ActNormParts {
    dim: usize,
    eps: f64,
    bias: ParamId,
    log_scale: ParamId,
    initialized: bool,
}

impl TryFrom<ActNormParts> for ActNorm {
    type Error = Error;
    fn try_from(parts: ActNormParts) -> Result<Self> {
        ActNorm::check_config(parts.dim, parts.eps)?;
        Ok(Self {
            dim: parts.dim,
            eps: parts.eps,
            bias: parts.bias,
            log_scale: parts.log_scale,
            initialized: AtomicBool::new(parts.initialized),
        })
    }
}

impl Clone for ActNorm {
    fn clone(&self) -> Self {
        Self {
            dim: self.dim,
            eps: self.eps,
            bias: self.bias,
            log_scale: self.log_scale,
            initialized: AtomicBool::new(self.is_initialized()),
        }
    }
}

impl ActNorm {
    /// The kind name in a [`BlockSpec`].
    pub const KIND: &'static str = "act_norm";

    /// The `eps` of [`ActNorm::new`], added to the standard deviation in [`Bijector::data_init`].
    pub const DEFAULT_EPS: f64 = 1e-6;

    /// An identity-initialised block of width `dim ≥ 1` with `eps = 1e-6`.
    pub fn new<T: Float>(params: &mut Params<T>, name: &str, dim: usize) -> Result<Self> {
        Self::with_eps(params, name, dim, Self::DEFAULT_EPS)
    }

    /// As [`ActNorm::new`] with a chosen `eps > 0`.
    pub fn with_eps<T: Float>(
        params: &mut Params<T>,
        name: &str,
        dim: usize,
        eps: f64,
    ) -> Result<Self> {
        Self::check_config(dim, eps)?;
        Ok(Self {
            dim,
            eps,
            bias: params.add(format!("{name}.bias"), DMatrix::zeros(1, dim))?,
            log_scale: params.add(format!("{name}.log_scale"), DMatrix::zeros(1, dim))?,
            initialized: AtomicBool::new(false),
        })
    }

    fn check_config(dim: usize, eps: f64) -> Result<()> {
        if dim == 0 {
            return Err(Error::Config("act_norm: needs at least one feature".into()));
        }
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::Config(format!(
                "act_norm: eps must be positive and finite, got {eps}"
            )));
        }
        Ok(())
    }

    /// Whether [`Bijector::data_init`] has set the parameters.
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    /// The shift parameter `b` (`1 × d`).
    pub fn bias(&self) -> ParamId {
        self.bias
    }

    /// The log-scale parameter `log_s` (`1 × d`).
    pub fn log_scale(&self) -> ParamId {
        self.log_scale
    }

    /// `Σ_j log_s_j` repeated for each of the `n` samples (`n × 1`).
    fn log_det<'t, T: Float>(log_s: Var<'t, T>, n: usize) -> Result<Var<'t, T>> {
        let zeros = log_s.tape().constant(DMatrix::zeros(n, 1));
        Ok(zeros.add(log_s.sum_cols())?)
    }
}

impl<T: Float> Bijector<T> for ActNorm {
    fn dim(&self) -> usize {
        self.dim
    }

    fn name(&self) -> &'static str {
        Self::KIND
    }

    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        let n = x.nrows();
        let log_s = p.get(self.log_scale);
        let y = x.add(p.get(self.bias))?.mul(log_s.exp())?;
        Ok((y, Self::log_det(log_s, n)?))
    }

    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        y: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
    ) -> Result<Output<'t, T>> {
        let n = y.nrows();
        let log_s = p.get(self.log_scale);
        let x = y.mul(log_s.neg().exp())?.sub(p.get(self.bias))?;
        Ok((x, Self::log_det(log_s, n)?.neg()))
    }

    fn spec(&self) -> Result<BlockSpec> {
        BlockSpec::new(Self::KIND, self)
    }

    /// Sets `b = −mean`, `log_s = −ln(std + eps)` per feature from `x` (at least 2 rows) unless
    /// the block is already initialised, then returns the block's output on `x`.
    fn data_init(
        &self,
        params: &mut Params<T>,
        x: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<DMatrix<T>> {
        check_batch(Self::KIND, x, self.dim)?;
        check_cond(Self::KIND, cond, 0, x.nrows())?;
        if !self.is_initialized() {
            let n = x.nrows();
            if n < 2 {
                return Err(Error::Config(format!(
                    "act_norm: data_init needs at least 2 samples, got {n}"
                )));
            }
            // Population moments of every column (1 × d), as Glow's ActNorm uses.
            let log_s = x.row_variance().map(|v| -(v.sqrt() + lit(self.eps)).ln());
            params.get_mut(self.bias).copy_from(&(-x.row_mean()));
            params.get_mut(self.log_scale).copy_from(&log_s);
            self.initialized.store(true, Ordering::Release);
        }
        Ok(self.forward_matrix(params, x)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{Case, normal_batch};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// A batch with feature means 3, −1, 0.5 and standard deviations 2, 0.1, 5.
    fn skewed_batch(n: usize, seed: u64) -> DMatrix<f64> {
        let z = normal_batch(n, 3, &mut StdRng::seed_from_u64(seed));
        let (mean, std) = ([3.0, -1.0, 0.5], [2.0, 0.1, 5.0]);
        DMatrix::from_fn(n, 3, |i, j| mean[j] + std[j] * z[(i, j)])
    }

    #[test]
    fn laws_hold_before_and_after_data_init() {
        let mut params = Params::<f64>::new();
        let block = ActNorm::new(&mut params, "an", 3).unwrap();
        let x = skewed_batch(8, 1);
        Case {
            block: &block,
            params: &params,
            x: x.clone(),
            cond: None,
        }
        .check_all();
        block.data_init(&mut params, &x, None).unwrap();
        let case = Case {
            block: &block,
            params: &params,
            x,
            cond: None,
        };
        case.check_all();
        case.param_gradients();
    }

    #[test]
    fn data_init_standardises_the_first_batch_once() {
        let mut params = Params::<f64>::new();
        let block = ActNorm::new(&mut params, "an", 3).unwrap();
        let x = skewed_batch(500, 2);
        assert!(!block.is_initialized());
        assert_eq!(block.forward_matrix(&params, &x).unwrap().0, x);
        let y = block.data_init(&mut params, &x, None).unwrap();
        assert!(block.is_initialized());
        assert_eq!(y, block.forward_matrix(&params, &x).unwrap().0);
        let std_of = |col: Vec<f64>| {
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / col.len() as f64;
            (mean, var.sqrt())
        };
        for j in 0..3 {
            let (_, std_x) = std_of(x.column(j).iter().copied().collect());
            let (mean, std) = std_of(y.column(j).iter().copied().collect());
            assert!(mean.abs() < 1e-12, "feature {j}: mean {mean}");
            // std(y) = std(x) / (std(x) + eps), within 1e-5 of 1 here.
            let expected = std_x / (std_x + ActNorm::DEFAULT_EPS);
            assert!(
                (std - expected).abs() < 1e-12,
                "feature {j}: std {std} vs {expected}"
            );
            assert!((std - 1.0).abs() < 2e-5);
        }
        // A second call leaves the parameters alone.
        let before = params.clone();
        block
            .data_init(&mut params, &skewed_batch(50, 3), None)
            .unwrap();
        assert_eq!(params, before);
        // The flag survives the spec round trip.
        let spec = Bijector::<f64>::spec(&block).unwrap();
        let restored: ActNorm = spec.decode().unwrap();
        assert!(restored.is_initialized());
        assert!(block.clone().is_initialized());
    }

    #[test]
    fn invalid_uses_are_errors() {
        let mut params = Params::<f64>::new();
        assert!(matches!(
            ActNorm::new(&mut params, "a", 0),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ActNorm::with_eps(&mut params, "a", 2, 0.0),
            Err(Error::Config(_))
        ));
        let block = ActNorm::new(&mut params, "a", 2).unwrap();
        let one_row = DMatrix::from_row_slice(1, 2, &[1.0, 2.0]);
        assert!(matches!(
            block.data_init(&mut params, &one_row, None),
            Err(Error::Config(_))
        ));
        let mut bad = DMatrix::from_element(4, 2, 1.0);
        bad[(3, 1)] = f64::NAN;
        assert!(matches!(
            block.data_init(&mut params, &bad, None),
            Err(Error::NonFinite { row: 3, col: 1, .. })
        ));
        assert!(!block.is_initialized());
    }
}
