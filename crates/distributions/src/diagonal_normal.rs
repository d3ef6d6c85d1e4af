//! A normal density with a trainable mean and a trainable diagonal (log-)scale.

use crate::density::{HALF_LN_2PI, check_count, check_var, standard_normal_matrix};
use crate::{Density, Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Bound, Float, ParamId, Params, Var, lit};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// `N(μ, diag(σ²))` on ℝᵈ with `μ` and `ln σ` trainable (two `1 × d` rows in a [`Params`]
/// store, registered as `{name}.mean` and `{name}.log_scale`):
///
/// `ln p(x) = Σⱼ [−½ ((xⱼ − μⱼ)/σⱼ)² − ln σⱼ − ½ ln 2π]`.
///
/// Parametrising the scale by its logarithm keeps `σ > 0` under any gradient step.
///
/// ```
/// use distributions::{Density, DiagonalNormal};
/// use autodiff::{Params, nalgebra::DMatrix};
/// use rand::SeedableRng;
/// let mut params = Params::<f64>::new();
/// let normal = DiagonalNormal::new(&mut params, "base", &[1.0, -2.0], &[0.0, 0.5_f64.ln()])?;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let x = normal.sample(&params, 4000, &mut rng)?;
/// let mean_1 = x.column(1).mean();
/// assert!((mean_1 + 2.0).abs() < 0.05);
/// # Ok::<(), distributions::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagonalNormal {
    dim: usize,
    mean: ParamId,
    log_scale: ParamId,
}

impl DiagonalNormal {
    /// Registers `{name}.mean = mean` and `{name}.log_scale = log_scale` (same length `d ≥ 1`,
    /// finite entries).
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        mean: &[T],
        log_scale: &[T],
    ) -> Result<Self> {
        let dim = mean.len();
        if dim == 0 || log_scale.len() != dim {
            return Err(Error::Config(format!(
                "DiagonalNormal needs a mean and a log-scale of the same length >= 1, got {} and {}",
                dim,
                log_scale.len()
            )));
        }
        let mean = params.add(
            format!("{name}.mean"),
            DMatrix::from_row_slice(1, dim, mean),
        )?;
        let log_scale = params.add(
            format!("{name}.log_scale"),
            DMatrix::from_row_slice(1, dim, log_scale),
        )?;
        Ok(Self {
            dim,
            mean,
            log_scale,
        })
    }

    /// `N(0, I_d)` as a starting point for training (mean 0, log-scale 0).
    pub fn standard<T: Float>(params: &mut Params<T>, name: &str, dim: usize) -> Result<Self> {
        Self::new(params, name, &vec![T::zero(); dim], &vec![T::zero(); dim])
    }

    /// Handle of the `1 × d` mean row.
    pub fn mean_id(&self) -> ParamId {
        self.mean
    }

    /// Handle of the `1 × d` log-scale row.
    pub fn log_scale_id(&self) -> ParamId {
        self.log_scale
    }

    /// Differential entropy `Σⱼ (½ ln(2πe) + ln σⱼ)` in nats at the current parameters.
    pub fn entropy<T: Float>(&self, params: &Params<T>) -> Result<f64> {
        let s = shaped_param(params, self.log_scale, (1, self.dim), "log_scale")?;
        Ok(s.iter().map(|v| v.to_f64() + HALF_LN_2PI + 0.5).sum())
    }
}

impl<T: Float> Density<T> for DiagonalNormal {
    fn dim(&self) -> usize {
        self.dim
    }

