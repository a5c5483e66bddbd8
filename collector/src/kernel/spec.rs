//! What decides how the kernel's verifier sees one kernel object: the object file, the
//! load-time globals (BTF offsets, `valid` flags, settings) and the map sizes, plus the
//! programs in it and where each attaches.
//!
//! Contract: a source builds one [`ObjectSpec`] from its config and the running kernel,
//! and that one value is what both the agent loads (with aya, [`ObjectSpec::loader`]) and
//! what `kotel doctor` and the tests verify program by program (`kernel::verify`), so the
//! two can never see different globals. A source's [`ObjectSpec`] variants (one per
//! combination of its load-time switches) are what the load-combination test walks.

use aya::{Btf, EbpfLoader, Pod, VerifierLogLevel};

/// Held while an aya loader is made (see [`ObjectSpec::loader`]).
static NEW_LOADER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Where a program attaches; decides its program type when it is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// A classic tracepoint `category:name` (`BPF_PROG_TYPE_TRACEPOINT`).
    TracePoint {
        /// Tracepoint category (`sock`).
        category: &'static str,
        /// Tracepoint name (`inet_sock_set_state`).
        name: &'static str,
    },
    /// A BTF tracepoint `tp_btf/name` (`BPF_PROG_TYPE_TRACING`, raw tracepoint with BTF);
    /// needs the kernel's BTF.
    BtfTracePoint {
        /// Tracepoint name (`tcp_probe`).
        name: &'static str,
    },
}

impl Attach {
    /// How the hook is named in logs and reports (`sock:inet_sock_set_state`,
    /// `tp_btf/tcp_probe`).
    pub fn describe(&self) -> String {
        match self {
            Attach::TracePoint { category, name } => format!("{category}:{name}"),
            Attach::BtfTracePoint { name } => format!("tp_btf/{name}"),
        }
    }
}

/// One program of an object and its hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The program's name in the object (`kotel_tcp_state`).
    pub name: &'static str,
    /// Its hook.
    pub attach: Attach,
}

/// What the source does when a program of its plan cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The source cannot run without it.
    Required,
    /// The source runs without what it adds where its hook does not exist or it cannot
    /// attach (the loader checks the hook before loading it). A verifier rejection still
    /// stops the source.
    Optional,
    /// Used only when the program planned just before it is refused or cannot attach
    /// (the same records by another hook).
    Fallback,
}

/// One program a source plans to load, and what it does without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The program and its hook.
    pub program: ProgramSpec,
    /// What the source does without it.
    pub need: Need,
}

/// What a source loads on a kernel: the object as it is loaded and the programs it would
/// load from it, in attach order.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// The object, its globals and map sizes.
    pub spec: ObjectSpec,
    /// The programs, in the order the source loads and attaches them.
    pub programs: Vec<Planned>,
    /// What this kernel leaves out of the plan and what the source lacks without it, in
    /// a sentence each (`kotel doctor` shows them).
    pub left_out: Vec<String>,
    /// How the source works on this kernel where that differs between kernels, a sentence
    /// each (`kotel doctor` shows them).
    pub method: Vec<String>,
}

impl LoadPlan {
    /// Each program once (a program may attach to several hooks), in plan order.
    pub fn distinct_programs(&self) -> Vec<ProgramSpec> {
        let mut out: Vec<ProgramSpec> = Vec::new();
        for p in &self.programs {
            if !out.iter().any(|o| o.name == p.program.name) {
                out.push(p.program);
            }
        }
        out
    }
}

/// One combination of a source's load-time switches and the plan a kernel with them gets.
#[derive(Clone, Debug)]
pub struct Combination {
    /// The switches that are off (`all on` when none is).
    pub label: String,
    /// The plan: its globals carry the switches, its programs are every program such a
    /// kernel can load.
    pub plan: LoadPlan,
    /// Whether such a kernel has BTF (the plan is relocated against the kernel's BTF).
    pub btf: bool,
}

/// The label of a combination whose switches named `off` are off.
pub fn combination_label(off: &[&str]) -> String {
    if off.is_empty() {
        "all on".to_string()
    } else {
        format!("off: {}", off.join(","))
    }
}

/// One kernel object as it is loaded: its bytes, globals and map sizes.
#[derive(Clone, Debug)]
pub struct ObjectSpec {
    /// The source kind it belongs to (`tcp`), for messages.
    pub source: &'static str,
    /// The object file (empty when the agent was built with `AYA_BUILD_SKIP`).
    pub object: &'static [u8],
    /// Load-time globals: name and the bytes of its value.
    pub globals: Vec<(&'static str, Vec<u8>)>,
    /// Map size overrides: map name and `max_entries`.
    pub max_entries: Vec<(&'static str, u32)>,
}

impl ObjectSpec {
    /// A spec for `object` of source `source`, with the object's own globals and sizes.
    pub fn new(source: &'static str, object: &'static [u8]) -> Self {
        Self {
            source,
            object,
            globals: Vec::new(),
            max_entries: Vec::new(),
        }
    }

    /// Sets global `name` (which must exist in the object) to `value`.
    pub fn global<T: Pod>(mut self, name: &'static str, value: &T) -> Self {
        // SAFETY: `T: Pod` is plain old data: every byte of it is initialised.
        let bytes = unsafe {
            std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>())
        };
        self.globals.retain(|(n, _)| *n != name);
        self.globals.push((name, bytes.to_vec()));
        self
    }

    /// Sets the size of map `name`.
    pub fn map_size(mut self, name: &'static str, max_entries: u32) -> Self {
        self.max_entries.retain(|(n, _)| *n != name);
        self.max_entries.push((name, max_entries));
        self
    }

    /// The current bytes of global `name`, if this spec sets it.
    pub fn global_bytes(&self, name: &str) -> Option<&[u8]> {
        self.globals
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.as_slice())
    }

    /// An aya loader with every global and size of this spec, relocating against `btf`.
    /// A refused program's log carries the verifier's messages and statistics, not its
    /// instruction trace (which can outgrow the log and lose the reason at its end).
    ///
    /// One loader is made at a time: aya's `EbpfLoader::new` parses the kernel's BTF
    /// (about 18 MB at its peak) before `btf` replaces it, and the sources start together.
    pub fn loader<'a>(&'a self, btf: Option<&'a Btf>) -> EbpfLoader<'a> {
        let mut loader = {
            let _one_at_a_time = NEW_LOADER.lock().unwrap_or_else(|e| e.into_inner());
            let mut loader = EbpfLoader::new();
            loader.btf(btf);
            loader
        };
        loader.verifier_log_level(VerifierLogLevel::STATS);
        for (name, bytes) in &self.globals {
            loader.override_global(name, bytes.as_slice(), true);
        }
        for (name, n) in &self.max_entries {
            loader.map_max_entries(name, *n);
        }
        loader
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
