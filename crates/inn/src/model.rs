//! [`Model`]: what every model type offers on top of its [`Network`], as one object-safe trait,
//! so that a tool holds a model of any kind as `Box<dyn Model<T>>` and dispatches on a file's
//! kind once ([`load_model`]).

use crate::train::{ConditionalInn, Inn};
use crate::{Error, Flow, Network, PosteriorSampler, Result, model_file};
use autodiff::Float;
use autodiff::nalgebra::DMatrix;
use rand::RngCore;
use std::path::Path;

/// A trained model of any kind: its [`Network`], its widths, its file, and the operations its
/// kind supports (each `None` where the kind has no such operation).
///
/// Laws: `kind()` is the kind written by `save` and read by [`load_model`]; a saved and loaded
/// model gives the same numbers for every operation with the same inputs and RNG state.
pub trait Model<T: Float>: std::fmt::Debug + Send + Sync {
    /// The model-file kind (`"flow"`, `"cinn"`, `"inn"`).
    fn kind(&self) -> &'static str;

    /// The network: parameters, architecture, metadata.
    fn network(&self) -> &Network<T>;

    /// The network, mutably (metadata, parameters).
    fn network_mut(&mut self) -> &mut Network<T>;

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

impl<T: Float> Model<T> for Flow<T> {
    fn kind(&self) -> &'static str {
        Self::KIND
    }
    fn network(&self) -> &Network<T> {
        self
    }
    fn network_mut(&mut self) -> &mut Network<T> {
        self
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
    fn kind(&self) -> &'static str {
        Self::KIND
    }
    fn network(&self) -> &Network<T> {
        self
    }
    fn network_mut(&mut self) -> &mut Network<T> {
        self
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
    fn kind(&self) -> &'static str {
        Self::KIND
    }
    fn network(&self) -> &Network<T> {
        self
    }
    fn network_mut(&mut self) -> &mut Network<T> {
        self
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

/// Reads a model file of any kind written by this or an earlier release.
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
        other => {
            return Err(Error::Model {
                path: path.to_path_buf(),
                reason: format!("holds a {other:?} model; this build reads flow, cinn and inn"),
            });
        }
    })
}
