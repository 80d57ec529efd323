//! An instruction list under construction: emits instructions, allocates
//! stack slots, and resolves forward jumps to labels.

use crate::insn::{self, Insn, JmpOp, Reg};
use crate::CompileError;
use ustrace_lang::ast::Span;

/// A jump target, bound to an instruction index later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

/// A reference to a map in the compiled script's map table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MapId(pub usize);

/// The eBPF stack is 512 bytes below r10.
pub const STACK_SIZE: i32 = 512;

/// What [`Builder::finish`] returns: instructions, `(index, map)`
/// relocations and `(index, span)` markers.
pub type Finished = (Vec<Insn>, Vec<(usize, MapId)>, Vec<(usize, Span)>);

/// A subprogram waiting to be appended: name, instructions, map
/// relocations.
type Subprogram = (String, Vec<Insn>, Vec<(usize, MapId)>);

/// Builds one program.
#[derive(Debug, Default)]
pub struct Builder {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
    /// (instruction index, map) for every `ld_map_fd` placeholder.
    pub map_relocs: Vec<(usize, MapId)>,
    /// (first instruction index, source span) markers, for verifier errors.
    pub spans: Vec<(usize, Span)>,
    stack_used: i32,
    stack_peak: i32,
    /// True after an unconditional jump or exit, until a label some live
    /// jump targets is bound: instructions emitted meanwhile can never run,
    /// and the verifier rejects unreachable code, so they are dropped.
    dead: bool,
    /// How many live jumps target each label.
    label_refs: Vec<usize>,
    /// The index of the last label bound: code there may be reached by a
    /// jump, so it never reuses what the previous instruction left.
    barrier: usize,
    /// Subprograms (`bpf_loop` callbacks), appended after the main code by
    /// [`Builder::finish`]: name, instructions, map relocations.
    funcs: Vec<Subprogram>,
    /// (`ld_imm64` index, subprogram index) references to patch.
    func_refs: Vec<(usize, usize)>,
}

impl Builder {
    /// An empty program.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Appends one instruction.
    pub fn emit(&mut self, i: Insn) {
        if self.dead {
            return;
        }
        // A value stored to a stack slot and read straight back: take it
        // from the register that still holds it.
        if let Some(src) = self.just_stored(&i) {
            if src != i.dst {
                self.insns.push(insn::mov64_reg(Reg(i.dst), Reg(src)));
            }
            return;
        }
        self.insns.push(i);
        if i == insn::exit() {
            self.dead = true;
        }
    }

    /// Appends a two-slot instruction.
    pub fn emit2(&mut self, i: [Insn; 2]) {
        if !self.dead {
            self.insns.extend(i);
        }
    }

    /// For an 8-byte load from the stack right after an 8-byte store to the
    /// same slot (with no jump target between): the stored register.
    fn just_stored(&self, i: &Insn) -> Option<u8> {
        let load = insn::ldx(8, insn::R0, insn::R10, 0);
        let store = insn::stx(8, insn::R10, 0, insn::R0);
        let last = self.insns.last()?;
        let reload = i.code == load.code
            && i.src == insn::R10.0
            && last.code == store.code
            && last.dst == insn::R10.0
            && last.off == i.off
            && self.barrier < self.insns.len();
        reload.then_some(last.src)
    }

    /// Removes the last instruction when it is an 8-byte store of a register
    /// to the stack slot `off` (with no jump target after it) and returns
    /// that register: the caller uses the value from it instead.
    pub fn take_last_store(&mut self, off: i16) -> Option<Reg> {
        let store = insn::stx(8, insn::R10, 0, insn::R0);
        let last = *self.insns.last()?;
        let take = !self.dead
            && last.code == store.code
            && last.dst == insn::R10.0
            && last.off == off
            && self.barrier < self.insns.len();
        if !take {
            return None;
        }
        self.insns.pop();
        let end = self.insns.len();
        self.spans
            .iter_mut()
            .for_each(|(at, _)| *at = (*at).min(end));
        Some(Reg(last.src))
    }

    /// True when the next instruction could run (see `dead`).
    pub fn is_live(&self) -> bool {
        !self.dead
    }

