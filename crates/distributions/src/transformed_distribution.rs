//! The change-of-variables formula: a base density pulled back through a bijector.

use crate::density::{check_batch, check_count, check_var};
use crate::{Density, Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, Params, Tape, Var};
use bijectors::Bijector;
use rand::{Rng, RngCore};

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
/// #     fn forward_unchecked<'t>(&self, _: &Bound<'t, f64>, x: Var<'t, f64>, _: Option<Var<'t, f64>>)
/// #         -> bijectors::Result<(Var<'t, f64>, Var<'t, f64>)> {
/// #         let ld = x.tape().constant(DMatrix::from_element(x.nrows(), 1, -2.0 * 2f64.ln()));
/// #         Ok((x.scale(0.5), ld))
/// #     }
/// #     fn inverse_unchecked<'t>(&self, _: &Bound<'t, f64>, y: Var<'t, f64>, _: Option<Var<'t, f64>>)
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
        // Validated once here; the bijector and the base run unchecked on what follows.
        let (z, log_det) = self.bijector.forward_unchecked(p, x, cond)?;
        Ok(self.base.log_prob_unchecked(p, z)?.add(log_det)?)
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
        let log_pz = self.base.log_prob_unchecked(p, z)?;
        let (x, log_det_inverse) = self.bijector.inverse_unchecked(p, z, cond)?;
        Ok((x, log_pz.sub(log_det_inverse)?))
    }

    /// `n` samples (`n × d`) and their log-densities (`n × 1`) from one pass through the
    /// inverse, without recording gradients. Agrees with `log_prob` of the returned samples up
    /// to the bijector's round-trip error.
    pub fn sample_and_log_prob<R: Rng + ?Sized>(
        &self,
        params: &Params<T>,
        n: usize,
        rng: &mut R,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        check_count("TransformedDistribution::sample", n)?;
        self.check_condition(None, n)?;
        self.push_samples(params, n, None, rng)
    }

    /// One sample of `x | c` per row of `cond` (`m × cond_dim` → `m × d`).
    pub fn sample_cond<R: Rng + ?Sized>(
        &self,
        params: &Params<T>,
        cond: &DMatrix<T>,
        rng: &mut R,
    ) -> Result<DMatrix<T>> {
        Ok(self.sample_and_log_prob_cond(params, cond, rng)?.0)
    }

    /// One sample of `x | c` per row of `cond` and its log-density `ln p(x | c)` (`m × 1`),
    /// from one pass through the inverse.
    pub fn sample_and_log_prob_cond<R: Rng + ?Sized>(
        &self,
        params: &Params<T>,
        cond: &DMatrix<T>,
        rng: &mut R,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        let n = cond.nrows();
        check_count("TransformedDistribution::sample_cond", n)?;
        self.check_condition(Some(cond), n)?;
        self.push_samples(params, n, Some(cond), rng)
    }

    fn push_samples<R: Rng + ?Sized>(
        &self,
        params: &Params<T>,
        n: usize,
        cond: Option<&DMatrix<T>>,
        rng: &mut R,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        // The base is a trait object, whose `sample` takes `&mut dyn RngCore`; `&mut R` is an
        // `RngCore` that forwards every call, so the stream is the caller's.
        let z = self.base.sample(params, n, &mut &mut *rng)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{grid_integral, sample_log_prob_gap, sample_moments};
    use crate::prec;
    use crate::test_flows::{ConditionalAffine, Triangular2};
    use crate::{GaussianMixture, StandardNormal};
    use autodiff::nn::Activation;
    use autodiff::optim::{Adam, Optimizer};
    use autodiff::{GradCheckOptions, grad_check};
    use bijectors::{Chain, StackConfig, SubnetConfig};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, StandardNormal as Gauss};

    fn normal_base() -> Box<dyn Density<f64>> {
        Box::new(StandardNormal::new(2).unwrap())
    }

    /// A three-component mixture base, so that the flow's density is not Gaussian.
    fn mixture_base(params: &mut Params<f64>) -> Box<dyn Density<f64>> {
        let means = DMatrix::from_row_slice(3, 2, &[-1.0, 0.0, 1.0, 0.5, 0.0, -1.5]);
        let log_scales = DMatrix::from_element(3, 2, -0.5);
        Box::new(
            GaussianMixture::new(params, "base", &[0.0, 0.3, -0.2], means, log_scales).unwrap(),
        )
    }

    /// A small RealNVP stack with random (not zeroed) subnets, so it starts far from the identity.
    fn real_nvp(params: &mut Params<f64>, cond_dim: usize, seed: u64) -> Box<dyn Bijector<f64>> {
        let config = StackConfig {
            subnet: SubnetConfig {
                hidden: vec![16, 16],
                activation: Activation::Tanh,
                ..SubnetConfig::default()
            },
            dim: 2,
            blocks: 3,
            cond_dim,
            ..StackConfig::default()
        };
        let mut rng = StdRng::seed_from_u64(seed);
        Box::new(Chain::coupling_stack(params, &config, &mut rng).unwrap())
    }

    /// A banana: x₀ ~ N(0, 1), x₁ = ½x₀² − 1 + ½ε.
    fn banana(n: usize, rng: &mut StdRng) -> DMatrix<f64> {
        let mut x = DMatrix::zeros(n, 2);
        for i in 0..n {
            let (a, e): (f64, f64) = (Gauss.sample(rng), Gauss.sample(rng));
            x[(i, 0)] = a;
            x[(i, 1)] = 0.5 * a * a - 1.0 + 0.5 * e;
        }
        x
    }

    /// `steps` Adam steps of maximum likelihood on `data`; returns the NLL before and after.
    fn train(
        flow: &TransformedDistribution<f64>,
        params: &mut Params<f64>,
        data: &DMatrix<f64>,
        steps: usize,
    ) -> (f64, f64) {
        let nll = |params: &Params<f64>| -flow.log_prob_matrix(params, data).unwrap().mean();
        let before = nll(params);
        let mut adam = Adam::with_lr(1e-2);
        for _ in 0..steps {
            let tape = Tape::new();
            let p = params.bind(&tape);
            let loss = flow
                .log_prob(&p, tape.constant(data.clone()))
                .unwrap()
                .mean()
                .neg();
            let mut g = tape.backward(loss).unwrap();
            adam.step(params, &p.gradients(&mut g)).unwrap();
        }
        (before, nll(params))
    }

    fn mass(flow: &TransformedDistribution<f64>, params: &Params<f64>, half_width: f64) -> f64 {
        let (lo, hi) = ([-half_width; 2], [half_width; 2]);
        grid_integral(flow, params, &lo, &hi, 300).unwrap()
    }

    #[test]
    fn linear_flow_gives_the_closed_form_gaussian() {
        let mut params = Params::new();
        let tri = Triangular2::new(&mut params, [0.3, -0.4], 0.8, [1.0, -0.5]);
        let (m, c) = tri.mean_and_cov(&params);
        let flow = TransformedDistribution::new(normal_base(), Box::new(tri)).unwrap();
        let x = DMatrix::from_fn(6, 2, |i, j| -2.0 + 0.7 * i as f64 + 0.4 * j as f64);
        let lp = flow.log_prob_matrix(&params, &x).unwrap();
        let det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
        for i in 0..6 {
            let (u, v) = (x[(i, 0)] - m[0], x[(i, 1)] - m[1]);
            let quad = (c[1][1] * u * u - 2.0 * c[0][1] * u * v + c[0][0] * v * v) / det;
            let expected = -0.5 * quad - 0.5 * det.ln() - (2.0 * std::f64::consts::PI).ln();
            assert!(
                (lp[(i, 0)] - expected).abs() < prec::LOG_PROB_F64,
                "row {i}"
            );
        }
        // Samples follow N(m, C).
        let n = 20_000;
        let xs = flow
            .sample(&params, n, &mut StdRng::seed_from_u64(1))
            .unwrap();
        let (mean, cov) = sample_moments(&xs).unwrap();
        for a in 0..2 {
            let se = (c[a][a] / n as f64).sqrt();
            assert!(
                (mean[a] - m[a]).abs() < prec::STANDARD_ERRORS * se,
                "{mean:?}"
            );
            for b in 0..2 {
                assert!(
                    (cov[(a, b)] - c[a][b]).abs() < 0.05 * c[a][a].max(c[b][b]),
                    "{cov}"
                );
            }
        }
    }

    #[test]
    fn integrates_to_one_before_and_after_training() {
        let data = banana(512, &mut StdRng::seed_from_u64(30));
        // A linear flow over a mixture base.
        let mut params = Params::new();
        let base = mixture_base(&mut params);
        let tri = Triangular2::new(&mut params, [0.2, 0.1], -0.3, [0.0, 0.0]);
        let flow = TransformedDistribution::new(base, Box::new(tri)).unwrap();
        let m0 = mass(&flow, &params, 10.0);
        assert!(
            (m0 - 1.0).abs() < prec::INTEGRAL,
            "untrained linear flow: {m0}"
        );
        let (before, after) = train(&flow, &mut params, &data, 40);
        assert!(after < before - 0.05, "NLL {before} -> {after}");
        let m1 = mass(&flow, &params, 10.0);
        assert!(
            (m1 - 1.0).abs() < prec::INTEGRAL,
            "trained linear flow: {m1}"
        );

        // A RealNVP coupling stack over a standard normal.
        let mut params = Params::new();
        let flow =
            TransformedDistribution::new(normal_base(), real_nvp(&mut params, 0, 3)).unwrap();
        let m0 = mass(&flow, &params, 12.0);
        assert!((m0 - 1.0).abs() < prec::INTEGRAL, "untrained RealNVP: {m0}");
        let (before, after) = train(&flow, &mut params, &data, 60);
        assert!(after < before - 0.05, "NLL {before} -> {after}");
        let m1 = mass(&flow, &params, 12.0);
        assert!((m1 - 1.0).abs() < prec::INTEGRAL, "trained RealNVP: {m1}");
    }

    #[test]
    fn one_pass_log_probs_match_re_evaluation() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut params = Params::new();
        let base = mixture_base(&mut params);
        let tri = Triangular2::new(&mut params, [0.5, -0.3], 1.2, [0.3, 0.0]);
        let flow = TransformedDistribution::new(base, Box::new(tri)).unwrap();
        let gap = sample_log_prob_gap(&flow, &params, 500, &mut rng).unwrap();
        assert!(gap < prec::ONE_PASS_F64, "linear flow gap {gap:e}");

        let mut params = Params::new();
        let flow =
            TransformedDistribution::new(normal_base(), real_nvp(&mut params, 0, 4)).unwrap();
        let gap = sample_log_prob_gap(&flow, &params, 500, &mut rng).unwrap();
        assert!(gap < prec::ONE_PASS_F64, "RealNVP gap {gap:e}");
    }

    #[test]
    fn input_gradient_passes_grad_check() {
        let mut params = Params::new();
        let base = mixture_base(&mut params);
        let bijector = real_nvp(&mut params, 0, 5);
        let flow = TransformedDistribution::new(base, bijector).unwrap();
        let x = DMatrix::from_row_slice(3, 2, &[0.3, -0.2, -1.1, 0.8, 1.4, 0.1]);
        let report = grad_check(
            |tape, v| {
                let p = params.bind(tape);
                Ok(flow.log_prob(&p, v[0]).unwrap().sum())
            },
            &[x],
            GradCheckOptions::default(),
        )
        .unwrap();
        assert!(report.max_abs_error < 1e-6, "{report:?}");
    }

    #[test]
    fn conditional_flow_is_the_conditional_gaussian() {
        let mut params = Params::new();
        let w = DMatrix::from_row_slice(1, 2, &[2.0, -1.0]);
        let v = DMatrix::from_row_slice(1, 2, &[0.5, -0.25]);
        let bij = ConditionalAffine::new(&mut params, w, v);
        let flow = TransformedDistribution::new(normal_base(), Box::new(bij)).unwrap();
        assert_eq!(flow.cond_dim(), 1);
        // x | c ~ N((2c, −c), diag(e^{c}, e^{−c/2})).
        let cond = DMatrix::from_fn(4, 1, |i, _| -1.0 + 0.7 * i as f64);
        let x = DMatrix::from_fn(4, 2, |i, j| 0.3 * i as f64 - 0.5 * j as f64);
        let lp = flow.log_prob_cond_matrix(&params, &x, Some(&cond)).unwrap();
        for i in 0..4 {
            let c = cond[(i, 0)];
            let (mu, log_sigma) = ([2.0 * c, -c], [0.5 * c, -0.25 * c]);
            let expected: f64 = (0..2)
                .map(|j| {
                    let z = (x[(i, j)] - mu[j]) / log_sigma[j].exp();
                    -0.5 * z * z - log_sigma[j] - crate::density::HALF_LN_2PI
                })
                .sum();
            assert!(
                (lp[(i, 0)] - expected).abs() < prec::LOG_PROB_F64,
                "row {i}"
            );
        }
        let mut rng = StdRng::seed_from_u64(17);
        let (xs, lps) = flow
            .sample_and_log_prob_cond(&params, &cond, &mut rng)
            .unwrap();
        let again = flow
            .log_prob_cond_matrix(&params, &xs, Some(&cond))
            .unwrap();
        assert!((&lps - &again).amax() < prec::ONE_PASS_F64);
        // Many samples at one condition follow its Gaussian.
        let n = 20_000;
        let fixed = DMatrix::from_element(n, 1, 0.8);
        let xs = flow.sample_cond(&params, &fixed, &mut rng).unwrap();
        let (mean, cov) = sample_moments(&xs).unwrap();
        let (mu, var) = ([1.6, -0.8], [0.8f64.exp(), (-0.4f64).exp()]);
        for j in 0..2 {
            let se = (var[j] / n as f64).sqrt();
            assert!(
                (mean[j] - mu[j]).abs() < prec::STANDARD_ERRORS * se,
                "{mean:?}"
            );
            assert!((cov[(j, j)] - var[j]).abs() < 0.05 * var[j], "{cov}");
        }
    }

    #[test]
    fn conditional_real_nvp_one_pass_agrees() {
        let mut params = Params::new();
        let flow =
            TransformedDistribution::new(normal_base(), real_nvp(&mut params, 3, 6)).unwrap();
        let cond = DMatrix::from_fn(200, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
        let mut rng = StdRng::seed_from_u64(2);
        let (x, lp) = flow
            .sample_and_log_prob_cond(&params, &cond, &mut rng)
            .unwrap();
        let again = flow.log_prob_cond_matrix(&params, &x, Some(&cond)).unwrap();
        assert!((&lp - &again).amax() < prec::ONE_PASS_F64);
    }

    #[test]
    fn bad_inputs_and_conditions_are_errors() {
        let mut params = Params::<f64>::new();
        let tri = Triangular2::new(&mut params, [0.0, 0.0], 0.0, [0.0, 0.0]);
        assert!(matches!(
            TransformedDistribution::<f64>::new(
                Box::new(StandardNormal::new(3).unwrap()),
                Box::new(tri)
            ),
            Err(Error::Config(_))
        ));
        let tri = Triangular2::new(&mut Params::<f64>::new(), [0.0, 0.0], 0.0, [0.0, 0.0]);
        let flow = TransformedDistribution::new(normal_base(), Box::new(tri)).unwrap();
        let mut rng = StdRng::seed_from_u64(0);
        let mut fresh = Params::<f64>::new();
        let _ = Triangular2::new(&mut fresh, [0.0, 0.0], 0.0, [0.0, 0.0]);
        assert!(matches!(
            flow.log_prob_matrix(&fresh, &DMatrix::zeros(5, 3)),
            Err(Error::Width {
                expected: 2,
                rows: 5,
                cols: 3,
                ..
            })
        ));
        assert!(matches!(
            flow.log_prob_matrix(&fresh, &DMatrix::zeros(0, 2)),
            Err(Error::EmptyBatch { .. })
        ));
        let mut x = DMatrix::zeros(4, 2);
        x[(3, 0)] = f64::NAN;
        assert!(matches!(
            flow.log_prob_matrix(&fresh, &x),
            Err(Error::NonFinite { row: 3, col: 0, .. })
        ));
        assert!(matches!(
            flow.sample(&fresh, 0, &mut rng),
            Err(Error::EmptyBatch { .. })
        ));
        // An unconditional flow rejects a condition.
        assert!(matches!(
            flow.log_prob_cond_matrix(&fresh, &DMatrix::zeros(2, 2), Some(&DMatrix::zeros(2, 1))),
            Err(Error::Condition { .. })
        ));
        assert!(matches!(
            flow.sample_cond(&fresh, &DMatrix::zeros(2, 1), &mut rng),
            Err(Error::Condition { .. })
        ));

        let mut params = Params::<f64>::new();
        let bij = ConditionalAffine::new(&mut params, DMatrix::zeros(2, 2), DMatrix::zeros(2, 2));
        let flow = TransformedDistribution::new(normal_base(), Box::new(bij)).unwrap();
        let x = DMatrix::zeros(3, 2);
        // Missing, wrongly shaped and non-finite conditions.
        assert!(matches!(
            flow.log_prob_matrix(&params, &x),
            Err(Error::Condition { .. })
        ));
        assert!(matches!(
            flow.sample(&params, 3, &mut rng),
            Err(Error::Condition { .. })
        ));
        assert!(matches!(
            flow.log_prob_cond_matrix(&params, &x, Some(&DMatrix::zeros(2, 2))),
            Err(Error::Condition { .. })
        ));
        assert!(matches!(
            flow.log_prob_cond_matrix(&params, &x, Some(&DMatrix::zeros(3, 1))),
            Err(Error::Condition { .. })
        ));
        let mut cond = DMatrix::zeros(3, 2);
        cond[(1, 1)] = f64::INFINITY;
        assert!(matches!(
            flow.log_prob_cond_matrix(&params, &x, Some(&cond)),
            Err(Error::NonFinite { row: 1, col: 1, .. })
        ));
        assert!(matches!(
            flow.sample_cond(&params, &DMatrix::zeros(0, 2), &mut rng),
            Err(Error::EmptyBatch { .. })
        ));
    }
}
