//! Where the probe fired: `argN`, `retval`, `probe`, `func`, `reg()`,
//! `uaddr()`, `usym()`, `ustack`.

use ustrace_lang::ast::{Expr, ExprKind};
use ustrace_probes::Register;

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2, R3, R6};
use crate::program::{StackFormat, StackMode, USTACK_MAX_DEPTH};
use crate::sema::{Checker, Type, Typed};
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "argN",
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc: "Argument N (`arg0`, `arg1`, ...) of a USDT probe (from its argument spec) or a uprobe (from the calling convention).",
        example: "@[arg0 % 16] = count();",
        check: check_arg,
        emit: |pc, call| pc.arg(arg_index(call), call.span),
    },
    Builtin {
        name: "retval",
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc: "The return value of the function (uretprobe only).",
        example: "@ret = hist(retval);",
        check: |c, call| {
            retval_here(c.ctx.on_return(), call)?;
            Ok(Typed::int(false))
        },
        emit: |pc, call| {
            retval_here(pc.ctx.on_return(), call)?;
            Ok(Val::Ctx(Register::Rax.pt_regs_offset() as i16, false))
        },
    },
    Builtin {
        name: "probe",
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc: "The full name of the probe that fired.",
        example: "@[probe] = count();",
        check: |_, _| Ok(Typed::of(Type::ProbeName)),
        emit: |pc, call| {
            let ids = pc.ctx.probe_ids();
            pc.site_name(&ids, call.span)
        },
    },
    Builtin {
        name: "probetype",
        form: Form::VariableOrFunction,
        arity: (0, 0),
        usage: "probetype takes no argument",
        doc: "The kind of the probe that fired: `uprobe`, `uretprobe`, `usdt`, `interval`, `profile`, or `special` for begin/end.",
        example: "printf(\"%s\\n\", probetype);",
        check: |c, call| {
            let t = probe_type(&c.ctx.probe_ids(), c.probe_names, call)?;
            Ok(Typed::of(Type::Str(t.len() + 1)))
        },
        emit: |pc, call| {
            let ids = pc.ctx.probe_ids();
            probe_type(&ids, &pc.g.out.probe_names, call).map(Val::StrConst)
        },
    },
    Builtin {
        name: "func",
        form: Form::Variable,
        arity: (0, 0),
        usage: "",
        doc: "The traced function's name (uprobe and uretprobe only).",
        example: "@[func] = count();",
        check: |c, call| {
            c.ctx
                .func_ids()
                .map_err(|m| CompileError::new(call.span, m))?;
            Ok(Typed::of(Type::ProbeName))
        },
        emit: |pc, call| {
            let ids = pc
                .ctx
                .func_ids()
                .map_err(|m| CompileError::new(call.span, m))?;
            pc.site_name(&ids, call.span)
        },
    },
    Builtin {
        name: "reg",
        form: Form::Function,
        arity: (1, 1),
        usage: "reg() takes a register name: reg(\"ip\")",
        doc: "A register of the traced task at the probe (`ip sp bp ax bx cx dx si di r8`..`r15`).",
        example: "printf(\"%x\\n\", reg(\"sp\"));",
        check: |c, call| {
            register(call, c.ctx.has_registers())?;
            Ok(Typed::int(false))
        },
        emit: |pc, call| {
            let reg = register(call, pc.ctx.has_registers())?;
            Ok(Val::Ctx(reg.pt_regs_offset() as i16, false))
        },
    },
    Builtin {
        name: "uaddr",
        form: Form::Function,
        arity: (1, 1),
        usage: "uaddr() takes a symbol name: uaddr(\"main\")",
        doc: "The link-time address of a symbol in the probed files (right for non-PIE executables).",
        example: "printf(\"%x\\n\", uaddr(\"main\"));",
        check: |c, call| Ok(Typed::int_const(symbol_address(c.opts, call)?, false)),
        emit: |pc, call| Ok(Val::Const(symbol_address(pc.g.opts, call)?, false)),
    },
    Builtin {
        name: "usym",
        form: Form::Function,
        arity: (1, 1),
        usage: "usym() takes one address: usym(reg(\"ip\")) or usym(arg0)",
        doc: "An address printed as the symbol containing it, in the traced process.",
        example: "@[usym(reg(\"ip\"))] = count();",
        check: |c, call| {
            c.int_operand(&call.args[0])?;
            Ok(Typed::of(Type::Symbol))
        },
        emit: emit_usym,
    },
    Builtin {
        name: "ustack",
        form: Form::VariableOrFunction,
        arity: (0, 2),
        usage: "ustack() takes a mode (bpftrace, perf, raw, build_id) and/or a frame count from 1 to 127: ustack(perf, 8)",
        doc: "The user-space stack; `ustack(perf)` prints it as perf does, `ustack(raw)` as addresses, `ustack(build_id)` as build id and offset; `ustack(N)` keeps N frames.",
        example: "@[ustack] = count();",
        check: |c, call| Ok(Typed::of(Type::Stack(stack_mode(call, c.opts.stack_format)?))),
        emit: |pc, call| {
            let mode = stack_mode(call, pc.g.opts.stack_format)?;
            pc.emit_user_stack(mode, call.span)
        },
    },
];

