//! [`Network`]: the core every model is built on — an invertible network (a bijector pulled
//! back onto a standard-normal base) with its parameters, its architecture description and
//! free-form metadata; inference in bounded chunks; model files.
//!
//! [`Flow`](crate::Flow), [`ConditionalInn`](crate::train::ConditionalInn) and
//! [`Inn`](crate::train::Inn) are a configuration, a builder and an objective each around one
//! `Network` (they dereference to it, so `model.params()`, `model.metadata()` and the chunked
//! passes are this type's), and save and load through it.

use crate::model_file::{Contents, Tensor, TensorData};
use crate::{Error, Result, model_file};
use autodiff::nalgebra::DMatrix;
use autodiff::train::TrainReport;
use autodiff::{Float, Params};
use bijectors::{Bijector, BlockSpec, block_from_spec};
use distributions::{Density, StandardNormal, TransformedDistribution};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Rows per pass when evaluating or sampling large batches, so memory stays bounded: a no-grad
/// tape keeps every intermediate of its chunk (for config A of the benchmark, 8 blocks × ~24
/// activations × rows × 128 × 4 B, ≈ 200 MB at 2048 rows).
pub(crate) const CHUNK_ROWS: usize = 2048;

/// An invertible network `f` (data → latent, optionally conditioned on `c`) with the standard
/// normal as its base density, the parameters it trains, the serialisable description of its
/// architecture and free-form metadata (training summary, column names, standardisation).
///
/// `ln p(x | c) = ln N(f(x; c); 0, I) + ln|det ∂f/∂x|`, and `x = f⁻¹(z; c)` for `z ~ N(0, I)`.
/// Batches are `n × d` (one sample per row), conditions `n × cond_dim`, per-row results `n × 1`.
///
/// ```
/// use inn::Network;
/// use inn::autodiff::{Params, nalgebra::DMatrix};
/// use inn::bijectors::{Chain, StackConfig};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut params = Params::<f64>::new();
/// let config = StackConfig { dim: 3, cond_dim: 1, ..StackConfig::default().with_widths(2, &[8]) };
/// let chain = Chain::coupling_stack(&mut params, &config, &mut rng)?;
/// let net = Network::new(Box::new(chain), params)?;
/// let c = DMatrix::from_element(5000, 1, 0.5); // more rows than one chunk
/// let (x, log_p) = net.sample(5000, Some(&c), &mut rng)?;
/// let (z, _) = net.forward(&x, Some(&c))?;
/// let (back, _) = net.inverse(&z, Some(&c))?;
/// assert!((back - &x).abs().max() < 1e-9);
/// assert!((net.log_prob(&x, Some(&c))? - log_p).abs().max() < 1e-9);
/// # Ok::<(), inn::Error>(())
/// ```
#[derive(Debug)]
pub struct Network<T: Float> {
    dist: TransformedDistribution<T>,
    spec: BlockSpec,
    params: Params<T>,
    metadata: BTreeMap<String, serde_json::Value>,
}

/// `Deref` and `DerefMut` of a model type to its `net: Network<T>` field, so that the network's
/// accessors and passes are the model's.
macro_rules! deref_to_network {
    ($model:ident) => {
        impl<T: autodiff::Float> std::ops::Deref for $model<T> {
            type Target = $crate::Network<T>;
            fn deref(&self) -> &$crate::Network<T> {
                &self.net
            }
        }

        impl<T: autodiff::Float> std::ops::DerefMut for $model<T> {
            fn deref_mut(&mut self) -> &mut $crate::Network<T> {
                &mut self.net
            }
        }
    };
}
pub(crate) use deref_to_network;

/// The payload of a JSON model file (format version 2; a safetensors file, version 3, holds the
/// same parts as header entries and tensors): the scalar type, the model's own description
/// (configuration and widths, as its type serialises them), the architecture, the parameters
/// and the metadata.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
struct NetworkFile<T: Float> {
    scalar: String,
    model: serde_json::Value,
    flow: BlockSpec,
    params: Params<T>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
}

