//! The C expressions of BCC's specifiers (`size > 16`, `$latency/$entry(size)`,
//! `(char*)$retval`, `STRCMP("x", arg1)`) as ustrace expressions. Names are
//! resolved by the caller (parameters, `argN`, `retval`, `$pid`, ...);
//! numbers, operators and parentheses carry over; C casts become ustrace
//! casts. What ustrace cannot express (struct fields, indexing,
//! assignment, calls) is an error with a caret.

use std::ops::Range;

use super::SpecError;

/// A name met in an expression, for the caller to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name<'a> {
    /// An identifier (`size`, `arg1`, `retval`).
    Plain(&'a str),
    /// A `$` word (`$retval`, `$latency`, `$pid`).
    Dollar(&'a str),
    /// `$entry(NAME)`.
    Entry(&'a str),
}

/// Resolves a name met in an expression (at a span of the specifier) to
/// ustrace source.
pub type Resolver<'r> = dyn FnMut(Name<'_>, Range<usize>) -> Result<String, SpecError> + 'r;

/// The C type of a cast or of argdist's type column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CType {
    /// An integer of this many bits, signed or not.
    Int {
        /// 8, 16, 32 or 64.
        bits: u8,
        /// Signed.
        signed: bool,
    },
    /// `char *`: a string.
    Str,
    /// Any other pointer: an address.
    Pointer,
}

impl CType {
    /// The ustrace cast (`(uint64)`), empty for pointers and strings.
    pub fn cast(self) -> String {
        match self {
            CType::Int { bits, signed } => {
                format!("({}int{bits})", if signed { "" } else { "u" })
            }
            CType::Str | CType::Pointer => String::new(),
        }
    }
}

/// The type a C type name means (`size_t`, `unsigned long`, `char *`,
/// `u32`), or `None` when it is not one ustrace can hold.
pub fn c_type(text: &str) -> Option<CType> {
    let stars = text.chars().filter(|&c| c == '*').count();
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '*')
        .filter(|w| !w.is_empty() && *w != "const" && *w != "volatile")
        .collect();
    if words.is_empty() || stars > 1 {
        return None;
    }
    if stars == 1 {
        return Some(match words.as_slice() {
            ["char"] | ["unsigned", "char"] | ["signed", "char"] => CType::Str,
            _ => CType::Pointer,
        });
    }
    let int = |bits, signed| Some(CType::Int { bits, signed });
    match words.as_slice() {
        ["char"] | ["signed", "char"] | ["s8"] | ["int8_t"] => int(8, true),
        ["unsigned", "char"] | ["u8"] | ["uint8_t"] | ["bool"] | ["_Bool"] => int(8, false),
        ["short"] | ["short", "int"] | ["signed", "short"] | ["s16"] | ["int16_t"] => int(16, true),
        ["unsigned", "short"] | ["unsigned", "short", "int"] | ["u16"] | ["uint16_t"] => {
            int(16, false)
        }
        ["int"] | ["signed"] | ["signed", "int"] | ["s32"] | ["int32_t"] | ["pid_t"] => {
            int(32, true)
        }
        ["unsigned"] | ["unsigned", "int"] | ["u32"] | ["uint32_t"] | ["uid_t"] | ["gid_t"] => {
            int(32, false)
        }
        ["long"]
        | ["long", "int"]
        | ["long", "long"]
        | ["long", "long", "int"]
        | ["signed", "long"]
        | ["s64"]
        | ["int64_t"]
        | ["ssize_t"]
        | ["off_t"]
        | ["loff_t"] => int(64, true),
        ["unsigned", "long"]
        | ["unsigned", "long", "int"]
        | ["unsigned", "long", "long"]
        | ["u64"]
        | ["uint64_t"]
        | ["size_t"]
        | ["uintptr_t"] => int(64, false),
        _ => None,
    }
}

