use super::*;

fn facts(regs: bool) -> KernelFacts {
    KernelFacts {
        vfs: VfsFields {
            valid: 1,
            ..VfsFields::default()
        },
        own_tgid: 42,
        regs: if regs {
            SyscallRegs {
                valid: 1,
                span: 56,
                args: [112, 104, 96, 56],
                numbers: [257, 437, 2, 85],
            }
        } else {
            SyscallRegs::UNKNOWN
        },
        cast: regs.then_some(FileCast {
            kfunc: 64927,
            file: 718,
        }),
    }
}

/// The programs planned for `openat` (always planned, whatever tracefs shows).
fn openat_programs(p: &LoadPlan) -> Vec<&'static str> {
    p.programs
        .iter()
        .filter(|p| match p.program.attach {
            Attach::TracePoint { name, .. } => name.ends_with("_openat"),
            _ => false,
        })
        .map(|p| p.program.name)
        .collect()
}

#[test]
fn with_the_arguments_in_the_registers_only_exit_programs_run() {
    let p = plan(&FileOpenSourceConfig::default(), &facts(true));
    assert_eq!(openat_programs(&p), [names::PROG_EXIT]);
    assert!(p.spec.max_entries.contains(&(names::ARGS, 1)), "no table");
    assert!(p.method.iter().any(|m| m.contains("one program per open")));
    assert_eq!(syscalls(&p).first(), Some(&"openat"));
}

#[test]
fn without_them_the_enter_program_comes_before_its_exit() {
    let p = plan(&FileOpenSourceConfig::default(), &facts(false));
    assert_eq!(
        openat_programs(&p),
        [names::PROG_ENTER_OPENAT, names::PROG_EXIT]
    );
    assert!(!p.spec.max_entries.iter().any(|(m, _)| *m == names::ARGS));
    assert!(p.method.iter().any(|m| m.contains("two programs per open")));
    assert_eq!(syscalls(&p).first(), Some(&"openat"));
}

#[test]
fn a_refused_load_is_tried_again_without_the_cast_then_without_the_registers() {
    let tries = facts(true).attempts();
    let shape: Vec<(bool, bool)> = tries
        .iter()
        .map(|f| (f.regs.valid != 0, f.cast.is_some()))
        .collect();
    assert_eq!(shape, [(true, true), (true, false), (false, false)]);
    assert_eq!(facts(false).attempts().len(), 1, "nothing to drop");
    // Only the first patches the kfunc call in; the others load `r0 = 0` in its place.
    let with = object(&tries[0]);
    assert!(std::ptr::eq(object(&tries[1]), object(&tries[2])));
    assert!(OBJECT.is_empty() || !std::ptr::eq(with, object(&tries[1])));
}

#[test]
fn every_switch_covers_the_registers_only_where_the_kernel_has_them() {
    let config = FileOpenSourceConfig::default();
    let labels = |f: &KernelFacts| -> Vec<String> {
        every_switch(&config, f)
            .into_iter()
            .map(|c| c.label)
            .collect()
    };
    let with = labels(&facts(true));
    assert_eq!(with.len(), 16, "{with:?}");
    assert!(with.iter().any(|l| l == "all on"));
    let without = labels(&facts(false));
    assert_eq!(without.len(), 8, "{without:?}");
    assert!(without.iter().all(|l| l.contains("registers")));
}
