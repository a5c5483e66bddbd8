//! `sys_exit_*`: match the open that returns and report it when watched.
//!
//! A successful open is matched by the file its descriptor holds; a failed one by the path
//! it requested (absolute: the LPM trie; relative: the directory it started from). Without
//! VFS offsets every open is matched by its requested path.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user, generated},
    programs::TracePointContext,
};
use kotel_common::file_open::{
    matched, FileOpenRecord, FileOpenStat, PATH_MAX_BYTES, STATUS_REQUESTED_TRUNCATED,
};
use kotel_probes::{
    read::field,
    typed::{rdonly_cast, FdFile, Typed},
    vfs::{Vfs, VfsRead},
};

use super::args::{self, AT_FDCWD};
use super::enter::OFF_SYSCALL_NR;
use super::matching::{self, Hit, Name};
use super::report;
use super::work::Work;
use super::{count, KOTEL_FILE_OPEN_PREFIXES, KOTEL_FILE_OPEN_SCRATCH};
use super::{KOTEL_FILE_OPEN_FILE_BTF_ID, KOTEL_FILE_OPEN_VFS_FIELDS};

/// Offset of `ret` in every `sys_exit_*` record.
const OFF_RET: usize = 16;

pub(super) fn exit(ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let syscall_nr = field::<i32>(ctx, OFF_SYSCALL_NR) as u32;
    let ret = field::<i64>(ctx, OFF_RET) as i32;
    let Some(work) = KOTEL_FILE_OPEN_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    let vfs = Vfs::new(&KOTEL_FILE_OPEN_VFS_FIELDS);
    // The task returning from the syscall, fetched once: where the exit reads the
    // registers, as the BTF pointer `bpf_task_pt_regs` and the typed reads start from
    // (probing reads take it as well); elsewhere as a plain pointer.
    // SAFETY: no preconditions; `in_regs()` holds only on kernels with the BTF helper.
    let task = unsafe {
        if args::in_regs() {
            generated::bpf_get_current_task_btf() as u64
        } else {
            generated::bpf_get_current_task()
        }
    };
    // A successful open is matched by its file: its arguments are read only if reported.
    let by_file = vfs.valid() && ret >= 0;
    // SAFETY: `work` is this CPU's scratch; nothing else runs on this CPU meanwhile.
    unsafe {
        let state = if !args::in_regs() {
            args::state::held_if(args::from_table(pid_tgid, syscall_nr, &mut (*work).args))
        } else if by_file {
            args::state::IN_REGS
        } else {
            let (dst, span) = (&mut (*work).args, &mut (*work).span);
            args::state::held_if(args::from_regs(task, pid_tgid, syscall_nr, dst, span))
        };
        (*work).args_state = state;
        if by_file {
            if state == args::state::NONE {
                count(FileOpenStat::ArgsLost);
            }
            opened(ctx, work, &vfs, task, ret)
        } else if state == args::state::HELD {
            requested(ctx, work, &vfs, task, ret)
        } else {
            count(FileOpenStat::ArgsLost);
        }
    }
}

/// A successful open: matched by the file behind the descriptor it returned, read through
/// BTF pointers where it can be (kernels where the arguments are in the registers: a
/// descriptor table that has not grown, or any table where the kernel casts a plain
/// pointer, 6.2+), else through probing reads.
///
/// # Safety
/// `work` is this CPU's scratch.
#[inline(always)]
unsafe fn opened(ctx: &TracePointContext, work: *mut Work, vfs: &Vfs, task: u64, ret: i32) {
    let typed = Typed::new(*vfs);
    let file = if args::in_regs() {
        // SAFETY: `task` is the BTF pointer of the current task (`in_regs()`).
        unsafe { typed.current_fd_file(task, ret as u32) }
    } else {
        // SAFETY: `work` is this CPU's scratch (caller).
        match vfs.fd_file(task, ret as u32, false, unsafe { &mut (*work).span }) {
            Some(file) => FdFile::Plain(file),
            None => FdFile::None,
        }
    };
    // A BTF pointer to the file where there is one: from the embedded table, or cast (the
    // kernel has bpf_rdonly_cast, 6.2+); else the plain pointer and probing reads.
    let cast = KOTEL_FILE_OPEN_FILE_BTF_ID.load();
    let (file, typed_read) = match file {
        FdFile::Typed(file) => (file, true),
        // SAFETY: the agent patched the call in only where the kernel has the kfunc, and
        // sets the id only then; `cast` is a constant to the verifier.
        FdFile::Plain(file) if cast != 0 && args::in_regs() => {
            (unsafe { rdonly_cast(file, cast) }, true)
        }
        FdFile::Plain(file) => (file, false),
        FdFile::None => {
            count(FileOpenStat::ReadError);
            return;
        }
    };
    // SAFETY: `work` is this CPU's scratch (caller).
    let found = unsafe {
        (*work).typed = typed_read as u32;
        if typed_read {
            matched(&typed, vfs, file, work)
        } else {
            matched(vfs, vfs, file, work)
        }
    };
    match found {
        Found::Hit(hit) => {
            // SAFETY: as above; `matched` filled `work`.
            unsafe { report::emit(ctx, work, vfs, task, hit, ret, false) }
        }
        Found::ReadError => count(FileOpenStat::ReadError),
        Found::Miss => {}
    }
}

/// What matching an opened file found.
enum Found {
    Hit(Hit),
    Miss,
    ReadError,
}

