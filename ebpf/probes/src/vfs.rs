//! Reading the VFS from a tracepoint: a descriptor's file, a file's identity, a task's
//! root and working directory, and the path of a dentry walked up to that root.
//!
//! Every read is a probing read (`bpf_probe_read_kernel`) at an offset of
//! [`VfsFields`] (read from the running kernel's BTF by the agent), so it works from the
//! classic tracepoints on every kernel and a bad pointer is a failed read, never a fault.
//! Tracepoint programs run under RCU, so the descriptor table, dentries and mounts read
//! here are not freed while the program runs; they may change concurrently (a rename, a
//! `close` from another thread), which can make a walk see a mix of old and new names.

use core::ptr::{read_volatile, write_volatile};

use aya_ebpf::{
    helpers::{bpf_probe_read_kernel, generated},
    Global,
};
use kotel_common::vfs::{
    VfsFields, DENTRY_SPAN, FILES_SPAN, FILE_SPAN, INODE_SPAN, MAX_WALK_STEPS, MOUNT_SPAN,
    NAME_ROOM, PATH_ROOM, WALK_DETACHED, WALK_READ_ERROR, WALK_TRUNCATED,
};

/// A mount and a dentry on it (a kernel `struct path`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Path {
    /// `struct vfsmount *`.
    pub mnt: u64,
    /// `struct dentry *`.
    pub dentry: u64,
}

/// What one read of a `struct dentry` gives.
#[derive(Clone, Copy)]
pub struct Dentry {
    /// `d_parent` (the dentry itself at its filesystem's root).
    pub parent: u64,
    /// `d_name.name`.
    pub name: u64,
    /// `d_name.len`.
    pub name_len: u32,
    /// `d_inode` (0 for a negative dentry).
    pub inode: u64,
}

/// What one read of a `struct inode` gives.
#[derive(Clone, Copy)]
pub struct Inode {
    /// `i_sb`.
    pub sb: u64,
    /// `i_ino`.
    pub ino: u64,
}

/// What one read of a `struct file` gives.
#[derive(Clone, Copy)]
pub struct File {
    /// `f_path`.
    pub path: Path,
    /// `f_inode`.
    pub inode: u64,
}

/// Where a span read lands: scratch memory of the caller (a per-CPU map value, so that
/// spans take no stack), as many words as the largest span.
pub type Span = [u64; FILE_SPAN / 8];

/// The 8-byte member at `off` of a span read from `start` (a 4-byte member is its low
/// half).
#[inline(always)]
pub fn member(span: &Span, start: u32, off: u32) -> u64 {
    // SAFETY: a volatile read of an element of `span` (the index is masked into it): the
    // helper wrote the words, the compiler cannot see it.
    unsafe { read_volatile(&span[(off.wrapping_sub(start) / 8) as usize & (FILE_SPAN / 8 - 1)]) }
}

/// Reads `bytes` (at most the size of a [`Span`]) at `base + start` into `span`; `None`
/// for a null base or a failed read.
#[inline(always)]
pub fn read_span(span: &mut Span, base: u64, start: u32, bytes: usize) -> Option<()> {
    if base == 0 {
        return None;
    }
    // SAFETY: `span` has room for `bytes`; a probing read: a bad address fails.
    let rc = unsafe {
        generated::bpf_probe_read_kernel(
            span.as_mut_ptr().cast(),
            bytes as u32,
            (base + u64::from(start)) as *const _,
        )
    };
    (rc == 0).then_some(())
}

const _: () = assert!(
    DENTRY_SPAN <= FILE_SPAN
        && INODE_SPAN <= FILE_SPAN
        && FILES_SPAN <= FILE_SPAN
        && MOUNT_SPAN <= FILE_SPAN
);

/// What one read of a `struct mount` gives about the mount `mnt` (a `struct vfsmount *`).
#[derive(Clone, Copy)]
pub struct Mount {
    /// `mnt_root`: the dentry the mount shows at its top.
    pub root: u64,
    /// Where it is mounted (the dentry below it on the parent mount); `None` for a mount
    /// attached nowhere (its own parent: a namespace's root mount, or an internal one such
    /// as memfd's).
    pub on: Option<Path>,
}

