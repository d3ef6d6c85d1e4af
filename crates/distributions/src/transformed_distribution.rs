//! The change-of-variables formula: a base density pulled back through a bijector.

use crate::density::{check_batch, check_count, check_var};
use crate::{Density, Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, Params, Tape, Var};
use bijectors::Bijector;
use rand::RngCore;

/// A normalizing flow as a density: a base density `p_Z` on the latent space and a bijector
/// `f` in the *normalizing* direction, data → latent (its `forward`). By the change of
/// variables,
///
/// `ln p_X(x) = ln p_Z(f(x)) + ln|det ∂f/∂x|`,
///
/// and sampling runs the other way: `z ~ p_Z`, `x = f⁻¹(z)`. The bijector's inverse returns
/// `ln|det ∂x/∂z|` at `z`, the negative of the forward log-determinant at `x`, so a sample's
/// density comes from the same pass: `ln p_X(x) = ln p_Z(z) − ln|det ∂f⁻¹/∂z|`
/// ([`TransformedDistribution::sample_and_log_prob`]).
///
/// A conditional bijector (`cond_dim() > 0`, as in conditional INNs) gives a conditional
/// density `p(x | c)`: use the `_cond` methods, which take one condition row per sample.
/// The base density and the bijector share one [`Params`] store.
///
/// ```
/// use distributions::{Density, StandardNormal, TransformedDistribution};
/// use autodiff::{Params, nalgebra::DMatrix};
/// # use autodiff::{Bound, Var};
/// # use bijectors::{Bijector, BlockSpec};
/// # /// x ↦ x / 2: a fixed scaling, log|det| = −d ln 2.
/// # #[derive(Debug)] struct Halve;
/// # impl Bijector<f64> for Halve {
/// #     fn dim(&self) -> usize { 2 }
/// #     fn forward_with<'t>(&self, _: &Bound<'t, f64>, x: Var<'t, f64>, _: Option<Var<'t, f64>>)
/// #         -> bijectors::Result<(Var<'t, f64>, Var<'t, f64>)> {
/// #         let ld = x.tape().constant(DMatrix::from_element(x.nrows(), 1, -2.0 * 2f64.ln()));
/// #         Ok((x.scale(0.5), ld))
/// #     }
/// #     fn inverse_with<'t>(&self, _: &Bound<'t, f64>, y: Var<'t, f64>, _: Option<Var<'t, f64>>)
/// #         -> bijectors::Result<(Var<'t, f64>, Var<'t, f64>)> {
/// #         let ld = y.tape().constant(DMatrix::from_element(y.nrows(), 1, 2.0 * 2f64.ln()));
/// #         Ok((y.scale(2.0), ld))
/// #     }
/// #     fn spec(&self) -> bijectors::Result<BlockSpec> { BlockSpec::new("halve", &()) }
/// # }
/// use rand::SeedableRng;
/// // `Halve` maps data to latent by x ↦ x/2, so the data are N(0, 4 I).
/// let flow = TransformedDistribution::new(Box::new(StandardNormal::new(2)?), Box::new(Halve))?;
/// let params = Params::<f64>::new();
/// let mut rng = rand::rngs::StdRng::seed_from_u64(3);
/// let (x, log_p) = flow.sample_and_log_prob(&params, 5, &mut rng)?;
/// let again = flow.log_prob_matrix(&params, &x)?;
/// assert!((&log_p - &again).amax() < 1e-12);
/// # Ok::<(), distributions::Error>(())
/// ```
#[derive(Debug)]
pub struct TransformedDistribution<T: Float> {
    base: Box<dyn Density<T>>,
    bijector: Box<dyn Bijector<T>>,
}

impl<T: Float> TransformedDistribution<T> {
    /// `base` pulled back through `bijector` (data → latent); their dimensions must agree.
    pub fn new(base: Box<dyn Density<T>>, bijector: Box<dyn Bijector<T>>) -> Result<Self> {
        if base.dim() != bijector.dim() {
            return Err(Error::Config(format!(
                "base density has dim {}, bijector has dim {}",
                base.dim(),
                bijector.dim()
            )));
        }
        Ok(Self { base, bijector })
    }

    /// The base (latent) density.
    pub fn base(&self) -> &dyn Density<T> {
        self.base.as_ref()
    }

    /// The bijector, data → latent.
    pub fn bijector(&self) -> &dyn Bijector<T> {
        self.bijector.as_ref()
    }

    /// Width of the condition rows (0 for an unconditional flow).
    pub fn cond_dim(&self) -> usize {
        self.bijector.cond_dim()
    }

