//! Unit tests across modules: hand-computed values, kernel laws, exact identities, the blocked
//! engine against dense loops, and the statistical behaviour of the estimators and the test.

use crate::kernel_sums::KernelSums;
use crate::prec::{F32_REL, F64_REORDER};
use crate::*;
use nalgebra::{DMatrix, RealField};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

/// A kernel and its `κ` written out independently.
type KernelCase<'a> = (&'a dyn Kernel<f64>, fn(f64) -> f64);

/// `[0, 1]` and `[0, 2]` on a line: squared distances XX {1}, YY {4}, XY {0, 4, 1, 1}.
fn tiny_1d() -> (DMatrix<f64>, DMatrix<f64>) {
    (
        DMatrix::from_row_slice(2, 1, &[0.0, 1.0]),
        DMatrix::from_row_slice(2, 1, &[0.0, 2.0]),
    )
}

/// Closed-form estimates on [`tiny_1d`] for a kernel given by `κ` on squared distances:
/// `(biased, unbiased)`, written out term by term.
fn tiny_1d_expected(kappa: impl Fn(f64) -> f64) -> (f64, f64) {
    let k0 = kappa(0.0);
    let s_xx = 2.0 * kappa(1.0);
    let s_yy = 2.0 * kappa(4.0);
    let s_xy = kappa(0.0) + kappa(4.0) + kappa(1.0) + kappa(1.0);
    let biased = (s_xx + 2.0 * k0) / 4.0 + (s_yy + 2.0 * k0) / 4.0 - 2.0 * s_xy / 4.0;
    let unbiased = s_xx / 2.0 + s_yy / 2.0 - 2.0 * s_xy / 4.0;
    (biased, unbiased)
}

#[test]
fn hand_computed_imq_values_on_two_points() {
    // IMQ h = 1: κ(0) = 1, κ(1) = 1/2, κ(4) = 1/5. S_XX = 1, S_YY = 2/5, S_XY = 2.2.
    // biased = 3/4 + 2.4/4 − 1.1 = 0.25; unbiased = 1/2 + 1/5 − 1.1 = −0.4 (negative: normal).
    let (x, y) = tiny_1d();
    let k = InverseMultiquadric::new(1.0).unwrap();
    assert!((mmd2_biased(&x, &y, &k).unwrap() - 0.25).abs() < 1e-15);
    assert!((mmd2_unbiased(&x, &y, &k).unwrap() + 0.4).abs() < 1e-15);
}

#[test]
fn hand_computed_values_for_every_kernel() {
    let (x, y) = tiny_1d();
    let gaussian = Gaussian::new(1.0).unwrap();
    let imq = InverseMultiquadric::new(0.5).unwrap();
    let laplace = Laplace::new(2.0).unwrap();
    let multi = MultiScale::<InverseMultiquadric<f64>>::from_widths(&[0.5, 1.0, 2.0]).unwrap();
    let cases: [KernelCase<'_>; 4] = [
        // Gaussian σ = 1: exp(−d²/2).
        (&gaussian, |d2| (-d2 / 2.0).exp()),
        // IMQ h = 0.5: 0.25/(0.25 + d²).
        (&imq, |d2| 0.25 / (0.25 + d2)),
        // Laplace h = 2: exp(−d/2).
        (&laplace, |d2| (-d2.sqrt() / 2.0).exp()),
        // IMQ at h = 0.5, 1, 2 summed.
        (&multi, |d2| {
            0.25 / (0.25 + d2) + 1.0 / (1.0 + d2) + 4.0 / (4.0 + d2)
        }),
    ];
    for (kernel, kappa) in cases {
        let (biased, unbiased) = tiny_1d_expected(kappa);
        assert!((mmd2_biased(&x, &y, kernel).unwrap() - biased).abs() < 1e-14);
        assert!((mmd2_unbiased(&x, &y, kernel).unwrap() - unbiased).abs() < 1e-14);
    }
}

