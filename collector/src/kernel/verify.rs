//! Verifies the programs of an [`ObjectSpec`] the way the agent loads them, and reads the
//! verifier's own statistics: each subprogram's stack depth, the deepest call chain, the
//! verification time and the instructions processed.
//!
//! aya keeps the verifier log only when a load fails, so this module prepares the object
//! exactly as aya's loader does (same globals patched into `.rodata` and frozen, same map
//! sizes, the object's BTF, map and call relocations, the same function sanitising) with
//! the `aya-obj` steps aya itself uses, and issues one `BPF_PROG_LOAD` per program with
//! `BPF_LOG_STATS`. The program is closed right after: nothing is attached.
//!
//! Contract: [`verify`] returns one [`Verdict`] per requested program (in order); a
//! program the kernel refuses is [`Verdict::Rejected`] with the verifier's reason in one
//! line. An error of the object as a whole (it does not parse, a map cannot be created) is
//! [`VerifyError`]. The instructions verified are those aya loads: the tests check that the
//! instruction count the verifier reports here equals the count of the program aya loaded.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use aya::maps::MapData;
use aya::Btf;
use aya_obj::btf::BtfKind;
use aya_obj::generated::{
    bpf_attach_type, bpf_attr, bpf_cmd, bpf_insn, bpf_map_type, bpf_prog_type,
};
use aya_obj::{EbpfSectionKind, Object};

use super::spec::{Attach, ObjectSpec, ProgramSpec};

/// The stack every BPF program gets, across its whole call chain.
pub const STACK_LIMIT: u32 = 512;
/// The most kotel lets its deepest call chain use: 64 bytes of headroom for a compiler,
/// aya or kernel update.
pub const STACK_BUDGET: u32 = 448;

/// What the verifier said about one program it accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The program's name.
    pub program: &'static str,
    /// Stack bytes of each subprogram as the verifier reports them, in its order (the
    /// program's entry first).
    pub frames: Vec<u32>,
    /// Stack bytes of the deepest call chain, each frame rounded up as the strictest
    /// kernels round it (to 32 bytes, at least 32): what the 512-byte limit is checked
    /// against on kernels without a private stack.
    pub deepest_chain: u32,
    /// Verification time the verifier reports.
    pub verification_time: Duration,
    /// Wall time of the whole `BPF_PROG_LOAD` (verification and JIT).
    pub load_time: Duration,
    /// Instructions the verifier processed (the complexity it counts against 1M).
    pub processed_insns: u64,
}

/// The kernel's answer for one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Loaded; the statistics of its verification.
    Accepted(Verified),
    /// Refused.
    Rejected {
        /// The program's name.
        program: &'static str,
        /// The verifier's reason in one line (see [`rejection_reason`]).
        reason: String,
        /// The whole verifier log.
        log: String,
    },
}

/// The object as a whole could not be prepared for loading.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VerifyError(String);

impl VerifyError {
    /// `what` failed with `e`.
    pub fn new(what: &str, e: impl std::fmt::Display) -> Self {
        Self(format!("{what}: {e}"))
    }
}

/// Verifies each of `programs` of `spec`, relocating against `btf` (the kernel's, when
/// there is one; BTF tracepoint programs need it).
pub fn verify(
    spec: &ObjectSpec,
    programs: &[ProgramSpec],
    btf: Option<&Btf>,
) -> Result<Vec<Verdict>, VerifyError> {
    Verifier::default().verify(spec, programs, btf)
}

/// Verifies the programs of many specs of the same objects: the maps it creates for one
/// spec (all but the global-data maps, whose contents are the spec's globals) serve the
/// next spec that asks for the same map and size, since a map's contents never change a
/// verdict.
#[derive(Default)]
pub struct Verifier {
    /// (object address, map name, max_entries) -> the map.
    maps: HashMap<(usize, String, u32), Rc<MapData>>,
}

