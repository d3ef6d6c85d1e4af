//! The networks the figures show, trained once per [`Context`] and kept for the figures that
//! share them, each with its per-step loss curve for `training_curves`.
//!
//! Every training has its own fixed seed, so a network is the same whichever figure asks for it
//! first and whether the figures run together or one at a time (`--only`). Training is f32, the
//! fast path; step counts come from the run's [`Budget`](super::Budget).

use super::{Context, Result};
use inn::Flow;
use inn::autodiff::nn::{Activation, Init, Mlp, MlpConfig};
use inn::autodiff::optim::{Adam, Optimizer};
use inn::autodiff::{Params, Tape};
use inn::bijectors::{CouplingKind, StackConfig, SubnetConfig};
use inn::data::toy::{eight_gaussians, eight_modes, two_moons};
use inn::data::{EightModes, LabelMap};
use inn::invert::uniform_starts;
use inn::train::{
    CinnConfig, ConditionalInn, Inn, InnConfig, MaximumLikelihood, MleConfig, OptimConfig,
    Schedule, StepInfo, TrainReport, paper_stack,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::cell::RefCell;
use std::rc::Rc;

/// The per-step training loss of one network.
#[derive(Debug, Clone)]
pub struct LossCurve {
    /// What was trained, on what (legend text).
    pub label: String,
    /// The minibatch loss of every step.
    pub losses: Vec<f64>,
}

impl LossCurve {
    fn new(label: String, report: &TrainReport) -> Self {
        Self {
            label,
            losses: report.losses.clone(),
        }
    }
}

/// A flow fitted by maximum likelihood to a 2-D toy set.
#[derive(Debug)]
pub struct ToyFlow {
    /// Name of the data set (captions).
    pub data_name: &'static str,
    /// Short name of the architecture (captions).
    pub model_name: String,
    /// The training set, `n × 2`.
    pub data: DMatrix<f64>,
    /// The trained flow; its bijector maps data x to latent z.
    pub flow: Flow<f32>,
    /// The training loss (negative mean log-likelihood in nats).
    pub curve: LossCurve,
}

/// A small NICE stack and a small RealNVP stack trained on two moons (`nice_rnvp_transform`).
#[derive(Debug)]
pub struct CouplingFlows {
    /// Additive couplings: volume preserving.
    pub nice: ToyFlow,
    /// Affine couplings.
    pub real_nvp: ToyFlow,
}

/// RealNVP flows on two moons and on eight Gaussians (`flow_two_moons`).
#[derive(Debug)]
pub struct ToyFlows {
    /// Two moons, then eight Gaussians.
    pub flows: Vec<ToyFlow>,
}

/// The eight-modes toy of Ardizzone et al. 2018 (labels `some`) and the two networks trained
/// on it (`inn_eight_modes`).
#[derive(Debug)]
pub struct EightModesModels {
    /// The training set with its labels.
    pub data: EightModes,
    /// INN `[z, pad, y] = f([x, pad])`, trained with the bidirectional MMD objective.
    pub inn: Inn<f32>,
    /// cINN `z = f(x; y)`, trained by maximum likelihood.
    pub cinn: ConditionalInn<f32>,
    /// The INN's loss.
    pub inn_curve: LossCurve,
    /// The cINN's loss.
    pub cinn_curve: LossCurve,
}

/// `y = ‖x‖²` on `x ∈ [−2, 2]²`: a forward model, a cINN and an INN (`adhoc_inversion`).
#[derive(Debug)]
pub struct LevelSetModels {
    /// The forward model `f: ℝ² → ℝ`, a tanh MLP fitted to `‖x‖²`.
    pub net: Mlp,
    /// Its parameters.
    pub params: Params<f64>,
    /// cINN `z = f(x; y)`.
    pub cinn: ConditionalInn<f32>,
    /// INN `[z, pad, y] = f([x, pad])`.
    pub inn: Inn<f32>,
    /// The forward model's mean squared error.
    pub net_curve: LossCurve,
    /// The cINN's loss.
    pub cinn_curve: LossCurve,
    /// The INN's loss.
    pub inn_curve: LossCurve,
}

/// The box `[−2, 2]²` of the level-set problem's inputs.
pub const LEVEL_SET_BOX: (f64, f64) = (-2.0, 2.0);

/// Trainings done so far in a run; each is computed on first use.
#[derive(Default)]
pub struct Trainings {
    couplings: RefCell<Option<Rc<CouplingFlows>>>,
    toy_flows: RefCell<Option<Rc<ToyFlows>>>,
    eight_modes: RefCell<Option<Rc<EightModesModels>>>,
    level_set: RefCell<Option<Rc<LevelSetModels>>>,
}

impl std::fmt::Debug for Trainings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainings")
            .field("couplings", &self.couplings.borrow().is_some())
            .field("toy_flows", &self.toy_flows.borrow().is_some())
            .field("eight_modes", &self.eight_modes.borrow().is_some())
            .field("level_set", &self.level_set.borrow().is_some())
            .finish()
    }
}

