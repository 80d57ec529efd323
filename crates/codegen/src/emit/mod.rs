//! Emission: walks one planned program over the types the semantic pass
//! decided and emits instructions through a [`Builder`]. Split by concern:
//! statements ([`stmt`]), expressions and constant folding ([`expr`]),
//! maps ([`maps`]), ring buffer records ([`records`]) and argument access
//! ([`probe_args`]); builtins bring their own emitters
//! ([`crate::builtins`]).

mod expr;
mod failed_reads;
mod loop_plan;
mod loop_syntax;
mod loops;
pub(crate) mod map_full;
mod maps;
mod probe_args;
mod records;
mod stmt;
mod tseries;
mod tuples;

use std::collections::HashMap;

use ustrace_lang::ast::{Expr, Probe, Span};

use crate::builder::{Builder, Label};
use crate::driver::Globals;
use crate::insn::{self, helper, AluOp, Insn, JmpOp, Reg, R0, R1, R10, R6};
use crate::probes::Context;
use crate::program::*;
use crate::sema::{ProgramTypes, Type, Typed};
use crate::CompileError;

/// A computed value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// A compile-time integer.
    Const(i64, bool),
    /// An integer in an 8-byte stack slot.
    Slot(i16, bool),
    /// An integer in the 8-byte context field at this offset (a register of
    /// the traced thread in `pt_regs`): loaded where it is used, never
    /// copied to the stack.
    Ctx(i16, bool),
    /// A string in a stack buffer.
    Buf(i16, usize),
    /// A compile-time string.
    StrConst(String),
    /// A probe id in an 8-byte slot.
    Probe(i16),
    /// A compile-time probe id.
    ProbeConst(usize),
    /// A user stack in a 16-byte slot: stack id, then pid.
    UStack(i16, StackMode),
    /// `usym()` in a 16-byte slot: address, then pid.
    USym(i16),
    /// `buf()` bytes in a slot: 8-byte length, then the bytes.
    Bytes(i16, usize),
    /// `strftime()` nanoseconds in an 8-byte slot, with the format index.
    Timestamp(i16, usize),
    /// A tuple in a stack buffer of this many bytes, laid out as its type
    /// says (the semantic pass's [`Type::Tuple`]).
    Tuple(i16, usize),
    /// A program value (struct, union, array) copied to a stack buffer
    /// of its size, rounded up to 8 bytes.
    Record(i16, crate::typed::DType),
    /// `username`: the user id in an 8-byte slot.
    Username(i16),
    /// `strerror()`: the error number in an 8-byte slot.
    Strerror(i16),
    /// `syscall_name()`: the number in an 8-byte slot.
    SyscallName(i16),
    /// `ntop()`: family and address bytes in a 24-byte slot.
    Inet(i16),
    /// Nothing.
    Void,
}

impl Val {
    /// The value's type and, for integer constants, its value.
    pub(crate) fn typed(&self) -> Typed {
        Typed {
            ty: self.ty(),
            konst: match self {
                Val::Const(c, _) => Some(*c),
                _ => None,
            },
        }
    }

    /// The value's type.
    pub(crate) fn ty(&self) -> Type {
        match self {
            Val::Const(_, s) | Val::Slot(_, s) | Val::Ctx(_, s) => Type::int(*s),
            Val::Buf(_, n) => Type::Str(*n),
            Val::StrConst(s) => Type::Str(s.len() + 1),
            Val::Probe(_) | Val::ProbeConst(_) => Type::ProbeName,
            Val::UStack(_, m) => Type::Stack(*m),
            Val::USym(_) => Type::Symbol,
            Val::Bytes(_, n) => Type::Buffer(*n),
            Val::Timestamp(_, i) => Type::Timestamp(*i),
            // The elements' types are the semantic pass's, not the value's.
            Val::Tuple(..) => Type::Tuple(Vec::new()),
            Val::Record(_, d) => Type::Record(d.clone()),
            Val::Username(_) => Type::Username,
            Val::Strerror(_) => Type::Strerror,
            Val::SyscallName(_) => Type::SyscallName,
            Val::Inet(_) => Type::Inet,
            Val::Void => Type::Void,
        }
    }
}