#[test]
fn hand_computed_kernel_values() {
    let x = [1.0, 2.0];
    let y = [4.0, 6.0]; // ‖x − y‖² = 25
    let g = Gaussian::new(5.0).unwrap();
    assert!((g.eval(&x, &y).unwrap() - (-0.5f64).exp()).abs() < 1e-15);
    let imq = InverseMultiquadric::new(5.0).unwrap();
    assert!((imq.eval(&x, &y).unwrap() - 0.5).abs() < 1e-15);
    let lap = Laplace::new(5.0).unwrap();
    assert!((lap.eval(&x, &y).unwrap() - (-1.0f64).exp()).abs() < 1e-15);
    let inn = MultiScale::<InverseMultiquadric<f64>>::inn_default();
    let expected = [0.05, 0.2, 0.9]
        .iter()
        .map(|h: &f64| h * h / (h * h + 25.0))
        .sum::<f64>();
    assert!((inn.eval(&x, &y).unwrap() - expected).abs() < 1e-15);
    assert_eq!(inn.widths::<f64>(), vec![0.05, 0.2, 0.9]);
    assert_eq!(inn.diagonal(), 3.0);
    assert_eq!(
        g.eval(&x, &[1.0]),
        Err(Error::LengthMismatch { x_len: 2, y_len: 1 })
    );
}

/// Law checker for [`Kernel`]: symmetry, `k(x,x) = κ(0)`, `0 < κ ≤ κ(0)`, the batch form equal
/// to the scalar form, and a positive semi-definite Gram matrix, on the given points (rows).
fn check_kernel_laws<K: Kernel<f64>>(kernel: &K, points: &DMatrix<f64>) {
    let n = points.nrows();
    let row = |i: usize| points.row(i).iter().copied().collect::<Vec<f64>>();
    let k0 = kernel.diagonal();
    assert_eq!(k0, kernel.eval_sq(0.0));
    let mut gram = DMatrix::zeros(n, n);
    for i in 0..n {
        for j in 0..n {
            let kij = kernel.eval(&row(i), &row(j)).unwrap();
            assert_eq!(kij, kernel.eval(&row(j), &row(i)).unwrap(), "symmetry");
            assert!(kij > 0.0 && kij <= k0 * (1.0 + 1e-15), "bounds");
            gram[(i, j)] = kij;
        }
        assert!((gram[(i, i)] - k0).abs() <= 1e-15 * k0);
    }
    let min_eig = gram.symmetric_eigenvalues().min();
    assert!(
        min_eig > -1e-10 * k0 * n as f64,
        "PSD: min eigenvalue {min_eig}"
    );
    let d2: Vec<f64> = (0..50).map(|i| (i as f64 * 0.37).powi(2)).collect();
    let mut out = vec![1.0; d2.len()];
    kernel.accumulate_sq(&d2, &mut out);
    for (o, &r) in out.iter().zip(&d2) {
        assert!((o - 1.0 - kernel.eval_sq(r)).abs() < 1e-15);
    }
}

#[test]
fn every_kernel_satisfies_the_kernel_laws() {
    let mut rng = StdRng::seed_from_u64(11);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let points = DMatrix::from_fn(30, 3, |_, _| normal.sample(&mut rng));
    check_kernel_laws(&Gaussian::new(0.7).unwrap(), &points);
    check_kernel_laws(&InverseMultiquadric::new(0.3).unwrap(), &points);
    check_kernel_laws(&Laplace::new(1.3).unwrap(), &points);
    check_kernel_laws(
        &MultiScale::<InverseMultiquadric<f64>>::inn_default(),
        &points,
    );
    check_kernel_laws(
        &MultiScale::<Gaussian<f64>>::from_widths(&[0.1, 1.0, 10.0]).unwrap(),
        &points,
    );
}