/// The payload of a version-1 file: the same parts, with the model's description at the top
/// level (`config`, `x_dim`, `y_dim`, `layout`) and, for flows, `dtype`/`spec` instead of
/// `scalar`/`flow`.
#[derive(Deserialize)]
#[serde(bound = "")]
struct NetworkFileV1<T: Float> {
    #[serde(alias = "dtype")]
    scalar: String,
    #[serde(alias = "spec")]
    flow: BlockSpec,
    params: Params<T>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    x_dim: Option<usize>,
    #[serde(default)]
    y_dim: Option<usize>,
    #[serde(default)]
    layout: Option<serde_json::Value>,
}

impl<T: Float> From<NetworkFileV1<T>> for NetworkFile<T> {
    fn from(v1: NetworkFileV1<T>) -> Self {
        let mut model = serde_json::Map::new();
        let fields = [
            ("config", v1.config),
            ("x_dim", v1.x_dim.map(Into::into)),
            ("y_dim", v1.y_dim.map(Into::into)),
            ("layout", v1.layout),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                model.insert(name.into(), v);
            }
        }
        Self {
            scalar: v1.scalar,
            model: model.into(),
            flow: v1.flow,
            params: v1.params,
            metadata: v1.metadata,
        }
    }
}

impl<T: Float> Network<T> {
    /// A network from a bijector (data → latent) and the store holding its parameters.
    ///
    /// # Errors
    /// A bijector that cannot describe itself ([`Error::Bijector`]).
    pub fn new(bijector: Box<dyn Bijector<T>>, params: Params<T>) -> Result<Self> {
        let spec = bijector.spec()?;
        let base = StandardNormal::new(bijector.dim())?;
        Ok(Self {
            dist: TransformedDistribution::new(Box::new(base), bijector)?,
            spec,
            params,
            metadata: BTreeMap::new(),
        })
    }

    /// Width `d` of the data (and latent) batches.
    pub fn dim(&self) -> usize {
        self.dist.dim()
    }

    /// Width of the condition (0 for an unconditional network).
    pub fn cond_dim(&self) -> usize {
        self.dist.cond_dim()
    }

    /// The network as a density (base + bijector), for `Var`-level use in objectives.
    pub fn distribution(&self) -> &TransformedDistribution<T> {
        &self.dist
    }

    /// The bijector (data → latent).
    pub fn bijector(&self) -> &dyn Bijector<T> {
        self.dist.bijector()
    }

