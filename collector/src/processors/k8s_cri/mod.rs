//! The `k8s_cri` processor: attributes every event to its container, pod and namespace
//! through the node's container runtime (CRI v1 over gRPC).

pub mod cgroup;
