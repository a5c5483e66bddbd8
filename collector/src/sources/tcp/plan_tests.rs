use super::*;

fn full() -> KernelFacts {
    let mut fields = TcpSockFields {
        retransmit_err: 76,
        ..TcpSockFields::default()
    };
    fields.close.valid = 1;
    fields.close.bytes_acked = 8;
    fields.cgroup.valid = 1;
    fields.ports.valid = 1;
    fields.ack.valid = 1;
    KernelFacts {
        netns: SockOffsets {
            valid: 1,
            sock_common_net: 48,
            net_ns_inum: 120,
            _pad: 0,
        },
        fields,
        btf: true,
    }
}

#[test]
fn the_plan_carries_the_config_and_the_kernel_facts() {
    let config = TcpSourceConfig::default();
    let p = plan(&config, &full());
    let names: Vec<&str> = p.programs.iter().map(|p| p.program.name).collect();
    assert_eq!(
        names,
        [
            programs::TCP_STATE,
            programs::TCP_RETRANSMIT,
            programs::TCP_SEND_RESET,
            programs::TCP_RECEIVE_RESET,
            programs::TCP_RTT
        ]
    );
    assert_eq!(p.programs[0].need, Need::Required);
    assert_eq!(
        p.spec.global_bytes(globals::TCP_WAKEUP_BYTES),
        Some(&u64::from(config.wakeup_bytes).to_ne_bytes()[..])
    );
    assert!(p
        .spec
        .max_entries
        .contains(&(maps::TCP_LISTENERS, MAX_LISTENERS)));
    let mut no_btf = full();
    no_btf.btf = false;
    assert_eq!(
        plan(&config, &no_btf).programs.len(),
        4,
        "no RTT without BTF"
    );
}

#[test]
fn every_combination_of_switches_appears_once() {
    let config = TcpSourceConfig::default();
    let plans = every_switch(&config, &full());
    assert_eq!(plans.len(), 256);
    let labels: std::collections::HashSet<&str> = plans.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels.len(), 256, "labels are unique");
    assert!(labels.contains("all on"));
    assert!(labels.contains(
        "off: btf,netns,close_fields,cgroup_fields,port_fields,ack_fields,retransmit_err,wakeup"
    ));
    // A kernel without BTF can only produce the combinations with everything off.
    let none = KernelFacts {
        netns: SockOffsets::default(),
        fields: TcpSockFields::default(),
        btf: false,
    };
    assert_eq!(every_switch(&config, &none).len(), 2);
}
