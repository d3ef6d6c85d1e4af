//! Spectral normalisation of one residual-branch weight: W̃ = W·min(1, c/σ̂(W)) with
//! σ̂ = uᵀWv from warm-started power iteration, recorded on the tape (Miyato et al. 2018).

use crate::Result;
use autodiff::nalgebra::SVD;
use autodiff::nalgebra::{DMatrix, DVector};
use autodiff::{Float, Var, lit};
use fixedpoint::{SpectralNormOptions, spectral_norm, spectral_norm_exact};

/// The power-iteration state of one weight matrix.
///
/// `u` is the warm start that training-mode calls carry from step to step (saved in model
/// files). Evaluation-mode calls iterate from `u` without changing it and remember the result
/// together with the weights it belongs to (`converged`); while the weights do not change,
/// every later call, in either mode, reuses it. So a forward pass and the inverse that
/// follows use bit-identical normalised weights, and a block restored from its spec (same
/// `u`) reproduces the saved one bit for bit.
#[derive(Clone, Debug, Default)]
pub(crate) struct PowerState {
    pub(crate) u: Option<Vec<f64>>,
    converged: Option<Converged>,
}

#[derive(Clone, Debug)]
struct Converged {
    weight: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    /// σ_max(W) from the SVD, computed on first request.
    exact: Option<f64>,
}

/// How σ̂ is obtained in one call.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Estimate {
    /// Training: up to this many power iterations from the warm start, which they update.
    Train(usize),
    /// Evaluation by up to this many power iterations from the warm start (left unchanged).
    EvalPower(usize),
    /// Evaluation by the SVD: σ̂ = σ_max and u, v its singular vectors.
    EvalSvd,
}

/// The top singular triple (σ, u, v) of `w` from nalgebra's SVD.
fn top_singular_triple<T: Float>(w: &DMatrix<T>) -> Result<(f64, Vec<f64>, Vec<f64>)> {
    let max_niter = 1000 * (w.nrows() + w.ncols());
    let svd =
        SVD::try_new(w.clone(), true, true, T::default_epsilon(), max_niter).ok_or_else(|| {
            crate::Error::Config("i-ResNet: the SVD of a weight did not converge".into())
        })?;
    let (k, &sigma) = svd.singular_values.iter().enumerate().fold(
        (0, &svd.singular_values[0]),
        |best, (k, s)| {
            if *s > *best.1 { (k, s) } else { best }
        },
    );
    let (Some(u), Some(v_t)) = (&svd.u, &svd.v_t) else {
        return Err(crate::Error::Config(
            "i-ResNet: the SVD returned no singular vectors".into(),
        ));
    };
    Ok((
        sigma.to_f64(),
        u.column(k).iter().map(|x| x.to_f64()).collect(),
        v_t.row(k).iter().map(|x| x.to_f64()).collect(),
    ))
}

/// A normalised weight on the tape and the factor min(1, c/σ̂) it was scaled by.
pub(crate) struct Normalised<'t, T: Float> {
    pub(crate) weight: Var<'t, T>,
    pub(crate) scale: f64,
}

fn key<T: Float>(w: &DMatrix<T>) -> Vec<f64> {
    w.iter().map(|v| v.to_f64()).collect()
}

fn to_vector<T: Float>(v: &[f64]) -> DVector<T> {
    DVector::from_iterator(v.len(), v.iter().map(|&x| lit(x)))
}

impl PowerState {
    /// A state with the given warm start (checked for length by the caller).
    pub(crate) fn with_u(u: Option<Vec<f64>>) -> Self {
        Self { u, converged: None }
    }

