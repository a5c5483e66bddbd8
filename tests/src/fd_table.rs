//! Processes with a chosen descriptor-table shape, for the `file_open` tests and benchmark.
//!
//! The kernel keeps a process's first 64 descriptors in a table embedded in its
//! `files_struct`; a process that ever had more, or was forked from one that had more open
//! at the time, uses a separate one (exec keeps it), and the `file_open` exit then reads
//! the opened file a slower way. A test harness often passes high descriptors to its
//! children, so a test that wants a known shape must choose it: a shell started with every
//! descriptor above 2 closed forks the program with [`Table::Small`], and with
//! [`Table::Grown`] when it also holds descriptor 100.

use std::process::Command;

/// The descriptor table of the processes a script starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The embedded table: only stdin, stdout and stderr are open.
    Small,
    /// A table that has grown past the embedded one (descriptor 100 is open, inherited by
    /// every process of the script).
    Grown,
}

impl Table {
    /// Both shapes, for tests that check each.
    pub const BOTH: [Table; 2] = [Table::Small, Table::Grown];

    /// `sh -c script`, the shell and everything it runs with this table.
    pub fn sh(self, script: &str) -> Command {
        self.command(std::path::Path::new("sh"), &["-c", script])
    }

    /// The descriptors open in a process this table starts (`ls /proc/self/fd`, whose own
    /// directory descriptor is among them), to check the shape.
    pub fn open_descriptors(self) -> Vec<u32> {
        let out = self
            .sh("ls /proc/self/fd")
            .output()
            .expect("running ls /proc/self/fd");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|d| d.parse().ok())
            .collect()
    }

    /// `program args…` with this table: forked by a shell that was started with the
    /// chosen descriptors (a program exec'ed directly would keep the table it was forked
    /// with, and a shell may exec its last command instead of forking it).
    pub fn command(self, program: &std::path::Path, args: &[&str]) -> Command {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("\"$0\" \"$@\"; exit $?")
            .arg(program)
            .args(args);
        close_inherited(&mut command);
        if self == Table::Grown {
            hold_descriptor_100(&mut command);
        }
        command
    }
}

/// Makes `command` close every descriptor above 2 just before exec: the processes it then
/// forks get the embedded table (a fork sizes the child's table by the descriptors open;
/// exec keeps the table it has).
pub fn close_inherited(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: close_range is async-signal-safe; it only closes descriptors of the child.
    unsafe {
        command.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
}

/// Makes `command` hold descriptor 100 (a copy of stdin, kept across exec): its table, and
/// that of every process it starts, has grown past the embedded one.
fn hold_descriptor_100(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: dup2 is async-signal-safe; it only changes the child's descriptors.
    unsafe {
        command.pre_exec(|| {
            if libc::dup2(0, 100) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
