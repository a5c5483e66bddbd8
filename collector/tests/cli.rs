//! The `kotel` command line as a user runs it (no root needed).

use std::path::Path;
use std::process::{Command, Output};

fn kotel(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kotel"));
    cmd.args(args)
        .env_remove("KOTEL_CONFIG")
        .env("KOTEL_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running kotel")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn version_and_help_are_there() {
    let out = kotel(&["--version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("kotel {}", env!("CARGO_PKG_VERSION"))
    );
    for sub in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["validate", "--help"],
        vec!["print-config", "--help"],
    ] {
        let out = kotel(&sub, &[]);
        assert!(out.status.success(), "{sub:?}");
        assert!(text(&out.stdout).contains("Usage: kotel"), "{sub:?}");
    }
}

#[test]
fn the_shipped_pipeline_is_valid() {
    let out = kotel(&["validate", &repo_file("pipeline.yaml")], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid"));
}

#[test]
fn validate_prints_every_error_with_its_path_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "sources:\n  tcp: { ring_buffer_bytes: lots }\n  nosuch: {}\nexporters:\n  debug: { colour: red }\n\
         pipelines:\n  logs: { sources: [tcp, replay/missing], exporters: [debug] }\n",
    )
    .unwrap();
    let out = kotel(&["validate", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for path in [
        "sources::tcp",
        "sources::nosuch",
        "exporters::debug",
        "pipelines::logs::sources",
    ] {
        assert!(stderr.contains(path), "missing {path} in:\n{stderr}");
    }
    assert!(stderr.contains("nothing was started"), "{stderr}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = kotel(&["validate", "/nonexistent/pipeline.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/pipeline.yaml"));
}

#[test]
fn print_config_shows_defaults_and_substitutes_env() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "sources:\n  tcp: { max_tracked_sockets: ${env:KOTEL_TEST_SOCKS} }\nexporters:\n  debug: { verbosity: \"${env:KOTEL_TEST_UNSET:-detailed}\" }\n\
         pipelines:\n  logs: { sources: [tcp], exporters: [debug] }\n",
    )
    .unwrap();
    let out = kotel(
        &["print-config", file.to_str().unwrap()],
        &[("KOTEL_TEST_SOCKS", "1234")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(yaml.contains("max_tracked_sockets: 1234"), "{yaml}");
    assert!(yaml.contains("verbosity: detailed"), "{yaml}");
    assert!(
        yaml.contains("ring_buffer_bytes: 524288"),
        "defaults are filled in:\n{yaml}"
    );
    assert!(yaml.contains("shutdown_timeout: 10s"), "{yaml}");
}

/// An OTLP header carrying a credential, from the environment as the Helm chart passes it.
const SECRET: &str = "Bearer s3cr3t-t0ken-do-not-print";

/// A backend that accepts connections and reads what is sent, never answering; returns
/// its port and the number of bytes it has read so far.
fn silent_backend() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let read = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = read.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buffer) {
                    counter.fetch_add(n, Ordering::SeqCst);
                }
            });
        }
    });
    (port, read)
}

fn otlp_with_secret_header(dir: &Path, protocol: &str, port: u16) -> std::path::PathBuf {
    let events = dir.join("events.jsonl");
    let line = r#"{"type":"tcp","kind":"accept","time_unix_nano":1700000000000000000,"direction":"inbound","local_addr":"10.0.0.1","local_port":8080,"remote_addr":"10.0.0.2","remote_port":51000,"pid":7,"comm":"nginx","cgroup_id":99}"#;
    std::fs::write(&events, format!("{line}\n")).unwrap();
    let config = dir.join("p.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  replay: {{ path: {} }}\n\
             exporters:\n  otlp:\n    endpoint: http://127.0.0.1:{port}\n    protocol: {protocol}\n    timeout: 200ms\n\
             \x20   retry: {{ max_elapsed: 300ms }}\n    headers: {{ authorization: \"${{env:KOTEL_TEST_TOKEN}}\" }}\n\
             pipelines:\n  logs: {{ sources: [replay], exporters: [otlp] }}\n",
            events.display()
        ),
    )
    .unwrap();
    config
}

