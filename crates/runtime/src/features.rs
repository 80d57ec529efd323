//! What this kernel offers ustrace (`ustrace --info`), found by trying each
//! feature for real: programs are loaded, maps created and a uprobe_multi
//! link attached (to a function of our own executable, for our own pid, and
//! detached at once). Only facts no system call can show are read from
//! `/proc/kallsyms` (the x86-64 uprobe optimizations) and `/sys`.

use std::path::Path;

use ustrace_codegen::insn::{self, helper, Insn, R0};
use ustrace_codegen::program::MapKind;

use crate::sys::{self, ProgramAttach};
use crate::UprobeSite;

/// One line of `--info`: a feature and whether this kernel has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// The group it belongs to (`Kernel features`, `Map types`, ...).
    pub section: &'static str,
    /// What it is.
    pub name: &'static str,
    /// Whether it works here.
    pub available: bool,
    /// Why not, or what ustrace does with it.
    pub detail: String,
}

/// The kernel's release and machine (`uname -r`, `uname -m`).
pub fn kernel_release() -> (String, String) {
    // SAFETY: utsname is plain old data and uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid utsname to write into.
    if unsafe { libc::uname(&mut u) } != 0 {
        return ("unknown".into(), "unknown".into());
    }
    let text = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (text(&u.release), text(&u.machine))
}

/// Tries every feature ustrace uses or could use; see the module docs.
pub fn probe_features() -> Vec<Feature> {
    let mut out = Vec::new();
    let mut add = |section, name, result: Result<String, String>| {
        let (available, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        out.push(Feature {
            section,
            name,
            available,
            detail,
        });
    };
    const KERNEL: &str = "Kernel features";
    add(
        KERNEL,
        "BPF programs",
        load(ProgramAttach::TestRun, &noop()).map(|_| String::new()),
    );
    add(KERNEL, "BPF_PROG_TEST_RUN", test_run());
    let multi = uprobe_multi();
    let multi_ok = multi.is_ok();
    add(KERNEL, "uprobe_multi links", multi);
    add(
        KERNEL,
        "attach cookies",
        load(ProgramAttach::UprobeMulti, &cookie_reader())
            .map(|_| "bpf_get_attach_cookie tells probe sites apart".to_string()),
    );
    add(
        KERNEL,
        "USDT semaphores counted by the kernel",
        if multi_ok {
            Ok("ref_ctr_offset".to_string())
        } else {
            Err("needs uprobe_multi or perf-event uprobes".to_string())
        },
    );
    add(KERNEL, "perf-event uprobes", perf_uprobes());
    add(KERNEL, "kernel BTF", kernel_btf());
    add(
        KERNEL,
        "uprobe on a 1-byte nop emulated",
        if cfg!(target_arch = "x86_64") {
            Ok("x86-64 emulates nop under a uprobe: no single-step".to_string())
        } else {
            Err("not x86-64".to_string())
        },
    );
    let syms = kallsyms(&[
        "__x64_sys_uprobe",
        "arch_uprobe_optimize",
        "__x64_sys_uretprobe",
    ]);
    add(
        KERNEL,
        "uprobe nop5 optimization",
        if syms[0] && syms[1] {
            Ok("uprobe syscall: a 5-byte nop becomes a call; ustrace does not attach there (red zone)".to_string())
        } else {
            Err("no uprobe syscall in /proc/kallsyms".to_string())
        },
    );
    add(
        KERNEL,
        "uretprobe syscall",
        if syms[2] {
            Ok("uretprobes return through a syscall, not a trap".to_string())
        } else {
            Err("not in /proc/kallsyms".to_string())
        },
    );
    const HELPERS: &str = "Helpers";
    let helpers: [(&str, Trial, &str); 3] = [
        (
            "probe_read_user",
            || try_uprobe_program(&user_reader()),
            "arguments behind pointers, str()",
        ),
        (
            "get_func_ip",
            || try_uprobe_program(&func_ip_reader()),
            "USDT arguments at static addresses, func",
        ),
        ("get_stackid", stack_reader, "ustack (user stacks)"),
    ];
    for (name, try_it, use_) in helpers {
        add(HELPERS, name, try_it().map(|_| use_.to_string()));
    }
    const MAPS: &str = "Map types";
    for (name, kind, key, value, entries, mmapable) in [
        ("hash", MapKind::Hash, 8, 8, 1, false),
        ("percpu hash", MapKind::PerCpuHash, 8, 8, 1, false),
        ("array", MapKind::Array, 4, 8, 1, false),
        ("array, mmapable", MapKind::Array, 4, 8, 1, true),
        ("percpu array", MapKind::PerCpuArray, 4, 8, 1, false),
        ("ring buffer", MapKind::RingBuf, 0, 0, 4096, false),
        ("stack trace", MapKind::StackTrace, 4, 127 * 8, 1, false),
    ] {
        let made = sys::create_map(kind, "ustrace_info", key, value, entries, mmapable)
            .map(|_| String::new())
            .map_err(|e| e.to_string());
        add(MAPS, name, made);
    }
    out
}

/// A feature test: `Ok` when the kernel accepted it, else why not.
type Trial = fn() -> Result<(), String>;

/// `r0 = 0; exit`.
fn noop() -> Vec<Insn> {
    vec![insn::mov64_imm(R0, 0), insn::exit()]
}

/// `r0 = bpf_get_attach_cookie(ctx); r0 = 0; exit`.
fn cookie_reader() -> Vec<Insn> {
    vec![
        insn::call(helper::GET_ATTACH_COOKIE),
        insn::mov64_imm(R0, 0),
        insn::exit(),
    ]
}

/// `bpf_probe_read_user(fp - 8, 8, NULL); r0 = 0; exit`.
fn user_reader() -> Vec<Insn> {
    vec![
        insn::mov64_reg(insn::R1, insn::R10),
        insn::alu64_imm(insn::AluOp::Add, insn::R1, -8),
        insn::mov64_imm(insn::R2, 8),
        insn::mov64_imm(insn::R3, 0),
        insn::call(helper::PROBE_READ_USER),
        insn::mov64_imm(R0, 0),
        insn::exit(),
    ]
}

/// `bpf_get_func_ip(ctx); r0 = 0; exit`.
fn func_ip_reader() -> Vec<Insn> {
    vec![
        insn::call(helper::GET_FUNC_IP),
        insn::mov64_imm(R0, 0),
        insn::exit(),
    ]
}

/// Loads `bpf_get_stackid(ctx, stack_map, BPF_F_USER_STACK)` against a
/// fresh stack-trace map.
fn stack_reader() -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let map = sys::create_map(MapKind::StackTrace, "ustrace_info", 4, 127 * 8, 1, false)
        .map_err(|e| e.to_string())?;
    let fd = map.as_raw_fd();
    let mut insns = insn::ld_map_fd(insn::R2, fd).to_vec();
    insns.extend([
        insn::mov64_imm(insn::R3, 1 << 8),
        insn::call(helper::GET_STACKID),
        insn::mov64_imm(R0, 0),
        insn::exit(),
    ]);
    try_uprobe_program(&insns)
}

