//! `kotel doctor`'s view of the container runtime each `k8s_cri` processor would use:
//! which sockets exist, which runtime answers (`Version`), and the cgroup layout that
//! decides how cgroup ids map to containers. A missing runtime is a warning: the agent
//! runs and attributes host events until one appears.

use std::time::Duration;

use crate::component::checkup::{Report, Status};
use crate::node::cgroups::{CgroupLayout, CgroupRoots};
use crate::processors::k8s_cri::cri::client::CriClient;
use crate::processors::k8s_cri::cri::discovery::{candidates, present_sockets};
use crate::processors::k8s_cri::K8sCriConfig;

/// How long doctor waits for a runtime's answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Adds findings for processor `id` configured as `config`.
pub fn check(report: &mut Report, id: &str, config: &K8sCriConfig) {
    let subject = format!("{id}: container runtime");
    let sockets = present_sockets(config);
    if sockets.is_empty() {
        let probed: Vec<String> = candidates(config)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        report.add(
            subject,
            Status::Warn,
            format!(
                "no runtime socket; probed {} (events get host attributes until one appears)",
                probed.join(", ")
            ),
        );
    } else {
        let answers = ask_versions(&sockets);
        for (socket, answer) in sockets.iter().zip(answers) {
            match answer {
                Ok(version) => report.add(
                    subject.clone(),
                    Status::Ok,
                    format!("{version} at {}", socket.display()),
                ),
                Err(e) => report.add(
                    subject.clone(),
                    Status::Warn,
                    format!("{} does not answer CRI: {e}", socket.display()),
                ),
            }
        }
    }
    let roots = if config.cgroup_root.as_os_str().is_empty() {
        CgroupRoots::discover().unwrap_or_default()
    } else {
        CgroupRoots::with_unified(&config.cgroup_root)
    };
    let (status, detail) = match roots.layout() {
        CgroupLayout::Unified | CgroupLayout::Hybrid => (
            Status::Ok,
            format!(
                "cgroup v2 at {}: events map to containers by cgroup id",
                roots.unified.as_ref().map(|m| m.mount_point.display().to_string()).unwrap_or_default()
            ),
        ),
        CgroupLayout::Legacy => (
            Status::Warn,
            "cgroup v1 only: containers are found per process through /proc (slower, misses exited processes)".to_string(),
        ),
        CgroupLayout::None => (Status::Warn, "no cgroup hierarchy found".to_string()),
    };
    report.add(format!("{id}: cgroups"), status, detail);
}

/// `runtime version (CRI api)` from each socket, on a runtime of its own.
fn ask_versions(sockets: &[std::path::PathBuf]) -> Vec<Result<String, String>> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return sockets.iter().map(|_| Err(e.to_string())).collect(),
    };
    runtime.block_on(async {
        let mut answers = Vec::new();
        for socket in sockets {
            let answer = async {
                let mut client = CriClient::connect(socket, TIMEOUT, "doctor").await?;
                client.version().await
            }
            .await
            .map(|v| {
                format!(
                    "{} {} (CRI {})",
                    v.runtime_name, v.runtime_version, v.runtime_api_version
                )
            })
            .map_err(|e| e.to_string());
            answers.push(answer);
        }
        answers
    })
}