/// True when `e` is `ustack` or `ustack(...)` (`len()` counts its frames).
pub(super) fn is_ustack(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Builtin(n) => n == "ustack",
        ExprKind::Call { name, .. } => name == "ustack",
        _ => false,
    }
}

/// `len(ustack)`: the frames the walk found (0 when it found none).
pub(super) fn emit_stack_len(pc: &mut ProgramCompiler, stack: &Expr) -> Result<Val, CompileError> {
    if pc.g.opts.frame_pointer_stacks {
        return Err(CompileError::new(
            stack.span,
            "len(ustack) needs ustrace's stack walker: frame-pointer stacks are counted by the kernel's stack map, which does not say how many frames it kept",
        ));
    }
    pc.expr(stack)?;
    let Some(state) = pc.ustack_state else {
        return Err(crate::emit::internal(stack.span));
    };
    pc.b.emit(insn::ldx(8, R0, R10, state + crate::unwind::S_DEPTH));
    pc.spill(false, stack.span)
}

/// `len($s)` of a stack value (an id and a pid, 16 bytes): the frames of
/// the walked stack its id names, counted in the walked-stacks map up to
/// their zero terminator; 0 for a walk that failed (a negative id).
pub(super) fn emit_stored_stack_len(
    pc: &mut ProgramCompiler,
    stack: &Expr,
) -> Result<Val, CompileError> {
    if pc.g.opts.frame_pointer_stacks {
        return Err(CompileError::new(
            stack.span,
            "len() of a stored stack needs ustrace's stack walker: frame-pointer stacks are in the kernel's stack map, which BPF programs cannot read",
        ));
    }
    let v = pc.expr(stack)?;
    let Val::UStack(slot, _) = v else {
        return Err(crate::emit::internal(stack.span));
    };
    let maps = pc.g.unwind_maps();
    let (none, done) = (pc.b.label(), pc.b.label());
    // Only ids of walked stacks have bit 62 set (a failed walk's is
    // negative).
    pc.b.emit(insn::ldx(8, R1, R10, slot));
    pc.b.emit(insn::alu64_imm(AluOp::Rsh, R1, 62));
    pc.b.jmp_imm(JmpOp::Jne, R1, 1, none);
    pc.b.load_map(R1, maps.stacks);
    pc.b.emit(insn::mov64_reg(R2, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(slot)));
    pc.b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    pc.b.jmp_imm(JmpOp::Jeq, R0, 0, none);
    pc.b.emit(insn::mov64_reg(R2, R0));
    pc.b.emit(insn::mov64_imm(R0, 0));
    for frame in 0..i16::from(USTACK_MAX_DEPTH) {
        pc.b.emit(insn::ldx(8, R1, R2, frame * 8));
        pc.b.jmp_imm(JmpOp::Jeq, R1, 0, done);
        pc.b.emit(insn::alu64_imm(AluOp::Add, R0, 1));
    }
    pc.b.goto(done);
    pc.b.bind(none);
    pc.b.emit(insn::mov64_imm(R0, 0));
    pc.b.bind(done);
    pc.spill(false, stack.span)
}

