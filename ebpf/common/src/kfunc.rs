//! Calls from kernel programs to kernel functions (kfuncs), which aya 0.14 cannot
//! relocate: a program emits a placeholder instruction, and the agent writes the running
//! kernel's BTF id of the kfunc into it before loading (`collector/src/kernel/kfunc.rs`).
//!
//! Instructions are 8 bytes, little endian: opcode, registers (`src << 4 | dst`), a 16-bit
//! offset, a 32-bit immediate.

/// The placeholder of a call to `bpf_rdonly_cast(ptr, btf_id)`: `call` (opcode 0x85) with
/// source register 2 (`BPF_PSEUDO_KFUNC_CALL`) and the marker `Kote` as its immediate,
/// which the agent replaces with the kfunc's BTF id.
pub const RDONLY_CAST_CALL: u64 = 0x4b6f_7465_0000_2085;
/// What replaces the placeholder on a kernel without the kfunc (before 6.2): `r0 = 0`.
/// The kernel checks every call instruction's target at load, even on a path the
/// verifier never follows; the programs only take that path when a global says the
/// kfunc exists.
pub const R0_ZERO: u64 = 0x0000_0000_0000_00b7;
/// The kfunc's name in the kernel's BTF.
pub const RDONLY_CAST: &str = "bpf_rdonly_cast";

/// `call` with the kfunc's BTF id `id` in place of the placeholder.
pub const fn rdonly_cast_call(id: u32) -> u64 {
    (RDONLY_CAST_CALL & 0xffff_ffff) | ((id as u64) << 32)
}