/// The value in `cell`, computed by `make` and stored on first use.
fn cached<V>(cell: &RefCell<Option<Rc<V>>>, make: impl FnOnce() -> Result<V>) -> Result<Rc<V>> {
    if let Some(v) = cell.borrow().as_ref() {
        return Ok(Rc::clone(v));
    }
    let v = Rc::new(make()?);
    *cell.borrow_mut() = Some(Rc::clone(&v));
    Ok(v)
}

/// The NICE and RealNVP stacks of `nice_rnvp_transform`.
pub fn couplings(ctx: &Context) -> Result<Rc<CouplingFlows>> {
    cached(&ctx.trainings().couplings, || {
        let steps = ctx.pick3(30, 500, 3000);
        let data = two_moons(10_000, 0.05, &mut StdRng::seed_from_u64(50))?;
        let stack = |coupling| StackConfig {
            subnet: SubnetConfig {
                hidden: vec![64, 64],
                init: Some(Init::Torch),
                ..SubnetConfig::default()
            },
            blocks: 4,
            coupling,
            permute: false,
            // NICE's couplings keep the volume; its paper ends in a diagonal scaling, which
            // ActNorm provides. RealNVP gets the same for a like-for-like comparison.
            actnorm: true,
            ..StackConfig::default()
        };
        Ok(CouplingFlows {
            nice: fit_flow(
                "two moons",
                "NICE",
                &stack(CouplingKind::Nice),
                data.clone(),
                steps,
                51,
            )?,
            real_nvp: fit_flow(
                "two moons",
                "RealNVP",
                &stack(CouplingKind::RealNvp),
                data,
                steps,
                52,
            )?,
        })
    })
}

/// The RealNVP flows of `flow_two_moons`.
pub fn toy_flows(ctx: &Context) -> Result<Rc<ToyFlows>> {
    cached(&ctx.trainings().toy_flows, || {
        let steps = ctx.pick3(30, 600, 4000);
        let stack = StackConfig {
            subnet: SubnetConfig {
                hidden: vec![64, 64],
                init: Some(Init::Torch),
                ..SubnetConfig::default()
            },
            blocks: 8,
            ..StackConfig::default()
        };
        let moons = two_moons(20_000, 0.05, &mut StdRng::seed_from_u64(60))?;
        let gaussians = eight_gaussians(20_000, &mut StdRng::seed_from_u64(61));
        Ok(ToyFlows {
            flows: vec![
                fit_flow("two moons", "RealNVP", &stack, moons, steps, 62)?,
                fit_flow("eight Gaussians", "RealNVP", &stack, gaussians, steps, 63)?,
            ],
        })
    })
}

/// Fits a fresh coupling stack to `data` by maximum likelihood (Adam 1e-3, cosine annealing,
/// batch 256), recording the loss through the trainer's per-step callback.
fn fit_flow(
    data_name: &'static str,
    model_name: &str,
    stack: &StackConfig,
    data: DMatrix<f64>,
    steps: usize,
    seed: u64,
) -> Result<ToyFlow> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut flow = Flow::<f32>::coupling_stack(stack, &mut rng)?;
    let config = MleConfig {
        optim: OptimConfig {
            steps,
            schedule: Schedule::Cosine { min_lr: 0.0 },
            progress: false,
            ..OptimConfig::default()
        },
        batch_size: 256,
        ..MleConfig::default()
    };
    let mut losses = Vec::with_capacity(steps);
    let mut record = |info: &StepInfo| losses.push(info.loss);
    MaximumLikelihood::new(config).fit(
        &mut flow,
        &data.clone().cast::<f32>(),
        &mut rng,
        Some(&mut record),
    )?;
    let curve = LossCurve {
        label: format!("{model_name} ({} blocks), {data_name}", stack.blocks),
        losses,
    };
    Ok(ToyFlow {
        data_name,
        model_name: model_name.to_string(),
        data,
        flow,
        curve,
    })
}