impl Verifier {
    /// [`verify`], reusing this verifier's maps.
    pub fn verify(
        &mut self,
        spec: &ObjectSpec,
        programs: &[ProgramSpec],
        btf: Option<&Btf>,
    ) -> Result<Vec<Verdict>, VerifyError> {
        if spec.object.is_empty() {
            return Err(VerifyError(
                "this kotel was built without kernel programs (AYA_BUILD_SKIP)".into(),
            ));
        }
        let prepared = Prepared::new(spec, programs, btf, &mut self.maps)?;
        programs.iter().map(|p| prepared.load(p, btf)).collect()
    }
}

/// Maps created for earlier specs, by (object address, name, max_entries).
type MapCache = HashMap<(usize, String, u32), Rc<MapData>>;

/// An object relocated for loading, with the maps and BTF its instructions refer to.
struct Prepared {
    obj: Object,
    btf_fd: Option<OwnedFd>,
    /// Kept open while programs referring to them are loaded.
    _maps: Vec<Rc<MapData>>,
}

impl Prepared {
    /// aya's loader, step for step (`EbpfLoader::load`): globals, BTF, maps, relocations.
    fn new(
        spec: &ObjectSpec,
        programs: &[ProgramSpec],
        btf: Option<&Btf>,
        cache: &mut MapCache,
    ) -> Result<Self, VerifyError> {
        let mut obj =
            Object::parse(spec.object).map_err(|e| VerifyError::new("parsing the object", e))?;
        let globals = spec
            .globals
            .iter()
            .map(|(name, bytes)| (*name, (bytes.as_slice(), true)))
            .collect();
        obj.patch_map_data(globals)
            .map_err(|e| VerifyError::new("setting globals", e))?;
        let features = aya::features();
        // As aya: without the object's BTF in the kernel the load goes on, unless a
        // program needs it (a BTF tracepoint) or the object has CO-RE relocations.
        let needs_btf = obj.has_btf_relocations()
            || programs
                .iter()
                .any(|p| matches!(p.attach, Attach::BtfTracePoint { .. }));
        let btf_fd = match features.btf() {
            Some(f) => match obj.fixup_and_sanitize_btf(f) {
                Ok(Some(obj_btf)) => match load_btf(&obj_btf.to_bytes()) {
                    Ok(fd) => Some(fd),
                    Err(e) if needs_btf => {
                        return Err(VerifyError::new("loading the object's BTF", e))
                    }
                    Err(_) => None,
                },
                Ok(None) => None,
                Err(e) if needs_btf => return Err(VerifyError::new("the object's BTF", e)),
                Err(_) => None,
            },
            None => None,
        };
        if let Some(btf) = btf {
            obj.relocate_btf(btf)
                .map_err(|e| VerifyError::new("BTF relocations", e))?;
        }
        let maps = create_maps(&obj, spec, btf_fd.as_ref(), cache)?;
        let text_sections = obj.functions.keys().map(|(section, _)| *section).collect();
        let map_objs = std::mem::take(&mut obj.maps);
        let by_name: Vec<(&str, RawFd, &aya_obj::Map)> = maps
            .iter()
            .map(|(name, data)| {
                let obj_map = &map_objs[name.as_str()];
                (name.as_str(), data.fd().as_fd().as_raw_fd(), obj_map)
            })
            .collect();
        obj.relocate_maps(by_name.into_iter(), &text_sections)
            .map_err(|e| VerifyError::new("map relocations", e))?;
        obj.relocate_calls(&text_sections)
            .map_err(|e| VerifyError::new("call relocations", e))?;
        obj.sanitize_functions(features);
        Ok(Self {
            obj,
            btf_fd,
            _maps: maps.into_iter().map(|(_, m)| m).collect(),
        })
    }