    /// The architecture's serialisable description (as saved in model files).
    pub fn spec(&self) -> &BlockSpec {
        &self.spec
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

    /// Records a training run's summary under `"training"` in the metadata.
    pub(crate) fn record_training(&mut self, report: &TrainReport, method: &str) {
        self.metadata
            .insert("training".into(), report.summary(method));
    }

    /// `(z, ln|det ∂f/∂x|)` of `x` (`n × d`, condition `n × cond_dim`), chunk by chunk, no
    /// gradients: `n × d` and `n × 1`.
    ///
    /// # Errors
    /// Wrong widths or row counts, an empty batch, non-finite entries ([`Error::Bijector`]).
    pub fn forward(
        &self,
        x: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        chunked(x, cond, |x, c| {
            Ok(self.bijector().forward_matrix_with(&self.params, x, c)?)
        })
    }

    /// `(x, ln|det ∂f⁻¹/∂z|)` of `z` (`n × d`, condition `n × cond_dim`), chunk by chunk, no
    /// gradients.
    ///
    /// # Errors
    /// As [`Network::forward`].
    pub fn inverse(
        &self,
        z: &DMatrix<T>,
        cond: Option<&DMatrix<T>>,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        chunked(z, cond, |z, c| {
            Ok(self.bijector().inverse_matrix_with(&self.params, z, c)?)
        })
    }

    /// `ln p(x | c)` per row (`n × 1`) of `x` (`n × d`, condition `n × cond_dim` or `None`),
    /// chunk by chunk, no gradients (the distributions crate's conditional density).
    ///
    /// # Errors
    /// As [`Network::forward`].
    pub fn log_prob(&self, x: &DMatrix<T>, cond: Option<&DMatrix<T>>) -> Result<DMatrix<T>> {
        // `chunked` stacks two outputs; the second is left empty (no columns).
        let lp = |x: &DMatrix<T>, c: Option<&DMatrix<T>>| -> Result<(DMatrix<T>, DMatrix<T>)> {
            let lp = self.dist.log_prob_cond_matrix(&self.params, x, c)?;
            Ok((lp, DMatrix::zeros(x.nrows(), 0)))
        };
        Ok(chunked(x, cond, lp)?.0)
    }

    /// `n` draws `x = f⁻¹(z; c)`, `z ~ N(0, I)`, with their log-densities (`n × d`, `n × 1`):
    /// one per row of `cond` (`n × cond_dim`), or `n` unconditional ones (`cond = None`).
    /// The latents are drawn row by row in chunk order, so the draws do not depend on the
    /// chunk size.
    ///
    /// # Errors
    /// `n = 0`, a condition of the wrong shape or with non-finite entries.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        n: usize,
        cond: Option<&DMatrix<T>>,
        rng: &mut R,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        if n == 0 {
            return Err(Error::Config("cannot draw 0 samples".into()));
        }
        if let Some(c) = cond
            && c.nrows() != n
        {
            return Err(Error::Config(format!(
                "{n} samples asked for with a condition of {} rows",
                c.nrows()
            )));
        }
        let mut x = DMatrix::zeros(n, self.dim());
        let mut lp = DMatrix::zeros(n, 1);
        for start in (0..n).step_by(CHUNK_ROWS) {
            let len = CHUNK_ROWS.min(n - start);
            let (xs, ls) = match cond {
                Some(c) => self.dist.sample_and_log_prob_cond(
                    &self.params,
                    &c.rows(start, len).into_owned(),
                    rng,
                )?,
                None => self.dist.sample_and_log_prob(&self.params, len, rng)?,
            };
            x.rows_mut(start, len).copy_from(&xs);
            lp.rows_mut(start, len).copy_from(&ls);
        }
        Ok((x, lp))
    }

    /// Writes the network as a checksummed model file of `kind`, with `model` (the model type's
    /// own description: configuration, widths) next to the architecture and parameters.
    ///
    /// The container follows the extension: a path ending in `.json` gets a JSON file (format
    /// version 2, as earlier releases wrote), any other (`.inn`, `.safetensors`) a safetensors
    /// file (format version 3) whose tensors are the parameters, row-major, named as in
    /// [`Params`], and whose header entries `scalar`, `model`, `flow`, `metadata` and `params`
    /// (the parameter names in registration order) are JSON text ([`model_file`]).
    pub(crate) fn save(
        &self,
        path: impl AsRef<Path>,
        kind: &str,
        model: &impl Serialize,
    ) -> Result<()> {
        let model = serde_json::to_value(model).map_err(|e| Error::Config(e.to_string()))?;
        let path = path.as_ref();
        if model_file::writes_json(path) {
            let file = NetworkFile {
                scalar: T::NAME.to_string(),
                model,
                flow: self.spec.clone(),
                params: self.params.clone(),
                metadata: self.metadata.clone(),
            };
            return model_file::save(path, kind, &file);
        }
        let text = |value: serde_json::Result<String>| {
            value.map_err(|e| Error::Model {
                path: path.to_path_buf(),
                reason: format!("cannot encode: {e}"),
            })
        };
        let names: Vec<&str> = self.params.iter().map(|(_, name, _)| name).collect();
        let header = BTreeMap::from([
            ("scalar".to_string(), T::NAME.to_string()),
            ("model".to_string(), text(serde_json::to_string(&model))?),
            ("flow".to_string(), text(serde_json::to_string(&self.spec))?),
            (
                "metadata".to_string(),
                text(serde_json::to_string(&self.metadata))?,
            ),
            ("params".to_string(), text(serde_json::to_string(&names))?),
        ]);
        let tensors = self
            .params
            .iter()
            .map(|(_, name, value)| (name.to_string(), tensor_of(value)))
            .collect();
        model_file::save_tensors(path, kind, &header, &tensors)
    }

