//! Fills one reserved [`ExecRecord`] from a [`View`]: ids, ppid, the path and argv. Bulk
//! bytes go straight into the ring buffer with one helper call each (no stack buffer, no
//! per-argument loop): argv is the single NUL-separated block the kernel built for the new
//! image.

use aya_ebpf::helpers::{bpf_ktime_get_ns, generated};
use kotel_common::exec::{
    ExecRecord, ExecStat, ARGS_BYTES, COMM_LEN, FLAG_ARGS_TRUNCATED, FLAG_ARGS_UNREAD,
    FLAG_PATH_TRUNCATED,
};

use super::count;
use super::view::View;

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
        (*ev).flags = flags;
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