    fn load(&self, program: &ProgramSpec, btf: Option<&Btf>) -> Result<Verdict, VerifyError> {
        let prog = self.obj.programs.get(program.name).ok_or_else(|| {
            VerifyError(format!("program {} missing from the object", program.name))
        })?;
        let function = &self.obj.functions[&prog.function_key()];
        let (prog_type, attach_type, attach_btf_id) = match program.attach {
            Attach::TracePoint { .. } => (bpf_prog_type::BPF_PROG_TYPE_TRACEPOINT, None, None),
            Attach::BtfTracePoint { name } => {
                let Some(btf) = btf else {
                    return Ok(Verdict::Rejected {
                        program: program.name,
                        reason: "needs the kernel's BTF (/sys/kernel/btf/vmlinux)".into(),
                        log: String::new(),
                    });
                };
                let Ok(id) =
                    btf.id_by_type_name_kind(&format!("btf_trace_{name}"), BtfKind::Typedef)
                else {
                    return Ok(Verdict::Rejected {
                        program: program.name,
                        reason: format!("the kernel's BTF has no tracepoint {name}"),
                        log: String::new(),
                    });
                };
                (
                    bpf_prog_type::BPF_PROG_TYPE_TRACING,
                    Some(bpf_attach_type::BPF_TRACE_RAW_TP),
                    Some(id),
                )
            }
        };
        let func_info = function.func_info.func_info_bytes();
        let line_info = function.line_info.line_info_bytes();
        // SAFETY: all-zero is a valid bpf_attr.
        let mut attr = unsafe { std::mem::zeroed::<bpf_attr>() };
        // SAFETY: the BPF_PROG_LOAD member of the union.
        let u = unsafe { &mut attr.__bindgen_anon_3 };
        let name = CString::new(program.name).map_err(|e| VerifyError::new("program name", e))?;
        if aya::features().bpf_name() {
            for (dst, src) in u.prog_name.iter_mut().zip(name.as_bytes().iter().take(15)) {
                *dst = *src as libc::c_char;
            }
        }
        u.prog_type = prog_type as u32;
        if let Some(t) = attach_type {
            u.expected_attach_type = t as u32;
        }
        u.attach_btf_id = attach_btf_id.unwrap_or(0);
        u.insns = function.instructions.as_ptr() as u64;
        u.insn_cnt = function.instructions.len() as u32;
        u.license = prog.license.as_ptr() as u64;
        u.kern_version = prog
            .kernel_version
            .unwrap_or_else(|| aya::util::KernelVersion::current().map_or(0, |v| v.code()));
        if let Some(fd) = &self.btf_fd {
            u.prog_btf_fd = fd.as_raw_fd() as u32;
            if function.line_info_rec_size > 0 {
                u.line_info = line_info.as_ptr() as u64;
                u.line_info_cnt = function.line_info.len() as u32;
                u.line_info_rec_size = function.line_info_rec_size as u32;
            }
            if function.func_info_rec_size > 0 {
                u.func_info = func_info.as_ptr() as u64;
                u.func_info_cnt = function.func_info.len() as u32;
                u.func_info_rec_size = function.func_info_rec_size as u32;
            }
        }
        let (result, log, load_time) = load_with_stats(&mut attr);
        Ok(match result {
            Ok(_fd) => Verdict::Accepted(Verified {
                program: program.name,
                frames: stack_depths(&log),
                deepest_chain: deepest_chain(&function.instructions, &stack_depths(&log)),
                verification_time: verification_time(&log),
                load_time,
                processed_insns: processed_insns(&log),
            }),
            Err(e) => Verdict::Rejected {
                program: program.name,
                reason: rejection_reason(&log, &e),
                log,
            },
        })
    }
}

