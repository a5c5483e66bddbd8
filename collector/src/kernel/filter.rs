//! `filter:` of a kernel source: which processes (cgroup ids, comms) and, for connections,
//! which ports the kernel programs report. The programs consult maps on every event
//! (`kotel_common::filter`), so [`KernelFilter::apply`] changes what is reported while
//! the programs stay attached; what the programs drop is counted in their `filtered` stat.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use aya::maps::{Array, HashMap, MapData};
use aya::Ebpf;
use kotel_common::filter::{
    maps, CgroupKey, CommKey, FilterModes, PortKey, MAX_CGROUPS, MAX_COMMS, MAX_PORTS,
    MODE_EXCLUDE, MODE_INCLUDE, MODE_OFF,
};
use serde::{Deserialize, Serialize};

use tokio::sync::watch;

use crate::component::ComponentError;
use crate::node::cgroups::cgroup2_root;
use crate::settings::ConfigError;

/// Longest comm the kernel keeps (TASK_COMM_LEN - 1).
const COMM_MAX: usize = 15;

/// `filter:` — events pass if they match `include` (every non-empty list) and do not
/// match `exclude`. A list may be used in `include` or in `exclude`, not both.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KernelFilterConfig {
    /// Report only events of these processes / ports.
    pub include: KernelMatch,
    /// Never report events of these processes / ports.
    pub exclude: KernelMatch,
}

/// A set of values per dimension. Lists are alternatives within a dimension.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KernelMatch {
    /// cgroup v2 ids (the inode of the cgroup directory, as events carry them).
    pub cgroup_ids: Vec<u64>,
    /// cgroup directories, absolute within the cgroup2 hierarchy (e.g. `/system.slice`);
    /// resolved to ids when the source starts. Only that cgroup, not its children.
    pub cgroup_paths: Vec<PathBuf>,
    /// Task names as the kernel keeps them (at most 15 bytes).
    pub comms: Vec<String>,
    /// Local or remote ports (connection sources only).
    pub ports: Vec<u16>,
}

impl KernelMatch {
    fn has_cgroups(&self) -> bool {
        !self.cgroup_ids.is_empty() || !self.cgroup_paths.is_empty()
    }
}

impl KernelFilterConfig {
    /// Problems, with paths below `filter`; `ports_apply` is false
    /// for sources whose events have no ports.
    pub fn validate(&self, ports_apply: bool) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(ConfigError::new(format!("filter::{field}"), message))
        };
        let (inc, exc) = (&self.include, &self.exclude);
        if inc.has_cgroups() && exc.has_cgroups() {
            problem(
                "exclude",
                "cgroups can be included or excluded, not both".into(),
            );
        }
        if !inc.comms.is_empty() && !exc.comms.is_empty() {
            problem(
                "exclude::comms",
                "comms can be included or excluded, not both".into(),
            );
        }
        if !inc.ports.is_empty() && !exc.ports.is_empty() {
            problem(
                "exclude::ports",
                "ports can be included or excluded, not both".into(),
            );
        }
        for (side, m) in [("include", inc), ("exclude", exc)] {
            if !ports_apply && !m.ports.is_empty() {
                problem(
                    &format!("{side}::ports"),
                    "this source's events have no ports".into(),
                );
            }
            for comm in m
                .comms
                .iter()
                .filter(|c| c.is_empty() || c.len() > COMM_MAX)
            {
                problem(
                    &format!("{side}::comms"),
                    format!("\"{comm}\" must be 1 to {COMM_MAX} bytes (the kernel keeps 15)"),
                );
            }
            for path in m.cgroup_paths.iter().filter(|p| !p.is_absolute()) {
                problem(
                    &format!("{side}::cgroup_paths"),
                    format!("{} must be absolute", path.display()),
                );
            }
            let cgroups = m.cgroup_ids.len() + m.cgroup_paths.len();
            for (field, n, max) in [
                ("cgroup_ids", cgroups, MAX_CGROUPS),
                ("comms", m.comms.len(), MAX_COMMS),
                ("ports", m.ports.len(), MAX_PORTS),
            ] {
                if n > max as usize {
                    problem(
                        &format!("{side}::{field}"),
                        format!("{n} entries; at most {max}"),
                    );
                }
            }
        }
        problems
    }
}

/// The filter maps of one loaded object, and the generation in force.
pub struct KernelFilter {
    modes: Array<MapData, FilterModes>,
    cgroups: HashMap<MapData, CgroupKey, u8>,
    comms: HashMap<MapData, CommKey, u8>,
    ports: HashMap<MapData, PortKey, u8>,
    generation: u32,
    /// Where `cgroup_paths` are resolved: the configured cgroup2 root (empty: found in
    /// `/proc/self/mountinfo`, see [`cgroup2_root`]).
    cgroup_root: PathBuf,
}

