//! The rational-quadratic spline coupling where its pieces meet: inputs exactly on the knots
//! (where the second derivative jumps), exactly at the bound ±B (where the spline meets the
//! identity tails) and outside it; and the inverse direction's log-det against the numerical
//! Jacobian of the inverse (through [`Inverted`]). The general laws on random batches run in
//! `bijector_laws.rs` (`spline_exact_laws`, `spline_log_det_matches_jacobian`,
//! `spline_gradients`).

use autodiff::Params;
use autodiff::nalgebra::DMatrix;
use bijectors::{Bijector, RqSpline, RqSplineConfig, SubnetConfig};
use inn_tests::blocks::{BlockKind, Inverted, build};
use inn_tests::laws;
use inn_tests::prec;
use inn_tests::strategies::{activation, block_case, hidden};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Where one entry of a knot batch sits.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// On knot `k` (0 and K are ±B); the index is reduced modulo K + 1.
    Knot(usize),
    /// Outside the bound by this much, with this sign.
    Outside(f64, bool),
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        4 => (0usize..=8).prop_map(Place::Knot),
        1 => (1e-9f64..=10.0, any::<bool>()).prop_map(|(o, neg)| Place::Outside(o, neg)),
    ]
}

/// A spline block whose subnets ignore their input (last layer's weights zeroed, biases
/// random), so its splines are the same for every sample and a batch can sit on the knots of
/// both halves at once.
fn constant_spline(
    dim: usize,
    bins: usize,
    bound: f64,
    hidden: &[usize],
    act: autodiff::nn::Activation,
    seed: u64,
) -> (RqSpline, Params<f64>) {
    let mut params = Params::new();
    let mut rng = StdRng::seed_from_u64(seed);
    let config = RqSplineConfig {
        bins,
        bound,
        ..RqSplineConfig::new(dim, SubnetConfig::new(hidden, act))
    };
    let block = RqSpline::new(&mut params, "s", &config, &mut rng).unwrap();
    let last = hidden.len();
    for net in ["net1", "net2"] {
        let w = params.id(&format!("s.{net}.{last}.weight")).unwrap();
        params.get_mut(w).fill(0.0);
        let b = params.id(&format!("s.{net}.{last}.bias")).unwrap();
        params
            .get_mut(b)
            .iter_mut()
            .for_each(|v| *v = rng.random_range(-2.0..=2.0));
    }
    (block, params)
}

/// The batch the places describe, on the knots `knots` (`1 × d(K + 1)`, coordinate by
/// coordinate) of a block with bound `bound`.
fn knot_batch(
    places: &[Vec<Place>],
    knots: &DMatrix<f64>,
    bins: usize,
    bound: f64,
) -> DMatrix<f64> {
    let d = places[0].len();
    DMatrix::from_fn(places.len(), d, |i, j| match places[i][j] {
        Place::Knot(k) => knots[(0, j * (bins + 1) + k % (bins + 1))],
        Place::Outside(o, neg) => {
            let v = bound + o;
            if neg { -v } else { v }
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// On the knots, at ±B and outside: round trip, inverse log-det, and the log-det against
    /// the numerical Jacobian in both directions (forward at knot positions, inverse at knot
    /// values); knots map onto knot values with log-det `Σ ln δ_k`.
    #[test]
    fn spline_laws_at_knots_and_bound(
        (dim, bins, bound) in (2usize..=6, 2usize..=8, 1.0f64..=4.0),
        hidden in hidden(),
        act in activation(true),
        seed in any::<u64>(),
        places in (2usize..=6).prop_flat_map(|d| proptest::collection::vec(proptest::collection::vec(place(), d), 1..=6)),
    ) {
        let d = dim.min(places[0].len()).max(2);
        let places: Vec<Vec<Place>> = places.iter().map(|r| {
            (0..d).map(|j| r[j % r.len()]).collect()
        }).collect();
        let (block, params) = constant_spline(d, bins, bound, &hidden, act, seed);
        let probe = DMatrix::zeros(1, d);
        let knots = block.knots(&params, &probe, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let x = knot_batch(&places, &knots.x, bins, bound);
        let y_at = knot_batch(&places, &knots.y, bins, bound);
        let (y, ld) = block.forward_matrix(&params, &x).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Entries on knots map onto the knot values, outside entries onto themselves.
        let err = (&y - &y_at).abs().max();
        prop_assert!(err <= 1e-12 * (1.0 + bound), "knots -> values off by {err:e}");
        for i in 0..x.nrows() {
            let expected: f64 = (0..d).map(|j| match places[i][j] {
                Place::Knot(k) => knots.derivative[(0, j * (bins + 1) + k % (bins + 1))].ln(),
                Place::Outside(..) => 0.0,
            }).sum();
            prop_assert!((ld[(i, 0)] - expected).abs() <= 1e-12 * (1.0 + expected.abs()),
                "sample {i}: log-det {} vs Σ ln δ = {expected}", ld[(i, 0)]);
        }
        let inverted = Inverted(Box::new(block.clone()));
        for (b, at) in [(&block as &dyn Bijector<f64>, &x), (&inverted, &y_at)] {
            laws::round_trip(b, &params, at, None).map_err(TestCaseError::fail)?;
            laws::inverse_log_det(b, &params, at, None).map_err(TestCaseError::fail)?;
            laws::log_det_matches_jacobian(b, &params, at, None).map_err(TestCaseError::fail)?;
        }
    }

    /// The inverse's log-det against the numerical Jacobian of the inverse, on random batches
    /// spanning 1e-3 to 1e3 (inside and outside the bound).
    #[test]
    fn spline_inverse_log_det_matches_jacobian(
        case in block_case(BlockKind::Spline, true, prec::MIN_EXP, prec::MAX_EXP)
    ) {
        let built = build(&case.configs[0], case.dim, case.cond_dim)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let inverted = Inverted(built.block);
        laws::log_det_matches_jacobian(&inverted, &built.params, &case.x, case.cond.as_ref())
            .map_err(TestCaseError::fail)?;
    }
}
