//! `globmatch(str, pat)` with a pattern known only at run time (a
//! variable, a probe argument, a map value): the matcher runs in a
//! `bpf_loop` whose callback takes one step of it.
//!
//! The algorithm is the one bpftrace runs in BPF (the kernel's
//! `glob_match`): a single-level backtrack to the last `*`; `?`, `[abc]`,
//! `[a-z]`, `[!abc]` (a `]` first in a class is a member), `\x` a literal
//! `x`; a class without its `]` is a literal `[`; the string's end is in
//! no class (bpftrace's copy lacks that check). Each callback call is
//! one step: a pattern token, or one span of a character class, so the
//! callback is straight-line code the verifier checks once. The number of
//! steps is bounded by `(str capacity + 2) x (2 x pattern capacity + 4)`
//! (every backtrack moves the string start on by one; between two, each
//! step moves on in the pattern).

use super::Call;
use crate::builder::{Builder, Finished, Label};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, AluOp, JmpOp, Reg, R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9};
use crate::program::{MapDef, MapKind, MapRole};
use crate::CompileError;

// The state, in 8-byte slots; the string and the pattern follow.
/// 1 once the string matched.
const RESULT: i16 = 0;
/// The next byte of the string.
const S: i16 = 8;
/// The next byte of the pattern.
const P: i16 = 16;
/// The pattern position after the last `*`, or -1.
const BACK_PAT: i16 = 24;
/// Where the last `*`'s run ends in the string.
const BACK_STR: i16 = 32;
/// 0: at a pattern token; 1: inside a character class.
const MODE: i16 = 40;
/// The string byte a class is matched against.
const C: i16 = 48;
/// The class span's first byte.
const A: i16 = 56;
/// The position in the pattern of the class's next byte.
const CLASS: i16 = 64;
/// 1 for `[!...]`.
const INVERTED: i16 = 72;
/// 1 once a span of the class held the byte.
const MATCHED: i16 = 80;
/// The state's size.
const STATE_SIZE: usize = 88;

/// bpf_loop's most iterations (`BPF_MAX_LOOPS`).
const MAX_LOOPS: usize = 1 << 23;

/// `globmatch(s, p)`: the state and both strings in the per-CPU glob
/// map's value, then `bpf_loop(bound, step, &slot)` (a stack slot holding
/// the value's address: bpf_loop takes a stack pointer); the result is the
/// value's first slot. The verifier knows nothing of what a map value
/// holds, so it checks the callback once instead of following every
/// step (as it would with the state on the stack, where the positions it
/// must track exactly change at each step).
pub(super) fn emit(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let mark = pc.b.stack_mark();
    let (text, scap) = super::strings::string_in_stack(pc, &call.args[0])?;
    let (pattern, pcap) = super::strings::string_in_stack(pc, &call.args[1])?;
    let map = pc.g.shared_map(map_def(pc.g.opts.str_len));
    let slot = pc.alloc_tmp(8, call.span)?;
    let (failed, done) = (pc.b.label(), pc.b.label());
    pc.b.emit(insn::st_imm(8, R10, slot, 0));
    pc.b.load_map(R1, map);
    pc.b.emit(insn::mov64_reg(R2, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(slot)));
    pc.b.emit(insn::call(insn::helper::MAP_LOOKUP_ELEM));
    pc.b.jmp_imm(JmpOp::Jeq, R0, 0, failed);
    pc.b.emit(insn::stx(8, R10, slot, R0));
    for off in (0..STATE_SIZE as i16).step_by(8) {
        pc.b.emit(insn::st_imm(8, R0, off, 0));
    }
    pc.b.emit(insn::st_imm(8, R0, BACK_PAT, -1));
    let pat_at = STATE_SIZE + words(scap) * 8;
    copy_words(pc, text, STATE_SIZE, scap);
    copy_words(pc, pattern, pat_at, pcap);
    let (text, pat_at) = (STATE_SIZE as i16, pat_at as i16);
    let name = format!("glob_step_{scap}_{pcap}");
    let func = match pc.b.func(&name) {
        Some(f) => f,
        None => {
            let body = step_callback((text, scap), (pat_at, pcap), call)?;
            pc.b.add_func(name, body)
        }
    };
    let bound = ((scap + 2) * (2 * pcap + 4)).min(MAX_LOOPS);
    pc.b.emit(insn::mov64_imm(R1, bound as i32));
    pc.b.load_func(R2, func);
    pc.b.emit(insn::mov64_reg(R3, R10));
    pc.b.emit(insn::alu64_imm(AluOp::Add, R3, i32::from(slot)));
    pc.b.emit(insn::mov64_imm(R4, 0));
    pc.b.emit(insn::call(insn::helper::LOOP));
    pc.b.emit(insn::ldx(8, R1, R10, slot));
    pc.b.emit(insn::ldx(8, R0, R1, RESULT));
    pc.b.goto(done);
    pc.b.bind(failed);
    pc.b.emit(insn::mov64_imm(R0, 0));
    pc.b.bind(done);
    // The strings' temporaries are not needed past here.
    pc.b.release(mark);
    pc.spill(false, call.span)
}

