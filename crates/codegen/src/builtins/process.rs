//! The current task and the clock: `pid`, `tid`, `uid`, `gid`, `comm`,
//! `cpu`, `rand`, `cpid`, `nsecs`, `elapsed`.

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2};
use crate::sema::{Type, Typed};
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
        "pid",
        "Process id (thread group id) of the current task.",
        "@[pid] = count();",
        |pc, call| helper_u64(pc, call, helper::GET_CURRENT_PID_TGID, High),
    ),
    uint_variable(
        "tid",
        "Thread id of the current task.",
        "@[tid] = count();",
        |pc, call| helper_u64(pc, call, helper::GET_CURRENT_PID_TGID, Low),
    ),
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
        "nsecs",
        "Nanoseconds since boot (CLOCK_MONOTONIC).",
        "@start[tid] = nsecs;",
        |pc, call| helper_u64(pc, call, helper::KTIME_GET_NS, All),
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
        "rand",
        "A pseudo-random 32-bit number.",
        "printf(\"%d\\n\", rand % 6);",
        |pc, call| helper_u64(pc, call, helper::GET_PRANDOM_U32, All),
    ),
    Builtin {
        name: "cpid",
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc: "Pid of the child started with `-c`.",
        example: "printf(\"%d\\n\", cpid);",
        check: |c, call| child_pid(c.opts.child_pid, call).map(|p| Typed::int_const(p, false)),
        emit: |pc, call| child_pid(pc.g.opts.child_pid, call).map(|p| Val::Const(p, false)),
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

fn child_pid(pid: Option<u32>, call: &Call) -> Result<i64, CompileError> {
    pid.map(i64::from)
        .ok_or_else(|| CompileError::new(call.span, "`cpid` needs a child started with -c"))
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

/// `comm`: bpf_get_current_comm into a 16-byte buffer.
fn emit_comm(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let off = pc.alloc_tmp(16, call.span)?;
    pc.b.emit(insn::mov64_reg(R1, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R1, off as i32));
    pc.b.emit(insn::mov64_imm(R2, 16));
    pc.b.emit(insn::call(helper::GET_CURRENT_COMM));
    Ok(Val::Buf(off, 16))
}
