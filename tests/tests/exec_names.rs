//! Exec events name what ran (root, real kernel, both hooks): the executable's absolute
//! path as the kernel resolved it, the working directory, whether the file is an anonymous
//! memory file or has no link left, and a script's interpreter next to the script.
//!
//! The executables are copies of /usr/bin/true run by a relative path, from a memfd, through
//! a descriptor of a deleted file and of an `O_TMPFILE` file, and a `#!` script.

#[allow(dead_code)] // shared with exec_kernel; this test uses a part
#[path = "exec_kernel/attached.rs"]
mod attached;

use std::ffi::CString;
use std::path::Path;
use std::process::Command;

use kotel::event::ExecEvent;
use kotel::sources::exec::HookChoice;
use kotel_integration_tests::{is_root, skip};

use attached::{assert_clean_telemetry, marker, serial, with_hook, Attached, TempDir, HOOKS};

/// Runs `program args..` from `cwd` to completion.
fn run_in(cwd: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .status()
        .unwrap_or_else(|e| panic!("spawning {program}: {e}"));
    assert!(status.success(), "{program}: {status}");
}

/// The real path of `p` (symlinks resolved), as the kernel walks it.
fn real(p: &str) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

/// A descriptor (inherited by children: no `O_CLOEXEC`) of a read-only copy of
/// /usr/bin/true, made by `make` (which gets the bytes and returns a descriptor it may have
/// opened for writing: it is reopened read-only, as exec refuses a file open for writing).
fn executable_fd(make: impl FnOnce(&[u8]) -> i32) -> i32 {
    let bytes = std::fs::read("/usr/bin/true").unwrap();
    let writable = make(&bytes);
    assert!(writable >= 0, "{}", std::io::Error::last_os_error());
    let again = CString::new(format!("/proc/self/fd/{writable}")).unwrap();
    // SAFETY: valid NUL-terminated path; `writable` is ours to close.
    unsafe {
        let fd = libc::open(again.as_ptr(), libc::O_RDONLY);
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        libc::close(writable);
        fd
    }
}

/// Writes all of `bytes` to `fd`.
fn write_all(fd: i32, bytes: &[u8]) {
    // SAFETY: writes from a valid buffer of the length passed.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize);
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this test opened.
    unsafe { libc::close(fd) };
}

#[test]
fn execs_name_the_file_the_kernel_ran() {
    const NAME: &str = "exec_names";
    if !is_root() {
        return skip(NAME, "loading kernel programs needs root");
    }
    let _serial = serial();
    let dir = TempDir::new("names");
    let bin = dir.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/usr/bin/true", bin.join("tool")).unwrap();
    let script = dir.0.join("job.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let root = real(dir.0.to_str().unwrap());

    for hook in HOOKS {
        let mut source = Attached::start(with_hook(hook));
        // A relative path: resolved, with the working directory.
        let relative = marker("relative");
        run_in(&bin, "./tool", &[&relative]);
        // A memfd: fileless.
        let memfd = executable_fd(|bytes| {
            let name = CString::new("kotel-fileless").unwrap();
            // SAFETY: valid NUL-terminated name; no MFD_CLOEXEC (the child execs it).
            let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
            write_all(fd, bytes);
            fd
        });
        let fileless = marker("memfd");
        run_in(&dir.0, &format!("/proc/self/fd/{memfd}"), &[&fileless]);
        // A deleted file, run through a descriptor.
        let doomed = dir.0.join("doomed");
        std::fs::copy("/usr/bin/true", &doomed).unwrap();
        let c = CString::new(doomed.to_str().unwrap()).unwrap();
        // SAFETY: valid NUL-terminated path.
        let deleted_fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY) };
        std::fs::remove_file(&doomed).unwrap();
        let deleted = marker("deleted");
        run_in(&dir.0, &format!("/proc/self/fd/{deleted_fd}"), &[&deleted]);
        // An O_TMPFILE file: never linked.
        let dir_c = CString::new(dir.0.to_str().unwrap()).unwrap();
        let tmp_fd = executable_fd(|bytes| {
            // SAFETY: valid NUL-terminated directory path.
            let fd = unsafe { libc::open(dir_c.as_ptr(), libc::O_TMPFILE | libc::O_RDWR, 0o700) };
            write_all(fd, bytes);
            fd
        });
        let tmpfile = marker("tmpfile");
        run_in(&dir.0, &format!("/proc/self/fd/{tmp_fd}"), &[&tmpfile]);
        // A script, run by a relative path.
        let scripted = marker("script");
        run_in(&dir.0, "./job.sh", &[&scripted]);
        for fd in [memfd, deleted_fd, tmp_fd] {
            close(fd);
        }

        let ev = |m: &str, s: &mut Attached| -> ExecEvent { s.wait_for(m) };
        let relative = ev(&relative, &mut source);
        let fileless = ev(&fileless, &mut source);
        let deleted = ev(&deleted, &mut source);
        let tmpfile = ev(&tmpfile, &mut source);
        let scripted = ev(&scripted, &mut source);
        source.stop();
        for e in [&relative, &fileless, &deleted, &tmpfile, &scripted] {
            eprintln!("{NAME} ({hook:?}): {}", serde_json::to_string(e).unwrap());
        }
        let what = |e: &ExecEvent| {
            (
                e.path.clone(),
                e.executable.clone(),
                e.executable_kind.clone(),
                e.working_directory.clone(),
            )
        };
        let s = |t: &str| t.to_string();
        assert_eq!(
            what(&relative),
            (
                s("./tool"),
                format!("{root}/bin/tool"),
                s("file"),
                format!("{root}/bin")
            )
        );
        assert_eq!(
            what(&fileless),
            (
                format!("/proc/self/fd/{memfd}"),
                s("/memfd:kotel-fileless"),
                s("memfd"),
                root.clone()
            )
        );
        assert_eq!(
            what(&deleted),
            (
                format!("/proc/self/fd/{deleted_fd}"),
                format!("{root}/doomed"),
                s("deleted"),
                root.clone()
            )
        );
        assert_eq!(tmpfile.executable_kind, "deleted", "{tmpfile:?}");
        assert!(
            tmpfile.executable.starts_with(&format!("{root}/")),
            "{tmpfile:?}"
        );
        assert_eq!(
            what(&scripted),
            (s("./job.sh"), real("/bin/sh"), s("file"), root.clone())
        );
        let want_script = match hook {
            HookChoice::TpBtf => (format!("{root}/job.sh"), s("/bin/sh")),
            // The classic tracepoint shows no linux_binprm: whether it was a script is
            // unknown there, and said so by an empty script.
            _ => (s(""), s("")),
        };
        assert_eq!(
            (scripted.script.clone(), scripted.interpreter.clone()),
            want_script
        );
        assert!(relative.executable_inode > 0);
        assert!(relative.script.is_empty() && fileless.script.is_empty());
    }
    assert_clean_telemetry();
}
