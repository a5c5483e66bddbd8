//! Every kernel program of every source loads on the running kernel under every
//! combination of the load-time switches a kernel can produce (BTF present or absent,
//! each offset group valid or invalid, the wakeup policies), with its deepest call chain
//! within kotel's stack budget (448 of the kernel's 512 bytes) as its verifier reports it.
//!
//! A program is verified once per distinct value of the globals it reads (the verifier's
//! input does not differ between the others). Prints one `KERNEL-PROGRAM` line per
//! program with its figures (`scripts/kernel-matrix.sh` collects them per kernel).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use aya::Btf;
use kotel::kernel::attach::load_program;
use kotel::kernel::globals_read::globals_read;
use kotel::kernel::spec::{Attach, Combination, ProgramSpec};
use kotel::kernel::verify::{verify, Verdict, Verified, Verifier, STACK_BUDGET};
use kotel::sources::exec::{plan as exec_plan, ExecSourceConfig};
use kotel::sources::file_open::{plan as file_open_plan, FileOpenSourceConfig};
use kotel::sources::l7::{plan as l7_plan, L7SourceConfig};
use kotel::sources::tcp::{plan as tcp_plan, TcpSourceConfig};
use kotel_integration_tests::{is_root, skip};

/// Every source's combinations on this kernel.
fn every_combination() -> Vec<(&'static str, Vec<Combination>)> {
    let file_open = FileOpenSourceConfig {
        paths: vec!["/etc/shadow".into()],
        ..FileOpenSourceConfig::default()
    };
    vec![
        (
            "tcp",
            tcp_plan::every_switch(
                &TcpSourceConfig::default(),
                &tcp_plan::KernelFacts::of_running_kernel(),
            ),
        ),
        (
            "exec",
            exec_plan::every_switch(
                &ExecSourceConfig::default(),
                &exec_plan::KernelFacts::of_running_kernel(),
            ),
        ),
        (
            "file_open",
            file_open_plan::every_switch(
                &file_open,
                &file_open_plan::KernelFacts::of_running_kernel(std::path::Path::new("/proc")),
            ),
        ),
        (
            "l7",
            l7_plan::every_switch(
                &L7SourceConfig::default(),
                &l7_plan::KernelFacts::of_running_kernel(std::path::Path::new("/proc")),
            ),
        ),
    ]
}

/// What the verifier said of one program over its combinations.
#[derive(Default)]
struct Figures {
    combinations: usize,
    verified: usize,
    deepest_chain: u32,
    frames: Vec<u32>,
    verify_ms: (f64, f64),
    insns: u64,
}

impl Figures {
    fn add(&mut self, v: &Verified) {
        let ms = v.verification_time.as_secs_f64() * 1000.0;
        self.verify_ms = if self.verified == 0 {
            (ms, ms)
        } else {
            (self.verify_ms.0.min(ms), self.verify_ms.1.max(ms))
        };
        if v.deepest_chain >= self.deepest_chain {
            self.deepest_chain = v.deepest_chain;
            self.frames = v.frames.clone();
        }
        self.insns = self.insns.max(v.processed_insns);
        self.verified += 1;
    }
}

