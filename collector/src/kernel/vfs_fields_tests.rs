use super::*;

#[test]
fn the_running_kernel_resolves_every_vfs_offset_when_it_has_btf() {
    let Ok(btf) = crate::kernel::shared_btf::ours() else {
        return; // no BTF on this machine: nothing to check
    };
    let f = vfs_fields(&btf).expect("every VFS member");
    assert_eq!(f.valid, 1);
    assert_eq!(
        (f.path_mnt, f.path_dentry),
        (0, 8),
        "struct path {{ mnt; dentry; }}"
    );
    assert_ne!(f.fs_root, f.fs_pwd);
    assert_ne!(f.dentry_parent, f.dentry_inode);
    assert!(f.mount_parent != f.mount_mountpoint && f.inode_sb != f.inode_ino);
}
