//! Training: the shared optimisation loop, learning-rate schedules, and the trainers built on it.
//!
//! Every trainer holds out validation rows (10% by default, [`OptimConfig::val_fraction`], or
//! rows given explicitly), validates once per epoch, stops after 20 validations without
//! improvement and returns the best validated parameters ([`optimize`]).

mod cinn;
mod holdout;
mod inn;
mod mle;
mod optimize;
mod progress;
mod schedule;

pub use cinn::{CinnConfig, ConditionalInn};
pub use holdout::split_rows;
pub use inn::{Inn, InnConfig, InnLosses};
pub use mle::{MaximumLikelihood, MleConfig, mean_nll};
pub use optimize::{
    KeptScores, MIN_SHARD_ROWS, Objective, OptimConfig, Piece, PieceLoss, Pieces, Plateau,
    StepInfo, StopReason, TrainReport, ValidateEvery, optimize, shard_rows,
};
pub use schedule::Schedule;
