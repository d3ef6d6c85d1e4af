//! A per-thread cache of value buffers, so that tapes reuse memory instead of returning it to
//! the allocator after every training step or inference chunk.
//!
//! Why: glibc's `malloc` hands freed memory at the top of the heap back to the kernel once more
//! than its trim threshold (a few hundred KiB after its adaptive adjustment) is free, and every
//! page is faulted in again on the next use. A no-grad tape sampling 2048 rows from the
//! benchmark's config-A flow holds ≈ 200 MB; sampling 100 000 points spent two thirds of its
//! 2.9 s in page faults and `brk` (measured with `perf`; the same run took 0.82 s with glibc's
//! trimming switched off). Dropped tapes now give their buffers to this cache, and the largest
//! allocations of the forward pass (GEMM outputs, elementwise maps, concatenations) take from
//! it — PyTorch's caching allocator plays the same part.
//!
//! Buffers are kept per thread (rayon workers keep their own), bucketed by exact capacity, and
//! only from [`MIN_POOLED_LEN`] entries up; each thread keeps at most [`MAX_POOLED_BYTES`].
//! [`release_buffers`] empties the calling thread's cache.

use crate::Float;
use nalgebra::DMatrix;
use std::cell::RefCell;
use std::collections::HashMap;

/// Buffers shorter than this are left to the allocator (fast for small sizes, and never
/// trimmed one by one).
pub const MIN_POOLED_LEN: usize = 1 << 12;

/// Most bytes one thread's cache keeps; buffers beyond it are freed. The largest working sets
/// of the benchmark are ≈ 200 MB (a 2048-row sampling chunk of config A) and ≈ 250 MB (an INN
/// step at batch 1600).
pub const MAX_POOLED_BYTES: usize = 1 << 29;

/// Free buffers of one scalar type, by capacity.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Pool<T> {
    free: HashMap<usize, Vec<Vec<T>>>,
    bytes: usize,
}

impl<T> Pool<T> {
    fn take(&mut self, len: usize) -> Option<Vec<T>> {
        let v = self.free.get_mut(&len)?.pop()?;
        self.bytes -= len * std::mem::size_of::<T>();
        Some(v)
    }

    /// Keeps `v` (whose length is its capacity: every entry initialised) for reuse.
    fn give(&mut self, v: Vec<T>) {
        let cap = v.capacity();
        let size = cap * std::mem::size_of::<T>();
        if cap < MIN_POOLED_LEN || v.len() != cap || self.bytes + size > MAX_POOLED_BYTES {
            return;
        }
        self.bytes += size;
        self.free.entry(cap).or_default().push(v);
    }

    fn clear(&mut self) {
        self.free.clear();
        self.bytes = 0;
    }
}

thread_local! {
    static POOL_F32: RefCell<Pool<f32>> = RefCell::new(Pool::default());
    static POOL_F64: RefCell<Pool<f64>> = RefCell::new(Pool::default());
}

/// Access to the calling thread's pool of one scalar type (implemented for `f32`, `f64`). A
/// supertrait of [`Float`] that no one outside this crate can name or implement (the module is
/// private): the buffer cache is an implementation detail of the tape.
pub trait Pooled: Sized {
    /// Runs `f` on this thread's pool; `None` while the thread is being torn down.
    fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> Option<R>;
}

impl Pooled for f32 {
    fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> Option<R> {
        POOL_F32.try_with(|p| f(&mut p.borrow_mut())).ok()
    }
}

impl Pooled for f64 {
    fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> Option<R> {
        POOL_F64.try_with(|p| f(&mut p.borrow_mut())).ok()
    }
}

/// An empty vector with capacity exactly `len`, from the cache when one is free.
pub(crate) fn buffer<T: Float>(len: usize) -> Vec<T> {
    if len >= MIN_POOLED_LEN
        && let Some(mut v) = T::with_pool(|p| p.take(len)).flatten()
    {
        v.clear();
        return v;
    }
    Vec::with_capacity(len)
}

/// An `r × c` matrix for an output that is written whole before it is read (a GEMM with
/// `β = 0` on matrixmultiply's path, which never reads `C` then): a cached buffer keeps its
/// previous, initialised contents instead of being zeroed first; a fresh one is zeroed.
pub(crate) fn scratch<T: Float>(r: usize, c: usize) -> DMatrix<T> {
    let len = r * c;
    if len >= MIN_POOLED_LEN
        && let Some(v) = T::with_pool(|p| p.take(len)).flatten()
    {
        return DMatrix::from_vec(r, c, v);
    }
    DMatrix::zeros(r, c)
}

/// An `r × c` matrix of zeros in a cached buffer.
pub(crate) fn zeros<T: Float>(r: usize, c: usize) -> DMatrix<T> {
    let mut v = buffer(r * c);
    v.resize(r * c, T::zero());
    DMatrix::from_vec(r, c, v)
}

/// Columns `cols` of `m` (in that order, repeats allowed) as a new matrix in a cached buffer.
pub(crate) fn select_columns<T: Float>(
    m: &DMatrix<T>,
    cols: impl ExactSizeIterator<Item = usize>,
) -> DMatrix<T> {
    let n = m.nrows();
    let width = cols.len();
    let mut v = buffer(n * width);
    for j in cols {
        v.extend_from_slice(&m.as_slice()[j * n..(j + 1) * n]);
    }
    DMatrix::from_vec(n, width, v)
}

