//! Gradient checking: reverse-mode gradients against central finite differences, in f64.

use crate::{Bound, Error, Params, Result, Tape, Var};
use nalgebra::DMatrix;

/// Options for [`grad_check`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheckOptions {
    /// Finite-difference step `h` in `(f(x + h) − f(x − h)) / 2h`. Default `1e-6`.
    pub step: f64,
    /// Absolute tolerance. Default `1e-6`.
    pub atol: f64,
    /// Relative tolerance (relative to the larger magnitude of the two gradients). Default `1e-5`.
    pub rtol: f64,
}

impl Default for GradCheckOptions {
    fn default() -> Self {
        Self {
            step: 1e-6,
            atol: 1e-6,
            rtol: 1e-5,
        }
    }
}

/// What [`grad_check`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckReport {
    /// Largest `|analytic − numeric|` over all inputs and entries.
    pub max_abs_error: f64,
    /// Largest `|analytic − numeric| / max(|analytic|, |numeric|)` over entries where that
    /// denominator exceeds `atol`.
    pub max_rel_error: f64,
    /// Number of entries compared.
    pub entries: usize,
}

/// Checks the reverse-mode gradient of a scalar function of several matrices against central
/// finite differences.
///
/// `f` builds a `1 × 1` loss on the given tape from leaf variables holding `inputs`. Every
/// entry `k` of every input is perturbed by `±step`; the check passes when, for every entry,
/// `|analytic − numeric| ≤ atol + rtol · max(|analytic|, |numeric|)`.
///
/// ```
/// use autodiff::{grad_check, GradCheckOptions, nalgebra::DMatrix};
/// let x = DMatrix::from_row_slice(2, 3, &[0.1, -0.4, 0.7, 1.2, -0.3, 0.5]);
/// let w = DMatrix::from_row_slice(3, 1, &[0.3, -0.2, 0.9]);
/// let report = grad_check(
///     |_tape, v| Ok(v[0].matmul(v[1])?.tanh().sum()),
///     &[x, w],
///     GradCheckOptions::default(),
/// ).unwrap();
/// assert!(report.max_abs_error < 1e-8);
/// ```
pub fn grad_check<F>(
    f: F,
    inputs: &[DMatrix<f64>],
    opts: GradCheckOptions,
) -> Result<GradCheckReport>
where
    F: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
{
    let analytic: Vec<DMatrix<f64>> = {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|m| tape.var(m.clone())).collect();
        let loss = f(&tape, &vars)?;
        let grads = tape.backward(loss)?;
        vars.iter().map(|&v| grads.wrt(v)).collect()
    };
    let eval = |k: usize, value: &DMatrix<f64>| -> Result<f64> {
        let tape = Tape::no_grad();
        let vars: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(i, m)| tape.constant(if i == k { value.clone() } else { m.clone() }))
            .collect();
        let out = f(&tape, &vars)?;
        Ok(out.item())
    };
    compare(inputs, &analytic, eval, opts)
}

/// Central differences of `eval` at every entry of every matrix of `at` against `analytic`
/// (the gradients in the same order); `eval(k, value)` is the loss with matrix `k` replaced.
fn compare(
    at: &[DMatrix<f64>],
    analytic: &[DMatrix<f64>],
    eval: impl Fn(usize, &DMatrix<f64>) -> Result<f64>,
    opts: GradCheckOptions,
) -> Result<GradCheckReport> {
    let mut report = GradCheckReport {
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        entries: 0,
    };
    for (k, input) in at.iter().enumerate() {
        let mut probe = input.clone();
        for idx in 0..input.len() {
            let orig = probe[idx];
            probe[idx] = orig + opts.step;
            let plus = eval(k, &probe)?;
            probe[idx] = orig - opts.step;
            let minus = eval(k, &probe)?;
            probe[idx] = orig;
            let numeric = (plus - minus) / (2.0 * opts.step);
            let a = analytic[k][idx];
            let err = (a - numeric).abs();
            let scale = a.abs().max(numeric.abs());
            report.entries += 1;
            report.max_abs_error = report.max_abs_error.max(err);
            if scale > opts.atol {
                report.max_rel_error = report.max_rel_error.max(err / scale);
            }
            // Written so that a NaN error fails the check.
            let within = err <= opts.atol + opts.rtol * scale;
            if !within {
                return Err(Error::GradientMismatch {
                    input: k,
                    row: idx % input.nrows(),
                    col: idx / input.nrows(),
                    analytic: a,
                    numeric,
                });
            }
        }
    }
    Ok(report)
}

/// [`grad_check`] for a layer: the gradient of a scalar function of a parameter store and of
/// input matrices, with respect to every parameter and every input, against central
/// differences (the store is perturbed entry by entry, bound to a no-grad tape each time).
///
/// `f` builds a `1 × 1` loss on the given tape from `params` bound to it and leaf variables
/// holding `inputs`. On a mismatch, [`Error::GradientMismatch`]'s `input` numbers the inputs
/// first (`0 .. inputs.len()`) and then the parameters (`inputs.len() + id.index()`).
///
/// ```
/// use autodiff::{grad_check_params, GradCheckOptions, Params, nalgebra::DMatrix, nn::{Activation, Mlp, MlpConfig}};
/// use rand::SeedableRng;
/// let mut params = Params::<f64>::new();
/// let mlp = Mlp::new(&mut params, "m", &MlpConfig::new(&[2, 4, 1], Activation::Tanh), &mut rand::rngs::StdRng::seed_from_u64(0))?;
/// let x = DMatrix::from_row_slice(3, 2, &[0.1, -0.4, 0.7, 1.2, -0.3, 0.5]);
/// let report = grad_check_params(
///     |_tape, p, v| Ok(mlp.forward(p, v[0])?.square().sum()),
///     &params,
///     &[x],
///     GradCheckOptions::default(),
/// )?;
/// assert_eq!(report.entries, 6 + params.n_scalars());
/// # Ok::<(), autodiff::Error>(())
/// ```
pub fn grad_check_params<F>(
    f: F,
    params: &Params<f64>,
    inputs: &[DMatrix<f64>],
    opts: GradCheckOptions,
) -> Result<GradCheckReport>
where
    F: for<'t> Fn(&'t Tape<f64>, &Bound<'t, f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
{
    let analytic: Vec<DMatrix<f64>> = {
        let tape = Tape::new();
        let p = params.bind(&tape);
        let vars: Vec<_> = inputs.iter().map(|m| tape.var(m.clone())).collect();
        let loss = f(&tape, &p, &vars)?;
        let mut grads = tape.backward(loss)?;
        let mut all: Vec<_> = vars.iter().map(|&v| grads.wrt(v)).collect();
        all.extend(p.gradients(&mut grads));
        all
    };
    let mut at = inputs.to_vec();
    at.extend(params.iter().map(|(_, _, v)| v.clone()));
    let ids: Vec<_> = params.iter().map(|(id, _, _)| id).collect();
    let n_in = inputs.len();
    let eval = |k: usize, value: &DMatrix<f64>| -> Result<f64> {
        let tape = Tape::no_grad();
        let mut perturbed;
        let store = if k >= n_in {
            perturbed = params.clone();
            perturbed.get_mut(ids[k - n_in]).copy_from(value);
            &perturbed
        } else {
            params
        };
        let p = store.bind(&tape);
        let vars: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(i, m)| tape.constant(if i == k { value.clone() } else { m.clone() }))
            .collect();
        Ok(f(&tape, &p, &vars)?.item())
    };
    compare(&at, &analytic, eval, opts)
}
