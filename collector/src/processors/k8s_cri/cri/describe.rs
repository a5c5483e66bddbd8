//! Turns the runtime's `ContainerStatus(verbose)` answer into a container description:
//! OTel attributes, the cgroup path and the pid. Every field that comes from the runtime
//! is checked: an answer that fails a check is rejected with a reason, never half used.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_cri::v1::{ContainerState, ContainerStatusResponse};
use serde_json::Value;

use crate::event::{keys, Workload};
use crate::processors::k8s_cri::cgroup::{container_cgroup_path, path_names_container};

/// Labels kubelet puts on every container (CRI-O and containerd keep them).
mod labels {
    pub const POD_NAME: &str = "io.kubernetes.pod.name";
    pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
    pub const POD_UID: &str = "io.kubernetes.pod.uid";
    pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
}

/// Annotations containerd's CRI plugin adds (used when kubelet's labels are missing).
mod annotations {
    pub const SANDBOX_NAME: &str = "io.kubernetes.cri.sandbox-name";
    pub const SANDBOX_NAMESPACE: &str = "io.kubernetes.cri.sandbox-namespace";
    pub const SANDBOX_UID: &str = "io.kubernetes.cri.sandbox-uid";
    pub const CONTAINER_NAME: &str = "io.kubernetes.cri.container-name";
}

/// Longest attribute value kept; longer runtime values are cut (a runtime that sends a
/// megabyte label must not make every event carry it).
const MAX_VALUE_BYTES: usize = 256;

/// What the describer needs besides the answer.
pub struct DescribeContext<'a> {
    /// `k8s.node.name`.
    pub node_name: &'a str,
    /// `container.runtime` (the `Version` RPC's runtime name).
    pub runtime: &'a str,
    /// Pod label keys to copy, and the labels of each pod sandbox by sandbox id.
    pub pod_labels: &'a [String],
    /// Sandbox id -> its labels (filled only when `pod_labels` is non-empty).
    pub sandbox_labels: &'a HashMap<String, HashMap<String, String>>,
}

/// A container as the cache keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerDescription {
    /// The runtime's container id (64 lowercase hex characters).
    pub id: String,
    /// The attributes its events get.
    pub workload: Arc<Workload>,
    /// Its cgroup path relative to a hierarchy root, when the runtime gave a usable one.
    pub cgroup_path: Option<String>,
    /// Its init process in the host pid namespace, while it runs.
    pub pid: Option<u32>,
    /// True while the container is created or running (not exited).
    pub alive: bool,
}

/// Why an answer was not used; the name is the `reason` label of `kotel.k8s_cri.rejected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The id is not 64 lowercase hex characters.
    ContainerId,
    /// The pod name or namespace is missing.
    Pod,
}

impl Rejection {
    /// The `reason` label.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::ContainerId => "container_id",
            Rejection::Pod => "pod",
        }
    }
}

/// Problems in an answer that was still used, without the affected part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flaws {
    /// The verbose `info` was missing, not JSON, or a field had the wrong shape (that
    /// field is not used).
    pub info: bool,
    /// The cgroup path does not name this container: not used.
    pub cgroups_path: bool,
}

