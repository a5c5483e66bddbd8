//! What the kernel programs that name files share with the agent: the VFS struct offsets
//! they read through (from the running kernel's BTF), and the layout of a path they build
//! by walking dentries.
//!
//! A walked path is written **leaf first**: each component's bytes followed by a NUL
//! (`shadow\0etc\0` for `/etc/shadow`), at most [`PATH_ROOM`] bytes of components. User
//! space reverses the components and joins them with `/`. The buffer that receives it has
//! [`PATH_BUFFER`] bytes: a component starts below [`PATH_ROOM`] and takes at most
//! [`NAME_ROOM`] bytes with its NUL.

/// Bytes of components a walked path may take; a longer path is cut at its root end and
/// flagged [`WALK_TRUNCATED`]. A power of two (the programs mask offsets with it).
pub const PATH_ROOM: usize = 1024;
/// Longest component with its NUL (`NAME_MAX` is 255).
pub const NAME_ROOM: usize = 256;
/// Size of a buffer receiving a walked path.
pub const PATH_BUFFER: usize = PATH_ROOM + NAME_ROOM;
/// Steps a path walk takes at most (a component or a mount crossing each); a deeper path
/// is cut and flagged [`WALK_TRUNCATED`].
pub const MAX_WALK_STEPS: u32 = 40;

/// Walk flag: the path was longer than [`PATH_ROOM`] bytes or [`MAX_WALK_STEPS`] steps;
/// the components next to the root are missing.
pub const WALK_TRUNCATED: u32 = 1;
/// Walk flag: the walk ended at the root of a mount that is not attached under the
/// process's root (a memfd, a pipe, a file of another mount namespace reached through a
/// passed descriptor or `/proc/<pid>/root`). The components are those below that mount's
/// root.
pub const WALK_DETACHED: u32 = 2;
/// Walk flag: a component could not be read (the walk stopped there).
pub const WALK_READ_ERROR: u32 = 4;

/// Byte offsets inside kernel structs, read from the running kernel's BTF by the agent and
/// set as a global before loading. `valid == 0`: unknown (no BTF, or a member is missing);
/// the programs then fall back to what needs no offsets and say so through their flags.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VfsFields {
    /// Non-zero when every offset below was resolved.
    pub valid: u32,
    /// `task_struct.fs` (`struct fs_struct *`).
    pub task_fs: u32,
    /// `task_struct.files` (`struct files_struct *`).
    pub task_files: u32,
    /// `fs_struct.root` (`struct path`).
    pub fs_root: u32,
    /// `fs_struct.pwd` (`struct path`).
    pub fs_pwd: u32,
    /// `path.mnt` (`struct vfsmount *`).
    pub path_mnt: u32,
    /// `path.dentry` (`struct dentry *`).
    pub path_dentry: u32,
    /// `files_struct.fdt` (`struct fdtable *`).
    pub files_fdt: u32,
    /// `files_struct.fdtab`: the descriptor table embedded in the struct, the one `fdt`
    /// points to until the table grows.
    pub files_fdtab: u32,
    /// `files_struct.fd_array` (`struct file *[NR_OPEN_DEFAULT]`): the embedded table's
    /// slots.
    pub files_fd_array: u32,
    /// `fdtable.max_fds` (`unsigned int`).
    pub fdt_max_fds: u32,
    /// `fdtable.fd` (`struct file **`).
    pub fdt_fd: u32,
    /// `file.f_path` (`struct path`).
    pub file_path: u32,
    /// `file.f_inode` (`struct inode *`).
    pub file_inode: u32,
    /// `dentry.d_parent` (`struct dentry *`).
    pub dentry_parent: u32,
    /// `dentry.d_name.name` (`const unsigned char *`).
    pub dentry_name: u32,
    /// `dentry.d_name.hash_len` (`u64`: the name's length in the high 32 bits).
    pub dentry_hash_len: u32,
    /// `dentry.d_inode` (`struct inode *`).
    pub dentry_inode: u32,
    /// `inode.i_ino` (`unsigned long`).
    pub inode_ino: u32,
    /// `inode.i_sb` (`struct super_block *`).
    pub inode_sb: u32,
    /// `inode.i_nlink` (`unsigned int`).
    pub inode_nlink: u32,
    /// `super_block.s_dev` (`dev_t`: `major << 20 | minor`).
    pub sb_dev: u32,
    /// Offset of the `struct vfsmount` embedded in `struct mount` (`mount.mnt`).
    pub mount_mnt: u32,
    /// `mount.mnt_parent` (`struct mount *`).
    pub mount_parent: u32,
    /// `mount.mnt_mountpoint` (`struct dentry *`).
    pub mount_mountpoint: u32,
    /// `vfsmount.mnt_root` (`struct dentry *`).
    pub vfsmount_root: u32,
    /// `file.f_flags` (`unsigned int`).
    pub file_flags: u32,
    /// Where the programs start reading a `struct dentry` ([`DENTRY_SPAN`] bytes holding
    /// `d_parent`, `d_name` and `d_inode`).
    pub dentry_span: u32,
    /// Where the programs start reading a `struct inode` ([`INODE_SPAN`] bytes holding
    /// `i_sb` and `i_ino`).
    pub inode_span: u32,
    /// Where the programs start reading a `struct file` ([`FILE_SPAN`] bytes holding
    /// `f_path` and `f_inode`).
    pub file_span: u32,
    /// Where the programs start reading a `struct files_struct` ([`FILES_SPAN`] bytes
    /// holding `fdt` and the embedded table's `max_fds` and `fd`).
    pub files_span: u32,
    /// Where the programs start reading a `struct mount` ([`MOUNT_SPAN`] bytes holding
    /// `mnt_parent`, `mnt_mountpoint` and `mnt.mnt_root`).
    pub mount_span: u32,
}

