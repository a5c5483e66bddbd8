use super::*;

#[test]
fn kernels_before_6_1_keep_the_enter_programs() {
    let Ok(btf) = crate::kernel::shared_btf::ours() else {
        return; // no BTF on this machine: the version check is all there is
    };
    for old in [(5, 10), (5, 15), (6, 0)] {
        assert!(syscall_regs(&btf, old).is_err(), "{old:?}");
    }
    #[cfg(target_arch = "x86_64")]
    assert!(syscall_regs(&btf, (6, 1)).is_ok());
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x86_64_arguments_are_di_si_dx_r10_in_one_read() {
    let Ok(btf) = crate::kernel::shared_btf::ours() else {
        return; // no BTF on this machine
    };
    let r = syscall_regs(&btf, (6, 1)).expect("x86_64 pt_regs");
    // The uapi layout (asm/ptrace.h): r10 at 7 words, dx 12, si 13, di 14.
    assert_eq!(r.args, [112, 104, 96, 56]);
    assert_eq!(r.span, 56);
    assert_eq!(r.numbers, [257, 437, 2, 85]);
}