#[test]
fn invalid_widths_name_their_index() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300] {
        assert!(matches!(
            Gaussian::new(bad),
            Err(Error::InvalidWidth { index: 0, .. })
        ));
        assert!(matches!(
            InverseMultiquadric::new(bad),
            Err(Error::InvalidWidth { index: 0, .. })
        ));
    }
    assert!(matches!(
        Laplace::new(-2.0f32),
        Err(Error::InvalidWidth { .. })
    ));
    assert!(matches!(
        Laplace::new(f64::MIN_POSITIVE / 4.0),
        Err(Error::InvalidWidth { .. })
    ));
    assert_eq!(
        MultiScale::<InverseMultiquadric<f64>>::from_widths(&[0.1, 0.2, -0.5]),
        Err(Error::InvalidWidth {
            index: 2,
            value: -0.5
        })
    );
    assert_eq!(
        MultiScale::<Laplace<f32>>::from_widths(&[]),
        Err(Error::NoWidths)
    );
    assert_eq!(
        MultiScale::<Laplace<f64>>::new(vec![]),
        Err(Error::NoWidths)
    );
}

#[test]
fn estimators_reject_bad_inputs() {
    let k = Gaussian::new(1.0).unwrap();
    let x = DMatrix::<f64>::zeros(3, 2);
    assert_eq!(
        mmd2_biased(&x, &DMatrix::zeros(3, 4), &k),
        Err(Error::DimensionMismatch {
            x_cols: 2,
            y_cols: 4
        })
    );
    assert_eq!(
        mmd2_biased(&DMatrix::zeros(0, 2), &x, &k),
        Err(Error::TooFewSamples {
            sample: Sample::X,
            rows: 0,
            needed: 1
        })
    );
    assert!(mmd2_biased(&x, &DMatrix::zeros(1, 2), &k).is_ok());
    assert_eq!(
        mmd2_unbiased(&x, &DMatrix::zeros(1, 2), &k),
        Err(Error::TooFewSamples {
            sample: Sample::Y,
            rows: 1,
            needed: 2
        })
    );
    let mut bad = DMatrix::<f64>::zeros(6, 2);
    bad[(4, 1)] = f64::NEG_INFINITY;
    bad[(5, 0)] = f64::NAN;
    assert_eq!(
        mmd2_unbiased(&bad, &x, &k),
        Err(Error::NonFinite {
            sample: Sample::X,
            row: 4
        })
    );
    assert_eq!(
        mmd2_linear(&x, &bad, &k),
        Err(Error::UnequalSampleSizes { n: 3, m: 6 })
    );
    assert_eq!(
        mmd2_linear(&x, &x, &k),
        Err(Error::TooFewSamples {
            sample: Sample::X,
            rows: 3,
            needed: 4
        })
    );
}

/// Dense reference with plain loops: `(S_XX off-diagonal, S_YY off-diagonal, S_XY)`.
fn naive_sums(x: &DMatrix<f64>, y: &DMatrix<f64>, kappa: impl Fn(f64) -> f64) -> [f64; 3] {
    let d2 = |a: &DMatrix<f64>, i: usize, b: &DMatrix<f64>, j: usize| {
        (0..a.ncols())
            .map(|c| (a[(i, c)] - b[(j, c)]).powi(2))
            .sum::<f64>()
    };
    let within = |a: &DMatrix<f64>| {
        let mut s = 0.0;
        for i in 0..a.nrows() {
            for j in 0..a.nrows() {
                if i != j {
                    s += kappa(d2(a, i, a, j));
                }
            }
        }
        s
    };
    let mut cross = 0.0;
    for i in 0..x.nrows() {
        for j in 0..y.nrows() {
            cross += kappa(d2(x, i, y, j));
        }
    }
    [within(x), within(y), cross]
}

fn gaussian_sample(rows: usize, cols: usize, sd: f64, rng: &mut StdRng) -> DMatrix<f64> {
    let normal = Normal::new(0.0, sd).unwrap();
    DMatrix::from_fn(rows, cols, |_, _| normal.sample(rng))
}

