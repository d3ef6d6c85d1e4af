//! Training: the shared optimisation loop, learning-rate schedules, and the trainers built on it.

mod optimize;
mod progress;
mod schedule;

pub use optimize::{Objective, OptimConfig, StepInfo, TrainReport, optimize};
pub use schedule::Schedule;
