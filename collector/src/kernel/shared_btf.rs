//! The running kernel's BTF, parsed once for everyone who needs it at the same time.
//!
//! Every kernel source reads offsets with kotel's own reader and loads its object with
//! aya's; the sources start together. Each parse of vmlinux BTF costs megabytes, so the
//! parsed forms are shared: a caller gets the copy another holds, or parses it (others
//! wait for that one parse). Once nobody holds a copy it is freed: nothing stays
//! resident after start-up.

use std::sync::{Arc, Mutex, Weak};

use crate::kernel::btf::{Btf, BtfError};

static OURS: Mutex<Weak<Btf>> = Mutex::new(Weak::new());
static AYA: Mutex<Weak<aya::Btf>> = Mutex::new(Weak::new());

/// kotel's reader over `/sys/kernel/btf/vmlinux`.
pub fn ours() -> Result<Arc<Btf>, BtfError> {
    shared(&OURS, Btf::from_sys_fs)
}

/// aya's parse of `/sys/kernel/btf/vmlinux`, for loading objects; `None` (logged by the
/// caller's fallbacks) when the kernel has none.
pub fn aya() -> Option<Arc<aya::Btf>> {
    shared(&AYA, aya::Btf::from_sys_fs).ok()
}

/// Gives the heap's freed memory back to the system. The parses are megabytes that the
/// allocator would otherwise keep after start-up; a source calls it once it is attached
/// and has dropped its copies. A no-op where the C library has no `malloc_trim`.
pub fn return_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The value `cell` holds, or a new one from `parse` (made under the lock, so concurrent
/// callers share one parse).
fn shared<T, E>(cell: &Mutex<Weak<T>>, parse: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
    let mut held = cell.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(value) = held.upgrade() {
        return Ok(value);
    }
    let value = Arc::new(parse()?);
    *held = Arc::downgrade(&value);
    Ok(value)
}

#[cfg(test)]
#[path = "shared_btf_tests.rs"]
mod tests;
