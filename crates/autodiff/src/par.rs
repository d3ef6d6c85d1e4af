//! Whole-model elementwise passes (gradient sums, parameter copies, finiteness checks,
//! optimizer updates) across rayon's threads.
//!
//! Between two data-parallel training steps these passes are a serial stretch: on a 2-D flow
//! with 540 000 parameters (the benchmark's config A, 2 cores) summing the shards' gradients,
//! checking them, saving the previous parameters and the Adam update took 0.75 ms of a 9 ms
//! step, with the second core idle. Large passes are cut into chunks of [`CHUNK`] scalars and
//! spread over the threads; small ones, and any pass issued from a rayon worker (already one
//! of several parallel tasks), stay on the calling thread. Every scalar is handled on its own,
//! so results do not depend on the split.

use crate::Float;
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Scalars per unit of parallel work.
pub const CHUNK: usize = 1 << 14;

/// Passes over fewer scalars than this stay on the calling thread.
pub const MIN_SCALARS: usize = 1 << 16;

/// Whether a pass over `scalars` scalars is spread over rayon's threads.
pub fn splits(scalars: usize) -> bool {
    scalars >= MIN_SCALARS
        && rayon::current_num_threads() > 1
        && rayon::current_thread_index().is_none()
}

/// Runs `f` on every item, in parallel when [`splits`]`(scalars)`.
pub fn for_each<C: Send>(scalars: usize, items: &mut [C], f: impl Fn(&mut C) + Sync + Send) {
    if splits(scalars) {
        items.par_iter_mut().for_each(f);
    } else {
        items.iter_mut().for_each(f);
    }
}

fn scalars<T: Float>(m: &[DMatrix<T>]) -> usize {
    m.iter().map(DMatrix::len).sum()
}

/// `f(dst_chunk, src_chunk)` over matching chunks of `(destination, source)` slice pairs of
/// equal lengths (the caller checks them; a longer side's extra entries are ignored).
pub fn zip_with<'a, T: Float>(
    pairs: impl IntoIterator<Item = (&'a mut [T], &'a [T])>,
    f: impl Fn(&mut [T], &[T]) + Sync + Send,
) {
    let mut n = 0;
    let mut chunks: Vec<(&mut [T], &[T])> = pairs
        .into_iter()
        .flat_map(|(d, s)| {
            n += d.len();
            d.chunks_mut(CHUNK).zip(s.chunks(CHUNK))
        })
        .collect();
    for_each(n, &mut chunks, |(d, s)| f(d, s));
}

/// `dst[i] += src[i]` for every matrix (equal shapes; the caller checks them).
pub fn add_assign<T: Float>(dst: &mut [DMatrix<T>], src: &[DMatrix<T>]) {
    let pairs = dst
        .iter_mut()
        .zip(src)
        .map(|(d, s)| (d.as_mut_slice(), s.as_slice()));
    zip_with(pairs, |d, s| crate::simd::add_assign(d, s));
}

/// Whether every entry of every matrix is finite.
pub fn all_finite<T: Float>(m: &[DMatrix<T>]) -> bool {
    if splits(scalars(m)) {
        m.par_iter()
            .flat_map_iter(|x| x.as_slice().chunks(CHUNK))
            .all(crate::all_finite)
    } else {
        m.iter().all(|x| crate::all_finite(x.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_passes_match_serial_ones() {
        let sizes = [(300, 300), (1, 7), (129, 513), (0, 4)];
        let a: Vec<DMatrix<f32>> = sizes
            .iter()
            .map(|&(r, c)| DMatrix::from_fn(r, c, |i, j| (i * 3 + j) as f32 * 0.5))
            .collect();
        let b: Vec<DMatrix<f32>> = sizes
            .iter()
            .map(|&(r, c)| DMatrix::from_fn(r, c, |i, j| (i + 7 * j) as f32 * 0.25))
            .collect();
        assert!(splits(scalars(&a)) || rayon::current_num_threads() == 1);
        let mut sum = a.clone();
        add_assign(&mut sum, &b);
        for ((s, x), y) in sum.iter().zip(&a).zip(&b) {
            assert_eq!(s, &(x + y));
        }
        // The same pass on a rayon worker runs serially and agrees.
        let mut on_worker = a.clone();
        rayon::scope(|_| add_assign(&mut on_worker, &b));
        assert_eq!(on_worker, sum);
        assert!(all_finite(&sum));
        sum[2][(128, 512)] = f32::NAN;
        assert!(!all_finite(&sum));
        sum[2][(128, 512)] = f32::INFINITY;
        assert!(!all_finite(&sum));
        let mut copy = b.clone();
        let pairs = copy
            .iter_mut()
            .zip(&a)
            .map(|(d, s)| (d.as_mut_slice(), s.as_slice()));
        zip_with(pairs, |d, s| d.copy_from_slice(s));
        assert_eq!(copy, a);
    }
}
