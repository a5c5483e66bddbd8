//! Loads a [`LoadPlan`] with aya and attaches its programs as their [`Need`]s say.
//!
//! Contract of [`load_and_attach`]:
//! - The object is loaded with the plan's globals and sizes; `fill` then writes the maps
//!   that must be ready before any program runs (filters, watched prefixes).
//! - Programs load and attach in plan order. A verifier rejection is
//!   [`ComponentError::Rejected`] with the verifier's reason in one line, counted in
//!   `kotel.source.kernel.rejections{component_id,program}`, and ends the load, except
//!   where a [`Need::Fallback`] follows the rejected program: then it is logged as a
//!   warning, counted, and the fallback loads instead.
//! - An [`Need::Optional`] program whose hook this kernel lacks, or that fails to attach,
//!   is skipped with a warning and named in [`Loaded::without`]. A required program that
//!   fails to attach is a [`ComponentError::Startup`].

use aya::programs::{BtfTracePoint, ProgramError, TracePoint};
use aya::{Btf, Ebpf};

use super::load::startup;
use super::spec::{Attach, LoadPlan, Need, ProgramSpec};
use super::verify::rejection_reason;
use crate::component::ComponentError;
use crate::telemetry::names;

/// Where tracefs may be mounted (aya looks in the same places).
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// A loaded object; its attached programs stay attached while this lives.
pub struct Loaded {
    /// The object: maps and programs.
    pub ebpf: Ebpf,
    /// The programs attached, as `name on hook`.
    pub attached: Vec<String>,
    /// What runs without: each skipped program with the reason.
    pub without: Vec<String>,
}

/// Loads `plan`, relocating against `btf`, runs `fill` on the maps (its result comes back
/// with the object), and attaches; see the module contract. `source` is the component id
/// (the label of the rejection counter).
pub fn load_and_attach<T>(
    source: &str,
    plan: &LoadPlan,
    btf: Option<&Btf>,
    fill: impl FnOnce(&mut Ebpf) -> Result<T, ComponentError>,
) -> Result<(Loaded, T), ComponentError> {
    let mut ebpf = plan.spec.loader(btf).load(plan.spec.object).map_err(|e| {
        startup(
            &format!("loading the {} kernel object", plan.spec.source),
            &e,
        )
    })?;
    let filled = fill(&mut ebpf)?;
    let mut attached = Vec::new();
    let mut without = Vec::new();
    let mut previous_failed = false;
    for (i, planned) in plan.programs.iter().enumerate() {
        let program = planned.program;
        let has_fallback = plan
            .programs
            .get(i + 1)
            .is_some_and(|next| next.need == Need::Fallback);
        if planned.need == Need::Fallback && !previous_failed {
            continue;
        }
        previous_failed = false;
        if planned.need == Need::Optional && !hook_exists(&program.attach, btf) {
            without.push(format!(
                "{}: this kernel has no {}",
                program.name,
                program.attach.describe()
            ));
            previous_failed = has_fallback;
            continue;
        }
        match load_program(&mut ebpf, &program, btf).and_then(|()| attach_one(&mut ebpf, &program))
        {
            Ok(()) => attached.push(format!("{} on {}", program.name, program.attach.describe())),
            Err(e) => {
                if let ComponentError::Rejected { program, .. } = &e {
                    count_rejection(source, program);
                }
                if has_fallback {
                    tracing::warn!(component = %source, "{e}; using the fallback program");
                    previous_failed = true;
                } else if planned.need == Need::Optional
                    && !matches!(e, ComponentError::Rejected { .. })
                {
                    without.push(format!("{}: {e}", program.name));
                } else {
                    return Err(e);
                }
            }
        }
    }
    for skipped in &without {
        tracing::warn!(component = %source, "running without {skipped}");
    }
    Ok((
        Loaded {
            ebpf,
            attached,
            without,
        },
        filled,
    ))
}