    /// Reads a file written by [`Network::save`] (or by the version-1 writers) for `kind`:
    /// the network and the model's own description. The architecture comes from the file's
    /// description alone (no random initialisation); its parameters must all exist, be finite
    /// and fit (one pass on a zero batch).
    ///
    /// # Errors
    /// [`Error::Model`] naming the file: missing, corrupt, another kind or version, another
    /// scalar type, or contents that do not form a network.
    pub(crate) fn load(path: impl AsRef<Path>, kind: &str) -> Result<(Self, serde_json::Value)> {
        let path = path.as_ref();
        let bad = |reason: String| Error::Model {
            path: path.to_path_buf(),
            reason,
        };
        let file: NetworkFile<T> = match model_file::read_any(path, kind)? {
            Contents::Json {
                version: 1,
                payload,
            } => serde_json::from_str::<NetworkFileV1<T>>(&payload)
                .map(Into::into)
                .map_err(|e| bad(format!("cannot decode the model: {e}")))?,
            Contents::Json { payload, .. } => serde_json::from_str(&payload)
                .map_err(|e| bad(format!("cannot decode the model: {e}")))?,
            Contents::Tensors(tensors) => network_file_of(tensors).map_err(bad)?,
        };
        if file.scalar != T::NAME {
            return Err(bad(format!(
                "holds {} parameters, requested {}",
                file.scalar,
                T::NAME
            )));
        }
        let bijector =
            block_from_spec::<T>(&file.flow).map_err(|e| bad(format!("architecture: {e}")))?;
        check_params_match(&file.flow, bijector.as_ref(), &file.params).map_err(bad)?;
        let mut network = Self::new(bijector, file.params)?;
        network.metadata = file.metadata;
        Ok((network, file.model))
    }
}

/// A parameter matrix as a row-major tensor of its scalar type.
fn tensor_of<T: Float>(value: &DMatrix<T>) -> Tensor {
    let row_major = value.transpose();
    let data = if T::NAME == "f64" {
        TensorData::F64(row_major.iter().map(|v| v.to_f64()).collect())
    } else {
        // f32 → f64 → f32 is exact.
        TensorData::F32(row_major.iter().map(|v| v.to_f64() as f32).collect())
    };
    Tensor {
        shape: vec![value.nrows(), value.ncols()],
        data,
    }
}

/// The parts of a safetensors model file (format version 3): the header entries decoded, the
/// parameters rebuilt in the recorded order from matrices of the file's scalar type.
fn network_file_of<T: Float>(
    file: model_file::TensorFile,
) -> std::result::Result<NetworkFile<T>, String> {
    let model_file::TensorFile {
        header,
        mut tensors,
        ..
    } = file;
    let entry = |key: &str| {
        header
            .get(key)
            .ok_or_else(|| format!("no {key:?} entry in the safetensors header"))
    };
    fn decode<V: serde::de::DeserializeOwned>(
        key: &str,
        text: &str,
    ) -> std::result::Result<V, String> {
        serde_json::from_str(text).map_err(|e| format!("cannot decode the header's {key:?}: {e}"))
    }
    let scalar = entry("scalar")?.clone();
    if scalar != T::NAME {
        return Err(format!("holds {scalar} parameters, requested {}", T::NAME));
    }
    let names: Vec<String> = decode("params", entry("params")?)?;
    let mut params = Params::new();
    for name in &names {
        let tensor = tensors
            .remove(name)
            .ok_or_else(|| format!("parameter {name:?} has no tensor"))?;
        let &[rows, cols] = tensor.shape.as_slice() else {
            return Err(format!(
                "tensor {name:?} has shape {:?}; parameters are matrices",
                tensor.shape
            ));
        };
        if tensor.data.scalar() != T::NAME {
            return Err(format!(
                "tensor {name:?} holds {} values in a file of {} parameters",
                tensor.data.scalar(),
                T::NAME
            ));
        }
        let values: Vec<T> = match tensor.data {
            TensorData::F32(v) => v.into_iter().map(|x| T::of_f64(f64::from(x))).collect(),
            TensorData::F64(v) => v.into_iter().map(T::of_f64).collect(),
        };
        if values.len() != rows * cols {
            return Err(format!(
                "tensor {name:?} has {} values for shape {:?}",
                values.len(),
                [rows, cols]
            ));
        }
        params
            .add(name.clone(), DMatrix::from_row_slice(rows, cols, &values))
            .map_err(|e| format!("parameter {name:?}: {e}"))?;
    }
    if let Some(extra) = tensors.keys().next() {
        return Err(format!(
            "tensor {extra:?} is not a parameter of the model (the header lists {})",
            names.len()
        ));
    }
    Ok(NetworkFile {
        scalar,
        model: decode("model", entry("model")?)?,
        flow: decode("flow", entry("flow")?)?,
        params,
        metadata: decode("metadata", entry("metadata")?)?,
    })
}

