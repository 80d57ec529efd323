//! Ring buffer records: printf, print, time, system, exit.

use ustrace_lang::ast::{Expr, Span};

use super::*;
use crate::insn::{self, helper, JmpOp, Reg, R0, R1, R10, R2, R3};
use crate::program::*;
use crate::CompileError;

impl ProgramCompiler<'_, '_> {
    /// Reserves a ring buffer record of `size` bytes, lets `fill` write it
    /// through the register it is given, and submits it; counts a lost event
    /// when the buffer is full.
    pub(crate) fn emit_record(
        &mut self,
        _span: Span,
        size: usize,
        fill: impl FnOnce(&mut Self, Reg),
    ) -> Result<(), CompileError> {
        let full = self.reserve_record(size);
        // The fill code calls no helper: the record pointer stays in r0.
        fill(self, R0);
        self.b.emit(insn::mov64_reg(R1, R0));
        self.submit_record(full);
        Ok(())
    }

    /// Like [`Self::emit_record`], for fill code that calls helpers: the
    /// record pointer is kept in the 8-byte stack slot `fill` is given
    /// (reload it after every call); every path out of `fill` must end
    /// live, where the record is submitted.
    pub(crate) fn emit_record_calling_helpers(
        &mut self,
        span: Span,
        size: usize,
        fill: impl FnOnce(&mut Self, i16) -> Result<(), CompileError>,
    ) -> Result<(), CompileError> {
        let rec = self.alloc_tmp(8, span)?;
        let full = self.reserve_record(size);
        self.b.emit(insn::stx(8, R10, rec, R0));
        fill(self, rec)?;
        self.b.emit(insn::ldx(8, R1, R10, rec));
        self.submit_record(full);
        Ok(())
    }