fn filter_error(what: &str, e: impl std::fmt::Display) -> ComponentError {
    ComponentError::Startup(format!("kernel filter: {what}: {e}"))
}

impl KernelFilter {
    /// Takes the filter maps out of a loaded object (before or after attaching);
    /// `cgroup_paths` will be resolved below `cgroup_root` (empty: the cgroup2 root found
    /// in `/proc/self/mountinfo`).
    pub fn take(ebpf: &mut Ebpf, cgroup_root: &Path) -> Result<Self, ComponentError> {
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| filter_error(name, "missing from the object"))
        };
        Ok(Self {
            modes: Array::try_from(take(maps::MODES)?).map_err(|e| filter_error(maps::MODES, e))?,
            cgroups: HashMap::try_from(take(maps::CGROUPS)?)
                .map_err(|e| filter_error(maps::CGROUPS, e))?,
            comms: HashMap::try_from(take(maps::COMMS)?)
                .map_err(|e| filter_error(maps::COMMS, e))?,
            ports: HashMap::try_from(take(maps::PORTS)?)
                .map_err(|e| filter_error(maps::PORTS, e))?,
            generation: 0,
            cgroup_root: cgroup_root.to_path_buf(),
        })
    }

    /// Replaces the filter with `config` while the programs run, atomically: the new sets
    /// are written under the other generation, one write of the modes entry switches to
    /// them, then the old generation is deleted. On error the old filter stays in force.
    pub fn apply(&mut self, config: &KernelFilterConfig) -> Result<(), ComponentError> {
        let (inc, exc) = (&config.include, &config.exclude);
        let cgroup_side = if inc.has_cgroups() { inc } else { exc };
        let cgroup_ids = resolve_cgroups(cgroup_side, &self.cgroup_root)?;
        let comm_side = if inc.comms.is_empty() {
            &exc.comms
        } else {
            &inc.comms
        };
        let port_side = if inc.ports.is_empty() {
            &exc.ports
        } else {
            &inc.ports
        };
        let (old, new) = (self.generation, self.generation ^ 1);

        let cgroup = |generation| {
            move |cgroup_id| CgroupKey {
                cgroup_id,
                generation,
                _pad: 0,
            }
        };
        let comm = |generation| {
            move |c: &String| CommKey {
                comm: comm_key(c),
                generation,
            }
        };
        let port = |generation| {
            move |port| PortKey {
                port,
                _pad: 0,
                generation,
            }
        };
        let e = |what| move |err| filter_error(what, err);
        retain(&mut self.cgroups, |k| k.generation == old).map_err(e("cgroups"))?;
        retain(&mut self.comms, |k| k.generation == old).map_err(e("comms"))?;
        retain(&mut self.ports, |k| k.generation == old).map_err(e("ports"))?;
        insert(
            &mut self.cgroups,
            cgroup_ids.iter().copied().map(cgroup(new)),
        )
        .map_err(e("cgroups"))?;
        insert(&mut self.comms, comm_side.iter().map(comm(new))).map_err(e("comms"))?;
        insert(&mut self.ports, port_side.iter().copied().map(port(new))).map_err(e("ports"))?;

        let mode = |included: bool, excluded: bool| match (included, excluded) {
            (true, _) => MODE_INCLUDE,
            (false, true) => MODE_EXCLUDE,
            _ => MODE_OFF,
        };
        let modes = FilterModes {
            cgroups: mode(inc.has_cgroups(), exc.has_cgroups()),
            comms: mode(!inc.comms.is_empty(), !exc.comms.is_empty()),
            ports: mode(!inc.ports.is_empty(), !exc.ports.is_empty()),
            generation: new,
        };
        self.modes.set(0, modes, 0).map_err(e("modes"))?;
        self.generation = new;
        retain(&mut self.cgroups, |k| k.generation == new).map_err(e("cgroups"))?;
        retain(&mut self.comms, |k| k.generation == new).map_err(e("comms"))?;
        retain(&mut self.ports, |k| k.generation == new).map_err(e("ports"))
    }
}

/// Replacement filters for a running source, sent by whoever owns the matching
/// [`watch::Sender`] (e.g. a processor that resolved namespaces to cgroup ids).
pub struct FilterUpdates(Option<watch::Receiver<KernelFilterConfig>>);

impl FilterUpdates {
    /// No updates will come.
    pub fn none() -> Self {
        Self(None)
    }

    /// A sender to change the filter of a source while it runs, starting from `initial`,
    /// and the updates the source reads.
    pub fn channel(initial: KernelFilterConfig) -> (watch::Sender<KernelFilterConfig>, Self) {
        let (tx, rx) = watch::channel(initial);
        (tx, Self(Some(rx)))
    }

