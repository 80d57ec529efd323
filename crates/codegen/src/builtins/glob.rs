//! `globmatch(str, pat)`: whether a whole string matches a glob pattern
//! (`?`, `*`, `[abc]`, `[a-z]`, `[!abc]`), as bpftrace's manual defines
//! it (no special meaning for `/`).
//!
//! A literal pattern is compiled into the probe: a set of positions in
//! the pattern (bit `i` = the first `i` elements matched) is advanced
//! byte by byte over the string, unrolled over its capacity, so the
//! verifier sees straight-line code of (capacity x elements) steps. A
//! pattern known only at run time is matched by `glob_loop`.

use ustrace_lang::ast::{ExprKind, Span};

use super::{Builtin, Call, Form};
use crate::emit::{ProgramCompiler, Val};
use crate::insn::{self, AluOp, JmpOp, Reg, R0, R1, R10, R2, R3, R4, R5};
use crate::sema::{Checker, Typed};
use crate::CompileError;

pub(super) const ENTRIES: &[Builtin] = &[Builtin {
    name: "globmatch",
    form: Form::Function,
    arity: (2, 2),
    usage: "globmatch() takes a string and a glob pattern: globmatch(comm, \"ba*\")",
    doc: "`true` when the whole string matches the glob pattern (`?`, `*`, `[abc]`, `[a-z]`, `[!abc]`; `/` is an ordinary character); the pattern may be a literal or any string, e.g. a probe argument's.",
    example: "if (globmatch(comm, \"python3*\")) { @py++; }",
    check: check_globmatch,
    emit: emit_globmatch,
}];

/// The most elements a pattern may have (one bit each, plus the final
/// position, in a 64-bit register).
const MAX_ELEMENTS: usize = 63;

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    /// This byte.
    Byte(u8),
    /// `?`: any one byte.
    Any,
    /// `*`: any run of bytes, the empty one included.
    Star,
    /// `[...]`: one byte in (or, negated, not in) these inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

/// The elements of `pattern`, or why it is no pattern.
fn parse(pattern: &[u8]) -> Result<Vec<Element>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        let c = pattern[i];
        i += 1;
        out.push(match c {
            b'?' => Element::Any,
            b'*' => Element::Star,
            // `\x` is `x` itself (as in the kernel's glob_match).
            b'\\' => match pattern.get(i) {
                Some(&next) => {
                    i += 1;
                    Element::Byte(next)
                }
                None => return Err("a `\\` with nothing after it".into()),
            },
            b'[' => {
                let negated = pattern.get(i) == Some(&b'!');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let Some(&lo) = pattern.get(i) else {
                        return Err("a `[` without its `]`".into());
                    };
                    // A `]` right after `[` or `[!` is a member.
                    if lo == b']' && !ranges.is_empty() {
                        i += 1;
                        break;
                    }
                    let is_range = pattern.get(i + 1) == Some(&b'-')
                        && pattern.get(i + 2).is_some_and(|&h| h != b']');
                    if is_range {
                        let hi = pattern[i + 2];
                        if hi < lo {
                            return Err(format!(
                                "the range `{}-{}` is empty",
                                lo as char, hi as char
                            ));
                        }
                        ranges.push((lo, hi));
                        i += 3;
                    } else {
                        ranges.push((lo, lo));
                        i += 1;
                    }
                }
                Element::Class { negated, ranges }
            }
            c => Element::Byte(c),
        });
    }
    if out.len() > MAX_ELEMENTS {
        return Err(format!(
            "{} elements, more than the {MAX_ELEMENTS} ustrace compiles",
            out.len()
        ));
    }
    Ok(out)
}

/// The pattern literal's elements (`None` when the pattern is no
/// literal), or an error at its text.
fn pattern(call: &Call) -> Result<Option<Vec<Element>>, CompileError> {
    let arg = &call.args[1];
    let ExprKind::String(text) = &arg.kind else {
        return Ok(None);
    };
    parse(text.as_bytes())
        .map(Some)
        .map_err(|why| CompileError::new(arg.span, format!("globmatch(): bad pattern: {why}")))
}