#[test]
fn every_program_loads_under_every_switch_combination_within_the_stack_budget() {
    if !is_root() {
        return skip("kernel_programs_load", "needs root to load kernel programs");
    }
    let kernel_btf = Btf::from_sys_fs().ok();
    let mut verifier = Verifier::default();
    let mut failures = Vec::new();
    let mut figures: BTreeMap<(&str, &str), Figures> = BTreeMap::new();
    for (source, combinations) in every_combination() {
        assert!(!combinations.is_empty(), "{source}: no combination");
        let mut seen = HashSet::new();
        // What each program reads depends on its instructions only, not on the values.
        let every_program: Vec<&str> = combinations
            .iter()
            .flat_map(|c| c.plan.distinct_programs())
            .map(|p| p.name)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let reads = globals_read(&combinations[0].plan.spec, &every_program).expect("globals read");
        for c in &combinations {
            let btf = if c.btf { kernel_btf.as_ref() } else { None };
            let programs: Vec<ProgramSpec> = c
                .plan
                .distinct_programs()
                .into_iter()
                .filter(|p| btf.is_some() || !matches!(p.attach, Attach::BtfTracePoint { .. }))
                .collect();
            // The verifier's input for a program: the bytes of the globals it reads, the
            // map sizes and, for BTF programs or objects with CO-RE relocations, the BTF.
            let todo: Vec<ProgramSpec> = programs
                .into_iter()
                .filter(|p| {
                    figures.entry((source, p.name)).or_default().combinations += 1;
                    let globals: Vec<(&str, Vec<u8>)> = reads.globals[p.name]
                        .iter()
                        .map(|g| (*g, c.plan.spec.global_bytes(g).unwrap().to_vec()))
                        .collect();
                    let by_btf =
                        reads.btf_relocations || matches!(p.attach, Attach::BtfTracePoint { .. });
                    seen.insert(format!(
                        "{} {globals:?} {:?} {}",
                        p.name,
                        c.plan.spec.max_entries,
                        by_btf && c.btf
                    ))
                })
                .collect();
            if todo.is_empty() {
                continue;
            }
            let verdicts = match verifier.verify(&c.plan.spec, &todo, btf) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{source} [{}]: {e}", c.label));
                    continue;
                }
            };
            for (p, verdict) in todo.iter().zip(verdicts) {
                match verdict {
                    Verdict::Accepted(v) => {
                        if v.deepest_chain > STACK_BUDGET {
                            failures.push(format!(
                                "{source} [{}]: {} uses {} stack bytes (frames {:?}), over the budget of {STACK_BUDGET}",
                                c.label, p.name, v.deepest_chain, v.frames
                            ));
                        }
                        figures.get_mut(&(source, p.name)).unwrap().add(&v);
                    }
                    Verdict::Rejected { reason, .. } => failures.push(format!(
                        "{source} [{}]: the kernel rejects {}: {reason}",
                        c.label, p.name
                    )),
                }
            }
        }
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // Straight to stderr, past the harness's capture: the matrix collects these lines.
    let mut stderr = std::io::stderr().lock();
    for ((source, program), f) in &figures {
        let _ = writeln!(
            stderr,
            "KERNEL-PROGRAM kernel={} source={source} program={program} combinations={} verified={} \
             stack={} frames={} verify_ms={:.1}..{:.1} insns={}",
            release.trim(),
            f.combinations,
            f.verified,
            f.deepest_chain,
            f.frames.iter().map(u32::to_string).collect::<Vec<_>>().join("+"),
            f.verify_ms.0,
            f.verify_ms.1,
            f.insns,
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every program of every object was verified at least once.
    for (source, program) in [
        ("tcp", "kotel_tcp_state"),
        ("tcp", "kotel_tcp_retransmit"),
        ("tcp", "kotel_tcp_send_reset"),
        ("tcp", "kotel_tcp_receive_reset"),
        ("exec", "kotel_exec"),
        ("file_open", "kotel_open_exit"),
        ("file_open", "kotel_openat"),
        ("file_open", "kotel_openat2"),
        ("file_open", "kotel_open"),
        ("file_open", "kotel_creat"),
        ("l7", "kotel_l7_exit"),
        ("l7", "kotel_l7_exit_accept"),
        ("l7", "kotel_l7_enter_close"),
        ("l7", "kotel_l7_enter_recv"),
        ("l7", "kotel_l7_enter_recvfrom"),
        ("l7", "kotel_l7_enter_send"),
        ("l7", "kotel_l7_enter_readv"),
        ("l7", "kotel_l7_enter_writev"),
        ("l7", "kotel_l7_enter_recvmsg"),
        ("l7", "kotel_l7_enter_sendmsg"),
        ("l7", "kotel_l7_enter_sendfile"),
        ("l7", "kotel_l7_enter_connect"),
        ("l7", "kotel_l7_enter_dup"),
        ("l7", "kotel_l7_enter_fcntl"),
    ] {
        assert!(
            figures
                .get(&(source, program))
                .is_some_and(|f| f.verified > 0),
            "{program} of {source} was never verified"
        );
    }
    if kernel_btf.is_some() {
        for (source, program) in [("tcp", "kotel_tcp_rtt"), ("exec", "kotel_exec_btf")] {
            assert!(
                figures
                    .get(&(source, program))
                    .is_some_and(|f| f.verified > 0),
                "{program} of {source} was never verified on a kernel with BTF"
            );
        }
    }
}

/// The verifier statistics come from a load of the very instructions aya loads: the
/// instruction count the verifier reports for kotel's own load equals the one the kernel
/// records for the program aya loaded.
#[test]
fn the_verified_program_is_the_one_the_agent_loads() {
    if !is_root() {
        return skip("kernel_programs_load", "needs root to load kernel programs");
    }
    let btf = Btf::from_sys_fs().ok();
    let plan = tcp_plan::plan(
        &TcpSourceConfig::default(),
        &tcp_plan::KernelFacts::of_running_kernel(),
    );
    let programs = plan.distinct_programs();
    let verdicts = verify(&plan.spec, &programs, btf.as_ref()).expect("verify");
    let mut ebpf = plan
        .spec
        .loader(btf.as_ref())
        .load(plan.spec.object)
        .expect("aya load");
    for (program, verdict) in programs.iter().zip(verdicts) {
        let Verdict::Accepted(v) = verdict else {
            panic!("{} rejected: {verdict:?}", program.name);
        };
        load_program(&mut ebpf, program, btf.as_ref()).expect("aya loads it");
        let info = ebpf
            .program(program.name)
            .unwrap()
            .info()
            .expect("program info");
        match info.verified_instruction_count() {
            Some(n) => assert_eq!(
                u64::from(n),
                v.processed_insns,
                "{}: the kernel verified {n} instructions for aya's load, {} for kotel's",
                program.name,
                v.processed_insns
            ),
            None => skip(
                "the_verified_program_is_the_one_the_agent_loads",
                "kernel before 5.16 does not report verified instructions",
            ),
        }
    }
}
