//! A real source running for a test on its own runtime: started, its batches handed to
//! the test as they arrive, stopped with a check that it shut down cleanly. The kernel
//! sources' harnesses (`harness` for tcp, `exec_kernel/attached.rs`,
//! `file_open_kernel/attached.rs`) add their warm-up and typed views on top.

use std::time::{Duration, Instant};

use kotel::component::{ComponentError, Shutdown, Source, SourceOutput};
use kotel::event::{Batch, Event};
use tokio::sync::mpsc::Receiver;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A started source.
pub struct RunningSource {
    name: &'static str,
    rt: tokio::runtime::Runtime,
    rx: Receiver<Batch>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ComponentError>>,
}

impl RunningSource {
    /// Starts `source` (named `name` in messages) on a runtime of its own, with the
    /// agent's telemetry installed; an error it returns is printed.
    pub fn start(name: &'static str, source: Box<dyn Source>) -> Self {
        kotel::telemetry::install();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (out, rx) = SourceOutput::for_test(4096);
        let (stop, stop_rx) = watch::channel(false);
        let run = source.run(out, Shutdown::new(stop_rx));
        let task = rt.spawn(async move {
            let result = run.await;
            if let Err(e) = &result {
                eprintln!("{name} source failed: {e}");
            }
            result
        });
        Self {
            name,
            rt,
            rx,
            stop,
            task,
        }
    }

    /// Hands every event received within `wait` to `keep`; panics if the source stopped
    /// sending.
    pub fn receive(&mut self, wait: Duration, mut keep: impl FnMut(Event)) {
        let end = Instant::now() + wait;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let rx = &mut self.rx;
            match self
                .rt
                .block_on(async { tokio::time::timeout(left, rx.recv()).await })
            {
                Ok(Some(batch)) => batch.into_iter().for_each(&mut keep),
                Ok(None) => panic!(
                    "the {} source stopped sending (its error is printed above)",
                    self.name
                ),
                Err(_) => return,
            }
        }
    }

    /// Stops the source, checks that it returned `Ok` within 5 s, and hands what it had
    /// queued by then (e.g. a last, partial metrics interval) to `keep`.
    pub fn stop(mut self, keep: impl FnMut(Event)) {
        self.stop.send(true).unwrap();
        let task = self.task;
        self.rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await })
            .expect("source stops within 5 s")
            .expect("source task")
            .expect("source returns Ok after shutdown");
        let mut batches = Vec::new();
        while let Ok(batch) = self.rx.try_recv() {
            batches.push(batch);
        }
        batches.into_iter().flatten().for_each(keep);
    }
}