#[test]
fn tiny_samples_match_independent_loops_in_2d() {
    // 3 and 4 points in 2-D, every kernel, against the naive loops above.
    let x = DMatrix::from_row_slice(3, 2, &[0.0, 0.0, 1.0, 0.5, -0.5, 2.0]);
    let y = DMatrix::from_row_slice(4, 2, &[1.0, 1.0, 0.0, -1.0, 2.0, 0.0, 0.3, 0.3]);
    let multi = MultiScale::<InverseMultiquadric<f64>>::inn_default();
    let gaussian = Gaussian::new(0.8).unwrap();
    let laplace = Laplace::new(0.6).unwrap();
    let imq = InverseMultiquadric::new(1.5).unwrap();
    let kernels: [KernelCase<'_>; 4] = [
        (&multi, |r| {
            [0.05f64, 0.2, 0.9]
                .iter()
                .map(|h| h * h / (h * h + r))
                .sum()
        }),
        (&gaussian, |r| (-r / (2.0 * 0.64)).exp()),
        (&laplace, |r| (-r.sqrt() / 0.6).exp()),
        (&imq, |r| 2.25 / (2.25 + r)),
    ];
    for (kernel, kappa) in kernels {
        let [s_xx, s_yy, s_xy] = naive_sums(&x, &y, kappa);
        let k0 = kappa(0.0);
        let biased = (s_xx + 3.0 * k0) / 9.0 + (s_yy + 4.0 * k0) / 16.0 - 2.0 * s_xy / 12.0;
        let unbiased = s_xx / 6.0 + s_yy / 12.0 - 2.0 * s_xy / 12.0;
        assert!((mmd2_biased(&x, &y, kernel).unwrap() - biased).abs() < F64_REORDER);
        assert!((mmd2_unbiased(&x, &y, kernel).unwrap() - unbiased).abs() < F64_REORDER);
        // Linear time needs n = m: X with a fourth point.
        let x4 = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 1.0, 0.5, -0.5, 2.0, 0.1, 0.1]);
        let y4 = y.clone();
        let d2 = |a: &DMatrix<f64>, i: usize, b: &DMatrix<f64>, j: usize| {
            (0..2).map(|c| (a[(i, c)] - b[(j, c)]).powi(2)).sum::<f64>()
        };
        let h = |i: usize| {
            let (a, b) = (2 * i, 2 * i + 1);
            kappa(d2(&x4, a, &x4, b)) + kappa(d2(&y4, a, &y4, b))
                - kappa(d2(&x4, a, &y4, b))
                - kappa(d2(&x4, b, &y4, a))
        };
        let (h0, h1) = (h(0), h(1));
        let linear = mmd2_linear(&x4, &y4, kernel).unwrap();
        assert!((linear.statistic - (h0 + h1) / 2.0).abs() < 1e-14);
        let var = ((h0 - (h0 + h1) / 2.0).powi(2) + (h1 - (h0 + h1) / 2.0).powi(2)) / 2.0;
        assert!((linear.variance - var).abs() < 1e-14);
    }
}

#[test]
fn hand_computed_linear_time_statistic() {
    // IMQ h = 1, X = [0, 1, 0, 3], Y = [2, 2, 1, 1]:
    // h₀ = κ(1) + κ(0) − κ(4) − κ(1) = ½ + 1 − ⅕ − ½ = 0.8,
    // h₁ = κ(9) + κ(0) − κ(1) − κ(4) = 0.1 + 1 − ½ − ⅕ = 0.4.
    // Statistic 0.6, sample variance 0.08, variance of the mean 0.04, z = 3.
    let x = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 0.0, 3.0]);
    let y = DMatrix::from_row_slice(4, 1, &[2.0, 2.0, 1.0, 1.0]);
    let t = mmd2_linear(&x, &y, &InverseMultiquadric::new(1.0).unwrap()).unwrap();
    assert_eq!(t.pairs, 2);
    assert!((t.statistic - 0.6).abs() < 1e-15);
    assert!((t.variance - 0.04).abs() < 1e-15);
    assert!((t.p_value - 0.001_349_898_031_630_094_5).abs() < 1e-12);
    // Odd n: the last row is left out.
    let x5 = x.clone().insert_row(4, 7.0);
    let y5 = y.clone().insert_row(4, -7.0);
    let t5 = mmd2_linear(&x5, &y5, &InverseMultiquadric::new(1.0).unwrap()).unwrap();
    assert_eq!(t5, t);
}