/// The INN and cINN of `inn_eight_modes`: the paper's toy settings (8 GLOW blocks, N_tot 16,
/// the loss weights of [`InnConfig::default`]) with narrower subnets and fewer steps to fit
/// the figure budget.
pub fn eight_modes_models(ctx: &Context) -> Result<Rc<EightModesModels>> {
    cached(&ctx.trainings().eight_modes, || {
        let mut rng = StdRng::seed_from_u64(70);
        let data = eight_modes(1 << 16, LabelMap::Some, &mut rng);
        let (x, y) = (
            data.x.clone().cast::<f32>(),
            data.y_onehot.clone().cast::<f32>(),
        );
        let steps = ctx.pick3(10, 300, 800);
        let batch = ctx.pick3(200, 500, 1000);
        let hidden = vec![ctx.pick3(64, 256, 512)];

        let mut inn_config = InnConfig {
            stack: StackConfig {
                subnet: SubnetConfig {
                    hidden: hidden.clone(),
                    ..paper_stack().subnet
                },
                ..paper_stack()
            },
            batch_size: batch,
            ..InnConfig::default()
        };
        inn_config.optim.steps = steps;
        inn_config.optim.progress = false;
        // The one-hot labels are 8 wide whatever the label map, as in the reference code.
        let y_dim = data.y_onehot.ncols();
        let mut inn = Inn::<f32>::new(inn_config, 2, y_dim, 2, &mut rng)?;
        let inn_report = inn.fit(&x, &y, &mut rng)?;

        let mut cinn_config = CinnConfig {
            stack: StackConfig {
                subnet: SubnetConfig {
                    hidden,
                    ..paper_stack().subnet
                },
                ..paper_stack()
            },
            batch_size: batch,
            ..CinnConfig::default()
        };
        // The cINN is cheap next to the INN's MMD terms: more steps, annealed to settle.
        cinn_config.optim.steps = ctx.pick3(10, 600, 2000);
        cinn_config.optim.schedule = Schedule::Cosine { min_lr: 0.0 };
        cinn_config.optim.progress = false;
        let mut cinn = ConditionalInn::<f32>::new(cinn_config, 2, y_dim, &mut rng)?;
        let cinn_report = cinn.fit(&x, &y, &mut rng)?;
        Ok(EightModesModels {
            data,
            inn,
            cinn,
            inn_curve: LossCurve::new("INN, eight modes".into(), &inn_report),
            cinn_curve: LossCurve::new("cINN, eight modes".into(), &cinn_report),
        })
    })
}

