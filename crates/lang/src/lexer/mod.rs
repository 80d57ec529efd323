//! The lexer: source text to [`Token`]s with byte spans.
//!
//! bpftrace lexes attach points specially, and so does this lexer. It tracks
//! where it is in the script:
//!
//! * at top level (outside any probe body), after whitespace and comments,
//!   `{` opens a body, `,` separates attach points, `/` starts a predicate,
//!   and anything else is an attach point: a maximal run of characters that
//!   are not whitespace, `,` or `{`, in which `"..."` quotes may protect any
//!   character (the quotes are dropped, the text is kept). It becomes one
//!   [`TokenKind::AttachPoint`] split into its `:`-separated fields;
//! * in a predicate and in a body, ordinary C-like tokens are produced; the
//!   brace depth is tracked so the closing `}` of a body returns to top level.
//!
//! A leading `#!` line is skipped, as are `//` and `/* */` comments.

use crate::ast::Span;
use crate::diag::Diagnostic;

mod token;

pub use token::{AttachField, Token, TokenKind};

/// What the suffix of an integer literal multiplies it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// No suffix, or C's `u`/`l`/`ul`/`ll`/`ull` (no size meaning).
    One,
    /// A duration suffix (`ns` .. `d`): nanoseconds per unit.
    Times(u64),
    /// Scientific notation `MeN`: times 10 to the N.
    PowerOfTen(u32),
}

/// The duration suffixes of integer literals (`100ms`) and their
/// nanoseconds, smallest first.
pub const DURATION_UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// `ns` nanoseconds as a literal with the largest suffix that divides it
/// (`1s`, `250us`, `7ns`), as a script would write it; 0 is `0`.
pub fn duration_literal(ns: u64) -> String {
    if ns == 0 {
        return "0".to_string();
    }
    let (unit, per) = DURATION_UNITS
        .iter()
        .rev()
        .find(|(_, per)| ns.is_multiple_of(*per))
        .copied()
        .unwrap_or(("ns", 1));
    format!("{}{unit}", ns / per)
}

/// Splits a literal's digits (underscores removed) into the number and
/// what its suffix means, as bpftrace reads them: `2e3` (scientific, base
/// 10 only), `1ms` and the other duration suffixes (to nanoseconds), C's
/// `123UL`. `None`: no suffix of these kinds.
fn literal_suffix(text: &str, radix: u32) -> Option<(&str, Scale)> {
    let split = text.find(|c: char| !c.is_digit(radix))?;
    let (body, suffix) = text.split_at(split);
    if body.is_empty() {
        return None;
    }
    if radix == 10 {
        if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
            if !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit()) {
                return Some((body, Scale::PowerOfTen(exp.parse().ok()?)));
            }
        }
        if let Some((_, f)) = DURATION_UNITS.iter().find(|(u, _)| *u == suffix) {
            return Some((body, Scale::Times(*f)));
        }
    }
    let c_suffix = ["u", "l", "ul", "lu", "ll", "ull", "llu"];
    c_suffix
        .contains(&suffix.to_ascii_lowercase().as_str())
        .then_some((body, Scale::One))
}

/// Where the lexer is in the script structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between probes or among attach points.
    TopLevel,
    /// After a predicate's opening `/`, before the body's `{`.
    Predicate,
    /// Inside a body, at this brace depth (>= 1).
    Body(usize),
    /// In a top-level declaration (`let @m = hash(10);`) until its `;`.
    Declaration,
}

/// The lexer. Cheap to clone (the parser clones it to look ahead).
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    mode: Mode,
}

