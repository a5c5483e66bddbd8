//! Keeps a source running: builds it, runs it, and after a failure (an error or a panic)
//! logs it with the source id, counts it and builds it anew after an exponential backoff.
//! A failure that waiting cannot mend ([`ComponentError::Fatal`], a verifier rejection) is
//! logged and counted once, and the source stays stopped while the rest runs on.

use std::time::Duration;

use crate::component::output::SourceOutput;
use crate::component::{ComponentError, Shutdown, Source};
use crate::config::ComponentId;
use crate::telemetry::names;

/// Restart timing for a failing source.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// First wait.
    pub initial: Duration,
    /// Longest wait; the wait doubles up to it.
    pub max: Duration,
}

/// How a supervised source ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SourceEnd {
    /// The source finished on its own (e.g. a replay file ended).
    Finished,
    /// Shutdown was requested.
    Stopped,
    /// The kernel rejected the source's programs: it stays stopped, and the agent keeps
    /// running (the rest of the pipelines, and the self-telemetry that reports it).
    Rejected,
}

/// Runs the source that `build` makes until it finishes or `shutdown` fires; restarts it
/// on failure. `build` is called once per attempt, so each attempt starts clean.
pub async fn supervise(
    id: ComponentId,
    build: impl Fn() -> Box<dyn Source>,
    output: SourceOutput,
    mut shutdown: Shutdown,
    backoff: Backoff,
) -> SourceEnd {
    let labels = [
        (names::COMPONENT_ID, id.to_string()),
        (names::COMPONENT_KIND, "source".to_string()),
    ];
    let errors = metrics::counter!(names::COMPONENT_ERRORS, &labels);
    let restarts = metrics::counter!(names::SOURCE_RESTARTS, &labels);
    let mut wait = backoff.initial;
    loop {
        let started = tokio::time::Instant::now();
        let attempt = tokio::spawn(build().run(output.clone(), shutdown.clone()));
        let failure = match attempt.await {
            Ok(Ok(())) if shutdown.is_requested() => return SourceEnd::Stopped,
            Ok(Ok(())) => {
                tracing::info!(component = %id, "source finished");
                return SourceEnd::Finished;
            }
            Ok(Err(e @ ComponentError::Fatal(_))) => {
                errors.increment(1);
                tracing::error!(component = %id, error = %e, "source stopped; not restarting it");
                return SourceEnd::Finished;
            }
            Ok(Err(e @ ComponentError::Rejected { .. })) => {
                errors.increment(1);
                tracing::error!(
                    component = %id,
                    error = %e,
                    "source stopped: the kernel's verdict does not change by waiting, so it is not retried; the rest keeps running"
                );
                return SourceEnd::Rejected;
            }
            Ok(Err(e)) => e.to_string(),
            Err(join) if join.is_panic() => {
                format!("panicked: {}", panic_message(&*join.into_panic()))
            }
            Err(join) => format!("task ended: {join}"),
        };
        errors.increment(1);
        if started.elapsed() > backoff.max {
            wait = backoff.initial; // it ran well for a while: this is a new failure
        }
        if shutdown.is_requested() {
            tracing::warn!(component = %id, error = %failure, "source failed during shutdown");
            return SourceEnd::Stopped;
        }
        tracing::error!(component = %id, error = %failure, retry_in = ?wait, "source failed; restarting");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.requested() => return SourceEnd::Stopped,
        }
        restarts.increment(1);
        wait = (wait * 2).min(backoff.max);
    }
}

/// The text of a panic payload (`&str` or `String`), else a placeholder.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}
