use super::*;
use crate::telemetry;

/// A valid pipeline that needs no privileges, replaying `events` into `exporter`.
fn pipeline(exporter: &str) -> String {
    format!(
        "sources: {{ replay: {{ path: /dev/null }} }}\n\
             exporters: {{ {exporter}: {{}} }}\n\
             pipelines: {{ logs: {{ sources: [replay], exporters: [{exporter}] }} }}\n"
    )
}

/// A watch of a fresh file holding `text`, as `kotel run` starts it.
fn watch_of(text: &str) -> (tempfile::TempDir, PathBuf, ConfigWatch) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, text).unwrap();
    let config = config::load_file(&path).unwrap();
    let watch = ConfigWatch::new(&path, text.to_string(), config);
    (dir, path, watch)
}

fn reloads(result: &str) -> f64 {
    telemetry::snapshot().counter_sum(names::CONFIG_RELOADS, &[("result", result)])
}

#[test]
fn a_valid_change_is_returned_once_and_becomes_the_running_config() {
    telemetry::install();
    let (_dir, path, mut watch) = watch_of(&pipeline("debug"));
    assert!(watch.check().is_none(), "nothing changed");
    let applied = reloads("applied");
    std::fs::write(&path, pipeline("debug/other")).unwrap();
    let new = watch.check().expect("a valid change is taken");
    assert!(new
        .exporters
        .keys()
        .any(|id| id.to_string() == "debug/other"));
    assert_eq!(watch.running(), &new);
    assert!(watch.check().is_none(), "the same text is not taken twice");
    assert!(reloads("applied") > applied);
}

#[test]
fn an_invalid_change_is_refused_and_the_running_config_stays() {
    telemetry::install();
    let (_dir, path, mut watch) = watch_of(&pipeline("debug"));
    let before = watch.running().clone();
    let invalid = reloads("invalid");
    std::fs::write(&path, pipeline("debug").replace("{}", "{ colour: red }")).unwrap();
    assert!(watch.check().is_none());
    assert_eq!(watch.running(), &before);
    assert!(reloads("invalid") > invalid);
    // Repaired, it is taken.
    std::fs::write(&path, pipeline("debug/fixed")).unwrap();
    assert!(watch.check().is_some());
}

#[test]
fn a_change_that_leaves_the_config_as_it_was_restarts_nothing() {
    telemetry::install();
    let (_dir, path, mut watch) = watch_of(&pipeline("debug"));
    let unchanged = reloads("unchanged");
    std::fs::write(&path, format!("# a comment\n{}", pipeline("debug"))).unwrap();
    assert!(watch.check().is_none());
    assert!(reloads("unchanged") > unchanged);
}

#[test]
fn a_missing_file_is_counted_and_the_running_config_stays() {
    telemetry::install();
    let (_dir, path, mut watch) = watch_of(&pipeline("debug"));
    let unreadable = reloads("unreadable");
    std::fs::remove_file(&path).unwrap();
    assert!(watch.check().is_none());
    assert!(reloads("unreadable") > unreadable);
    std::fs::write(&path, pipeline("debug/back")).unwrap();
    assert!(watch.check().is_some());
}

#[test]
fn a_configmap_style_symlink_swap_is_seen() {
    telemetry::install();
    // kubelet: pipeline.yaml -> ..data/pipeline.yaml, ..data -> ..<timestamp>; an
    // update writes a new directory and renames a new ..data symlink over the old.
    let dir = tempfile::tempdir().unwrap();
    let version = |name: &str, text: &str| {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("pipeline.yaml"), text).unwrap();
    };
    version("..v1", &pipeline("debug"));
    std::os::unix::fs::symlink("..v1", dir.path().join("..data")).unwrap();
    let path = dir.path().join("pipeline.yaml");
    std::os::unix::fs::symlink("..data/pipeline.yaml", &path).unwrap();
    let mut watch = ConfigWatch::new(
        &path,
        std::fs::read_to_string(&path).unwrap(),
        config::load_file(&path).unwrap(),
    );
    version("..v2", &pipeline("debug/v2"));
    std::os::unix::fs::symlink("..v2", dir.path().join("..data_tmp")).unwrap();
    std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).unwrap();
    std::fs::remove_dir_all(dir.path().join("..v1")).unwrap();
    let new = watch.check().expect("the swapped file is read");
    assert!(new.exporters.keys().any(|id| id.to_string() == "debug/v2"));
}

#[tokio::test]
async fn changes_are_seen_on_the_interval_and_at_once_on_sighup() {
    telemetry::install();
    let (_dir, path, mut watch) = watch_of(&pipeline("debug"));
    let hangup = Notify::new();
    std::fs::write(&path, pipeline("debug/timer")).unwrap();
    let started = std::time::Instant::now();
    watch.changed(Duration::from_millis(300), &hangup).await;
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Interval off: only SIGHUP reads the file.
    std::fs::write(&path, pipeline("debug/hup")).unwrap();
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        watch.changed(Duration::ZERO, &hangup),
    );
    assert!(
        waiting.await.is_err(),
        "without SIGHUP nothing reads the file"
    );
    hangup.notify_one();
    let new = tokio::time::timeout(
        Duration::from_secs(10),
        watch.changed(Duration::ZERO, &hangup),
    )
    .await
    .expect("SIGHUP reads the file");
    assert!(new.exporters.keys().any(|id| id.to_string() == "debug/hup"));
}
