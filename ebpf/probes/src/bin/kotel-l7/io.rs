//! Reads and writes: the enter keeps a followed socket's arguments in the thread's slot,
//! the exit copies the first bytes of what moved and sends them.
//!
//! Field offsets are those of the stable syscall tracepoint formats
//! (`/sys/kernel/tracing/events/syscalls/*/format`): `__syscall_nr` at 8, then one 8-byte
//! slot per argument from 16 (`fd` first for every syscall here); `ret` at 16 on exit.

use core::ffi::c_void;

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user, generated},
    programs::TracePointContext,
};
use kotel_common::l7::{
    classify, L7Key, L7Stat, L7State, CAPTURE_MAX, CLASSIFY_BYTES, DATA_SEND, DATA_UNSEEN,
    IGNORED_TLS, IOV_SEGMENTS, PROTOCOL_UNKNOWN, RECORD_DATA, RECORD_IGNORED, ROLE_CLIENT, SLOTS,
};
use kotel_probes::{mem::masked, read::field};

use super::scratch::{scratch, send, Scratch};
use super::{count, follow, KOTEL_L7_CAPTURE_BYTES, KOTEL_L7_SLOTS, KOTEL_L7_SOCKETS};

/// Offset of `__syscall_nr` in every syscall tracepoint record.
const OFF_NR: usize = 8;
/// Offset of argument `i` is `OFF_ARG0 + 8 * i`.
const OFF_ARG0: usize = 16;
/// Offset of `ret` in every `sys_exit_*` record.
const OFF_RET: usize = 16;
/// `-EINPROGRESS`: a non-blocking connect under way.
const EINPROGRESS: i64 = -115;

/// Which syscall a slot holds (how its arguments are laid out).
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// `read(fd, buf, count)`, `recvfrom(fd, buf, len, ...)`.
    Recv = 1,
    /// `write(fd, buf, count)`, `sendto(fd, buf, len, ...)`.
    Send = 2,
    /// `readv(fd, vec, vlen)`.
    Readv = 3,
    /// `writev(fd, vec, vlen)`.
    Writev = 4,
    /// `recvmsg(fd, msg, flags)`.
    Recvmsg = 5,
    /// `sendmsg(fd, msg, flags)`.
    Sendmsg = 6,
    /// `sendfile64(out_fd, in_fd, offset, count)`.
    Sendfile = 7,
    /// `connect(fd, uservaddr, addrlen)`.
    Connect = 8,
    /// `dup(fildes)`, `dup2(oldfd, newfd)`, `dup3(oldfd, newfd, flags)`,
    /// `fcntl(fd, F_DUPFD[_CLOEXEC], arg)`: the new descriptor is the return value.
    Dup = 9,
}

/// One syscall between its enter and its exit.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Slot {
    /// The thread that owns the slot (0: free).
    pid_tgid: u64,
    /// Monotonic time of the enter.
    start_ns: u64,
    /// Buffer, iovec array or msghdr (user address).
    buf: u64,
    /// Iovec count (`readv`/`writev`).
    vlen: u64,
    /// The descriptor.
    fd: u32,
    /// An [`Op`].
    op: u32,
    /// `__syscall_nr` of the enter (the exit checks it is the same syscall).
    nr: u32,
    /// Padding.
    _pad: u32,
}

/// Takes this thread's slot for syscall `op` on `fd`, entered at `start_ns` (0: not
/// read; the exit's time stands for both).
#[inline(always)]
fn keep(ctx: &TracePointContext, pid_tgid: u64, op: Op, fd: u32, start_ns: u64) {
    let Some(slot) = KOTEL_L7_SLOTS.get_ptr_mut(pid_tgid as u32 & (SLOTS - 1)) else {
        return;
    };
    // SAFETY: an array slot. Two threads sharing a slot inside a syscall at once: the
    // second takes it, the first's exit finds another owner (counted as `SlotLost`).
    unsafe {
        (*slot).start_ns = start_ns;
        (*slot).buf = field::<u64>(ctx, OFF_ARG0 + 8);
        (*slot).vlen = field::<u64>(ctx, OFF_ARG0 + 16);
        (*slot).fd = fd;
        (*slot).op = op as u32;
        (*slot).nr = field::<i32>(ctx, OFF_NR) as u32;
        (*slot).pid_tgid = pid_tgid;
    }
}

