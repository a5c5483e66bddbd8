//! Writes the running kernel's kfunc ids into a program object before it loads (see
//! `kotel_common::kfunc`: aya 0.14 does not relocate kfunc calls).
//!
//! Contract: [`patched`] returns the object with every `bpf_rdonly_cast` placeholder
//! replaced by a call to the kernel's `bpf_rdonly_cast` (its BTF id), or by `r0 = 0` where
//! the kernel has none; nothing else changes. A patched object is made once per object and
//! kfunc id and kept for the life of the process (aya loads from `&'static [u8]`).

use std::sync::Mutex;

use kotel_common::kfunc::{rdonly_cast_call, R0_ZERO, RDONLY_CAST_CALL};

/// `object` with every placeholder replaced (see the module's contract), and how many
/// there were.
pub fn patch(object: &[u8], rdonly_cast: Option<u32>) -> (Vec<u8>, usize) {
    let placeholder = RDONLY_CAST_CALL.to_le_bytes();
    let with = rdonly_cast.map_or(R0_ZERO, rdonly_cast_call).to_le_bytes();
    let mut out = object.to_vec();
    let mut count = 0;
    let mut at = 0;
    while at + 8 <= out.len() {
        if out[at..at + 8] == placeholder {
            out[at..at + 8].copy_from_slice(&with);
            count += 1;
            at += 8;
        } else {
            at += 1;
        }
    }
    (out, count)
}

/// Patched objects made so far: (the object's address, the kfunc id, the patched bytes).
type Made = Vec<(usize, Option<u32>, &'static [u8])>;
static MADE: Mutex<Made> = Mutex::new(Vec::new());

/// [`patch`]ed `object` for the kernel's `bpf_rdonly_cast` id (`None`: it has none), 8-byte
/// aligned like the embedded original; made once per object and id.
pub fn patched(object: &'static [u8], rdonly_cast: Option<u32>) -> &'static [u8] {
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let key = object.as_ptr() as usize;
    if let Some((_, _, bytes)) = made.iter().find(|m| m.0 == key && m.1 == rdonly_cast) {
        return bytes;
    }
    let (bytes, _) = patch(object, rdonly_cast);
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *word = u64::from_ne_bytes(b);
    }
    let words: &'static [u64] = Box::leak(words.into_boxed_slice());
    // SAFETY: the leaked words live for the rest of the process and hold `bytes.len()`
    // initialized bytes; u8 has no alignment requirement.
    let leaked = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), bytes.len()) };
    made.push((key, rdonly_cast, leaked));
    leaked
}

#[cfg(test)]
#[path = "kfunc_tests.rs"]
mod tests;
