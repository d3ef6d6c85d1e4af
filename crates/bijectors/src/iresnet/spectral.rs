//! Spectral normalisation of one residual-branch weight: W̃ = W·min(1, c/σ̂(W)) with
//! σ̂ = uᵀWv from warm-started power iteration, recorded on the tape (Miyato et al. 2018).

use crate::Result;
use autodiff::nalgebra::{DMatrix, DVector};
use autodiff::{Float, Var, lit};
use fixedpoint::{SpectralNormOptions, spectral_norm, spectral_norm_exact};

/// The power-iteration state of one weight matrix.
///
/// `u` is the warm start carried from call to call (saved in model files so that a restored
/// block normalises exactly like the saved one). `converged` remembers the result of the last
/// evaluation-mode call together with the weights it belongs to: while the weights do not
/// change, later evaluation-mode calls reuse it, so a forward pass and the inverse that
/// follows it use bit-identical normalised weights.
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
    sigma: f64,
    /// σ_max(W) from the SVD, computed on first request.
    exact: Option<f64>,
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
    /// `spectral_norm`. `eval` selects the evaluation mode: reuse a converged estimate for
    /// unchanged weights, otherwise iterate up to `iters` times (stopping early once σ̂
    /// changes by less than 1e-12 relative in f64, ≈1.2e-5 in f32).
    pub(crate) fn normalise<'t, T: Float>(
        &mut self,
        w: Var<'t, T>,
        coeff: f64,
        iters: usize,
        eval: bool,
    ) -> Result<Normalised<'t, T>> {
        let wv = w.value();
        autodiff::check_finite("i-ResNet weight", &wv)?;
        let k = key(&*wv);
        let reuse = match &self.converged {
            Some(c) if eval && c.weight == k => Some((c.u.clone(), c.v.clone())),
            _ => None,
        };
        let (u, v) = match reuse {
            Some(uv) => uv,
            None => {
                let u0 = self
                    .u
                    .as_ref()
                    .filter(|u| u.len() == wv.nrows() && u.iter().any(|&x| x != 0.0))
                    .map(|u| to_vector::<T>(u));
                let opts = SpectralNormOptions {
                    max_iter: iters,
                    u0,
                    ..Default::default()
                };
                let s = spectral_norm(&*wv, &opts)?;
                let u: Vec<f64> = s.u.iter().map(|x| x.to_f64()).collect();
                let v: Vec<f64> = s.v.iter().map(|x| x.to_f64()).collect();
                self.u = Some(u.clone());
                self.converged = if eval {
                    Some(Converged {
                        weight: k,
                        u: u.clone(),
                        v: v.clone(),
                        sigma: s.sigma.to_f64(),
                        exact: None,
                    })
                } else {
                    None
                };
                (u, v)
            }
        };
        let tape = w.tape();
        let u_row = tape.constant(DMatrix::from_row_slice(1, u.len(), to_vector::<T>(&u).as_slice()));
        let v_col = tape.constant(DMatrix::from_column_slice(v.len(), 1, to_vector::<T>(&v).as_slice()));
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

    /// The last converged σ̂ (evaluation mode), for diagnostics.
    pub(crate) fn converged_sigma(&self) -> Option<f64> {
        self.converged.as_ref().map(|c| c.sigma)
    }
}
