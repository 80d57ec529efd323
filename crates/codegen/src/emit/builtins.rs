//! Builtin variables and functions.

use ustrace_lang::ast::{Expr, ExprKind, Span};
use ustrace_probes::Register;

use super::fold::*;
use super::*;
use crate::insn::{self, helper, AluOp, JmpOp, R0, R1, R10, R2, R3, R6, R7};
use crate::program::*;
use crate::CompileError;

impl ProgramCompiler<'_, '_> {
    pub(crate) fn builtin(&mut self, name: &str, span: Span) -> Result<Val, CompileError> {
        if let Some(n) = name
            .strip_prefix("arg")
            .and_then(|d| d.parse::<usize>().ok())
        {
            return self.arg(n, span);
        }
        match name {
            "pid" | "tid" => {
                self.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
                if name == "pid" {
                    self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
                } else {
                    self.b.emit(insn::mov32_reg(R0, R0));
                }
                self.spill(false, span)
            }
            "uid" | "gid" => {
                self.b.emit(insn::call(helper::GET_CURRENT_UID_GID));
                if name == "gid" {
                    self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
                } else {
                    self.b.emit(insn::mov32_reg(R0, R0));
                }
                self.spill(false, span)
            }
            "nsecs" => {
                self.b.emit(insn::call(helper::KTIME_GET_NS));
                self.spill(false, span)
            }
            "elapsed" => {
                // nsecs - the start time the runtime stored in a 1-entry array.
                let map = self.g.start_time_map();
                let key = self.alloc_tmp(8, span)?;
                self.b.emit(insn::st_imm(8, R10, key, 0));
                self.b.load_map(R1, map);
                self.b.emit(insn::mov64_reg(R2, R10));
                self.b.emit(insn::alu64_imm(AluOp::Add, R2, key as i32));
                self.b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
                let have = self.b.label();
                let done = self.b.label();
                self.b.jmp_imm(JmpOp::Jne, R0, 0, have);
                self.b.emit(insn::st_imm(8, R10, key, 0));
                self.b.goto(done);
                self.b.bind(have);
                self.b.emit(insn::ldx(8, R1, R0, 0));
                self.b.emit(insn::stx(8, R10, key, R1));
                self.b.bind(done);
                self.b.emit(insn::call(helper::KTIME_GET_NS));
                self.b.emit(insn::ldx(8, R1, R10, key));
                self.b.emit(insn::alu64_reg(AluOp::Sub, R0, R1));
                self.spill(false, span)
            }
            "cpu" => {
                self.b.emit(insn::call(helper::GET_SMP_PROCESSOR_ID));
                self.spill(false, span)
            }
            "rand" => {
                self.b.emit(insn::call(helper::GET_PRANDOM_U32));
                self.spill(false, span)
            }
            "cpid" => match self.g.opts.child_pid {
                Some(p) => Ok(Val::Const(p as i64, false)),
                None => Err(CompileError::new(
                    span,
                    "`cpid` needs a child started with -c",
                )),
            },
            "comm" => {
                let off = self.alloc_tmp(16, span)?;
                self.b.emit(insn::mov64_reg(R1, R10));
                self.b.emit(insn::alu64_imm(AluOp::Add, R1, off as i32));
                self.b.emit(insn::mov64_imm(R2, 16));
                self.b.emit(insn::call(helper::GET_CURRENT_COMM));
                Ok(Val::Buf(off, 16))
            }
            "probe" => self.probe_name(span),
            "func" => self.func_name(span),
            "ustack" => self.ustack(
                StackMode {
                    perf: false,
                    depth: USTACK_MAX_DEPTH,
                },
                span,
            ),
            "retval" => match &self.ctx {
                Context::Usdt {
                    on_return: Some(true),
                    ..
                } => {
                    self.b
                        .emit(insn::ldx(8, R0, R6, Register::Rax.pt_regs_offset() as i16));
                    self.spill(false, span)
                }
                _ => Err(CompileError::new(
                    span,
                    "`retval` is only available in uretprobe probes",
                )),
            },
            _ => Err(CompileError::new(span, format!("unknown builtin `{name}`"))),
        }
    }

