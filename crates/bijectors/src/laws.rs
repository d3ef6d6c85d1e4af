//! Law checkers that every block's unit tests run through: round trip, log-det against a
//! numerical Jacobian, inverse log-det, gradients, boundary errors, and spec round trip.

use crate::prec;
use crate::{Bijector, BlockSpec, Error, block_from_spec};
use autodiff::nalgebra::DMatrix;
use autodiff::{GradCheckOptions, Params, Tape, grad_check};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// An `n × d` batch of standard normal draws.
pub(crate) fn normal_batch<R: Rng>(n: usize, d: usize, rng: &mut R) -> DMatrix<f64> {
    DMatrix::from_fn(n, d, |_, _| StandardNormal.sample(rng))
}

/// A block, its parameters, an input batch and (for conditional blocks) a condition batch.
pub(crate) struct Case<'a> {
    pub block: &'a dyn Bijector<f64>,
    pub params: &'a Params<f64>,
    pub x: DMatrix<f64>,
    pub cond: Option<DMatrix<f64>>,
}

impl Case<'_> {
    fn forward(
        &self,
        x: &DMatrix<f64>,
        cond: Option<&DMatrix<f64>>,
    ) -> (DMatrix<f64>, DMatrix<f64>) {
        self.block
            .forward_matrix_with(self.params, x, cond)
            .unwrap()
    }

    fn inverse(
        &self,
        y: &DMatrix<f64>,
        cond: Option<&DMatrix<f64>>,
    ) -> (DMatrix<f64>, DMatrix<f64>) {
        self.block
            .inverse_matrix_with(self.params, y, cond)
            .unwrap()
    }

    /// Every law but the parameter gradients (see [`param_gradients`]).
    pub(crate) fn check_all(&self) {
        self.round_trip();
        self.inverse_log_det();
        self.log_det_matches_jacobian(3);
        self.input_gradients();
        self.boundary_errors();
        self.spec_restores();
    }

    /// `inverse(forward(x)) = x` and `forward(inverse(x)) = x` to [`prec::ROUND_TRIP`].
    pub(crate) fn round_trip(&self) {
        let c = self.cond.as_ref();
        let (y, _) = self.forward(&self.x, c);
        let (back, _) = self.inverse(&y, c);
        let err = (&back - &self.x).abs().max();
        assert!(
            err <= prec::ROUND_TRIP,
            "inverse(forward(x)) off by {err:e}"
        );
        let (x, _) = self.inverse(&self.x, c);
        let (again, _) = self.forward(&x, c);
        let err = (&again - &self.x).abs().max();
        assert!(
            err <= prec::ROUND_TRIP,
            "forward(inverse(y)) off by {err:e}"
        );
        assert_eq!(y.shape(), self.x.shape());
    }

    /// The inverse's log-det at `y = f(x)` is minus the forward one at `x`.
    pub(crate) fn inverse_log_det(&self) {
        let c = self.cond.as_ref();
        let (y, ld) = self.forward(&self.x, c);
        let (_, inv_ld) = self.inverse(&y, c);
        assert_eq!(ld.shape(), (self.x.nrows(), 1));
        let err = (&inv_ld + &ld).abs().max();
        assert!(
            err <= prec::INVERSE_LOG_DET,
            "inverse log-det off by {err:e}"
        );
    }

    /// Forward and inverse log-dets of the first `rows` samples against `ln|det J|` of a
    /// central-difference Jacobian (determinant by LU).
    pub(crate) fn log_det_matches_jacobian(&self, rows: usize) {
        let (y, _) = self.forward(&self.x, self.cond.as_ref());
        for i in 0..rows.min(self.x.nrows()) {
            let c = self.cond.as_ref().map(|c| c.rows(i, 1).into_owned());
            for inverse in [false, true] {
                let at = if inverse { &y } else { &self.x }.rows(i, 1).into_owned();
                let map = |v: &DMatrix<f64>| {
                    if inverse {
                        self.inverse(v, c.as_ref())
                    } else {
                        self.forward(v, c.as_ref())
                    }
                };
                let d = at.ncols();
                let h = prec::JACOBIAN_STEP;
                let jac = DMatrix::from_fn(d, d, |r, j| {
                    let (mut plus, mut minus) = (at.clone(), at.clone());
                    plus[(0, j)] += h;
                    minus[(0, j)] -= h;
                    (map(&plus).0[(0, r)] - map(&minus).0[(0, r)]) / (2.0 * h)
                });
                let numeric = jac.lu().determinant().abs().ln();
                let analytic = map(&at).1[(0, 0)];
                assert!(
                    (numeric - analytic).abs() <= prec::JACOBIAN_LOG_DET,
                    "row {i} (inverse: {inverse}): log-det {analytic} vs numerical {numeric}"
                );
            }
        }
    }

    /// Gradients of `Σ y² + Σ log-det` with respect to the input (and the condition) pass
    /// `autodiff::grad_check`, through the forward map at `x` and the inverse at `f(x)`.
    pub(crate) fn input_gradients(&self) {
        let (y, _) = self.forward(&self.x, self.cond.as_ref());
        for (inverse, input) in [(false, &self.x), (true, &y)] {
            let mut inputs = vec![input.clone()];
            inputs.extend(self.cond.clone());
            let report = grad_check(
                |tape, v| {
                    let p = self.params.bind(tape);
                    let (out, ld) = if inverse {
                        self.block.inverse_with(&p, v[0], v.get(1).copied())
                    } else {
                        self.block.forward_with(&p, v[0], v.get(1).copied())
                    }
                    .map_err(|e| autodiff::Error::InvalidArgument {
                        op: "bijector",
                        reason: e.to_string(),
                    })?;
                    out.square().sum().add(ld.sum())
                },
                &inputs,
                grad_options(),
            );
            assert!(report.is_ok(), "inverse: {inverse}: {:?}", report.err());
        }
    }

    /// Gradients of `Σ y² + Σ log-det` with respect to every parameter entry, through the
    /// forward map and through the inverse, against central differences on the store.
    pub(crate) fn param_gradients(&self) {
        let (y, _) = self.forward(&self.x, self.cond.as_ref());
        let c = self.cond.as_ref();
        for (inverse, input) in [(false, &self.x), (true, &y)] {
            let loss_of = |params: &Params<f64>| {
                let (out, ld) = if inverse {
                    self.block.inverse_matrix_with(params, input, c)
                } else {
                    self.block.forward_matrix_with(params, input, c)
                }
                .unwrap();
                out.map(|v| v * v).sum() + ld.sum()
            };
            let tape = Tape::new();
            let p = self.params.bind(&tape);
            let cv = c.map(|c| tape.constant(c.clone()));
            let iv = tape.constant(input.clone());
            let (out, ld) = if inverse {
                self.block.inverse_with(&p, iv, cv)
            } else {
                self.block.forward_with(&p, iv, cv)
            }
            .unwrap();
            let loss = out.square().sum().add(ld.sum()).unwrap();
            let mut grads = tape.backward(loss).unwrap();
            let analytic = p.gradients(&mut grads);
            let mut probe = self.params.clone();
            let mut compared = 0;
            for (id, name, value) in self.params.iter() {
                for k in 0..value.len() {
                    let h = prec::GRAD_STEP;
                    let orig = value[k];
                    probe.get_mut(id)[k] = orig + h;
                    let plus = loss_of(&probe);
                    probe.get_mut(id)[k] = orig - h;
                    let minus = loss_of(&probe);
                    probe.get_mut(id)[k] = orig;
                    let numeric = (plus - minus) / (2.0 * h);
                    let a = analytic[id.index()][k];
                    let scale = a.abs().max(numeric.abs());
                    assert!(
                        (a - numeric).abs() <= prec::GRAD_ATOL + prec::GRAD_RTOL * scale,
                        "{name}[{k}] (inverse: {inverse}): analytic {a} vs numeric {numeric}"
                    );
                    compared += 1;
                }
            }
            assert_eq!(compared, self.params.n_scalars());
        }
    }

    /// Wrong width, a NaN row, an empty batch and a missing / unexpected / misshapen condition
    /// are errors naming the problem, in both directions.
    pub(crate) fn boundary_errors(&self) {
        let b = self.block;
        let (n, d) = self.x.shape();
        assert!(n >= 3, "the boundary law needs at least 3 rows");
        let c = self.cond.as_ref();
        for inverse in [false, true] {
            let run = |x: &DMatrix<f64>, c: Option<&DMatrix<f64>>| {
                if inverse {
                    b.inverse_matrix_with(self.params, x, c)
                } else {
                    b.forward_matrix_with(self.params, x, c)
                }
            };
            let wide = DMatrix::zeros(n, d + 1);
            assert!(
                matches!(run(&wide, c), Err(Error::Width { expected, cols, .. }) if expected == d && cols == d + 1)
            );
            let mut bad = self.x.clone();
            bad[(2, d - 1)] = f64::NAN;
            bad[(n - 1, 0)] = f64::INFINITY;
            assert!(
                matches!(run(&bad, c), Err(Error::NonFinite { row: 2, .. })),
                "{:?}",
                run(&bad, c).err()
            );
            let empty = DMatrix::zeros(0, d);
            let empty_cond = c.map(|c| DMatrix::zeros(0, c.ncols()));
            assert!(matches!(
                run(&empty, empty_cond.as_ref()),
                Err(Error::EmptyBatch { .. })
            ));
            match c {
                None => {
                    let extra = DMatrix::zeros(n, 1);
                    assert!(matches!(
                        run(&self.x, Some(&extra)),
                        Err(Error::Condition { .. })
                    ));
                }
                Some(c) => {
                    assert!(matches!(run(&self.x, None), Err(Error::Condition { .. })));
                    let short = c.rows(0, n - 1).into_owned();
                    assert!(matches!(
                        run(&self.x, Some(&short)),
                        Err(Error::Condition { .. })
                    ));
                    let narrow = DMatrix::zeros(n, c.ncols() + 1);
                    assert!(matches!(
                        run(&self.x, Some(&narrow)),
                        Err(Error::Condition { .. })
                    ));
                    let mut bad_c = c.clone();
                    bad_c[(1, 0)] = f64::NAN;
                    assert!(matches!(
                        run(&self.x, Some(&bad_c)),
                        Err(Error::NonFinite { row: 1, .. })
                    ));
                }
            }
        }
    }

    /// spec → JSON text → spec → [`block_from_spec`] gives a block with the same spec and
    /// bit-identical outputs in both directions.
    pub(crate) fn spec_restores(&self) {
        let spec = self.block.spec().unwrap();
        let text = serde_json::to_string(&spec).unwrap();
        let read: BlockSpec = serde_json::from_str(&text).unwrap();
        let rebuilt = block_from_spec::<f64>(&read).unwrap();
        assert_eq!(rebuilt.spec().unwrap(), spec);
        assert_eq!(
            (rebuilt.dim(), rebuilt.cond_dim()),
            (self.block.dim(), self.block.cond_dim())
        );
        let c = self.cond.as_ref();
        let restored_fwd = rebuilt
            .forward_matrix_with(self.params, &self.x, c)
            .unwrap();
        assert_eq!(restored_fwd, self.forward(&self.x, c));
        let restored_inv = rebuilt
            .inverse_matrix_with(self.params, &self.x, c)
            .unwrap();
        assert_eq!(restored_inv, self.inverse(&self.x, c));
    }
}

fn grad_options() -> GradCheckOptions {
    GradCheckOptions {
        step: prec::GRAD_STEP,
        atol: prec::GRAD_ATOL,
        rtol: prec::GRAD_RTOL,
    }
}