fn arg_index(call: &Call) -> usize {
    call.name
        .strip_prefix("arg")
        .and_then(|d| d.parse().ok())
        .unwrap_or(usize::MAX)
}

fn check_arg(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    let specs = c
        .ctx
        .arg_specs(arg_index(call), c.probe_names)
        .map_err(|m| CompileError::new(call.span, m))?;
    let signed = specs.iter().any(|(s, _)| s.signed);
    let bits = specs
        .iter()
        .map(|(s, _)| s.size.saturating_mul(8))
        .max()
        .unwrap_or(64);
    Ok(Typed::of(Type::Int { bits, signed }))
}

fn retval_here(on_return: bool, call: &Call) -> Result<(), CompileError> {
    if on_return {
        return Ok(());
    }
    Err(CompileError::new(
        call.span,
        "`retval` is only available in uretprobe probes",
    ))
}

/// The register `reg("name")` names, in a program that has registers.
fn register(call: &Call, has_registers: bool) -> Result<Register, CompileError> {
    let [Expr {
        kind: ExprKind::String(r),
        span: rspan,
        ..
    }] = call.args
    else {
        return Err(CompileError::new(
            call.span,
            "reg() takes a register name: reg(\"ip\")",
        ));
    };
    let reg = match r.as_str() {
        "ip" => Register::Rip,
        "sp" => Register::Rsp,
        "bp" => Register::Rbp,
        "ax" => Register::Rax,
        "bx" => Register::Rbx,
        "cx" => Register::Rcx,
        "dx" => Register::Rdx,
        "si" => Register::Rsi,
        "di" => Register::Rdi,
        "r8" => Register::R8,
        "r9" => Register::R9,
        "r10" => Register::R10,
        "r11" => Register::R11,
        "r12" => Register::R12,
        "r13" => Register::R13,
        "r14" => Register::R14,
        "r15" => Register::R15,
        other => {
            return Err(CompileError::new(
                *rspan,
                format!("unknown register `{other}` (ip sp bp ax bx cx dx si di r8..r15)"),
            ))
        }
    };
    if !has_registers {
        return Err(CompileError::new(
            call.span,
            "reg() is only available in usdt, uprobe and uretprobe probes",
        ));
    }
    Ok(reg)
}

/// `uaddr("sym")`: found by the resolve layer.
fn symbol_address(opts: &crate::CompileOptions, call: &Call) -> Result<i64, CompileError> {
    let [Expr {
        kind: ExprKind::String(sym),
        span: sym_span,
        ..
    }] = call.args
    else {
        return Err(CompileError::new(
            call.span,
            "uaddr() takes a symbol name: uaddr(\"main\")",
        ));
    };
    match opts.uaddr.get(sym) {
        Some(&a) => Ok(a as i64),
        None => Err(CompileError::new(
            *sym_span,
            format!("uaddr(): no symbol `{sym}` in the files this script probes"),
        )),
    }
}

/// `usym(addr)`: the address and the pid, in a 16-byte slot. With the
/// kernel's mapping offsets, the address's mapping also goes to the
/// mapping log, so that it can be named after the process exits.
fn emit_usym(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let v = pc.expr(&call.args[0])?;
    let slot = pc.alloc_tmp(16, call.span)?;
    pc.load(&v, R0);
    pc.b.emit(insn::stx(8, R10, slot, R0));
    pc.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
    pc.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
    pc.b.emit(insn::stx(8, R10, slot + 8, R0));
    if let Ok(offsets) = pc.g.opts.vma_fields.clone() {
        let log = pc.g.mapping_log();
        let state = match pc.usym_state {
            Some(slot) => slot,
            None => {
                let slot = pc.alloc_var(crate::unwind::VMA_STATE_SIZE, call.span)?;
                *pc.usym_state.insert(slot)
            }
        };
        crate::unwind::emit_log_mapping(&mut pc.b, log, &offsets, slot, state);
    }
    Ok(Val::USym(slot))
}

