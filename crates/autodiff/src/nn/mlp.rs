//! The multi-layer perceptron used as coupling subnet, residual branch and forward model.

use super::{Activation, Init, Linear};
use crate::{Bound, Error, Float, Params, Result, Tape, Var};
use nalgebra::DMatrix;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Shape and options of an [`Mlp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Layer widths, input first: `[1, 128, 128, 1]` is 1 → 128 → 128 → 1 (three layers).
    pub sizes: Vec<usize>,
    /// Activation after every layer but the last.
    pub activation: Activation,
    /// Weight initialisation; `None` picks [`Activation::default_init`].
    pub init: Option<Init>,
    /// Start the last layer at zero (so a coupling block starts as the identity). Default `false`.
    pub zero_last: bool,
}

impl MlpConfig {
    /// `sizes` with `activation`, default initialisation, last layer not zeroed.
    pub fn new(sizes: &[usize], activation: Activation) -> Self {
        Self {
            sizes: sizes.to_vec(),
            activation,
            init: None,
            zero_last: false,
        }
    }
}

/// A multi-layer perceptron on batches (`n × sizes[0]` in, `n × sizes.last()` out): dense
/// layers with the activation between them and none after the last.
///
/// ```
/// use autodiff::{Params, Tape, nn::{Activation, Mlp, MlpConfig}, nalgebra::DMatrix};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut params = Params::<f32>::new();
/// let mlp = Mlp::new(&mut params, "f", &MlpConfig::new(&[2, 16, 1], Activation::Tanh), &mut rng).unwrap();
/// let y = mlp.eval(&params, &DMatrix::zeros(5, 2)).unwrap();
/// assert_eq!(y.shape(), (5, 1));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    layers: Vec<Linear>,
    activation: Activation,
}

impl Mlp {
    /// Registers the layers as `{name}.{k}.weight` / `{name}.{k}.bias`.
    pub fn new<T: Float, R: Rng + ?Sized>(
        params: &mut Params<T>,
        name: &str,
        config: &MlpConfig,
        rng: &mut R,
    ) -> Result<Self> {
        if config.sizes.len() < 2 {
            return Err(Error::InvalidArgument {
                op: "Mlp::new",
                reason: format!(
                    "need at least input and output sizes, got {:?}",
                    config.sizes
                ),
            });
        }
        let init = config.init.unwrap_or(config.activation.default_init());
        let n = config.sizes.len() - 1;
        let layers = config
            .sizes
            .windows(2)
            .enumerate()
            .map(|(k, w)| {
                let init = if config.zero_last && k == n - 1 {
                    Init::Zeros
                } else {
                    init
                };
                Linear::new(params, &format!("{name}.{k}"), w[0], w[1], init, rng)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            layers,
            activation: config.activation,
        })
    }

