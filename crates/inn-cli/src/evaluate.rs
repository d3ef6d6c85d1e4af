//! `inn eval`: scores a model on a held-out table — log-densities, forward error, posterior
//! calibration, and posterior MMD against rows that share an observation.

use crate::args::EvalArgs;
use crate::columns::{load_table, select_names};
use crate::error::Result;
use crate::model::{Model, mean_f64, posterior};
use inn::autodiff::nalgebra::DMatrix;
use inn::eval::{INN_KERNEL_WIDTHS, calibration_error, calibration_levels, posterior_mmd};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::HashMap;

/// Rows that must share one observation before their x are compared with the posterior.
const MIN_GROUP_ROWS: usize = 10;
/// At most this many shared-observation groups are scored (the largest ones).
const MAX_GROUPS: usize = 20;

/// Runs `inn eval`.
pub fn run(args: &EvalArgs) -> Result {
    let model = Model::load(&args.model)?;
    let meta = &model.meta;
    let table = load_table(&args.data)?;
    let x = select_names(&table, &args.data, &meta.x_names)?;
    let x_std = meta.x_scale.apply_checked(&x, &meta.x_names, "row")?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    println!(
        "{} model {} on {} ({} rows)",
        meta.method,
        args.model.display(),
        args.data.display(),
        x.nrows()
    );
    let net = &model.net;
    let (Some(y_scale), (_, 1..)) = (&meta.y_scale, net.widths()) else {
        // A density over the columns: its mean log-density.
        if let Some(lp) = net.log_density(&x_std, None) {
            let mean = mean_f64(&lp?) - meta.x_scale.log_det();
            println!("mean log-density: {mean:.4} nats/sample (data units)");
            print_members(net, &x_std, None, meta.x_scale.log_det())?;
        }
        return Ok(());
    };
    let y = select_names(&table, &args.data, &meta.y_names)?;
    let y_std = y_scale.apply_checked(&y, &meta.y_names, "row")?;
    if let Some(lp) = net.log_density(&x_std, Some(&y_std)) {
        let mean = mean_f64(&lp?) - meta.x_scale.log_det();
        println!("mean log p(x | y): {mean:.4} nats/sample (data units)");
        print_members(net, &x_std, Some(&y_std), meta.x_scale.log_det())?;
    }
    if let Some(pred) = net.predict_y(&x_std) {
        let pred = pred?;
        let per_column: Vec<String> = meta
            .y_names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let mse = (0..pred.nrows())
                    .map(|i| (f64::from(pred[(i, j)] - y_std[(i, j)]) * y_scale.std[j]).powi(2))
                    .sum::<f64>()
                    / pred.nrows() as f64;
                format!("{name} {:.4}", mse.sqrt())
            })
            .collect();
        println!(
            "forward prediction RMSE of y (data units): {}",
            per_column.join(", ")
        );
    }

    let n_samples = args.samples as usize;
    let m = (args.max_obs as usize).min(x.nrows());
    let mut rows: Vec<usize> = (0..x.nrows()).collect();
    rows.shuffle(&mut rng);
    rows.truncate(m);
    let posteriors = posterior(net, &y_std.select_rows(&rows), n_samples, &mut rng)?;
    let calibration = calibration_error(
        &posteriors,
        &x_std.select_rows(&rows),
        &calibration_levels(20),
    )?;
    let per_dim: Vec<String> = meta
        .x_names
        .iter()
        .zip(&calibration.per_dim_error)
        .map(|(n, e)| format!("{n} {e:.3}"))
        .collect();
    println!(
        "posterior calibration error ({m} observations x {n_samples} samples; 0 is ideal): {:.3} ({})",
        calibration.error,
        per_dim.join(", ")
    );

    let groups = shared_observation_groups(&y);
    if groups.is_empty() {
        println!(
            "posterior MMD: skipped (no y value is shared by {MIN_GROUP_ROWS} or more test rows)"
        );
        return Ok(());
    }
    let (mut mmd_sum, mut base_sum) = (0.0, 0.0);
    let mut all_rows: Vec<usize> = (0..x.nrows()).collect();
    for group in &groups {
        let y_obs = y_std.select_rows(&group[..1]);
        let post = posterior(net, &y_obs, n_samples, &mut rng)?;
        let reference = x_std.select_rows(group);
        mmd_sum += posterior_mmd(&post[0], &reference, &INN_KERNEL_WIDTHS)?;
        all_rows.shuffle(&mut rng);
        let prior = x_std.select_rows(&all_rows[..n_samples.min(all_rows.len())]);
        base_sum += posterior_mmd(&prior, &reference, &INN_KERNEL_WIDTHS)?;
    }
    let k = groups.len() as f64;
    println!(
        "posterior MMD vs held-out x sharing a y ({} groups of >= {MIN_GROUP_ROWS} rows, standardised x): {:.4} (all test x instead of the posterior: {:.4})",
        groups.len(),
        mmd_sum / k,
        base_sum / k
    );
    Ok(())
}

/// For an ensemble, each member's mean log-density of the rows (data units), to compare with
/// the ensemble's.
fn print_members(
    net: &crate::model::Net,
    x_std: &DMatrix<f32>,
    y_std: Option<&DMatrix<f32>>,
    log_det: f64,
) -> Result {
    let Some(ensemble) = net.ensemble() else {
        return Ok(());
    };
    let mut each = Vec::with_capacity(ensemble.len());
    for member in ensemble.members() {
        if let Some(lp) = member.log_density(x_std, y_std) {
            each.push(format!("{:.4}", mean_f64(&lp?) - log_det));
        }
    }
    println!(
        "  of which each of the {} members alone: {}",
        ensemble.len(),
        each.join(", ")
    );
    Ok(())
}

/// Row indices of the (at most [`MAX_GROUPS`] largest) groups of at least [`MIN_GROUP_ROWS`]
/// rows whose y values are bit-for-bit equal, in order of first appearance within a size.
fn shared_observation_groups(y: &DMatrix<f64>) -> Vec<Vec<usize>> {
    let mut by_value: HashMap<Vec<u64>, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, row) in y.row_iter().enumerate() {
        let key: Vec<u64> = row.iter().map(|v| v.to_bits()).collect();
        let g = *by_value.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups.retain(|g| g.len() >= MIN_GROUP_ROWS);
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    groups.truncate(MAX_GROUPS);
    groups
}