#[test]
fn linear_time_detects_a_mean_shift_and_not_equality() {
    let mut rng = StdRng::seed_from_u64(3);
    let k = Gaussian::new(1.0).unwrap();
    let x = gaussian_sample(4000, 2, 1.0, &mut rng);
    let y = gaussian_sample(4000, 2, 1.0, &mut rng).add_scalar(0.5);
    let shifted = mmd2_linear(&x, &y, &k).unwrap();
    assert!(shifted.p_value < 1e-4, "{shifted:?}");
    let z = gaussian_sample(4000, 2, 1.0, &mut rng);
    let same = mmd2_linear(&x, &z, &k).unwrap();
    assert!(same.p_value > 0.01, "{same:?}");
}

#[test]
fn biased_equals_unbiased_plus_diagonal_correction() {
    // biased − unbiased = (κ(0) − S_XX/(n(n−1)))/n + (κ(0) − S_YY/(m(m−1)))/m, exactly.
    let mut rng = StdRng::seed_from_u64(5);
    let x = gaussian_sample(37, 3, 1.0, &mut rng);
    let y = gaussian_sample(23, 3, 1.3, &mut rng);
    let sigma = 1.1;
    let kappa = |r: f64| (-r / (2.0 * sigma * sigma)).exp();
    let k = Gaussian::new(sigma).unwrap();
    let [s_xx, s_yy, _] = naive_sums(&x, &y, kappa);
    let (n, m) = (37.0, 23.0);
    let correction = (1.0 - s_xx / (n * (n - 1.0))) / n + (1.0 - s_yy / (m * (m - 1.0))) / m;
    let biased = mmd2_biased(&x, &y, &k).unwrap();
    let unbiased = mmd2_unbiased(&x, &y, &k).unwrap();
    assert!((biased - (unbiased + correction)).abs() < F64_REORDER);
    assert!(correction > 0.0);
}

#[test]
fn biased_mmd_of_a_sample_with_itself_is_zero() {
    let mut rng = StdRng::seed_from_u64(6);
    let x = gaussian_sample(300, 4, 1.0, &mut rng);
    let multi = MultiScale::<InverseMultiquadric<f64>>::inn_default();
    assert!(mmd2_biased(&x, &x, &multi).unwrap().abs() < 1e-13);
    // Laplace takes √d², so the GEMM round-off ε‖x‖² on the XY diagonal becomes a distance of
    // ≈ √ε‖x‖ ≈ 4e-8 and a bias of ≈ 2·4e-8/(h n) ≈ 1.3e-10 here.
    assert!(
        mmd2_biased(&x, &x, &Laplace::new(2.0).unwrap())
            .unwrap()
            .abs()
            < 1e-9
    );
    let x32 = x.map(|v| v as f32);
    let multi32 = MultiScale::<InverseMultiquadric<f32>>::inn_default();
    assert!(mmd2_biased(&x32, &x32, &multi32).unwrap().abs() < 1e-6);
}

