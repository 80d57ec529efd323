//! Builtins with a mode argument: `pid` / `pid(curr_ns|init)`, `tid` /
//! `tid(curr_ns|init)`, `nsecs` / `nsecs(monotonic|boot|tai)`, and
//! `usermode`.

use ustrace_lang::ast::ExprKind;

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2, R3, R4};
use crate::sema::Typed;
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "pid",
        form: Form::VariableOrFunction,
        arity: (0, 1),
        usage: "pid takes a namespace: pid(curr_ns) or pid(init)",
        doc: "Process id (thread group id) of the current task; `pid(curr_ns)` as seen in ustrace's pid namespace, `pid(init)` (the default) in the initial one.",
        example: "@[pid, pid(curr_ns)] = count();",
        check: |_, call| id_mode(call).map(|_| Typed::int(false)),
        emit: |pc, call| emit_id(pc, call, IdPart::Process),
    },
    Builtin {
        name: "tid",
        form: Form::VariableOrFunction,
        arity: (0, 1),
        usage: "tid takes a namespace: tid(curr_ns) or tid(init)",
        doc: "Thread id of the current task; `tid(curr_ns)` as seen in ustrace's pid namespace, `tid(init)` (the default) in the initial one.",
        example: "@[tid(curr_ns)] = count();",
        check: |_, call| id_mode(call).map(|_| Typed::int(false)),
        emit: |pc, call| emit_id(pc, call, IdPart::Thread),
    },
    Builtin {
        name: "nsecs",
        form: Form::VariableOrFunction,
        arity: (0, 1),
        usage: "nsecs takes a clock: nsecs(monotonic), nsecs(boot) or nsecs(tai)",
        doc: "Nanoseconds of a clock: `monotonic` (the default, bpf_ktime_get_ns), `boot` (suspend included), `tai` (CLOCK_TAI).",
        example: "@start[tid] = nsecs(boot);",
        check: |_, call| clock_helper(call).map(|_| Typed::int(false)),
        emit: |pc, call| {
            pc.b.emit(insn::call(clock_helper(call)?));
            pc.spill(false, call.span)
        },
    },
    Builtin {
        name: "usermode",
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc: "1 when the task was running in user mode: always in uprobes and USDT probes; read from the code segment register in profile probes.",
        example: "@[usermode] = count();",
        check: |c, call| {
            user_mode_source(c.ctx.has_registers(), &c.ctx.probe_ids(), c.probe_names, call)
                .map(|_| Typed::int(false))
        },
        emit: emit_usermode,
    },
];

/// Which id of `bpf_get_current_pid_tgid`'s pair.
#[derive(Clone, Copy)]
enum IdPart {
    /// The thread group id (upper half).
    Process,
    /// The thread id (lower half).
    Thread,
}

/// True for `curr_ns`, false for `init` or no argument.
fn id_mode(call: &Call) -> Result<bool, CompileError> {
    match call.args {
        [] => Ok(false),
        [a] => match &a.kind {
            ExprKind::Builtin(w) if w == "curr_ns" => Ok(true),
            ExprKind::Builtin(w) if w == "init" => Ok(false),
            _ => Err(CompileError::new(
                a.span,
                format!(
                    "{n}() takes a namespace: {n}(curr_ns) or {n}(init)",
                    n = call.name
                ),
            )),
        },
        _ => Err(CompileError::new(call.span, "one argument at most")),
    }
}

