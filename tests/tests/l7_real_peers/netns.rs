//! A network namespace of the test's own (loopback up) and processes started in it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use kotel_integration_tests::KillOnDrop;

/// `ip netns` namespace `kotel-l7-<pid>`, deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates it and brings its loopback up.
    pub fn create() -> Self {
        let name = format!("kotel-l7-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        let ok = |args: &[&str]| {
            let status = Command::new("ip").args(args).status().expect("running ip");
            assert!(status.success(), "ip {args:?}: {status}");
        };
        ok(&["netns", "add", &name]);
        ok(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        Self { name }
    }

    /// `program args` inside the namespace.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name, program])
            .args(args);
        command
    }

    /// Starts `program args` inside and reads the first line it prints (a port).
    pub fn spawn_reading(&self, program: &str, args: &[&str]) -> (KillOnDrop, String) {
        let mut child = KillOnDrop(
            self.command(program, args)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {program}: {e}")),
        );
        let mut line = String::new();
        BufReader::new(child.0.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("its first line");
        (child, line.trim().to_string())
    }

    /// Runs `program args` inside to completion; its stdout.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program, args)
            .output()
            .unwrap_or_else(|e| panic!("running {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
