//! The compiler's passes seen from outside: the semantic pass decides map
//! layouts and reports type errors with spans; emission runs once and
//! keeps the code small (instruction counts of the benchmark's scripts
//! are pinned here, measured on USDT probes whose arguments are 64-bit
//! registers, as in bench/c/hits.c).

use ustrace_codegen::insn::{helper, Insn};
use ustrace_codegen::program::{CompiledScript, FieldKind, MapRole, ValueKind};
use ustrace_codegen::{
    compile, CompileError, CompileOptions, ResolvedAttach, UprobeFunction, UsdtSite, UsdtTarget,
};
use ustrace_lang::ast::AttachKind;
use ustrace_probes::{ArgLocation, ArgSpec, Register, RegisterOperand};

/// A signed 64-bit register argument (`-8@%rax`).
fn register_arg(reg: Register) -> Result<ArgSpec, String> {
    Ok(ArgSpec {
        size: 8,
        signed: true,
        location: ArgLocation::Register(RegisterOperand {
            reg,
            width: 8,
            high_byte: false,
        }),
    })
}

/// Resolves every attach point the way the resolve layer would, against
/// an imaginary binary.
fn resolve(script: &ustrace_lang::ast::Script) -> Vec<Vec<ResolvedAttach>> {
    let attach = |kind: &AttachKind| match kind {
        AttachKind::Begin => ResolvedAttach::Begin,
        AttachKind::End => ResolvedAttach::End,
        AttachKind::Interval { period_ns } => ResolvedAttach::Interval {
            period_ns: *period_ns,
        },
        AttachKind::Profile { .. } => ResolvedAttach::Profile {
            hz: Some(99),
            period_ns: 0,
        },
        AttachKind::Usdt { name, .. } => ResolvedAttach::Usdt(vec![UsdtTarget {
            path: "/bin/hits".into(),
            display_path: "/bin/hits".into(),
            provider: "bench".into(),
            name: name.clone(),
            sites: vec![UsdtSite {
                file_offset: 0x10c3,
                semaphore_offset: 0,
                pc: 0x10c3,
                args: vec![register_arg(Register::Rax), register_arg(Register::Rdx)],
            }],
        }]),
        AttachKind::Uprobe { is_return, .. } => ResolvedAttach::Uprobe(vec![UprobeFunction {
            path: "/bin/hits".into(),
            display_path: "/bin/hits".into(),
            function: "main".into(),
            file_offset: 0x1040,
            is_return: *is_return,
        }]),
        AttachKind::Label { name } => panic!("block label `{name}` reached the compiler"),
    };
    script
        .probes
        .iter()
        .map(|p| p.attach_points.iter().map(|a| attach(&a.kind)).collect())
        .collect()
}

fn build(src: &str, opts: &CompileOptions) -> Result<CompiledScript, CompileError> {
    let script = ustrace_lang::parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    compile(&script, &resolve(&script), opts)
}

fn compiled(src: &str) -> CompiledScript {
    build(src, &CompileOptions::default()).unwrap_or_else(|e| panic!("{src}: {}", e.message))
}

fn error(src: &str) -> (String, String) {
    match build(src, &CompileOptions::default()) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => (e.message, src[e.span.start..e.span.end].to_string()),
    }
}

fn insn_count(c: &CompiledScript) -> usize {
    c.programs.iter().map(|p| p.insns.len()).sum()
}

fn calls(insns: &[Insn], id: i32) -> bool {
    insns.iter().any(|i| i.code == 0x85 && i.imm == id)
}

#[test]
fn a_map_read_before_the_block_assigning_it_has_its_final_layout() {
    let c = compiled("BEGIN { printf(\"%d\\n\", @later); } END { @later = -5; }");
    assert_eq!(c.printfs[0].args, [FieldKind::Int { signed: true }]);
    let layouts: Vec<_> = c
        .maps
        .iter()
        .filter_map(|m| match &m.role {
            MapRole::User(u) => Some((u.name.as_str(), u.value)),
            _ => None,
        })
        .collect();
    assert_eq!(layouts, [("@later", ValueKind::Int { signed: true })]);
}

#[test]
fn type_errors_point_at_the_offending_text() {
    assert_eq!(
        error("BEGIN { $x = 1; $x = \"s\"; }"),
        (
            "type mismatch for `$x`: it holds uint64 but this is string".to_string(),
            "\"s\"".to_string()
        )
    );
    assert_eq!(
        error("BEGIN { printf(\"%d\\n\", @never); }"),
        (
            "undefined map @never: it is never assigned".to_string(),
            "@never".to_string()
        )
    );
    assert_eq!(
        error("BEGIN { @m[1] = 1; @m[\"a\"] = 2; }").0,
        "map @m is used with different key types: first [uint64], here [string]"
    );
    assert_eq!(
        error("BEGIN { @h = count(); @h = sum(1); }").0,
        "map @h holds count() but is used here as sum()"
    );
    assert_eq!(
        error("BEGIN { nope(1); }"),
        ("unknown function `nope`".to_string(), "nope".to_string())
    );
    assert_eq!(
        error("BEGIN { $x = count(); }").0,
        "count() must be assigned to a map, e.g. @x = count(...)"
    );
    assert_eq!(
        error("BEGIN { @x = arg0; }").0,
        "`arg0` is not available in this probe"
    );
}

#[test]
fn an_empty_begin_loads_no_program_but_still_counts() {
    let c = compiled("BEGIN { } END { } usdt:/bin/hits:bench:hit { }");
    assert_eq!(c.attach_count, 3);
    assert_eq!(c.programs.len(), 1, "only the USDT program is loaded");
}

#[test]
fn the_pid_check_is_left_to_the_uprobe_link_but_not_to_samplers() {
    let opts = CompileOptions {
        pid: Some(42),
        ..CompileOptions::default()
    };
    let c = build(
        "usdt:/bin/hits:bench:hit { @ = count(); } profile:hz:99 { @p = count(); }",
        &opts,
    )
    .expect("compiles");
    let (sampler, usdt): (Vec<_>, Vec<_>) = c.programs.iter().partition(|p| p.name == "profile");
    assert!(!calls(&usdt[0].insns, helper::GET_CURRENT_PID_TGID));
    assert!(calls(&sampler[0].insns, helper::GET_CURRENT_PID_TGID));
}

/// The benchmark's scripts (bench/src/main.rs, "cost per hit"): the
/// instruction counts after this compiler's improvements, as ceilings
/// (map updates include the cold path counting updates a full map
/// refused and reporting the first at each site, about 20 instructions).
#[test]
fn benchmark_scripts_stay_small() {
    let rows = [
        ("{ }", 2),
        ("{ @c = count(); }", 50),
        ("{ @[arg0 % 16] = count(); }", 52),
        ("{ @h = hist(arg1); }", 78),
        ("{ printf(\"%d %d\\n\", arg0, arg1); }", 22),
    ];
    for (body, most) in rows {
        let c = compiled(&format!("usdt:/bin/hits:bench:hit {body}"));
        let n = insn_count(&c);
        assert!(
            n <= most,
            "{body}: {n} instructions, at most {most} expected"
        );
    }
    let latency = compiled(
        "usdt:/bin/hits:bench:start { @s[tid] = nsecs; } \
         usdt:/bin/hits:bench:done /@s[tid]/ { @lat = hist(nsecs - @s[tid]); delete(@s[tid]); }",
    );
    assert!(insn_count(&latency) <= 159, "{}", insn_count(&latency));
}
