//! A mixture of diagonal Gaussians with trainable weights (via logits), means and log-scales.

use crate::density::{check_count, check_var, standard_normal_matrix};
use crate::diagonal_normal::{diagonal_normal_log_prob, shaped_param};
use crate::{Density, Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, ParamId, Params, Var, concat_cols};
use rand::RngCore;
use rand::distr::Distribution;
use serde::{Deserialize, Serialize};

/// `p(x) = Σₖ πₖ N(x; μₖ, diag(σₖ²))` with `K` components on ℝᵈ. Trainable parameters, in a
/// [`Params`] store: `{name}.logits` (`1 × K`, `π = softmax(logits)`), `{name}.means` (`K × d`)
/// and `{name}.log_scales` (`K × d`, `ln σ`).
///
/// `ln p(x) = logsumexp_k [ln πₖ + ln N(x; μₖ, σₖ²)]`, evaluated with
/// [`Var::logsumexp_cols`] (max-shifted, so far-away points give a finite, accurate value)
/// and `ln π = logits − logsumexp(logits)`.
///
/// ```
/// use distributions::{Density, GaussianMixture};
/// use autodiff::{Params, nalgebra::DMatrix};
/// let mut params = Params::<f64>::new();
/// let means = DMatrix::from_row_slice(2, 1, &[-1.0, 1.0]);
/// let mix = GaussianMixture::new(&mut params, "mix", &[0.0, 0.0], means, DMatrix::zeros(2, 1))?;
/// // Symmetric: equal density at ±0.3.
/// let lp = mix.log_prob_matrix(&params, &DMatrix::from_row_slice(2, 1, &[-0.3, 0.3]))?;
/// assert!((lp[(0, 0)] - lp[(1, 0)]).abs() < 1e-12);
/// # Ok::<(), distributions::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GaussianMixture {
    dim: usize,
    components: usize,
    logits: ParamId,
    means: ParamId,
    log_scales: ParamId,
}

impl GaussianMixture {
    /// Registers a mixture of `K = logits.len() ≥ 1` components; `means` and `log_scales` are
    /// `K × d` with `d ≥ 1`; every entry finite.
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        logits: &[T],
        means: DMatrix<T>,
        log_scales: DMatrix<T>,
    ) -> Result<Self> {
        let components = logits.len();
        let dim = means.ncols();
        if components == 0 || dim == 0 {
            return Err(Error::Config(format!(
                "GaussianMixture needs >= 1 component and dim >= 1, got {components} and {dim}"
            )));
        }
        if means.nrows() != components || log_scales.shape() != means.shape() {
            return Err(Error::Config(format!(
                "GaussianMixture with {components} logits needs {components} x d means and \
                 log-scales, got {} x {} and {} x {}",
                means.nrows(),
                means.ncols(),
                log_scales.nrows(),
                log_scales.ncols()
            )));
        }
        let logits = params.add(
            format!("{name}.logits"),
            DMatrix::from_row_slice(1, components, logits),
        )?;
        let means = params.add(format!("{name}.means"), means)?;
        let log_scales = params.add(format!("{name}.log_scales"), log_scales)?;
        Ok(Self {
            dim,
            components,
            logits,
            means,
            log_scales,
        })
    }

    /// Number of components `K`.
    pub fn components(&self) -> usize {
        self.components
    }

    /// Handle of the `1 × K` logits row.
    pub fn logits_id(&self) -> ParamId {
        self.logits
    }

    /// Handle of the `K × d` means.
    pub fn means_id(&self) -> ParamId {
        self.means
    }

    /// Handle of the `K × d` log-scales.
    pub fn log_scales_id(&self) -> ParamId {
        self.log_scales
    }

    /// The mixture weights `π = softmax(logits)` at the current parameters.
    pub fn weights<T: Float>(&self, params: &Params<T>) -> Result<Vec<f64>> {
        let logits = shaped_param(params, self.logits, (1, self.components), "logits")?;
        let max = logits
            .iter()
            .map(|v| v.to_f64())
            .fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = logits.iter().map(|v| (v.to_f64() - max).exp()).collect();
        let total: f64 = w.iter().sum();
        Ok(w.into_iter().map(|v| v / total).collect())
    }
}

impl<T: Float> Density<T> for GaussianMixture {
    fn dim(&self) -> usize {
        self.dim
    }

