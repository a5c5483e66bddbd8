//! Copying and zeroing map values in 8-byte words.
//!
//! A struct assignment between two map values (or into a ring-buffer record) is a copy
//! LLVM cannot prove free of overlap, so it calls `memmove`; zeroing an array calls
//! `memset`. On BPF both are byte loops (compiler-builtins), 8 instructions a byte: a
//! 72-byte owner copy costs ~600 instructions per run. These helpers copy and zero whole
//! words with volatile accesses, which LLVM keeps as they are: one load and one store per
//! 8 bytes.

use core::mem::{align_of, size_of};
use core::ptr::{read_volatile, write_volatile};

/// Copies `*src` into `*dst` word by word. `T` must be a multiple of 8 bytes and 8-byte
/// aligned (checked at compile time).
///
/// # Safety
/// `T` is plain data (`Copy`, every byte initialised: no padding read as a word).
#[inline(always)]
pub unsafe fn copy_words<T: Copy>(dst: &mut T, src: &T) {
    const { assert!(size_of::<T>() % 8 == 0 && align_of::<T>() >= 8) };
    let (d, s) = (
        (dst as *mut T).cast::<u64>(),
        (src as *const T).cast::<u64>(),
    );
    for i in 0..size_of::<T>() / 8 {
        // SAFETY: `i` words lie within both values, which are 8-byte aligned.
        unsafe { write_volatile(d.add(i), read_volatile(s.add(i))) };
    }
}

/// Zeroes `*dst` word by word (same requirements as [`copy_words`]).
///
/// # Safety
/// All-zero bytes are a valid `T` (true of every map value kotel has).
#[inline(always)]
pub unsafe fn zero_words<T: Copy>(dst: &mut T) {
    const { assert!(size_of::<T>() % 8 == 0 && align_of::<T>() >= 8) };
    let d = (dst as *mut T).cast::<u64>();
    for i in 0..size_of::<T>() / 8 {
        // SAFETY: `i` words lie within the value, which is 8-byte aligned.
        unsafe { write_volatile(d.add(i), 0) };
    }
}

/// Copies 16 bytes (a task name, an address) from `src` to `dst` as two words.
///
/// # Safety
/// Both arrays start at 8-byte aligned addresses (every such field of kotel's records and
/// map values does): the verifier refuses misaligned stack accesses, and misaligned word
/// accesses are undefined behaviour in Rust.
#[inline(always)]
pub unsafe fn copy_16(dst: &mut [u8; 16], src: &[u8; 16]) {
    let (d, s) = (dst.as_mut_ptr().cast::<u64>(), src.as_ptr().cast::<u64>());
    // SAFETY: 16 bytes each, 8-byte aligned (the caller's promise).
    unsafe {
        write_volatile(d, read_volatile(s));
        write_volatile(d.add(1), read_volatile(s.add(1)));
    }
}

/// Adds `delta` to `*target` atomically (BPF `lock xadd`, which every kernel's BPF has; the
/// old value is not fetched). Wrapping: `u64::MAX` subtracts one.
///
/// # Safety
/// `target` must point at a naturally aligned u64 in a map value the program may write.
#[inline(always)]
pub unsafe fn atomic_add(target: *mut u64, delta: u64) {
    // SAFETY: the caller's contract; the instruction reads and writes `*target` only.
    unsafe {
        core::arch::asm!(
            "lock *(u64 *)({target} + 0) += {delta}",
            target = in(reg) target,
            delta = in(reg) delta,
            options(nostack),
        );
    }
}

/// `value & mask`, as one BPF `and` the compiler cannot drop or move: where LLVM can prove
/// a bound the verifier cannot (from comparisons it folded away), this is the bound the
/// verifier sees, unsigned and signed, on every kernel.
#[inline(always)]
pub fn masked(value: u64, mask: u64) -> u64 {
    let mut v = value;
    // SAFETY: arithmetic on a register only.
    unsafe {
        core::arch::asm!(
            "{v} &= {m}",
            v = inout(reg) v,
            m = in(reg) mask,
            options(pure, nomem, nostack),
        );
    }
    v
}
