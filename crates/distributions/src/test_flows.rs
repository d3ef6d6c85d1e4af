//! Small bijectors with known structure for this crate's tests (used until the blocks of the
//! `bijectors` crate are exercised as well).

use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, ParamId, Params, Var, lit};
use bijectors::{Bijector, BlockSpec, Output};
use serde::Serialize;

/// `x = e^s ⊙ z + m` elementwise (latent → data); forward (data → latent) is the inverse.
#[derive(Debug, Serialize)]
pub struct ElementwiseAffine {
    dim: usize,
    log_scale: ParamId,
    shift: ParamId,
}

impl ElementwiseAffine {
    pub fn new<T: Float>(params: &mut Params<T>, log_scale: &[f64], shift: &[f64]) -> Self {
        let dim = shift.len();
        let row = |v: &[f64]| DMatrix::from_fn(1, dim, |_, j| lit::<T>(v[j]));
        Self {
            dim,
            log_scale: params.add("affine.log_scale", row(log_scale)).unwrap(),
            shift: params.add("affine.shift", row(shift)).unwrap(),
        }
    }
}

fn per_sample<'t, T: Float>(like: Var<'t, T>, total: Var<'t, T>) -> bijectors::Result<Var<'t, T>> {
    let zeros = like.tape().constant(DMatrix::zeros(like.nrows(), 1));
    Ok(zeros.add(total)?)
}

impl<T: Float> Bijector<T> for ElementwiseAffine {
    fn dim(&self) -> usize {
        self.dim
    }
    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
    ) -> bijectors::Result<Output<'t, T>> {
        let s = p.get(self.log_scale);
        let z = x.sub(p.get(self.shift))?.mul(s.neg().exp())?;
        Ok((z, per_sample(x, s.sum().neg())?))
    }
    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        z: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
    ) -> bijectors::Result<Output<'t, T>> {
        let s = p.get(self.log_scale);
        let x = z.mul(s.exp())?.add(p.get(self.shift))?;
        Ok((x, per_sample(z, s.sum())?))
    }
    fn spec(&self) -> bijectors::Result<BlockSpec> {
        BlockSpec::new("test_elementwise_affine", self)
    }
}

/// The 2-D lower-triangular affine map `x = L z + m`, `L = [[e^{s₀}, 0], [a, e^{s₁}]]`
/// (latent → data), so the pushed-forward standard normal is `N(m, L Lᵀ)`.
#[derive(Debug, Serialize)]
pub struct Triangular2 {
    log_diag: ParamId,
    off: ParamId,
    shift: ParamId,
}

impl Triangular2 {
    pub fn new<T: Float>(
        params: &mut Params<T>,
        log_diag: [f64; 2],
        off: f64,
        shift: [f64; 2],
    ) -> Self {
        let row = |v: &[f64]| DMatrix::from_fn(1, v.len(), |_, j| lit::<T>(v[j]));
        Self {
            log_diag: params.add("tri.log_diag", row(&log_diag)).unwrap(),
            off: params.add("tri.off", row(&[off])).unwrap(),
            shift: params.add("tri.shift", row(&shift)).unwrap(),
        }
    }

    /// `(m, L Lᵀ)` at the current parameters.
    pub fn mean_and_cov(&self, params: &Params<f64>) -> ([f64; 2], [[f64; 2]; 2]) {
        let s = params.get(self.log_diag);
        let a = params.get(self.off)[(0, 0)];
        let m = params.get(self.shift);
        let (l0, l1) = (s[(0, 0)].exp(), s[(0, 1)].exp());
        (
            [m[(0, 0)], m[(0, 1)]],
            [[l0 * l0, a * l0], [a * l0, a * a + l1 * l1]],
        )
    }
}

impl<T: Float> Bijector<T> for Triangular2 {
    fn dim(&self) -> usize {
        2
    }
    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
    ) -> bijectors::Result<Output<'t, T>> {
        let (s, a, m) = (p.get(self.log_diag), p.get(self.off), p.get(self.shift));
        let (s0, s1) = (s.slice_cols(0, 1)?, s.slice_cols(1, 1)?);
        let z0 = x
            .slice_cols(0, 1)?
            .sub(m.slice_cols(0, 1)?)?
            .mul(s0.neg().exp())?;
        let z1 = x
            .slice_cols(1, 1)?
            .sub(m.slice_cols(1, 1)?)?
            .sub(z0.mul(a)?)?
            .mul(s1.neg().exp())?;
        Ok((
            autodiff::concat_cols(&[z0, z1])?,
            per_sample(x, s.sum().neg())?,
        ))
    }
    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        z: Var<'t, T>,
        _cond: Option<Var<'t, T>>,
    ) -> bijectors::Result<Output<'t, T>> {
        let (s, a, m) = (p.get(self.log_diag), p.get(self.off), p.get(self.shift));
        let (z0, z1) = (z.slice_cols(0, 1)?, z.slice_cols(1, 1)?);
        let x0 = z0
            .mul(s.slice_cols(0, 1)?.exp())?
            .add(m.slice_cols(0, 1)?)?;
        let x1 = z0
            .mul(a)?
            .add(z1.mul(s.slice_cols(1, 1)?.exp())?)?
            .add(m.slice_cols(1, 1)?)?;
        Ok((autodiff::concat_cols(&[x0, x1])?, per_sample(z, s.sum())?))
    }
    fn spec(&self) -> bijectors::Result<BlockSpec> {
        BlockSpec::new("test_triangular2", self)
    }
}

/// A conditional elementwise affine map: data → latent `z = (x − c W) ⊙ exp(−c V)` for a
/// condition row `c` (`1 × k`) and parameters `W, V: k × d`.
#[derive(Debug, Serialize)]
pub struct ConditionalAffine {
    dim: usize,
    cond_dim: usize,
    w: ParamId,
    v: ParamId,
}

impl ConditionalAffine {
    pub fn new(params: &mut Params<f64>, w: DMatrix<f64>, v: DMatrix<f64>) -> Self {
        let (cond_dim, dim) = w.shape();
        Self {
            dim,
            cond_dim,
            w: params.add("cond.w", w).unwrap(),
            v: params.add("cond.v", v).unwrap(),
        }
    }
}

impl<T: Float> Bijector<T> for ConditionalAffine {
    fn dim(&self) -> usize {
        self.dim
    }
    fn cond_dim(&self) -> usize {
        self.cond_dim
    }
    fn forward_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> bijectors::Result<Output<'t, T>> {
        let c = cond.ok_or(bijectors::Error::Condition {
            block: "ConditionalAffine",
            reason: "missing".into(),
        })?;
        let log_scale = c.matmul(p.get(self.v))?;
        let z = x
            .sub(c.matmul(p.get(self.w))?)?
            .mul(log_scale.neg().exp())?;
        Ok((z, log_scale.sum_cols().neg()))
    }
    fn inverse_unchecked<'t>(
        &self,
        p: &Bound<'t, T>,
        z: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> bijectors::Result<Output<'t, T>> {
        let c = cond.ok_or(bijectors::Error::Condition {
            block: "ConditionalAffine",
            reason: "missing".into(),
        })?;
        let log_scale = c.matmul(p.get(self.v))?;
        let x = z.mul(log_scale.exp())?.add(c.matmul(p.get(self.w))?)?;
        Ok((x, log_scale.sum_cols()))
    }
    fn spec(&self) -> bijectors::Result<BlockSpec> {
        BlockSpec::new("test_conditional_affine", self)
    }
}