    fn log_prob<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        check_var("GaussianMixture::log_prob", x, self.dim)?;
        self.log_prob_unchecked(p, x)
    }

    fn log_prob_unchecked<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        mixture_log_prob(
            x,
            p.get(self.logits),
            p.get(self.means),
            p.get(self.log_scales),
        )
    }

    fn sample(&self, params: &Params<T>, n: usize, rng: &mut dyn RngCore) -> Result<DMatrix<T>> {
        check_count("GaussianMixture::sample", n)?;
        let shape = (self.components, self.dim);
        let means = shaped_param(params, self.means, shape, "means")?;
        let log_scales = shaped_param(params, self.log_scales, shape, "log_scales")?;
        let pick = rand::distr::weighted::WeightedIndex::new(self.weights(params)?)
            .map_err(|e| Error::Config(format!("GaussianMixture weights: {e}")))?;
        let mut x = standard_normal_matrix::<T, _>(n, self.dim, rng);
        for i in 0..n {
            let k = pick.sample(rng);
            for j in 0..self.dim {
                x[(i, j)] = means[(k, j)] + log_scales[(k, j)].exp() * x[(i, j)];
            }
        }
        Ok(x)
    }
}

/// `ln Σₖ softmax(logits)ₖ N(x; μₖ, diag(e^{2sₖ}))` per row, for `x: n × d`, `logits: 1 × K`,
/// `means, log_scales: K × d` (a free function so gradient checks can reach every input).
pub(crate) fn mixture_log_prob<'t, T: Float>(
    x: Var<'t, T>,
    logits: Var<'t, T>,
    means: Var<'t, T>,
    log_scales: Var<'t, T>,
) -> Result<Var<'t, T>> {
    let k = logits.ncols();
    let per_component = (0..k)
        .map(|c| diagonal_normal_log_prob(x, means.slice_rows(c, 1)?, log_scales.slice_rows(c, 1)?))
        .collect::<Result<Vec<_>>>()?;
    let log_weights = logits.sub(logits.logsumexp_cols()?)?;
    let joint = concat_cols(&per_component)?.add(log_weights)?;
    Ok(joint.logsumexp_cols()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::{grid_integral, sample_moments};
    use crate::prec;
    use autodiff::{GradCheckOptions, grad_check};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use statrs::distribution::{Continuous, Normal};

    /// Three components in 2-D with unequal weights and scales.
    fn example(params: &mut Params<f64>) -> GaussianMixture {
        let means = DMatrix::from_row_slice(3, 2, &[-2.0, 0.0, 1.5, 1.0, 0.5, -2.0]);
        let log_scales = DMatrix::from_row_slice(3, 2, &[-0.5, 0.0, 0.3, -0.2, -0.7, 0.1]);
        GaussianMixture::new(params, "mix", &[0.2, -0.4, 0.9], means, log_scales).unwrap()
    }

    /// `ln Σₖ πₖ Πⱼ N(xⱼ; μₖⱼ, σₖⱼ)` with statrs doing the scalar densities.
    fn reference(params: &Params<f64>, mix: &GaussianMixture, x: &[f64]) -> f64 {
        let w = mix.weights(params).unwrap();
        let (m, s) = (params.get(mix.means_id()), params.get(mix.log_scales_id()));
        let p: f64 = (0..mix.components())
            .map(|k| {
                w[k] * (0..x.len())
                    .map(|j| Normal::new(m[(k, j)], s[(k, j)].exp()).unwrap().pdf(x[j]))
                    .product::<f64>()
            })
            .sum();
        p.ln()
    }

    #[test]
    fn log_prob_matches_statrs_mixture() {
        let mut params = Params::new();
        let mix = example(&mut params);
        let x = DMatrix::from_fn(12, 2, |i, j| -3.0 + 0.5 * i as f64 - 0.8 * j as f64);
        let lp = mix.log_prob_matrix(&params, &x).unwrap();
        for i in 0..12 {
            let expected = reference(&params, &mix, &[x[(i, 0)], x[(i, 1)]]);
            assert!(
                (lp[(i, 0)] - expected).abs() < prec::LOG_PROB_F64,
                "row {i}"
            );
        }
        let w = mix.weights(&params).unwrap();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn far_points_stay_finite() {
        // At x = 60 every component density underflows to 0 in f64; logsumexp does not.
        let mut params = Params::new();
        let means = DMatrix::from_row_slice(2, 1, &[0.0, 1.0]);
        let mix = GaussianMixture::new(&mut params, "m", &[0.0, 0.0], means, DMatrix::zeros(2, 1))
            .unwrap();
        let lp = mix
            .log_prob_matrix(&params, &DMatrix::from_element(1, 1, 60.0))
            .unwrap()[(0, 0)];
        // Dominated by the component at 1: ln ½ − ½·59² − ½ ln 2π (+ a negligible e^{-59.5}).
        let expected = 0.5f64.ln() - 0.5 * 59.0 * 59.0 - crate::density::HALF_LN_2PI;
        assert!((lp - expected).abs() < 1e-9, "{lp} vs {expected}");
    }

    #[test]
    fn gradients_pass_grad_check() {
        let mut params = Params::new();
        let mix = example(&mut params);
        let x = DMatrix::from_row_slice(4, 2, &[0.1, -0.3, -2.2, 0.4, 1.1, 1.4, 3.0, -2.5]);
        let inputs = [
            x,
            params.get(mix.logits_id()).clone(),
            params.get(mix.means_id()).clone(),
            params.get(mix.log_scales_id()).clone(),
        ];
        let report = grad_check(
            |_, v| Ok(mixture_log_prob(v[0], v[1], v[2], v[3]).unwrap().sum()),
            &inputs,
            GradCheckOptions::default(),
        )
        .unwrap();
        assert!(report.max_abs_error < 1e-7, "{report:?}");
        assert_eq!(report.entries, 8 + 3 + 6 + 6);
    }

    #[test]
    fn integrates_to_one_and_samples_match_moments() {
        let mut params = Params::new();
        let mix = example(&mut params);
        let mass = grid_integral(&mix, &params, &[-8.0, -9.0], &[8.0, 8.0], 400).unwrap();
        assert!((mass - 1.0).abs() < prec::INTEGRAL, "mass {mass}");

        let w = mix.weights(&params).unwrap();
        let (m, s) = (params.get(mix.means_id()), params.get(mix.log_scales_id()));
        let n = 40_000;
        let x = mix
            .sample(&params, n, &mut StdRng::seed_from_u64(21))
            .unwrap();
        let (mean, cov) = sample_moments(&x).unwrap();
        for j in 0..2 {
            let mu: f64 = (0..3).map(|k| w[k] * m[(k, j)]).sum();
            let second: f64 = (0..3)
                .map(|k| w[k] * ((2.0 * s[(k, j)]).exp() + m[(k, j)].powi(2)))
                .sum();
            let var = second - mu * mu;
            let se = (var / n as f64).sqrt();
            assert!(
                (mean[j] - mu).abs() < prec::STANDARD_ERRORS * se,
                "{mean:?} vs {mu}"
            );
            assert!((cov[(j, j)] - var).abs() < 0.03 * var, "{cov} vs {var}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The `Var` form, the matrix form and the statrs reference agree at arbitrary points.
        #[test]
        fn log_prob_forms_agree_with_reference(a in -6.0f64..6.0, b in -6.0f64..6.0) {
            let mut params = Params::new();
            let mix = example(&mut params);
            let x = DMatrix::from_row_slice(1, 2, &[a, b]);
            let matrix = mix.log_prob_matrix(&params, &x).unwrap()[(0, 0)];
            let tape = autodiff::Tape::new();
            let p = params.bind(&tape);
            let var = mix.log_prob(&p, tape.var(x.clone())).unwrap().item();
            proptest::prop_assert_eq!(matrix, var);
            let expected = reference(&params, &mix, &[a, b]);
            proptest::prop_assert!((matrix - expected).abs() < prec::LOG_PROB_F64);
        }
    }

    #[test]
    fn bad_construction_is_an_error() {
        let mut params = Params::<f64>::new();
        assert!(matches!(
            GaussianMixture::new(
                &mut params,
                "a",
                &[],
                DMatrix::zeros(0, 2),
                DMatrix::zeros(0, 2)
            ),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            GaussianMixture::new(
                &mut params,
                "a",
                &[0.0, 0.0],
                DMatrix::zeros(3, 2),
                DMatrix::zeros(3, 2)
            ),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            GaussianMixture::new(
                &mut params,
                "a",
                &[0.0],
                DMatrix::zeros(1, 2),
                DMatrix::zeros(1, 3)
            ),
            Err(Error::Config(_))
        ));
        let mix = example(&mut params);
        assert!(matches!(
            mix.log_prob_matrix(&params, &DMatrix::zeros(0, 2)),
            Err(Error::EmptyBatch { .. })
        ));
    }
}
