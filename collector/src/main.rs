//! `kotel`: the command line. `run` starts the agent on a pipeline file, `validate`
//! checks one, `print-config` shows the effective configuration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kotel::config::{self, Config};
use std::sync::Arc;

use kotel::pipeline::{self, ConfigWatch, RunOptions};
use tokio::sync::Notify;

/// mimalloc rather than glibc's malloc: the agent allocates on one thread (reader,
/// pipelines) and frees on another (exporters), and under an HTTP load glibc's
/// consolidation and page faults were a quarter of the agent's time (`bench.sh l7`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The pipeline file used when none is given.
const DEFAULT_CONFIG: &str = "pipeline.yaml";

#[derive(Parser)]
#[command(
    name = "kotel",
    version,
    about = "Turns Linux kernel events into OpenTelemetry metrics and logs"
)]
struct Cli {
    /// Log filter for the agent's own logs (stderr), e.g. `info`, `kotel=debug`.
    #[arg(long, global = true, env = "KOTEL_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent until SIGINT/SIGTERM (or until every source has finished).
    Run {
        /// Pipeline file.
        #[arg(long, short, env = "KOTEL_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Also write every event the sources emit to this JSON-lines file (the `replay`
        /// source reads it back).
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
    },
    /// Check a pipeline file: prints every error with its path and exits non-zero.
    Validate {
        /// Pipeline file.
        #[arg(default_value = DEFAULT_CONFIG)]
        file: PathBuf,
    },
    /// Check what this kernel offers kotel and whether the configured sources can run:
    /// exits non-zero, saying what is missing, when one cannot.
    Doctor {
        /// Pipeline file whose sources to check (every kernel source when it does not exist).
        #[arg(long, short, env = "KOTEL_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the effective configuration: defaults filled in, `${env:VAR}` substituted,
    /// header values (credentials) redacted.
    PrintConfig {
        /// Pipeline file.
        #[arg(default_value = DEFAULT_CONFIG)]
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let result = match cli.command {
        Command::Run { config, record } => load(&config).and_then(|c| {
            let options = RunOptions {
                record,
                ..RunOptions::default()
            };
            run(&config, c, options)
        }),
        Command::Validate { file } => load(&file).map(|_| println!("{}: valid", file.display())),
        Command::PrintConfig { file } => load(&file).map(|c| print!("{}", c.to_redacted_yaml())),
        Command::Doctor { config } => doctor(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kotel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, not in `kubectl logs` or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Loads and validates `path`; every error is printed with its path.
fn load(path: &Path) -> anyhow::Result<Config> {
    config::load_file(path).map_err(|errors| {
        for e in &errors.0 {
            eprintln!("{e}");
        }
        anyhow::anyhow!(
            "{}: {} error(s); nothing was started",
            path.display(),
            errors.0.len()
        )
    })
}

fn doctor(path: &Path) -> anyhow::Result<()> {
    let config = if path.exists() {
        Some(load(path)?)
    } else {
        None
    };
    let report = kotel::doctor::examine(config.as_ref());
    print!("{report}");
    anyhow::ensure!(report.can_run(), "see the MISSING and REJECTED lines above");
    Ok(())
}

/// Runs `config`, read from `path`, following the file's changes until SIGINT/SIGTERM.
fn run(path: &Path, config: Config, options: RunOptions) -> anyhow::Result<()> {
    kotel::preflight::check(&config)?;
    // The text the config came from: a later check compares the file with it. Read after
    // loading, so a change in between is seen by the first check.
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let watch = ConfigWatch::new(path, text, config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("kotel")
        .build()
        .context("starting the async runtime")?;
    // The handlers are in place before anything starts, so an early SIGTERM is a clean stop.
    let hangup = Arc::new(Notify::new());
    let stop = runtime
        .block_on(async { signals(hangup.clone()) })
        .context("installing signal handlers")?;
    let report = runtime.block_on(pipeline::run_reloading(watch, options, stop, hangup))?;
    if report.timed_out {
        tracing::warn!("exited before every exporter had flushed");
    }
    // A task blocked in a system call (e.g. writing to a stdout nobody reads) must not
    // keep the process alive: give the workers a moment, then leave.
    runtime.shutdown_timeout(WORKER_GRACE);
    Ok(())
}

/// How long exiting waits for runtime workers still busy after shutdown.
const WORKER_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Installs the signal handlers: the returned future completes on SIGINT or SIGTERM;
/// each SIGHUP notifies `hangup` (read the pipeline file now).
fn signals(hangup: Arc<Notify>) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            hangup.notify_one();
        }
    });
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}