/// `ustack`, `ustack(MODE)`, `ustack(8)`, `ustack(MODE, 8)` with MODE one
/// of `bpftrace`, `perf`, `raw`, `build_id`; without one, the format
/// `config = { stack_mode = ... }` asked for.
fn stack_mode(call: &Call, default: StackFormat) -> Result<StackMode, CompileError> {
    let mut mode = StackMode {
        format: default,
        depth: USTACK_MAX_DEPTH,
    };
    for (i, a) in call.args.iter().enumerate() {
        let named = |b: &str| match b {
            "bpftrace" => Some(StackFormat::Bpftrace),
            "perf" => Some(StackFormat::Perf),
            "raw" => Some(StackFormat::Raw),
            "build_id" => Some(StackFormat::BuildId),
            _ => None,
        };
        match &a.kind {
            ExprKind::Builtin(b) if i == 0 && named(b).is_some() => {
                mode.format = named(b).unwrap_or_default()
            }
            ExprKind::Integer(n)
                if i + 1 == call.args.len() && (1..=u64::from(USTACK_MAX_DEPTH)).contains(n) =>
            {
                mode.depth = *n as u8
            }
            _ => {
                return Err(CompileError::new(
                    a.span,
                    format!("ustack() takes a mode (bpftrace, perf, raw, build_id) and/or a frame count from 1 to {USTACK_MAX_DEPTH}: ustack(perf, 8)"),
                ))
            }
        }
    }
    Ok(mode)
}

impl ProgramCompiler<'_, '_> {
    /// The user stack and the pid its addresses belong to, in a 16-byte
    /// slot: walked by unwind tables (crate::unwind), or with
    /// `frame_pointer_stacks` the id from `bpf_get_stackid(BPF_F_USER_STACK)`
    /// (frames kept in the stack trace map). The one place a stack is
    /// captured.
    pub(crate) fn emit_user_stack(
        &mut self,
        mode: StackMode,
        span: ustrace_lang::ast::Span,
    ) -> Result<Val, CompileError> {
        const BPF_F_USER_STACK: i32 = 1 << 8;
        let slot = self.alloc_tmp(16, span)?;
        if !self.g.opts.frame_pointer_stacks {
            let maps = self.g.unwind_maps();
            let state = match self.ustack_state {
                Some(slot) => slot,
                None => {
                    let slot = self.alloc_var(crate::unwind::STATE_SIZE, span)?;
                    *self.ustack_state.insert(slot)
                }
            };
            let vma = self.g.opts.vma_fields.as_ref().ok();
            crate::unwind::emit_ustack(&mut self.b, &maps, vma, mode.depth, state, slot);
            return Ok(Val::UStack(slot, mode));
        }
        let map = self.g.stack_map();
        self.b.emit(insn::mov64_reg(R1, R6));
        self.b.load_map(R2, map);
        self.b.emit(insn::mov64_imm(R3, BPF_F_USER_STACK));
        self.b.emit(insn::call(helper::GET_STACKID));
        self.b.emit(insn::stx(8, R10, slot, R0));
        self.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
        self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
        self.b.emit(insn::stx(8, R10, slot + 8, R0));
        Ok(Val::UStack(slot, mode))
    }
}

/// `probetype`: the attach kind of a program's probes, from their names
/// (every site of one program has the same kind).
pub(super) fn probe_type(
    ids: &[usize],
    names: &[String],
    call: &Call,
) -> Result<String, CompileError> {
    let kind_of = |id: &usize| {
        let name = names.get(*id).map(String::as_str).unwrap_or("");
        let prefix = name.split(':').next().unwrap_or("");
        match prefix {
            "BEGIN" | "END" | "begin" | "end" => "special",
            "i" => "interval",
            "p" => "profile",
            "u" => "uprobe",
            "ur" => "uretprobe",
            "U" => "usdt",
            other => other,
        }
        .to_string()
    };
    let mut kinds: Vec<String> = ids.iter().map(kind_of).collect();
    kinds.dedup();
    match kinds.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(CompileError::new(
            call.span,
            "probetype: this block's probes are of different kinds",
        )),
    }
}
