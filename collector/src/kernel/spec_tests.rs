use super::*;

#[test]
fn a_global_set_twice_keeps_the_last_value() {
    let spec = ObjectSpec::new("tcp", &[])
        .global("G", &1u64)
        .global("G", &7u64)
        .map_size("M", 8)
        .map_size("M", 16);
    assert_eq!(spec.globals.len(), 1);
    assert_eq!(spec.global_bytes("G"), Some(&7u64.to_ne_bytes()[..]));
    assert_eq!(spec.max_entries, vec![("M", 16)]);
    assert_eq!(spec.global_bytes("H"), None);
}

#[test]
fn hooks_are_named_as_operators_know_them() {
    let tp = Attach::TracePoint {
        category: "sock",
        name: "inet_sock_set_state",
    };
    assert_eq!(tp.describe(), "sock:inet_sock_set_state");
    assert_eq!(
        Attach::BtfTracePoint { name: "tcp_probe" }.describe(),
        "tp_btf/tcp_probe"
    );
}
