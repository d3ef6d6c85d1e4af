//! Held-out NLL of single flows against their ensemble, on two moons with few training rows
//! (where members disagree): `M` flows (4 RealNVP blocks, subnets 64-64, batch 256, Adam 1e-3,
//! `steps` steps) on 1 000 training samples, member `k` trained from seed `seed + k`; prints each
//! member's NLL (nats) on 20 000 fresh samples and the NLL of their uniform mixture.
//!
//! `cargo run --release -p inn --example ensemble_nll -- [members] [steps] [seed]`

use inn::bijectors::StackConfig;
use inn::train::{MaximumLikelihood, MleConfig, OptimConfig};
use inn::{Ensemble, Flow, Model};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let members: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let steps: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let seed: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(0);

    let train =
        inn::data::toy::two_moons(1000, 0.05, &mut StdRng::seed_from_u64(seed))?.cast::<f32>();
    let test = inn::data::toy::two_moons(20_000, 0.05, &mut StdRng::seed_from_u64(1000 + seed))?
        .cast::<f32>();
    let started = std::time::Instant::now();
    let ensemble = Ensemble::<f32>::train(members, seed, |member_seed| {
        let mut rng = StdRng::seed_from_u64(member_seed);
        let stack = StackConfig::default().with_widths(4, &[64, 64]);
        let mut flow = Flow::<f32>::coupling_stack(&stack, &mut rng)?;
        let config = MleConfig {
            optim: OptimConfig {
                steps,
                progress: false,
                ..OptimConfig::default()
            },
            batch_size: 256,
            ..MleConfig::default()
        };
        MaximumLikelihood::new(config).fit(&mut flow, &train, &mut rng, None)?;
        Ok(Box::new(flow) as Box<dyn Model<f32>>)
    })?;
    let nll = |log_p: inn::autodiff::nalgebra::DMatrix<f32>| {
        -log_p.iter().map(|v| f64::from(*v)).sum::<f64>() / log_p.nrows() as f64
    };
    for (k, member) in ensemble.members().iter().enumerate() {
        let log_p = member
            .log_density(&test, None)
            .ok_or("a flow has a density")??;
        println!(
            "member {k} (seed {}): held-out NLL {:.4}",
            seed + k as u64,
            nll(log_p)
        );
    }
    println!(
        "ensemble of {members}: held-out NLL {:.4} ({:.1} s training)",
        nll(ensemble.log_prob(&test, None)?),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
