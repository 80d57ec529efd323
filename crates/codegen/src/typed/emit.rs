//! The emitter's walk of a typed chain: address arithmetic at compile
//! time where it can, one `bpf_probe_read_user` per pointer followed and
//! one for the object read at the end. A failed read leaves zeros and
//! adds one to the failed-reads counter user space reports at exit.

use ustrace_dwarf::Bitfield;
use ustrace_lang::ast::{Expr, ExprKind, Span, UnaryOp};

use super::check::{char_array_buffer, check_cast_target, field_span, PRINTED_RECORD_MAX};
use super::{deref_step, field_step, index_step, DType, Kind, Root, RootLoc};
use crate::emit::{internal, ProgramCompiler, Val};
use crate::insn::{self, helper, AluOp, R0, R1, R10, R2, R3, R6};
use crate::program::{FieldKind, RecordType};
use crate::sema::expr::is_args;
use crate::usdt_args;
use crate::CompileError;

/// A typed expression, before it is read.
#[derive(Debug, Clone)]
pub(crate) enum TVal {
    /// A value the program holds.
    Value {
        /// Its type.
        ty: DType,
        /// The value.
        val: Val,
    },
    /// An object at `addr + offset` in the traced process's memory.
    Place {
        /// Its type.
        ty: DType,
        /// The address the offset is relative to.
        addr: Val,
        /// Bytes after `addr`.
        offset: i64,
        /// For bitfields: the bits, counted from `offset`.
        bitfield: Option<Bitfield>,
    },
    /// An object copied to the BPF stack (an aggregate passed by value in
    /// registers), at `slot + offset`.
    Stack {
        /// Its type.
        ty: DType,
        /// The copy's stack slot.
        slot: i16,
        /// Bytes after the slot's start.
        offset: i64,
        /// For bitfields: the bits, counted from `offset`.
        bitfield: Option<Bitfield>,
    },
}

impl TVal {
    fn ty(&self) -> &DType {
        match self {
            TVal::Value { ty, .. } | TVal::Place { ty, .. } | TVal::Stack { ty, .. } => ty,
        }
    }

    /// The same object moved `by` bytes on, as type `ty`.
    fn member(
        self,
        ty: DType,
        by: i64,
        bitfield: Option<Bitfield>,
        span: Span,
    ) -> Result<TVal, CompileError> {
        match self {
            TVal::Place { addr, offset, .. } => Ok(TVal::Place {
                ty,
                addr,
                offset: offset.saturating_add(by),
                bitfield,
            }),
            TVal::Stack { slot, offset, .. } => Ok(TVal::Stack {
                ty,
                slot,
                offset: offset.saturating_add(by),
                bitfield,
            }),
            TVal::Value { .. } => Err(internal(span)),
        }
    }
}

impl ProgramCompiler<'_, '_> {
    /// The value of `e` when it is a typed chain; `None` when it is not.
    pub(crate) fn typed_expr(&mut self, e: &Expr) -> Result<Option<Val>, CompileError> {
        if matches!(&e.kind, ExprKind::Builtin(name) if name == "args") {
            return self.whole_args(e.span).map(Some);
        }
        let Some(t) = self.tval(e)? else {
            return Ok(None);
        };
        self.read_tval(t, e.span).map(Some)
    }