    fn log_prob<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        check_var("DiagonalNormal::log_prob", x, self.dim)?;
        self.log_prob_unchecked(p, x)
    }

    fn log_prob_unchecked<'t>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        diagonal_normal_log_prob(x, p.get(self.mean), p.get(self.log_scale))
    }

    fn sample(&self, params: &Params<T>, n: usize, rng: &mut dyn RngCore) -> Result<DMatrix<T>> {
        check_count("DiagonalNormal::sample", n)?;
        let mean = shaped_param(params, self.mean, (1, self.dim), "mean")?;
        let log_scale = shaped_param(params, self.log_scale, (1, self.dim), "log_scale")?;
        let mut x = standard_normal_matrix::<T, _>(n, self.dim, rng);
        for j in 0..self.dim {
            let (mu, sigma) = (mean[j], log_scale[j].exp());
            x.column_mut(j).apply(|v| *v = mu + sigma * *v);
        }
        Ok(x)
    }
}

/// `ln N(x; μ, diag(e^{2s}))` per row for a batch `x: n × d` and rows `mean`, `log_scale: 1 × d`
/// (shared by [`DiagonalNormal`] and every component of a mixture).
pub(crate) fn diagonal_normal_log_prob<'t, T: Float>(
    x: Var<'t, T>,
    mean: Var<'t, T>,
    log_scale: Var<'t, T>,
) -> Result<Var<'t, T>> {
    let d = x.ncols() as f64;
    let z = x.sub(mean)?.mul(log_scale.neg().exp())?;
    let quad = z.square().sum_cols().scale(lit(-0.5));
    Ok(quad.sub(log_scale.sum())?.add_scalar(lit(-d * HALF_LN_2PI)))
}

