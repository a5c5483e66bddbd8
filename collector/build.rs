//! Builds the kernel programs (`ebpf/probes`, crate `kotel-probes`) for the BPF target with
//! aya-build and leaves one object per source at `$OUT_DIR/<binary>` (`kotel-tcp`,
//! `kotel-exec`, `kotel-file-open`), which each source embeds with
//! `aya::include_bytes_aligned!`.
//!
//! Needs the nightly toolchain with `rust-src` and a `bpf-linker` matching its LLVM
//! (`scripts/setup.sh` installs both). `AYA_BUILD_SKIP=1` skips the kernel build (the agent
//! then embeds an empty object and the `tcp` source fails at start-up with a clear error).

use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use aya_build::{build_ebpf, Package, Toolchain};

/// The binaries of `kotel-probes` (one program object per source): every entry of
/// `ebpf/probes/src/bin/`, a folder or a `.rs` file, so a new source adds none here.
fn objects(probes: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let bin = probes.join("src/bin");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&bin).with_context(|| format!("reading {}", bin.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        names.push(name.strip_suffix(".rs").unwrap_or(&name).to_string());
    }
    Ok(names)
}

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .ok_or_else(|| anyhow!("collector/ has no parent"))?;
    let probes = root.join("ebpf/probes");
    let common = root.join("ebpf/common");
    let probes_dir = probes
        .to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {probes:?}"))?;
    // aya-build adds rerun-if-changed for the probes crate; the shared structs live here.
    println!("cargo:rerun-if-changed={}", common.display());

    if std::env::var_os("AYA_BUILD_SKIP")
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    {
        // Keep `include_bytes_aligned!` compiling; loading these objects fails cleanly.
        let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
        for object in objects(&probes)? {
            let out = out_dir.join(object);
            std::fs::write(&out, b"").with_context(|| format!("writing {}", out.display()))?;
        }
    }
    let package = Package {
        name: "kotel-probes",
        root_dir: probes_dir,
        ..Default::default()
    };
    build_ebpf([package], Toolchain::Nightly).context(
        "building the kernel programs (ebpf/probes) failed; run `bash scripts/setup.sh` \
         to install the nightly rust-src and bpf-linker",
    )
}