/// Lexes a whole source into tokens, ending with [`TokenKind::Eof`].
pub fn tokenize(source: &str) -> Result<Vec<Token>, Diagnostic> {
    let mut lexer = Lexer::new(source);
    let mut out = Vec::new();
    loop {
        let t = lexer.next_token()?;
        let eof = t.kind == TokenKind::Eof;
        out.push(t);
        if eof {
            return Ok(out);
        }
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`, skipping a `#!` line.
    pub fn new(src: &'a str) -> Lexer<'a> {
        let pos = if src.starts_with("#!") {
            src.find('\n').unwrap_or(src.len())
        } else {
            0
        };
        Lexer {
            src,
            pos,
            mode: Mode::TopLevel,
        }
    }

    /// A lexer for a fragment of body code (no attach points), e.g. an
    /// expression on its own.
    pub fn new_in_body(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            mode: Mode::Body(1),
        }
    }

    /// Lexes what follows as code up to a body's `{` (a macro's header
    /// `name($a, b) {`), as after a predicate's `/`. Call it when the
    /// last token returned was the `macro` keyword.
    pub fn begin_header(&mut self) {
        self.mode = Mode::Predicate;
    }

    /// Lexes what follows as code up to a `;`, then returns to top level
    /// (a map declaration `let @m = hash(10);`). Call it when the last
    /// token returned was the `let` keyword at top level.
    pub fn begin_declaration(&mut self) {
        self.mode = Mode::Declaration;
    }

    /// The source being lexed.
    pub fn source(&self) -> &'a str {
        self.src
    }

    /// The byte offset of the next character to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn peek_byte(&self, ahead: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + ahead).copied()
    }

    fn err(&self, start: usize, end: usize, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(Span::new(start, end), msg)
    }

    /// The char at `pos` (for error spans on non-ASCII input).
    fn char_len_at(&self, pos: usize) -> usize {
        self.src
            .get(pos..)
            .and_then(|s| s.chars().next())
            .map_or(1, char::len_utf8)
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), Diagnostic> {
        loop {
            match (self.peek_byte(0), self.peek_byte(1)) {
                (Some(c), _) if c.is_ascii_whitespace() => self.pos += 1,
                (Some(b'/'), Some(b'/')) => {
                    self.pos = self.src[self.pos..]
                        .find('\n')
                        .map_or(self.src.len(), |i| self.pos + i);
                }
                (Some(b'/'), Some(b'*')) => {
                    let start = self.pos;
                    match self.src[self.pos + 2..].find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        None => {
                            return Err(self
                                .err(start, start + 2, "unterminated block comment")
                                .with_label("this comment is never closed with `*/`"));
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// The next token.
    pub fn next_token(&mut self) -> Result<Token, Diagnostic> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.peek_byte(0) else {
            // Point just after the last meaningful text.
            let at = self.src.trim_end().len();
            return Ok(Token {
                kind: TokenKind::Eof,
                span: Span::new(at, at),
            });
        };
        if self.mode == Mode::TopLevel {
            let kind = match c {
                b'{' => {
                    self.pos += 1;
                    self.mode = Mode::Body(1);
                    TokenKind::LBrace
                }
                b',' => {
                    self.pos += 1;
                    TokenKind::Comma
                }
                b'/' => {
                    self.pos += 1;
                    self.mode = Mode::Predicate;
                    TokenKind::Slash
                }
                b'}' => {
                    self.pos += 1;
                    TokenKind::RBrace
                }
                _ => return self.attach_point(),
            };
            return Ok(Token {
                kind,
                span: Span::new(start, self.pos),
            });
        }
        let kind = if is_ident_start(c) {
            TokenKind::Ident(self.ident().to_string())
        } else if c.is_ascii_digit() {
            self.number()?
        } else {
            match c {
                b'"' => self.string()?,
                b'$' => self.dollar()?,
                b'@' => {
                    self.pos += 1;
                    TokenKind::Map(self.ident().to_string())
                }
                _ => self.punct()?,
            }
        };
        match (&kind, self.mode) {
            (TokenKind::LBrace, Mode::Predicate) => self.mode = Mode::Body(1),
            (TokenKind::Semi, Mode::Declaration) => self.mode = Mode::TopLevel,
            (TokenKind::LBrace, Mode::Body(d)) => self.mode = Mode::Body(d.saturating_add(1)),
            (TokenKind::RBrace, Mode::Body(d)) => {
                self.mode = if d <= 1 {
                    Mode::TopLevel
                } else {
                    Mode::Body(d - 1)
                }
            }
            _ => {}
        }
        Ok(Token {
            kind,
            span: Span::new(start, self.pos),
        })
    }

    fn ident(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek_byte(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    fn attach_point(&mut self) -> Result<Token, Diagnostic> {
        let start = self.pos;
        let mut raw = String::new();
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut field_start = start;
        while let Some(c) = self.peek_byte(0) {
            if c.is_ascii_whitespace() || c == b',' || c == b'{' {
                break;
            }
            match c {
                b'"' => {
                    let qstart = self.pos;
                    self.pos += 1;
                    loop {
                        match self.peek_byte(0) {
                            None => {
                                return Err(self
                                    .err(qstart, qstart + 1, "unterminated string in attach point")
                                    .with_label("this quote is never closed"));
                            }
                            Some(b'"') => {
                                self.pos += 1;
                                break;
                            }
                            Some(b'\\') if matches!(self.peek_byte(1), Some(b'"' | b'\\')) => {
                                let ch = char::from(self.peek_byte(1).unwrap_or(b'\\'));
                                raw.push(ch);
                                field.push(ch);
                                self.pos += 2;
                            }
                            Some(_) => {
                                let len = self.char_len_at(self.pos);
                                let s = &self.src[self.pos..self.pos + len];
                                raw.push_str(s);
                                field.push_str(s);
                                self.pos += len;
                            }
                        }
                    }
                }
                b':' => {
                    fields.push(AttachField {
                        text: std::mem::take(&mut field),
                        span: Span::new(field_start, self.pos),
                    });
                    raw.push(':');
                    self.pos += 1;
                    field_start = self.pos;
                }
                _ => {
                    let len = self.char_len_at(self.pos);
                    let s = &self.src[self.pos..self.pos + len];
                    raw.push_str(s);
                    field.push_str(s);
                    self.pos += len;
                }
            }
        }
        fields.push(AttachField {
            text: field,
            span: Span::new(field_start, self.pos),
        });
        Ok(Token {
            kind: TokenKind::AttachPoint { raw, fields },
            span: Span::new(start, self.pos),
        })
    }

    fn number(&mut self) -> Result<TokenKind, Diagnostic> {
        let start = self.pos;
        while self.peek_byte(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        let invalid = |msg: String| Diagnostic::error(Span::new(start, self.pos), msg);
        let (digits, radix) =
            if let Some(rest) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                (rest, 16)
            } else if text.len() > 1 && text.starts_with('0') {
                (&text[1..], 8)
            } else {
                (text, 10)
            };
        let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
        if cleaned.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
            return Err(invalid(format!("invalid integer literal `{text}`")));
        }
        let (cleaned, scale) = match literal_suffix(&cleaned, radix) {
            Some((body, scale)) => (body.to_string(), scale),
            None => (cleaned, Scale::One),
        };
        if let Some(bad) = cleaned.chars().find(|c| !c.is_digit(radix)) {
            let what = match radix {
                16 => "a hexadecimal",
                8 => "an octal",
                _ => "a decimal",
            };
            let d = invalid(format!("invalid integer literal `{text}`"))
                .with_label(format!("`{bad}` is not {what} digit"));
            return Err(if radix == 8 && bad.is_ascii_digit() {
                d.with_note("a leading `0` makes an octal literal")
            } else {
                d
            });
        }
        let too_large = || {
            invalid(format!("integer literal `{text}` is too large"))
                .with_label("does not fit in 64 bits")
        };
        let value = u64::from_str_radix(&cleaned, radix).map_err(|_| too_large())?;
        let factor = match scale {
            Scale::One => 1,
            Scale::Times(f) => f,
            Scale::PowerOfTen(e) => 10u64.checked_pow(e).ok_or_else(too_large)?,
        };
        value
            .checked_mul(factor)
            .map(TokenKind::Int)
            .ok_or_else(too_large)
    }

    fn string(&mut self) -> Result<TokenKind, Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek_byte(0) else {
                return Err(self
                    .err(start, start + 1, "unterminated string")
                    .with_label("this string is never closed"));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(TokenKind::Str(out));
                }
                b'\n' => {
                    return Err(self
                        .err(start, start + 1, "unterminated string")
                        .with_label("this string is not closed before the end of the line"));
                }
                b'\\' => {
                    let esc_start = self.pos;
                    self.pos += 1;
                    let Some(e) = self.peek_byte(0) else {
                        return Err(self
                            .err(start, start + 1, "unterminated string")
                            .with_label("this string is never closed"));
                    };
                    let simple = match e {
                        b'n' => Some('\n'),
                        b't' => Some('\t'),
                        b'r' => Some('\r'),
                        b'\\' => Some('\\'),
                        b'"' => Some('"'),
                        b'\'' => Some('\''),
                        _ => None,
                    };
                    if let Some(ch) = simple {
                        self.pos += 1;
                        out.push(ch);
                        continue;
                    }
                    let value = if e == b'x' {
                        self.pos += 1;
                        let mut v: u32 = 0;
                        let mut n = 0;
                        while n < 2 {
                            match self.peek_byte(0).and_then(|b| char::from(b).to_digit(16)) {
                                Some(d) => {
                                    v = v * 16 + d;
                                    self.pos += 1;
                                    n += 1;
                                }
                                None => break,
                            }
                        }
                        if n == 0 {
                            return Err(self
                                .err(esc_start, self.pos, "invalid escape sequence `\\x`")
                                .with_label("`\\x` must be followed by hexadecimal digits"));
                        }
                        v
                    } else if (b'0'..=b'7').contains(&e) {
                        let mut v: u32 = 0;
                        let mut n = 0;
                        while n < 3 {
                            match self.peek_byte(0) {
                                Some(b @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(b - b'0');
                                    self.pos += 1;
                                    n += 1;
                                }
                                _ => break,
                            }
                        }
                        v
                    } else {
                        let len = self.char_len_at(self.pos);
                        let text = self.src.get(esc_start..self.pos + len).unwrap_or("\\");
                        return Err(self
                            .err(
                                esc_start,
                                self.pos + len,
                                format!("unknown escape sequence `{text}`"),
                            )
                            .with_note(
                                "known escapes: \\n \\t \\r \\\\ \\\" \\' \\xNN \\NNN (octal)",
                            ));
                    };
                    if value > 0x7f {
                        return Err(self
                            .err(
                                esc_start,
                                self.pos,
                                "byte escape above 0x7f is not supported",
                            )
                            .with_label("strings hold UTF-8 text; write the character itself"));
                    }
                    out.push(char::from_u32(value).unwrap_or('\0'));
                }
                _ => {
                    let len = self.char_len_at(self.pos);
                    out.push_str(&self.src[self.pos..self.pos + len]);
                    self.pos += len;
                }
            }
        }
    }

    fn dollar(&mut self) -> Result<TokenKind, Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        match self.peek_byte(0) {
            Some(b'#') => {
                self.pos += 1;
                Ok(TokenKind::PositionalCount)
            }
            Some(c) if c.is_ascii_digit() => {
                while self.peek_byte(0).is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
                let text = &self.src[start + 1..self.pos];
                match text.parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(TokenKind::Positional(n)),
                    _ => Err(self
                        .err(
                            start,
                            self.pos,
                            format!("invalid positional parameter `${text}`"),
                        )
                        .with_label("positional parameters are numbered from `$1`")),
                }
            }
            Some(c) if is_ident_start(c) => Ok(TokenKind::Var(self.ident().to_string())),
            _ => Err(self
                .err(start, start + 1, "expected a variable name after `$`")
                .with_label("e.g. `$x`, `$1` or `$#`")),
        }
    }

    fn punct(&mut self) -> Result<TokenKind, Diagnostic> {
        use TokenKind::*;
        const THREE: &[(&str, TokenKind)] = &[("<<=", ShlEq), (">>=", ShrEq)];
        const TWO: &[(&str, TokenKind)] = &[
            ("==", EqEq),
            ("!=", Ne),
            ("<=", Le),
            (">=", Ge),
            ("&&", AndAnd),
            ("||", OrOr),
            ("<<", Shl),
            (">>", Shr),
            ("+=", PlusEq),
            ("-=", MinusEq),
            ("*=", StarEq),
            ("/=", SlashEq),
            ("%=", PercentEq),
            ("&=", AmpEq),
            ("|=", PipeEq),
            ("^=", CaretEq),
            ("++", PlusPlus),
            ("--", MinusMinus),
            ("->", Arrow),
        ];
        let rest = &self.src[self.pos..];
        for (text, kind) in THREE.iter().chain(TWO) {
            if rest.starts_with(text) {
                self.pos += text.len();
                return Ok(kind.clone());
            }
        }
        let c = self.peek_byte(0).unwrap_or(0);
        let kind = match c {
            b'{' => LBrace,
            b'}' => RBrace,
            b'(' => LParen,
            b')' => RParen,
            b'[' => LBracket,
            b']' => RBracket,
            b',' => Comma,
            b';' => Semi,
            b':' => Colon,
            b'?' => Question,
            b'.' => Dot,
            b'+' => Plus,
            b'-' => Minus,
            b'*' => Star,
            b'/' => Slash,
            b'%' => Percent,
            b'&' => Amp,
            b'|' => Pipe,
            b'^' => Caret,
            b'!' => Bang,
            b'~' => Tilde,
            b'<' => Lt,
            b'>' => Gt,
            b'=' => Assign,
            _ => {
                let len = self.char_len_at(self.pos);
                let ch = self.src.get(self.pos..self.pos + len).unwrap_or("?");
                let d = self.err(
                    self.pos,
                    self.pos + len,
                    format!("unexpected character `{ch}`"),
                );
                return Err(if c == b'\'' {
                    d.with_note("strings are written with double quotes: \"...\"")
                } else {
                    d
                });
            }
        };
        self.pos += 1;
        Ok(kind)
    }
}

#[cfg(test)]
mod tests;
