//! Direct loads through BTF pointers: the same VFS reads as [`Vfs`], without a helper call
//! per read (a load the JIT guards with an exception-table entry, where a probing read is
//! a call into the kernel's fault-tolerant copy).
//!
//! Contract: only for pointers the verifier knows as BTF pointers of the struct the offset
//! belongs to: `bpf_get_current_task_btf()` and what direct loads through it return. A
//! probing read's result is a plain number, which the verifier refuses to dereference; so
//! the walk leaves this reader where it must read one (a mount's `struct mount`, reached by
//! a negative offset from its `struct vfsmount`). The offsets are the running kernel's
//! (from the same BTF the verifier checks each load against), from frozen globals: the
//! verifier sees constants. Kernels 5.11 and later (`bpf_get_current_task_btf` in
//! tracepoint programs); the agent enables it only where it also reads syscall arguments
//! from the registers (6.1 and later).

use core::ptr::read_volatile;

use kotel_common::vfs::EMBEDDED_FDS;

use crate::vfs::{off, Dentry, File, Inode, Path, Span, Vfs, VfsRead};

/// The typed reader over the offsets of `vfs`.
#[derive(Clone, Copy)]
pub struct Typed {
    vfs: Vfs,
}

/// The `T` at `ptr + off`, a direct load.
///
/// # Safety
/// `ptr` is a BTF pointer (see the module's contract) and `off` the offset of a member of
/// type `T` in its struct; the JIT turns a faulting load into a zero.
#[inline(always)]
unsafe fn load<T: Copy>(ptr: u64, off: u32) -> T {
    // SAFETY: the caller's contract; the verifier checks the load against the BTF.
    unsafe { read_volatile((ptr + u64::from(off)) as *const T) }
}

impl Typed {
    /// The typed reader over the offsets of `vfs`.
    #[inline(always)]
    pub fn new(vfs: Vfs) -> Self {
        Self { vfs }
    }

    /// The file behind descriptor `fd` of the current task: a BTF pointer while the descriptor
    /// table is the one embedded in `files_struct` (a process that never had more than 64
    /// descriptors open), else a plain pointer read from the grown table (one probing
    /// read; the way down to the table is direct loads either way).
    ///
    /// An embedded slot is chosen by a comparison tree over constant offsets: the verifier
    /// only follows a BTF pointer at a constant offset.
    ///
    /// # Safety
    /// `task` is the current task as a BTF pointer (`bpf_get_current_task_btf`).
    #[inline(always)]
    pub unsafe fn current_fd_file(&self, task: u64, fd: u32) -> FdFile {
        // SAFETY: BTF pointers at their structs' member offsets, down from the task.
        unsafe {
            let files: u64 = load(task, off!(self.vfs, task_files));
            if files == 0 {
                return FdFile::None;
            }
            let fdt: u64 = load(files, off!(self.vfs, files_fdt));
            if fdt == 0 {
                return FdFile::None;
            }
            let max: u32 = load(fdt, off!(self.vfs, fdt_max_fds));
            if fd >= max {
                return FdFile::None;
            }
            let embedded = files + u64::from(off!(self.vfs, files_fdtab));
            if fdt == embedded && fd < EMBEDDED_FDS {
                let slots = files + u64::from(off!(self.vfs, files_fd_array));
                return match slot(slots, fd) {
                    0 => FdFile::None,
                    file => FdFile::Typed(file),
                };
            }
            let table: u64 = load(fdt, off!(self.vfs, fdt_fd));
            match self.vfs.ptr(table + 8 * u64::from(fd), 0) {
                Some(file) => FdFile::Plain(file),
                None => FdFile::None,
            }
        }
    }
}

/// A descriptor's file, as [`Typed::current_fd_file`] finds it.
pub enum FdFile {
    /// A BTF pointer: read it with [`Typed`].
    Typed(u64),
    /// A plain pointer: read it with [`Vfs`].
    Plain(u64),
    /// A closed descriptor, or a failed read.
    None,
}

