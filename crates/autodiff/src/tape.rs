//! The tape that records a computation, its variable handles, and the reverse sweep.

use crate::op::Op;
use crate::{Error, Float, Result};
use nalgebra::DMatrix;
use std::cell::RefCell;
use std::sync::Arc;

/// One recorded value and how it was computed.
pub(crate) struct Node<T: Float> {
    pub(crate) value: Arc<DMatrix<T>>,
    pub(crate) op: Op<T>,
    pub(crate) needs_grad: bool,
}

/// A record of matrix operations for reverse-mode differentiation.
///
/// Values are batches: an `n × d` matrix holds one sample per row. A tape made with
/// [`Tape::new`] records every operation so that [`Tape::backward`] can return gradients;
/// one made with [`Tape::no_grad`] runs the very same operations but records no
/// derivative information (inference, fixed-point inversion). A tape only grows: make a new
/// one per training step (or call [`Tape::clear`]).
///
/// ```
/// use autodiff::{Tape, nalgebra::DMatrix};
/// let tape = Tape::<f64>::new();
/// let x = tape.var(DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]));
/// let loss = x.square().sum();               // Σ x²
/// let grads = tape.backward(loss).unwrap();
/// assert_eq!(grads.wrt(x)[(1, 0)], 6.0); // d/dx = 2x
/// ```
pub struct Tape<T: Float> {
    nodes: RefCell<Vec<Node<T>>>,
    recording: bool,
}

impl<T: Float> Drop for Tape<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Tape<T> {
    /// A tape that records operations for [`Tape::backward`].
    pub fn new() -> Self {
        Self {
            nodes: RefCell::new(Vec::new()),
            recording: true,
        }
    }

    /// A tape that evaluates operations without recording how: `backward` returns
    /// [`Error::NoGrad`], and every variable is a constant.
    pub fn no_grad() -> Self {
        Self {
            nodes: RefCell::new(Vec::new()),
            recording: false,
        }
    }

    /// Whether this tape records operations for differentiation.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Number of values on the tape.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether the tape holds no values.
    pub fn is_empty(&self) -> bool {
        self.nodes.borrow().is_empty()
    }

    /// Drops every recorded value; the borrow checker guarantees no [`Var`] is alive. Value
    /// buffers go to the thread's cache ([`crate::release_buffers`]) for the next tape.
    pub fn clear(&mut self) {
        for node in self.nodes.get_mut().drain(..) {
            if let Ok(m) = Arc::try_unwrap(node.value) {
                crate::pool::recycle(m);
            }
        }
    }

    /// A leaf that gradients flow to (an input or a parameter).
    pub fn var(&self, value: DMatrix<T>) -> Var<'_, T> {
        self.push_node(value, Op::Leaf, self.recording)
    }

    /// A leaf that gradients do not flow to (data, targets, noise).
    pub fn constant(&self, value: DMatrix<T>) -> Var<'_, T> {
        self.push_node(value, Op::Leaf, false)
    }

    /// A 1 × 1 constant.
    pub fn scalar(&self, value: T) -> Var<'_, T> {
        self.constant(DMatrix::from_element(1, 1, value))
    }

    /// Records the result of an operation; it needs a gradient when any input does.
    pub(crate) fn push(&self, value: DMatrix<T>, op: Op<T>) -> Var<'_, T> {
        if !self.recording {
            return self.push_node(value, Op::Leaf, false);
        }
        let needs_grad = {
            let nodes = self.nodes.borrow();
            let mut any = false;
            op.for_each_input(|i| any |= nodes[i].needs_grad);
            any
        };
        if needs_grad {
            self.push_node(value, op, true)
        } else {
            self.push_node(value, Op::Leaf, false)
        }
    }

    fn push_node(&self, value: DMatrix<T>, op: Op<T>, needs_grad: bool) -> Var<'_, T> {
        self.push_shared(Arc::new(value), op, needs_grad)
    }

    /// A leaf sharing `value` with its owner (a parameter store) instead of copying it; the
    /// tape never writes to its values, and a shared value is not recycled when the tape is
    /// dropped.
    pub(crate) fn var_shared(&self, value: Arc<DMatrix<T>>) -> Var<'_, T> {
        self.push_shared(value, Op::Leaf, self.recording)
    }

    fn push_shared(&self, value: Arc<DMatrix<T>>, op: Op<T>, needs_grad: bool) -> Var<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            value,
            op,
            needs_grad,
        });
        Var {
            tape: self,
            idx: nodes.len() - 1,
        }
    }

    pub(crate) fn value_of(&self, idx: usize) -> Arc<DMatrix<T>> {
        Arc::clone(&self.nodes.borrow()[idx].value)
    }

    pub(crate) fn needs_grad(&self, idx: usize) -> bool {
        self.nodes.borrow()[idx].needs_grad
    }

    /// Reverse sweep from a 1 × 1 `loss`: the gradient of the loss with respect to every
    /// leaf made with [`Tape::var`] that the loss depends on.
    pub fn backward(&self, loss: Var<'_, T>) -> Result<Gradients<T>> {
        if !self.recording {
            return Err(Error::NoGrad);
        }
        if !std::ptr::eq(loss.tape, self) {
            return Err(Error::InvalidArgument {
                op: "backward",
                reason: "the loss belongs to another tape".into(),
            });
        }
        let nodes = self.nodes.borrow();
        let (rows, cols) = nodes[loss.idx].value.shape();
        if (rows, cols) != (1, 1) {
            return Err(Error::NotScalar { rows, cols });
        }
        let mut grads: Vec<Option<DMatrix<T>>> = Vec::new();
        grads.resize_with(loss.idx + 1, || None);
        if nodes[loss.idx].needs_grad {
            grads[loss.idx] = Some(DMatrix::from_element(1, 1, T::one()));
        }
        for i in (0..=loss.idx).rev() {
            if matches!(nodes[i].op, Op::Leaf) {
                continue;
            }
            // Interior gradients are dropped once propagated; only leaves keep theirs.
            let Some(g) = grads[i].take() else { continue };
            nodes[i].op.vjp(&nodes, i, g, &mut |j, gj| {
                if !nodes[j].needs_grad {
                    return;
                }
                match &mut grads[j] {
                    Some(acc) => {
                        crate::simd::add_assign(acc.as_mut_slice(), gj.as_slice());
                        crate::pool::recycle(gj);
                    }
                    slot @ None => *slot = Some(gj),
                }
            });
        }
        Ok(Gradients { grads })
    }
}

