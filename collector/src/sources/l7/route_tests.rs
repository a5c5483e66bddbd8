use super::*;

fn routes(patterns: &[&str]) -> Routes {
    let (routes, problems) =
        Routes::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>());
    assert!(problems.is_empty(), "{problems:?}");
    routes
}

#[test]
fn identifiers_fold_and_words_stay() {
    let none = Routes::default();
    let cases = [
        ("/api/users/42", "/api/users/{id}"),
        ("/api/users/42/orders/7", "/api/users/{id}/orders/{id}"),
        ("/o/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/o/{id}"),
        ("/blob/deadbeef01", "/blob/{id}"),
        ("/s/eyJhbGciOiJIUzI1NiJ9abc", "/s/{id}"),
        ("/v1/health", "/v1/health"),
        ("/static/app.min.js", "/static/app.min.js"),
        ("/cafe/beef", "/cafe/beef"),
        ("/", "/"),
        ("", "/"),
        ("//a//b/", "/a/b"),
    ];
    for (path, want) in cases {
        assert_eq!(none.route(path), want, "{path}");
    }
}

#[test]
fn deep_paths_are_cut() {
    let path = "/a/b/c/d/e/f/g/h/i/j/k";
    assert_eq!(Routes::default().route(path), "/a/b/c/d/e/f/g/h/{rest}");
}

#[test]
fn configured_patterns_win_in_order() {
    let r = routes(&["/api/users/{user}", "/static/*", "/api/*"]);
    assert_eq!(r.route("/api/users/alice"), "/api/users/{user}");
    assert_eq!(r.route("/static"), "/static/*");
    assert_eq!(r.route("/static/css/site.css"), "/static/*");
    assert_eq!(r.route("/api/users/alice/keys"), "/api/*");
    assert_eq!(r.route("/other/12"), "/other/{id}");
}

#[test]
fn bad_patterns_are_named() {
    let (r, problems) = Routes::new(&[
        "users/{id}".to_string(),
        "/a/*/b".to_string(),
        "/ok".to_string(),
    ]);
    let paths: Vec<&str> = problems.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["routes[0]", "routes[1]"]);
    assert_eq!(r.route("/ok"), "/ok");
}
