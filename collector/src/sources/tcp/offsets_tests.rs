use super::*;

#[test]
fn field_offsets_are_read_from_a_format_file() {
    let format = "name: tcp_retransmit_skb\nformat:\n\
            \tfield:const void * skaddr;\toffset:16;\tsize:8;\tsigned:0;\n\
            \tfield:__u8 daddr_v6[16];\toffset:58;\tsize:16;\tsigned:0;\n\
            \tfield:int err;\toffset:76;\tsize:4;\tsigned:1;\n";
    assert_eq!(field_offset(format, "err"), Some(76));
    assert_eq!(field_offset(format, "skaddr"), Some(16));
    assert_eq!(field_offset(format, "state"), None);
    assert_eq!(field_offset("", "err"), None);
}

#[test]
fn the_running_kernel_resolves_every_group_when_it_has_btf() {
    let Ok(btf) = crate::kernel::shared_btf::ours() else {
        return; // no BTF on this machine: nothing to check
    };
    let f = sock_fields(&btf);
    let valid = (f.close.valid, f.cgroup.valid, f.ports.valid, f.ack.valid);
    assert_eq!(valid, (1, 1, 1, 1), "{f:?}");
    assert_ne!(f.close.bytes_acked, f.close.bytes_received);
    assert!(
        f.close.total_retrans > 0 && f.close.total_retrans != f.close.bytes_acked,
        "{f:?}"
    );
    assert_eq!(
        f.ports.skc_num,
        f.ports.skc_dport + 2,
        "skc_portpair: dport then num"
    );
}