    /// `dst = imm` choosing the short form when the value fits.
    pub fn mov_imm(&mut self, dst: Reg, v: i64) {
        if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
            self.emit(insn::mov64_imm(dst, v as i32));
        } else {
            self.emit2(insn::ld_imm64(dst, v as u64));
        }
    }

    /// `dst = &map` (patched with the map's fd at load time).
    pub fn load_map(&mut self, dst: Reg, map: MapId) {
        if self.dead {
            return;
        }
        self.map_relocs.push((self.insns.len(), map));
        self.emit2(insn::ld_map_fd(dst, -1));
    }

    /// `dst = &value + offset` of a one-entry array map, with no lookup
    /// (patched with the map's fd at load time like [`Builder::load_map`]).
    pub fn load_map_value(&mut self, dst: Reg, map: MapId, offset: i32) {
        if self.dead {
            return;
        }
        self.map_relocs.push((self.insns.len(), map));
        self.emit2(insn::ld_map_value(dst, -1, offset));
    }

    /// The index of subprogram `name`, if added already.
    pub fn func(&self, name: &str) -> Option<usize> {
        self.funcs.iter().position(|f| f.0 == name)
    }

    /// Adds subprogram `name` (a finished builder's instructions and map
    /// relocations; the subprograms it references were appended to it by
    /// its own `finish`, and stay with it); returns its index for
    /// [`Builder::load_func`].
    pub fn add_func(&mut self, name: impl Into<String>, body: Finished) -> usize {
        self.funcs.push((name.into(), body.0, body.1));
        self.funcs.len() - 1
    }

    /// `dst = &subprogram` (`BPF_PSEUDO_FUNC`), e.g. a `bpf_loop` callback.
    pub fn load_func(&mut self, dst: Reg, func: usize) {
        if self.dead {
            return;
        }
        self.func_refs.push((self.insns.len(), func));
        let mut ld = insn::ld_imm64(dst, 0);
        ld[0].src = insn::BPF_PSEUDO_FUNC;
        self.emit2(ld);
    }

    /// Records that the following instructions come from `span`.
    pub fn mark(&mut self, span: Span) {
        self.spans.push((self.insns.len(), span));
    }

    /// A new unbound label.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        self.label_refs.push(0);
        Label(self.labels.len() - 1)
    }

    /// Binds `l` to the next instruction.
    pub fn bind(&mut self, l: Label) {
        // `goto l` right before `l`: falling through does the same (unless
        // another label is already bound after the jump).
        if self.fixups.last() == Some(&(self.insns.len().wrapping_sub(1), l))
            && self.insns.last() == Some(&insn::ja(0))
            && self.barrier != self.insns.len()
        {
            self.fixups.pop();
            self.insns.pop();
            self.label_refs[l.0] -= 1;
            self.dead = false;
            let end = self.insns.len();
            self.spans
                .iter_mut()
                .for_each(|(at, _)| *at = (*at).min(end));
        }
        self.labels[l.0] = Some(self.insns.len());
        self.barrier = self.insns.len();
        if self.label_refs[l.0] > 0 {
            self.dead = false;
        }
    }

    fn add_fixup(&mut self, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.label_refs[l.0] += 1;
    }

    /// `if dst op imm goto l`.
    pub fn jmp_imm(&mut self, op: JmpOp, dst: Reg, imm: i32, l: Label) {
        if self.dead {
            return;
        }
        self.add_fixup(l);
        self.emit(insn::jmp_imm(op, dst, imm, 0));
    }

    /// `if dst op src goto l`.
    pub fn jmp_reg(&mut self, op: JmpOp, dst: Reg, src: Reg, l: Label) {
        if self.dead {
            return;
        }
        self.add_fixup(l);
        self.emit(insn::jmp_reg(op, dst, src, 0));
    }

    /// `goto l`.
    pub fn goto(&mut self, l: Label) {
        if self.dead {
            return;
        }
        self.add_fixup(l);
        self.emit(insn::ja(0));
        self.dead = true;
    }

    /// Reserves `size` bytes (rounded up to 8) of stack; returns the offset from r10.
    pub fn alloc(&mut self, size: usize, span: Span) -> Result<i16, CompileError> {
        let size = (size.max(1) as i32 + 7) & !7;
        if self.stack_used + size > STACK_SIZE {
            return Err(CompileError::new(
                span,
                format!(
                    "this probe needs more than the {STACK_SIZE} bytes of BPF stack (strings and tuples use stack; try a shorter string length: USTRACE_STRLEN or BPFTRACE_STRLEN)"
                ),
            ));
        }
        self.stack_used += size;
        self.stack_peak = self.stack_peak.max(self.stack_used);
        Ok(-self.stack_used as i16)
    }

    /// The current stack depth, to release temporaries later with [`Builder::release`].
    pub fn stack_mark(&self) -> i32 {
        self.stack_used
    }

    /// Frees every slot allocated since `mark`.
    pub fn release(&mut self, mark: i32) {
        self.stack_used = mark;
    }

    /// Zeroes `len` bytes (a multiple of 8) of stack at `off`.
    pub fn zero_stack(&mut self, off: i16, len: usize) {
        let mut o = 0;
        while o < len {
            self.emit(insn::st_imm(8, insn::R10, off + o as i16, 0));
            o += 8;
        }
    }

    /// Number of instructions so far.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// True when nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Resolves jumps and returns the instructions, map relocations and
    /// span markers.
    pub fn finish(mut self, span: Span) -> Result<Finished, CompileError> {
        for &(at, l) in &self.fixups {
            let Some(target) = self.labels[l.0] else {
                return Err(CompileError::new(
                    span,
                    "internal error: unbound jump label",
                ));
            };
            let delta = target as i64 - at as i64 - 1;
            if delta < i16::MIN as i64 || delta > i16::MAX as i64 {
                return Err(CompileError::new(
                    span,
                    "probe body too large: a jump exceeds 32767 instructions",
                ));
            }
            self.insns[at].off = delta as i16;
        }
        let mut starts = Vec::with_capacity(self.funcs.len());
        for (_, body, relocs) in std::mem::take(&mut self.funcs) {
            let base = self.insns.len();
            starts.push(base);
            self.insns.extend(body);
            self.map_relocs
                .extend(relocs.into_iter().map(|(at, m)| (at + base, m)));
        }
        for &(at, func) in &self.func_refs {
            if let (Some(&start), Some(ld)) = (starts.get(func), self.insns.get_mut(at)) {
                ld.imm = (start as i64 - at as i64 - 1) as i32;
            }
        }
        Ok((self.insns, self.map_relocs, self.spans))
    }
}