/// Describes the container in `answer`.
pub fn describe(
    answer: &ContainerStatusResponse,
    ctx: &DescribeContext<'_>,
) -> Result<(ContainerDescription, Flaws), Rejection> {
    let status = answer.status.as_ref().ok_or(Rejection::ContainerId)?;
    if !is_container_id(&status.id) {
        return Err(Rejection::ContainerId);
    }
    let label = |label: &str, annotation: &str| {
        status
            .labels
            .get(label)
            .or_else(|| status.annotations.get(annotation))
            .map(|v| clip(v))
            .unwrap_or_default()
    };
    let pod_name = label(labels::POD_NAME, annotations::SANDBOX_NAME);
    let namespace = label(labels::POD_NAMESPACE, annotations::SANDBOX_NAMESPACE);
    if pod_name.is_empty() || namespace.is_empty() {
        return Err(Rejection::Pod);
    }
    let mut container_name = label(labels::CONTAINER_NAME, annotations::CONTAINER_NAME);
    if container_name.is_empty() {
        container_name = status
            .metadata
            .as_ref()
            .map(|m| clip(&m.name))
            .unwrap_or_default();
    }
    let image = status
        .image
        .as_ref()
        .map(|i| i.image.as_str())
        .unwrap_or_default();
    let (image_name, image_tag) = split_image(image);

    let mut flaws = Flaws::default();
    let (pid, raw_cgroup, info_flawed) = parse_info(answer);
    flaws.info = info_flawed;
    let cgroup_path = raw_cgroup
        .as_deref()
        .and_then(container_cgroup_path)
        .filter(|path| path_names_container(path, &status.id));
    flaws.cgroups_path = raw_cgroup.is_some() && cgroup_path.is_none();

    let mut attributes = vec![
        (keys::NODE_NAME.to_string(), ctx.node_name.to_string()),
        (keys::NAMESPACE.into(), namespace),
        (keys::POD_NAME.into(), pod_name),
        (
            keys::POD_UID.into(),
            label(labels::POD_UID, annotations::SANDBOX_UID),
        ),
        (keys::CONTAINER_NAME.into(), container_name),
        (keys::CONTAINER_ID.into(), status.id.clone()),
        (keys::IMAGE_NAME.into(), clip(image_name)),
        (keys::IMAGE_TAG.into(), clip(image_tag)),
        (keys::RUNTIME.into(), ctx.runtime.to_string()),
    ];
    let sandbox_id = info_sandbox_id(answer);
    if let Some(pod) = sandbox_id.and_then(|id| ctx.sandbox_labels.get(&id)) {
        for key in ctx.pod_labels {
            if let Some(value) = pod.get(key) {
                attributes.push((format!("{}{key}", keys::POD_LABEL_PREFIX), clip(value)));
            }
        }
    }
    let alive = is_alive(status.state);
    Ok((
        ContainerDescription {
            id: status.id.clone(),
            workload: Arc::new(Workload::from_pairs(attributes)),
            cgroup_path,
            pid: pid.filter(|_| alive),
            alive,
        },
        flaws,
    ))
}

/// True for a created or running container (a CRI `ContainerState`).
pub fn is_alive(state: i32) -> bool {
    matches!(
        ContainerState::try_from(state),
        Ok(ContainerState::ContainerCreated | ContainerState::ContainerRunning)
    )
}

/// True for a 64-character lowercase hex id (containerd, CRI-O and Docker ids).
pub fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `(pid, cgroupsPath)` from the verbose `info` JSON, each `None` when absent; `None`
/// overall when the info is missing or either field has the wrong shape (the other one
/// is still used: a pid sent as a string does not cost the cgroup path).
fn parse_info(answer: &ContainerStatusResponse) -> (Option<u32>, Option<String>, bool) {
    let Some(info) = answer
        .info
        .get("info")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .filter(Value::is_object)
    else {
        return (None, None, true);
    };
    let mut flawed = false;
    let pid = match info.get("pid") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let pid = v.as_u64().and_then(|p| u32::try_from(p).ok());
            flawed |= pid.is_none();
            pid
        }
    };
    let cgroups_path = match info.pointer("/runtimeSpec/linux/cgroupsPath") {
        None | Some(Value::Null) => None,
        Some(v) => {
            flawed |= v.as_str().is_none();
            v.as_str().map(str::to_string)
        }
    };
    (pid.filter(|p| *p > 0), cgroups_path, flawed)
}

/// The pod sandbox id from the verbose info (containerd and CRI-O: `sandboxID`).
pub fn info_sandbox_id(answer: &ContainerStatusResponse) -> Option<String> {
    let info: Value = serde_json::from_str(answer.info.get("info")?).ok()?;
    info.get("sandboxID")?.as_str().map(str::to_string)
}

/// Splits an image reference into name and tag: `docker.io/library/nginx:1.25@sha256:..`
/// -> (`docker.io/library/nginx`, `1.25`). The tag is empty when there is none.
pub fn split_image(reference: &str) -> (&str, &str) {
    let without_digest = reference.split('@').next().unwrap_or_default();
    let name_start = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[name_start..].rfind(':') {
        Some(colon) => {
            let at = name_start + colon;
            (&without_digest[..at], &without_digest[at + 1..])
        }
        None => (without_digest, ""),
    }
}

/// `value`, cut to [`MAX_VALUE_BYTES`] on a character boundary.
fn clip(value: &str) -> String {
    if value.len() <= MAX_VALUE_BYTES {
        return value.to_string();
    }
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_string()
}

#[cfg(test)]
#[path = "describe_tests.rs"]
mod tests;