/// The words that may start a cast: `(unsigned long)`, `(char *)`.
fn starts_type(word: &str) -> bool {
    c_type(word).is_some()
        || matches!(
            word,
            "unsigned"
                | "signed"
                | "const"
                | "volatile"
                | "void"
                | "long"
                | "short"
                | "struct"
                | "enum"
        )
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Number(&'a str),
    Ident(&'a str),
    Dollar(&'a str),
    Str(&'a str),
    Punct(&'a str),
}

/// Splits `text` (at `base` in `spec`) into tokens with their spans.
fn tokens<'a>(
    spec: &str,
    text: &'a str,
    base: usize,
) -> Result<Vec<(Tok<'a>, Range<usize>)>, SpecError> {
    const PUNCT: [&str; 30] = [
        "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "->", "++", "--", "+", "-", "*", "/", "%",
        "&", "|", "^", "~", "!", "<", ">", "?", ":", "(", ")", ",", "=", "[",
    ];
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let tok = if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            Tok::Number(&text[start..i])
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            // BCC's `arg1@user` reads user memory, which is all ustrace reads.
            let word = &text[start..i];
            if text[i..].starts_with("@user") {
                i += "@user".len();
            }
            match word.strip_prefix('$') {
                Some(d) if !d.is_empty() => Tok::Dollar(d),
                Some(_) => return Err(SpecError::new(spec, base + start..base + i, "a lone `$`")),
                None => Tok::Ident(word),
            }
        } else if c == b'"' {
            i += 1;
            let mut escaped = false;
            while i < bytes.len() && (escaped || bytes[i] != b'"') {
                escaped = !escaped && bytes[i] == b'\\';
                i += 1;
            }
            if i >= bytes.len() {
                return Err(SpecError::new(
                    spec,
                    base + start..base + text.len(),
                    "unterminated string",
                ));
            }
            i += 1;
            Tok::Str(&text[start..i])
        } else if let Some(p) = PUNCT.iter().find(|p| text[i..].starts_with(**p)) {
            i += p.len();
            Tok::Punct(p)
        } else {
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            return Err(SpecError::new(
                spec,
                base + i..base + i + len,
                "unexpected character",
            ));
        };
        out.push((tok, base + start..base + i));
    }
    Ok(out)
}

/// `text` (at `base` in `spec`) as a ustrace expression, each name given
/// to `resolve`.
pub fn translate(
    spec: &str,
    text: &str,
    base: usize,
    resolve: &mut Resolver<'_>,
) -> Result<String, SpecError> {
    let toks = tokens(spec, text, base)?;
    if toks.is_empty() {
        return Err(SpecError::new(
            spec,
            base..base + text.len(),
            "an empty expression",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    let mut depth: Vec<Range<usize>> = Vec::new();
    // Whether an operand must come next (at the start, after `(` and after
    // an operator): tokens pass through to ustrace, so their order is
    // checked here, where the caret can point into the specifier.
    let mut want_operand = true;
    let mut i = 0;
    while i < toks.len() {
        let (tok, span) = &toks[i];
        i += 1;
        let operand = !matches!(tok, Tok::Punct(_));
        if operand && !want_operand {
            return Err(SpecError::new(
                spec,
                span.clone(),
                "expected an operator before this",
            ));
        }
        if operand {
            want_operand = false;
        }
        match tok {
            Tok::Number(n) => out.push(number(spec, n, span.clone())?),
            Tok::Str(s) => out.push((*s).to_string()),
            Tok::Dollar("entry") => {
                let inner = match toks.get(i..i + 3) {
                    Some(
                        [(Tok::Punct("("), _), (Tok::Ident(name), _), (Tok::Punct(")"), close)],
                    ) => Some((*name, close.end)),
                    _ => None,
                };
                let Some((name, end)) = inner else {
                    return Err(SpecError::new(
                        spec,
                        span.clone(),
                        "expected $entry(PARAMETER)",
                    ));
                };
                i += 3;
                out.push(resolve(Name::Entry(name), span.start..end)?);
            }
            Tok::Dollar(d) => out.push(resolve(Name::Dollar(d), span.clone())?),
            Tok::Ident("STRCMP") => {
                let (text, next) = strcmp(spec, &toks, i, span.clone(), resolve)?;
                out.push(text);
                i = next;
            }
            Tok::Ident(name) => {
                if let Some((Tok::Punct("("), _)) = toks.get(i) {
                    return Err(SpecError::new(
                        spec,
                        span.clone(),
                        "function calls are not supported (only STRCMP(\"text\", expr))",
                    ));
                }
                out.push(resolve(Name::Plain(name), span.clone())?);
            }
            Tok::Punct("(") => {
                if !want_operand {
                    return Err(SpecError::new(
                        spec,
                        span.clone(),
                        "expected an operator before `(`",
                    ));
                }
                if let Some((cast, next)) = cast(spec, &toks, i, span.start)? {
                    if !cast.is_empty() {
                        out.push(cast);
                    }
                    i = next;
                } else {
                    depth.push(span.clone());
                    out.push("(".to_string());
                }
            }
            Tok::Punct(")") => {
                if depth.pop().is_none() {
                    return Err(SpecError::new(spec, span.clone(), "unmatched `)`"));
                }
                if want_operand {
                    return Err(SpecError::new(
                        spec,
                        span.clone(),
                        "expected an operand before `)`",
                    ));
                }
                want_operand = false;
                out.push(")".to_string());
            }
            Tok::Punct(p @ ("->" | "[")) => {
                return Err(SpecError::new(
                    spec,
                    span.clone(),
                    format!("`{p}`: struct fields and indexing are not supported"),
                ))
            }
            Tok::Punct(p @ ("=" | "++" | "--" | ",")) => {
                return Err(SpecError::new(
                    spec,
                    span.clone(),
                    format!("`{p}` is not allowed in an expression"),
                ))
            }
            Tok::Punct(p) => {
                // A prefix operator where an operand is due (`-x`, `!x`,
                // `*p`, `&x`); any other operator needs an operand before.
                let prefix = matches!(*p, "-" | "+" | "!" | "~" | "*" | "&");
                if want_operand && !prefix {
                    return Err(SpecError::new(
                        spec,
                        span.clone(),
                        format!("expected an operand before `{p}`"),
                    ));
                }
                want_operand = true;
                out.push((*p).to_string());
            }
        }
    }
    if let Some(open) = depth.pop() {
        return Err(SpecError::new(spec, open, "unmatched `(`"));
    }
    if want_operand {
        let last = toks.last().map_or(base..base + text.len(), |t| t.1.clone());
        return Err(SpecError::new(spec, last, "expected an operand after this"));
    }
    Ok(out.join(" "))
}

/// A C integer literal without its suffixes (`16UL` -> `16`).
fn number(spec: &str, n: &str, span: Range<usize>) -> Result<String, SpecError> {
    let digits = n.trim_end_matches(['u', 'U', 'l', 'L']);
    let parsed = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    };
    match parsed {
        Ok(_) => Ok(digits.to_string()),
        Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => Err(SpecError::new(
            spec,
            span,
            "integer too large (at most 64 bits)",
        )),
        Err(_) => Err(SpecError::new(spec, span, "expected an integer")),
    }
}

/// A cast at token `i` (just after its `(`): `(unsigned long)` becomes
/// `(uint64)`, pointer casts vanish. `None` when the parenthesis is not a
/// cast.
fn cast(
    spec: &str,
    toks: &[(Tok<'_>, Range<usize>)],
    i: usize,
    open: usize,
) -> Result<Option<(String, usize)>, SpecError> {
    let mut words = Vec::new();
    let mut j = i;
    loop {
        match toks.get(j) {
            Some((Tok::Ident(w), _)) if words.is_empty() && !starts_type(w) => return Ok(None),
            Some((Tok::Ident(w), _)) => words.push(*w),
            Some((Tok::Punct("*"), _)) if !words.is_empty() => words.push("*"),
            Some((Tok::Punct(")"), close)) if !words.is_empty() => {
                let text = words.join(" ");
                return match c_type(&text) {
                    Some(t) => Ok(Some((t.cast(), j + 1))),
                    None => Err(SpecError::new(
                        spec,
                        open..close.end,
                        format!("unknown type `{text}` in a cast"),
                    )),
                };
            }
            _ => return Ok(None),
        }
        j += 1;
    }
}

/// `STRCMP("text", expr)` at token `i` (after the name): true when the
/// string at `expr` equals the text.
fn strcmp(
    spec: &str,
    toks: &[(Tok<'_>, Range<usize>)],
    i: usize,
    name: Range<usize>,
    resolve: &mut Resolver<'_>,
) -> Result<(String, usize), SpecError> {
    let usage = || SpecError::new(spec, name.clone(), "expected STRCMP(\"text\", expr)");
    let (Some((Tok::Punct("("), _)), Some((Tok::Str(lit), _)), Some((Tok::Punct(","), comma))) =
        (toks.get(i), toks.get(i + 1), toks.get(i + 2))
    else {
        return Err(usage());
    };
    let mut depth = 1;
    let mut j = i + 3;
    while j < toks.len() {
        match toks[j].0 {
            Tok::Punct("(") => depth += 1,
            Tok::Punct(")") => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        j += 1;
    }
    let Some((_, close)) = toks.get(j) else {
        return Err(usage());
    };
    let inner = &spec[comma.end..close.start];
    let expr = translate(spec, inner, comma.end, resolve)?;
    Ok((format!("(str({expr}) == {lit})"), j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(name: Name<'_>, span: Range<usize>) -> Result<String, SpecError> {
        match name {
            Name::Plain("size") => Ok("arg0".into()),
            Name::Dollar("retval") => Ok("retval".into()),
            Name::Entry("size") => Ok("@_entry[tid]".into()),
            _ => Err(SpecError::new("", span, "unknown")),
        }
    }

    fn tr(text: &str) -> Result<String, SpecError> {
        translate(text, text, 0, &mut names)
    }

    #[test]
    fn expressions_carry_over() {
        assert_eq!(tr("size==16").unwrap(), "arg0 == 16");
        assert_eq!(tr("(size & 0xffUL) >> 2").unwrap(), "( arg0 & 0xff ) >> 2");
        assert_eq!(tr("(char*)$retval").unwrap(), "retval");
        assert_eq!(tr("(unsigned long)size").unwrap(), "(uint64) arg0");
        assert_eq!(tr("$retval/$entry(size)").unwrap(), "retval / @_entry[tid]");
        assert_eq!(
            tr(r#"STRCMP("a\"b", (char *)size)"#).unwrap(),
            r#"(str(arg0) == "a\"b")"#
        );
    }

    #[test]
    fn what_ustrace_cannot_express_is_pointed_at() {
        let e = tr("size->len > 1").unwrap_err();
        assert_eq!((e.span.clone(), e.message.contains("struct")), (4..6, true));
        assert_eq!(tr("(size > 1").unwrap_err().span, 0..1);
        assert_eq!(tr("size)").unwrap_err().span, 4..5);
        assert_eq!(tr("foo(1)").unwrap_err().span, 0..3);
        assert_eq!(tr("(struct x)size").unwrap_err().span, 0..10);
        assert_eq!(tr("(struct x *)size").unwrap(), "arg0");
        assert_eq!(tr("1.5").unwrap_err().span, 0..3);
        assert_eq!(tr("size = 1").unwrap_err().span, 5..6);
        assert_eq!(tr("  ").unwrap_err().span, 0..2);
    }

    #[test]
    fn operands_and_operators_alternate() {
        // A missing operand or operator is caught here, under the caret,
        // not in the generated script.
        let err = |text: &str| {
            let e = tr(text).unwrap_err();
            (e.span, e.message)
        };
        assert_eq!(err("size==").0, 4..6);
        assert!(err("size==").1.contains("operand after"));
        assert_eq!(err("(size ==)").0, 8..9);
        assert_eq!(err("== size").0, 0..2);
        assert_eq!(err("size 16").0, 5..7);
        assert_eq!(err("16 (size)").0, 3..4);
        assert_eq!(err("()").0, 1..2);
        assert_eq!(err("size ? 1 :").0, 9..10);
        assert_eq!(tr("-size + !$retval").unwrap(), "- arg0 + ! retval");
        assert_eq!(tr("size ? 1 : (2)").unwrap(), "arg0 ? 1 : ( 2 )");
        assert_eq!(
            err("99999999999999999999999"),
            (0..23, "integer too large (at most 64 bits)".to_string())
        );
        assert_eq!(tr("0xffffffffffffffff").unwrap(), "0xffffffffffffffff");
    }

    #[test]
    fn c_types() {
        let int = |bits, signed| Some(CType::Int { bits, signed });
        assert_eq!(c_type("size_t"), int(64, false));
        assert_eq!(c_type("unsigned  int"), int(32, false));
        assert_eq!(c_type("const char *"), Some(CType::Str));
        assert_eq!(c_type("char*"), Some(CType::Str));
        assert_eq!(c_type("struct timespec *"), Some(CType::Pointer));
        assert_eq!(c_type("float"), None);
        assert_eq!(c_type("char **"), None);
    }

    proptest! {
        #[test]
        fn never_panics(text in r#"[a-z0-9$()"*<>=!&|+\-,. @_\\é€]{0,24}"#) {
            if let Err(e) = tr(&text) {
                prop_assert!(e.span.end <= text.len());
                let _ = e.to_string();
            }
        }
    }
}
