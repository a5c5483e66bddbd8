use super::*;

#[test]
fn a_missing_requirement_fails_the_report_and_is_named() {
    let mut report = Report::default();
    report.add(
        "BTF",
        Status::Warn,
        "no /sys/kernel/btf/vmlinux: netns reported as 0",
    );
    assert!(report.can_run());
    report.add(
        "source tcp",
        Status::Missing,
        "tracepoint sock:inet_sock_set_state does not exist",
    );
    assert!(!report.can_run());
    let text = report.to_string();
    assert!(
        text.contains("MISSING source tcp  tracepoint sock:inet_sock_set_state does not exist"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "as configured: source tcp: tracepoint sock:inet_sock_set_state does not exist.\n"
        ),
        "{text}"
    );
    report.add(
        "source tcp",
        Status::Rejected,
        "the kernel rejects kotel_tcp_state: combined stack 576 > 512",
    );
    let text = report.to_string();
    assert!(
        text.contains("REJECTED source tcp  the kernel rejects kotel_tcp_state"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "; source tcp: the kernel rejects kotel_tcp_state: combined stack 576 > 512.\n"
        ),
        "{text}"
    );
}