/// `pass` over row chunks of at most [`CHUNK_ROWS`] rows of `m` (and of the condition), the
/// chunks' outputs (`n × ·` and `n × 1`) stacked: bounded memory for any batch.
pub(crate) fn chunked<T: Float>(
    m: &DMatrix<T>,
    cond: Option<&DMatrix<T>>,
    pass: impl Fn(&DMatrix<T>, Option<&DMatrix<T>>) -> Result<(DMatrix<T>, DMatrix<T>)>,
) -> Result<(DMatrix<T>, DMatrix<T>)> {
    let n = m.nrows();
    if n <= CHUNK_ROWS {
        return pass(m, cond);
    }
    if let Some(c) = cond
        && c.nrows() != n
    {
        return Err(Error::Config(format!(
            "a batch of {n} rows with a condition of {} rows",
            c.nrows()
        )));
    }
    // Output widths are the pass's own (a log-density is one column, whatever `m`'s width).
    let mut out: Option<(DMatrix<T>, DMatrix<T>)> = None;
    for start in (0..n).step_by(CHUNK_ROWS) {
        let len = CHUNK_ROWS.min(n - start);
        let c = cond.map(|c| c.rows(start, len).into_owned());
        let (o, ld) = pass(&m.rows(start, len).into_owned(), c.as_ref())?;
        let (all_o, all_ld) = out
            .get_or_insert_with(|| (DMatrix::zeros(n, o.ncols()), DMatrix::zeros(n, ld.ncols())));
        if (o.shape(), ld.shape()) != ((len, all_o.ncols()), (len, all_ld.ncols())) {
            return Err(Error::Config(format!(
                "a chunk of {len} rows came back as {:?} and {:?}",
                o.shape(),
                ld.shape()
            )));
        }
        all_o.rows_mut(start, len).copy_from(&o);
        all_ld.rows_mut(start, len).copy_from(&ld);
    }
    out.ok_or_else(|| Error::Config("an empty batch".into()))
}

/// A restored architecture must run on the stored parameters: every parameter handle in the
/// description must exist, every value be finite, and one forward pass on a zero batch (with a
/// zero condition) catches mis-shaped ones as an error instead of a later failure.
fn check_params_match<T: Float>(
    spec: &BlockSpec,
    bijector: &dyn Bijector<T>,
    params: &Params<T>,
) -> std::result::Result<(), String> {
    params.check_ids(&spec.config).map_err(|e| e.to_string())?;
    params.check_finite().map_err(|e| e.to_string())?;
    let x = DMatrix::zeros(1, bijector.dim());
    let c = (bijector.cond_dim() > 0).then(|| DMatrix::zeros(1, bijector.cond_dim()));
    bijector
        .forward_matrix_with(params, &x, c.as_ref())
        .map(|_| ())
        .map_err(|e| format!("parameters do not fit the architecture: {e}"))
}

