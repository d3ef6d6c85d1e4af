//! [`Model`]: what every model type offers on top of its [`Network`], as one object-safe trait,
//! so that a tool holds a model of any kind as `Box<dyn Model<T>>` and dispatches on a file's
//! kind once ([`load_model`]).

use crate::train::{ConditionalInn, Inn};
use crate::{Ensemble, Error, Flow, Network, PosteriorSampler, Result, model_file};
use autodiff::Float;
use autodiff::nalgebra::DMatrix;
use rand::RngCore;
use std::collections::BTreeMap;
use std::path::Path;

/// Free-form annotations saved with a model (training summary, column names, standardisation).
pub type Metadata = BTreeMap<String, serde_json::Value>;

/// A trained model of any kind — one network ([`Flow`], [`ConditionalInn`], [`Inn`]) or an
/// [`Ensemble`] of them: its widths, its metadata, its file, and the operations its kind
/// supports (each `None` where the kind has no such operation).
///
/// Laws: `kind()` is the kind written by `save` and read by [`load_model`]; a saved and loaded
/// model gives the same numbers for every operation with the same inputs and RNG state, and
/// keeps its metadata.
///
/// ```
/// use inn::{Flow, Model, load_model};
/// use inn::bijectors::StackConfig;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let flow = Flow::<f32>::coupling_stack(&StackConfig::default().with_widths(2, &[8]), &mut rng)?;
/// let path = std::env::temp_dir().join(format!("inn-doc-model-{}.inn", std::process::id()));
/// flow.save(&path)?;
/// let any: Box<dyn Model<f32>> = load_model(&path)?; // whatever kind the file holds
/// assert_eq!((any.kind(), any.widths()), ("flow", (2, 0)));
/// assert!(any.posterior(&inn::autodiff::nalgebra::DMatrix::zeros(1, 1), 5, &mut rng).is_none());
/// let draws = any.sample(100, &mut rng).expect("a flow samples")?;
/// assert_eq!(draws.shape(), (100, 2));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Model<T: Float>: std::fmt::Debug + Send + Sync {
    /// The model-file kind (`"flow"`, `"cinn"`, `"inn"`, `"ensemble"`).
    fn kind(&self) -> &'static str;

    /// The one network of a single model: parameters, architecture, metadata (`None` for an
    /// ensemble, which has one per member: [`Model::ensemble`]).
    fn network(&self) -> Option<&Network<T>>;

    /// The members of an ensemble (`None` for a single model).
    fn ensemble(&self) -> Option<&Ensemble<T>> {
        None
    }

    /// The annotations saved with the model: a single model's [`Network::metadata`], an
    /// ensemble's own map.
    fn metadata(&self) -> &Metadata;

    /// The annotations, mutably (saved by the next [`Model::save`]).
    fn metadata_mut(&mut self) -> &mut Metadata;

    /// The number of trained scalars (of every member, for an ensemble).
    fn n_params(&self) -> usize;

    /// Widths `(x_dim, y_dim)` of a sample and of an observation (`y_dim = 0` for a density
    /// over `x` alone).
    fn widths(&self) -> (usize, usize);

    /// Writes the model file.
    ///
    /// # Errors
    /// [`Error::Model`] when the file cannot be written.
    fn save(&self, path: &Path) -> Result<()>;

    /// `ln p(x)` (`y = None`) or `ln p(x | y)` per row (`n × 1`), or `None` where the model
    /// has no tractable density (the bidirectional INN).
    fn log_density(&self, _x: &DMatrix<T>, _y: Option<&DMatrix<T>>) -> Option<Result<DMatrix<T>>> {
        None
    }

    /// `n` unconditional samples (`n × x_dim`), or `None` for a posterior model.
    fn sample(&self, _n: usize, _rng: &mut dyn RngCore) -> Option<Result<DMatrix<T>>> {
        None
    }

    /// `n_per_obs` posterior samples for every row of `y_obs` ([`PosteriorSampler`]), or `None`
    /// for a density model, which takes no observations.
    fn posterior(
        &self,
        _y_obs: &DMatrix<T>,
        _n_per_obs: usize,
        _rng: &mut dyn RngCore,
    ) -> Option<Result<Vec<DMatrix<T>>>> {
        None
    }

    /// The forward prediction `y = f_y(x)` (`n × y_dim`), or `None` where the model does not
    /// predict `y` (only the bidirectional INN does).
    fn predict_y(&self, _x: &DMatrix<T>) -> Option<Result<DMatrix<T>>> {
        None
    }
}

