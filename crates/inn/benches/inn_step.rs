//! Criterion bench: one training step of the Ardizzone et al. INN on the eight-modes toy
//! (configuration D of `cargo xtask bench`: N_tot 16, 8 GLOW blocks with subnets →512→,
//! batch 1600, f32): forward, L_y, MMD L_z, inverse MMD L_x, reconstruction, backward, Adam.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use inn::data::LabelMap;
use inn::train::{Inn, InnConfig, OptimConfig};
use rand::SeedableRng;
use std::time::Duration;

fn inn_step(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let toy = inn::data::toy::eight_modes(1 << 14, LabelMap::Some, &mut rng);
    let (x, y) = (toy.x.cast::<f32>(), toy.y_onehot.cast::<f32>());
    let defaults = InnConfig::default();
    let config = InnConfig {
        optim: OptimConfig {
            steps: 1,
            progress: false,
            val_fraction: 0.0,
            ..defaults.optim.clone()
        },
        ..defaults
    };
    let mut model = Inn::<f32>::new(config, 2, 8, 2, &mut rng).expect("valid config");
    c.bench_function("inn_step_config_d_batch1600_f32", |b| {
        b.iter(|| model.fit(&x, &y, &mut rng).expect("finite"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(8));
    targets = inn_step
}
criterion_main!(benches);
