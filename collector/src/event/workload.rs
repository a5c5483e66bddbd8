//! Who an event belongs to: the container, pod and namespace (or the host) a kernel event
//! came from, as OpenTelemetry resource attributes. Attached by the `k8s_cri` processor.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// OpenTelemetry semantic-convention attribute keys that `k8s_cri` sets.
pub mod keys {
    /// The node the agent runs on.
    pub const NODE_NAME: &str = "k8s.node.name";
    /// The pod's namespace.
    pub const NAMESPACE: &str = "k8s.namespace.name";
    /// The pod's name.
    pub const POD_NAME: &str = "k8s.pod.name";
    /// The pod's UID.
    pub const POD_UID: &str = "k8s.pod.uid";
    /// The container's name in the pod spec.
    pub const CONTAINER_NAME: &str = "k8s.container.name";
    /// The runtime's container id (64 hex characters).
    pub const CONTAINER_ID: &str = "container.id";
    /// The image name without tag or digest.
    pub const IMAGE_NAME: &str = "container.image.name";
    /// The image tag, when the reference has one.
    pub const IMAGE_TAG: &str = "container.image.tag";
    /// The container runtime (`containerd`, `cri-o`, ...).
    pub const RUNTIME: &str = "container.runtime";
    /// Prefix of pod labels copied as attributes (`k8s.pod.label.<key>`).
    pub const POD_LABEL_PREFIX: &str = "k8s.pod.label.";
}

/// Resource attributes of one workload (a container, or the host itself), keyed by their
/// OpenTelemetry names. Shared by every event of the workload through an [`Arc`], so
/// attributing an event costs a reference count, not a copy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Workload {
    /// Attribute name -> value, sorted by name.
    pub attributes: BTreeMap<String, String>,
}

impl Workload {
    /// A workload from attribute pairs; empty values are left out.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let attributes = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(_, v): &(String, String)| !v.is_empty())
            .collect();
        Self { attributes }
    }

    /// The value of attribute `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// True when the workload is a container (it has a `container.id`).
    pub fn is_container(&self) -> bool {
        self.attributes.contains_key(keys::CONTAINER_ID)
    }

    /// `key=value` pairs separated by spaces, for one-line renderings.
    pub fn to_line(&self) -> String {
        let mut line = String::new();
        for (k, v) in &self.attributes {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(k);
            line.push('=');
            line.push_str(v);
        }
        line
    }
}

/// The optional attribution carried by events (`"workload"` in recorded JSON).
pub type Attribution = Option<Arc<Workload>>;
