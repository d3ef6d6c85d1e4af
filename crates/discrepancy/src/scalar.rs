//! Conversions between the generic scalar `T` (f32 or f64) and the `f64` accumulators.

use nalgebra::RealField;

/// `T → f64`, exact for `f32` and `f64`.
#[inline(always)]
pub(crate) fn to_f64<T: RealField + Copy>(v: T) -> f64 {
    v.to_subset_unchecked()
}

/// `f64 → T`, rounding to nearest for `f32`.
#[inline(always)]
pub(crate) fn from_f64<T: RealField + Copy>(v: f64) -> T {
    T::from_subset(&v)
}

/// Sums a slice in `f64` with eight independent accumulators, so the loop vectorises and
/// rounding error grows more slowly than with one running sum.
#[inline(always)]
pub(crate) fn sum_f64<T: RealField + Copy>(values: &[T]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += to_f64(v);
        }
    }
    let mut total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for &v in rest {
        total += to_f64(v);
    }
    total
}

/// `Σⱼ sⱼ·(c − oⱼ)` with sixteen independent accumulators, lane `i` taking the entries
/// `j ≡ i (mod 16)`, then added pairwise (a single running sum is one add per floating-point
/// latency and does not vectorise: the INN's fused MMD gradient spent most of its time there at
/// batch 1600). Sixteen lanes fill one AVX-512 `f32` vector; eight lanes were compiled into
/// shuffles of 4-wide vectors and ran 1.7× slower.
#[inline(always)]
pub(crate) fn dot_diff<T: RealField + Copy>(slope: &[T], others: &[T], c: T) -> T {
    const LANES: usize = 16;
    let len = slope.len().min(others.len());
    let done = len - len % LANES;
    let mut lanes = [T::zero(); LANES];
    for (s, o) in slope[..done]
        .chunks_exact(LANES)
        .zip(others[..done].chunks_exact(LANES))
    {
        // Fixed-size arrays, so the compiler sees whole vectors.
        let s: &[T; LANES] = s.try_into().expect("chunks_exact yields LANES entries");
        let o: &[T; LANES] = o.try_into().expect("chunks_exact yields LANES entries");
        for ((lane, &sv), &ov) in lanes.iter_mut().zip(s).zip(o) {
            *lane += sv * (c - ov);
        }
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        let (low, high) = lanes.split_at_mut(width);
        for (a, &b) in low.iter_mut().zip(&high[..width]) {
            *a += b;
        }
    }
    let mut total = lanes[0];
    for (&sv, &ov) in slope[done..len].iter().zip(&others[done..len]) {
        total += sv * (c - ov);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_and_sum_matches_naive() {
        assert_eq!(to_f64(0.1f32), f64::from(0.1f32));
        assert_eq!(from_f64::<f32>(0.1), 0.1f32);
        assert_eq!(from_f64::<f64>(0.1), 0.1);
        let v: Vec<f64> = (0..37).map(|i| f64::from(i) * 0.25).collect();
        let naive: f64 = v.iter().sum();
        assert_eq!(sum_f64(&v), naive);
        assert_eq!(sum_f64::<f32>(&[]), 0.0);
        for len in [0usize, 3, 8, 19] {
            let s: Vec<f64> = (0..len).map(|i| i as f64 * 0.5 - 2.0).collect();
            let o: Vec<f64> = (0..len).map(|i| (i * i) as f64 * 0.125).collect();
            let naive: f64 = s.iter().zip(&o).map(|(&a, &b)| a * (1.5 - b)).sum();
            assert!((dot_diff(&s, &o, 1.5) - naive).abs() <= 1e-12 * (1.0 + naive.abs()));
        }
    }
}