#[test]
fn blocked_sums_equal_dense_loops() {
    // Sizes that leave partial blocks, against the dense loops, for several block sizes
    // (1 exercises single-row tiles, 7 many small ones, 256 the default).
    let mut rng = StdRng::seed_from_u64(8);
    let x = gaussian_sample(700, 3, 1.0, &mut rng);
    let y = gaussian_sample(550, 3, 1.2, &mut rng);
    let multi = MultiScale::<InverseMultiquadric<f64>>::inn_default();
    let kappa = |r: f64| {
        [0.05f64, 0.2, 0.9]
            .iter()
            .map(|h| h * h / (h * h + r))
            .sum::<f64>()
    };
    let [s_xx, s_yy, s_xy] = naive_sums(&x, &y, kappa);
    for block in [7, 256] {
        let sums = KernelSums::compute_unchecked(&x, &y, &multi, block);
        for (got, want) in [
            (sums.sum_xx_off_diagonal(), s_xx),
            (sums.sum_yy_off_diagonal(), s_yy),
            (sums.sum_xy(), s_xy),
        ] {
            assert!(
                (got - want).abs() <= F64_REORDER * want,
                "block {block}: {got} vs {want}"
            );
        }
    }
    let small_x = x.rows(0, 40).into_owned();
    let small_y = y.rows(0, 30).into_owned();
    let [a, b, c] = naive_sums(&small_x, &small_y, kappa);
    let one = KernelSums::compute_unchecked(&small_x, &small_y, &multi, 1);
    assert!((one.sum_xx_off_diagonal() - a).abs() <= F64_REORDER * a);
    assert!((one.sum_yy_off_diagonal() - b).abs() <= F64_REORDER * b);
    assert!((one.sum_xy() - c).abs() <= F64_REORDER * c);
    // d = 8 takes nalgebra's matrixmultiply path (d > 5), d = 3 above its small-matrix loop.
    let x8 = gaussian_sample(300, 8, 1.0, &mut rng);
    let y8 = gaussian_sample(260, 8, 1.0, &mut rng);
    let g = Gaussian::new(2.0).unwrap();
    let [a, b, c] = naive_sums(&x8, &y8, |r| (-r / 8.0).exp());
    let sums = KernelSums::compute(&x8, &y8, &g).unwrap();
    assert!((sums.sum_xx_off_diagonal() - a).abs() <= F64_REORDER * a);
    assert!((sums.sum_yy_off_diagonal() - b).abs() <= F64_REORDER * b);
    assert!((sums.sum_xy() - c).abs() <= F64_REORDER * c);
}

#[test]
fn f32_sums_track_the_f64_reference() {
    let mut rng = StdRng::seed_from_u64(9);
    let x = gaussian_sample(400, 8, 1.0, &mut rng);
    let y = gaussian_sample(300, 8, 1.0, &mut rng);
    let (x32, y32) = (x.map(|v| v as f32), y.map(|v| v as f32));
    // Round the inputs to f32 first, so only the arithmetic differs.
    let (x64, y64) = (x32.map(f64::from), y32.map(f64::from));
    let widths = [0.5, 1.0, 2.0];
    let k32 = MultiScale::<InverseMultiquadric<f32>>::from_widths(&widths.map(|w| w as f32));
    let k64 = MultiScale::<InverseMultiquadric<f64>>::from_widths(&widths).unwrap();
    let s32 = KernelSums::compute(&x32, &y32, &k32.unwrap()).unwrap();
    let s64 = KernelSums::compute(&x64, &y64, &k64).unwrap();
    for (a, b) in [
        (s32.sum_xx_off_diagonal(), s64.sum_xx_off_diagonal()),
        (s32.sum_yy_off_diagonal(), s64.sum_yy_off_diagonal()),
        (s32.sum_xy(), s64.sum_xy()),
    ] {
        assert!((a - b).abs() <= F32_REL * b, "{a} vs {b}");
    }
}

#[test]
fn unbiased_estimator_averages_to_zero_under_the_null() {
    // 400 independent draws of MMD²_u between two samples of N(0, I₂): the mean must be within
    // 4 standard errors of 0. The biased estimator on the same draws must be clearly positive,
    // which shows the check can fail.
    let mut rng = StdRng::seed_from_u64(10);
    let k = Gaussian::new(1.0).unwrap();
    let (mut unbiased, mut biased) = (Vec::new(), Vec::new());
    for _ in 0..400 {
        let x = gaussian_sample(30, 2, 1.0, &mut rng);
        let y = gaussian_sample(30, 2, 1.0, &mut rng);
        unbiased.push(mmd2_unbiased(&x, &y, &k).unwrap());
        biased.push(mmd2_biased(&x, &y, &k).unwrap());
    }
    let mean_se = |v: &[f64]| {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, (var / n).sqrt())
    };
    let (mean_u, se_u) = mean_se(&unbiased);
    let (mean_b, se_b) = mean_se(&biased);
    println!(
        "MMD²_u under P = Q: mean {mean_u:.3e} ± {se_u:.3e}; MMD²_b mean {mean_b:.3e} ± {se_b:.3e}"
    );
    assert!(mean_u.abs() <= 4.0 * se_u);
    assert!(mean_b > 10.0 * se_b);
    assert!(unbiased.iter().any(|&v| v < 0.0));
}

