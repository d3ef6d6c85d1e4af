//! The pool's `return_to_workers` hands buffers back to the workers named as their owners. One test
//! in its own process, so that no other test's tapes touch the global pool's caches.

use autodiff::__return_to_workers as return_to_workers;
use autodiff::nalgebra::DMatrix;
use autodiff::{cached_bytes, release_buffers};

fn set(n: usize) -> Vec<DMatrix<f32>> {
    (0..n)
        .map(|i| DMatrix::from_element(64, 64 + i, 1.0))
        .chain([DMatrix::from_element(3, 3, 1.0)])
        .collect()
}

fn bytes(n: usize) -> usize {
    (0..n).map(|i| 64 * (64 + i) * 4).sum()
}

#[test]
fn gradients_go_back_to_the_workers_that_made_them() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .unwrap();
    rayon::broadcast(|_| release_buffers());
    // Small matrices and ownerless sets are dropped.
    return_to_workers(vec![(Some(0), set(3)), (Some(1), set(5)), (None, set(2))]);
    let cached: Vec<usize> = rayon::broadcast(|_| cached_bytes());
    assert_eq!(cached, vec![bytes(3), bytes(5)]);
    // Called on a worker: nothing is kept.
    rayon::scope(|_| return_to_workers(vec![(Some(0), set(4))]));
    let cached: Vec<usize> = rayon::broadcast(|_| cached_bytes());
    assert_eq!(cached, vec![bytes(3), bytes(5)]);
    // An owner beyond the pool is ignored.
    return_to_workers(vec![(Some(7), set(2))]);
    assert_eq!(
        rayon::broadcast(|_| cached_bytes()),
        vec![bytes(3), bytes(5)]
    );
    rayon::broadcast(|_| release_buffers());
    assert_eq!(rayon::broadcast(|_| cached_bytes()), vec![0, 0]);
}
