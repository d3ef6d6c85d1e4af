//! Training: the shared optimisation loop, learning-rate schedules, and the trainers built on it.

mod mle;
mod optimize;
mod progress;
mod schedule;

pub use mle::{MaximumLikelihood, MleConfig, mean_nll};
pub use optimize::{Objective, OptimConfig, StepInfo, TrainReport, optimize};
pub use schedule::Schedule;
