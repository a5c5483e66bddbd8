//! A program the kernel's verifier refuses: the real kernel, a real copy of kotel's tcp
//! object with one instruction broken (fault injection: every shipped program loads).
//!
//! The loader turns the refusal into `Rejected` with the verifier's reason in one line and
//! counts it in `kotel.source.kernel.rejections`; `kotel doctor`'s check reports it as
//! REJECTED and says kotel cannot run. (That a rejected source is not retried while the
//! rest runs on is the pipeline's `a_rejected_source_fails_once_and_is_not_restarted`.)

use std::path::Path;

use aya_obj::Object;
use kotel::component::ComponentError;
use kotel::doctor::{check_programs, Report, Status};
use kotel::kernel::attach::load_and_attach;
use kotel::kernel::filter::KernelFilter;
use kotel::kernel::spec::{LoadPlan, Need, Planned};
use kotel::sources::tcp::{plan as tcp_plan, TcpSourceConfig};
use kotel::telemetry::{self, names};
use kotel_integration_tests::{is_root, skip};

/// The program broken here: its first instruction becomes a read above the frame
/// pointer (`r0 = *(u64 *)(r10 + 8)`), which every verifier refuses.
const BROKEN: &str = "kotel_tcp_receive_reset";

/// The tcp plan with [`BROKEN`] as its only program, its first instruction replaced.
fn broken_plan() -> LoadPlan {
    let mut plan = tcp_plan::plan(
        &TcpSourceConfig::default(),
        &tcp_plan::KernelFacts::of_running_kernel(),
    );
    let obj = Object::parse(plan.spec.object).expect("the tcp object parses");
    let function = &obj.functions[&obj.programs[BROKEN].function_key()];
    let head: Vec<u8> = function.instructions[..4]
        .iter()
        // SAFETY: bpf_insn is 8 bytes of plain data.
        .flat_map(|i| unsafe { std::mem::transmute::<_, [u8; 8]>(*i) })
        .collect();
    let mut bytes = plan.spec.object.to_vec();
    let at: Vec<usize> = bytes
        .windows(head.len())
        .enumerate()
        .filter(|(_, w)| *w == head.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        at.len(),
        1,
        "the program's first instructions are unique in the file"
    );
    // LDX | MEM | DW, dst r0, src r10, off +8, imm 0.
    bytes[at[0]..at[0] + 8].copy_from_slice(&[0x79, 0xa0, 8, 0, 0, 0, 0, 0]);
    plan.spec.object = Box::leak(bytes.into_boxed_slice());
    plan.programs = vec![Planned {
        program: tcp_plan::COUNTERS[2],
        need: Need::Optional,
    }];
    assert_eq!(plan.programs[0].program.name, BROKEN);
    plan
}

#[test]
fn a_refused_program_is_rejected_with_the_verifiers_reason_and_counted() {
    if !is_root() {
        return skip("kernel_rejection", "needs root to load kernel programs");
    }
    telemetry::install();
    let plan = broken_plan();
    let btf = aya::Btf::from_sys_fs().ok();
    let result = load_and_attach("tcp/broken", &plan, btf.as_ref(), |ebpf| {
        let mut filter = KernelFilter::take(ebpf, Path::new(""))?;
        filter.apply(&Default::default())?;
        Ok(filter)
    });
    match result {
        Err(ComponentError::Rejected { program, reason }) => {
            assert_eq!(program, BROKEN);
            assert!(
                reason.contains("R10") || reason.contains("stack"),
                "the reason is the verifier's: {reason}"
            );
            assert!(!reason.contains('\n'), "one line: {reason}");
        }
        Err(other) => panic!("expected a rejection, got {other}"),
        Ok(_) => panic!("the broken program loaded"),
    }
    let count = telemetry::snapshot().counter_sum(
        names::KERNEL_REJECTIONS,
        &[
            (names::COMPONENT_ID, "tcp/broken"),
            (names::PROGRAM, BROKEN),
        ],
    );
    assert_eq!(count, 1.0, "counted once");
}

#[test]
fn the_doctor_reports_a_refused_program_and_says_kotel_cannot_run() {
    if !is_root() {
        return skip("kernel_rejection", "needs root to load kernel programs");
    }
    let plan = broken_plan();
    let btf = aya::Btf::from_sys_fs().ok();
    let mut report = Report::default();
    check_programs(&mut report, "tcp", &plan, btf.as_ref(), true);
    let rejected: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Rejected)
        .collect();
    assert_eq!(rejected.len(), 1, "{report}");
    assert_eq!(rejected[0].subject, "source tcp");
    assert!(
        rejected[0]
            .detail
            .starts_with(&format!("the kernel rejects {BROKEN}: ")),
        "{report}"
    );
    assert!(!report.can_run());
    let text = report.to_string();
    println!("{text}");
    assert!(
        text.contains(&format!(
            "kotel cannot run here as configured: source tcp: the kernel rejects {BROKEN}"
        )),
        "{text}"
    );
}
