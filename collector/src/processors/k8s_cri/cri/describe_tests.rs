use std::collections::HashMap;

use k8s_cri::v1::{ContainerMetadata, ContainerState, ContainerStatus, ImageSpec};

use super::*;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn answer(info: Option<String>) -> ContainerStatusResponse {
    let labels = HashMap::from([
        ("io.kubernetes.pod.name".to_string(), "web-7d9".to_string()),
        ("io.kubernetes.pod.namespace".into(), "shop".into()),
        ("io.kubernetes.pod.uid".into(), "1111-2222".into()),
        ("io.kubernetes.container.name".into(), "nginx".into()),
    ]);
    ContainerStatusResponse {
        status: Some(ContainerStatus {
            id: ID.into(),
            metadata: Some(ContainerMetadata {
                name: "nginx-meta".into(),
                attempt: 0,
            }),
            state: ContainerState::ContainerRunning as i32,
            image: Some(ImageSpec {
                image: "docker.io/library/nginx:1.25".into(),
                ..Default::default()
            }),
            labels,
            ..Default::default()
        }),
        info: info
            .map(|i| HashMap::from([("info".to_string(), i)]))
            .unwrap_or_default(),
    }
}

fn containerd_info(cgroups_path: &str) -> Option<String> {
    Some(format!(
        r#"{{"pid": 4242, "sandboxID": "sb1", "runtimeSpec": {{"linux": {{"cgroupsPath": "{cgroups_path}"}}}}}}"#
    ))
}

fn ctx<'a>(
    pod_labels: &'a [String],
    sandboxes: &'a HashMap<String, HashMap<String, String>>,
) -> DescribeContext<'a> {
    DescribeContext {
        node_name: "node-1",
        runtime: "containerd",
        pod_labels,
        sandbox_labels: sandboxes,
    }
}

#[test]
fn a_containerd_answer_becomes_semantic_convention_attributes() {
    let sandboxes = HashMap::from([(
        "sb1".to_string(),
        HashMap::from([
            ("app".to_string(), "web".to_string()),
            ("secret".into(), "x".into()),
        ]),
    )]);
    let wanted = vec!["app".to_string()];
    let path = format!("/kubepods/besteffort/pod1111-2222/{ID}");
    let (d, flaws) = describe(&answer(containerd_info(&path)), &ctx(&wanted, &sandboxes)).unwrap();
    assert_eq!(flaws, Flaws::default());
    assert_eq!(d.pid, Some(4242));
    assert_eq!(d.cgroup_path.as_deref(), Some(path.as_str()));
    assert!(d.alive);
    let w = &d.workload;
    for (key, value) in [
        (keys::NODE_NAME, "node-1"),
        (keys::NAMESPACE, "shop"),
        (keys::POD_NAME, "web-7d9"),
        (keys::POD_UID, "1111-2222"),
        (keys::CONTAINER_NAME, "nginx"),
        (keys::CONTAINER_ID, ID),
        (keys::IMAGE_NAME, "docker.io/library/nginx"),
        (keys::IMAGE_TAG, "1.25"),
        (keys::RUNTIME, "containerd"),
        ("k8s.pod.label.app", "web"),
    ] {
        assert_eq!(w.get(key), Some(value), "{key}");
    }
    assert_eq!(
        w.get("k8s.pod.label.secret"),
        None,
        "only allow-listed labels"
    );
}

#[test]
fn containerd_annotations_stand_in_for_missing_kubelet_labels() {
    let mut a = answer(containerd_info(&format!("/k8s.io/{ID}")));
    let status = a.status.as_mut().unwrap();
    status.labels.clear();
    status.annotations = HashMap::from([
        (
            "io.kubernetes.cri.sandbox-name".to_string(),
            "p".to_string(),
        ),
        ("io.kubernetes.cri.sandbox-namespace".into(), "ns".into()),
    ]);
    let (d, _) = describe(&a, &ctx(&[], &HashMap::new())).unwrap();
    assert_eq!(d.workload.get(keys::POD_NAME), Some("p"));
    assert_eq!(d.workload.get(keys::NAMESPACE), Some("ns"));
    assert_eq!(d.workload.get(keys::CONTAINER_NAME), Some("nginx-meta"));
    assert_eq!(
        d.workload.get(keys::POD_UID),
        None,
        "empty values are left out"
    );
}