/// Loads `insns` as a uprobe_multi program (the kind ustrace attaches).
fn try_uprobe_program(insns: &[Insn]) -> Result<(), String> {
    load(ProgramAttach::UprobeMulti, insns).map(|_| ())
}

fn load(kind: ProgramAttach, insns: &[Insn]) -> Result<sys::LoadedProgram, String> {
    sys::load_program("ustrace_info", insns, kind, false).map_err(|e| e.to_string())
}

fn test_run() -> Result<String, String> {
    let prog = load(ProgramAttach::TestRun, &noop())?;
    sys::run_program(&prog.fd)
        .map(|_| "BEGIN, END and interval run as test runs".to_string())
        .map_err(|e| e.to_string())
}

/// Attaches a no-op program to `main` of our own executable, for our pid
/// only, and detaches it.
fn uprobe_multi() -> Result<String, String> {
    let exe = Path::new("/proc/self/exe");
    let main = ustrace_probes::find_functions(exe, "main")
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or("no `main` in our own executable to try it on")?;
    let prog = load(ProgramAttach::UprobeMulti, &noop())?;
    let site = UprobeSite {
        offset: main.file_offset,
        ref_ctr_offset: 0,
        cookie: 0,
    };
    sys::attach_uprobe_multi(&prog.fd, exe, &[site], std::process::id(), false)
        .map(|_link| "one link per file, many sites".to_string())
        .map_err(|e| e.to_string())
}

fn perf_uprobes() -> Result<String, String> {
    let path = "/sys/bus/event_source/devices/uprobe/type";
    match std::fs::read_to_string(path) {
        Ok(t) if t.trim().parse::<u32>().is_ok() => Ok("fallback attach path".to_string()),
        Ok(_) => Err(format!("{path}: unexpected contents")),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

fn kernel_btf() -> Result<String, String> {
    let path = "/sys/kernel/btf/vmlinux";
    std::fs::metadata(path)
        .map(|m| format!("{path}, {} KiB (ustrace needs none)", m.len() / 1024))
        .map_err(|e| format!("{path}: {e}"))
}

/// Whether each name is a symbol of `/proc/kallsyms`.
fn kallsyms(names: &[&str]) -> Vec<bool> {
    let mut found = vec![false; names.len()];
    let Ok(text) = std::fs::read_to_string("/proc/kallsyms") else {
        return found;
    };
    for line in text.lines() {
        let Some(sym) = line.split_whitespace().nth(2) else {
            continue;
        };
        if let Some(i) = names.iter().position(|n| *n == sym) {
            found[i] = true;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_is_known() {
        let (release, machine) = kernel_release();
        assert!(!release.is_empty() && release != "unknown");
        assert!(!machine.is_empty());
    }

    #[test]
    fn kallsyms_lookup_finds_a_core_symbol() {
        // Present on every kernel; names are hidden (all zero addresses)
        // only for non-root, which still lists the names.
        let got = kallsyms(&["schedule", "no_such_symbol_ustrace"]);
        if std::path::Path::new("/proc/kallsyms").exists() {
            assert_eq!(got, vec![true, false]);
        }
    }
}
