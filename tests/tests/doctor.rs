//! `kotel doctor` as root on this machine: it names the kernel's features, verifies every
//! program of every configured source (loaded as the source loads it, nothing attached)
//! with its stack within the budget, and exits 0 because everything the sources need is
//! here and the kernel accepts every program.

use std::process::Command;

use kotel_integration_tests::{is_root, kotel_binary, skip};

#[test]
fn doctor_as_root_reports_the_kernel_and_every_source_hook_and_passes() {
    if !is_root() {
        return skip(
            "doctor_as_root",
            "needs root to probe BPF program and map types",
        );
    }
    let dir = std::env::temp_dir().join(format!("kotel-doctor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("pipeline.yaml");
    std::fs::write(
        &config,
        "sources:\n  tcp: {}\n  exec: {}\n  file_open: { paths: [/etc/shadow] }\nexporters:\n  debug: {}\n\
         pipelines:\n  logs: { sources: [tcp, exec, file_open], exporters: [debug] }\n",
    )
    .unwrap();
    let out = Command::new(kotel_binary())
        .args(["doctor", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "ok      BTF",
        "ok      privileges",
        "ok      ring buffer",
        "ok      tracepoints",
        "kotel_tcp_state on sock:inet_sock_set_state loads: stack ",
        "kotel can run here as configured.",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    // Every program the sources load here, verified, each within the stack budget.
    let mut programs = vec![
        "kotel_tcp_state",
        "kotel_tcp_retransmit",
        "kotel_tcp_send_reset",
        "kotel_tcp_receive_reset",
        "kotel_open_exit",
    ];
    // The enter programs run only where the exit cannot read the arguments itself.
    let btf = kotel::kernel::shared_btf::ours();
    if kotel::sources::file_open::regs::of_running_kernel(&btf)
        .0
        .valid
        == 0
    {
        programs.push("kotel_openat");
        assert!(stdout.contains("two programs per open"), "{stdout}");
    } else {
        assert!(stdout.contains("one program per open"), "{stdout}");
    }
    if std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        programs.extend(["kotel_tcp_rtt", "kotel_exec_btf"]);
    } else {
        programs.push("kotel_exec");
    }
    for program in programs {
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!("{program} on ")))
            .unwrap_or_else(|| panic!("no line for {program}:\n{stdout}"));
        assert!(line.starts_with("ok "), "{line}");
        let stack: u32 = line
            .split("stack ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no stack figure: {line}"));
        assert!(stack > 0 && stack <= 448, "{line}");
    }
    assert!(!stdout.contains("MISSING"), "{stdout}");
    assert!(!stdout.contains("REJECTED"), "{stdout}");
    let _ = std::fs::remove_dir_all(dir);
}