#[test]
fn answers_that_would_attribute_wrongly_are_rejected_or_stripped() {
    let none = HashMap::new();
    let mut bad_id = answer(containerd_info("/k8s.io/x"));
    bad_id.status.as_mut().unwrap().id = "not-an-id".into();
    assert_eq!(
        describe(&bad_id, &ctx(&[], &none)),
        Err(Rejection::ContainerId)
    );

    let mut no_pod = answer(None);
    no_pod
        .status
        .as_mut()
        .unwrap()
        .labels
        .remove("io.kubernetes.pod.name");
    assert_eq!(describe(&no_pod, &ctx(&[], &none)), Err(Rejection::Pod));
    assert_eq!(
        describe(&ContainerStatusResponse::default(), &ctx(&[], &none)),
        Err(Rejection::ContainerId)
    );

    // A cgroup path that does not name this container is never used: "/" would map
    // every host process to it, another id would steal that container's events.
    for path in ["/", "/system.slice", &format!("/k8s.io/{OTHER}"), "/../.."] {
        let (d, flaws) = describe(&answer(containerd_info(path)), &ctx(&[], &none)).unwrap();
        assert_eq!(d.cgroup_path, None, "{path}");
        assert!(flaws.cgroups_path, "{path}");
    }

    for info in ["not json", "[1,2]", r#"{"pid": "12"}"#, r#"{"pid": -1}"#] {
        let (d, flaws) = describe(&answer(Some(info.into())), &ctx(&[], &none)).unwrap();
        assert!(flaws.info, "{info}");
        assert_eq!((d.pid, d.cgroup_path), (None, None), "{info}");
    }
    // A bad pid does not cost a good cgroup path.
    let path = format!("/k8s.io/{ID}");
    let info =
        format!(r#"{{"pid": "x", "runtimeSpec": {{"linux": {{"cgroupsPath": "{path}"}}}}}}"#);
    let (d, flaws) = describe(&answer(Some(info)), &ctx(&[], &none)).unwrap();
    assert!(flaws.info);
    assert_eq!(
        (d.pid, d.cgroup_path.as_deref()),
        (None, Some(path.as_str()))
    );
}

#[test]
fn huge_runtime_values_are_clipped_on_a_character_boundary() {
    let mut a = answer(None);
    let huge = "é".repeat(600_000);
    a.status
        .as_mut()
        .unwrap()
        .labels
        .insert("io.kubernetes.pod.name".into(), huge);
    let (d, _) = describe(&a, &ctx(&[], &HashMap::new())).unwrap();
    let name = d.workload.get(keys::POD_NAME).unwrap();
    assert!(name.len() <= 256 && name.len() >= 254, "{}", name.len());
}

#[test]
fn exited_containers_have_no_pid() {
    let mut a = answer(containerd_info(&format!("/k8s.io/{ID}")));
    a.status.as_mut().unwrap().state = ContainerState::ContainerExited as i32;
    let (d, _) = describe(&a, &ctx(&[], &HashMap::new())).unwrap();
    assert!(!d.alive);
    assert_eq!(d.pid, None);
}

#[test]
fn image_references_split_into_name_and_tag() {
    for (reference, name, tag) in [
        (
            "docker.io/library/nginx:1.25",
            "docker.io/library/nginx",
            "1.25",
        ),
        ("nginx", "nginx", ""),
        ("registry:5000/team/app", "registry:5000/team/app", ""),
        (
            "registry:5000/team/app:v2@sha256:abc",
            "registry:5000/team/app",
            "v2",
        ),
        ("app@sha256:abc", "app", ""),
        ("", "", ""),
    ] {
        assert_eq!(split_image(reference), (name, tag), "{reference}");
    }
}
