//! Fills one reserved [`ExecRecord`] from a [`View`]: ids, ppid, the path and argv. Bulk
//! bytes go straight into the ring buffer with one helper call each (no stack buffer, no
//! per-argument loop): argv is the single NUL-separated block the kernel built for the new
//! image.

use aya_ebpf::helpers::{bpf_ktime_get_ns, generated};
use kotel_common::exec::{
    ExecRecord, ExecStat, ARGS_BYTES, COMM_LEN, FLAG_ARGS_TRUNCATED, FLAG_ARGS_UNREAD,
    FLAG_CWD_UNWALKED, FLAG_CWD_WALK_SHIFT, FLAG_EXE_UNLINKED, FLAG_EXE_UNWALKED,
    FLAG_EXE_WALK_SHIFT, FLAG_PATH_TRUNCATED, FLAG_SCRIPT, FLAG_SCRIPT_UNKNOWN,
};
use kotel_probes::vfs::{Span, Vfs};

use super::view::View;
use super::{count, KOTEL_EXEC_SCRATCH, KOTEL_EXEC_VFS_FIELDS};

/// Writes every header field of `*ev`, then the path and argv bytes.
///
/// # Safety
/// `ev` points to a reserved, writable, 8-byte aligned ring-buffer record.
#[inline(always)]
pub(crate) unsafe fn record<V: View>(
    view: &V,
    ev: *mut ExecRecord,
    cgroup_id: u64,
    comm: [u8; COMM_LEN],
) {
    let base = ev.cast::<u8>();
    // SAFETY: `ev` is valid for writes (caller); offsets are of ExecRecord's own fields, and
    // the path copy may spill two bytes into `args`, which is written afterwards.
    unsafe {
        (*ev).timestamp_ns = bpf_ktime_get_ns();
        (*ev).cgroup_id = cgroup_id;
        (*ev).pid = view.pid();
        (*ev).ppid = view.ppid().unwrap_or_else(|| {
            count(ExecStat::PpidUnknown);
            0
        });
        (*ev).uid = view.uid();
        (*ev).comm = comm;
        let (path_len, path_cut) = view.path(base.add(core::mem::offset_of!(ExecRecord, path)));
        (*ev).path_len = path_len;
        let mut flags = if path_cut { FLAG_PATH_TRUNCATED } else { 0 };
        let args = base.add(core::mem::offset_of!(ExecRecord, args));
        match view
            .arg_range()
            .and_then(|(start, end)| read_args(start, end, args))
        {
            Some((len, cut)) => {
                (*ev).args_len = len;
                if cut {
                    count(ExecStat::ArgsTruncated);
                    flags |= FLAG_ARGS_TRUNCATED;
                }
            }
            None => {
                count(ExecStat::ArgsUnread);
                (*ev).args_len = 0;
                flags |= FLAG_ARGS_UNREAD;
            }
        }
        flags |= match view.interp(base.add(core::mem::offset_of!(ExecRecord, interp))) {
            Some(true) => FLAG_SCRIPT,
            Some(false) => 0,
            None => FLAG_SCRIPT_UNKNOWN,
        };
        (*ev).flags = flags | paths(view, ev);
    }
}

/// Walks the executable's path and the working directory into `*ev` (`exe`, `cwd`, their
/// lengths, `exe_ino`, `exe_dev`); returns the flags they add.
///
/// # Safety
/// `ev` points to a reserved, writable record.
#[inline(always)]
unsafe fn paths<V: View>(view: &V, ev: *mut ExecRecord) -> u32 {
    // SAFETY: `ev` is valid for writes (caller).
    unsafe {
        (*ev).exe_ino = 0;
        (*ev).exe_dev = 0;
        (*ev).exe_len = 0;
        (*ev).cwd_len = 0;
        (*ev)._pad = 0;
    }
    let vfs = Vfs::new(&KOTEL_EXEC_VFS_FIELDS);
    let unwalked = FLAG_EXE_UNWALKED | FLAG_CWD_UNWALKED;
    let Some(span) = KOTEL_EXEC_SCRATCH.get_ptr_mut(0) else {
        return unwalked;
    };
    if !vfs.valid() {
        return unwalked;
    }
    let Some((root, pwd)) = vfs.root_and_pwd(view.task()) else {
        return unwalked;
    };
    // SAFETY: `span` is this CPU's scratch (tracepoint programs do not nest on a CPU);
    // `ev`'s buffers have PATH_BUFFER bytes and its lengths are writable (caller).
    unsafe {
        let span: &mut Span = &mut *span;
        let cwd = core::ptr::addr_of_mut!((*ev).cwd_len);
        let walk = vfs.walk_path(pwd, root, (*ev).cwd.as_mut_ptr(), cwd, span);
        let mut flags = walk << FLAG_CWD_WALK_SHIFT;
        let Some(file) = view.exe_file().and_then(|f| vfs.file(f, span)) else {
            return flags | FLAG_EXE_UNWALKED;
        };
        if let Some(inode) = vfs.inode(file.inode, span) {
            (*ev).exe_ino = inode.ino;
            (*ev).exe_dev = vfs.sb_dev(inode.sb).unwrap_or(0);
        }
        if vfs.nlink(file.inode) == Some(0) {
            flags |= FLAG_EXE_UNLINKED;
        }
        let exe = core::ptr::addr_of_mut!((*ev).exe_len);
        let walk = vfs.walk_path(file.path, root, (*ev).exe.as_mut_ptr(), exe, span);
        flags | walk << FLAG_EXE_WALK_SHIFT
    }
}

/// Copies `start..end` (user addresses of the current, new mm) to `dst` (room for
/// [`ARGS_BYTES`]); returns the bytes copied and whether argv was longer, or `None` when
/// the range is invalid or the read failed.
#[inline(always)]
unsafe fn read_args(start: u64, end: u64, dst: *mut u8) -> Option<(u32, bool)> {
    if end < start {
        return None;
    }
    let full = end - start;
    let n = if full > ARGS_BYTES as u64 {
        ARGS_BYTES as u32
    } else {
        full as u32
    };
    // SAFETY: `dst` has ARGS_BYTES writable bytes and n <= ARGS_BYTES; a probing read (an
    // absent page fails, never faults). The pages were just written by the exec.
    let rc = unsafe { generated::bpf_probe_read_user(dst.cast(), n, start as *const _) };
    (rc == 0).then_some((n, full > u64::from(n)))
}
