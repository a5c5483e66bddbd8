//! Tests of the BTF reader: a hand-built blob with every encoding the reader must handle,
//! malformed blobs, and the running kernel's BTF when present.

use super::{Btf, BtfError, VMLINUX};

/// Builds BTF blobs type by type.
struct Builder {
    types: Vec<u8>,
    strings: Vec<u8>,
    big_endian: bool,
}

impl Builder {
    fn new() -> Self {
        Self {
            types: Vec::new(),
            strings: vec![0],
            big_endian: false,
        }
    }

    fn bytes(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn put(&mut self, v: u32) {
        let b = self.bytes(v);
        self.types.extend_from_slice(&b);
    }

    fn str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn record(&mut self, name: &str, kind: u32, kind_flag: bool, vlen: u32, size_or_type: u32) {
        let name = self.str(name);
        let info = (kind << 24) | (u32::from(kind_flag) << 31) | vlen;
        for v in [name, info, size_or_type] {
            self.put(v);
        }
    }

    fn int(&mut self, name: &str, size: u32) {
        self.record(name, 1, false, 0, size);
        self.put(size * 8);
    }

    /// Members are (name, type id, raw offset field).
    fn composite(
        &mut self,
        kind: u32,
        name: &str,
        kind_flag: bool,
        size: u32,
        members: &[(&str, u32, u32)],
    ) {
        self.record(name, kind, kind_flag, members.len() as u32, size);
        for (m, ty, off) in members {
            let m = self.str(m);
            for v in [m, *ty, *off] {
                self.put(v);
            }
        }
    }

    fn finish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let magic = if self.big_endian {
            0xeb9f_u16.to_be_bytes()
        } else {
            0xeb9f_u16.to_le_bytes()
        };
        out.extend_from_slice(&magic);
        out.extend_from_slice(&[1, 0]);
        let tl = self.types.len() as u32;
        for v in [24u32, 0, tl, tl, self.strings.len() as u32] {
            out.extend_from_slice(&self.bytes(v));
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// [1] int; [2] struct inner {int a; int b}; [3] typedef inner_t = inner;
/// [4] union (anonymous) {int x}; [5] const inner_t;
/// [6] struct outer (kind_flag) { int flag:1; union {int x}; const inner_t in; int tail }
fn sample() -> Vec<u8> {
    let mut b = Builder::new();
    b.int("int", 4);
    b.composite(4, "inner", false, 8, &[("a", 1, 0), ("b", 1, 32)]);
    b.record("inner_t", 8, false, 0, 2);
    b.composite(5, "", false, 4, &[("x", 1, 0)]);
    b.record("", 10, false, 0, 3);
    b.composite(
        4,
        "outer",
        true,
        24,
        &[
            ("flag", 1, 1 << 24),
            ("", 4, 64),
            ("in", 5, 128),
            ("tail", 1, 192),
        ],
    );
    b.finish()
}

#[test]
fn offsets_through_typedefs_qualifiers_and_anonymous_members() {
    let btf = Btf::parse(sample()).unwrap();
    assert_eq!(btf.offset_of("inner", &["b"]), Ok(4));
    assert_eq!(btf.offset_of("outer", &["x"]), Ok(8));
    assert_eq!(btf.offset_of("outer", &["in"]), Ok(16));
    assert_eq!(btf.offset_of("outer", &["in", "b"]), Ok(20));
    assert_eq!(btf.offset_of("outer", &["tail"]), Ok(24));
}

#[test]
fn bitfields_and_missing_names_are_errors() {
    let btf = Btf::parse(sample()).unwrap();
    assert_eq!(
        btf.offset_of("outer", &["flag"]),
        Err(BtfError::NotByteAligned("flag".into()))
    );
    assert_eq!(
        btf.offset_of("outer", &["nope"]),
        Err(BtfError::NoSuchMember("outer".into(), "nope".into()))
    );
    assert_eq!(
        btf.offset_of("outer", &["in", "c"]),
        Err(BtfError::NoSuchMember("in".into(), "c".into()))
    );
    assert_eq!(
        btf.offset_of("missing", &["a"]),
        Err(BtfError::NoSuchStruct("missing".into()))
    );
}

#[test]
fn malformed_blobs_are_errors_not_panics() {
    let good = sample();
    assert!(matches!(Btf::parse(vec![]), Err(BtfError::Malformed(_))));
    let mut bad_magic = good.clone();
    bad_magic[0] = 0;
    assert_eq!(
        Btf::parse(bad_magic).err(),
        Some(BtfError::Malformed("bad magic"))
    );
    // Every truncation either fails cleanly or (only past the type section) still parses.
    for len in 0..good.len() {
        let _ = Btf::parse(good[..len].to_vec());
    }
    let mut truncated_types = good.clone();
    truncated_types[12..16].copy_from_slice(&13u32.to_le_bytes()); // type_len: one record + 1
    truncated_types[16..20].copy_from_slice(&13u32.to_le_bytes());
    assert!(Btf::parse(truncated_types).is_err());
    let mut unknown_kind = Builder::new();
    unknown_kind.record("x", 31, false, 0, 0);
    assert_eq!(
        Btf::parse(unknown_kind.finish()).err(),
        Some(BtfError::UnknownKind(31))
    );
}

#[test]
fn big_endian_blobs_parse() {
    let mut b = Builder::new();
    b.big_endian = true;
    b.int("int", 8);
    b.composite(4, "s", false, 16, &[("a", 1, 0), ("b", 1, 64)]);
    let btf = Btf::parse(b.finish()).unwrap();
    assert_eq!(btf.offset_of("s", &["b"]), Ok(8));
}

/// The offsets the `tcp` program needs, from the running kernel (skipped without BTF).
#[test]
fn running_kernel_offsets_resolve() {
    if !std::path::Path::new(VMLINUX).exists() {
        eprintln!("no {VMLINUX}: skipping");
        return;
    }
    let btf = Btf::from_sys_fs().unwrap();
    let net = btf.offset_of("sock_common", &["skc_net", "net"]).unwrap();
    let ns = btf.offset_of("net", &["ns"]).unwrap();
    let inum = btf.offset_of("ns_common", &["inum"]).unwrap();
    assert!(
        net < 136 && net.is_multiple_of(8),
        "sock_common.skc_net at {net}"
    );
    assert!(
        ns > 0 && inum.is_multiple_of(4),
        "net.ns at {ns}, ns_common.inum at {inum}"
    );
    assert_eq!(btf.offset_of("sock", &["__sk_common"]), Ok(0));
}

#[test]
fn running_kernel_functions_and_structs_have_ids() {
    if !std::path::Path::new(VMLINUX).exists() {
        eprintln!("no {VMLINUX}: skipping");
        return;
    }
    let btf = Btf::from_sys_fs().unwrap();
    // Every BTF kernel has both; each lookup finds only its own kind.
    assert!(btf.struct_id("file").is_some());
    assert!(btf.function_id("do_sys_openat2").is_some());
    assert_eq!(btf.function_id("file"), None, "a struct is not a function");
    assert_eq!(
        btf.struct_id("do_sys_openat2"),
        None,
        "a function is not a struct"
    );
    assert_eq!(btf.function_id("no_such_function_in_any_kernel"), None);
}