fn check_globmatch(c: &mut Checker, call: &Call) -> Result<Typed, CompileError> {
    super::strings::string_operand(c, &call.args[0])?;
    if pattern(call)?.is_none() {
        super::strings::string_operand(c, &call.args[1])?;
    }
    Ok(Typed::bool())
}

/// `set` with every `*` position's successor added (a star matches the
/// empty run), stars taken in order so runs of them chain.
fn closure(elements: &[Element], mut set: u64) -> u64 {
    for (i, e) in elements.iter().enumerate() {
        if *e == Element::Star && set & (1 << i) != 0 {
            set |= 1 << (i + 1);
        }
    }
    set
}

/// `reg |= 1 << bit`.
fn set_bit(pc: &mut ProgramCompiler, reg: Reg, bit: usize) {
    if bit < 31 {
        pc.b.emit(insn::alu64_imm(AluOp::Or, reg, 1 << bit));
    } else {
        pc.b.emit(insn::mov64_imm(R5, 1));
        pc.b.emit(insn::alu64_imm(AluOp::Lsh, R5, bit as i32));
        pc.b.emit(insn::alu64_reg(AluOp::Or, reg, R5));
    }
}

/// Jumps to `to` when bit `bit` of `reg` is clear (clobbers r4).
fn unless_bit(pc: &mut ProgramCompiler, reg: Reg, bit: usize, to: crate::builder::Label) {
    pc.b.emit(insn::mov64_reg(R4, reg));
    pc.b.emit(insn::alu64_imm(AluOp::Rsh, R4, bit as i32));
    pc.b.emit(insn::alu64_imm(AluOp::And, R4, 1));
    pc.b.jmp_imm(JmpOp::Jeq, R4, 0, to);
}

/// Jumps to `to` unless the byte in r1 is one `e` (a byte, `?` or a
/// class) accepts.
fn unless_accepts(pc: &mut ProgramCompiler, e: &Element, to: crate::builder::Label) {
    match e {
        Element::Byte(c) => pc.b.jmp_imm(JmpOp::Jne, R1, i32::from(*c), to),
        Element::Any | Element::Star => {}
        Element::Class { negated, ranges } => {
            let member = pc.b.label();
            for &(lo, hi) in ranges {
                let next = pc.b.label();
                pc.b.jmp_imm(JmpOp::Jlt, R1, i32::from(lo), next);
                pc.b.jmp_imm(JmpOp::Jle, R1, i32::from(hi), member);
                pc.b.bind(next);
            }
            if *negated {
                let accepted = pc.b.label();
                pc.b.goto(accepted);
                pc.b.bind(member);
                pc.b.goto(to);
                pc.b.bind(accepted);
            } else {
                pc.b.goto(to);
                pc.b.bind(member);
            }
        }
    }
}

/// `globmatch(s, "pat")`: r2 holds the set of matched prefixes of the
/// pattern; each byte of `s` (up to its NUL) makes the next set in r3.
fn emit_globmatch(pc: &mut ProgramCompiler, call: &Call) -> Result<Val, CompileError> {
    let Some(elements) = pattern(call)? else {
        return super::glob_loop::emit(pc, call);
    };
    let (s, cap) = super::strings::string_in_stack(pc, &call.args[0])?;
    let end = pc.b.label();
    pc.b.mov_imm(R2, closure(&elements, 1) as i64);
    for at in 0..cap {
        step(pc, &elements, s + at as i16, end);
    }
    pc.b.bind(end);
    pc.b.emit(insn::mov64_reg(R0, R2));
    pc.b.emit(insn::alu64_imm(AluOp::Rsh, R0, elements.len() as i32));
    pc.b.emit(insn::alu64_imm(AluOp::And, R0, 1));
    spill_bool(pc, call.span)
}

