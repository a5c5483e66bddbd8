//! A minimal reader of BTF (the kernel's type format) for one job: byte offsets of struct
//! members, so the kernel program can read fields the tracepoint does not carry (the
//! socket's netns) without CO-RE. aya-obj keeps member offsets private, hence this file.
//!
//! Contract: [`Btf::parse`] accepts a raw BTF blob (header, type section, string section)
//! in either byte order and rejects anything malformed with a [`BtfError`] rather than
//! panicking. [`Btf::offset_of`] follows a member path through typedefs, qualifiers and
//! anonymous structs/unions and returns a byte offset; bitfields and members that do not
//! start on a byte boundary are errors.

use std::path::Path;

/// Where the running kernel exposes its own BTF.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
const TYPE_LEN: usize = 12;

const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// Why BTF could not be read or a member offset not resolved.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtfError {
    /// The file could not be read.
    #[error("reading {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        error: String,
    },
    /// Not a BTF blob, or its header points outside the blob.
    #[error("malformed BTF: {0}")]
    Malformed(&'static str),
    /// A type of a kind this reader does not know (a newer kernel); its size is unknown.
    #[error("unsupported BTF kind {0}")]
    UnknownKind(u32),
    /// No struct or union of that name.
    #[error("no struct {0} in BTF")]
    NoSuchStruct(String),
    /// The struct has no member of that name.
    #[error("struct {0} has no member {1}")]
    NoSuchMember(String, String),
    /// The member is a bitfield or does not start on a byte.
    #[error("member {0} is a bitfield or not byte-aligned")]
    NotByteAligned(String),
}

/// One type record: where it is and what it says.
#[derive(Clone, Copy, Debug)]
struct Type {
    name_off: u32,
    kind: u32,
    kind_flag: bool,
    vlen: u32,
    /// `size` for structs/unions, `type` for typedefs and qualifiers.
    size_or_type: u32,
    /// Offset of the kind-specific data following the 12-byte record.
    extra: usize,
}

/// Parsed BTF: type records indexed by id (id 0 is `void`) plus the string section.
pub struct Btf {
    data: Vec<u8>,
    big_endian: bool,
    types: Vec<Type>,
    strings: (usize, usize),
}

impl Btf {
    /// Reads and parses the running kernel's BTF.
    pub fn from_sys_fs() -> Result<Self, BtfError> {
        Self::from_file(Path::new(VMLINUX))
    }

