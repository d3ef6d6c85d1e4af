//! [`Objective`]: what a training run minimises — the loss of a minibatch on a tape.

use crate::{Bound, Float, Params, Tape, Var};
use nalgebra::DMatrix;
use rand::Rng;

/// The errors a training loop can stop with: the loop's own ([`crate::Error`]: a bad option, a
/// parameter store that does not fit, [`crate::Error::Diverged`]) converted into the
/// objective's error type, whose non-finite-value errors the loop recognises as divergence.
pub trait TrainError: From<crate::Error> + Send {
    /// Whether the error reports a NaN or ±∞ met inside a step (an intermediate of a block, a
    /// latent code). The loop validates nothing itself; the trainer validated its data at
    /// entry, so such a value was made by the current parameters: the run diverged.
    fn is_non_finite(&self) -> bool;
}

impl TrainError for crate::Error {
    fn is_non_finite(&self) -> bool {
        matches!(self, crate::Error::NonFinite { .. })
    }
}

/// One minibatch (or one part of one, see [`Split`]) as the loop hands it to
/// [`Objective::loss`].
#[derive(Clone, Copy, Debug)]
pub struct Minibatch<'a, T: Float> {
    /// The drawn rows of every training matrix, in the order the trainer gave them to the
    /// loop, then the matrices [`Objective::noise`] drew for them; all with the same rows.
    pub data: &'a [DMatrix<T>],
    /// The 0-based step.
    pub step: usize,
    /// Which part of the step's loss to compute.
    pub part: Part,
}

/// A part of a step's loss: one term (or all of them), weighted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part {
    /// The term ([`Split::Terms`]'s numbering), or `None` for the whole loss.
    pub term: Option<usize>,
    /// The factor the part's loss is multiplied by: a row shard's share of the minibatch's
    /// rows, 1 otherwise. The objective applies it (so that it can fold it into a weight it
    /// multiplies by anyway).
    pub weight: f64,
}

impl Part {
    /// The whole loss of the whole minibatch.
    pub const WHOLE: Part = Part {
        term: None,
        weight: 1.0,
    };
}

/// How a step's loss splits into parts that are evaluated independently, each on its own tape
/// and thread, their gradients added (the loop's data-parallel path; see
/// [`OptimConfig::data_parallel`](super::OptimConfig::data_parallel)).
#[derive(Clone, Debug, PartialEq)]
pub enum Split {
    /// The loss is a mean over the minibatch's rows (maximum likelihood): the loop evaluates
    /// row shards, each with [`Part::weight`] its share of the rows. The default.
    RowMean,
    /// The loss is a sum of numbered terms: `whole` ones read the whole minibatch (an MMD
    /// between two sets of rows), `row_means` ones are means over rows and are split into row
    /// shards like [`Split::RowMean`]. A term with weight 0 should be left out.
    Terms {
        /// Terms evaluated on the whole minibatch.
        whole: Vec<usize>,
        /// Terms evaluated in row shards.
        row_means: Vec<usize>,
    },
}

/// A training objective: the loss of a minibatch on a tape.
///
/// The loop ([`optimize`](super::optimize)) draws the minibatch — rows of the training
/// matrices, uniformly with replacement, then [`Objective::noise`] — splits it for its threads
/// ([`Objective::split`]), runs [`Objective::loss`] on each part and adds the gradients; it
/// validates with [`Objective::validation`] when the objective has held-out data.
///
/// Law: for every minibatch, the sum over [`Objective::split`]'s parts of
/// [`Objective::loss`] equals the loss of [`Part::WHOLE`] (up to rounding), so a step does not
/// depend on how it was split.
pub trait Objective<T: Float>: Sync {
    /// The error type of the loss (a wrapper of this crate's [`crate::Error`]).
    type Error: TrainError;

    /// The `1 × 1` loss of `batch` — of its [`Part`], multiplied by the part's weight.
    fn loss<'t>(
        &self,
        tape: &'t Tape<T>,
        params: &Bound<'t, T>,
        batch: &Minibatch<'_, T>,
    ) -> Result<Var<'t, T>, Self::Error>;

    /// Random inputs drawn with every minibatch of `rows` rows, after its rows and from the
    /// same generator (latent draws, noise on observations): matrices of `rows` rows appended
    /// to [`Minibatch::data`]. The default draws nothing.
    fn noise<R: Rng + ?Sized>(&self, _rows: usize, _rng: &mut R) -> Vec<DMatrix<T>> {
        Vec::new()
    }

    /// How step `step`'s loss splits for the data-parallel path. Default [`Split::RowMean`].
    fn split(&self, _step: usize) -> Split {
        Split::RowMean
    }

    /// The validation metric (lower is better) of `params` on the objective's held-out data,
    /// or `None` when it has none (the default).
    fn validation(&self, _params: &Params<T>) -> Result<Option<f64>, Self::Error> {
        Ok(None)
    }

    /// The same metric on as many training rows (the train side of the train–validation gap),
    /// or `None` without held-out data (the default).
    fn training_score(&self, _params: &Params<T>) -> Result<Option<f64>, Self::Error> {
        Ok(None)
    }
}