    /// `bpf_ringbuf_reserve(size)`: r0 = the record; jumps to the returned
    /// label when the ring buffer is full.
    fn reserve_record(&mut self, size: usize) -> crate::builder::Label {
        self.b.load_map(R1, self.g.out.ringbuf);
        self.b.emit(insn::mov64_imm(R2, size as i32));
        self.b.emit(insn::mov64_imm(R3, 0));
        self.b.emit(insn::call(helper::RINGBUF_RESERVE));
        let full = self.b.label();
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, full);
        full
    }

    /// With the record in r1: submits it. At `full` (the reservation
    /// failed): lost += 1, addressed directly (a one-entry array: no
    /// lookup).
    fn submit_record(&mut self, full: crate::builder::Label) {
        let done = self.b.label();
        self.b.emit(insn::mov64_imm(R2, 0));
        self.b.emit(insn::call(helper::RINGBUF_SUBMIT));
        self.b.goto(done);
        self.b.bind(full);
        self.b.load_map_value(R1, self.g.out.lost_counter, 0);
        self.b.emit(insn::mov64_imm(R2, 1));
        self.b.emit(insn::atomic_add64(R1, 0, R2));
        self.b.bind(done);
    }

    /// printf() and system(): a format and its arguments, as one record.
    pub(crate) fn formatted(
        &mut self,
        args: &[Expr],
        kind: PrintfKind,
        span: Span,
    ) -> Result<Val, CompileError> {
        let call = crate::builtins::Call::function("printf", args, span, span);
        let fmt = crate::builtins::printf_format(args, &call)?.to_string();
        // Evaluate every argument first (helpers may run), then copy them
        // into the record in one go.
        let mut values = Vec::new();
        let conversions: Vec<_> = ustrace_lang::printf::parse_format(&fmt)
            .map(|f| f.conversions().map(|c| c.kind).collect())
            .unwrap_or_default();
        for (i, a) in args[1..].iter().enumerate() {
            let v = self.expr(a)?;
            let by_name = conversions.get(i) == Some(&ustrace_lang::printf::ConversionKind::Str);
            let v = if by_name { self.enum_by_name(a, v)? } else { v };
            let Some(f) = self.value_fields(a, &v)? else {
                return Err(internal(a.span));
            };
            values.push((v, f));
        }
        self.emit_printf(fmt, values, kind, span)
    }

    /// `print(value)`: the value and a newline, as a printf record.
    pub(crate) fn print_value(&mut self, arg: &Expr, span: Span) -> Result<Val, CompileError> {
        let v = self.expr(arg)?;
        let v = self.enum_by_name(arg, v)?;
        let Some(fields) = self.value_fields(arg, &v)? else {
            return Err(internal(arg.span));
        };
        let fmt = match fields[0] {
            FieldKind::Int { signed: true } => "%ld\n",
            FieldKind::Int { signed: false } => "%lu\n",
            FieldKind::Buffer(_) => "%r\n",
            _ => "%s\n",
        };
        self.emit_printf(fmt.to_string(), vec![(v, fields)], PrintfKind::Printf, span)
    }

    /// The record fields of `v`, the value of `e`: a bool or a tuple as the
    /// semantic pass typed it; anything else as the value is (an enum read
    /// by name is a string, a program record has its type's layout).
    fn value_fields(&mut self, e: &Expr, v: &Val) -> Result<Option<Vec<FieldKind>>, CompileError> {
        let ty = self.typed(e)?.ty;
        Ok(match (&ty, v) {
            (Type::Bool, _) | (Type::Tuple(_), Val::Tuple(..)) => ty.record_fields(),
            _ => self.printable_field(v).map(|f| vec![f]),
        })
    }

    /// Emits the ring buffer record of a printf whose arguments are already
    /// evaluated, each with its record fields (one, or a tuple's header and
    /// elements).
    pub(crate) fn emit_printf(
        &mut self,
        fmt: String,
        values: Vec<(Val, Vec<FieldKind>)>,
        kind: PrintfKind,
        span: Span,
    ) -> Result<Val, CompileError> {
        let fields: Vec<FieldKind> = values.iter().flat_map(|(_, f)| f.clone()).collect();
        let def = PrintfDef::new(fmt, fields, kind)
            .map_err(|e| CompileError::new(span, e.to_string()))?;
        let id = match self.g.out.printfs.iter().position(|p| *p == def) {
            Some(i) => i,
            None => {
                self.g.out.printfs.push(def.clone());
                self.g.out.printfs.len() - 1
            }
        };
        let size = def.record_size();
        self.emit_record(span, size, |c, rec| {
            c.b.emit(insn::st_imm(8, rec, 0, id as i32));
            let mut off = 8i16;
            for (v, fs) in &values {
                let Some(f) = fs.first() else { continue };
                match (v, f) {
                    (Val::StrConst(s), FieldKind::Str(n)) => {
                        let bytes = s.as_bytes();
                        let padded = (*n + 7) & !7;
                        for w in 0..padded / 8 {
                            c.b.emit(insn::st_imm(8, rec, off + (w * 8) as i16, 0));
                        }
                        c.store_bytes(rec, off, &bytes[..bytes.len().min(n.saturating_sub(1))]);
                    }
                    (Val::Buf(src, _), FieldKind::Str(n)) => {
                        for w in 0..(*n).div_ceil(8) {
                            let o = (w * 8) as i16;
                            c.b.emit(insn::ldx(8, R1, R10, src + o));
                            c.b.emit(insn::stx(8, rec, off + o, R1));
                        }
                    }
                    (Val::UStack(src, _), FieldKind::UStack(_))
                    | (Val::USym(src), FieldKind::USym) => c.copy_words(*src, rec, off, 16),
                    (Val::Inet(src), FieldKind::Inet) => c.copy_words(*src, rec, off, f.size()),
                    (Val::Record(src, _), FieldKind::Record { .. }) => {
                        c.copy_words(*src, rec, off, f.size())
                    }
                    (Val::Bytes(src, _), FieldKind::Buffer(_)) => {
                        c.copy_words(*src, rec, off, f.size())
                    }
                    (Val::Tuple(src, size), FieldKind::Tuple(_)) => {
                        c.copy_words(*src, rec, off, *size)
                    }
                    _ => {
                        c.load(v, R1);
                        c.b.emit(insn::stx(8, rec, off, R1));
                    }
                }
                off += fs.iter().map(|f| f.size()).sum::<usize>() as i16;
            }
        })?;
        Ok(Val::Void)
    }
}