impl<T: Float> Network<T> {
    /// Errors unless the network loaded from `path` maps width `dim` given a condition of width
    /// `cond_dim`, as the model's own description says.
    pub(crate) fn expect_widths(&self, path: &Path, dim: usize, cond_dim: usize) -> Result<()> {
        if (self.dim(), self.cond_dim()) == (dim, cond_dim) {
            return Ok(());
        }
        Err(Error::Model {
            path: path.to_path_buf(),
            reason: format!(
                "the network maps width {} given {}, the model says {dim} given {cond_dim}",
                self.dim(),
                self.cond_dim()
            ),
        })
    }
}

/// Decodes a model type's own description from a model file.
pub(crate) fn decode_model<M: serde::de::DeserializeOwned>(
    path: &Path,
    model: serde_json::Value,
) -> Result<M> {
    serde_json::from_value(model).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        reason: format!("cannot decode the model's description: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bijectors::{Chain, StackConfig, SubnetConfig};
    use rand::SeedableRng;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("inn-network-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        dir.join(name)
    }

    fn network(cond_dim: usize) -> Network<f64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let cfg = StackConfig {
            subnet: SubnetConfig {
                hidden: vec![8],
                zero_last: false,
                init: Some(autodiff::nn::Init::Normal(0.3)),
                ..SubnetConfig::default()
            },
            dim: 3,
            blocks: 2,
            cond_dim,
            ..StackConfig::default()
        };
        let mut params = Params::new();
        let chain = Chain::coupling_stack(&mut params, &cfg, &mut rng).unwrap();
        Network::new(Box::new(chain), params).unwrap()
    }

    /// Chunked passes equal one pass, with and without a condition, and invert each other.
    #[test]
    fn chunked_passes_match_one_pass_and_invert() {
        for cond_dim in [0, 2] {
            let net = network(cond_dim);
            let n = CHUNK_ROWS + 37;
            let x = DMatrix::from_fn(n, 3, |i, j| ((i * 3 + j) as f64 * 0.11).sin());
            let c = (cond_dim > 0).then(|| DMatrix::from_fn(n, 2, |i, j| (i + j) as f64 * 1e-3));
            let (z, ld) = net.forward(&x, c.as_ref()).unwrap();
            let (z1, ld1) = net
                .bijector()
                .forward_matrix_with(net.params(), &x, c.as_ref())
                .unwrap();
            assert!((&z - z1).abs().max() < 1e-12 && (&ld - ld1).abs().max() < 1e-12);
            let (back, ld_inv) = net.inverse(&z, c.as_ref()).unwrap();
            assert!((back - &x).abs().max() < 1e-9);
            assert!((ld_inv + ld).abs().max() < 1e-9);
        }
    }

    /// A saved network loads without any random initialisation and gives the same numbers;
    /// the model's description and metadata come back; other kinds, scalar types, truncated
    /// files and parameters that do not fit are errors.
    #[test]
    fn save_load_round_trip_and_refusals() {
        let mut net = network(2);
        net.metadata_mut()
            .insert("note".into(), serde_json::json!("hello"));
        let path = temp("net.inn");
        let description = serde_json::json!({"x_dim": 3, "y_dim": 2});
        net.save(&path, "test", &description).unwrap();
        let (back, model) = Network::<f64>::load(&path, "test").unwrap();
        assert_eq!(model, description);
        assert_eq!(back.metadata()["note"], "hello");
        let x = DMatrix::from_fn(5, 3, |i, j| (i + 2 * j) as f64 * 0.1);
        let c = DMatrix::from_element(5, 2, 0.3);
        assert_eq!(
            net.forward(&x, Some(&c)).unwrap(),
            back.forward(&x, Some(&c)).unwrap()
        );
        let e = |r: Result<(Network<f64>, serde_json::Value)>| r.unwrap_err().to_string();
        assert!(e(Network::load(&path, "other")).contains("expected \"other\""));
        assert!(Network::<f32>::load(&path, "test").is_err());
        // Valid checksum, but parameters the architecture does not refer to.
        let file = NetworkFile {
            scalar: "f64".into(),
            model: description,
            flow: net.spec().clone(),
            params: Params::<f64>::new(),
            metadata: BTreeMap::new(),
        };
        let empty = temp("empty.inn");
        model_file::save(&empty, "test", &file).unwrap();
        assert!(e(Network::<f64>::load(&empty, "test")).contains("param"));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(matches!(
            Network::<f64>::load(&path, "test"),
            Err(Error::Model { .. })
        ));
    }

    /// Both containers give back the same network, parameter order included; the extension
    /// picks the container.
    #[test]
    fn json_and_safetensors_files_hold_the_same_network() {
        let mut net = network(2);
        net.metadata_mut()
            .insert("note".into(), serde_json::json!({"a": [1.5, "b"]}));
        let description = serde_json::json!({"x_dim": 3});
        let (json, tensors) = (temp("same.json"), temp("same.safetensors"));
        net.save(&json, "test", &description).unwrap();
        net.save(&tensors, "test", &description).unwrap();
        assert_eq!(std::fs::read(&json).unwrap()[0], b'{');
        assert_eq!(model_file::peek_kind(&json).unwrap().1, 2);
        assert_eq!(model_file::peek_kind(&tensors).unwrap().1, 3);
        let (a, model_a) = Network::<f64>::load(&json, "test").unwrap();
        let (b, model_b) = Network::<f64>::load(&tensors, "test").unwrap();
        assert_eq!((&model_a, &model_b), (&description, &description));
        assert_eq!(a.params(), net.params());
        assert_eq!(b.params(), net.params());
        assert_eq!(b.metadata(), net.metadata());
        assert_eq!(b.spec(), net.spec());
    }

    /// The cases of the loader fuzz: `INN_FUZZ_CASES` (64 by default, so the suite stays fast).
    fn fuzz_cases() -> u32 {
        std::env::var("INN_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64)
    }

    /// A valid safetensors model file of [`network`]`(2)`, written once.
    fn valid_file() -> &'static (Vec<u8>, Network<f64>) {
        static FILE: std::sync::OnceLock<(Vec<u8>, Network<f64>)> = std::sync::OnceLock::new();
        FILE.get_or_init(|| {
            let mut net = network(2);
            net.metadata_mut()
                .insert("note".into(), serde_json::json!("fuzz"));
            let path = temp("fuzz-valid.inn");
            net.save(&path, "test", &serde_json::json!({"x_dim": 3}))
                .unwrap();
            (std::fs::read(&path).unwrap(), net)
        })
    }

    /// Loads `bytes` as a model file: never a panic, and a file that loads is the saved network.
    fn load_checked(bytes: &[u8], name: &str) -> std::result::Result<(), TestCaseError> {
        let path = temp(name);
        std::fs::write(&path, bytes).unwrap();
        // The header-only reader that tools dispatch on must not panic either.
        let _ = model_file::peek_kind(&path);
        if let Ok((net, _)) = Network::<f64>::load(&path, "test") {
            let (_, original) = valid_file();
            prop_assert_eq!(net.params(), original.params());
            prop_assert_eq!(net.metadata(), original.metadata());
            prop_assert_eq!(net.spec(), original.spec());
        }
        Ok(())
    }

    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

        /// Random edits of a valid file (bytes overwritten, a cut, a run of bytes inserted)
        /// are refused or load the same network.
        #[test]
        fn mutated_model_files_never_panic_or_load_another_model(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in proptest::option::of(any::<usize>()),
            insert in proptest::option::of((any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))),
        ) {
            let mut bytes = valid_file().0.clone();
            for (at, b) in edits {
                let i = at % bytes.len();
                bytes[i] = b;
            }
            if let Some((at, run)) = insert {
                let i = at % (bytes.len() + 1);
                bytes.splice(i..i, run);
            }
            if let Some(c) = cut {
                bytes.truncate(c % (bytes.len() + 1));
            }
            load_checked(&bytes, "fuzz-mutated.inn")?;
        }

        /// Random byte strings, also behind a plausible safetensors length prefix, are refused.
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
            prefixed in any::<bool>(),
        ) {
            let mut file = Vec::new();
            if prefixed {
                file.extend((bytes.len() as u64).to_le_bytes());
                file.push(b'{');
            }
            file.extend(bytes);
            load_checked(&file, "fuzz-random.inn")?;
        }
    }
}
