//! `kotel doctor`'s kernel checks: the node's kernel features ([`features`]) and, for
//! each kernel source, its plan on this kernel ([`programs`]). A kernel source's
//! `checkup` calls [`check_source`]; what every source shares (privileges, the ring
//! buffer, the kernel's BTF) is examined once per report.

pub mod features;
pub mod programs;

use std::sync::{Arc, Mutex};

use crate::component::checkup::Report;
use crate::component::kind::Shared;
use crate::kernel::spec::LoadPlan;

/// What the kernel sources of one report share, examined by the first of them.
#[derive(Default)]
struct Session(Mutex<Option<Examined>>);

#[derive(Clone)]
struct Examined {
    may_load: bool,
    btf: Option<Arc<aya::Btf>>,
}

/// Adds the findings of kernel source `id`, which would load `plan` here: first (once
/// per report) whether this process may load programs and ring buffers exist, then each
/// hook and the verifier's verdict on each program. Only reads; attaches nothing.
pub fn check_source(report: &mut Report, shared: &Shared, id: &str, plan: &LoadPlan) {
    let session = shared.get::<Session>();
    let mut examined = session.0.lock().unwrap_or_else(|e| e.into_inner());
    let examined = examined
        .get_or_insert_with(|| {
            let may_load = features::privileges(report);
            features::ring_buffer(report);
            Examined {
                may_load,
                btf: crate::kernel::shared_btf::aya(),
            }
        })
        .clone();
    programs::check(report, id, plan, examined.btf.as_deref(), examined.may_load);
}