/// Enter of a read or write: one lookup, and the slot only for a followed socket.
///
/// One clock read per syscall: a client's write is timed at its enter (when a request
/// starts being sent); every other read or write at its exit (when a request has arrived,
/// a response has been sent or received).
#[inline(always)]
pub(super) fn enter(ctx: &TracePointContext, op: Op) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let fd = field::<u64>(ctx, OFF_ARG0) as u32;
    let key = L7Key {
        tgid: (pid_tgid >> 32) as u32,
        fd,
    };
    // SAFETY: a lookup; only `role` is read.
    let Some(state) = (unsafe { KOTEL_L7_SOCKETS.get(&key) }) else {
        return;
    };
    let send = op == Op::Send || op == Op::Writev || op == Op::Sendmsg || op == Op::Sendfile;
    let start_ns = if send && state.role == ROLE_CLIENT {
        // SAFETY: a helper call without arguments.
        unsafe { bpf_ktime_get_ns() }
    } else {
        0
    };
    keep(ctx, pid_tgid, op, fd, start_ns);
}

/// `MSG_PEEK`: the bytes stay queued and are read again.
const MSG_PEEK: u64 = 2;

/// Enter of `recvfrom(fd, buf, len, flags, ...)`: a peek is not a read.
#[inline(always)]
pub(super) fn enter_recvfrom(ctx: &TracePointContext) {
    if field::<u64>(ctx, OFF_ARG0 + 24) & MSG_PEEK == 0 {
        enter(ctx, Op::Recv);
    }
}

/// `F_DUPFD` and `F_DUPFD_CLOEXEC`.
const F_DUPFD: u64 = 0;
const F_DUPFD_CLOEXEC: u64 = 1030;

/// Enter of `dup`/`dup2`/`dup3`: the slot only when the old descriptor is followed.
#[inline(always)]
pub(super) fn enter_dup(ctx: &TracePointContext) {
    enter(ctx, Op::Dup);
}

/// Enter of `fcntl`: only a duplication of a followed descriptor keeps the slot.
#[inline(always)]
pub(super) fn enter_fcntl(ctx: &TracePointContext) {
    let cmd = field::<u64>(ctx, OFF_ARG0 + 8);
    if cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC {
        enter(ctx, Op::Dup);
    }
}

/// Enter of `connect`: every connect keeps its descriptor for the exit.
#[inline(always)]
pub(super) fn enter_connect(ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let fd = field::<u64>(ctx, OFF_ARG0) as u32;
    // SAFETY: a helper call without arguments.
    keep(ctx, pid_tgid, Op::Connect, fd, unsafe {
        bpf_ktime_get_ns()
    });
}

/// Exit of every syscall with an enter here: nothing unless this thread's slot holds
/// the same syscall.
#[inline(always)]
pub(super) fn exit(ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let Some(slot) = KOTEL_L7_SLOTS.get_ptr_mut(pid_tgid as u32 & (SLOTS - 1)) else {
        return;
    };
    // SAFETY: an array slot (see `keep`); copied out before it is released.
    let s = unsafe {
        if (*slot).pid_tgid != pid_tgid {
            return;
        }
        let held = *slot;
        // Taken by another thread while it was copied: its fields are not ours.
        if core::ptr::read_volatile(core::ptr::addr_of!((*slot).pid_tgid)) != pid_tgid {
            count(L7Stat::SlotLost);
            return;
        }
        (*slot).pid_tgid = 0;
        held
    };
    if s.nr != field::<i32>(ctx, OFF_NR) as u32 {
        // The enter of another syscall whose exit never came here (attached in between).
        count(L7Stat::SlotLost);
        return;
    }
    let ret = field::<i64>(ctx, OFF_RET);
    if s.op == Op::Connect as u32 {
        if ret == 0 || ret == EINPROGRESS {
            follow::follow(s.fd, ROLE_CLIENT, s.start_ns);
        }
        return;
    }
    if s.op == Op::Dup as u32 {
        if ret >= 0 {
            follow::duplicated((pid_tgid >> 32) as u32, s.fd, ret as u32);
        }
        return;
    }
    // `recvmsg(fd, msg, flags)` keeps its flags where a vector's length goes.
    if s.op == Op::Recvmsg as u32 && s.vlen & MSG_PEEK != 0 {
        return;
    }
    if ret > 0 {
        data(&s, ret as u64);
    }
}

