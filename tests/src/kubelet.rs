//! A CRI client that plays kubelet: pod sandboxes and containers with kubelet labels.
