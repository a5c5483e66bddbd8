//! The VFS offsets the file-naming kernel programs read through ([`VfsFields`]), from the
//! running kernel's BTF.
//!
//! Contract: [`vfs_fields`] resolves every member or fails naming the first one missing;
//! [`of_running_kernel`] never fails: without BTF, or with a member missing, it returns
//! `valid == 0` and the reason, and the programs fall back to what needs no offsets.

use kotel_common::vfs::{
    span_start, VfsFields, DENTRY_SPAN, FILES_SPAN, FILE_SPAN, INODE_SPAN, MOUNT_SPAN,
};

use crate::kernel::btf::{Btf, BtfError};

/// Every offset of [`VfsFields`] in `btf`, and where the programs read each struct at
/// once: members that do not fit one such read make the layout unusable.
pub fn vfs_fields(btf: &Btf) -> Result<VfsFields, BtfError> {
    let path_mnt = btf.offset_of("path", &["mnt"])?;
    let path_dentry = btf.offset_of("path", &["dentry"])?;
    let mut f = VfsFields {
        valid: 1,
        task_fs: btf.offset_of("task_struct", &["fs"])?,
        task_files: btf.offset_of("task_struct", &["files"])?,
        fs_root: btf.offset_of("fs_struct", &["root"])?,
        fs_pwd: btf.offset_of("fs_struct", &["pwd"])?,
        path_mnt,
        path_dentry,
        files_fdt: btf.offset_of("files_struct", &["fdt"])?,
        files_fdtab: btf.offset_of("files_struct", &["fdtab"])?,
        files_fd_array: btf.offset_of("files_struct", &["fd_array"])?,
        fdt_max_fds: btf.offset_of("fdtable", &["max_fds"])?,
        fdt_fd: btf.offset_of("fdtable", &["fd"])?,
        file_path: btf.offset_of("file", &["f_path"])?,
        file_inode: btf.offset_of("file", &["f_inode"])?,
        dentry_parent: btf.offset_of("dentry", &["d_parent"])?,
        dentry_name: btf.offset_of("dentry", &["d_name", "name"])?,
        dentry_hash_len: btf.offset_of("dentry", &["d_name", "hash_len"])?,
        dentry_inode: btf.offset_of("dentry", &["d_inode"])?,
        inode_ino: btf.offset_of("inode", &["i_ino"])?,
        inode_sb: btf.offset_of("inode", &["i_sb"])?,
        inode_nlink: btf.offset_of("inode", &["i_nlink"])?,
        sb_dev: btf.offset_of("super_block", &["s_dev"])?,
        mount_mnt: btf.offset_of("mount", &["mnt"])?,
        mount_parent: btf.offset_of("mount", &["mnt_parent"])?,
        mount_mountpoint: btf.offset_of("mount", &["mnt_mountpoint"])?,
        vfsmount_root: btf.offset_of("vfsmount", &["mnt_root"])?,
        file_flags: btf.offset_of("file", &["f_flags"])?,
        ..VfsFields::default()
    };
    let spread =
        |what: &str| BtfError::NoSuchMember(what.to_string(), "(members too far apart)".into());
    f.dentry_span = span_start(
        &[f.dentry_parent, f.dentry_name, f.dentry_inode],
        DENTRY_SPAN,
    )
    .ok_or_else(|| spread("dentry"))?;
    f.inode_span =
        span_start(&[f.inode_sb, f.inode_ino], INODE_SPAN).ok_or_else(|| spread("inode"))?;
    f.file_span = span_start(
        &[
            f.file_path + path_mnt,
            f.file_path + path_dentry,
            f.file_inode,
        ],
        FILE_SPAN,
    )
    .ok_or_else(|| spread("file"))?;
    f.files_span = span_start(
        &[
            f.files_fdt,
            f.files_fdtab + f.fdt_max_fds,
            f.files_fdtab + f.fdt_fd,
        ],
        FILES_SPAN,
    )
    .ok_or_else(|| spread("files_struct"))?;
    f.mount_span = span_start(
        &[
            f.mount_parent,
            f.mount_mountpoint,
            f.mount_mnt + f.vfsmount_root,
        ],
        MOUNT_SPAN,
    )
    .ok_or_else(|| spread("mount"))?;
    Ok(f)
}

/// The running kernel's offsets, or `valid == 0` and why not.
pub fn of_running_kernel() -> (VfsFields, Option<String>) {
    of_parsed(&crate::kernel::shared_btf::ours())
}

/// [`of_running_kernel`] from already-parsed (or failed) BTF, for a source that reads
/// other offsets from the same parse.
pub fn of_parsed(btf: &Result<std::sync::Arc<Btf>, BtfError>) -> (VfsFields, Option<String>) {
    match btf
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|b| vfs_fields(b).map_err(|e| e.to_string()))
    {
        Ok(f) => (f, None),
        Err(why) => (VfsFields::default(), Some(why)),
    }
}

#[cfg(test)]
#[path = "vfs_fields_tests.rs"]
mod tests;
