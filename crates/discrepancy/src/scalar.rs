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
#[inline]
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
    }
}
