//! [`Flow`]: a normalizing flow with its parameters — fit, evaluate, sample, save, load.

use crate::{Error, Result, model_file};
use autodiff::nalgebra::DMatrix;
use autodiff::{Float, Params};
use bijectors::{Bijector, BlockSpec, Chain, StackConfig, block_from_spec};
use distributions::{Density, StandardNormal, TransformedDistribution};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Rows per pass when evaluating or sampling large batches, so memory stays bounded: a
/// no-grad tape keeps every intermediate of its chunk (for config A of the benchmark,
/// 8 blocks × ~24 activations × rows × 128 × 4 B, ≈ 200 MB at 2048 rows).
const CHUNK_ROWS: usize = 2048;

/// A normalizing flow: a standard-normal base density pulled back through a bijector `f`
/// (data → latent), together with the parameter store it trains.
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
/// let mut flow = Flow::<f32>::coupling_stack(&StackConfig { dim: 2, blocks: 4, hidden: vec![32, 32], ..StackConfig::default() }, &mut rng)?;
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
    dist: TransformedDistribution<T>,
    spec: BlockSpec,
    params: Params<T>,
    metadata: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
struct FlowFile<T: Float> {
    dtype: String,
    spec: BlockSpec,
    params: Params<T>,
    metadata: BTreeMap<String, serde_json::Value>,
}

impl<T: Float> Flow<T> {
    /// The kind name in model files.
    pub const KIND: &'static str = "flow";

    /// A flow from a bijector and the store holding its parameters.
    pub fn new(bijector: Box<dyn Bijector<T>>, params: Params<T>) -> Result<Self> {
        if bijector.cond_dim() > 0 {
            return Err(Error::Config(
                "Flow is unconditional; use ConditionalInn for a conditional bijector".into(),
            ));
        }
        let spec = bijector.spec()?;
        let base = StandardNormal::new(bijector.dim())?;
        Ok(Self {
            dist: TransformedDistribution::new(Box::new(base), bijector)?,
            spec,
            params,
            metadata: BTreeMap::new(),
        })
    }

    /// The usual coupling stack ([`Chain::coupling_stack`]) with fresh parameters.
    pub fn coupling_stack<R: Rng + ?Sized>(config: &StackConfig, rng: &mut R) -> Result<Self> {
        let mut params = Params::new();
        let chain = Chain::coupling_stack(&mut params, config, rng)?;
        Self::new(Box::new(chain), params)
    }

    /// Data dimension `d`.
    pub fn dim(&self) -> usize {
        self.dist.dim()
    }

    /// The flow as a density (base + bijector), for Var-level use in custom objectives.
    pub fn distribution(&self) -> &TransformedDistribution<T> {
        &self.dist
    }

    /// The bijector (data → latent).
    pub fn bijector(&self) -> &dyn Bijector<T> {
        self.dist.bijector()
    }

    /// The parameters.
    pub fn params(&self) -> &Params<T> {
        &self.params
    }

    /// Mutable parameters (trainers update them).
    pub fn params_mut(&mut self) -> &mut Params<T> {
        &mut self.params
    }

    /// The parameters (mutable) and the bijector (shared) at once, for data-dependent
    /// initialisation, which writes parameters while running the bijector.
    pub fn parts_mut(&mut self) -> (&mut Params<T>, &dyn Bijector<T>) {
        (&mut self.params, self.dist.bijector())
    }

    /// Free-form annotations saved with the model (training summary, standardisation, …).
    pub fn metadata(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.metadata
    }

    /// Mutable annotations.
    pub fn metadata_mut(&mut self) -> &mut BTreeMap<String, serde_json::Value> {
        &mut self.metadata
    }

    /// `ln p(x)` for a batch `x: n × d` → `n × 1` (evaluated in chunks; no gradients).
    pub fn log_prob(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        distributions::check_batch("Flow::log_prob", x, self.dim())?;
        let mut out = DMatrix::zeros(x.nrows(), 1);
        let mut start = 0;
        while start < x.nrows() {
            let len = CHUNK_ROWS.min(x.nrows() - start);
            let chunk = x.rows(start, len).into_owned();
            out.rows_mut(start, len)
                .copy_from(&self.dist.log_prob_matrix(&self.params, &chunk)?);
            start += len;
        }
        Ok(out)
    }

    /// The latent codes `z = f(x)` and `ln|det ∂f/∂x|` of a batch (no gradients).
    pub fn to_latent(&self, x: &DMatrix<T>) -> Result<(DMatrix<T>, DMatrix<T>)> {
        Ok(self.bijector().forward_matrix(&self.params, x)?)
    }

    /// `n` samples `x = f⁻¹(z)`, `z ~ N(0, I)` (`n × d`).
    pub fn sample(&self, n: usize, rng: &mut dyn RngCore) -> Result<DMatrix<T>> {
        Ok(self.sample_and_log_prob(n, rng)?.0)
    }

