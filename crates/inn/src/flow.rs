//! [`Flow`]: a normalizing flow with its parameters — fit, evaluate, sample, save, load.

use crate::network::Network;
use crate::{Error, Result};
use autodiff::nalgebra::DMatrix;
use autodiff::{Float, Params};
use bijectors::{Bijector, Chain, StackConfig};
use rand::Rng;
use std::path::Path;

/// A normalizing flow: a standard-normal base density pulled back through a bijector `f`
/// (data → latent), together with the parameter store it trains — an unconditional
/// [`Network`] (it dereferences to it: `params()`, `metadata()`, `forward`, …).
///
/// `ln p(x) = ln N(f(x); 0, I) + ln|det ∂f/∂x|`, and samples are `x = f⁻¹(z)`, `z ~ N(0, I)`.
/// Batches are `n × d`, one sample per row; log-densities are `n × 1`.
///
/// ```
/// use inn::{Flow, train::{MaximumLikelihood, MleConfig, OptimConfig}};
/// use inn::bijectors::StackConfig;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let data = inn::data::toy::two_moons(2000, 0.05, &mut rng)?.cast::<f32>();
/// let mut flow = Flow::<f32>::coupling_stack(&StackConfig::default().with_widths(4, &[32, 32]), &mut rng)?;
/// let config = MleConfig { optim: OptimConfig { steps: 50, progress: false, ..OptimConfig::default() }, ..MleConfig::default() };
/// let report = MaximumLikelihood::new(config).fit(&mut flow, &data, &mut rng, None)?;
/// assert!(report.losses[49] < report.losses[0]);
/// let samples = flow.sample(500, &mut rng)?;
/// let log_p = flow.log_prob(&samples)?;
/// assert_eq!(log_p.shape(), (500, 1));
/// # Ok::<(), inn::Error>(())
/// ```
#[derive(Debug)]
pub struct Flow<T: Float> {
    net: Network<T>,
}

crate::network::deref_to_network!(Flow);

impl<T: Float> Flow<T> {
    /// The kind name in model files.
    pub const KIND: &'static str = "flow";

    /// A flow from a bijector and the store holding its parameters.
    ///
    /// # Errors
    /// A conditional bijector ([`Error::Config`]: use a `ConditionalInn`).
    pub fn new(bijector: Box<dyn Bijector<T>>, params: Params<T>) -> Result<Self> {
        if bijector.cond_dim() > 0 {
            return Err(Error::Config(
                "Flow is unconditional; use ConditionalInn for a conditional bijector".into(),
            ));
        }
        Ok(Self {
            net: Network::new(bijector, params)?,
        })
    }

    /// The usual coupling stack ([`Chain::coupling_stack`]) with fresh parameters.
    pub fn coupling_stack<R: Rng + ?Sized>(config: &StackConfig, rng: &mut R) -> Result<Self> {
        let mut params = Params::new();
        let chain = Chain::coupling_stack(&mut params, config, rng)?;
        Self::new(Box::new(chain), params)
    }

    /// `ln p(x)` for a batch `x: n × d` → `n × 1` (evaluated in chunks; no gradients).
    pub fn log_prob(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.net.log_prob(x, None)
    }

    /// The latent codes `z = f(x)` and `ln|det ∂f/∂x|` of a batch (no gradients).
    pub fn to_latent(&self, x: &DMatrix<T>) -> Result<(DMatrix<T>, DMatrix<T>)> {
        self.forward(x, None)
    }

    /// `n` samples `x = f⁻¹(z)`, `z ~ N(0, I)` (`n × d`).
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<DMatrix<T>> {
        Ok(self.sample_and_log_prob(n, rng)?.0)
    }

    /// `n` samples and their log-densities (`n × 1`) from one pass through the inverse.
    pub fn sample_and_log_prob<R: Rng + ?Sized>(
        &self,
        n: usize,
        rng: &mut R,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        self.net.sample(n, None, rng)
    }

    /// Writes the flow (architecture, parameters, metadata) as a checksummed model file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.net.save(path, Self::KIND, &serde_json::json!({}))
    }

    /// Reads a flow written by [`Flow::save`]; the scalar type must match the file's.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let (net, _) = Network::load(path, Self::KIND)?;
        if net.cond_dim() > 0 {
            return Err(Error::Config(
                "a flow file holds a conditional network".into(),
            ));
        }
        Ok(Self { net })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::CHUNK_ROWS;
    use rand::SeedableRng;

    #[test]
    fn sampling_is_chunked_and_seeded() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let cfg = StackConfig {
            dim: 2,
            ..StackConfig::default().with_widths(2, &[8])
        };
        let flow = Flow::<f32>::coupling_stack(&cfg, &mut rng).unwrap();
        let a = flow
            .sample(CHUNK_ROWS + 17, &mut rand::rngs::StdRng::seed_from_u64(4))
            .unwrap();
        let b = flow
            .sample(CHUNK_ROWS + 17, &mut rand::rngs::StdRng::seed_from_u64(4))
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.nrows(), CHUNK_ROWS + 17);
        assert!(flow.sample(0, &mut rng).is_err());
    }
}