    fn tval(&mut self, e: &Expr) -> Result<Option<TVal>, CompileError> {
        let span = e.span;
        match &e.kind {
            ExprKind::Field { base, field } if is_args(base) => {
                let root = self.ctx.param_root(field).map_err(|m| {
                    CompileError::new(span, format!("cannot read `args.{field}`: {m}"))
                })?;
                self.root_tval(root, span).map(Some)
            }
            ExprKind::Variable(name) if self.typed_vars.contains_key(name) => {
                let ty = self.typed_vars[name].clone();
                let val = self.var_value(e)?;
                Ok(Some(TVal::Value { ty, val }))
            }
            ExprKind::Builtin(name) if name == "retval" => match self.ctx.return_root() {
                Some(root) => self.root_tval(root, span).map(Some),
                None => Ok(None),
            },
            ExprKind::TypeCast { ty, operand } => {
                let v = self.expr(operand)?;
                let d = self
                    .ctx
                    .named_type(&ty.display(), &self.g.opts.program_types)
                    .map_err(|m| CompileError::new(ty.span, m))?;
                check_cast_target(&d).map_err(|m| CompileError::new(ty.span, m))?;
                let val = match d.kind() {
                    Kind::Int { size, signed, .. } if size < 8 => {
                        self.load(&v, R0);
                        usdt_args::extend(&mut self.b, R0, size, signed);
                        self.spill(signed, span)?
                    }
                    _ => v,
                };
                Ok(Some(TVal::Value { ty: d, val }))
            }
            ExprKind::Field { base, field } => {
                let Some(b) = self.tval(base)? else {
                    return Ok(None);
                };
                let step = field_step(b.ty(), field)
                    .map_err(|m| CompileError::new(field_span(base, span), m))?;
                let b = if step.deref {
                    self.follow_pointer(b, step.ty.clone(), span)?
                } else {
                    b
                };
                b.member(step.ty, step.offset as i64, step.bitfield, span)
                    .map(Some)
            }
            ExprKind::Index { base, index } => {
                let Some(b) = self.tval(base)? else {
                    return Ok(None);
                };
                let step = index_step(b.ty()).map_err(|m| CompileError::new(span, m))?;
                let b = if step.deref {
                    self.follow_pointer(b, step.element.clone(), span)?
                } else {
                    b
                };
                let i = self.expr(index)?;
                let size = step.size as i64;
                if let Val::Const(c, _) = i {
                    return b
                        .member(step.element, c.saturating_mul(size), None, span)
                        .map(Some);
                }
                let TVal::Place { addr, offset, .. } = b else {
                    return Err(CompileError::new(
                        index.span,
                        "an array passed by value in registers takes only constant indices",
                    ));
                }; // A run-time index: the element's address in a new slot.
                self.load(&i, R0);
                self.b.mov_imm(R1, size);
                self.b.emit(insn::alu64_reg(AluOp::Mul, R0, R1));
                self.load(&addr, R1);
                self.b.emit(insn::alu64_reg(AluOp::Add, R0, R1));
                self.b.mov_imm(R1, offset);
                self.b.emit(insn::alu64_reg(AluOp::Add, R0, R1));
                let addr = self.spill(false, span)?;
                Ok(Some(TVal::Place {
                    ty: step.element,
                    addr,
                    offset: 0,
                    bitfield: None,
                }))
            }
            ExprKind::Unary {
                op: UnaryOp::Deref,
                operand,
            } => {
                let Some(b) = self.tval(operand)? else {
                    return Ok(None);
                };
                let ty = deref_step(b.ty()).map_err(|m| CompileError::new(span, m))?;
                self.follow_pointer(b, ty, span).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// `args` as a whole: every parameter copied into one record.
    fn whole_args(&mut self, span: Span) -> Result<Val, CompileError> {
        let (record, params) = self
            .ctx
            .args_root()
            .map_err(|m| CompileError::new(span, format!("cannot read `args`: {m}")))?;
        let size = record.size();
        let buffer = self.record_buffer(&record, size, span)?;
        for (name, root) in params {
            let Some(member) = record.table().member(record.id, &name) else {
                return Err(internal(span));
            };
            let at = buffer + member.offset as i16;
            match self.root_tval(root, span)? {
                TVal::Value { val, .. } => {
                    self.load(&val, R0);
                    self.b.emit(insn::stx(8, R10, at, R0));
                }
                TVal::Place {
                    ty, addr, offset, ..
                } => self.read_user(at, ty.size() as i32, &addr, offset, span)?,
                TVal::Stack {
                    ty, slot, offset, ..
                } => {
                    for i in 0..ty.size() as i16 {
                        self.b.emit(insn::ldx(1, R0, R10, slot + offset as i16 + i));
                        self.b.emit(insn::stx(1, R10, at + i, R0));
                    }
                }
            }
        }
        Ok(Val::Record(buffer, record))
    }

    /// A parameter or return value where the calling convention put it.
    fn root_tval(&mut self, root: Root, span: Span) -> Result<TVal, CompileError> {
        Ok(match root.loc {
            RootLoc::Specs(specs) => TVal::Value {
                ty: root.ty,
                val: self.read_arg_specs(specs, span)?,
            },
            RootLoc::Memory { reg, offset } => TVal::Place {
                ty: root.ty,
                addr: Val::Ctx(reg, false),
                offset: offset as i64,
                bitfield: None,
            },
            RootLoc::Registers { size, parts } => {
                // A stack copy, 8 bytes longer so bitfield loads stay in it.
                let bytes = ((size as usize + 7) & !7) + 8;
                let slot = self.alloc_tmp(bytes, span)?;
                self.b.zero_stack(slot, bytes);
                for p in parts {
                    self.b.emit(insn::ldx(8, R0, R6, p.reg));
                    self.b
                        .emit(insn::stx(p.size, R10, slot + p.offset as i16, R0));
                }
                TVal::Stack {
                    ty: root.ty,
                    slot,
                    offset: 0,
                    bitfield: None,
                }
            }
        })
    }

    /// The object of type `pointee` a pointer value or object points to.
    fn follow_pointer(
        &mut self,
        pointer: TVal,
        pointee: DType,
        span: Span,
    ) -> Result<TVal, CompileError> {
        let addr = match pointer {
            TVal::Value { val, .. } => val,
            place => self.read_tval(place, span)?,
        };
        Ok(TVal::Place {
            ty: pointee,
            addr,
            offset: 0,
            bitfield: None,
        })
    }

    /// Reads a typed expression into a script value.
    pub(crate) fn read_tval(&mut self, t: TVal, span: Span) -> Result<Val, CompileError> {
        let (ty, addr, offset, bitfield) = match t {
            TVal::Value { val, .. } => return Ok(val),
            TVal::Stack {
                ty,
                slot,
                offset,
                bitfield,
            } => return self.read_stack_copy(ty, slot, offset as i16, bitfield, span),
            TVal::Place {
                ty,
                addr,
                offset,
                bitfield,
            } => (ty, addr, offset, bitfield),
        };
        match ty.kind() {
            Kind::Int { size, signed, .. } => match bitfield {
                Some(bits) => self.read_bitfield(&addr, offset, bits, signed, span),
                None => {
                    let slot = self.alloc_tmp(8, span)?;
                    self.b.emit(insn::st_imm(8, R10, slot, 0));
                    self.read_user(slot, size as i32, &addr, offset, span)?;
                    if signed && size < 8 {
                        self.b.emit(insn::ldx(8, R0, R10, slot));
                        usdt_args::extend(&mut self.b, R0, size, true);
                        self.b.emit(insn::stx(8, R10, slot, R0));
                    }
                    Ok(Val::Slot(slot, signed))
                }
            },
            Kind::Pointer { .. } => {
                let slot = self.alloc_tmp(8, span)?;
                self.b.emit(insn::st_imm(8, R10, slot, 0));
                self.read_user(slot, 8, &addr, offset, span)?;
                Ok(Val::Slot(slot, false))
            }
            Kind::CharArray { len } => {
                let n = char_array_buffer(len, self.g.opts.str_len);
                let slot = self.alloc_tmp(n, span)?;
                self.b.zero_stack(slot, (n + 7) & !7);
                if n > 1 {
                    self.read_user(slot, (n - 1) as i32, &addr, offset, span)?;
                }
                Ok(Val::Buf(slot, n))
            }
            Kind::Aggregate { size } => {
                let bytes = self.record_buffer(&ty, size, span)?;
                self.read_user(bytes, size as i32, &addr, offset, span)?;
                Ok(Val::Record(bytes, ty))
            }
            Kind::Unsupported(why) => Err(CompileError::new(span, why)),
        }
    }

    /// A zeroed stack buffer for a whole value of `size` bytes.
    fn record_buffer(&mut self, ty: &DType, size: u64, span: Span) -> Result<i16, CompileError> {
        if size > PRINTED_RECORD_MAX {
            return Err(CompileError::new(
                span,
                format!(
                    "a whole `{}` is {size} bytes; printing one is limited to {PRINTED_RECORD_MAX} bytes: print its fields",
                    ty.name()
                ),
            ));
        }
        let rounded = (size as usize + 7) & !7;
        let slot = self.alloc_tmp(rounded.max(8), span)?;
        self.b.zero_stack(slot, rounded.max(8));
        Ok(slot)
    }

    /// `v`, the value of `e`, as a record of its enum type when `e` is an
    /// enum of the traced program (so that it prints by name); else `v`.
    pub(crate) fn enum_by_name(&mut self, e: &Expr, v: Val) -> Result<Val, CompileError> {
        let Some(d) = super::enum_type(&self.ctx, self.g.opts, &self.typed_vars, e) else {
            return Ok(v);
        };
        let slot = self.alloc_tmp(8, e.span)?;
        self.load(&v, R0);
        self.b.emit(insn::stx(8, R10, slot, R0));
        Ok(Val::Record(slot, d))
    }

    /// The printf field of `v`: for a whole program value, its type is
    /// numbered in the script's record types.
    pub(crate) fn printable_field(&mut self, v: &Val) -> Option<FieldKind> {
        let field = v.ty().record_field()?;
        let Val::Record(_, d) = v else {
            return Some(field);
        };
        let types = &mut self.g.out.record_types;
        let index = match types
            .iter()
            .position(|r| std::sync::Arc::ptr_eq(&r.types, &d.prog) && r.ty == d.id)
        {
            Some(i) => i,
            None => {
                types.push(RecordType {
                    types: d.prog.clone(),
                    ty: d.id,
                });
                types.len() - 1
            }
        };
        Some(FieldKind::Record {
            index,
            size: d.size() as usize,
        })
    }

    /// Reads a member of a stack copy at `at`.
    fn read_stack_copy(
        &mut self,
        ty: DType,
        slot: i16,
        offset: i16,
        bitfield: Option<Bitfield>,
        span: Span,
    ) -> Result<Val, CompileError> {
        let at = slot + offset;
        match (ty.kind(), bitfield) {
            (Kind::Int { signed, .. }, Some(bits)) => {
                // The stack allows aligned loads only: the 8-byte word
                // holding the field's first byte.
                let within = offset & 7;
                self.b.emit(insn::ldx(8, R0, R10, at - within));
                let bits = Bitfield {
                    bit_offset: bits.bit_offset + 8 * within as u64,
                    bit_size: bits.bit_size,
                };
                self.extract_bits(bits, signed, span)
            }
            (Kind::Int { size, signed, .. }, None) => {
                self.b.emit(insn::ldx(size, R0, R10, at));
                if signed && size < 8 {
                    usdt_args::extend(&mut self.b, R0, size, true);
                }
                self.spill(signed, span)
            }
            (Kind::Pointer { .. }, _) => {
                self.b.emit(insn::ldx(8, R0, R10, at));
                self.spill(false, span)
            }
            (Kind::CharArray { len }, _) => {
                let n = char_array_buffer(len, self.g.opts.str_len);
                let slot = self.alloc_tmp(n, span)?;
                self.b.zero_stack(slot, (n + 7) & !7);
                for i in 0..(n - 1) as i16 {
                    self.b.emit(insn::ldx(1, R0, R10, at + i));
                    self.b.emit(insn::stx(1, R10, slot + i, R0));
                }
                Ok(Val::Buf(slot, n))
            }
            (Kind::Aggregate { size }, _) => {
                let bytes = self.record_buffer(&ty, size, span)?;
                for i in 0..size as i16 {
                    self.b.emit(insn::ldx(1, R0, R10, at + i));
                    self.b.emit(insn::stx(1, R10, bytes + i, R0));
                }
                Ok(Val::Record(bytes, ty))
            }
            (Kind::Unsupported(why), _) => Err(CompileError::new(span, why)),
        }
    }

    /// r0 holds the 8 bytes starting at a bitfield's byte: keeps its bits
    /// (sign extended when signed) in a new slot.
    fn extract_bits(
        &mut self,
        bits: Bitfield,
        signed: bool,
        span: Span,
    ) -> Result<Val, CompileError> {
        let end = bits.bit_offset.saturating_add(bits.bit_size);
        if bits.bit_size == 0 || end > 64 {
            return Err(CompileError::new(
                span,
                format!(
                    "this bitfield ({} bits at bit {}) spans more than 8 bytes, which is not supported",
                    bits.bit_size, bits.bit_offset
                ),
            ));
        }
        let left = (64 - end) as i32;
        if left > 0 {
            self.b.emit(insn::alu64_imm(AluOp::Lsh, R0, left));
        }
        let right = (64 - bits.bit_size) as i32;
        if right > 0 {
            let op = if signed { AluOp::Arsh } else { AluOp::Rsh };
            self.b.emit(insn::alu64_imm(op, R0, right));
        }
        self.spill(signed, span)
    }

    /// A bitfield: the bytes that hold it, shifted and masked (and sign
    /// extended for signed fields).
    fn read_bitfield(
        &mut self,
        addr: &Val,
        offset: i64,
        bits: Bitfield,
        signed: bool,
        span: Span,
    ) -> Result<Val, CompileError> {
        let end = bits.bit_offset.saturating_add(bits.bit_size).min(64);
        let slot = self.alloc_tmp(8, span)?;
        self.b.emit(insn::st_imm(8, R10, slot, 0));
        self.read_user(slot, end.div_ceil(8) as i32, addr, offset, span)?;
        self.b.emit(insn::ldx(8, R0, R10, slot));
        self.extract_bits(bits, signed, span)
    }

    /// `bpf_probe_read_user(r10 + dst, size, addr + offset)`, a failure
    /// counted (and reported at `span` with `-k`).
    pub(crate) fn read_user(
        &mut self,
        dst: i16,
        size: i32,
        addr: &Val,
        offset: i64,
        span: Span,
    ) -> Result<(), CompileError> {
        self.load(addr, R3);
        if offset != 0 {
            match i32::try_from(offset) {
                Ok(o) => self.b.emit(insn::alu64_imm(AluOp::Add, R3, o)),
                Err(_) => {
                    self.b.mov_imm(R1, offset);
                    self.b.emit(insn::alu64_reg(AluOp::Add, R3, R1));
                }
            }
        }
        self.b.emit(insn::mov64_reg(R1, R10));
        self.b.emit(insn::alu64_imm(AluOp::Add, R1, dst as i32));
        self.b.emit(insn::mov64_imm(R2, size));
        self.b.emit(insn::call(helper::PROBE_READ_USER));
        self.check_user_read("probe_read_user", span)
    }
}
