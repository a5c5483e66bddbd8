//! Which load-time globals each program of an object reads, found in its instructions.
//!
//! The verifier treats a frozen `.rodata` global as a constant and explores only the
//! branches its value leaves live, so a program's verdict depends on the globals it reads
//! and on nothing else of the spec's globals. The load-combination test uses this to
//! verify each program once per distinct value of the globals it reads, instead of once
//! per combination of every switch of its object.
//!
//! Contract: [`globals_read`] is conservative: a program that takes the address of any
//! byte of a global is reported as reading that global. It needs no kernel: the object is
//! relocated with stand-in map descriptors, which only appear in instruction immediates.

use std::collections::HashMap;
use std::os::fd::RawFd;

use aya_obj::generated::bpf_insn;
use aya_obj::{EbpfSectionKind, Object};

use super::spec::ObjectSpec;
use super::verify::VerifyError;

/// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 64-bit immediate load.
const LD_IMM64: u8 = 0x18;
/// `src_reg` of an immediate load of a map value address (fd + offset).
const PSEUDO_MAP_VALUE: u8 = 2;
/// Stand-in descriptors start here (far from any real descriptor).
const FAKE_FD_BASE: RawFd = 1 << 20;

/// What the programs of an object read of its load-time inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reads {
    /// For each program asked about, the names of the spec's globals it reads.
    pub globals: HashMap<String, Vec<&'static str>>,
    /// The object has CO-RE relocations: its instructions depend on the kernel's BTF.
    pub btf_relocations: bool,
}

/// For each of `programs`, the names of the spec's globals it reads.
pub fn globals_read(spec: &ObjectSpec, programs: &[&str]) -> Result<Reads, VerifyError> {
    let ranges = global_ranges(spec)?;
    let mut obj = parse(spec.object)?;
    let btf_relocations = obj.has_btf_relocations();
    let maps = std::mem::take(&mut obj.maps);
    let names: Vec<&String> = maps.keys().collect();
    let rodata: Vec<usize> = (0..names.len())
        .filter(|&i| maps[names[i].as_str()].section_kind() == EbpfSectionKind::Rodata)
        .collect();
    if rodata.len() > 1 {
        // Globals and constants in several sections: which one holds a global is not
        // known here, and guessing could hide a switch. Refuse rather than undercount.
        return Err(VerifyError::new(
            "the object",
            "has more than one .rodata section; globals_read handles one",
        ));
    }
    let rodata_fd = rodata.first().map(|&i| FAKE_FD_BASE + i as RawFd);
    let text_sections = obj.functions.keys().map(|(section, _)| *section).collect();
    obj.relocate_maps(
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), FAKE_FD_BASE + i as RawFd, &maps[n.as_str()])),
        &text_sections,
    )
    .map_err(|e| VerifyError::new("map relocations", e))?;
    obj.relocate_calls(&text_sections)
        .map_err(|e| VerifyError::new("call relocations", e))?;
    let mut out = HashMap::new();
    for name in programs {
        let prog = obj
            .programs
            .get(*name)
            .ok_or_else(|| VerifyError::new(name, "program missing from the object"))?;
        let insns = &obj.functions[&prog.function_key()].instructions;
        let offsets = rodata_fd
            .map(|fd| rodata_offsets(insns, fd))
            .unwrap_or_default();
        let read: Vec<&'static str> = ranges
            .iter()
            .filter(|(_, (start, len))| offsets.iter().any(|o| (*start..start + len).contains(o)))
            .map(|(global, _)| *global)
            .collect();
        out.insert(name.to_string(), read);
    }
    Ok(Reads {
        globals: out,
        btf_relocations,
    })
}

/// The `.rodata` offsets `insns` load the address of.
fn rodata_offsets(insns: &[bpf_insn], rodata_fd: RawFd) -> Vec<usize> {
    insns
        .windows(2)
        .filter(|w| {
            w[0].code == LD_IMM64 && w[0].src_reg() == PSEUDO_MAP_VALUE && w[0].imm == rodata_fd
        })
        .map(|w| w[1].imm as u32 as usize)
        .collect()
}

/// A global's name and its (first byte, length) in `.rodata`.
type GlobalRange = (&'static str, (usize, usize));

/// Each global's byte range in `.rodata`, found by patching it with two patterns and
/// seeing which bytes change (aya-obj keeps symbol offsets private).
fn global_ranges(spec: &ObjectSpec) -> Result<Vec<GlobalRange>, VerifyError> {
    let base = rodata(&parse(spec.object)?);
    let mut out = Vec::new();
    for (name, bytes) in &spec.globals {
        // Every byte differs from one of the two patterns, so the first changed byte over
        // both is the global's first byte.
        let mut start: Option<usize> = None;
        for pattern in [0xa5u8, 0x5a] {
            let mut obj = parse(spec.object)?;
            let value = vec![pattern; bytes.len()];
            obj.patch_map_data([(*name, (value.as_slice(), true))].into_iter().collect())
                .map_err(|e| VerifyError::new(&format!("global {name}"), e))?;
            let first = base.iter().zip(rodata(&obj)).position(|(a, b)| *a != b);
            start = match (start, first) {
                (Some(s), Some(f)) => Some(s.min(f)),
                (s, f) => s.or(f),
            };
        }
        let start = start
            .ok_or_else(|| VerifyError::new(&format!("global {name}"), "not found in .rodata"))?;
        out.push((*name, (start, bytes.len())));
    }
    Ok(out)
}

fn parse(object: &[u8]) -> Result<Object, VerifyError> {
    Object::parse(object).map_err(|e| VerifyError::new("parsing the object", e))
}

/// The data of the object's `.rodata` (one section: checked by [`globals_read`]).
fn rodata(obj: &Object) -> Vec<u8> {
    obj.maps
        .values()
        .find(|m| m.section_kind() == EbpfSectionKind::Rodata)
        .map(|m| m.data().to_vec())
        .unwrap_or_default()
}
