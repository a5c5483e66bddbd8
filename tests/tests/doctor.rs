//! `kotel doctor` as root on this machine: it names the kernel's features, the hooks of
//! every configured source, and exits 0 because everything the sources need is here.

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
        "tracepoint sock:inet_sock_set_state",
        "kotel can run here as configured.",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    for source in ["source tcp", "source exec", "source file_open"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(source)),
            "no ok hook line for {source}:\n{stdout}"
        );
    }
    assert!(!stdout.contains("MISSING"), "{stdout}");
    let _ = std::fs::remove_dir_all(dir);
}
