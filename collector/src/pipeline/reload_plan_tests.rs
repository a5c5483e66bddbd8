use super::*;

/// Two pipelines sharing a filter; `edit` changes the YAML.
fn config(edit: impl Fn(String) -> String) -> Config {
    let yaml = "sources: { replay: { path: /dev/null }, replay/b: { path: /dev/null } }\n\
                    processors: { filter: {}, aggregate: { interval: 10s } }\n\
                    exporters: { debug: {}, prometheus: { listen: 127.0.0.1:9464 } }\n\
                    pipelines:\n  \
                    metrics: { sources: [replay], processors: [filter, aggregate], exporters: [prometheus] }\n  \
                    logs: { sources: [replay, replay/b], processors: [filter], exporters: [debug] }\n\
                    runtime: { reload_interval: 5s }\n"
            .to_string();
    crate::config::parse_str(&edit(yaml), &|_| None).expect("valid")
}

fn ids<T: ToString>(set: &BTreeSet<T>) -> Vec<String> {
    set.iter().map(ToString::to_string).collect()
}

#[test]
fn only_what_changed_restarts() {
    let old = config(|y| y);
    let plan = |edit: &dyn Fn(String) -> String| Restarted::plan(&old, &config(edit));
    assert_eq!(plan(&|y| y), Restarted::default());

    let exporter = plan(&|y| y.replace("9464", "9465"));
    assert_eq!(ids(&exporter.exporters), ["prometheus"]);
    assert!(exporter.pipelines.is_empty() && exporter.sources.is_empty());

    let aggregate = plan(&|y| y.replace("interval: 10s", "interval: 20s"));
    assert_eq!(
        ids(&aggregate.pipelines),
        ["metrics"],
        "the pipeline that has it"
    );
    assert!(aggregate.exporters.is_empty() && aggregate.sources.is_empty());

    let shared = plan(&|y| y.replace("filter: {}", "filter: { exclude: { comms: [x] } }"));
    assert_eq!(
        ids(&shared.pipelines),
        ["metrics", "logs"],
        "every pipeline that has it"
    );

    let rerouted =
        plan(&|y| y.replace("exporters: [prometheus]", "exporters: [prometheus, debug]"));
    assert_eq!(
        rerouted,
        Restarted::default(),
        "a new route restarts nothing"
    );

    let source = plan(&|y| {
        y.replace(
            "replay/b: { path: /dev/null }",
            "replay/b: { path: /tmp/x }",
        )
    });
    assert_eq!(ids(&source.sources), ["replay/b"]);
    assert!(source.pipelines.is_empty());
}

#[test]
fn runtime_settings_restart_everything_but_the_reload_interval() {
    let old = config(|y| y);
    let reload = config(|y| y.replace("reload_interval: 5s", "reload_interval: 1s"));
    assert!(!restarts_everything(&old, &reload));
    let capacity = config(|y| {
        y.replace(
            "reload_interval: 5s",
            "reload_interval: 5s, channel_capacity: 333",
        )
    });
    assert!(restarts_everything(&old, &capacity));
}