/// 8-byte words of a string of `cap` bytes.
fn words(cap: usize) -> usize {
    cap.div_ceil(8)
}

/// Copies the string at stack offset `from` (`cap` bytes, in whole
/// words) to `to` in the map value r0 points at.
fn copy_words(pc: &mut ProgramCompiler, from: i16, to: usize, cap: usize) {
    for w in 0..words(cap) as i16 {
        pc.b.emit(insn::ldx(8, R1, R10, from + w * 8));
        pc.b.emit(insn::stx(8, R0, to as i16 + w * 8, R1));
    }
}

/// The per-CPU map whose one value holds the matcher's state and the
/// two strings (each at most `str_len` bytes).
fn map_def(str_len: usize) -> MapDef {
    MapDef {
        kind: MapKind::PerCpuArray,
        key_size: 4,
        value_size: (STATE_SIZE + 2 * words(str_len.max(1)) * 8) as u32,
        max_entries: 1,
        role: MapRole::GlobState,
    }
}

/// The registers of the callback.
struct Regs;
impl Regs {
    /// The map value: state and strings.
    const STATE: Reg = R9;
    /// The string position.
    const S: Reg = R6;
    /// The pattern position.
    const P: Reg = R7;
    /// The string byte being matched.
    const C: Reg = R8;
}

/// Where the callback goes next.
struct Exits {
    /// Save the positions and go on.
    cont: Label,
    /// Matched: stop.
    matched: Label,
    /// No match: stop.
    failed: Label,
    /// Compare the string byte (r8) with the pattern byte (r4).
    literal: Label,
    /// Retry from the last `*`, one byte later, or fail.
    backtrack: Label,
}

/// `dst` = `buf[idx]` when `idx < cap`, else 0; `idx` moves on past the
/// byte read when `advance`.
fn byte_at(b: &mut Builder, dst: Reg, idx: Reg, buf: i16, cap: usize, advance: bool) {
    let past = b.label();
    b.emit(insn::mov64_imm(dst, 0));
    b.jmp_imm(JmpOp::Jge, idx, cap as i32, past);
    b.emit(insn::mov64_reg(R5, Regs::STATE));
    b.emit(insn::alu64_reg(AluOp::Add, R5, idx));
    b.emit(insn::ldx(1, dst, R5, buf));
    if advance {
        b.emit(insn::alu64_imm(AluOp::Add, idx, 1));
    }
    b.bind(past);
}

/// The callback: r1 = the iteration, r2 = the stack slot holding the map
/// value's address. Returns 1 to stop.
/// The strings are `(offset in the map value, capacity)`.
fn step_callback(
    (text, scap): (i16, usize),
    (pat, pcap): (i16, usize),
    call: &Call,
) -> Result<Finished, CompileError> {
    let mut b = Builder::new();
    let x = Exits {
        cont: b.label(),
        matched: b.label(),
        failed: b.label(),
        literal: b.label(),
        backtrack: b.label(),
    };
    let in_class = b.label();
    b.emit(insn::ldx(8, Regs::STATE, R2, 0));
    b.emit(insn::ldx(8, Regs::S, Regs::STATE, S));
    b.emit(insn::ldx(8, Regs::P, Regs::STATE, P));
    b.emit(insn::ldx(8, R1, Regs::STATE, MODE));
    b.jmp_imm(JmpOp::Jne, R1, 0, in_class);
    token_step(&mut b, &x, (text, scap), (pat, pcap));
    b.bind(in_class);
    class_step(&mut b, &x, pcap, pat);
    endings(&mut b, &x);
    b.finish(call.span)
}