    /// W̃ = W · min(1, c/σ̂) with σ̂ = uᵀWv computed on `w`'s tape (u, v constants), so the
    /// gradient with respect to W is that of the normalised weight, as in torch's
    /// `spectral_norm`. Reuses the evaluation-mode estimate for unchanged weights; otherwise
    /// estimates σ̂ as `estimate` says (power iteration stops early once σ̂ changes by less
    /// than 1e-12 relative in f64, ≈1.2e-5 in f32), keeping the result as the
    /// evaluation-mode estimate or (training) u as the next warm start.
    pub(crate) fn normalise<'t, T: Float>(
        &mut self,
        w: Var<'t, T>,
        coeff: f64,
        estimate: Estimate,
    ) -> Result<Normalised<'t, T>> {
        let wv = w.value();
        autodiff::check_finite("i-ResNet weight", &wv)?;
        let k = key(&*wv);
        let reuse = match &self.converged {
            Some(c) if c.weight == k => Some((c.u.clone(), c.v.clone())),
            _ => None,
        };
        let (u, v) = match reuse {
            Some(uv) => uv,
            None if matches!(estimate, Estimate::EvalSvd) => {
                let (sigma, u, v) = top_singular_triple(&*wv)?;
                self.converged = Some(Converged {
                    weight: k,
                    u: u.clone(),
                    v: v.clone(),
                    exact: Some(sigma),
                });
                (u, v)
            }
            None => {
                let iters = match estimate {
                    Estimate::Train(n) | Estimate::EvalPower(n) => n,
                    Estimate::EvalSvd => 1,
                };
                let warm = self
                    .u
                    .as_ref()
                    .filter(|u| u.len() == wv.nrows() && u.iter().any(|&x| x != 0.0))
                    .map(|u| to_vector::<T>(u));
                // A cold start (first training call) begins from the exact top singular
                // vector, so the few training iterations estimate the same σ̂ as evaluation
                // does: otherwise the first step would differentiate a different map.
                let u0 = match warm {
                    Some(u) => Some(u),
                    None => Some(to_vector::<T>(&top_singular_triple(&*wv)?.1)),
                };
                let opts = SpectralNormOptions {
                    max_iter: iters,
                    u0,
                    ..Default::default()
                };
                let s = spectral_norm(&*wv, &opts)?;
                let u: Vec<f64> = s.u.iter().map(|x| x.to_f64()).collect();
                let v: Vec<f64> = s.v.iter().map(|x| x.to_f64()).collect();
                if let Estimate::Train(_) = estimate {
                    self.u = Some(u.clone());
                    self.converged = None;
                } else {
                    self.converged = Some(Converged {
                        weight: k,
                        u: u.clone(),
                        v: v.clone(),
                        exact: None,
                    });
                }
                (u, v)
            }
        };
        let tape = w.tape();
        let u_row = tape.constant(DMatrix::from_row_slice(
            1,
            u.len(),
            to_vector::<T>(&u).as_slice(),
        ));
        let v_col = tape.constant(DMatrix::from_column_slice(
            v.len(),
            1,
            to_vector::<T>(&v).as_slice(),
        ));
        let sigma = u_row.matmul(w)?.matmul(v_col)?;
        let s = sigma.item().to_f64();
        if s > coeff {
            let factor = tape.scalar(lit::<T>(coeff)).div(sigma)?;
            Ok(Normalised {
                weight: w.mul(factor)?,
                scale: coeff / s,
            })
        } else {
            Ok(Normalised {
                weight: w,
                scale: 1.0,
            })
        }
    }

    /// σ_max(W) of the raw weight from nalgebra's SVD (a guaranteed, not estimated, norm),
    /// cached with the converged estimate while the weights do not change.
    pub(crate) fn exact_norm<T: Float>(&mut self, w: &DMatrix<T>) -> Result<f64> {
        let k = key(w);
        if let Some(c) = &self.converged
            && c.weight == k
            && let Some(e) = c.exact
        {
            return Ok(e);
        }
        let e = spectral_norm_exact(w)?.to_f64();
        if let Some(c) = &mut self.converged
            && c.weight == k
        {
            c.exact = Some(e);
        }
        Ok(e)
    }
}
