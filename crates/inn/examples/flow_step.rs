//! A profiling harness: `steps` maximum-likelihood training steps of the benchmark's config A
//! (2-D, 8 RealNVP blocks + permutations, subnets 1→H→H→1 ReLU, batch B, f32), so a profiler
//! (callgrind, perf) sees the steady-state hot path.
//!
//! `cargo run --release -p inn --example flow_step -- [steps] [hidden] [batch] [data_parallel 1|0]`

use inn::Flow;
use inn::bijectors::{StackConfig, SubnetConfig};
use inn::train::{MaximumLikelihood, MleConfig, OptimConfig};
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let steps = args.first().copied().unwrap_or(50);
    let hidden = args.get(1).copied().unwrap_or(128);
    let batch = args.get(2).copied().unwrap_or(512);
    let data_parallel = args.get(3).is_none_or(|&v| v != 0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let data = inn::data::toy::two_moons(batch * 64, 0.05, &mut rng)?.cast::<f32>();
    let stack = StackConfig {
        subnet: SubnetConfig {
            hidden: vec![hidden, hidden],
            ..SubnetConfig::default()
        },
        dim: 2,
        blocks: 8,
        ..StackConfig::default()
    };
    let mut flow = Flow::<f32>::coupling_stack(&stack, &mut rng)?;
    let config = MleConfig {
        optim: OptimConfig {
            steps,
            progress: false,
            data_parallel,
            val_fraction: 0.0,
            ..OptimConfig::default()
        },
        batch_size: batch,
        data_init: false,
    };
    let start = std::time::Instant::now();
    let report = MaximumLikelihood::new(config).fit(&mut flow, &data, &mut rng, None)?;
    let ms = 1e3 * start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{steps} steps, hidden {hidden}, batch {batch}, data-parallel {data_parallel}: {ms:.2} ms/step, final loss {:.4}",
        report.final_loss(10)
    );
    Ok(())
}
