//! What `kotel doctor` reports: findings with a status, added by the layers and
//! components that know what to examine (the kernel's features, each component's own
//! checks), and how they print.

use std::fmt;

/// How a finding bears on running kotel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Present and usable.
    Ok,
    /// Absent or limited; kotel works around it (the detail says how).
    Warn,
    /// Absent, and a configured source needs it: kotel cannot run as configured.
    Missing,
    /// The kernel's verifier refuses a program a configured source loads: kotel cannot
    /// run as configured.
    Rejected,
    /// For information only.
    Info,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "MISSING",
            Status::Rejected => "REJECTED",
            Status::Info => "info",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What was examined (`BTF`, `source tcp`).
    pub subject: String,
    /// The verdict.
    pub status: Status,
    /// What was found, in a sentence.
    pub detail: String,
}

/// Everything `kotel doctor` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// In the order examined.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Adds a finding.
    pub fn add(&mut self, subject: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.findings.push(Finding {
            subject: subject.into(),
            status,
            detail: detail.into(),
        });
    }

    /// True when nothing a configured source needs is missing or rejected.
    pub fn can_run(&self) -> bool {
        self.blocking().next().is_none()
    }

    /// The findings that stop kotel from running as configured.
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| matches!(f.status, Status::Missing | Status::Rejected))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .findings
            .iter()
            .map(|x| x.subject.len())
            .max()
            .unwrap_or(0);
        for x in &self.findings {
            writeln!(
                f,
                "{:<7} {:<width$}  {}",
                x.status.label(),
                x.subject,
                x.detail
            )?;
        }
        if self.can_run() {
            writeln!(f, "\nkotel can run here as configured.")
        } else {
            let what: Vec<String> = self
                .blocking()
                .map(|x| format!("{}: {}", x.subject, x.detail))
                .collect();
            writeln!(
                f,
                "\nkotel cannot run here as configured: {}.",
                what.join("; ")
            )
        }
    }
}

#[cfg(test)]
#[path = "checkup_tests.rs"]
mod tests;