/// A read or write of `moved` bytes on a followed socket.
#[inline(always)]
fn data(slot: &Slot, moved: u64) {
    let key = L7Key {
        tgid: (slot.pid_tgid >> 32) as u32,
        fd: slot.fd,
    };
    let Some(state) = KOTEL_L7_SOCKETS.get_ptr_mut(&key) else {
        return; // closed by another thread meanwhile
    };
    let Some(s) = scratch() else {
        return;
    };
    let mut cap = u64::from(KOTEL_L7_CAPTURE_BYTES.load());
    if cap > CAPTURE_MAX as u64 {
        cap = CAPTURE_MAX as u64;
    }
    let want = if moved < cap { moved } else { cap };
    let op = slot.op;
    // SAFETY: `s` is this CPU's scratch; `state` a live map value.
    unsafe {
        let captured = if op == Op::Recv as u32 || op == Op::Send as u32 {
            if copy_user(s, 0, slot.buf, want) {
                want
            } else {
                0
            }
        } else if op == Op::Readv as u32 || op == Op::Writev as u32 {
            iovecs(s, slot.buf, slot.vlen, want)
        } else if op == Op::Recvmsg as u32 || op == Op::Sendmsg as u32 {
            match bpf_probe_read_user((slot.buf + 16) as *const [u64; 2]) {
                Ok([iov, iovlen]) => iovecs(s, iov, iovlen, want),
                Err(_) => {
                    count(L7Stat::CaptureFailed);
                    0
                }
            }
        } else {
            0
        };
        let sendfile = op == Op::Sendfile as u32;
        let send_side = sendfile
            || op == Op::Send as u32
            || op == Op::Writev as u32
            || op == Op::Sendmsg as u32;
        let h = &mut (*s).header;
        h.tgid = key.tgid;
        h.fd = (*state).fd;
        h.opened_ns = (*state).opened_ns;
        // One clock read per syscall (see `enter`).
        let at = if slot.start_ns != 0 {
            slot.start_ns
        } else {
            bpf_ktime_get_ns()
        };
        h.start_ns = at;
        h.end_ns = at;
        h.size = moved;
        h.offset = advance(key, state, send_side, moved);
        h._pad = 0;
        if (*state).protocol == PROTOCOL_UNKNOWN {
            if sendfile {
                return; // nothing to classify by
            }
            gather(&mut *state, s, captured);
        }
        if (*state).protocol == PROTOCOL_UNKNOWN && (*state).head_len >= CLASSIFY_BYTES {
            let (protocol, why) = classify((*state).head, u64::from((*state).head_len));
            if protocol == PROTOCOL_UNKNOWN {
                let _ = KOTEL_L7_SOCKETS.remove(&key);
                count(if why == IGNORED_TLS {
                    L7Stat::Tls
                } else {
                    L7Stat::OtherProtocol
                });
                h.kind = RECORD_IGNORED;
                h.flags = why;
                h.captured = 0;
                send(s, 0);
                return;
            }
            (*state).protocol = protocol;
        }
        h.kind = RECORD_DATA;
        h.flags = if sendfile {
            count(L7Stat::Sendfile);
            DATA_SEND | DATA_UNSEEN
        } else if send_side {
            DATA_SEND
        } else {
            0
        };
        h.captured = captured as u32;
        send(s, captured as u32);
        count(L7Stat::Data);
    }
}

