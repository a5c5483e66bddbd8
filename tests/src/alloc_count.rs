//! A global allocator that counts, for benchmarks and tests: the allocations one thread
//! makes while it asks (to prove a path allocates nothing), and the live heap bytes of
//! the whole process (to measure what a structure holds). Install it in the binary that
//! measures: `#[global_allocator] static A: CountingAllocator = CountingAllocator;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

/// The system allocator, counting `alloc` and `realloc` calls of counting threads and
/// the bytes live on the heap.
pub struct CountingAllocator;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// This thread's count, while it counts (`None` otherwise). Const-initialised and
    /// without a destructor, so reading it never allocates.
    static COUNT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Notes an allocation of `new` bytes in place of `old` ones.
fn note(old: usize, new: usize) {
    // `try_with`: the thread-local may be gone while a thread exits.
    let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
    LIVE_BYTES.fetch_add(new as isize - old as isize, Ordering::Relaxed);
}

// SAFETY: forwards every call to the system allocator unchanged and only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(0, layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(0, layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout.size(), new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` on this thread and returns its result with the number of allocations
/// (including reallocations) this thread made meanwhile. Only meaningful in a binary
/// whose global allocator is [`CountingAllocator`] (otherwise always 0). Not reentrant.
pub fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    COUNT.with(|c| c.set(Some(0)));
    let out = f();
    let n = COUNT.with(|c| c.replace(None)).unwrap_or(0);
    (out, n)
}

/// Bytes live on the heap of the whole process (all threads), as far as this allocator
/// has seen: only meaningful as a difference between two moments.
pub fn live_bytes() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}
