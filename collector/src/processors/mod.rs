//! Batch-to-batch transforms.

pub mod filter;
pub mod k8s_cri;