    /// `n` samples and their log-densities (`n × 1`) from one pass through the inverse.
    pub fn sample_and_log_prob(
        &self,
        n: usize,
        rng: &mut dyn RngCore,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        if n == 0 {
            return Err(Error::Config("cannot draw 0 samples".into()));
        }
        let mut x = DMatrix::zeros(n, self.dim());
        let mut lp = DMatrix::zeros(n, 1);
        let mut start = 0;
        while start < n {
            let len = CHUNK_ROWS.min(n - start);
            let (xs, ls) = self.dist.sample_and_log_prob(&self.params, len, rng)?;
            x.rows_mut(start, len).copy_from(&xs);
            lp.rows_mut(start, len).copy_from(&ls);
            start += len;
        }
        Ok((x, lp))
    }

    /// Writes the flow (architecture, parameters, metadata) as a checksummed model file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let file = FlowFile {
            dtype: T::NAME.to_string(),
            spec: self.spec.clone(),
            params: self.params.clone(),
            metadata: self.metadata.clone(),
        };
        model_file::save(path, Self::KIND, &file)
    }

    /// Reads a flow written by [`Flow::save`]; the scalar type must match the file's.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file: FlowFile<T> = model_file::load(path, Self::KIND)?;
        if file.dtype != T::NAME {
            return Err(Error::Model {
                path: path.to_path_buf(),
                reason: format!("holds {} parameters, requested {}", file.dtype, T::NAME),
            });
        }
        let bijector = block_from_spec::<T>(&file.spec).map_err(|e| Error::Model {
            path: path.to_path_buf(),
            reason: format!("architecture: {e}"),
        })?;
        check_params_match(&file.spec, bijector.as_ref(), &file.params).map_err(|reason| {
            Error::Model {
                path: path.to_path_buf(),
                reason,
            }
        })?;
        let mut flow = Self::new(bijector, file.params)?;
        flow.metadata = file.metadata;
        Ok(flow)
    }
}

/// A restored architecture must run on the stored parameters: every parameter handle in the
/// description must exist, and one forward pass on a zero batch catches mis-shaped ones as an
/// error instead of a later failure.
fn check_params_match<T: Float>(
    spec: &BlockSpec,
    bijector: &dyn Bijector<T>,
    params: &Params<T>,
) -> std::result::Result<(), String> {
    params.check_ids(&spec.config).map_err(|e| e.to_string())?;
    let x = DMatrix::zeros(1, bijector.dim());
    bijector
        .forward_matrix(params, &x)
        .map(|_| ())
        .map_err(|e| format!("parameters do not fit the architecture: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("inn-flow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        dir.join(name)
    }

    #[test]
    fn save_load_reproduces_log_prob_bit_for_bit() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let cfg = StackConfig {
            dim: 3,
            blocks: 3,
            hidden: vec![16],
            actnorm: true,
            ..StackConfig::default()
        };
        let mut flow = Flow::<f32>::coupling_stack(&cfg, &mut rng).unwrap();
        flow.metadata_mut()
            .insert("note".into(), serde_json::json!("hello"));
        let x = DMatrix::<f32>::from_fn(50, 3, |i, j| (i as f32 * 0.37 + j as f32).sin());
        let path = temp("f.inn");
        flow.save(&path).unwrap();
        let back = Flow::<f32>::load(&path).unwrap();
        assert_eq!(flow.log_prob(&x).unwrap(), back.log_prob(&x).unwrap());
        assert_eq!(back.metadata()["note"], "hello");
        // Wrong scalar type and wrong kind are errors.
        assert!(matches!(Flow::<f64>::load(&path), Err(Error::Model { .. })));
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() - 10]).unwrap();
        assert!(matches!(Flow::<f32>::load(&path), Err(Error::Model { .. })));
    }

    #[test]
    fn a_consistent_but_wrong_payload_is_an_error_not_a_panic() {
        // A file whose checksum is valid but whose architecture refers to parameters the store
        // does not hold (a buggy writer, or a hand-edited file re-checksummed).
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let cfg = StackConfig {
            dim: 2,
            blocks: 2,
            hidden: vec![8],
            ..StackConfig::default()
        };
        let flow = Flow::<f64>::coupling_stack(&cfg, &mut rng).unwrap();
        let file = FlowFile {
            dtype: "f64".into(),
            spec: flow.spec.clone(),
            params: Params::<f64>::new(),
            metadata: BTreeMap::new(),
        };
        let path = temp("empty-params.inn");
        model_file::save(&path, Flow::<f64>::KIND, &file).unwrap();
        let e = Flow::<f64>::load(&path).unwrap_err().to_string();
        assert!(e.contains("parameter"), "{e}");
    }

    #[test]
    fn sampling_is_chunked_and_seeded() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let cfg = StackConfig {
            dim: 2,
            blocks: 2,
            hidden: vec![8],
            ..StackConfig::default()
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