    /// The network on a batch `x: n × in_dim`.
    pub fn forward<'t, T: Float>(&self, p: &Bound<'t, T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (k, layer) in self.layers.iter().enumerate() {
            h = match self.activation.unary_fn() {
                // A dense layer and its activation as one tape operation (see `Var::dense`).
                Some(f) if k < last => layer.forward_activated(p, h, f)?,
                _ if k < last => self.activation.apply(layer.forward(p, h)?),
                _ => layer.forward(p, h)?,
            };
        }
        Ok(h)
    }

    /// The network on a plain matrix, without recording gradients.
    pub fn eval<T: Float>(&self, params: &Params<T>, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        let tape = Tape::no_grad();
        let p = params.bind(&tape);
        let y = self.forward(&p, tape.constant(x.clone()))?;
        Ok(y.to_matrix())
    }

    /// The dense layers, input first.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }
    /// The hidden activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.layers[0].fan_in()
    }
    /// Output width.
    pub fn out_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].fan_out()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, Optimizer};
    use crate::{Float, GradCheckOptions, grad_check, lit};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Gradients of a loss through an MLP, with respect to the input and every weight,
        /// match central differences for every activation.
        #[test]
        fn mlp_gradients_pass_grad_check(
            sizes in proptest::collection::vec(1usize..6, 2..5),
            n in 1usize..5,
            act in 0usize..7,
            seed in any::<u64>(),
        ) {
            let activation = [
                Activation::Tanh, Activation::Sigmoid, Activation::Softplus, Activation::Elu(0.7),
                Activation::LipSwish, Activation::Identity, Activation::LeakyRelu(0.2),
            ][act];
            let mut rng = StdRng::seed_from_u64(seed);
            let mut params = Params::<f64>::new();
            let mlp = Mlp::new(&mut params, "m", &MlpConfig { init: Some(Init::Normal(0.8)), ..MlpConfig::new(&sizes, activation) }, &mut rng).unwrap();
            let x = Init::Normal(1.0).sample::<f64, _>(n, sizes[0], &mut rng).unwrap();
            let mut inputs = vec![x];
            inputs.extend(params.iter().map(|(_, _, v)| v.clone()));
            let store = params.clone();
            let report = grad_check(
                |tape, v| {
                    // Rebuild a store from the probed values so that every weight is an input.
                    let mut p = store.clone();
                    for (k, (id, _, _)) in store.iter().enumerate() {
                        p.get_mut(id).copy_from(&v[k + 1].value());
                    }
                    // Route gradients to the probe leaves: out = f(x; W) with W = v[1..].
                    let mut h = v[0];
                    let last = mlp.layers().len() - 1;
                    for (k, layer) in mlp.layers().iter().enumerate() {
                        let w = v[1 + layer.weight().index()];
                        let b = v[1 + layer.bias().index()];
                        h = h.affine(w, b)?;
                        if k < last {
                            h = mlp.activation().apply(h);
                        }
                    }
                    let out = mlp.forward(&p.bind(tape), v[0])?;
                    // The hand-routed network must equal the layer's own forward.
                    let diff = (&*out.value() - &*h.value()).abs().max();
                    assert!(diff < 1e-12, "forward mismatch {diff}");
                    Ok(h.square().sum())
                },
                &inputs,
                GradCheckOptions { atol: 1e-6, rtol: 1e-5, ..Default::default() },
            );
            prop_assert!(report.is_ok(), "{:?}", report.err());
        }
    }

    #[test]
    fn mlp_forward_gradients_reach_the_bound_parameters() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut params = Params::<f64>::new();
        let mlp = Mlp::new(
            &mut params,
            "m",
            &MlpConfig::new(&[3, 5, 2], Activation::Tanh),
            &mut rng,
        )
        .unwrap();
        let x = Init::Normal(1.0).sample::<f64, _>(4, 3, &mut rng).unwrap();
        let tape = Tape::new();
        let p = params.bind(&tape);
        let loss = mlp
            .forward(&p, tape.constant(x.clone()))
            .unwrap()
            .square()
            .sum();
        let mut grads = tape.backward(loss).unwrap();
        let g = p.gradients(&mut grads);
        // Compare one weight gradient with a central difference on the store itself.
        let id = mlp.layers()[0].weight();
        let h = 1e-6;
        let f = |params: &Params<f64>| mlp.eval(params, &x).unwrap().map(|v| v * v).sum();
        let mut plus = params.clone();
        plus.get_mut(id)[(1, 2)] += h;
        let mut minus = params.clone();
        minus.get_mut(id)[(1, 2)] -= h;
        let numeric = (f(&plus) - f(&minus)) / (2.0 * h);
        assert!((g[id.index()][(1, 2)] - numeric).abs() < 1e-7);
    }

    fn fit_sin<T: Float>(hidden: usize, steps: usize) -> f64 {
        let mut rng = StdRng::seed_from_u64(11);
        let mut params = Params::<T>::new();
        let mlp = Mlp::new(
            &mut params,
            "f",
            &MlpConfig::new(&[1, hidden, hidden, 1], Activation::Tanh),
            &mut rng,
        )
        .unwrap();
        let x = DMatrix::<T>::from_fn(128, 1, |i, _| lit(-3.0 + 6.0 * i as f64 / 127.0));
        let y = x.map(|v| lit(v.to_f64().sin()));
        let mut opt = Adam::<T>::with_lr(3e-3);
        let mut loss_value = f64::INFINITY;
        for _ in 0..steps {
            let tape = Tape::new();
            let p = params.bind(&tape);
            let pred = mlp.forward(&p, tape.constant(x.clone())).unwrap();
            let loss = pred.sub(tape.constant(y.clone())).unwrap().square().mean();
            loss_value = loss.item().to_f64();
            let mut grads = tape.backward(loss).unwrap();
            opt.step(&mut params, &p.gradients(&mut grads)).unwrap();
        }
        loss_value
    }

    /// Training works: an MLP fits sin on [−3, 3] to MSE below 1e-3 (the variance of sin
    /// there is ≈ 0.5, so this is a 500× reduction), in f32 and in f64.
    #[test]
    fn regression_fits_sin_in_f32_and_f64() {
        let l32 = fit_sin::<f32>(32, 1500);
        let l64 = fit_sin::<f64>(32, 1500);
        assert!(l32 < 1e-3, "f32 loss {l32}");
        assert!(l64 < 1e-3, "f64 loss {l64}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = StdRng::seed_from_u64(0);
        let mut params = Params::<f32>::new();
        assert!(
            Mlp::new(
                &mut params,
                "m",
                &MlpConfig::new(&[3], Activation::Relu),
                &mut rng
            )
            .is_err()
        );
        assert!(
            Mlp::new(
                &mut params,
                "z",
                &MlpConfig::new(&[3, 0, 1], Activation::Relu),
                &mut rng
            )
            .is_err()
        );
        let mlp = Mlp::new(
            &mut params,
            "m",
            &MlpConfig::new(&[3, 4, 1], Activation::Relu),
            &mut rng,
        )
        .unwrap();
        assert!(matches!(
            mlp.eval(&params, &DMatrix::zeros(2, 4)),
            Err(crate::Error::Shape { .. })
        ));
        // Registering the same names twice is an error, not a silent overwrite.
        assert!(
            Mlp::new(
                &mut params,
                "m",
                &MlpConfig::new(&[3, 4, 1], Activation::Relu),
                &mut rng
            )
            .is_err()
        );
    }

    #[test]
    fn zero_last_layer_outputs_zero() {
        let mut rng = StdRng::seed_from_u64(0);
        let mut params = Params::<f64>::new();
        let cfg = MlpConfig {
            zero_last: true,
            ..MlpConfig::new(&[2, 8, 3], Activation::Relu)
        };
        let mlp = Mlp::new(&mut params, "m", &cfg, &mut rng).unwrap();
        let y = mlp
            .eval(&params, &DMatrix::from_element(4, 2, 1.0))
            .unwrap();
        assert_eq!(y, DMatrix::zeros(4, 3));
    }
}