/// Rows `start..start + len` of `m` as a new matrix in a cached buffer.
pub(crate) fn rows<T: Float>(m: &DMatrix<T>, start: usize, len: usize) -> DMatrix<T> {
    let n = m.nrows();
    let mut v = buffer(len * m.ncols());
    for col in m.as_slice().chunks_exact(n.max(1)) {
        v.extend_from_slice(&col[start..start + len]);
    }
    DMatrix::from_vec(len, m.ncols(), v)
}

/// A copy of `m` in a cached buffer.
pub(crate) fn copy<T: Float>(m: &DMatrix<T>) -> DMatrix<T> {
    select_columns(m, 0..m.ncols())
}

/// Gives a matrix's buffer to the calling thread's cache.
pub(crate) fn recycle<T: Float>(m: DMatrix<T>) {
    if m.len() >= MIN_POOLED_LEN {
        let v: Vec<T> = m.data.into();
        T::with_pool(|p| p.give(v));
    }
}

/// Gives the buffers of matrices produced on rayon's worker threads (a data-parallel step's
/// gradients) back to the caches of the workers that produced them, instead of freeing them
/// on the calling thread: each worker allocates the same sizes again in the next step, and a
/// freed large buffer comes back from the kernel page by page (config B's step, 8.4 M
/// parameters, ran 4 % faster with glibc's trimming and `mmap` switched off). Each set is
/// `(owner, matrices)` with the owner's `rayon::current_thread_index()`; sets without an owner,
/// and everything when called on a worker or without a pool of at least two threads, are
/// dropped. Handing buffers to whichever worker is free instead let one worker's cache fill
/// to its cap while the other allocated afresh (config C's peak memory 133 → 666 MB).
pub fn return_to_workers<T: Float>(sets: Vec<(Option<usize>, Vec<DMatrix<T>>)>) {
    use std::sync::Mutex;
    let threads = rayon::current_num_threads();
    if rayon::current_thread_index().is_some() || threads < 2 {
        return;
    }
    let slots: Vec<Mutex<Vec<DMatrix<T>>>> = (0..threads).map(|_| Mutex::default()).collect();
    let mut any = false;
    for (owner, set) in sets {
        if let Some(slot) = owner.and_then(|i| slots.get(i)) {
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.extend(set.into_iter().filter(|m| m.len() >= MIN_POOLED_LEN));
            any |= !slot.is_empty();
        }
    }
    if any {
        rayon::broadcast(|ctx| {
            if let Some(slot) = slots.get(ctx.index()) {
                let mine = std::mem::take(&mut *slot.lock().unwrap_or_else(|e| e.into_inner()));
                mine.into_iter().for_each(recycle);
            }
        });
    }
}

/// Frees every buffer the calling thread's cache holds (both scalar types). Tapes made after
/// it allocate afresh.
///
/// ```
/// autodiff::release_buffers();
/// assert_eq!(autodiff::cached_bytes(), 0);
/// ```
pub fn release_buffers() {
    f32::with_pool(Pool::clear);
    f64::with_pool(Pool::clear);
}

/// Bytes the calling thread's cache holds (both scalar types).
pub fn cached_bytes() -> usize {
    f32::with_pool(|p| p.bytes).unwrap_or(0) + f64::with_pool(|p| p.bytes).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_by_capacity_and_capped() {
        release_buffers();
        let m = zeros::<f64>(MIN_POOLED_LEN, 2);
        let ptr = m.as_slice().as_ptr();
        recycle(m);
        assert_eq!(cached_bytes(), 2 * MIN_POOLED_LEN * 8);
        // Another shape with the same length reuses the buffer, zeroed.
        let again = zeros::<f64>(2, MIN_POOLED_LEN);
        assert_eq!(again.as_slice().as_ptr(), ptr);
        assert!(again.iter().all(|&v| v == 0.0));
        assert_eq!(cached_bytes(), 0);
        // Small buffers are not kept; f32 and f64 are separate.
        recycle(DMatrix::<f64>::zeros(3, 3));
        recycle(zeros::<f32>(MIN_POOLED_LEN, 1));
        assert_eq!(cached_bytes(), MIN_POOLED_LEN * 4);
        assert!(buffer::<f64>(MIN_POOLED_LEN).capacity() >= MIN_POOLED_LEN);
        release_buffers();
        assert_eq!(cached_bytes(), 0);
    }

    #[test]
    fn dropped_tapes_fill_the_cache_and_values_stay_right() {
        release_buffers();
        let x = DMatrix::from_fn(MIN_POOLED_LEN, 2, |i, j| (i + j) as f64);
        let first = {
            let tape = crate::Tape::new();
            let v = tape.var(x.clone());
            v.tanh().scale(2.0).to_matrix()
        };
        assert!(cached_bytes() > 0);
        let second = {
            let tape = crate::Tape::no_grad();
            let v = tape.constant(x.clone());
            v.tanh().scale(2.0).to_matrix()
        };
        assert_eq!(first, second);
        assert_eq!(first, x.map(|v| 2.0 * v.tanh()));
        release_buffers();
    }
}
