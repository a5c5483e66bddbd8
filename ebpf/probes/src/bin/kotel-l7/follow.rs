//! Which sockets are followed: a TCP socket over IPv4/IPv6 from a successful `connect`
//! (client) or `accept` (server) of an admitted process, until `close`.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_ktime_get_ns, generated,
    },
    programs::TracePointContext,
};
use kotel_common::l7::{
    ConnInfo, L7Header, L7Key, L7Stat, L7State, SockFields, AF_INET, AF_INET6, PROTOCOL_UNKNOWN,
    RECORD_CLOSE, RECORD_OPEN, ROLE_SERVER,
};
use kotel_probes::{
    filter::{allows_ports, allows_process},
    read::field,
    vfs::{Span, Vfs},
};

use super::scratch::{scratch, send};
use super::{
    count, KOTEL_L7_OWN_TGID, KOTEL_L7_SOCKETS, KOTEL_L7_SOCK_FIELDS, KOTEL_L7_VFS_FIELDS,
};

/// Offset of the first argument in `sys_enter_*` and of `ret` in `sys_exit_*` records.
const OFF_16: usize = 16;
/// `SOCK_STREAM`.
const SOCK_STREAM: u16 = 1;

/// The socket offset `$field`, read so the verifier sees the frozen global's constant.
macro_rules! sf {
    ($field:ident) => {{
        let f = (&KOTEL_L7_SOCK_FIELDS as *const aya_ebpf::Global<SockFields>).cast::<SockFields>();
        // SAFETY: `Global<T>` is transparent over `T`; a read of the program's global.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*f).$field)) }
    }};
}

/// Exit of `accept`/`accept4`: the returned descriptor is a server-side connection.
#[inline(always)]
pub(super) fn accepted(ctx: &TracePointContext) {
    let ret = field::<i64>(ctx, OFF_16);
    if ret >= 0 {
        // SAFETY: no preconditions.
        follow(ret as u32, ROLE_SERVER, unsafe { bpf_ktime_get_ns() });
    }
}

/// Follows descriptor `fd` of the current process when it is an admitted TCP socket,
/// and sends its open record. `start_ns`: when the syscall that opened it entered.
#[inline(always)]
pub(super) fn follow(fd: u32, role: u32, start_ns: u64) {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    if tgid == KOTEL_L7_OWN_TGID.load() {
        return;
    }
    let Some(s) = scratch() else {
        return;
    };
    // SAFETY: `s` is this CPU's scratch; the payload's start is 8-byte aligned and holds
    // a `ConnInfo`.
    unsafe {
        let info = (*s).payload.0.as_mut_ptr().cast::<ConnInfo>();
        if let Err(stat) = read_socket(fd, &mut *info, &mut (*s).span) {
            count(stat);
            return;
        }
        let cgroup_id = bpf_get_current_cgroup_id();
        let comm = bpf_get_current_comm().unwrap_or([0; 16]);
        if !allows_process(cgroup_id, &comm)
            || !allows_ports((*info).local_port, (*info).remote_port)
        {
            count(L7Stat::Filtered);
            return;
        }
        (*info).cgroup_id = cgroup_id;
        (*info).role = role;
        (*info).comm = comm;
        let now = bpf_ktime_get_ns();
        let key = L7Key { tgid, fd };
        let state = L7State {
            opened_ns: now,
            head: 0,
            protocol: PROTOCOL_UNKNOWN,
            role,
            head_len: 0,
            fd,
            sent: 0,
            received: 0,
        };
        if KOTEL_L7_SOCKETS.insert(&key, &state, 0).is_err() {
            return;
        }
        header(&mut (*s).header, RECORD_OPEN, key, now, start_ns, now);
        send(s, core::mem::size_of::<ConnInfo>() as u32);
        count(L7Stat::Opened);
    }
}

/// Enter of `close`: a followed descriptor is forgotten; closing the descriptor the
/// connection was opened as sends its close record (copies still open then are
/// forgotten as they close, or by the LRU).
#[inline(always)]
pub(super) fn closing(ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let key = L7Key {
        tgid: (pid_tgid >> 32) as u32,
        fd: field::<u64>(ctx, OFF_16) as u32,
    };
    // SAFETY: a lookup; the values are copied.
    let Some((opened_ns, fd)) =
        (unsafe { KOTEL_L7_SOCKETS.get(&key) }).map(|st| (st.opened_ns, st.fd))
    else {
        return;
    };
    let _ = KOTEL_L7_SOCKETS.remove(&key);
    if fd != key.fd {
        return; // a copy: the connection lives on under its own descriptor
    }
    let Some(s) = scratch() else {
        return;
    };
    // SAFETY: no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: this CPU's scratch.
    unsafe {
        header(&mut (*s).header, RECORD_CLOSE, key, opened_ns, now, now);
        send(s, 0);
    }
    count(L7Stat::Closed);
}