/// A handle to a value on a [`Tape`]: cheap to copy, valid as long as the tape.
///
/// Values are batches (`n × d`, one sample per row); per-sample scalars are `n × 1`
/// columns. Operations that can fail on shapes return [`Result`]; elementwise maps cannot fail.
#[derive(Clone, Copy)]
pub struct Var<'t, T: Float> {
    pub(crate) tape: &'t Tape<T>,
    pub(crate) idx: usize,
}

impl<T: Float> std::fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (r, c) = self.shape();
        write!(f, "Var#{}({r}x{c})", self.idx)
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The tape this variable lives on.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The value (shared, not copied).
    pub fn value(&self) -> Arc<DMatrix<T>> {
        self.tape.value_of(self.idx)
    }

    /// The value as an owned matrix (a copy).
    pub fn to_matrix(&self) -> DMatrix<T> {
        crate::pool::copy(&self.value())
    }

    /// The single entry of a 1 × 1 value, or the top-left entry otherwise.
    pub fn item(&self) -> T {
        let v = self.value();
        if v.is_empty() { T::zero() } else { v[(0, 0)] }
    }

    /// `(rows, columns)` of the value.
    pub fn shape(&self) -> (usize, usize) {
        self.tape.nodes.borrow()[self.idx].value.shape()
    }

    /// Number of rows (samples).
    pub fn nrows(&self) -> usize {
        self.shape().0
    }

    /// Number of columns (features).
    pub fn ncols(&self) -> usize {
        self.shape().1
    }

    /// Whether gradients flow through this variable.
    pub fn needs_grad(&self) -> bool {
        self.tape.needs_grad(self.idx)
    }

    /// The same value as a constant: gradients stop here (PyTorch's `detach`).
    pub fn detach(&self) -> Var<'t, T> {
        let v = self.to_matrix();
        self.tape.constant(v)
    }
}

/// Gradients returned by [`Tape::backward`], looked up by the leaf [`Var`].
pub struct Gradients<T: Float> {
    grads: Vec<Option<DMatrix<T>>>,
}

impl<T: Float> Gradients<T> {
    /// The gradient for `v`, or `None` when the loss does not depend on it (or `v` is a constant).
    pub fn get(&self, v: Var<'_, T>) -> Option<&DMatrix<T>> {
        self.grads.get(v.idx).and_then(Option::as_ref)
    }

    /// The gradient for `v`, with zeros of `v`'s shape when the loss does not depend on it.
    pub fn wrt(&self, v: Var<'_, T>) -> DMatrix<T> {
        match self.get(v) {
            Some(g) => g.clone(),
            None => {
                let (r, c) = v.shape();
                DMatrix::zeros(r, c)
            }
        }
    }

    /// Moves the gradient for `v` out (zeros when absent), avoiding a copy.
    pub fn take(&mut self, v: Var<'_, T>) -> DMatrix<T> {
        match self.grads.get_mut(v.idx).and_then(Option::take) {
            Some(g) => g,
            None => {
                let (r, c) = v.shape();
                DMatrix::zeros(r, c)
            }
        }
    }
}