/// The reads a walk up the directory tree needs, in two flavours: [`Vfs`] (probing reads,
/// through any address) and [`crate::typed::Typed`] (direct loads, through pointers the
/// verifier knows as BTF pointers). Same contract for both: `None` for a null pointer or
/// a failed read.
pub trait VfsRead {
    /// Whether a walk may go on through this reader from where a mount is mounted (a
    /// pointer read from a `struct mount`).
    const CROSSES_MOUNTS: bool;
    /// `d_parent`, `d_name` and `d_inode` of `dentry`.
    fn dentry(&self, dentry: u64, span: &mut Span) -> Option<Dentry>;
    /// `i_sb` and `i_ino` of `inode`.
    fn inode(&self, inode: u64, span: &mut Span) -> Option<Inode>;
    /// `f_path` and `f_inode` of `file`.
    fn file(&self, file: u64, span: &mut Span) -> Option<File>;
    /// `sb->s_dev`.
    fn sb_dev(&self, sb: u64) -> Option<u32>;
}

/// Reads through the offsets of one kernel build. Each offset is loaded from the global
/// when used (the verifier sees a frozen read-only value: a constant), so none of them
/// takes stack.
#[derive(Clone, Copy)]
pub struct Vfs {
    pub(crate) f: *const VfsFields,
}

/// The offset `$field` of a [`Vfs`].
macro_rules! off {
    ($vfs:expr, $field:ident) => {{
        // SAFETY: `f` points to the program's global (see `Vfs::new`).
        #[allow(unused_unsafe)] // also used inside unsafe blocks
        let value = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*$vfs.f).$field)) };
        value
    }};
}
pub(crate) use off;

impl VfsRead for Vfs {
    const CROSSES_MOUNTS: bool = true;

    #[inline(always)]
    fn dentry(&self, dentry: u64, span: &mut Span) -> Option<Dentry> {
        Vfs::dentry(self, dentry, span)
    }

    #[inline(always)]
    fn inode(&self, inode: u64, span: &mut Span) -> Option<Inode> {
        Vfs::inode(self, inode, span)
    }

    #[inline(always)]
    fn file(&self, file: u64, span: &mut Span) -> Option<File> {
        Vfs::file(self, file, span)
    }

    #[inline(always)]
    fn sb_dev(&self, sb: u64) -> Option<u32> {
        Vfs::sb_dev(self, sb)
    }
}

impl Vfs {
    /// Reads through the program's global `fields`.
    #[inline(always)]
    pub fn new(fields: &'static Global<VfsFields>) -> Self {
        // `Global<T>` is `repr(transparent)` over `T`.
        Self {
            f: (fields as *const Global<VfsFields>).cast(),
        }
    }

    /// Whether the offsets were resolved (`valid != 0`).
    #[inline(always)]
    pub fn valid(&self) -> bool {
        off!(self, valid) != 0
    }

    /// `d_parent`, `d_name` and `d_inode` of `dentry`, in one read into `span`.
    #[inline(always)]
    pub fn dentry(&self, dentry: u64, span: &mut Span) -> Option<Dentry> {
        let start = off!(self, dentry_span);
        read_span(span, dentry, start, DENTRY_SPAN)?;
        Some(Dentry {
            parent: member(span, start, off!(self, dentry_parent)),
            name: member(span, start, off!(self, dentry_name)),
            name_len: (member(span, start, off!(self, dentry_hash_len)) >> 32) as u32,
            inode: member(span, start, off!(self, dentry_inode)),
        })
    }

    /// `i_sb` and `i_ino` of `inode`, in one read into `span`.
    #[inline(always)]
    pub fn inode(&self, inode: u64, span: &mut Span) -> Option<Inode> {
        let start = off!(self, inode_span);
        read_span(span, inode, start, INODE_SPAN)?;
        Some(Inode {
            sb: member(span, start, off!(self, inode_sb)),
            ino: member(span, start, off!(self, inode_ino)),
        })
    }

    /// `f_path` and `f_inode` of `file`, in one read into `span`.
    #[inline(always)]
    pub fn file(&self, file: u64, span: &mut Span) -> Option<File> {
        let start = off!(self, file_span);
        read_span(span, file, start, FILE_SPAN)?;
        let path = off!(self, file_path);
        Some(File {
            path: Path {
                mnt: member(span, start, path + off!(self, path_mnt)),
                dentry: member(span, start, path + off!(self, path_dentry)),
            },
            inode: member(span, start, off!(self, file_inode)),
        })
    }