/// Creates every map of `obj` with `spec`'s sizes (or takes it from `cache`), writes the
/// data sections (globals) and freezes `.rodata`, as aya does; returns them by name.
fn create_maps(
    obj: &Object,
    spec: &ObjectSpec,
    btf_fd: Option<&OwnedFd>,
    cache: &mut MapCache,
) -> Result<Vec<(String, Rc<MapData>)>, VerifyError> {
    let global_data = aya::features().bpf_global_data();
    let mut maps = Vec::new();
    for (name, map) in &obj.maps {
        let kind = map.section_kind();
        let is_data = matches!(
            kind,
            EbpfSectionKind::Bss | EbpfSectionKind::Data | EbpfSectionKind::Rodata
        );
        if is_data && !global_data {
            continue;
        }
        let mut map = map.clone();
        if let Some((_, n)) = spec.max_entries.iter().find(|(n, _)| n == name) {
            map.set_max_entries(*n);
        }
        if map.map_type() == bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32 {
            // As aya: a power-of-two multiple of the page size, and no value size.
            map.set_max_entries(ring_size(map.max_entries()));
            map.set_value_size(0);
        }
        let key = (
            spec.object.as_ptr() as usize,
            name.clone(),
            map.max_entries(),
        );
        if let Some(cached) = cache.get(&key).filter(|_| !is_data) {
            maps.push((name.clone(), Rc::clone(cached)));
            continue;
        }
        let data = map.data().to_vec();
        let created = MapData::create(map, name, btf_fd.map(|f| f.as_fd()))
            .map_err(|e| VerifyError::new(&format!("creating map {name}"), e))?;
        if !data.is_empty() {
            write_first_element(created.fd().as_fd().as_raw_fd(), &data)
                .map_err(|e| VerifyError::new(&format!("writing {name}"), e))?;
        }
        if kind == EbpfSectionKind::Rodata {
            freeze(created.fd().as_fd().as_raw_fd())
                .map_err(|e| VerifyError::new(&format!("freezing {name}"), e))?;
        }
        let created = Rc::new(created);
        if !is_data {
            cache.insert(key, Rc::clone(&created));
        }
        maps.push((name.clone(), created));
    }
    Ok(maps)
}

/// A ring buffer's byte size as the kernel takes it: the smallest power-of-two multiple of
/// the page size that holds `bytes` (0 stays 0, for the kernel to refuse).
fn ring_size(bytes: u32) -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = u32::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    if bytes == 0 {
        return 0;
    }
    bytes
        .div_ceil(page)
        .next_power_of_two()
        .saturating_mul(page)
}