/// The value held in a stack slot of type `ty` (a variable, a map value
/// read into the stack, a ternary's result).
pub(crate) fn val_in_slot(slot: i16, ty: &Type, span: Span) -> Result<Val, CompileError> {
    Ok(match *ty {
        Type::Int { signed, .. } => Val::Slot(slot, signed),
        Type::Bool => Val::Slot(slot, false),
        Type::Str(n) => Val::Buf(slot, n),
        Type::ProbeName => Val::Probe(slot),
        Type::Stack(m) => Val::UStack(slot, m),
        Type::Symbol => Val::USym(slot),
        Type::Buffer(n) => Val::Bytes(slot, n),
        Type::Timestamp(i) => Val::Timestamp(slot, i),
        Type::Tuple(_) => Val::Tuple(slot, ty.slot_size()),
        Type::Username => Val::Username(slot),
        Type::Strerror => Val::Strerror(slot),
        Type::SyscallName => Val::SyscallName(slot),
        Type::Inet => Val::Inet(slot),
        _ => return Err(internal(span)),
    })
}

pub(crate) struct ProgramCompiler<'g, 'o> {
    pub(crate) g: &'g mut Globals<'o>,
    pub(crate) b: Builder,
    pub(crate) ctx: Context,
    pub(crate) pid_filter: bool,
    /// What the semantic pass decided about this program.
    pub(crate) types: ProgramTypes,
    /// The stack slot of each scratch variable assigned so far.
    pub(crate) vars: HashMap<String, i16>,
    /// Bytes used from the bottom of the stack by variables.
    pub(crate) var_bytes: i32,
    pub(crate) cookie_slot: Option<i16>,
    pub(crate) exit_label: Label,
    pub(crate) loops: Vec<(Label, Label)>,
    /// The slots `for` loops use, when the program has any.
    pub(crate) loop_slots: Option<loops::LoopSlots>,
    /// Scratch variables holding a value of a traced program's type.
    pub(crate) typed_vars: crate::typed::vars::TypedVars,
    /// The user-stack walker's state, shared by every `ustack` of the
    /// program (allocated on first use).
    pub(crate) ustack_state: Option<i16>,
    /// The `bpf_find_vma` state of `usym`, shared likewise.
    pub(crate) usym_state: Option<i16>,
}

impl<'g, 'o> ProgramCompiler<'g, 'o> {
    pub(crate) fn new(
        g: &'g mut Globals<'o>,
        ctx: Context,
        pid_filter: bool,
        types: ProgramTypes,
    ) -> Self {
        let mut b = Builder::new();
        let exit_label = b.label();
        ProgramCompiler {
            g,
            b,
            ctx,
            pid_filter,
            types,
            vars: HashMap::new(),
            var_bytes: 0,
            cookie_slot: None,
            exit_label,
            loops: Vec::new(),
            loop_slots: None,
            typed_vars: Default::default(),
            ustack_state: None,
            usym_state: None,
        }
    }

    pub(crate) fn compile(
        mut self,
        probe: &Probe,
        name: String,
        target: ProgramTarget,
    ) -> Result<CompiledProgram, CompileError> {
        self.typed_vars = crate::typed::vars::typed_vars(&self.ctx, self.g.opts, probe);
        self.b.mark(probe.span);
        self.b.emit(insn::mov64_reg(R6, R1));
        if self.pid_filter {
            if let Some(pid) = self.g.opts.pid {
                self.b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
                self.b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
                let exit = self.exit_label;
                self.b.jmp_imm(JmpOp::Jne, R0, pid as i32, exit);
            }
        }
        if matches!(&self.ctx, Context::Usdt { sites, .. } if sites.len() > 1) {
            let slot = self.alloc_var(8, probe.span)?;
            self.b.emit(insn::mov64_reg(R1, R6));
            self.b.emit(insn::call(helper::GET_ATTACH_COOKIE));
            self.b.emit(insn::stx(8, R10, slot, R0));
            self.cookie_slot = Some(slot);
        }
        self.prepare_loops(probe)?;
        if let Some(pred) = &probe.predicate {
            let mark = self.b.stack_mark();
            self.b.mark(pred.span);
            let v = self.expr(pred)?;
            self.truth(&v);
            let exit = self.exit_label;
            self.b.jmp_imm(JmpOp::Jeq, R0, 0, exit);
            self.b.release(mark);
        }
        self.block(&probe.body)?;
        let exit = self.exit_label;
        self.b.bind(exit);
        self.b.emit(insn::mov64_imm(R0, 0));
        self.b.emit(insn::exit());
        let (mut insns, mut map_relocs, mut spans) = self.b.finish(probe.span)?;
        // The context is read only before anything changes r1: read it
        // from r1 and drop the prologue's `r6 = r1`. Jumps are relative and
        // none targets the first instruction.
        if context_in_r1_suffices(&insns) {
            for i in insns[1..].iter_mut() {
                if i.src == R6.0 {
                    i.src = R1.0;
                }
            }
            insns.remove(0);
            map_relocs.iter_mut().for_each(|(at, _)| *at -= 1);
            spans
                .iter_mut()
                .for_each(|(at, _)| *at = at.saturating_sub(1));
        }
        Ok(CompiledProgram {
            name,
            insns,
            map_relocs,
            spans,
            target,
            span: probe.span,
        })
    }

