//! The current task and the clock (`pid`, `tid` and `nsecs` are in
//! [`super::modes`]): `uid`, `gid`, `comm`,
//! `cpu`, `numaid`, `rand`, `username`, `ppid`, `cpid`, `has_cpid`, `elapsed`, and signals to
//! it: `signal()`, `signal_thread()`.

use ustrace_lang::ast::{Expr, ExprKind};

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2, R3};
use crate::options::TaskParentOffsets;
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

/// A builtin variable holding an unsigned integer computed at run time.
const fn uint_variable(
    name: &'static str,
    doc: &'static str,
    example: &'static str,
    emit: super::EmitFn,
) -> Builtin {
    Builtin {
        name,
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc,
        example,
        check: |_, _| Ok(Typed::int(false)),
        emit,
    }
}

pub(super) const ENTRIES: &[Builtin] = &[
    uint_variable(
        "uid",
        "User id of the current task.",
        "printf(\"%d\\n\", uid);",
        |pc, call| helper_u64(pc, call, helper::GET_CURRENT_UID_GID, Low),
    ),
    uint_variable(
        "gid",
        "Group id of the current task.",
        "printf(\"%d\\n\", gid);",
        |pc, call| helper_u64(pc, call, helper::GET_CURRENT_UID_GID, High),
    ),
    uint_variable(
        "elapsed",
        "Nanoseconds since ustrace started.",
        "printf(\"%d\\n\", elapsed);",
        emit_elapsed,
    ),
    uint_variable(
        "cpu",
        "The CPU the probe runs on.",
        "@[cpu] = count();",
        |pc, call| helper_u64(pc, call, helper::GET_SMP_PROCESSOR_ID, All),
    ),
    uint_variable(
        "numaid",
        "The NUMA node of the CPU the probe runs on (bpf_get_numa_node_id).",
        "@[numaid] = count();",
        |pc, call| helper_u64(pc, call, helper::GET_NUMA_NODE_ID, All),
    ),
    uint_variable(
        "rand",
        "A pseudo-random 32-bit number.",
        "printf(\"%d\\n\", rand % 6);",
        |pc, call| helper_u64(pc, call, helper::GET_PRANDOM_U32, All),
    ),
    Builtin {
        name: "cpid",
        form: Form::VariableOrFunction,
        arity: (0, 0),
        usage: "cpid takes no argument",
        doc: "Pid of the child started with `-c` (0, with a warning, without `-c`).",
        example: "printf(\"%d\\n\", cpid);",
        check: |c, _| Ok(Typed::int_const(child_pid(c.opts.child_pid), false)),
        emit: |pc, _| Ok(Val::Const(child_pid(pc.g.opts.child_pid), false)),
    },
    Builtin {
        name: "username",
        form: Form::VariableOrFunction,
        arity: (0, 0),
        usage: "username takes no argument",
        doc: "The current task's user name (its uid, named from the password database when printed).",
        example: "@[username] = count();",
        check: |_, _| Ok(Typed::of(Type::Username)),
        emit: |pc, call| {
            pc.b.emit(insn::call(helper::GET_CURRENT_UID_GID));
            pc.b.emit(insn::mov32_reg(R0, R0));
            let slot = pc.alloc_tmp(8, call.span)?;
            pc.b.emit(insn::stx(8, R10, slot, R0));
            Ok(Val::Username(slot))
        },
    },
    Builtin {
        name: "ppid",
        form: Form::VariableOrFunction,
        arity: (0, 0),
        usage: "ppid takes no argument (`ppid(task)` needs kernel struct types, which ustrace does not read)",
        doc: "Process id of the current task's parent (`real_parent->tgid`, at offsets from the kernel's BTF).",
        example: "printf(\"%d -> %d\\n\", ppid, pid);",
        check: |c, call| {
            parent_offsets(&c.opts.task_parent, call)?;
            Ok(Typed::int(false))
        },
        emit: emit_ppid,
    },
    Builtin {
        name: "has_cpid",
        form: Form::VariableOrFunction,
        arity: (0, 0),
        usage: "has_cpid takes no argument",
        doc: "1 when ustrace started a child with `-c` (so `cpid` has a value), else 0.",
        example: "if (has_cpid) { printf(\"%d\\n\", cpid); }",
        check: |c, _| Ok(Typed::int_const(i64::from(c.opts.child_pid.is_some()), false)),
        emit: |pc, _| Ok(Val::Const(i64::from(pc.g.opts.child_pid.is_some()), false)),
    },
    Builtin {
        name: "signal",
        form: Form::Function,
        arity: (1, 1),
        usage: "signal() takes a signal name or number: signal(\"SIGUSR1\")",
        doc: "Sends a signal (`\"SIGKILL\"`, `\"KILL\"` or a number) to the current process (needs `--unsafe`; uprobe, usdt, profile).",
        example: "signal(\"SIGUSR1\");",
        check: check_signal,
        emit: |pc, call| emit_signal(pc, call, helper::SEND_SIGNAL),
    },
    Builtin {
        name: "signal_thread",
        form: Form::Function,
        arity: (1, 1),
        usage: "signal_thread() takes a signal name or number: signal_thread(\"SIGUSR1\")",
        doc: "Sends a signal to the current thread only (needs `--unsafe`; uprobe, usdt, profile).",
        example: "signal_thread(10);",
        check: check_signal,
        emit: |pc, call| emit_signal(pc, call, helper::SEND_SIGNAL_THREAD),
    },
    Builtin {
        name: "ncpus",
        form: Form::VariableOrFunction,
        arity: (0, 0),
        usage: "ncpus takes no argument",
        doc: "The number of online CPUs, when the script was compiled.",
        example: "printf(\"%d\\n\", ncpus);",
        check: |c, _| Ok(Typed::int_const(i64::from(c.opts.ncpus), false)),
        emit: |pc, _| Ok(Val::Const(i64::from(pc.g.opts.ncpus), false)),
    },
    Builtin {
        name: "comm",
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc: "Name of the current task's executable (16 bytes).",
        example: "@[comm] = count();",
        check: |_, _| Ok(Typed::of(Type::Str(16))),
        emit: emit_comm,
    },
];