    /// `ln p(x | c)` per sample (`x: n × d`, `cond: n × cond_dim` or `None` for an
    /// unconditional flow) → `n × 1`, recorded on the tape: differentiable with respect to
    /// `x`, the condition, and every parameter of the base and the bijector. Minimising its
    /// negative mean is maximum-likelihood training.
    pub fn log_prob_cond<'t>(
        &self,
        p: &Bound<'t, T>,
        x: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<Var<'t, T>> {
        check_var("TransformedDistribution::log_prob", x, self.dim())?;
        self.check_condition(cond.map(|c| c.value()).as_deref(), x.nrows())?;
        let (z, log_det) = self.bijector.forward_with(p, x, cond)?;
        Ok(self.base.log_prob(p, z)?.add(log_det)?)
    }

    /// [`TransformedDistribution::log_prob_cond`] on plain matrices, without recording gradients.
    pub fn log_prob_cond_matrix(
        &self,
        params: &Params<T>,
        x: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<DMatrix<T>> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        Ok(self
            .log_prob_cond(&p, tape.constant(x.clone()), c)?
            .to_matrix())
    }

    /// Pushes latent points `z` (`n × d`) to data space, `x = f⁻¹(z; c)`, and returns `x` with
    /// `ln p(x | c) = ln p_Z(z) − ln|det ∂f⁻¹/∂z|` (`n × 1`), both on the tape. This is the
    /// reparametrised sampler: gradients flow from `x` and its log-density to the parameters,
    /// which is what sample-based objectives (reverse KL, maximum entropy) train through.
    pub fn sample_from_latent<'t>(
        &self,
        p: &Bound<'t, T>,
        z: Var<'t, T>,
        cond: Option<Var<'t, T>>,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        check_var("TransformedDistribution::sample_from_latent", z, self.dim())?;
        self.check_condition(cond.map(|c| c.value()).as_deref(), z.nrows())?;
        let log_pz = self.base.log_prob(p, z)?;
        let (x, log_det_inverse) = self.bijector.inverse_with(p, z, cond)?;
        Ok((x, log_pz.sub(log_det_inverse)?))
    }

    /// `n` samples (`n × d`) and their log-densities (`n × 1`) from one pass through the
    /// inverse, without recording gradients. Agrees with `log_prob` of the returned samples up
    /// to the bijector's round-trip error.
    pub fn sample_and_log_prob(
        &self,
        params: &Params<T>,
        n: usize,
        rng: &mut dyn RngCore,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        check_count("TransformedDistribution::sample", n)?;
        self.check_condition(None, n)?;
        self.push_samples(params, n, None, rng)
    }

    /// One sample of `x | c` per row of `cond` (`m × cond_dim` → `m × d`).
    pub fn sample_cond(
        &self,
        params: &Params<T>,
        cond: &DMatrix<T>,
        rng: &mut dyn RngCore,
    ) -> Result<DMatrix<T>> {
        Ok(self.sample_and_log_prob_cond(params, cond, rng)?.0)
    }

    /// One sample of `x | c` per row of `cond` and its log-density `ln p(x | c)` (`m × 1`),
    /// from one pass through the inverse.
    pub fn sample_and_log_prob_cond(
        &self,
        params: &Params<T>,
        cond: &DMatrix<T>,
        rng: &mut dyn RngCore,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        let n = cond.nrows();
        check_count("TransformedDistribution::sample_cond", n)?;
        self.check_condition(Some(cond), n)?;
        self.push_samples(params, n, Some(cond), rng)
    }

    fn push_samples(
        &self,
        params: &Params<T>,
        n: usize,
        cond: Option<&DMatrix<T>>,
        rng: &mut dyn RngCore,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        let z = self.base.sample(params, n, rng)?;
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let c = cond.map(|c| tape.constant(c.clone()));
        let (x, log_p) = self.sample_from_latent(&p, tape.constant(z), c)?;
        Ok((x.to_matrix(), log_p.to_matrix()))
    }

    /// The condition must be present exactly when the bijector takes one, with `n` rows of
    /// `cond_dim` finite entries.
    fn check_condition(&self, cond: Option<&DMatrix<T>>, n: usize) -> Result<()> {
        const WHAT: &str = "TransformedDistribution";
        let k = self.cond_dim();
        match (cond, k) {
            (None, 0) => Ok(()),
            (Some(c), 0) => Err(Error::Condition {
                what: WHAT,
                reason: format!(
                    "the flow takes no condition, got {} x {}",
                    c.nrows(),
                    c.ncols()
                ),
            }),
            (None, k) => Err(Error::Condition {
                what: WHAT,
                reason: format!("the flow needs a condition with {k} columns"),
            }),
            (Some(c), k) => {
                if c.shape() != (n, k) {
                    return Err(Error::Condition {
                        what: WHAT,
                        reason: format!("expected {n} x {k}, got {} x {}", c.nrows(), c.ncols()),
                    });
                }
                check_batch("TransformedDistribution condition", c, k)
            }
        }
    }
}

impl<T: Float> Density<T> for TransformedDistribution<T> {
    fn dim(&self) -> usize {
        self.base.dim()
    }

    /// `ln p(x) = ln p_Z(f(x)) + ln|det ∂f/∂x|`; a conditional flow needs
    /// [`TransformedDistribution::log_prob_cond`] instead (an error here).
    fn log_prob<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.log_prob_cond(p, x, None)
    }

    /// `z ~ p_Z`, `x = f⁻¹(z)`; a conditional flow needs [`TransformedDistribution::sample_cond`].
    fn sample(&self, params: &Params<T>, n: usize, rng: &mut dyn RngCore) -> Result<DMatrix<T>> {
        Ok(self.sample_and_log_prob(params, n, rng)?.0)
    }
}