    /// `buf(ptr, n)`: up to `n` bytes of user memory (at most the constant
    /// `n`, or the string length when `n` is computed).
    pub(crate) fn buf(&mut self, args: &[Expr], span: Span) -> Result<Val, CompileError> {
        let [ptr, len] = args else {
            return Err(CompileError::new(
                span,
                "buf() takes a pointer and a length: buf(arg0, 16)",
            ));
        };
        let cap = match &len.kind {
            ExprKind::Integer(n) => usize::try_from(*n).unwrap_or(usize::MAX).clamp(1, 256),
            _ => self.g.opts.str_len,
        };
        let p = self.int_operand(ptr)?;
        let n = self.int_operand(len)?;
        let size = FieldKind::Buffer(cap).size();
        let slot = self.alloc_tmp(size, span)?;
        self.b.zero_stack(slot, size);
        // r2 = min(n, cap), unsigned, so the verifier sees the bound.
        self.load(&n, R2);
        let within = self.b.label();
        self.b.jmp_imm(JmpOp::Jle, R2, cap as i32, within);
        self.b.emit(insn::mov64_imm(R2, cap as i32));
        self.b.bind(within);
        self.b.emit(insn::stx(8, R10, slot, R2));
        self.load(&p, R3);
        self.b.emit(insn::mov64_reg(R1, R10));
        self.b
            .emit(insn::alu64_imm(AluOp::Add, R1, (slot + 8) as i32));
        self.b.emit(insn::call(helper::PROBE_READ_USER));
        // A failed read leaves zeroes; keep the length so it prints as such.
        Ok(Val::Bytes(slot, cap))
    }

    /// `strftime(fmt, ns)`: the nanoseconds, formatted in user space.
    pub(crate) fn strftime(&mut self, args: &[Expr], span: Span) -> Result<Val, CompileError> {
        let [Expr {
            kind: ExprKind::String(fmt),
            ..
        }, ns] = args
        else {
            return Err(CompileError::new(
                span,
                "strftime() takes a format literal and nanoseconds: strftime(\"%H:%M:%S\", nsecs)",
            ));
        };
        let index = match self.g.out.strftime_formats.iter().position(|f| f == fmt) {
            Some(i) => i,
            None => {
                self.g.out.strftime_formats.push(fmt.clone());
                self.g.out.strftime_formats.len() - 1
            }
        };
        let v = self.int_operand(ns)?;
        let slot = self.alloc_tmp(8, span)?;
        self.load(&v, R0);
        self.b.emit(insn::stx(8, R10, slot, R0));
        Ok(Val::Timestamp(slot, index))
    }