    /// `sb->s_dev`.
    #[inline(always)]
    pub fn sb_dev(&self, sb: u64) -> Option<u32> {
        self.read(sb, off!(self, sb_dev))
    }

    /// `file.f_flags` of `file`.
    #[inline(always)]
    pub fn file_flags(&self, file: u64) -> Option<u32> {
        self.read(file, off!(self, file_flags))
    }

    /// The value of type `T` at `base + off`; `None` for a null base or a failed read.
    #[inline(always)]
    pub fn read<T: Copy>(&self, base: u64, off: u32) -> Option<T> {
        if base == 0 {
            return None;
        }
        // SAFETY: a probing read: a bad address fails, it does not fault.
        unsafe { bpf_probe_read_kernel((base + u64::from(off)) as *const T) }.ok()
    }

    /// A non-null kernel pointer at `base + off`.
    #[inline(always)]
    pub fn ptr(&self, base: u64, off: u32) -> Option<u64> {
        self.read::<u64>(base, off).filter(|p| *p != 0)
    }

    /// The `struct path` at `base + off`.
    #[inline(always)]
    pub fn path_at(&self, base: u64, off: u32) -> Option<Path> {
        Some(Path {
            mnt: self.ptr(base, off + off!(self, path_mnt))?,
            dentry: self.ptr(base, off + off!(self, path_dentry))?,
        })
    }

    /// The file behind descriptor `fd` of `task` (`task->files->fdt->fd[fd]`), `None` for
    /// a closed or out-of-range descriptor or a failed read. `checked` compares `fd` with
    /// `max_fds` first: needed for a descriptor a process passed, not for one the kernel
    /// just returned. While the table is the one embedded in `files_struct` (until a
    /// process has more descriptors than it holds), one read gives both the table's
    /// address and its size.
    #[inline(always)]
    pub fn fd_file(&self, task: u64, fd: u32, checked: bool, span: &mut Span) -> Option<u64> {
        let files = self.ptr(task, off!(self, task_files))?;
        let start = off!(self, files_span);
        read_span(span, files, start, FILES_SPAN)?;
        let fdt = member(span, start, off!(self, files_fdt));
        let fdtab = off!(self, files_fdtab);
        let (table, max_fds) = if fdt == files + u64::from(fdtab) {
            (
                member(span, start, fdtab + off!(self, fdt_fd)),
                member(span, start, fdtab + off!(self, fdt_max_fds)) as u32,
            )
        } else {
            let table = self.ptr(fdt, off!(self, fdt_fd))?;
            let max_fds = if checked {
                self.read::<u32>(fdt, off!(self, fdt_max_fds))?
            } else {
                u32::MAX
            };
            (table, max_fds)
        };
        if table == 0 || (checked && fd >= max_fds) {
            return None;
        }
        self.ptr(table + 8 * u64::from(fd), 0)
    }

    /// `inode->i_nlink`.
    #[inline(always)]
    pub fn nlink(&self, inode: u64) -> Option<u32> {
        self.read(inode, off!(self, inode_nlink))
    }

    /// `task->fs->root` and `task->fs->pwd`.
    #[inline(always)]
    pub fn root_and_pwd(&self, task: u64) -> Option<(Path, Path)> {
        let fs = self.ptr(task, off!(self, task_fs))?;
        Some((
            self.path_at(fs, off!(self, fs_root))?,
            self.path_at(fs, off!(self, fs_pwd))?,
        ))
    }

    /// The mount `mnt` (`struct vfsmount *`): what it shows and where it is mounted, in one
    /// read of its `struct mount`.
    #[inline(always)]
    pub fn mount(&self, mnt: u64, span: &mut Span) -> Option<Mount> {
        let at = off!(self, mount_mnt);
        let mount = mnt.wrapping_sub(u64::from(at));
        let start = off!(self, mount_span);
        read_span(span, mount, start, MOUNT_SPAN)?;
        let root = member(span, start, at + off!(self, vfsmount_root));
        let parent = member(span, start, off!(self, mount_parent));
        if root == 0 || parent == 0 {
            return None;
        }
        if parent == mount {
            return Some(Mount { root, on: None });
        }
        let dentry = member(span, start, off!(self, mount_mountpoint));
        if dentry == 0 {
            return None;
        }
        Some(Mount {
            root,
            on: Some(Path {
                mnt: parent + u64::from(at),
                dentry,
            }),
        })
    }

