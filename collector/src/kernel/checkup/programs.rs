//! A kernel source's plan as `kotel doctor` sees it: whether each hook exists, and the
//! verifier's verdict on every program of the plan, loaded exactly as the source loads
//! it (nothing is attached).

use aya::Btf;

use crate::component::checkup::{Report, Status};
use crate::kernel::attach::hook_exists;
use crate::kernel::spec::{LoadPlan, Need, ProgramSpec};
use crate::kernel::verify::{verify, Verdict, Verified, STACK_BUDGET, STACK_LIMIT};

/// Adds the findings for source `id` with `plan`: a line per hook this kernel lacks, then
/// the verifier's verdict on each program (when this process may load programs).
pub fn check(report: &mut Report, id: &str, plan: &LoadPlan, btf: Option<&Btf>, may_load: bool) {
    let subject = format!("source {id}");
    for note in &plan.method {
        report.add(&subject, Status::Ok, note.clone());
    }
    for note in &plan.left_out {
        report.add(&subject, Status::Warn, note.clone());
    }
    let mut present = Vec::new();
    for planned in &plan.programs {
        let hook = planned.program.attach.describe();
        if hook_exists(&planned.program.attach, btf) {
            if !present.contains(&planned.program.name) {
                present.push(planned.program.name);
            }
            continue;
        }
        let (status, detail) = match planned.need {
            Need::Required => (
                Status::Missing,
                format!("{hook} does not exist (or tracefs is not mounted)"),
            ),
            Need::Optional | Need::Fallback => (
                Status::Warn,
                format!(
                    "{hook} does not exist; the source runs without {}",
                    planned.program.name
                ),
            ),
        };
        report.add(&subject, status, detail);
    }
    if !may_load {
        report.add(
            &subject,
            Status::Info,
            "programs not verified (no privileges to load them)",
        );
        return;
    }
    let programs: Vec<ProgramSpec> = present
        .iter()
        .filter_map(|name| plan.programs.iter().find(|p| p.program.name == *name))
        .map(|p| p.program)
        .collect();
    let verdicts = match verify(&plan.spec, &programs, btf) {
        Ok(v) => v,
        Err(e) => {
            report.add(
                &subject,
                Status::Missing,
                format!("its kernel object cannot be prepared: {e}"),
            );
            return;
        }
    };
    for (program, verdict) in programs.iter().zip(&verdicts) {
        match verdict {
            Verdict::Accepted(v) => {
                let status = if v.deepest_chain > STACK_BUDGET {
                    Status::Warn
                } else {
                    Status::Ok
                };
                report.add(&subject, status, accepted(program, v));
            }
            Verdict::Rejected { reason, .. } => {
                let fallback = fallback_of(plan, program.name)
                    .filter(|f| accepted_in(&programs, &verdicts, f.name));
                let primary = primary_of(plan, program.name)
                    .filter(|p| accepted_in(&programs, &verdicts, p.name));
                let (status, tail) = match (fallback, primary) {
                    (Some(f), _) => (Status::Warn, format!("; {} runs instead", f.name)),
                    (None, Some(p)) => (
                        Status::Warn,
                        format!("; {} runs, so this fallback is not needed here", p.name),
                    ),
                    (None, None) => (Status::Rejected, String::new()),
                };
                report.add(
                    &subject,
                    status,
                    format!("the kernel rejects {}: {reason}{tail}", program.name),
                );
            }
        }
    }
}

/// `kotel_tcp_state on sock:inet_sock_set_state loads: stack 96 of 448 bytes (frames
/// 80+96+88), verified in 12.3 ms, 4512 instructions`.
fn accepted(program: &ProgramSpec, v: &Verified) -> String {
    let frames: Vec<String> = v.frames.iter().map(u32::to_string).collect();
    let over = if v.deepest_chain > STACK_BUDGET {
        format!(" (over the budget; the kernel's limit is {STACK_LIMIT})")
    } else {
        String::new()
    };
    format!(
        "{} on {} loads: stack {} of {STACK_BUDGET} bytes{over} (frames {}), verified in {:.1} ms, {} instructions",
        program.name,
        program.attach.describe(),
        v.deepest_chain,
        frames.join("+"),
        v.verification_time.as_secs_f64() * 1000.0,
        v.processed_insns,
    )
}

/// The program planned as `name`'s fallback, if any.
fn fallback_of(plan: &LoadPlan, name: &str) -> Option<ProgramSpec> {
    let at = plan.programs.iter().position(|p| p.program.name == name)?;
    plan.programs
        .get(at + 1)
        .filter(|next| next.need == Need::Fallback)
        .map(|next| next.program)
}

/// The program `name` is the fallback of, if it is one.
fn primary_of(plan: &LoadPlan, name: &str) -> Option<ProgramSpec> {
    let at = plan.programs.iter().position(|p| p.program.name == name)?;
    (at > 0 && plan.programs[at].need == Need::Fallback).then(|| plan.programs[at - 1].program)
}

fn accepted_in(programs: &[ProgramSpec], verdicts: &[Verdict], name: &str) -> bool {
    programs
        .iter()
        .zip(verdicts)
        .any(|(p, v)| p.name == name && matches!(v, Verdict::Accepted(_)))
}
