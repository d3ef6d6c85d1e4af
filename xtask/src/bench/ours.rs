//! Our side of each row: builds the model of a [`Work`] with the workspace crates (f32) and times
//! it, one discarded warm-up round and then `reps` timed rounds.

use super::cases::{BLOCKS, Work};
use crate::figures::Result;
use inn::Flow;
use inn::autodiff::Params;
use inn::autodiff::nalgebra::DMatrix;
use inn::autodiff::nn::Activation;
use inn::bijectors::{CouplingKind, IResNet, IResNetConfig, StackConfig, SubnetConfig};
use inn::data::LabelMap;
use inn::discrepancy::{InverseMultiquadric, MultiScale, mmd2_unbiased};
use inn::distributions::{Density, StandardNormal};
use inn::summary::SummaryConfig;
use inn::train::{
    CinnConfig, ConditionalInn, Inn, InnConfig, MaximumLikelihood, MleConfig, OptimConfig,
    paper_stack,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Instant;

/// Timings of one row.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Milliseconds per unit, one entry per timed repetition.
    pub ms: Vec<f64>,
    /// GEMM flops per unit (see [`Work::flops`]).
    pub flops: f64,
    /// Anything the reader needs to interpret the row (iteration counts, …); may be empty.
    pub note: String,
}

/// Runs `round` once to warm up, then `reps` times, and returns milliseconds per unit of each
/// timed round (`units` units per round).
fn time_rounds(
    reps: usize,
    units: usize,
    mut round: impl FnMut() -> Result<()>,
) -> Result<Vec<f64>> {
    round()?;
    let mut ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        round()?;
        ms.push(1e3 * start.elapsed().as_secs_f64() / units.max(1) as f64);
    }
    Ok(ms)
}

/// `rows × dim` standard-normal f32 data.
fn normal_rows(rows: usize, dim: usize, rng: &mut StdRng) -> Result<DMatrix<f32>> {
    Ok(StandardNormal::new(dim)?.sample(&Params::new(), rows, rng)?)
}

/// The RealNVP stack of rows A–C and F (FrEIA's `RNVPCouplingBlock` + `PermuteRandom`).
fn real_nvp(dim: usize, hidden: usize, rng: &mut StdRng) -> Result<Flow<f32>> {
    let stack = StackConfig {
        subnet: SubnetConfig {
            hidden: vec![hidden, hidden],
            ..SubnetConfig::default()
        },
        dim,
        blocks: BLOCKS,
        ..StackConfig::default()
    };
    Ok(Flow::coupling_stack(&stack, rng)?)
}