    /// `mnt->mnt_root`: the dentry mount `mnt` (`struct vfsmount *`) shows at its top.
    #[inline(always)]
    pub fn mount_root(&self, mnt: u64) -> Option<u64> {
        self.ptr(mnt, off!(self, vfsmount_root))
    }

    /// Where mount `mnt` (`struct vfsmount *`) is mounted: the dentry below it and the
    /// parent mount. `Some(None)` for a mount attached nowhere (its own parent: a
    /// namespace's root mount, or an internal one such as memfd's); `None` when a read
    /// failed.
    #[inline(always)]
    pub fn mounted_on(&self, mnt: u64) -> Option<Option<Path>> {
        let mount = mnt.wrapping_sub(u64::from(off!(self, mount_mnt)));
        let parent = self.ptr(mount, off!(self, mount_parent))?;
        if parent == mount {
            return Some(None);
        }
        Some(Some(Path {
            mnt: parent + u64::from(off!(self, mount_mnt)),
            dentry: self.ptr(mount, off!(self, mount_mountpoint))?,
        }))
    }

    /// Writes the path of `from` up to `root` into `dst`, leaf first (see
    /// `kotel_common::vfs`), keeping the bytes written in `*len` (which it sets to 0 first);
    /// returns the `WALK_*` flags.
    ///
    /// The length lives in memory, not in a register, on purpose: the verifier then sees
    /// the states of a mount crossing and of a component as equal at the next step and
    /// verifies the loop once per step instead of once per path through it. Mounts are read
    /// field by field here ([`Self::mount_root`], [`Self::mounted_on`]), not as one span
    /// ([`Self::mount`]): fewer values live across the loop, which the 5.10 and 6.1
    /// verifiers need to keep the length's bounds (with the span, they lost them).
    ///
    /// # Safety
    /// `dst` has `kotel_common::vfs::PATH_BUFFER` writable bytes; `len` is writable map
    /// memory; `span` is scratch for the dentry reads.
    #[inline(always)]
    pub unsafe fn walk_path(
        &self,
        from: Path,
        root: Path,
        dst: *mut u8,
        len: *mut u32,
        span: &mut Span,
    ) -> u32 {
        // SAFETY: `len` is writable (caller).
        unsafe { write_volatile(len, 0) };
        let mut at = from;
        let Some(mut top) = self.mount_root(at.mnt) else {
            return WALK_READ_ERROR;
        };
        for _ in 0..MAX_WALK_STEPS {
            if at == root {
                return 0;
            }
            if at.dentry == top {
                // The top of a mount: go on from where it is mounted.
                match self.mounted_on(at.mnt) {
                    Some(Some(below)) => {
                        at = below;
                        top = match self.mount_root(at.mnt) {
                            Some(t) => t,
                            None => return WALK_READ_ERROR,
                        };
                        continue;
                    }
                    Some(None) => return WALK_DETACHED,
                    None => return WALK_READ_ERROR,
                }
            }
            let Some(d) = self.dentry(at.dentry, span) else {
                return WALK_READ_ERROR;
            };
            // SAFETY: `len` is readable (caller).
            let used = unsafe { read_volatile(len) } as usize;
            if used >= PATH_ROOM - 1 {
                return WALK_TRUNCATED;
            }
            // SAFETY: the offset is below PATH_ROOM and the helper writes at most NAME_ROOM
            // bytes, inside the caller's PATH_ROOM + NAME_ROOM; a bad name pointer fails.
            let n = unsafe {
                generated::bpf_probe_read_kernel_str(
                    dst.add(used & (PATH_ROOM - 1)).cast(),
                    NAME_ROOM as u32,
                    d.name as *const _,
                )
            };
            if n <= 0 {
                return WALK_READ_ERROR;
            }
            // SAFETY: as above.
            unsafe { write_volatile(len, used as u32 + n as u32) };
            if d.parent == at.dentry {
                // A root that is not its mount's top (a memfd's or a pipe's pseudo dentry,
                // a disconnected one): named, but not reachable from here.
                return WALK_DETACHED;
            }
            at.dentry = d.parent;
        }
        WALK_TRUNCATED
    }
}
