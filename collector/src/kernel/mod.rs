//! Shared by every kernel source: reading the running kernel's BTF, loading and attaching
//! objects, the ring-buffer read loop, filters, stats and `kotel doctor`'s kernel checks.

pub mod attach;
pub mod batcher;
pub mod btf;
pub mod checkup;
pub mod clock;
pub mod filter;
pub mod globals_read;
pub mod kfunc;
pub mod load;
pub mod privileges;
pub mod reader;
pub mod settings;
pub mod shared_btf;
pub mod source;
pub mod spec;
pub mod stats;
pub mod task_names;
pub mod verify;
pub mod vfs_fields;
pub mod walked_path;