/// Counts one verifier rejection of `program` by source `source`.
fn count_rejection(source: &str, program: &str) {
    metrics::counter!(
        names::KERNEL_REJECTIONS,
        names::COMPONENT_ID => source.to_string(),
        names::PROGRAM => program.to_string()
    )
    .increment(1);
}

/// True when this kernel has the hook: a tracepoint in tracefs, or BTF for `tp_btf`.
pub fn hook_exists(attach: &Attach, btf: Option<&Btf>) -> bool {
    match attach {
        Attach::TracePoint { category, name } => TRACEFS.iter().any(|root| {
            std::path::Path::new(root)
                .join("events")
                .join(category)
                .join(name)
                .exists()
        }),
        Attach::BtfTracePoint { .. } => btf.is_some(),
    }
}

/// Turns a failed load into [`ComponentError::Rejected`] when the verifier refused the
/// program: `EACCES`, `EINVAL` or `E2BIG` (too complex) with a log saying why. Anything
/// else (`ENOMEM`, a JIT out of its memory limit, `EPERM`) may pass by waiting and is a
/// start-up error, retried.
pub fn load_failure(program: &str, e: &ProgramError) -> ComponentError {
    if let ProgramError::LoadError {
        io_error,
        verifier_log,
    } = e
    {
        let log = verifier_log.to_string();
        let verdict = matches!(
            io_error.raw_os_error(),
            Some(libc::EACCES | libc::EINVAL | libc::E2BIG)
        );
        if verdict && !log.trim().is_empty() {
            return ComponentError::Rejected {
                program: program.to_string(),
                reason: rejection_reason(&log, io_error),
            };
        }
    }
    startup(&format!("loading {program}"), e)
}

fn missing(name: &str) -> ComponentError {
    ComponentError::Startup(format!("program {name} missing from the object"))
}

/// Loads `program` of `ebpf` into the kernel (nothing is attached) unless it is loaded
/// already (one program may attach to several hooks); a refusal is
/// [`ComponentError::Rejected`].
pub fn load_program(
    ebpf: &mut Ebpf,
    program: &ProgramSpec,
    btf: Option<&Btf>,
) -> Result<(), ComponentError> {
    let name = program.name;
    let prog = ebpf.program_mut(name).ok_or_else(|| missing(name))?;
    match program.attach {
        Attach::TracePoint { .. } => {
            let tp: &mut TracePoint = prog.try_into().map_err(|e| startup("program type", &e))?;
            if tp.fd().is_err() {
                tp.load().map_err(|e| load_failure(name, &e))?;
            }
        }
        Attach::BtfTracePoint { name: tp_name } => {
            let tp: &mut BtfTracePoint =
                prog.try_into().map_err(|e| startup("program type", &e))?;
            let btf = btf.ok_or_else(|| {
                ComponentError::Startup(format!(
                    "{name} needs the kernel's BTF ({})",
                    super::btf::VMLINUX
                ))
            })?;
            if tp.fd().is_err() {
                tp.load(tp_name, btf).map_err(|e| load_failure(name, &e))?;
            }
        }
    }
    Ok(())
}

fn attach_one(ebpf: &mut Ebpf, program: &ProgramSpec) -> Result<(), ComponentError> {
    let name = program.name;
    let prog = ebpf.program_mut(name).ok_or_else(|| missing(name))?;
    let attaching = |e: &dyn std::error::Error| {
        startup(
            &format!("attaching {name} to {}", program.attach.describe()),
            e,
        )
    };
    match program.attach {
        Attach::TracePoint { category, name: tp } => {
            let prog: &mut TracePoint = prog.try_into().map_err(|e| startup("program type", &e))?;
            prog.attach(category, tp)
                .map(drop)
                .map_err(|e| attaching(&e))
        }
        Attach::BtfTracePoint { .. } => {
            let prog: &mut BtfTracePoint =
                prog.try_into().map_err(|e| startup("program type", &e))?;
            prog.attach().map(drop).map_err(|e| attaching(&e))
        }
    }
}