/// Rejection rate at α = 0.05 of the permutation test (Gaussian kernel, median heuristic,
/// unbiased statistic, B = 100) over `reps` seeded repetitions of N(0,1)ⁿ vs N(0, sd²)ᵐ, d = 1.
fn rejection_rate(sd: f64, n: usize, reps: usize, seed: u64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let config = PermutationConfig::new(100).unwrap();
    let mut rejections = 0;
    for _ in 0..reps {
        let x = gaussian_sample(n, 1, 1.0, &mut rng);
        let y = gaussian_sample(n, 1, sd, &mut rng);
        let sigma = median_heuristic(&x, &y, &mut rng).unwrap();
        let kernel = Gaussian::new(sigma).unwrap();
        let test = permutation_test(&x, &y, &kernel, &config, &mut rng).unwrap();
        assert!(test.p_value >= 1.0 / 101.0 && test.p_value <= 1.0);
        if test.p_value <= 0.05 {
            rejections += 1;
        }
    }
    rejections as f64 / reps as f64
}

#[test]
fn permutation_test_power_and_false_positive_rate() {
    let reps = 40;
    let alpha: f64 = 0.05;
    let power = rejection_rate(1.5, 500, reps, 12);
    let false_positive = rejection_rate(1.0, 500, reps, 13);
    let se = (alpha * (1.0 - alpha) / reps as f64).sqrt();
    println!(
        "permutation test, n = m = 500, d = 1, B = 100, {reps} reps: power vs N(0,1.5²) = {power:.3}, \
         false-positive rate under P = Q = {false_positive:.3} (bound {:.3})",
        alpha + 3.0 * se
    );
    assert!(power >= 0.8, "power {power}");
    assert!(
        false_positive <= alpha + 3.0 * se,
        "false positives {false_positive}"
    );
}

#[test]
fn permutation_test_is_reproducible() {
    let mut rng = StdRng::seed_from_u64(14);
    let x = gaussian_sample(50, 2, 1.0, &mut rng);
    let y = gaussian_sample(60, 2, 1.2, &mut rng);
    let k = Gaussian::new(1.0).unwrap();
    let config = PermutationConfig::new(50).unwrap();
    let a = permutation_test(&x, &y, &k, &config, &mut StdRng::seed_from_u64(1)).unwrap();
    let b = permutation_test(&x, &y, &k, &config, &mut StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.permutations, 50);
    assert_eq!(a.p_value, (1 + a.exceedances) as f64 / 51.0);
}

fn generic_zero_check<T: RealField + Copy>(x: &DMatrix<T>, k: &impl Kernel<T>) -> f64 {
    mmd2_biased(x, x, k).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For random small samples: biased ≥ 0, biased(X, X) = 0, and the blocked sums equal the
    /// dense loops with a block size that forces several tiles.
    #[test]
    fn biased_is_nonnegative_and_blocked_matches_dense(
        xs in proptest::collection::vec(-3.0f64..3.0, 2 * 9),
        ys in proptest::collection::vec(-3.0f64..3.0, 2 * 6),
        width in 0.1f64..3.0,
    ) {
        let x = DMatrix::from_row_slice(9, 2, &xs);
        let y = DMatrix::from_row_slice(6, 2, &ys);
        let k = InverseMultiquadric::new(width).unwrap();
        let biased = mmd2_biased(&x, &y, &k).unwrap();
        prop_assert!(biased >= -1e-12);
        prop_assert!(generic_zero_check(&x, &k).abs() < 1e-12);
        let w2 = width * width;
        let [a, b, c] = naive_sums(&x, &y, |r| w2 / (w2 + r));
        let sums = KernelSums::compute_unchecked(&x, &y, &k, 4);
        prop_assert!((sums.sum_xx_off_diagonal() - a).abs() < F64_REORDER * (1.0 + a));
        prop_assert!((sums.sum_yy_off_diagonal() - b).abs() < F64_REORDER * (1.0 + b));
        prop_assert!((sums.sum_xy() - c).abs() < F64_REORDER * (1.0 + c));
    }
}