/// Times `work`: `reps` rounds of `units` units each (steps, estimates or calls).
pub fn measure(work: &Work, reps: usize, units: usize) -> Result<Measured> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut note = String::new();
    let mut iterations = 0;
    let ms = match *work {
        Work::Mle { dim, hidden, batch } => {
            // The peer's data: two moons (noise 0.05) in 2-D, standard normal otherwise.
            let data = if dim == 2 {
                inn::data::toy::two_moons(batch * 64, 0.05, &mut rng)?.cast::<f32>()
            } else {
                normal_rows(batch * 64, dim, &mut rng)?
            };
            let mut flow = real_nvp(dim, hidden, &mut rng)?;
            let trainer = MaximumLikelihood::new(MleConfig {
                optim: OptimConfig {
                    steps: units,
                    progress: false,
                    // Time per training step, as the peer's (no held-out rows).
                    val_fraction: 0.0,
                    ..OptimConfig::default()
                },
                batch_size: batch,
                data_init: false,
            });
            time_rounds(reps, units, || {
                trainer.fit(&mut flow, &data, &mut rng, None)?;
                Ok(())
            })?
        }
        Work::Inn { hidden, batch } => {
            let toy = inn::data::toy::eight_modes(1 << 18, LabelMap::Some, &mut rng);
            let (x, y) = (toy.x.cast::<f32>(), toy.y_onehot.cast::<f32>());
            let defaults = InnConfig::default();
            let config = InnConfig {
                stack: StackConfig {
                    subnet: SubnetConfig {
                        hidden: vec![hidden],
                        ..paper_stack().subnet
                    },
                    ..paper_stack()
                },
                batch_size: batch,
                optim: OptimConfig {
                    steps: units,
                    progress: false,
                    val_fraction: 0.0,
                    ..defaults.optim.clone()
                },
                ..defaults
            };
            let mut model = Inn::<f32>::new(config, 2, 8, 2, &mut rng)?;
            time_rounds(reps, units, || {
                model.fit(&x, &y, &mut rng)?;
                Ok(())
            })?
        }
        Work::CinnConv {
            bins,
            hidden,
            batch,
        } => {
            let problem = inn::data::toy::LorentzSpectrum::new(bins, 0.05)?;
            let (x, y) = problem.simulate(batch * 64, &mut rng);
            let (x, y) = (x.cast::<f32>(), y.cast::<f32>());
            let defaults = CinnConfig::default();
            let config = CinnConfig {
                stack: StackConfig {
                    subnet: SubnetConfig {
                        hidden: vec![hidden],
                        ..defaults.stack.subnet.clone()
                    },
                    ..defaults.stack.clone()
                },
                batch_size: batch,
                optim: OptimConfig {
                    steps: units,
                    progress: false,
                    val_fraction: 0.0,
                    ..defaults.optim.clone()
                },
                summary: Some(SummaryConfig::conv1d(bins)),
                ..defaults
            };
            let mut model =
                ConditionalInn::<f32>::new(config, problem.x_dim(), problem.y_dim(), &mut rng)?;
            time_rounds(reps, units, || {
                model.fit(&x, &y, &mut rng)?;
                Ok(())
            })?
        }
        Work::SplineMle {
            hidden,
            bins,
            batch,
        } => {
            let data = inn::data::toy::BoundedModes
                .sample(batch * 64, &mut rng)
                .cast::<f32>();
            let stack = StackConfig {
                subnet: SubnetConfig {
                    hidden: vec![hidden, hidden],
                    ..SubnetConfig::default()
                },
                coupling: CouplingKind::Spline,
                bins,
                dim: 2,
                blocks: BLOCKS,
                ..StackConfig::default()
            };
            let mut flow = Flow::coupling_stack(&stack, &mut rng)?;
            let trainer = MaximumLikelihood::new(MleConfig {
                optim: OptimConfig {
                    steps: units,
                    progress: false,
                    val_fraction: 0.0,
                    ..OptimConfig::default()
                },
                batch_size: batch,
                data_init: false,
            });
            time_rounds(reps, units, || {
                trainer.fit(&mut flow, &data, &mut rng, None)?;
                Ok(())
            })?
        }
        Work::Mmd { n, d } => {
            let x = normal_rows(n, d, &mut rng)?;
            let y = normal_rows(n, d, &mut rng)? * 1.1;
            let kernel = MultiScale::<InverseMultiquadric<f32>>::inn_default();
            let mut value = 0.0;
            let ms = time_rounds(reps, units, || {
                for _ in 0..units {
                    value = mmd2_unbiased(black_box(&x), black_box(&y), &kernel)?;
                }
                Ok(())
            })?;
            note = format!("MMD² = {value:.6}");
            ms
        }
        Work::Sample { n, hidden } => {
            let flow = real_nvp(2, hidden, &mut rng)?;
            time_rounds(reps, units, || {
                for _ in 0..units {
                    black_box(flow.sample(n, &mut rng)?);
                }
                Ok(())
            })?
        }
        Work::Invert { n, dim, hidden } => {
            let mut params = Params::<f32>::new();
            let config = IResNetConfig::new(&[hidden, hidden], Activation::Elu(1.0));
            let block = IResNet::new(&mut params, "res", dim, config, &mut rng)?;
            let y = normal_rows(n, dim, &mut rng)?;
            let mut bound = 0.0;
            let ms = time_rounds(reps, units, || {
                for _ in 0..units {
                    let (_, report) = block.invert(&params, &y)?;
                    iterations = report.iterations;
                    bound = report.error_bound;
                }
                Ok(())
            })?;
            note = format!("{iterations} iterations, error bound {bound:.1e}");
            ms
        }
    };
    Ok(Measured {
        ms,
        flops: work.flops(iterations),
        note,
    })
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

/// The best rate, in GFLOP/s, of f32 products of two `size × size` matrices on the bench's
/// threads: the machine's GEMM peak as this process sees it. Two ways, the better one counts:
/// one product split across rayon's threads (`autodiff::gemm::matmul`, the tape's own product),
/// and one whole single-threaded product per thread at the same time (what the data-parallel
/// training shards do). `reps` timed rounds of each after a warm-up round.
pub fn gemm_peak(size: usize, reps: usize) -> f64 {
    let mut rng = StdRng::seed_from_u64(1);
    let a = normal_rows(size, size, &mut rng).unwrap_or_else(|_| DMatrix::zeros(size, size));
    let b = a.transpose();
    let flops = 2.0 * (size as f64).powi(3);
    let threads = rayon::current_num_threads().max(1);
    let mut best = 0.0f64;
    for round in 0..reps.max(1) + 1 {
        let start = Instant::now();
        black_box(inn::autodiff::gemm::matmul(&a, &b));
        let split = flops / start.elapsed().as_secs_f64();
        let start = Instant::now();
        // On rayon's workers, each product stays on its own thread.
        (0..threads).into_par_iter().for_each(|_| {
            black_box(inn::autodiff::gemm::matmul(&a, &b));
        });
        let concurrent = threads as f64 * flops / start.elapsed().as_secs_f64();
        if round > 0 {
            best = best.max(split).max(concurrent);
        }
    }
    best / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn gemm_peak_is_a_positive_rate() {
        assert!(gemm_peak(32, 1) > 0.0);
    }
}