/// One byte of the string at `byte` (on the stack): to `end` at its NUL
/// or once no prefix matches any more.
fn step(pc: &mut ProgramCompiler, elements: &[Element], byte: i16, end: crate::builder::Label) {
    pc.b.emit(insn::ldx(1, R1, R10, byte));
    pc.b.jmp_imm(JmpOp::Jeq, R1, 0, end);
    pc.b.emit(insn::mov64_imm(R3, 0));
    for (i, e) in elements.iter().enumerate() {
        let skip = pc.b.label();
        unless_bit(pc, R2, i, skip);
        if *e == Element::Star {
            set_bit(pc, R3, i);
        } else {
            unless_accepts(pc, e, skip);
            set_bit(pc, R3, i + 1);
        }
        pc.b.bind(skip);
    }
    for (i, e) in elements.iter().enumerate() {
        if *e == Element::Star {
            let skip = pc.b.label();
            unless_bit(pc, R3, i, skip);
            set_bit(pc, R3, i + 1);
            pc.b.bind(skip);
        }
    }
    pc.b.emit(insn::mov64_reg(R2, R3));
    pc.b.jmp_imm(JmpOp::Jeq, R2, 0, end);
}

/// The bool in r0 as a value.
fn spill_bool(pc: &mut ProgramCompiler, span: Span) -> Result<Val, CompileError> {
    pc.spill(false, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matcher the BPF code runs, on the host: the same sets.
    fn matches(pattern: &str, s: &str) -> bool {
        let e = parse(pattern.as_bytes()).expect("pattern");
        let mut set = closure(&e, 1);
        for &c in s.as_bytes() {
            let mut next = 0u64;
            for (i, el) in e.iter().enumerate() {
                if set & (1 << i) == 0 {
                    continue;
                }
                let ok = match el {
                    Element::Star => {
                        next |= 1 << i;
                        false
                    }
                    Element::Any => true,
                    Element::Byte(b) => *b == c,
                    Element::Class { negated, ranges } => {
                        ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)) != *negated
                    }
                };
                if ok {
                    next |= 1 << (i + 1);
                }
            }
            set = closure(&e, next);
        }
        set & (1 << e.len()) != 0
    }

    #[test]
    fn whole_strings_match_as_the_manual_says() {
        for (p, s, want) in [
            ("ba*", "bash", true),
            ("ba*", "xbash", false),
            ("*sh", "bash", true),
            ("b?sh", "bash", true),
            ("b?sh", "bsh", false),
            ("[a-c]ash", "bash", true),
            ("[!a-c]ash", "bash", false),
            ("[!a-c]ash", "dash", true),
            ("/usr/*", "/usr/lib/x", true),
            ("a**b", "ab", true),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("[]]", "]", true),
            ("[!]]x", "ax", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
        ] {
            assert_eq!(matches(p, s), want, "{p} ~ {s}");
        }
    }

    /// An independent matcher: backtracking over the elements.
    fn reference(e: &[Element], s: &[u8]) -> bool {
        match e.first() {
            None => s.is_empty(),
            Some(Element::Star) => (0..=s.len()).any(|i| reference(&e[1..], &s[i..])),
            Some(el) => {
                let Some((&c, rest)) = s.split_first() else {
                    return false;
                };
                let ok = match el {
                    Element::Byte(b) => *b == c,
                    Element::Class { negated, ranges } => {
                        ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)) != *negated
                    }
                    _ => true,
                };
                ok && reference(&e[1..], rest)
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_say_why(p in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = parse(&p);
        }

        #[test]
        fn the_position_sets_agree_with_backtracking(
            p in "[ab?*\\[\\]!-]{0,12}",
            s in "[ab\\]-]{0,12}",
        ) {
            if let Ok(e) = parse(p.as_bytes()) {
                proptest::prop_assert_eq!(matches(&p, &s), reference(&e, s.as_bytes()), "{} ~ {}", p, s);
            }
        }
    }

    #[test]
    fn bad_patterns_say_why() {
        assert_eq!(parse(b"[ab").unwrap_err(), "a `[` without its `]`");
        assert_eq!(parse(b"[z-a]").unwrap_err(), "the range `z-a` is empty");
        assert_eq!(parse(b"a\\").unwrap_err(), "a `\\` with nothing after it");
        assert!(parse(&[b'a'; 64]).unwrap_err().starts_with("64 elements"));
    }
}