fn emit_id(pc: &mut ProgramCompiler, call: &Call, part: IdPart) -> Result<Val, CompileError> {
    if !id_mode(call)? {
        pc.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
        match part {
            IdPart::Process => pc.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32)),
            IdPart::Thread => pc.b.emit(insn::mov32_reg(R0, R0)),
        }
        return pc.spill(false, call.span);
    }
    let (dev, ino) =
        pc.g.opts.pid_namespace.clone().map_err(|why| {
            CompileError::new(call.span, format!("{}(curr_ns): {why}", call.name))
        })?;
    // struct bpf_pidns_info { u32 pid; u32 tgid; }, zeroed: a task of
    // another namespace reads as 0 (the helper fails and leaves zeros).
    let slot = pc.alloc_tmp(8, call.span)?;
    pc.b.emit(insn::st_imm(8, R10, slot, 0));
    for i in insn::ld_imm64(R1, dev) {
        pc.b.emit(i);
    }
    for i in insn::ld_imm64(R2, ino) {
        pc.b.emit(i);
    }
    pc.b.emit(insn::mov64_reg(R3, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R3, i32::from(slot)));
    pc.b.emit(insn::mov64_imm(R4, 8));
    pc.b.emit(insn::call(helper::GET_NS_CURRENT_PID_TGID));
    let field = match part {
        IdPart::Process => 4,
        IdPart::Thread => 0,
    };
    pc.b.emit(insn::ldx(4, R0, R10, slot + field));
    pc.spill(false, call.span)
}

/// The helper reading the clock `nsecs(CLOCK)` names.
fn clock_helper(call: &Call) -> Result<i32, CompileError> {
    let usage = "nsecs() takes a clock: monotonic, boot or tai";
    match call.args {
        [] => Ok(helper::KTIME_GET_NS),
        [a] => match &a.kind {
            ExprKind::Builtin(w) => match w.as_str() {
                "monotonic" => Ok(helper::KTIME_GET_NS),
                "boot" => Ok(helper::KTIME_GET_BOOT_NS),
                "tai" => Ok(helper::KTIME_GET_TAI_NS),
                "sw_tai" => Err(CompileError::new(
                    a.span,
                    "nsecs(sw_tai) is not supported: bpftrace derives it from the boot clock and a TAI offset it samples at start-up; use nsecs(tai) (bpf_ktime_get_tai_ns, Linux 6.1)",
                )),
                _ => Err(CompileError::new(a.span, usage)),
            },
            _ => Err(CompileError::new(a.span, usage)),
        },
        _ => Err(CompileError::new(call.span, usage)),
    }
}

/// Where `usermode` comes from.
enum UserModeSource {
    /// Uprobes and USDT probes run on user-mode code: always 1.
    Always,
    /// Profile probes: the sampled registers' code segment.
    Sampled,
}

fn user_mode_source(
    has_registers: bool,
    ids: &[usize],
    names: &[String],
    call: &Call,
) -> Result<UserModeSource, CompileError> {
    if has_registers {
        return Ok(UserModeSource::Always);
    }
    match super::probe::probe_type(ids, names, call)?.as_str() {
        "profile" => Ok(UserModeSource::Sampled),
        other => Err(CompileError::new(
            call.span,
            format!("usermode is not available in {other} probes: they interrupt no task (uprobe, usdt and profile probes have it)"),
        )),
    }
}

/// The offset of `cs` in x86-64's `struct pt_regs` (after `ip`), which
/// starts a profile program's context.
const PT_REGS_CS: i16 = 136;

fn emit_usermode(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let ids = pc.ctx.probe_ids();
    let has_registers = pc.ctx.has_registers();
    match user_mode_source(has_registers, &ids, &pc.g.out.probe_names, call)? {
        UserModeSource::Always => Ok(Val::Const(1, false)),
        UserModeSource::Sampled => {
            // The privilege level is the low two bits of cs: 3 in user mode.
            pc.b.emit(insn::ldx(8, R0, crate::insn::R6, PT_REGS_CS));
            pc.b.emit(insn::alu64_imm(AluOp::And, R0, 3));
            pc.b.emit(insn::jmp_imm(JmpOp::Jeq, R0, 3, 2));
            pc.b.emit(insn::mov64_imm(R0, 0));
            pc.b.emit(insn::ja(1));
            pc.b.emit(insn::mov64_imm(R0, 1));
            pc.spill(false, call.span)
        }
    }
}
