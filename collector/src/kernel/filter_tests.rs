use super::*;

fn problems(yaml: &str, ports_apply: bool) -> Vec<ConfigError> {
    let config: KernelFilterConfig = yaml_serde::from_str(yaml).unwrap();
    config.validate(ports_apply)
}

#[test]
fn an_empty_filter_is_valid() {
    assert!(problems("{}", true).is_empty());
}

#[test]
fn a_dimension_is_included_or_excluded_not_both() {
    let p = problems(
        "include: { comms: [a], cgroup_ids: [1] }\nexclude: { comms: [b], cgroup_paths: [/x] }",
        true,
    );
    let fields: Vec<&str> = p.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(fields, ["filter::exclude", "filter::exclude::comms"]);
}

#[test]
fn bad_values_are_named() {
    let p = problems(
        "exclude: { comms: [\"\", abcdefghijklmnopq], cgroup_paths: [relative], ports: [80] }",
        false,
    );
    let fields: Vec<&str> = p.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        fields,
        [
            "filter::exclude::ports",
            "filter::exclude::comms",
            "filter::exclude::comms",
            "filter::exclude::cgroup_paths"
        ]
    );
}

#[test]
fn comms_are_nul_padded_and_cut_like_the_kernel() {
    assert_eq!(&comm_key("curl")[..5], b"curl\0");
    assert_eq!(comm_key("abcdefghijklmnopq")[15], 0);
}

#[test]
fn the_user_space_filter_follows_the_maps_rules() {
    let config = KernelFilterConfig {
        include: KernelMatch {
            comms: vec!["nginx".into()],
            ..KernelMatch::default()
        },
        exclude: KernelMatch {
            cgroup_ids: vec![7],
            ports: vec![22],
            ..KernelMatch::default()
        },
    };
    let f = UserFilter::new(&config, Path::new("")).unwrap();
    assert!(f.admits(1, "nginx", (80, 40000)));
    assert!(!f.admits(1, "curl", (80, 40000)), "not an included comm");
    assert!(!f.admits(7, "nginx", (80, 40000)), "an excluded cgroup");
    assert!(
        !f.admits(1, "nginx", (40000, 22)),
        "an excluded remote port"
    );
    let open = UserFilter::new(&KernelFilterConfig::default(), Path::new("")).unwrap();
    assert!(open.admits(0, "", (0, 0)));
}