/// The [`Model`] methods every single-network kind answers from its [`Network`].
macro_rules! network_model {
    () => {
        fn network(&self) -> Option<&Network<T>> {
            Some(self)
        }
        fn metadata(&self) -> &Metadata {
            Network::metadata(self)
        }
        fn metadata_mut(&mut self) -> &mut Metadata {
            Network::metadata_mut(self)
        }
        fn n_params(&self) -> usize {
            self.params().n_scalars()
        }
    };
}

impl<T: Float> Model<T> for Flow<T> {
    network_model!();
    fn kind(&self) -> &'static str {
        Self::KIND
    }
    fn widths(&self) -> (usize, usize) {
        (self.dim(), 0)
    }
    fn save(&self, path: &Path) -> Result<()> {
        Flow::save(self, path)
    }
    fn log_density(&self, x: &DMatrix<T>, y: Option<&DMatrix<T>>) -> Option<Result<DMatrix<T>>> {
        Some(match y {
            None => self.log_prob(x),
            Some(_) => Err(Error::Config("a flow's density takes no condition".into())),
        })
    }
    fn sample(&self, n: usize, rng: &mut dyn RngCore) -> Option<Result<DMatrix<T>>> {
        Some(Flow::sample(self, n, rng))
    }
}

impl<T: Float> Model<T> for ConditionalInn<T> {
    network_model!();
    fn kind(&self) -> &'static str {
        Self::KIND
    }
    fn widths(&self) -> (usize, usize) {
        (self.x_dim(), self.y_dim())
    }
    fn save(&self, path: &Path) -> Result<()> {
        ConditionalInn::save(self, path)
    }
    fn log_density(&self, x: &DMatrix<T>, y: Option<&DMatrix<T>>) -> Option<Result<DMatrix<T>>> {
        Some(match y {
            Some(y) => self.log_prob(x, y),
            None => Err(Error::Config("p(x | y) needs the observations y".into())),
        })
    }
    fn posterior(
        &self,
        y_obs: &DMatrix<T>,
        n_per_obs: usize,
        rng: &mut dyn RngCore,
    ) -> Option<Result<Vec<DMatrix<T>>>> {
        Some(PosteriorSampler::posterior(self, y_obs, n_per_obs, rng))
    }
}

impl<T: Float> Model<T> for Inn<T> {
    network_model!();
    fn kind(&self) -> &'static str {
        Self::KIND
    }
    fn widths(&self) -> (usize, usize) {
        (self.x_dim(), self.y_dim())
    }
    fn save(&self, path: &Path) -> Result<()> {
        Inn::save(self, path)
    }
    fn posterior(
        &self,
        y_obs: &DMatrix<T>,
        n_per_obs: usize,
        rng: &mut dyn RngCore,
    ) -> Option<Result<Vec<DMatrix<T>>>> {
        Some(PosteriorSampler::posterior(self, y_obs, n_per_obs, rng))
    }
    fn predict_y(&self, x: &DMatrix<T>) -> Option<Result<DMatrix<T>>> {
        Some(Inn::predict_y(self, x))
    }
}