/// The forward model, cINN and INN of `adhoc_inversion`, all on the same 20 000 pairs
/// `(x, ‖x‖²)`, `x` uniform on [`LEVEL_SET_BOX`]².
pub fn level_set_models(ctx: &Context) -> Result<Rc<LevelSetModels>> {
    cached(&ctx.trainings().level_set, || {
        let mut rng = StdRng::seed_from_u64(80);
        let (lo, hi) = LEVEL_SET_BOX;
        let n_train = 20_000;
        let x = uniform_starts::<f64, _>(n_train, &[lo, lo], &[hi, hi], &mut rng)?;
        let y = DMatrix::from_fn(n_train, 1, |i, _| x.row(i).norm_squared());

        // The forward model, in f64: gradient descent on its input asks for a tolerance of
        // 1e-8 on the squared error, near f32's rounding level.
        let mut params = Params::<f64>::new();
        let net = Mlp::new(
            &mut params,
            "f",
            &MlpConfig::new(&[2, 64, 64, 1], Activation::Tanh),
            &mut rng,
        )?;
        let mut adam = Adam::with_lr(3e-3);
        let net_steps = ctx.pick3(50, 1500, 3000);
        let mut net_losses = Vec::with_capacity(net_steps);
        for _ in 0..net_steps {
            let xb = uniform_starts::<f64, _>(256, &[lo, lo], &[hi, hi], &mut rng)?;
            let yb = DMatrix::from_fn(256, 1, |i, _| xb.row(i).norm_squared());
            let tape = Tape::new();
            let p = params.bind(&tape);
            let loss = net
                .forward(&p, tape.constant(xb))?
                .sub(tape.constant(yb))?
                .square()
                .mean();
            net_losses.push(loss.item());
            let mut grads = tape.backward(loss)?;
            adam.step(&mut params, &p.gradients(&mut grads))?;
        }
        let net_curve = LossCurve {
            label: "MLP f(x) ≈ ‖x‖² (MSE)".into(),
            losses: net_losses,
        };

        let (xf, yf) = (x.cast::<f32>(), y.cast::<f32>());
        let cinn_config = CinnConfig {
            stack: paper_stack().with_widths(6, &[128]),
            batch_size: 512,
            optim: OptimConfig {
                steps: ctx.pick3(20, 500, 1500),
                // Annealed: at the paper's constant rate this cINN's loss keeps jumping.
                schedule: Schedule::Cosine { min_lr: 0.0 },
                progress: false,
                ..CinnConfig::default().optim
            },
            ..CinnConfig::default()
        };
        let mut cinn = ConditionalInn::<f32>::new(cinn_config, 2, 1, &mut rng)?;
        let cinn_report = cinn.fit(&xf, &yf, &mut rng)?;

        let inn_config = InnConfig {
            stack: paper_stack().with_widths(6, &[128]),
            n_tot: 4,
            batch_size: 500,
            y_noise: 0.02,
            optim: OptimConfig {
                steps: ctx.pick3(20, 400, 1000),
                schedule: Schedule::Cosine { min_lr: 0.0 },
                progress: false,
                ..InnConfig::default().optim
            },
            ..InnConfig::default()
        };
        let mut inn = Inn::<f32>::new(inn_config, 2, 1, 1, &mut rng)?;
        let inn_report = inn.fit(&xf, &yf, &mut rng)?;
        Ok(LevelSetModels {
            net,
            params,
            cinn,
            inn,
            net_curve,
            cinn_curve: LossCurve::new("cINN, y = ‖x‖²".into(), &cinn_report),
            inn_curve: LossCurve::new("INN, y = ‖x‖²".into(), &inn_report),
        })
    })
}

/// Every loss curve of the trainings, grouped by objective: maximum-likelihood flows, cINNs,
/// INNs and the forward model (training all of them that are not cached yet).
pub fn all_curves(ctx: &Context) -> Result<[Vec<LossCurve>; 4]> {
    let couplings = couplings(ctx)?;
    let toy = toy_flows(ctx)?;
    let modes = eight_modes_models(ctx)?;
    let level = level_set_models(ctx)?;
    let mut flows = vec![
        couplings.nice.curve.clone(),
        couplings.real_nvp.curve.clone(),
    ];
    flows.extend(toy.flows.iter().map(|f| f.curve.clone()));
    Ok([
        flows,
        vec![modes.cinn_curve.clone(), level.cinn_curve.clone()],
        vec![modes.inn_curve.clone(), level.inn_curve.clone()],
        vec![level.net_curve.clone()],
    ])
}

/// `z = f(x)` and `log|det ∂f/∂x|` (`n × 1`) of an f64 batch `x` (`n × 2`) through an f32 flow.
pub fn to_latent(flow: &Flow<f32>, x: &DMatrix<f64>) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
    let (z, log_det) = flow.to_latent(&x.clone().cast::<f32>())?;
    Ok((z.cast::<f64>(), log_det.cast::<f64>()))
}

/// `x = f⁻¹(z)` of an f64 batch `z` (`n × 2`) through an f32 flow (the generative direction).
pub fn to_data(flow: &Flow<f32>, z: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    let (x, _) = flow
        .bijector()
        .inverse_matrix(flow.params(), &z.clone().cast::<f32>())?;
    Ok(x.cast::<f64>())
}