/// Slot `fd` (< 64) of the embedded table at `slots`: six comparisons down to a load at a
/// constant offset.
///
/// # Safety
/// `slots` is a BTF pointer to `files_struct.fd_array`.
#[inline(always)]
unsafe fn slot(slots: u64, fd: u32) -> u64 {
    macro_rules! pick {
        (@split $lo:expr, 64) => {
            if fd < $lo + 32 { pick!($lo, 32) } else { pick!($lo + 32, 32) }
        };
        (@split $lo:expr, 32) => {
            if fd < $lo + 16 { pick!($lo, 16) } else { pick!($lo + 16, 16) }
        };
        (@split $lo:expr, 16) => {
            if fd < $lo + 8 { pick!($lo, 8) } else { pick!($lo + 8, 8) }
        };
        (@split $lo:expr, 8) => {
            if fd < $lo + 4 { pick!($lo, 4) } else { pick!($lo + 4, 4) }
        };
        (@split $lo:expr, 4) => {
            if fd < $lo + 2 { pick!($lo, 2) } else { pick!($lo + 2, 2) }
        };
        (@split $lo:expr, 2) => {
            if fd < $lo + 1 { pick!($lo, 1) } else { pick!($lo + 1, 1) }
        };
        ($lo:expr, 1) => {
            // SAFETY: a slot of the array (caller).
            unsafe { load::<u64>(slots, 8 * ($lo)) }
        };
        ($lo:expr, $n:tt) => {
            pick!(@split $lo, $n)
        };
    }
    const _: () = assert!(EMBEDDED_FDS == 64);
    pick!(0u32, 64)
}

impl VfsRead for Typed {
    /// A `struct mount` is reached by a negative offset from its `struct vfsmount`, which
    /// the verifier does not follow as a BTF pointer: what it gives is a plain number.
    const CROSSES_MOUNTS: bool = false;

    #[inline(always)]
    fn dentry(&self, dentry: u64, _span: &mut Span) -> Option<Dentry> {
        if dentry == 0 {
            return None;
        }
        let v = self.vfs;
        // SAFETY: `dentry` is a BTF `struct dentry *` (module contract); `d_name.len` is the
        // high half of `d_name.hash_len` (little endian).
        unsafe {
            Some(Dentry {
                parent: load(dentry, off!(v, dentry_parent)),
                name: load(dentry, off!(v, dentry_name)),
                name_len: load(dentry, off!(v, dentry_hash_len) + 4),
                inode: load(dentry, off!(v, dentry_inode)),
            })
        }
    }

    #[inline(always)]
    fn inode(&self, inode: u64, _span: &mut Span) -> Option<Inode> {
        if inode == 0 {
            return None;
        }
        let v = self.vfs;
        // SAFETY: `inode` is a BTF `struct inode *` (module contract).
        unsafe {
            Some(Inode {
                sb: load(inode, off!(v, inode_sb)),
                ino: load(inode, off!(v, inode_ino)),
            })
        }
    }

    #[inline(always)]
    fn file(&self, file: u64, _span: &mut Span) -> Option<File> {
        if file == 0 {
            return None;
        }
        let v = self.vfs;
        let path = off!(v, file_path);
        // SAFETY: `file` is a BTF `struct file *` (module contract).
        unsafe {
            Some(File {
                path: Path {
                    mnt: load(file, path + off!(v, path_mnt)),
                    dentry: load(file, path + off!(v, path_dentry)),
                },
                inode: load(file, off!(v, file_inode)),
            })
        }
    }

    #[inline(always)]
    fn sb_dev(&self, sb: u64) -> Option<u32> {
        if sb == 0 {
            return None;
        }
        // SAFETY: `sb` is a BTF `struct super_block *` (module contract).
        Some(unsafe { load(sb, off!(self.vfs, sb_dev)) })
    }
}

/// `bpf_rdonly_cast(ptr, btf_id)` (kernels 6.2 and later): `ptr` as a BTF pointer to the
/// struct whose id is `btf_id`, for direct loads. Emitted as the placeholder the agent
/// patches (`kotel_common::kfunc`), since aya does not relocate kfunc calls.
///
/// # Safety
/// Only reached where the agent said the kernel has the kfunc (else the placeholder is
/// `r0 = 0`); `btf_id` is a struct's id in the kernel's BTF, a constant to the verifier.
#[inline(always)]
pub unsafe fn rdonly_cast(ptr: u64, btf_id: u32) -> u64 {
    let ret: u64;
    // SAFETY: a kfunc call under the BPF calling convention: arguments in r1-r2, the
    // result in r0, r1-r5 clobbered.
    unsafe {
        core::arch::asm!(
            ".8byte {call}",
            call = const kotel_common::kfunc::RDONLY_CAST_CALL,
            in("r1") ptr,
            in("r2") u64::from(btf_id),
            lateout("r0") ret,
            lateout("r1") _,
            lateout("r2") _,
            lateout("r3") _,
            lateout("r4") _,
            lateout("r5") _,
            options(nostack),
        );
    }
    ret
}