/// One pattern token against the next string byte.
fn token_step(b: &mut Builder, x: &Exits, (text, scap): (i16, usize), (pat, pcap): (i16, usize)) {
    let (any, star, open) = (b.label(), b.label(), b.label());
    byte_at(b, Regs::C, Regs::S, text, scap, true);
    byte_at(b, R4, Regs::P, pat, pcap, true);
    b.jmp_imm(JmpOp::Jeq, R4, i32::from(b'?'), any);
    b.jmp_imm(JmpOp::Jeq, R4, i32::from(b'*'), star);
    b.jmp_imm(JmpOp::Jeq, R4, i32::from(b'['), open);
    b.jmp_imm(JmpOp::Jne, R4, i32::from(b'\\'), x.literal);
    // `\x`: the next pattern byte, literally.
    byte_at(b, R4, Regs::P, pat, pcap, true);
    b.goto(x.literal);

    // `?`: any byte but the end.
    b.bind(any);
    b.jmp_imm(JmpOp::Jeq, Regs::C, 0, x.failed);
    b.goto(x.cont);

    // `*`: a trailing one matches the rest; else remember where to
    // retry, and match the empty run first (the byte is not used).
    b.bind(star);
    byte_at(b, R1, Regs::P, pat, pcap, false);
    b.jmp_imm(JmpOp::Jeq, R1, 0, x.matched);
    b.emit(insn::stx(8, Regs::STATE, BACK_PAT, Regs::P));
    let kept = b.label();
    b.jmp_imm(JmpOp::Jeq, Regs::S, 0, kept);
    b.emit(insn::alu64_imm(AluOp::Sub, Regs::S, 1));
    b.bind(kept);
    b.emit(insn::stx(8, Regs::STATE, BACK_STR, Regs::S));
    b.goto(x.cont);

    // `[`: the class's spans follow, one a step. The string's end is in
    // no class (as in the kernel's glob_match; bpftrace's copy of it
    // lets `[!x]` take the NUL).
    b.bind(open);
    b.jmp_imm(JmpOp::Jeq, Regs::C, 0, x.failed);
    let plain = b.label();
    byte_at(b, R1, Regs::P, pat, pcap, false);
    b.emit(insn::mov64_imm(R2, 0));
    b.jmp_imm(JmpOp::Jne, R1, i32::from(b'!'), plain);
    b.emit(insn::mov64_imm(R2, 1));
    b.bind(plain);
    b.emit(insn::stx(8, Regs::STATE, INVERTED, R2));
    b.emit(insn::mov64_reg(R3, Regs::P));
    b.emit(insn::alu64_reg(AluOp::Add, R3, R2));
    byte_at(b, R1, R3, pat, pcap, true);
    b.emit(insn::stx(8, Regs::STATE, A, R1));
    b.emit(insn::stx(8, Regs::STATE, CLASS, R3));
    b.emit(insn::st_imm(8, Regs::STATE, MATCHED, 0));
    b.emit(insn::stx(8, Regs::STATE, C, Regs::C));
    b.emit(insn::st_imm(8, Regs::STATE, MODE, 1));
    b.goto(x.cont);
}