    /// `ustack`: the user stack's id (bpf_get_stackid with
    /// BPF_F_USER_STACK) and the pid its addresses belong to.
    pub(crate) fn ustack(&mut self, mode: StackMode, span: Span) -> Result<Val, CompileError> {
        const BPF_F_USER_STACK: i32 = 1 << 8;
        let map = self.g.stack_map();
        let slot = self.alloc_tmp(16, span)?;
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

    pub(crate) fn call(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
        name_span: Span,
    ) -> Result<Val, CompileError> {
        match name {
            "printf" => self.printf(args, span),
            "time" => self.time(args, span),
            "reg" => {
                let [Expr {
                    kind: ExprKind::String(r),
                    span: rspan,
                }] = args
                else {
                    return Err(CompileError::new(
                        span,
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
                            format!(
                                "unknown register `{other}` (ip sp bp ax bx cx dx si di r8..r15)"
                            ),
                        ))
                    }
                };
                if !matches!(self.ctx, Context::Usdt { .. }) {
                    return Err(CompileError::new(
                        span,
                        "reg() is only available in usdt, uprobe and uretprobe probes",
                    ));
                }
                self.b
                    .emit(insn::ldx(8, R0, R6, reg.pt_regs_offset() as i16));
                self.spill(false, span)
            }
            "uaddr" => {
                let [Expr {
                    kind: ExprKind::String(sym),
                    span: sym_span,
                }] = args
                else {
                    return Err(CompileError::new(
                        span,
                        "uaddr() takes a symbol name: uaddr(\"main\")",
                    ));
                };
                match self.g.opts.uaddr.get(sym) {
                    Some(&a) => Ok(Val::Const(a as i64, false)),
                    None => Err(CompileError::new(
                        *sym_span,
                        format!("uaddr(): no symbol `{sym}` in the files this script probes"),
                    )),
                }
            }
            "usym" => {
                let [addr] = args else {
                    return Err(CompileError::new(
                        span,
                        "usym() takes one address: usym(reg(\"ip\")) or usym(arg0)",
                    ));
                };
                let v = self.int_operand(addr)?;
                let slot = self.alloc_tmp(16, span)?;
                self.load(&v, R0);
                self.b.emit(insn::stx(8, R10, slot, R0));
                self.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
                self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
                self.b.emit(insn::stx(8, R10, slot + 8, R0));
                Ok(Val::USym(slot))
            }
            "buf" => self.buf(args, span),
            "strftime" => self.strftime(args, span),
            "system" => {
                if !self.g.opts.allow_unsafe {
                    return Err(CompileError::new(
                        name_span,
                        "system() runs commands; it needs the --unsafe flag",
                    ));
                }
                self.formatted(args, PrintfKind::System, span)
            }
            "ustack" => {
                let mut mode = StackMode {
                    perf: false,
                    depth: USTACK_MAX_DEPTH,
                };
                for (i, a) in args.iter().enumerate() {
                    match &a.kind {
                        ExprKind::Builtin(b) if b == "perf" && i == 0 => mode.perf = true,
                        ExprKind::Integer(n)
                            if i + 1 == args.len() && (1..=u64::from(USTACK_MAX_DEPTH)).contains(n) =>
                        {
                            mode.depth = *n as u8
                        }
                        _ => {
                            return Err(CompileError::new(
                                a.span,
                                format!("ustack() takes `perf` and/or a frame count from 1 to {USTACK_MAX_DEPTH}: ustack(perf, 8)"),
                            ))
                        }
                    }
                }
                self.ustack(mode, span)
            }
            "exit" => {
                let code = match args.first() {
                    Some(a) => self.int_operand(a)?,
                    None => Val::Const(0, false),
                };
                self.load(&code, R7);
                self.emit_record(span, 16, |c, rec| {
                    c.b.mov_imm(R1, TAG_EXIT as i64);
                    c.b.emit(insn::stx(8, rec, 0, R1));
                    c.b.emit(insn::stx(8, rec, 8, R7));
                })?;
                let l = self.exit_label;
                self.b.goto(l);
                Ok(Val::Void)
            }
            "str" => {
                let Some(ptr) = args.first() else {
                    return Err(CompileError::new(
                        span,
                        "str() needs a pointer argument: str(ptr[, len])",
                    ));
                };
                let default_len = self.g.opts.str_len;
                let len = match args.get(1) {
                    Some(e) => match &e.kind {
                        ExprKind::Integer(n) => (*n as usize).clamp(1, default_len.max(1)),
                        _ => default_len,
                    },
                    None => default_len,
                };
                let p = self.int_operand(ptr)?;
                let buf = self.alloc_tmp(len.max(8), span)?;
                self.b.zero_stack(buf, (len.max(8) + 7) & !7);
                self.load(&p, R3);
                if let Some(lenexpr) = args.get(1) {
                    if !matches!(lenexpr.kind, ExprKind::Integer(_)) {
                        // Runtime length: clamp into [1, len].
                        let lv = self.int_operand(lenexpr)?;
                        self.load(&lv, R2);
                        self.b.emit(insn::alu64_imm(AluOp::Add, R2, 1));
                        let ok = self.b.label();
                        self.b.jmp_imm(JmpOp::Jle, R2, len as i32, ok);
                        self.b.emit(insn::mov64_imm(R2, len as i32));
                        self.b.bind(ok);
                        let ok2 = self.b.label();
                        self.b.jmp_imm(JmpOp::Jge, R2, 1, ok2);
                        self.b.emit(insn::mov64_imm(R2, 1));
                        self.b.bind(ok2);
                        self.load(&p, R3);
                    } else {
                        self.b.emit(insn::mov64_imm(R2, len as i32));
                    }
                } else {
                    self.b.emit(insn::mov64_imm(R2, len as i32));
                }
                self.b.emit(insn::mov64_reg(R1, R10));
                self.b.emit(insn::alu64_imm(AluOp::Add, R1, buf as i32));
                self.b.emit(insn::call(helper::PROBE_READ_USER_STR));
                Ok(Val::Buf(buf, len))
            }
            "delete" => {
                let [target] = args else {
                    return Err(CompileError::new(
                        span,
                        "delete() takes one map element: delete(@m[key])",
                    ));
                };
                self.map_delete(target, span)?;
                Ok(Val::Void)
            }
            "has_key" => {
                let [target] = args else {
                    return Err(CompileError::new(
                        span,
                        "has_key() takes one map element: has_key(@m[key])",
                    ));
                };
                self.map_has_key(target, span)
            }
            "print" | "clear" | "zero" => {
                let tag = match name {
                    "print" => TAG_PRINT_MAP,
                    "clear" => TAG_CLEAR_MAP,
                    _ => TAG_ZERO_MAP,
                };
                if name == "print"
                    && !matches!(args.first().map(|a| &a.kind), Some(ExprKind::Map { keys, .. }) if keys.is_empty())
                {
                    let [value] = args else {
                        return Err(CompileError::new(
                            span,
                            "print() of a value takes exactly one argument",
                        ));
                    };
                    return self.print_value(value, span);
                }
                self.map_command(tag, args, span)?;
                Ok(Val::Void)
            }
            n if is_aggregation(n) => Err(CompileError::new(
                span,
                format!("{n}() must be assigned to a map, e.g. @x = {n}(...)"),
            )),
            _ => Err(CompileError::new(
                name_span,
                format!("unknown function `{name}`"),
            )),
        }
    }
}
