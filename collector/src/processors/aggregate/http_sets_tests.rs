use super::*;

fn exchange(side: HttpSide, status: u16, route: &str) -> HttpEvent {
    HttpEvent {
        side,
        method: HttpMethod::new("GET"),
        status,
        route: route.into(),
        path: route.into(),
        host: "api".into(),
        peer_address: "10.0.0.9".parse().unwrap(),
        peer_port: 8080,
        ..HttpEvent::default()
    }
}

fn pairs(key: &SeriesKey) -> Vec<(String, String)> {
    key.attributes().iter().cloned().collect()
}

fn base() -> Vec<(String, String)> {
    vec![("k8s.pod.name".into(), "cart-1".into())]
}

#[test]
fn server_series_carry_method_status_and_route() {
    let mut sets = HttpSets::default();
    let key = pairs(sets.key(&base(), &exchange(HttpSide::Server, 200, "/users/{id}")));
    assert_eq!(
        key,
        [
            ("http.request.method".to_string(), "GET".to_string()),
            ("http.response.status_code".into(), "200".into()),
            ("http.route".into(), "/users/{id}".into()),
            ("k8s.pod.name".into(), "cart-1".into()),
            ("network.protocol.version".into(), "1.1".into()),
            ("url.scheme".into(), "http".into()),
        ]
    );
    let key = pairs(sets.key(&base(), &exchange(HttpSide::Server, 503, "/x")));
    assert!(key.contains(&("error.type".into(), "503".into())));
}

#[test]
fn client_series_name_the_server_and_mark_failures() {
    let mut sets = HttpSets::default();
    let mut e = exchange(HttpSide::Client, 0, "/x");
    e.failure = Some(HttpFailure::Timeout);
    let key = pairs(sets.key(&base(), &e));
    assert!(key.contains(&("server.address".into(), "api".into())));
    assert!(key.contains(&("server.port".into(), "8080".into())));
    assert!(key.contains(&("error.type".into(), "timeout".into())));
    assert!(!key
        .iter()
        .any(|(k, _)| k == "http.response.status_code" || k == "http.route"));
}

#[test]
fn one_set_per_combination_reused() {
    let mut sets = HttpSets::default();
    let a = sets
        .key(&base(), &exchange(HttpSide::Server, 200, "/a"))
        .clone();
    let b = sets
        .key(&base(), &exchange(HttpSide::Server, 200, "/b"))
        .clone();
    let a_again = sets
        .key(&base(), &exchange(HttpSide::Server, 200, "/a"))
        .clone();
    assert_ne!(pairs(&a), pairs(&b));
    assert!(
        Arc::ptr_eq(a.attributes(), a_again.attributes()),
        "the cached set is handed out"
    );
    assert_eq!(sets.len, 2);
    for i in 0..MAX_PER_WORKLOAD + 10 {
        sets.key(&base(), &exchange(HttpSide::Server, 200, &format!("/r{i}")));
    }
    assert!(sets.len <= MAX_PER_WORKLOAD);
}