/// A parameter that must have shape `(rows, cols)`, checked so that a store edited by hand (or
/// the wrong store) gives an error rather than an out-of-bounds panic.
pub(crate) fn shaped_param<'a, T: Float>(
    params: &'a Params<T>,
    id: ParamId,
    (rows, cols): (usize, usize),
    what: &str,
) -> Result<&'a DMatrix<T>> {
    if id.index() >= params.len() {
        return Err(Error::Config(format!(
            "parameter {what} (#{}) is not in this store of {} parameters",
            id.index(),
            params.len()
        )));
    }
    let m = params.get(id);
    if m.shape() != (rows, cols) {
        return Err(Error::Config(format!(
            "parameter {:?} should be {rows} x {cols}, is {} x {}",
            params.name(id),
            m.nrows(),
            m.ncols()
        )));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::sample_moments;
    use crate::prec;
    use autodiff::optim::{Adam, Optimizer};
    use autodiff::{GradCheckOptions, Tape, grad_check};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use statrs::distribution::{Continuous, Normal};

    const MEAN: [f64; 2] = [1.5, -2.0];
    const SIGMA: [f64; 2] = [0.5, 2.0];

    fn example(params: &mut Params<f64>) -> DiagonalNormal {
        DiagonalNormal::new(params, "q", &MEAN, &SIGMA.map(f64::ln)).unwrap()
    }

    #[test]
    fn log_prob_and_entropy_match_statrs() {
        let mut params = Params::new();
        let q = example(&mut params);
        let x = DMatrix::from_fn(9, 2, |i, j| -4.0 + i as f64 + 0.3 * j as f64);
        let lp = q.log_prob_matrix(&params, &x).unwrap();
        let marginals = [0, 1].map(|j| Normal::new(MEAN[j], SIGMA[j]).unwrap());
        for i in 0..9 {
            let expected: f64 = (0..2).map(|j| marginals[j].ln_pdf(x[(i, j)])).sum();
            assert!(
                (lp[(i, 0)] - expected).abs() < prec::LOG_PROB_F64,
                "row {i}"
            );
        }
        let h: f64 = marginals
            .iter()
            .map(|m| statrs::statistics::Distribution::entropy(m).unwrap())
            .sum();
        assert!((q.entropy(&params).unwrap() - h).abs() < 1e-12);
    }

    #[test]
    fn sample_moments_match() {
        let mut params = Params::new();
        let q = example(&mut params);
        let n = 20_000;
        let x = q.sample(&params, n, &mut StdRng::seed_from_u64(5)).unwrap();
        let (mean, cov) = sample_moments(&x).unwrap();
        for j in 0..2 {
            let se = SIGMA[j] / (n as f64).sqrt();
            assert!(
                (mean[j] - MEAN[j]).abs() < prec::STANDARD_ERRORS * se,
                "{mean:?}"
            );
            let var = SIGMA[j] * SIGMA[j];
            let se_var = var * (2.0 / n as f64).sqrt();
            assert!(
                (cov[(j, j)] - var).abs() < prec::STANDARD_ERRORS * se_var,
                "{cov}"
            );
        }
    }

    #[test]
    fn gradients_pass_grad_check() {
        let x = DMatrix::from_row_slice(3, 2, &[0.2, -1.0, 1.7, 0.4, -0.6, 2.2]);
        let mean = DMatrix::from_row_slice(1, 2, &[0.3, -0.5]);
        let log_scale = DMatrix::from_row_slice(1, 2, &[-0.4, 0.6]);
        let report = grad_check(
            |_, v| Ok(diagonal_normal_log_prob(v[0], v[1], v[2]).unwrap().sum()),
            &[x, mean, log_scale],
            GradCheckOptions::default(),
        )
        .unwrap();
        assert!(report.max_abs_error < 1e-7, "{report:?}");
    }

    #[test]
    fn maximum_likelihood_recovers_mean_and_scale() {
        let mut truth_params = Params::new();
        let truth = example(&mut truth_params);
        let mut rng = StdRng::seed_from_u64(8);
        let data = truth.sample(&truth_params, 4000, &mut rng).unwrap();
        let mut params = Params::new();
        let q = DiagonalNormal::standard(&mut params, "q", 2).unwrap();
        let mut adam = Adam::with_lr(0.05);
        for _ in 0..400 {
            let tape = Tape::new();
            let p = params.bind(&tape);
            let nll = q
                .log_prob(&p, tape.constant(data.clone()))
                .unwrap()
                .mean()
                .neg();
            let mut g = tape.backward(nll).unwrap();
            adam.step(&mut params, &p.gradients(&mut g)).unwrap();
        }
        // The MLE is the sample mean and the (biased) sample standard deviation.
        let (mean, cov) = sample_moments(&data).unwrap();
        let mu = params.get(q.mean_id());
        let s = params.get(q.log_scale_id());
        for j in 0..2 {
            assert!((mu[(0, j)] - mean[j]).abs() < 1e-3, "{mu}");
            let mle_sigma = (cov[(j, j)] * 3999.0 / 4000.0).sqrt();
            assert!((s[(0, j)].exp() - mle_sigma).abs() < 1e-3, "{s}");
        }
    }

    #[test]
    fn bad_construction_and_inputs_are_errors() {
        let mut params = Params::<f64>::new();
        assert!(matches!(
            DiagonalNormal::new(&mut params, "a", &[0.0, 1.0], &[0.0]),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            DiagonalNormal::new(&mut params, "a", &[], &[]),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            DiagonalNormal::new(&mut params, "a", &[f64::NAN], &[0.0]),
            Err(Error::Autodiff(autodiff::Error::NonFinite { .. }))
        ));
        let q = example(&mut params);
        let mut x = DMatrix::zeros(2, 2);
        x[(1, 0)] = f64::NAN;
        assert!(matches!(
            q.log_prob_matrix(&params, &x),
            Err(Error::NonFinite { row: 1, col: 0, .. })
        ));
        assert!(matches!(
            q.log_prob_matrix(&params, &DMatrix::zeros(2, 1)),
            Err(Error::Width { .. })
        ));
        // A parameter reshaped by hand is reported, not indexed out of bounds.
        *params.get_mut(q.mean_id()) = DMatrix::zeros(1, 3);
        assert!(matches!(
            q.sample(&params, 3, &mut StdRng::seed_from_u64(0)),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            q.sample(&Params::<f64>::new(), 3, &mut StdRng::seed_from_u64(0)),
            Err(Error::Config(_))
        ));
    }
}