    /// Reads and parses a raw BTF file.
    pub fn from_file(path: &Path) -> Result<Self, BtfError> {
        let data = std::fs::read(path).map_err(|e| BtfError::Io {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        Self::parse(data)
    }

    /// Parses a raw BTF blob.
    pub fn parse(data: Vec<u8>) -> Result<Self, BtfError> {
        if data.len() < HEADER_LEN {
            return Err(BtfError::Malformed("shorter than the header"));
        }
        let big_endian = match [data[0], data[1]] {
            b if u16::from_le_bytes(b) == MAGIC => false,
            b if u16::from_be_bytes(b) == MAGIC => true,
            _ => return Err(BtfError::Malformed("bad magic")),
        };
        let mut btf = Self {
            data,
            big_endian,
            types: Vec::new(),
            strings: (0, 0),
        };
        let hdr_len = btf.u32_at(4)? as usize;
        let section = |off: usize, len: usize| -> Result<(usize, usize), BtfError> {
            let start = hdr_len
                .checked_add(off)
                .ok_or(BtfError::Malformed("section offset"))?;
            let end = start
                .checked_add(len)
                .ok_or(BtfError::Malformed("section length"))?;
            (hdr_len >= HEADER_LEN && end <= btf.data.len())
                .then_some((start, end))
                .ok_or(BtfError::Malformed("section outside the blob"))
        };
        let types = section(btf.u32_at(8)? as usize, btf.u32_at(12)? as usize)?;
        btf.strings = section(btf.u32_at(16)? as usize, btf.u32_at(20)? as usize)?;
        btf.types = btf.parse_types(types)?;
        Ok(btf)
    }

    fn parse_types(&self, (mut pos, end): (usize, usize)) -> Result<Vec<Type>, BtfError> {
        // Id 0 is void; a placeholder keeps ids equal to indexes.
        let mut types = vec![Type {
            name_off: 0,
            kind: 0,
            kind_flag: false,
            vlen: 0,
            size_or_type: 0,
            extra: 0,
        }];
        while pos < end {
            if pos + TYPE_LEN > end {
                return Err(BtfError::Malformed("truncated type record"));
            }
            let info = self.u32_at(pos + 4)?;
            let t = Type {
                name_off: self.u32_at(pos)?,
                kind: (info >> 24) & 0x1f,
                kind_flag: info >> 31 == 1,
                vlen: info & 0xffff,
                size_or_type: self.u32_at(pos + 8)?,
                extra: pos + TYPE_LEN,
            };
            let extra = match t.kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * t.vlen as usize,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * t.vlen as usize,
                2 | 7 | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_FUNC
                | 16 | KIND_TYPE_TAG => 0,
                k => return Err(BtfError::UnknownKind(k)),
            };
            pos = t.extra + extra;
            if pos > end {
                return Err(BtfError::Malformed("truncated type data"));
            }
            types.push(t);
        }
        Ok(types)
    }

    fn u32_at(&self, off: usize) -> Result<u32, BtfError> {
        let b: [u8; 4] = self
            .data
            .get(off..off + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or(BtfError::Malformed("read past the end"))?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn name(&self, name_off: u32) -> &[u8] {
        let (start, end) = self.strings;
        let Some(s) = start
            .checked_add(name_off as usize)
            .and_then(|s| self.data.get(s..end))
        else {
            return b"";
        };
        &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())]
    }

    /// Id of the first struct (or union) named `name` (what a program passes to
    /// `bpf_rdonly_cast`; where `offset_of` starts).
    pub fn struct_id(&self, name: &str) -> Option<u32> {
        (1..self.types.len()).find_map(|id| {
            let t = self.types[id];
            (matches!(t.kind, KIND_STRUCT | KIND_UNION) && self.name(t.name_off) == name.as_bytes())
                .then_some(id as u32)
        })
    }

    /// Id of the function named `name`: a kfunc's, as a program's call to it names it.
    pub fn function_id(&self, name: &str) -> Option<u32> {
        (1..self.types.len()).find_map(|id| {
            let t = self.types[id];
            (t.kind == KIND_FUNC && self.name(t.name_off) == name.as_bytes()).then_some(id as u32)
        })
    }

    /// Follows typedefs and qualifiers to the underlying type id.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..32 {
            match self.types.get(id as usize) {
                Some(t)
                    if matches!(
                        t.kind,
                        KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
                    ) =>
                {
                    id = t.size_or_type
                }
                _ => break,
            }
        }
        id
    }

    /// Bit offset and type of member `name` of struct/union `id`, searching anonymous
    /// struct/union members too.
    fn member(&self, id: u32, name: &str, depth: u32) -> Result<Option<(u32, u32)>, BtfError> {
        let Some(t) = self.types.get(id as usize).copied() else {
            return Ok(None);
        };
        if !matches!(t.kind, KIND_STRUCT | KIND_UNION) || depth > 8 {
            return Ok(None);
        }
        for i in 0..t.vlen as usize {
            let at = t.extra + 12 * i;
            let (m_name, m_type, m_off) =
                (self.u32_at(at)?, self.u32_at(at + 4)?, self.u32_at(at + 8)?);
            let (bits, bitfield) = if t.kind_flag {
                (m_off & 0xff_ffff, m_off >> 24)
            } else {
                (m_off, 0)
            };
            let m_name = self.name(m_name);
            if m_name == name.as_bytes() {
                if bitfield != 0 || bits % 8 != 0 {
                    return Err(BtfError::NotByteAligned(name.to_string()));
                }
                return Ok(Some((bits, m_type)));
            }
            if m_name.is_empty() {
                if let Some((inner, ty)) = self.member(self.resolve(m_type), name, depth + 1)? {
                    return Ok(Some((bits + inner, ty)));
                }
            }
        }
        Ok(None)
    }

    /// Byte offset of `path` (e.g. `["skc_net", "net"]`) inside `struct struct_name`,
    /// descending through each member's (embedded, not pointed-to) type.
    pub fn offset_of(&self, struct_name: &str, path: &[&str]) -> Result<u32, BtfError> {
        let mut id = self
            .struct_id(struct_name)
            .ok_or_else(|| BtfError::NoSuchStruct(struct_name.into()))?;
        let mut bits = 0;
        let mut container = struct_name.to_string();
        for member in path {
            let (off, ty) = self
                .member(id, member, 0)?
                .ok_or_else(|| BtfError::NoSuchMember(container.clone(), member.to_string()))?;
            bits += off;
            id = self.resolve(ty);
            container = member.to_string();
        }
        Ok(bits / 8)
    }
}

#[cfg(test)]
#[path = "btf_tests.rs"]
mod tests;
