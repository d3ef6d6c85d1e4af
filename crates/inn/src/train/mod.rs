//! Training: the trainers (maximum likelihood, the conditional INN, the bidirectional INN),
//! each an objective for the one optimisation loop, [`autodiff::train::optimize`] (re-exported
//! here with its options and report).
//!
//! Every trainer holds out validation rows (10% by default, [`OptimConfig::val_fraction`], or
//! rows given explicitly), validates once per epoch, stops after 20 validations without
//! improvement and returns the best validated parameters.

mod cinn;
mod defaults;
mod holdout;
mod inn;
mod mle;

pub use autodiff::train::{
    Batches, KeptScores, Minibatch, Objective, OptimConfig, Part, Plateau, Schedule, Split,
    StepInfo, StopReason, TrainReport, ValidateEvery, optimize,
};
pub use cinn::{CinnConfig, ConditionalInn};
pub use defaults::{paper_optim, paper_stack};
pub use holdout::split_rows;
pub use inn::{Inn, InnConfig, InnLosses};
pub use mle::{MaximumLikelihood, MleConfig, mean_nll};