    /// Allocates a slot that lives for the whole program (variables).
    pub(crate) fn alloc_var(&mut self, size: usize, span: Span) -> Result<i16, CompileError> {
        let size = ((size.max(1) + 7) & !7) as i32;
        if self.var_bytes + size + self.b.stack_mark() > crate::builder::STACK_SIZE {
            return Err(CompileError::new(
                span,
                "this probe needs more than 512 bytes of BPF stack",
            ));
        }
        self.var_bytes += size;
        Ok((-crate::builder::STACK_SIZE + self.var_bytes - size) as i16)
    }

    /// Allocates a temporary slot (freed at the end of the statement).
    pub(crate) fn alloc_tmp(&mut self, size: usize, span: Span) -> Result<i16, CompileError> {
        let off = self.b.alloc(size, span)?;
        if (-(off as i32)) + self.var_bytes > crate::builder::STACK_SIZE {
            return Err(CompileError::new(
                span,
                "this probe needs more than 512 bytes of BPF stack",
            ));
        }
        Ok(off)
    }

    /// Copies a string value into a buffer of `n` bytes (NUL-padded).
    pub(crate) fn copy_string(&mut self, v: &Val, dst: i16, n: usize) {
        self.b.zero_stack(dst, (n + 7) & !7);
        match v {
            Val::StrConst(s) => {
                let bytes = s.as_bytes();
                let take = bytes.len().min(n.saturating_sub(1));
                self.store_bytes(R10, dst, &bytes[..take]);
            }
            Val::Buf(src, m) => {
                let words = (*m.min(&n)).div_ceil(8);
                for w in 0..words {
                    let o = (w * 8) as i16;
                    self.b.emit(insn::ldx(8, R0, R10, src + o));
                    self.b.emit(insn::stx(8, R10, dst + o, R0));
                }
            }
            _ => {}
        }
    }