#[test]
fn header_credentials_never_reach_print_config_or_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let (port, received) = silent_backend();
        let config = otlp_with_secret_header(dir.path(), protocol, port);
        let config = config.to_str().unwrap();
        let env = [("KOTEL_TEST_TOKEN", SECRET)];
        let printed = kotel(&["print-config", config], &env);
        assert!(printed.status.success(), "{}", text(&printed.stderr));
        let yaml = text(&printed.stdout);
        assert!(!yaml.contains("s3cr3t"), "{yaml}");
        assert!(yaml.contains("authorization: <redacted>"), "{yaml}");

        // The most verbose logs, with every send to the unreachable backend failing.
        let mut env = env.to_vec();
        env.push(("KOTEL_LOG", "trace"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kotel"));
        cmd.args(["run", "--config", config])
            .env_remove("KOTEL_CONFIG");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let run = cmd.output().expect("running kotel");
        let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
        let sent = received.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            sent > 0,
            "{protocol}: the request reached the backend:\n{stderr}"
        );
        assert!(
            !stdout.contains("s3cr3t") && !stderr.contains("s3cr3t"),
            "{protocol}: the credential is printed:\n{stderr}"
        );
    }
}

#[test]
fn run_replays_a_recording_prints_it_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let line = r#"{"type":"tcp","kind":"accept","time_unix_nano":1700000000000000000,"direction":"inbound","local_addr":"10.0.0.1","local_port":8080,"remote_addr":"10.0.0.2","remote_port":51000,"pid":7,"comm":"nginx","cgroup_id":99}"#;
    std::fs::write(&events, format!("{line}\n{line}\n")).unwrap();
    let config = dir.path().join("p.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  replay: {{ path: {} }}\nexporters:\n  debug: {{}}\npipelines:\n  logs: {{ sources: [replay], exporters: [debug] }}\n",
            events.display()
        ),
    )
    .unwrap();
    let out = kotel(&["run", "--config", config.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let accepts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("tcp accept"))
        .collect();
    assert_eq!(accepts.len(), 2, "{stdout}");
    assert!(
        accepts[0].contains("pid=7 comm=nginx cgroup=99 10.0.0.1:8080 <- 10.0.0.2:51000"),
        "{stdout}"
    );
    // The final telemetry snapshot reports what went through.
    assert!(
        stdout.contains("kotel telemetry: sources emitted=2 dropped=0"),
        "{stdout}"
    );
}

#[test]
fn run_refuses_kernel_sources_without_privilege_before_starting_anything() {
    // As root, drop to `nobody` (which also drops every capability); otherwise the test
    // user already lacks them.
    let binary = env!("CARGO_BIN_EXE_kotel");
    let config = repo_file("pipeline.yaml");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            binary,
        ]);
        c
    } else {
        Command::new(binary)
    };
    let out = cmd
        .args(["run", "--config", &config])
        .env("KOTEL_LOG", "info")
        .output()
        .expect("running kotel");
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "sources exec, file_open, l7, tcp load eBPF programs, which needs root or CAP_BPF and CAP_PERFMON"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("kotel running"),
        "nothing was started: {stderr}"
    );
}

/// `kotel <args>` as an unprivileged user: `nobody` via setpriv when the test runs as root.
fn kotel_unprivileged(args: &[&str]) -> Output {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            env!("CARGO_BIN_EXE_kotel"),
        ]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_kotel"))
    };
    cmd.args(args)
        .env("KOTEL_LOG", "info")
        .output()
        .expect("running kotel")
}

#[test]
fn doctor_without_privileges_says_what_is_missing_and_fails() {
    let out = kotel_unprivileged(&["doctor", "--config", &repo_file("pipeline.yaml")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("MISSING privileges")),
        "{stdout}"
    );
    assert!(
        stdout.contains("kotel cannot run here as configured: privileges: needs root"),
        "{stdout}"
    );
    // Nothing can be verified without privileges, and the report says so per source.
    assert!(
        stdout.contains("source tcp") && stdout.contains("programs not verified"),
        "{stdout}"
    );
}