/// One span (`a` or `a-b`) of a character class.
fn class_step(b: &mut Builder, x: &Exits, pcap: usize, pat: i16) {
    let (malformed, single, outside, more) = (b.label(), b.label(), b.label(), b.label());
    b.emit(insn::ldx(8, Regs::C, Regs::STATE, C));
    b.emit(insn::ldx(8, R1, Regs::STATE, A));
    b.emit(insn::ldx(8, R3, Regs::STATE, CLASS));
    b.jmp_imm(JmpOp::Jeq, R1, 0, malformed);
    b.emit(insn::mov64_reg(R2, R1));
    // `a-b` when two more bytes fit and the second is no `]`.
    if pcap > 2 {
        b.jmp_imm(JmpOp::Jge, R3, (pcap - 2) as i32, single);
        b.emit(insn::mov64_reg(R5, Regs::STATE));
        b.emit(insn::alu64_reg(AluOp::Add, R5, R3));
        b.emit(insn::ldx(1, R0, R5, pat));
        b.jmp_imm(JmpOp::Jne, R0, i32::from(b'-'), single);
        b.emit(insn::ldx(1, R0, R5, pat + 1));
        b.jmp_imm(JmpOp::Jeq, R0, i32::from(b']'), single);
        b.jmp_imm(JmpOp::Jeq, R0, 0, malformed);
        b.emit(insn::mov64_reg(R2, R0));
        b.emit(insn::alu64_imm(AluOp::Add, R3, 2));
    }
    b.bind(single);
    b.jmp_reg(JmpOp::Jgt, R1, Regs::C, outside);
    b.jmp_reg(JmpOp::Jgt, Regs::C, R2, outside);
    b.emit(insn::st_imm(8, Regs::STATE, MATCHED, 1));
    b.bind(outside);
    byte_at(b, R1, R3, pat, pcap, true);
    b.emit(insn::stx(8, Regs::STATE, A, R1));
    b.emit(insn::stx(8, Regs::STATE, CLASS, R3));
    b.jmp_imm(JmpOp::Jne, R1, i32::from(b']'), more);
    // The class ended: on past it, or retry from the last `*`.
    b.emit(insn::st_imm(8, Regs::STATE, MODE, 0));
    b.emit(insn::ldx(8, R1, Regs::STATE, MATCHED));
    b.emit(insn::ldx(8, R2, Regs::STATE, INVERTED));
    b.jmp_reg(JmpOp::Jeq, R1, R2, x.backtrack);
    b.emit(insn::mov64_reg(Regs::P, R3));
    b.goto(x.cont);
    b.bind(more);
    b.emit(insn::mov64_imm(R0, 0));
    b.emit(insn::exit());
    // No `]`: the `[` was a literal byte.
    b.bind(malformed);
    b.emit(insn::st_imm(8, Regs::STATE, MODE, 0));
    b.emit(insn::mov64_imm(R4, i32::from(b'[')));
    b.goto(x.literal);
}

/// The literal comparison, the backtrack, and the three ways out.
fn endings(b: &mut Builder, x: &Exits) {
    b.bind(x.literal);
    b.jmp_reg(JmpOp::Jne, Regs::C, R4, x.backtrack);
    b.jmp_imm(JmpOp::Jeq, R4, 0, x.matched);
    b.goto(x.cont);

    b.bind(x.backtrack);
    b.jmp_imm(JmpOp::Jeq, Regs::C, 0, x.failed);
    b.emit(insn::ldx(8, R1, Regs::STATE, BACK_PAT));
    b.jmp_imm(JmpOp::Jslt, R1, 0, x.failed);
    b.emit(insn::mov64_reg(Regs::P, R1));
    b.emit(insn::ldx(8, Regs::S, Regs::STATE, BACK_STR));
    b.emit(insn::alu64_imm(AluOp::Add, Regs::S, 1));
    b.emit(insn::stx(8, Regs::STATE, BACK_STR, Regs::S));

    b.bind(x.cont);
    b.emit(insn::stx(8, Regs::STATE, S, Regs::S));
    b.emit(insn::stx(8, Regs::STATE, P, Regs::P));
    b.emit(insn::mov64_imm(R0, 0));
    b.emit(insn::exit());

    b.bind(x.matched);
    b.emit(insn::st_imm(8, Regs::STATE, RESULT, 1));
    b.bind(x.failed);
    b.emit(insn::mov64_imm(R0, 1));
    b.emit(insn::exit());
}