    /// Completes with the next filter; pending forever when there is no sender (any more).
    pub async fn next(&mut self) -> KernelFilterConfig {
        if let Some(rx) = &mut self.0 {
            if rx.changed().await.is_ok() {
                return rx.borrow_and_update().clone();
            }
            self.0 = None;
        }
        std::future::pending().await
    }
}

/// Deletes every entry of `map` whose key fails `keep`.
fn retain<K: aya::Pod>(
    map: &mut HashMap<MapData, K, u8>,
    keep: impl Fn(&K) -> bool,
) -> Result<(), aya::maps::MapError> {
    let stale: Vec<K> = map
        .keys()
        .filter_map(Result::ok)
        .filter(|k| !keep(k))
        .collect();
    for key in stale {
        map.remove(&key)?;
    }
    Ok(())
}

/// Inserts `keys` (value 1).
fn insert<K: aya::Pod>(
    map: &mut HashMap<MapData, K, u8>,
    keys: impl Iterator<Item = K>,
) -> Result<(), aya::maps::MapError> {
    for key in keys {
        map.insert(key, 1, 0)?;
    }
    Ok(())
}

/// A comm as the kernel stores it: NUL padded to 16 bytes.
fn comm_key(comm: &str) -> [u8; 16] {
    let mut key = [0u8; 16];
    let n = comm.len().min(COMM_MAX);
    key[..n].copy_from_slice(&comm.as_bytes()[..n]);
    key
}

/// The filter as user space applies it to what the kernel programs never saw (the `l7`
/// source's connections opened before it started), by the maps' rules: per dimension,
/// off, include (the value is in the set) or exclude (it is not).
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    cgroups: (u32, Vec<u64>),
    comms: (u32, Vec<String>),
    ports: (u32, Vec<u16>),
}

/// `(mode, values)` of one dimension: the include side's values if it has any, else the
/// exclude side's.
fn dimension<T: Clone>(include: &[T], exclude: &[T]) -> (u32, Vec<T>) {
    match (include.is_empty(), exclude.is_empty()) {
        (false, _) => (MODE_INCLUDE, include.to_vec()),
        (true, false) => (MODE_EXCLUDE, exclude.to_vec()),
        (true, true) => (MODE_OFF, Vec::new()),
    }
}

fn passes(mode: u32, hit: bool) -> bool {
    match mode {
        MODE_INCLUDE => hit,
        MODE_EXCLUDE => !hit,
        _ => true,
    }
}

impl UserFilter {
    /// `config` with its cgroup paths resolved below `cgroup_root` (as
    /// [`KernelFilter::take`] does).
    pub fn new(config: &KernelFilterConfig, cgroup_root: &Path) -> Result<Self, ComponentError> {
        let (inc, exc) = (&config.include, &config.exclude);
        let cgroups = if inc.has_cgroups() {
            (MODE_INCLUDE, resolve_cgroups(inc, cgroup_root)?)
        } else if exc.has_cgroups() {
            (MODE_EXCLUDE, resolve_cgroups(exc, cgroup_root)?)
        } else {
            (MODE_OFF, Vec::new())
        };
        Ok(Self {
            cgroups,
            comms: dimension(&inc.comms, &exc.comms),
            ports: dimension(&inc.ports, &exc.ports),
        })
    }

    /// Whether a connection of a process in `cgroup_id` named `comm`, between `ports`
    /// (local, remote), passes.
    pub fn admits(&self, cgroup_id: u64, comm: &str, ports: (u16, u16)) -> bool {
        passes(self.cgroups.0, self.cgroups.1.contains(&cgroup_id))
            && passes(self.comms.0, self.comms.1.iter().any(|c| c == comm))
            && passes(
                self.ports.0,
                self.ports.1.contains(&ports.0) || self.ports.1.contains(&ports.1),
            )
    }
}

/// The ids of `m`'s cgroups: the listed ids plus the inode of each listed directory.
fn resolve_cgroups(m: &KernelMatch, cgroup_root: &Path) -> Result<Vec<u64>, ComponentError> {
    let mut ids = m.cgroup_ids.clone();
    if m.cgroup_paths.is_empty() {
        return Ok(ids);
    }
    let root = cgroup2_root(cgroup_root)
        .ok_or_else(|| filter_error("cgroup_paths", "no cgroup2 mount in /proc/self/mountinfo"))?;
    for path in &m.cgroup_paths {
        let dir = root.join(path.strip_prefix("/").unwrap_or(path));
        let meta = std::fs::metadata(&dir)
            .map_err(|e| filter_error(&format!("cgroup {}", dir.display()), e))?;
        ids.push(meta.ino());
    }
    Ok(ids)
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