    /// Stores constant bytes at `base + off` (4 bytes at a time).
    pub(crate) fn store_bytes(&mut self, base: Reg, off: i16, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            self.b.emit(insn::st_imm(
                4,
                base,
                off + (i * 4) as i16,
                i32::from_le_bytes(w),
            ));
        }
    }

    /// Loads an integer-like value into `r`.
    pub(crate) fn load(&mut self, v: &Val, r: Reg) {
        match v {
            Val::Const(c, _) => self.b.mov_imm(r, *c),
            Val::Slot(s, _) | Val::Probe(s) => self.b.emit(insn::ldx(8, r, R10, *s)),
            Val::Ctx(off, _) => self.b.emit(insn::ldx(8, r, R6, *off)),
            Val::ProbeConst(id) => self.b.mov_imm(r, *id as i64),
            Val::Timestamp(slot, _) => self.b.emit(insn::ldx(8, r, R10, *slot)),
            Val::USym(slot)
            | Val::Username(slot)
            | Val::Strerror(slot)
            | Val::SyscallName(slot) => self.b.emit(insn::ldx(8, r, R10, *slot)),
            Val::Buf(..)
            | Val::Inet(_)
            | Val::StrConst(_)
            | Val::UStack(..)
            | Val::Bytes(..)
            | Val::Tuple(..)
            | Val::Record(..)
            | Val::Void => self.b.mov_imm(r, 0),
        }
    }

    /// [`ProgramCompiler::load`] of a value used up here: an integer just
    /// spilled to a temporary is taken from the register that still holds
    /// it, and its store dropped (the temporary is never read again).
    pub(crate) fn load_consumed(&mut self, v: &Val, r: Reg) {
        if let Val::Slot(s, _) = v {
            if i32::from(*s) >= -self.b.stack_mark() {
                if let Some(src) = self.b.take_last_store(*s) {
                    if src != r {
                        self.b.emit(insn::mov64_reg(r, src));
                    }
                    return;
                }
            }
        }
        self.load(v, r);
    }

    /// Puts an integer result from r0 into a new temporary slot.
    pub(crate) fn spill(&mut self, signed: bool, span: Span) -> Result<Val, CompileError> {
        let slot = self.alloc_tmp(8, span)?;
        self.b.emit(insn::stx(8, R10, slot, R0));
        Ok(Val::Slot(slot, signed))
    }

    /// Leaves in r0 the truth of a condition (an integer: the semantic
    /// pass checked it).
    pub(crate) fn truth(&mut self, v: &Val) {
        self.load(v, R0);
    }

    /// The type the semantic pass decided for `e`.
    pub(crate) fn typed(&self, e: &Expr) -> Result<Typed, CompileError> {
        self.types.of(e).cloned()
    }

    /// Writes `v`, a value of type `ty`, into the stack at `dst` (a
    /// variable, a tuple element, a map key or value): `ty.slot_size()`
    /// bytes.
    pub(crate) fn store_at(&mut self, v: &Val, ty: &Type, dst: i16) {
        match (ty, v) {
            (Type::Str(n), _) => self.copy_string(v, dst, *n),
            (Type::Stack(_), Val::UStack(src, _))
            | (Type::Symbol, Val::USym(src))
            | (Type::Buffer(_), Val::Bytes(src, _))
            | (Type::Inet, Val::Inet(src))
            | (Type::Username, Val::Username(src))
            | (Type::Strerror, Val::Strerror(src))
            | (Type::SyscallName, Val::SyscallName(src))
            | (Type::Tuple(_), Val::Tuple(src, _)) => {
                self.copy_words(*src, R10, dst, ty.slot_size())
            }
            // Integers, bools, probe names and timestamps: 8 bytes.
            _ => {
                self.load(v, R0);
                self.b.emit(insn::stx(8, R10, dst, R0));
            }
        }
    }

    /// Writes an integer or string into a result slot sized for either.
    pub(crate) fn store_result(&mut self, v: &Val, slot: i16) -> Result<(), CompileError> {
        match v.ty() {
            Type::Str(_) => {
                let n = self.g.opts.str_len;
                self.copy_string(v, slot, n);
            }
            _ => {
                self.load(v, R0);
                self.b.emit(insn::stx(8, R10, slot, R0));
            }
        }
        Ok(())
    }

    /// Ensures a string value lives in a stack buffer; returns its offset.
    pub(crate) fn materialize_str(&mut self, v: &Val, span: Span) -> Result<i16, CompileError> {
        match v {
            Val::Buf(off, _) => Ok(*off),
            Val::StrConst(s) => {
                let n = s.len() + 1;
                let off = self.alloc_tmp(n, span)?;
                self.copy_string(v, off, n);
                Ok(off)
            }
            _ => Err(CompileError::new(span, "expected a string")),
        }
    }

    /// Copies `size` bytes (a multiple of 8) from stack slot `src` to
    /// `dst_reg + dst_off`, through r0... r1 is clobbered.
    pub(crate) fn copy_words(&mut self, src: i16, dst_reg: Reg, dst_off: i16, size: usize) {
        for w in 0..size / 8 {
            let o = (w * 8) as i16;
            self.b.emit(insn::ldx(8, R1, R10, src + o));
            self.b.emit(insn::stx(8, dst_reg, dst_off + o, R1));
        }
    }
}

/// An error the semantic pass should have reported: the emitter met a
/// value of a type it did not expect.
pub(crate) fn internal(span: Span) -> CompileError {
    CompileError::new(span, "internal error: unexpected type after checking")
}

/// True when every read of r6 (the context, copied from r1 by the
/// prologue) comes before the first call, jump, jump target or write of r1:
/// r1 still holds the context there.
fn context_in_r1_suffices(insns: &[Insn]) -> bool {
    let is_jump = |i: &Insn| matches!(i.code & 0x07, 0x05 | 0x06) && i.code != 0x85;
    let writes_r1 = |i: &Insn| i.dst == R1.0 && matches!(i.code & 0x07, 0x00 | 0x01 | 0x04 | 0x07);
    // The straight-line prefix after the prologue.
    let mut end = 1;
    while end < insns.len() {
        let i = &insns[end];
        if i.code == 0x85 || is_jump(i) || i.code == 0x95 || writes_r1(i) {
            break;
        }
        end += 1;
    }
    let targeted = insns.iter().enumerate().any(|(at, i)| {
        is_jump(i) && {
            let to = at as i64 + 1 + i64::from(i.off);
            to >= 1 && to <= end as i64
        }
    });
    let late_use = insns[end..].iter().any(|i| i.dst == R6.0 || i.src == R6.0);
    let early_write = insns[1..end].iter().any(|i| i.dst == R6.0);
    !targeted && !late_use && !early_write
}
