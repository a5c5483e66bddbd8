//! Whether the `file_open` exit program can read an open's arguments itself, from the
//! task's user registers as saved at syscall entry ([`SyscallRegs`]), so that no enter
//! program runs on any open.
//!
//! Contract: [`syscall_regs`] is valid only on x86_64, on Linux 6.1 or later, with the
//! argument registers in the BTF's `struct pt_regs`; anywhere else it says why not and the
//! enter programs keep the arguments. (`bpf_task_pt_regs` exists from 5.15; 6.1 is the
//! oldest kernel the matrix runs this way on, and a kernel of 5.15-6.0 is not trusted
//! untested with the BTF-pointer reads that come with it.)

use kotel_common::file_open::SyscallRegs;
use kotel_common::vfs::{span_start, FILE_SPAN};

use crate::kernel::btf::{Btf, BtfError};

/// The first kernel the exit reads the registers on (see the module's contract).
pub const FIRST_KERNEL: (u32, u32) = (6, 1);

/// The `struct pt_regs` members holding syscall arguments 0 to 3 (x86_64's syscall ABI:
/// `rdi, rsi, rdx, r10`; `rax` holds the return value at exit).
#[cfg(target_arch = "x86_64")]
const ARG_REGISTERS: Option<[&str; 4]> = Some(["di", "si", "dx", "r10"]);
#[cfg(not(target_arch = "x86_64"))]
const ARG_REGISTERS: Option<[&str; 4]> = None;

/// The syscall numbers of `openat`, `openat2`, `open` and `creat` (`u32::MAX`: none).
#[cfg(target_arch = "x86_64")]
const NUMBERS: [u32; 4] = [
    libc::SYS_openat as u32,
    libc::SYS_openat2 as u32,
    libc::SYS_open as u32,
    libc::SYS_creat as u32,
];
#[cfg(not(target_arch = "x86_64"))]
const NUMBERS: [u32; 4] = [u32::MAX; 4];

/// Where the exit finds the arguments on kernel `version` (`(major, minor)`) with `btf`;
/// why not when it cannot.
pub fn syscall_regs(btf: &Btf, version: (u32, u32)) -> Result<SyscallRegs, String> {
    if version < FIRST_KERNEL {
        return Err(format!(
            "Linux {}.{}: the exit reads the registers from 6.1 (bpf_task_pt_regs, 5.15+, \
             verified from 6.1)",
            version.0, version.1
        ));
    }
    let Some(names) = ARG_REGISTERS else {
        return Err("argument registers are only known for x86_64".into());
    };
    let mut args = [0u32; 4];
    for (slot, name) in args.iter_mut().zip(names) {
        *slot = btf
            .offset_of("pt_regs", &[name])
            .map_err(|e: BtfError| e.to_string())?;
    }
    let span = span_start(&args, FILE_SPAN)
        .ok_or_else(|| "pt_regs: the argument registers do not fit one read".to_string())?;
    Ok(SyscallRegs {
        valid: 1,
        span,
        args,
        numbers: NUMBERS,
    })
}

/// [`syscall_regs`] for the running kernel from its already-parsed (or failed) BTF:
/// [`SyscallRegs::UNKNOWN`] and why when it cannot.
pub fn of_running_kernel(
    btf: &Result<std::sync::Arc<Btf>, BtfError>,
) -> (SyscallRegs, Option<String>) {
    // `code()` is `major << 16 | minor << 8 | patch` (patch capped at 255).
    let version = aya::util::KernelVersion::current()
        .map(|v| (v.code() >> 16, (v.code() >> 8) & 0xff))
        .map_err(|e| format!("kernel version unknown: {e}"));
    let regs = btf
        .as_ref()
        .map_err(|e| format!("no kernel BTF: {e}"))
        .and_then(|b| syscall_regs(b, version?));
    match regs {
        Ok(r) => (r, None),
        Err(why) => (SyscallRegs::UNKNOWN, Some(why)),
    }
}

#[cfg(test)]
#[path = "regs_tests.rs"]
mod tests;
