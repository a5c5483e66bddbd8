//! A real `file_open` source attached for a test: started on its own runtime, collecting
//! what it emits, stopped with a check that it shut down cleanly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kotel::config::ComponentId;
use kotel::event::{Event, FileOpenEvent};
use kotel::sources::file_open::{FileOpenSource, FileOpenSourceConfig};
use kotel_integration_tests::running_source::RunningSource;

/// A directory under /tmp that the test watches, removed on drop.
pub struct WatchDir(pub PathBuf);

impl WatchDir {
    /// Creates `/tmp/kotel-watch-<pid>-<tag>/` holding a file `secret`.
    pub fn create(tag: &str) -> Self {
        let dir = PathBuf::from(format!("/tmp/kotel-watch-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), b"s3cr3t\n").unwrap();
        Self(dir)
    }

    /// The watched prefix: the directory with a trailing `/`.
    pub fn prefix(&self) -> String {
        format!("{}/", self.0.display())
    }

    /// A path inside the directory, as text.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for WatchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The running source and what it has emitted so far.
pub struct Attached {
    source: RunningSource,
    /// Every file_open event received so far.
    pub seen: Vec<FileOpenEvent>,
}

impl Attached {
    /// Starts the source with `config` (the batch timeout shortened to 50 ms).
    pub fn start(config: FileOpenSourceConfig) -> Self {
        let config = FileOpenSourceConfig {
            batch_timeout: Duration::from_millis(50),
            ..config
        };
        let id: ComponentId = "file_open".parse().unwrap();
        let source = FileOpenSource::new(&id, &config);
        Self {
            source: RunningSource::start("file_open", Box::new(source)),
            seen: Vec::new(),
        }
    }

    /// Opens `path` (which must be watched) until an open of it is reported: the programs
    /// are attached from then on. Panics after 10 s.
    pub fn warm_up(&mut self, path: &Path) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = path.display().to_string();
        while !self.seen.iter().any(|e| e.path == text) {
            assert!(
                Instant::now() < deadline,
                "no event from the file_open source after 10 s (is it attached?)"
            );
            let _ = std::fs::File::open(path);
            self.receive(Duration::from_millis(100));
        }
    }

    /// Collects until `count(seen)` reaches `want` or 10 s pass, then 300 ms more so that
    /// anything extra shows up too.
    pub fn collect_until(&mut self, want: usize, count: impl Fn(&[FileOpenEvent]) -> usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while count(&self.seen) < want && Instant::now() < deadline {
            self.receive(Duration::from_millis(100));
        }
        self.receive(Duration::from_millis(300));
    }

    /// Stops the source and checks that it returned `Ok` within 5 s; returns every event
    /// received before the stop.
    pub fn stop(self) -> Vec<FileOpenEvent> {
        self.source.stop(|_| {});
        self.seen
    }

    /// Collects batches for up to `wait`; panics if the source stopped.
    pub fn receive(&mut self, wait: Duration) {
        let seen = &mut self.seen;
        self.source.receive(wait, |e| {
            if let Event::FileOpen(f) = e {
                seen.push(f);
            }
        });
    }
}

/// This thread's kernel task name (what the program reports as `comm`).
pub fn thread_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

/// This thread's id.
pub fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}
