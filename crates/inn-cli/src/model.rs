//! `Model`: a trained network with what the command line adds to it — column names,
//! standardisation and a training summary — saved in the model file's `metadata` map.

use crate::error::{Error, Result};
use crate::scaler::Scaler;
use inn::autodiff::nalgebra::DMatrix;
use inn::model_file;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// The key of the command line's entry in a model file's `metadata` map.
pub const META_KEY: &str = "cli";

/// The trained model: any of the kinds `inn fit` writes, an ensemble of them included
/// ([`inn::Model`]).
pub type Net = Box<dyn inn::Model<f32>>;

/// Mean of an `n × 1` column of f32 values, in f64.
pub fn mean_f64(v: &DMatrix<f32>) -> f64 {
    v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.nrows().max(1) as f64
}

/// `n` posterior samples (standardised units) for every row of `y_obs` (standardised), or a
/// usage error for a model without observations (a flow).
pub fn posterior(
    net: &Net,
    y_obs: &DMatrix<f32>,
    n: usize,
    rng: &mut StdRng,
) -> Result<Vec<DMatrix<f32>>> {
    match net.posterior(y_obs, n, rng) {
        Some(samples) => Ok(samples?),
        None => Err(Error::Usage(
            "a flow models a density, not a posterior: it takes no observations".into(),
        )),
    }
}

/// What a training run recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Training {
    /// The data file.
    pub data: String,
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows held out for validation.
    pub val_rows: usize,
    /// Optimiser steps run.
    pub steps: usize,
    /// The step cap (`--steps`); absent in files written before early stopping.
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Minibatch size.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Decoupled weight decay, when set.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// Seed.
    pub seed: u64,
    /// The name of the reported losses (e.g. `NLL (nats/sample, data units)`).
    pub loss_name: String,
    /// Training loss of the saved parameters.
    pub train_loss: f64,
    /// Validation loss of the saved parameters, when rows were held out.
    pub val_loss: Option<f64>,
    /// The step (1-based) whose validated parameters were saved.
    #[serde(default)]
    pub best_step: Option<usize>,
    /// Why training stopped (step cap, patience, divergence).
    #[serde(default)]
    pub stop: Option<String>,
    /// Wall-clock seconds of the training loop.
    pub seconds: f64,
    /// Of which evaluating the validation loss.
    #[serde(default)]
    pub validation_seconds: f64,
}

/// The command line's annotations of a model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    /// `cinn`, `inn` or `flow`.
    pub method: String,
    /// Names of the x columns (for a flow: every modelled column, x then y).
    pub x_names: Vec<String>,
    /// Names of the y columns (empty for a flow).
    pub y_names: Vec<String>,
    /// Standardisation of x (for a flow: of every modelled column).
    pub x_scale: Scaler,
    /// Standardisation of y (absent for a flow).
    pub y_scale: Option<Scaler>,
    /// Architecture summary (blocks, hidden widths, widths of the network).
    pub architecture: Value,
    /// The training run (of member 0 for an ensemble).
    pub training: Training,
    /// For an ensemble (`inn fit --ensemble M`): every member's run and the held-out scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleRecord>,
}

/// What `inn fit --ensemble M` recorded: every member's training run and the held-out score
/// of each member and of the ensemble.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnsembleRecord {
    /// Each member's training run, member k with seed S + k.
    pub members: Vec<Training>,
    /// The name of the held-out score (absent without held-out rows).
    pub metric: Option<String>,
    /// That score of each member, in member order.
    pub member_scores: Vec<f64>,
    /// That score of the ensemble.
    pub score: Option<f64>,
}

impl EnsembleRecord {
    /// One line: the members' and the ensemble's held-out score.
    pub fn summary(&self) -> String {
        let m = self.members.len();
        match (&self.metric, self.score) {
            (Some(metric), Some(score)) if !self.member_scores.is_empty() => {
                let each: Vec<String> = self
                    .member_scores
                    .iter()
                    .map(|s| format!("{s:.4}"))
                    .collect();
                let mean = self.member_scores.iter().sum::<f64>() / self.member_scores.len() as f64;
                format!(
                    "ensemble of {m} members, {metric}: members {} (mean {mean:.4}), ensemble \
                     {score:.4}",
                    each.join(", ")
                )
            }
            _ => format!("ensemble of {m} members (no rows held out: no held-out score)"),
        }
    }

    /// Prints [`EnsembleRecord::summary`].
    pub fn print(&self) {
        println!("{}", self.summary());
    }
}

/// A model file read back: the network, its annotations, the file's format version.
pub struct Model {
    /// The network.
    pub net: Net,
    /// The annotations written by `inn fit`.
    pub meta: Meta,
    /// The file's format version.
    pub version: u32,
}

impl Model {
    /// Writes the network and its annotations (in its `metadata` map) to `path`.
    pub fn save(net: &mut Net, meta: &Meta, path: &Path) -> Result {
        let meta_value = serde_json::to_value(meta)
            .map_err(|e| Error::Runtime(format!("cannot encode the model metadata: {e}")))?;
        net.metadata_mut().insert(META_KEY.into(), meta_value);
        Ok(net.save(path)?)
    }

    /// Reads a model written by `inn fit`: checks the format name and version, reads the network
    /// (of whichever kind, [`inn::load_model`]) and the annotations.
    pub fn load(path: &Path) -> Result<Model> {
        let (_, version) = model_file::peek_kind(path)?;
        if !model_file::READABLE_VERSIONS.contains(&version) {
            return Err(Error::Runtime(format!(
                "model file {}: format version {version}, this build of inn reads versions {:?} \
                 (refit the model with this version, or use the inn release that wrote it)",
                path.display(),
                model_file::READABLE_VERSIONS
            )));
        }
        let net = inn::load_model::<f32>(path)?;
        let meta = net.metadata().get(META_KEY).ok_or_else(|| {
            Error::Runtime(format!(
                "model file {}: no column names or standardisation recorded (it was not \
                     written by `inn fit`)",
                path.display()
            ))
        })?;
        let meta: Meta = serde_json::from_value(meta.clone()).map_err(|e| {
            Error::Runtime(format!("model file {}: bad metadata: {e}", path.display()))
        })?;
        check_widths(&net, &meta)
            .map_err(|reason| Error::Runtime(format!("model file {}: {reason}", path.display())))?;
        Ok(Model { net, meta, version })
    }
}

/// The annotations must describe the network's widths.
fn check_widths(net: &Net, meta: &Meta) -> std::result::Result<(), String> {
    let (x_dim, y_dim) = net.widths();
    let y_scale_dim = meta.y_scale.as_ref().map_or(0, Scaler::dim);
    let consistent = meta.x_names.len() == x_dim
        && meta.x_scale.dim() == x_dim
        && meta.x_scale.std.len() == x_dim
        && meta.y_names.len() == y_dim
        && y_scale_dim == y_dim
        && meta.y_scale.as_ref().is_none_or(|s| s.std.len() == y_dim)
        && meta.x_scale.std.iter().all(|s| *s > 0.0 && s.is_finite())
        && meta
            .y_scale
            .as_ref()
            .is_none_or(|s| s.std.iter().all(|s| *s > 0.0 && s.is_finite()));
    if consistent {
        Ok(())
    } else {
        Err(format!(
            "metadata does not match the network (x width {x_dim}, y width {y_dim}; metadata names {} x and {} y columns)",
            meta.x_names.len(),
            meta.y_names.len()
        ))
    }
}
