use super::*;

/// The log 6.18 wrote for the `kotel_tcp_state` it refused (issue 14).
const REFUSED: &str = "combined stack size of 3 calls is 576. Too large\n\
verification time 222109 usec\n\
stack depth 272+0+224+80\n\
processed 62168 insns (limit 1000000) max_states_per_insn 32 total_states 3448 peak_states 1105 mark_read 0\n";

#[test]
fn statistics_are_read_from_the_log() {
    assert_eq!(stack_depths(REFUSED), vec![272, 0, 224, 80]);
    assert_eq!(verification_time(REFUSED), Duration::from_micros(222_109));
    assert_eq!(processed_insns(REFUSED), 62_168);
    let single = "verification time 12 usec\nstack depth 24\nprocessed 9 insns (limit 1000000)\n";
    assert_eq!(stack_depths(single), vec![24]);
    assert_eq!(stack_depths(""), Vec::<u32>::new());
    assert_eq!(verification_time("garbage"), Duration::ZERO);
    assert_eq!(processed_insns("processed lots"), 0);
}

#[test]
fn the_reason_is_the_last_message_before_the_statistics() {
    let err = std::io::Error::from_raw_os_error(libc::EACCES);
    assert_eq!(rejection_reason(REFUSED, &err), "combined stack 576 > 512");
    let access = "0: (b7) r0 = 0\nR1 invalid mem access 'scalar'\nverification time 5 usec\n\
                  stack depth 0\nprocessed 3 insns (limit 1000000)\n";
    assert_eq!(
        rejection_reason(access, &err),
        "R1 invalid mem access 'scalar'"
    );
    assert_eq!(
        rejection_reason("", &err),
        "Permission denied (os error 13) (no verifier log)"
    );
}

/// An instruction; `call(n)` is a bpf-to-bpf call `n` instructions past the next one.
fn insn(code: u8, src_reg: u8, imm: i32) -> bpf_insn {
    // SAFETY: all-zero is a valid instruction encoding.
    let mut i = unsafe { std::mem::zeroed::<bpf_insn>() };
    i.code = code;
    i.set_src_reg(src_reg);
    i.imm = imm;
    i
}

fn call(imm: i32) -> bpf_insn {
    insn(CALL, PSEUDO_CALL, imm)
}

fn exit() -> bpf_insn {
    insn(0x95, 0, 0)
}

#[test]
fn the_deepest_chain_follows_the_calls_and_rounds_each_frame() {
    // main: 0 call a; 1 call b; 2 exit | a (3): 3 call b; 4 exit | b (5): 5 exit
    let insns = [call(2), call(3), exit(), call(1), exit(), exit()];
    // main 272, a 0, b 80: main -> a -> b = 288 + 32 + 96.
    assert_eq!(deepest_chain(&insns, &[272, 0, 80]), 288 + 32 + 96);
    // A helper call (src_reg 0) is not a subprogram.
    let helper_only = [insn(CALL, 0, 1), exit()];
    assert_eq!(deepest_chain(&helper_only, &[200]), 224);
}

#[test]
fn the_issue_14_program_is_over_the_budget_and_the_limit() {
    // main (0..3) calls closed (4, 224 bytes), which calls emit (6, 80), and a leaf (3, 0).
    let insns = [call(3), call(1), exit(), exit(), call(1), exit(), exit()];
    let chain = deepest_chain(&insns, &[272, 0, 224, 80]);
    assert_eq!(chain, 288 + 224 + 96);
    assert!(chain > STACK_LIMIT);
}