impl VfsFields {
    /// Every offset unknown (`valid == 0`): the programs' default until the agent sets them.
    pub const UNKNOWN: VfsFields = VfsFields {
        valid: 0,
        task_fs: 0,
        task_files: 0,
        fs_root: 0,
        fs_pwd: 0,
        path_mnt: 0,
        path_dentry: 0,
        files_fdt: 0,
        files_fdtab: 0,
        files_fd_array: 0,
        fdt_max_fds: 0,
        fdt_fd: 0,
        file_path: 0,
        file_inode: 0,
        dentry_parent: 0,
        dentry_name: 0,
        dentry_hash_len: 0,
        dentry_inode: 0,
        inode_ino: 0,
        inode_sb: 0,
        inode_nlink: 0,
        sb_dev: 0,
        mount_mnt: 0,
        mount_parent: 0,
        mount_mountpoint: 0,
        vfsmount_root: 0,
        file_flags: 0,
        dentry_span: 0,
        inode_span: 0,
        file_span: 0,
        files_span: 0,
        mount_span: 0,
    };
}

/// Slots of the descriptor table embedded in `struct files_struct` (`NR_OPEN_DEFAULT`,
/// `BITS_PER_LONG` on 64-bit kernels).
pub const EMBEDDED_FDS: u32 = 64;

/// Bytes of a `struct dentry` read at once (one read per directory level instead of three).
pub const DENTRY_SPAN: usize = 32;
/// Bytes of a `struct inode` read at once.
pub const INODE_SPAN: usize = 32;
/// Bytes of a `struct file` read at once.
pub const FILE_SPAN: usize = 64;
/// Bytes of a `struct files_struct` read at once (the table pointer and, while it is the
/// embedded one, the table itself: one read instead of two).
pub const FILES_SPAN: usize = 32;
/// Bytes of a `struct mount` read at once (where it is mounted and what it shows: one read
/// per mount crossing instead of three). 48, not 32: `mnt_root` may lie anywhere in the
/// embedded `struct vfsmount`, whose layout kernels built with RANDSTRUCT shuffle.
pub const MOUNT_SPAN: usize = 48;

/// The start of a read of `span` bytes covering every 8-byte member at `offsets`, `None`
/// when they do not fit (or one is not 8-byte aligned relative to the others).
pub fn span_start(offsets: &[u32], span: usize) -> Option<u32> {
    let start = *offsets.iter().min()?;
    let end = offsets.iter().max()? + 8;
    let aligned = offsets.iter().all(|o| (o - start) % 8 == 0);
    (aligned && (end - start) as usize <= span).then_some(start)
}

/// A file's identity as the kernel sees it: `inode->i_sb->s_dev` and `inode->i_ino`.
/// User space converts `stat`'s `st_dev` with [`kernel_dev`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InodeKey {
    /// Device (`major << 20 | minor`).
    pub dev: u32,
    /// Padding (zero).
    pub _pad: u32,
    /// Inode number.
    pub ino: u64,
}

/// The kernel's `dev_t` (`MKDEV`) of a device number's major and minor.
pub const fn kernel_dev(major: u32, minor: u32) -> u32 {
    (major << 20) | (minor & 0xf_ffff)
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
    unsafe impl aya::Pod for super::VfsFields {}
    unsafe impl aya::Pod for super::InodeKey {}
}
