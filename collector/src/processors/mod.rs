//! Batch-to-batch transforms.

pub mod filter;