/// Which half of a helper's 64-bit result a variable takes.
enum Part {
    /// Bits 32..64 (`pid`, `gid`).
    High,
    /// Bits 0..32 (`tid`, `uid`).
    Low,
    /// All 64 bits.
    All,
}
use Part::*;

/// The result of a helper without arguments, or one half of it.
fn helper_u64(
    pc: &mut ProgramCompiler,
    call: &Call,
    helper: i32,
    part: Part,
) -> Result<Val, CompileError> {
    pc.b.emit(insn::call(helper));
    match part {
        High => pc.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32)),
        Low => pc.b.emit(insn::mov32_reg(R0, R0)),
        All => {}
    }
    pc.spill(false, call.span)
}

/// `cpid`: the child's pid; 0 without `-c` (the library warns).
fn child_pid(pid: Option<u32>) -> i64 {
    pid.map_or(0, i64::from)
}

/// Linux's signal numbers (x86-64), by name without `SIG`.
const SIGNALS: &[(&str, i64)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// The highest signal number (SIGRTMAX).
const MAX_SIGNAL: i64 = 64;

/// The signal a literal names (`"SIGKILL"`, `"KILL"`), or a number.
enum SignalArg {
    Number(i64),
    Runtime,
}

fn signal_arg(e: &Expr, konst: Option<i64>, is_int: bool) -> Result<SignalArg, CompileError> {
    if let ExprKind::String(name) = &e.kind {
        let bare = name.strip_prefix("SIG").unwrap_or(name);
        return SIGNALS
            .iter()
            .find(|(n, _)| *n == bare)
            .map(|(_, num)| SignalArg::Number(*num))
            .ok_or_else(|| {
                CompileError::new(
                    e.span,
                    format!(
                        "unknown signal `{name}` (e.g. \"SIGTERM\", \"KILL\" or a number 1-64)"
                    ),
                )
            });
    }
    if !is_int {
        return Err(CompileError::new(
            e.span,
            "expected a signal name literal (\"SIGTERM\") or an integer",
        ));
    }
    match konst {
        Some(n) if (1..=MAX_SIGNAL).contains(&n) => Ok(SignalArg::Number(n)),
        Some(n) => Err(CompileError::new(
            e.span,
            format!("signal {n} is out of range: signals are 1-{MAX_SIGNAL}"),
        )),
        None => Ok(SignalArg::Runtime),
    }
}

/// The probe kinds a signal can be sent from: where the current task is
/// the traced one.
fn signal_context(kind: &str, call: &Call) -> Result<(), CompileError> {
    match kind {
        "uprobe" | "uretprobe" | "usdt" | "profile" => Ok(()),
        other => Err(CompileError::new(
            call.span,
            format!(
                "{}() cannot be used in {other} probes (only uprobe, uretprobe, usdt and profile: the current task must be the traced one)",
                call.name
            ),
        )),
    }
}

fn check_signal(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    super::output::unsafe_allowed(c.opts.allow_unsafe, call, "sends signals")?;
    let kind = super::probe::probe_type(&c.ctx.probe_ids(), c.probe_names, call)?;
    signal_context(&kind, call)?;
    let arg = &call.args[0];
    let (konst, is_int) = match &arg.kind {
        ExprKind::String(_) => (None, false),
        _ => {
            let t = c.expr(arg)?;
            (t.konst, t.ty.is_int())
        }
    };
    signal_arg(arg, konst, is_int)?;
    Ok(Typed::of(Type::Void))
}

/// `signal(SIG)` / `signal_thread(SIG)`: bpf_send_signal[_thread].
fn emit_signal(pc: &mut ProgramCompiler, call: &Call, helper: i32) -> Result<Val, CompileError> {
    super::output::unsafe_allowed(pc.g.opts.allow_unsafe, call, "sends signals")?;
    let arg = &call.args[0];
    let number = match &arg.kind {
        ExprKind::String(_) => signal_arg(arg, None, false)?,
        _ => {
            let v = pc.expr(arg)?;
            match v {
                Val::Const(n, _) => signal_arg(arg, Some(n), true)?,
                other => {
                    pc.load(&other, R1);
                    SignalArg::Runtime
                }
            }
        }
    };
    if let SignalArg::Number(n) = number {
        pc.b.mov_imm(R1, n);
    }
    pc.b.emit(insn::call(helper));
    Ok(Val::Void)
}

/// `elapsed`: nsecs minus the start time the runtime stored in a 1-entry
/// array.
fn emit_elapsed(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let map = pc.g.start_time_map();
    let key = pc.alloc_tmp(8, call.span)?;
    pc.b.emit(insn::st_imm(8, R10, key, 0));
    pc.b.load_map(R1, map);
    pc.b.emit(insn::mov64_reg(R2, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R2, key as i32));
    pc.b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    let have = pc.b.label();
    let done = pc.b.label();
    pc.b.jmp_imm(JmpOp::Jne, R0, 0, have);
    pc.b.emit(insn::st_imm(8, R10, key, 0));
    pc.b.goto(done);
    pc.b.bind(have);
    pc.b.emit(insn::ldx(8, R1, R0, 0));
    pc.b.emit(insn::stx(8, R10, key, R1));
    pc.b.bind(done);
    pc.b.emit(insn::call(helper::KTIME_GET_NS));
    pc.b.emit(insn::ldx(8, R1, R10, key));
    pc.b.emit(insn::alu64_reg(AluOp::Sub, R0, R1));
    pc.spill(false, call.span)
}

fn parent_offsets(
    offsets: &Result<TaskParentOffsets, String>,
    call: &Call,
) -> Result<TaskParentOffsets, CompileError> {
    offsets.clone().map_err(|why| {
        CompileError::new(
            call.span,
            format!("ppid needs task_struct's layout from the kernel's BTF: {why}"),
        )
    })
}

/// `ppid`: `bpf_get_current_task()->real_parent->tgid`, two kernel reads
/// at the offsets the kernel's BTF gave (a failed read gives 0).
fn emit_ppid(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let offsets = parent_offsets(&pc.g.opts.task_parent, call)?;
    let slot = pc.alloc_tmp(8, call.span)?;
    pc.b.emit(insn::call(helper::GET_CURRENT_TASK));
    // slot = task->real_parent
    pc.b.emit(insn::mov64_reg(R3, R0));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R3, offsets.real_parent as i32));
    read_kernel(pc, slot, 8);
    // slot = (u32) real_parent->tgid
    pc.b.emit(insn::ldx(8, R3, R10, slot));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R3, offsets.tgid as i32));
    pc.b.emit(insn::st_imm(8, R10, slot, 0));
    read_kernel(pc, slot, 4);
    pc.b.emit(insn::ldx(4, R0, R10, slot));
    pc.spill(false, call.span)
}

/// `bpf_probe_read_kernel(fp + slot, size, r3)`.
fn read_kernel(pc: &mut ProgramCompiler, slot: i16, size: i32) {
    pc.b.emit(insn::mov64_reg(R1, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R1, i32::from(slot)));
    pc.b.emit(insn::mov64_imm(R2, size));
    pc.b.emit(insn::call(helper::PROBE_READ_KERNEL));
}

/// `comm`: bpf_get_current_comm into a 16-byte buffer.
fn emit_comm(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let off = pc.alloc_tmp(16, call.span)?;
    pc.b.emit(insn::mov64_reg(R1, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R1, off as i32));
    pc.b.emit(insn::mov64_imm(R2, 16));
    pc.b.emit(insn::call(helper::GET_CURRENT_COMM));
    Ok(Val::Buf(off, 16))
}