/// Reads a model file of any kind (an ensemble too) written by this or an earlier release.
///
/// # Errors
/// [`Error::Model`] naming the file: missing, corrupt, an unknown kind or version, another
/// scalar type, contents that do not form a model.
pub fn load_model<T: Float>(path: impl AsRef<Path>) -> Result<Box<dyn Model<T>>> {
    let path = path.as_ref();
    let (kind, _) = model_file::peek_kind(path)?;
    Ok(match kind.as_str() {
        Flow::<T>::KIND => Box::new(Flow::<T>::load(path)?),
        ConditionalInn::<T>::KIND => Box::new(ConditionalInn::<T>::load(path)?),
        Inn::<T>::KIND => Box::new(Inn::<T>::load(path)?),
        Ensemble::<T>::KIND => Box::new(Ensemble::<T>::load(path)?),
        other => {
            return Err(Error::Model {
                path: path.to_path_buf(),
                reason: format!(
                    "holds a {other:?} model; this build reads flow, cinn, inn and ensemble"
                ),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posterior::standard_normal;
    use crate::train::{CinnConfig, InnConfig, OptimConfig, paper_stack};
    use bijectors::StackConfig;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// A model of every kind, trained for a few steps on `x` (`64 × 2`) and `y` (`64 × 3`).
    fn trained(x: &DMatrix<f32>, y: &DMatrix<f32>) -> Vec<Box<dyn Model<f32>>> {
        let mut rng = StdRng::seed_from_u64(4);
        let optim = OptimConfig {
            steps: 3,
            progress: false,
            ..OptimConfig::default()
        };
        let stack = StackConfig {
            dim: 2,
            ..StackConfig::default().with_widths(2, &[16])
        };
        let mut flow = Flow::coupling_stack(&stack, &mut rng).unwrap();
        let mle = crate::train::MleConfig {
            optim: optim.clone(),
            batch_size: 32,
            ..Default::default()
        };
        crate::train::MaximumLikelihood::new(mle)
            .fit(&mut flow, x, &mut rng, None)
            .unwrap();
        let cinn_config = CinnConfig {
            stack: paper_stack().with_widths(2, &[16]),
            batch_size: 32,
            optim: optim.clone(),
            ..CinnConfig::default()
        };
        let mut cinn = ConditionalInn::new(cinn_config, 2, 3, &mut rng).unwrap();
        cinn.fit(x, y, &mut rng).unwrap();
        let inn_config = InnConfig {
            stack: paper_stack().with_widths(2, &[16]),
            n_tot: 6,
            batch_size: 32,
            optim,
            ..InnConfig::default()
        };
        let mut inn = Inn::new(inn_config, 2, 3, 2, &mut rng).unwrap();
        inn.fit(x, y, &mut rng).unwrap();
        vec![Box::new(flow), Box::new(cinn), Box::new(inn)]
    }

    /// Every kind saved (as safetensors and as JSON) and read back by [`load_model`] gives the same samples, posteriors,
    /// densities and predictions with the same inputs and RNG state, and keeps its metadata;
    /// a JSON file without metadata (as early releases wrote) loads with none; another scalar type
    /// and a truncated file are errors.
    #[test]
    fn every_kind_round_trips_through_its_file() {
        let mut rng = StdRng::seed_from_u64(1);
        let x = standard_normal::<f32, _>(64, 2, &mut rng);
        let y = standard_normal::<f32, _>(64, 3, &mut rng);
        let dir = std::env::temp_dir().join(format!("inn-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for mut model in trained(&x, &y) {
            let kind = model.kind();
            assert!(model.metadata().contains_key("training"));
            model
                .metadata_mut()
                .insert("note".into(), serde_json::json!([1, "b"]));
            for ext in ["inn", "json"] {
                let path = dir.join(format!("{kind}.{ext}"));
                model.save(&path).unwrap();
                let back = load_model::<f32>(&path).unwrap();
                assert_eq!(back.kind(), kind);
                assert_eq!(back.widths(), model.widths());
                assert_eq!(back.metadata(), model.metadata());
                assert_eq!(back.n_params(), model.n_params());
                let params = |m: &dyn Model<f32>| m.network().unwrap().params().clone();
                assert_eq!(params(back.as_ref()), params(model.as_ref()));
                let seeded = || StdRng::seed_from_u64(9);
                let obs = y.rows(0, 3).into_owned();
                let cond = (model.widths().1 > 0).then_some(&y);
                let same = |a: Option<Result<DMatrix<f32>>>, b: Option<Result<DMatrix<f32>>>| {
                    assert_eq!(a.map(|r| r.unwrap()), b.map(|r| r.unwrap()), "{kind}");
                };
                same(model.log_density(&x, cond), back.log_density(&x, cond));
                same(model.predict_y(&x), back.predict_y(&x));
                same(
                    model.sample(40, &mut seeded()),
                    back.sample(40, &mut seeded()),
                );
                assert_eq!(
                    model.posterior(&obs, 40, &mut seeded()).map(|r| r.unwrap()),
                    back.posterior(&obs, 40, &mut seeded()).map(|r| r.unwrap())
                );
                assert!(
                    load_model::<f64>(&path).is_err(),
                    "{kind}: another scalar type"
                );

                // Early (JSON) files had no metadata entry.
                if ext == "json" {
                    let mut payload: serde_json::Value = model_file::load(&path, kind).unwrap();
                    assert!(
                        payload
                            .as_object_mut()
                            .unwrap()
                            .remove("metadata")
                            .is_some()
                    );
                    model_file::save(&path, kind, &payload).unwrap();
                    let old = load_model::<f32>(&path).unwrap();
                    assert!(old.metadata().is_empty(), "{kind}");
                    assert_eq!(params(old.as_ref()), params(model.as_ref()));
                }

                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
                assert!(matches!(load_model::<f32>(&path), Err(Error::Model { .. })));
            }
        }
    }
}
