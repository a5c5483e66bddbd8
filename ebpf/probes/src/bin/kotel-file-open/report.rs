//! Fills the record of a matched open and writes it to the ring buffer.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_ktime_get_ns,
        generated::bpf_get_current_comm,
    },
    programs::TracePointContext,
};
use kotel_common::file_open::{
    FileOpenRecord, FileOpenStat, COMM_LEN, FILE_OPEN_RECORD_SIZE, STATUS_ARGS_LOST,
    STATUS_RESOLVED_IS_BASE, STATUS_UNLINKED, STATUS_WALK_SHIFT,
};
use kotel_probes::{
    filter::allows_process,
    read::field,
    vfs::{Path, Vfs},
    wakeup::threshold_flags,
};

use super::args::{self, requested_flags};
use super::enter::OFF_SYSCALL_NR;
use super::exit::read_requested;
use super::matching::Hit;
use super::work::Work;
use super::{
    count, KOTEL_FILE_OPEN_EVENTS, KOTEL_FILE_OPEN_OWN_TGID, KOTEL_FILE_OPEN_WAKEUP_BYTES,
};

/// `O_PATH` (asm-generic and x86 value).
const O_PATH: u32 = 0o10000000;
/// Ring buffer bytes one record takes (8-byte header + payload).
const RECORD_BYTES: u64 = FILE_OPEN_RECORD_SIZE as u64 + 8;

/// Ring-buffer flags for the next record under the configured wakeup policy.
#[inline(always)]
fn wakeup_flags() -> u64 {
    let wake = KOTEL_FILE_OPEN_WAKEUP_BYTES.load();
    threshold_flags(&KOTEL_FILE_OPEN_EVENTS, wake, RECORD_BYTES, || {
        count(FileOpenStat::Wakeup)
    })
}

/// Completes the record of `work` for match `hit` of an open that returned `ret` and
/// writes it to the ring buffer, unless the kernel filters drop the process or it is an
/// `O_PATH` open of the agent itself (resolving the watched paths).
/// `requested_read`: `rec.path`, `path_bits` and `status` already hold the requested path.
///
/// # Safety
/// `work` is this CPU's scratch, filled by the caller: `args`/`args_state`, and `file`,
/// `inode`, `sb`, `rec.ino` for a successful open, `from_*` for the path to walk.
#[inline(always)]
pub(super) unsafe fn emit(
    ctx: &TracePointContext,
    work: *mut Work,
    vfs: &Vfs,
    task: u64,
    hit: Hit,
    ret: i32,
    requested_read: bool,
) {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: `work` is this CPU's scratch (caller).
    unsafe {
        let rec: *mut FileOpenRecord = &mut (*work).rec;
        let cgroup_id = bpf_get_current_cgroup_id();
        if bpf_get_current_comm((*rec).comm.as_mut_ptr().cast(), COMM_LEN as u32) != 0 {
            (*rec).comm = [0; COMM_LEN];
        }
        if !allows_process(cgroup_id, &(*rec).comm) {
            count(FileOpenStat::Filtered);
            return;
        }
        // `in_regs()` first: a constant to the verifier, so that kernels without the
        // registers' helpers (before 5.15) never see their calls.
        if args::in_regs() && (*work).args_state == args::state::IN_REGS {
            let (dst, span) = (&mut (*work).args, &mut (*work).span);
            (*work).args_state = args::state::held_if(args::from_regs(
                task,
                pid_tgid,
                field::<i32>(ctx, OFF_SYSCALL_NR) as u32,
                dst,
                span,
            ));
            if (*work).args_state != args::state::HELD {
                count(FileOpenStat::ArgsLost);
            }
        }
        let has_args = (*work).args_state == args::state::HELD;
        if !requested_read
            && !(has_args && read_requested(&mut *rec, (*work).args.filename).is_some())
        {
            (*rec).path_bits = 0;
            (*rec).path[0] = 0;
            (*rec).status = 0;
        }
        (*rec).cgroup_id = cgroup_id;
        (*rec).pid = (pid_tgid >> 32) as u32;
        (*rec).tid = pid_tgid as u32;
        (*rec).ret = ret;
        (*rec).syscall_nr = field::<i32>(ctx, OFF_SYSCALL_NR) as u32;
        (*rec).matched = hit.matched;
        (*rec).watch = hit.watch;
        let file = (*work).file;
        if has_args {
            (*rec).syscall = (*work).args.syscall;
            (*rec).flags = requested_flags(&(*work).args);
        } else {
            (*rec).syscall = 0;
            (*rec).status |= STATUS_ARGS_LOST;
            (*rec).flags = vfs.file_flags(file).unwrap_or(0);
        }
        if (*rec).flags & O_PATH != 0 && (pid_tgid >> 32) as u32 == KOTEL_FILE_OPEN_OWN_TGID.load()
        {
            return; // the agent resolving the watched paths
        }
        (*rec).dev = 0;
        if file != 0 {
            let inode = (*work).inode;
            (*rec).dev = vfs.sb_dev((*work).sb).unwrap_or(0);
            if vfs.nlink(inode) == Some(0) {
                (*rec).status |= STATUS_UNLINKED;
            }
        } else {
            (*rec).ino = 0;
        }
        if (*work).from_base != 0 {
            (*rec).status |= STATUS_RESOLVED_IS_BASE;
        }
        (*rec).resolved_len = 0;
        let from = Path {
            mnt: (*work).from_mnt,
            dentry: (*work).from_dentry,
        };
        if from.dentry != 0 {
            if let Some((root, _)) = vfs.root_and_pwd(task) {
                let len = core::ptr::addr_of_mut!((*rec).resolved_len);
                let dst = (*rec).resolved.as_mut_ptr();
                let walk = vfs.walk_path(from, root, dst, len, &mut (*work).span);
                (*rec).status |= walk << STATUS_WALK_SHIFT;
            }
        }
        (*rec).timestamp_ns = bpf_ktime_get_ns();
        match KOTEL_FILE_OPEN_EVENTS.output::<FileOpenRecord>(&*rec, wakeup_flags()) {
            Ok(()) => {
                count(FileOpenStat::Emitted);
                if (*work).typed != 0 {
                    count(FileOpenStat::TypedMatches);
                }
            }
            Err(_) => count(FileOpenStat::RingbufFull),
        }
    }
}