/// Fills `h` for a record of `kind` without payload about connection `key` opened at
/// `opened_ns`, its syscall running from `start_ns` to `end_ns`.
#[inline(always)]
fn header(h: &mut L7Header, kind: u32, key: L7Key, opened_ns: u64, start_ns: u64, end_ns: u64) {
    h.kind = kind;
    h.tgid = key.tgid;
    h.fd = key.fd;
    h.flags = 0;
    h.opened_ns = opened_ns;
    h.start_ns = start_ns;
    h.end_ns = end_ns;
    h.size = 0;
    h.offset = 0;
    h.captured = 0;
    h._pad = 0;
}

/// Fills `info`'s family, ports and addresses from the socket behind `fd`.
///
/// # Safety
/// `info` and `span` are this CPU's scratch.
#[inline(always)]
unsafe fn read_socket(fd: u32, info: &mut ConnInfo, span: &mut Span) -> Result<(), L7Stat> {
    let vfs = Vfs::new(&KOTEL_L7_VFS_FIELDS);
    if !vfs.valid() || sf!(valid) == 0 {
        return Err(L7Stat::SocketUnread);
    }
    let unread = L7Stat::SocketUnread;
    // SAFETY: no preconditions.
    let task = unsafe { generated::bpf_get_current_task() };
    let file = vfs.fd_file(task, fd, false, span).ok_or(unread)?;
    let socket = vfs.ptr(file, sf!(file_private_data)).ok_or(unread)?;
    if vfs.read::<u16>(socket, sf!(socket_type)).ok_or(unread)? != SOCK_STREAM {
        return Err(L7Stat::NotTcp);
    }
    let sk = vfs.ptr(socket, sf!(socket_sk)).ok_or(unread)?;
    let family = vfs.read::<u16>(sk, sf!(skc_family)).ok_or(unread)?;
    info.family = family;
    info.local_port = vfs.read::<u16>(sk, sf!(skc_num)).ok_or(unread)?;
    info.remote_port = u16::from_be(vfs.read::<u16>(sk, sf!(skc_dport)).ok_or(unread)?);
    info._pad = [0; 3];
    let (local, remote) = if family == AF_INET {
        let l = vfs.read::<u32>(sk, sf!(skc_rcv_saddr)).ok_or(unread)?;
        let r = vfs.read::<u32>(sk, sf!(skc_daddr)).ok_or(unread)?;
        ([u64::from(l), 0], [u64::from(r), 0])
    } else if family == AF_INET6 {
        (
            vfs.read::<[u64; 2]>(sk, sf!(skc_v6_rcv_saddr))
                .ok_or(unread)?,
            vfs.read::<[u64; 2]>(sk, sf!(skc_v6_daddr)).ok_or(unread)?,
        )
    } else {
        return Err(L7Stat::NotTcp);
    };
    let (l, r) = (
        info.local_addr.as_mut_ptr().cast::<u64>(),
        info.remote_addr.as_mut_ptr().cast::<u64>(),
    );
    // SAFETY: 16-byte arrays at 8-byte aligned offsets of the scratch value.
    unsafe {
        core::ptr::write_volatile(l, local[0]);
        core::ptr::write_volatile(l.add(1), local[1]);
        core::ptr::write_volatile(r, remote[0]);
        core::ptr::write_volatile(r.add(1), remote[1]);
    }
    Ok(())
}

/// Exit of a `dup`, `dup2`, `dup3` or `fcntl(F_DUPFD)` of followed descriptor `old` that
/// returned `new`: `new` is followed as the same connection.
#[inline(always)]
pub(super) fn duplicated(tgid: u32, old: u32, new: u32) {
    let key = L7Key { tgid, fd: old };
    // SAFETY: a lookup; the value is copied.
    let Some(state) = (unsafe { KOTEL_L7_SOCKETS.get(&key) }).copied() else {
        return;
    };
    if KOTEL_L7_SOCKETS
        .insert(&L7Key { tgid, fd: new }, &state, 0)
        .is_ok()
    {
        count(L7Stat::Duplicated);
    }
}