/// Matches the opened `file` (read through `r`) and, on a match, fills `work` with what
/// the report needs.
///
/// # Safety
/// `work` is this CPU's scratch.
#[inline(always)]
unsafe fn matched<R: VfsRead>(r: &R, vfs: &Vfs, file: u64, work: *mut Work) -> Found {
    // SAFETY: `work` is this CPU's scratch (caller).
    unsafe {
        let span = &mut (*work).span;
        let Some(f) = r.file(file, span) else {
            return Found::ReadError;
        };
        let Some(inode) = r.inode(f.inode, span) else {
            return Found::ReadError;
        };
        let Some(hit) = matching::opened(r, vfs, f.path, inode, &mut (*work).key, span) else {
            return Found::Miss;
        };
        (*work).file = file;
        (*work).inode = f.inode;
        (*work).sb = inode.sb;
        (*work).rec.ino = inode.ino;
        (*work).from_mnt = f.path.mnt;
        (*work).from_dentry = f.path.dentry;
        (*work).from_base = 0;
        Found::Hit(hit)
    }
}

/// A failed open (or any open without VFS offsets): matched by the path it requested.
///
/// # Safety
/// `work` is this CPU's scratch, with the open's arguments.
#[inline(always)]
unsafe fn requested(ctx: &TracePointContext, work: *mut Work, vfs: &Vfs, task: u64, ret: i32) {
    // SAFETY: `work` is this CPU's scratch (caller).
    unsafe {
        let rec = &mut (*work).rec;
        if read_requested(rec, (*work).args.filename).is_none() {
            count(FileOpenStat::ReadError);
            return;
        }
        (*work).file = 0;
        (*work).typed = 0;
        (*work).from_dentry = 0;
        (*work).from_base = 0;
        if rec.path[0] == b'/' || !vfs.valid() {
            if let Some(hit) = by_prefix(rec) {
                report::emit(ctx, work, vfs, task, hit, ret, true);
            }
            return;
        }
        // Relative: from the working directory or the directory descriptor.
        let dfd = (*work).args.dfd;
        let base = if dfd == AT_FDCWD {
            vfs.root_and_pwd(task).map(|(_, pwd)| pwd)
        } else {
            vfs.fd_file(task, dfd as u32, true, &mut (*work).span)
                .and_then(|f| vfs.file(f, &mut (*work).span))
                .map(|f| f.path)
        };
        let Some(base) = base else {
            count(FileOpenStat::ReadError);
            return;
        };
        let name = Name {
            ptr: rec.path.as_ptr() as u64,
            len: rec.path_bits / 8,
        };
        let Some(hit) = matching::above(vfs, vfs, base, name, &mut (*work).key, &mut (*work).span)
        else {
            return;
        };
        (*work).from_mnt = base.mnt;
        (*work).from_dentry = base.dentry;
        (*work).from_base = 1;
        report::emit(ctx, work, vfs, task, hit, ret, true);
    }
}

/// The watched path the requested path (in `rec.path`) starts with, at a component
/// boundary.
#[inline(always)]
fn by_prefix(rec: &FileOpenRecord) -> Option<Hit> {
    // SAFETY: `path_bits` directly precedes `path` (asserted in kotel_common), so the two
    // form the trie's key `{ prefix_len: u32, data: [u8; PATH_MAX_BYTES] }`.
    let key = unsafe {
        &*(core::ptr::addr_of!(rec.path_bits)
            .cast::<aya_ebpf::maps::lpm_trie::Key<[u8; PATH_MAX_BYTES]>>())
    };
    let value = KOTEL_FILE_OPEN_PREFIXES.get(key).copied()?;
    let len = (value >> 16) as usize & (PATH_MAX_BYTES - 1);
    // Both indexes are below PATH_MAX_BYTES; `path` is NUL-terminated and at least `len`
    // bytes long (the prefix matched them).
    let boundary = len == 0
        || rec.path[(len - 1) & (PATH_MAX_BYTES - 1)] == b'/'
        || matches!(rec.path[len], 0 | b'/');
    boundary.then_some(Hit {
        matched: matched::PATH,
        watch: value & 0xffff,
    })
}

/// Reads the requested path at user address `filename` into `rec.path` and sets
/// `path_bits` and the truncation status; `None` when the read fails.
#[inline(always)]
pub(super) fn read_requested(rec: &mut FileOpenRecord, filename: u64) -> Option<()> {
    // SAFETY: the helper writes at most PATH_MAX_BYTES bytes, NUL included, into `path`,
    // and fails cleanly on a bad pointer.
    let n = unsafe {
        generated::bpf_probe_read_user_str(
            rec.path.as_mut_ptr().cast(),
            PATH_MAX_BYTES as u32,
            filename as *const _,
        )
    };
    if n <= 0 {
        return None;
    }
    rec.path_bits = (n as u32 - 1) * 8;
    rec.status = 0;
    // A full buffer may hold a cut path: look at the byte after the last one kept.
    if n as usize == PATH_MAX_BYTES {
        let next = (filename + PATH_MAX_BYTES as u64 - 1) as *const u8;
        // SAFETY: a probing user read: a bad address fails, it does not fault.
        if unsafe { bpf_probe_read_user(next) }.is_ok_and(|b| b != 0) {
            rec.status = STATUS_REQUESTED_TRUNCATED;
            count(FileOpenStat::Truncated);
        }
    }
    Some(())
}