/// Counts `moved` bytes in the connection's direction (on the state of the descriptor it
/// was opened as, whichever copy `key` is); returns the count before them.
///
/// # Safety
/// `state` is the live map value of `key`.
#[inline(always)]
unsafe fn advance(key: L7Key, state: *mut L7State, send: bool, moved: u64) -> u64 {
    let primary = L7Key {
        tgid: key.tgid,
        // SAFETY: the caller's live value.
        fd: unsafe { (*state).fd },
    };
    let counters = if primary.fd == key.fd {
        state
    } else {
        KOTEL_L7_SOCKETS.get_ptr_mut(&primary).unwrap_or(state)
    };
    // SAFETY: a live map value. Two threads moving bytes the same way on one connection
    // at once may both read the same count: their bytes interleave anyway.
    unsafe {
        if send {
            let before = (*counters).sent;
            (*counters).sent = before + moved;
            before
        } else {
            let before = (*counters).received;
            (*counters).received = before + moved;
            before
        }
    }
}

/// Appends the first captured bytes to a connection's gathered start (at most 8).
///
/// # Safety
/// `s` is this CPU's scratch, `captured` bytes of its payload written.
#[inline(always)]
unsafe fn gather(state: &mut L7State, s: *mut Scratch, captured: u64) {
    for i in 0..8u32 {
        let at = state.head_len;
        if u64::from(i) >= captured || at >= 8 {
            return;
        }
        // SAFETY: `i` < 8, inside the payload.
        let byte = unsafe { (*s).payload.0[(i & 7) as usize] };
        state.head |= u64::from(byte) << (8 * (at & 7));
        state.head_len = at + 1;
    }
}

/// Copies `n` (at most [`CAPTURE_MAX`]) bytes from user address `src` to the payload at
/// `off` (below [`CAPTURE_MAX`]); counts a failed read.
///
/// # Safety
/// `s` is this CPU's scratch.
#[inline(always)]
unsafe fn copy_user(s: *mut Scratch, off: u64, src: u64, n: u64) -> bool {
    let off = masked(off, CAPTURE_MAX as u64 - 1);
    let mut n = n;
    if n > CAPTURE_MAX as u64 {
        n = CAPTURE_MAX as u64;
    }
    let n = masked(n, 2 * CAPTURE_MAX as u64 - 1);
    // SAFETY: `off + n` stays inside the payload (twice CAPTURE_MAX); a probing read.
    let ok = unsafe {
        let dst = (*s).payload.0.as_mut_ptr().add(off as usize);
        generated::bpf_probe_read_user(dst.cast::<c_void>(), n as u32, src as *const c_void) == 0
    };
    if !ok {
        count(L7Stat::CaptureFailed);
    }
    ok
}

/// Copies the first `want` bytes of the iovec array at `iov` (`iovlen` segments, at most
/// [`IOV_SEGMENTS`] read) into the payload; returns how many it copied.
///
/// # Safety
/// `s` is this CPU's scratch.
#[inline(always)]
unsafe fn iovecs(s: *mut Scratch, iov: u64, iovlen: u64, want: u64) -> u64 {
    let mut off = 0u64;
    for i in 0..IOV_SEGMENTS {
        if u64::from(i) >= iovlen || off >= want {
            break;
        }
        // SAFETY: a probing read of one `struct iovec` (base, len).
        let Ok([base, len]) =
            (unsafe { bpf_probe_read_user((iov + 16 * u64::from(i)) as *const [u64; 2]) })
        else {
            count(L7Stat::CaptureFailed);
            break;
        };
        let take = if len < want - off { len } else { want - off };
        // SAFETY: the caller's scratch.
        if !unsafe { copy_user(s, off, base, take) } {
            break;
        }
        off += take;
    }
    off
}
