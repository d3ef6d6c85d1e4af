//! Training: the shared optimisation loop, learning-rate schedules, and the trainers built on it.

mod cinn;
mod inn;
mod mle;
mod optimize;
mod progress;
mod schedule;

pub use cinn::{CinnConfig, ConditionalInn};
pub use inn::{Inn, InnConfig, InnLosses};
pub use mle::{MaximumLikelihood, MleConfig, mean_nll};
pub use optimize::{
    MIN_SHARD_ROWS, Objective, OptimConfig, Piece, PieceLoss, Pieces, StepInfo, TrainReport,
    optimize, shard_rows,
};
pub use schedule::Schedule;
