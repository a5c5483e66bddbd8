//! Batch-to-batch transforms.

pub mod aggregate;
pub mod filter;
pub mod k8s_cri;
pub mod sampling;