fn sys_bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> std::io::Result<i64> {
    // SAFETY: `attr` is a valid bpf_attr for `cmd`; the kernel reads at most its size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_int,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>(),
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn load_btf(raw: &[u8]) -> std::io::Result<OwnedFd> {
    // SAFETY: all-zero is a valid bpf_attr.
    let mut attr = unsafe { std::mem::zeroed::<bpf_attr>() };
    // SAFETY: the BPF_BTF_LOAD member of the union.
    let u = unsafe { &mut attr.__bindgen_anon_7 };
    u.btf = raw.as_ptr() as u64;
    u.btf_size = raw.len() as u32;
    let fd = sys_bpf(bpf_cmd::BPF_BTF_LOAD, &mut attr)?;
    // SAFETY: BPF_BTF_LOAD returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn write_first_element(map_fd: RawFd, value: &[u8]) -> std::io::Result<()> {
    let key = 0u32;
    // SAFETY: all-zero is a valid bpf_attr.
    let mut attr = unsafe { std::mem::zeroed::<bpf_attr>() };
    // SAFETY: the map element member of the union.
    let u = unsafe { &mut attr.__bindgen_anon_2 };
    u.map_fd = map_fd as u32;
    u.key = &key as *const u32 as u64;
    u.__bindgen_anon_1.value = value.as_ptr() as u64;
    sys_bpf(bpf_cmd::BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

fn freeze(map_fd: RawFd) -> std::io::Result<()> {
    // SAFETY: all-zero is a valid bpf_attr.
    let mut attr = unsafe { std::mem::zeroed::<bpf_attr>() };
    // Writing a union field needs no unsafe.
    attr.__bindgen_anon_2.map_fd = map_fd as u32;
    sys_bpf(bpf_cmd::BPF_MAP_FREEZE, &mut attr).map(drop)
}

/// `BPF_LOG_STATS`: the verifier's statistics and its error messages, without the trace.
const LOG_STATS: u32 = 4;

/// Loads with a statistics log, growing the buffer when the kernel says it was too small
/// (`ENOSPC`, which kernels return even for a program they accepted). Returns the new
/// program (closed when dropped), the log and the wall time of the successful attempt.
fn load_with_stats(attr: &mut bpf_attr) -> (std::io::Result<OwnedFd>, String, Duration) {
    let mut size = 256 * 1024;
    loop {
        let mut buf = vec![0u8; size];
        // SAFETY: the BPF_PROG_LOAD member of the union.
        let u = unsafe { &mut attr.__bindgen_anon_3 };
        u.log_level = LOG_STATS;
        u.log_buf = buf.as_mut_ptr() as u64;
        u.log_size = buf.len() as u32;
        let started = Instant::now();
        let rc = sys_bpf(bpf_cmd::BPF_PROG_LOAD, attr);
        let took = started.elapsed();
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        let log = String::from_utf8_lossy(&buf[..end]).into_owned();
        match rc {
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && size < 64 << 20 => size *= 8,
            // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
            Ok(fd) => return (Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }), log, took),
            Err(e) => return (Err(e), log, took),
        }
    }
}

/// The per-subprogram depths of `stack depth 272+0+224+80`.
pub fn stack_depths(log: &str) -> Vec<u32> {
    log.lines()
        .find_map(|l| l.trim().strip_prefix("stack depth "))
        .map(|d| d.split('+').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// `verification time 222109 usec`.
pub fn verification_time(log: &str) -> Duration {
    log.lines()
        .find_map(|l| l.trim().strip_prefix("verification time "))
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_micros)
}

/// `processed 62168 insns (limit 1000000) ...`.
pub fn processed_insns(log: &str) -> u64 {
    log.lines()
        .find_map(|l| l.trim().strip_prefix("processed "))
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `BPF_JMP | BPF_CALL`.
const CALL: u8 = 0x85;
/// `src_reg` of a call to a subprogram (bpf-to-bpf).
const PSEUDO_CALL: u8 = 1;

/// Stack bytes of the deepest call chain of `insns` (relocated: subprograms appended),
/// given each subprogram's depth in the verifier's order (by start instruction). Each
/// frame counts as the strictest kernels count it: rounded up to 32 bytes, at least 32.
pub fn deepest_chain(insns: &[bpf_insn], depths: &[u32]) -> u32 {
    let calls: Vec<(usize, usize)> = insns
        .iter()
        .enumerate()
        .filter(|(_, i)| i.code == CALL && i.src_reg() == PSEUDO_CALL)
        .map(|(at, i)| (at, (at as i64 + 1 + i64::from(i.imm)) as usize))
        .collect();
    let starts: Vec<usize> = std::iter::once(0)
        .chain(calls.iter().map(|(_, to)| *to))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let subprog_of = |insn: usize| starts.partition_point(|s| *s <= insn).saturating_sub(1);
    let edges: Vec<(usize, usize)> = calls
        .iter()
        .map(|(at, to)| (subprog_of(*at), subprog_of(*to)))
        .collect();
    let frame = |s: usize| depths.get(s).copied().unwrap_or(0).max(1).div_ceil(32) * 32;
    chain_from(0, &edges, &frame, starts.len())
}

/// Deepest chain from subprogram `s` (the verifier forbids recursion; `left` bounds the
/// walk anyway).
fn chain_from(
    s: usize,
    edges: &[(usize, usize)],
    frame: &dyn Fn(usize) -> u32,
    left: usize,
) -> u32 {
    let below = if left == 0 {
        0
    } else {
        edges
            .iter()
            .filter(|(from, _)| *from == s)
            .map(|(_, to)| chain_from(*to, edges, frame, left - 1))
            .max()
            .unwrap_or(0)
    };
    frame(s) + below
}

/// The verifier's reason for refusing a program, in one line: the last message before its
/// statistics, with the stack-limit message shortened to `combined stack 576 > 512`.
/// Without a log, the error the kernel returned.
pub fn rejection_reason(log: &str, err: &dyn std::fmt::Display) -> String {
    let is_stats = |l: &str| {
        l.starts_with("verification time")
            || l.starts_with("stack depth")
            || l.starts_with("processed ")
    };
    let Some(line) = log
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !is_stats(l))
    else {
        return format!("{err} (no verifier log)");
    };
    match combined_stack(line) {
        Some(bytes) => format!("combined stack {bytes} > {STACK_LIMIT}"),
        None => line.to_string(),
    }
}

/// `M` of `combined stack size of N calls is M. Too large`.
fn combined_stack(line: &str) -> Option<u32> {
    let rest = line.strip_prefix("combined stack size of ")?;
    let (_, bytes) = rest.split_once(" is ")?;
    bytes.trim_end_matches(". Too large").trim().parse().ok()
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
