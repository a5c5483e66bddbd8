use std::collections::BTreeSet;

use super::HOOKS;

/// `bench.sh l7` measures the floor of these hooks with an empty program on each
/// (`scripts/bench/l7-floor.bt`): that script must name exactly the source's tracepoints.
#[test]
fn the_benchmark_floor_attaches_to_the_same_tracepoints_as_the_source() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench/l7-floor.bt");
    let text = std::fs::read_to_string(&script).unwrap();
    let floor: BTreeSet<&str> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| line.split([',', ' ']))
        .filter_map(|probe| probe.trim().strip_prefix("tracepoint:syscalls:"))
        .collect();
    let source: BTreeSet<&str> = HOOKS.iter().map(|h| h.tracepoint).collect();
    assert_eq!(floor, source, "{}", script.display());
}
