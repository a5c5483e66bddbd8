//! `kotel run` follows its pipeline file: every `runtime.reload_interval` and on SIGHUP
//! it reads the file again; a changed file that is valid (and passes the same preflight
//! as start-up) replaces the running pipelines in the same process, an invalid one is
//! refused with every error and its path, and the running pipelines stay. Kubernetes
//! updates a mounted ConfigMap by swapping a symlink, so the file is read whole each
//! time rather than watched for writes.
//!
//! A replacement restarts only the components whose configuration changed, and the
//! pipelines whose processors changed ([`Graph::apply`]): an unchanged source stays
//! attached and sees every event, an unchanged pipeline keeps its `aggregate` series and
//! CRI cache. A restarted source misses what the kernel produces between its stop and
//! its new start.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::{self, Config};
use crate::pipeline::build::{ComponentFactory, Components};
use crate::pipeline::graph::Graph;
use crate::pipeline::run::{until_stopped, RunError, RunOptions, RunReport, StopReason};
use crate::telemetry::names;

/// The pipeline file as last read, and the configuration running from it.
pub struct ConfigWatch {
    path: PathBuf,
    last_text: String,
    running: Config,
    last_read_error: Option<String>,
}

impl ConfigWatch {
    /// Follows `path`, whose text `text` gave the running configuration `running`.
    pub fn new(path: &Path, text: String, running: Config) -> Self {
        Self {
            path: path.to_path_buf(),
            last_text: text,
            running,
            last_read_error: None,
        }
    }

    /// The configuration running now.
    pub fn running(&self) -> &Config {
        &self.running
    }

    /// Reads the file. Returns the new configuration when the text changed, the result
    /// is valid, passes the preflight checks and differs from the running one; it is
    /// then the running one. Every other outcome is logged and counted in
    /// `kotel.config.reloads`, except an unchanged text, which is silent.
    pub fn check(&mut self) -> Option<Config> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) => {
                let error = e.to_string();
                if self.last_read_error.as_ref() != Some(&error) {
                    tracing::warn!(file = %self.path.display(), %error, "cannot read the pipeline file; the running pipelines stay");
                    self.last_read_error = Some(error);
                }
                count("unreadable");
                return None;
            }
        };
        self.last_read_error = None;
        if text == self.last_text {
            return None;
        }
        self.last_text = text;
        let candidate = config::parse_str(&self.last_text, &|name| {
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
        });
        let new = match candidate {
            Ok(new) => new,
            Err(errors) => {
                // Counted before the log line says so: whoever reads the log and then the
                // counter sees both.
                count("invalid");
                for error in &errors.0 {
                    tracing::error!(file = %self.path.display(), "{error}");
                }
                tracing::error!(file = %self.path.display(), errors = errors.0.len(), "the changed pipeline file is invalid; the running pipelines stay");
                return None;
            }
        };
        if let Err(e) = crate::preflight::check(&new) {
            count("invalid");
            tracing::error!(file = %self.path.display(), "{e}; the running pipelines stay");
            return None;
        }
        if new == self.running {
            tracing::info!(file = %self.path.display(), "the pipeline file changed but the configuration did not");
            count("unchanged");
            return None;
        }
        tracing::info!(file = %self.path.display(), "the pipeline file changed; replacing the running pipelines");
        count("applied");
        self.running = new.clone();
        Some(new)
    }

    /// Waits until [`Self::check`] returns a new configuration: it is called every
    /// `interval` (never when zero) and whenever `hangup` is notified.
    pub async fn changed(&mut self, interval: Duration, hangup: &Notify) -> Config {
        loop {
            let tick = async {
                if interval.is_zero() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(interval).await;
            };
            tokio::select! {
                _ = tick => {}
                _ = hangup.notified() => {
                    tracing::info!(file = %self.path.display(), "SIGHUP: reading the pipeline file");
                }
            }
            if let Some(new) = self.check() {
                return new;
            }
        }
    }
}

fn count(result: &'static str) {
    metrics::counter!(names::CONFIG_RELOADS, "result" => result).increment(1);
}

/// Runs the configuration of `watch` like [`run_with`](crate::pipeline::run_with) until
/// `stop` completes or every source has finished, applying the file whenever it changes:
/// only the components whose configuration changed restart ([`Graph::apply`]).
pub async fn run_reloading(
    mut watch: ConfigWatch,
    mut options: RunOptions,
    stop: impl Future<Output = ()>,
    hangup: Arc<Notify>,
) -> Result<RunReport, RunError> {
    crate::telemetry::install();
    let factory: Arc<dyn ComponentFactory> = Arc::new(Components::default());
    let mut graph = Graph::start(watch.running(), &options, factory)?;
    // A full restart (a `runtime` change) adds to the record file rather than truncating it.
    options.append_record = true;
    tokio::pin!(stop);
    let reason = loop {
        let interval = graph.config().runtime.reload_interval;
        let changed = tokio::select! {
            reason = until_stopped(&mut graph, &mut stop) => break reason,
            new = watch.changed(interval, &hangup) => new,
        };
        let (applied, restarted) = graph.apply(&changed, &options).await?;
        graph = applied;
        tracing::debug!(?restarted, "restarted by the reload");
        // The last unfinished source may have finished, or gone, meanwhile.
        if graph.all_sources_finished() {
            tracing::info!("every source finished; shutting down");
            break StopReason::SourcesFinished;
        }
    };
    let timed_out = graph.shutdown().await;
    Ok(RunReport { reason, timed_out })
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod tests;
