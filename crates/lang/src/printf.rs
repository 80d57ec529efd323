//! printf format strings.
//!
//! [`parse_format`] splits a format string (escapes already decoded by the
//! lexer) into literal text and conversions:
//!
//! ```text
//! %[flags][width][.precision][length]conversion
//!   flags      any of - 0 + space #
//!   width      decimal digits (`*` is rejected)
//!   precision  `.` then decimal digits; `.` alone means 0 (`.*` is rejected)
//!   length     hh h l ll z j
//!   conversion d i u x X o c s p, or %% for a literal %
//! ```
//!
//! Adjacent literal text (including `%%`) is merged into one
//! [`Segment::Literal`].
//!
//! ```
//! use ustrace_lang::printf::{parse_format, ConversionKind, Segment};
//!
//! let f = parse_format("pid %-6d 100%%\n").unwrap();
//! assert_eq!(f.arg_count(), 1);
//! assert_eq!(f.segments[0], Segment::Literal("pid ".into()));
//! let Segment::Conversion(c) = &f.segments[1] else { panic!() };
//! assert_eq!((c.flags.as_str(), c.width, c.kind), ("-", Some(6), ConversionKind::SignedDecimal));
//! assert_eq!(f.segments[2], Segment::Literal(" 100%\n".into()));
//! ```

use std::fmt;

/// The largest width or precision a format may ask for.
pub const MAX_WIDTH: usize = 65_535;

/// A parsed printf format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatString {
    /// Literal text and conversions, in order. Two literals are never adjacent.
    pub segments: Vec<Segment>,
}

impl FormatString {
    /// How many arguments the format consumes (one per conversion).
    pub fn arg_count(&self) -> usize {
        self.conversions().count()
    }

    /// The conversions, in order.
    pub fn conversions(&self) -> impl Iterator<Item = &Conversion> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Conversion(c) => Some(c),
            Segment::Literal(_) => None,
        })
    }
}

/// One piece of a format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text printed as is (`%%` already turned into `%`).
    Literal(String),
    /// A conversion that consumes one argument.
    Conversion(Conversion),
}

/// One `%...` conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The flag characters as written, in order: any of `-`, `0`, `+`, ` `, `#`.
    pub flags: String,
    /// The minimum field width.
    pub width: Option<usize>,
    /// The precision (`.` alone gives `Some(0)`).
    pub precision: Option<usize>,
    /// The length modifier: `""`, `"hh"`, `"h"`, `"l"`, `"ll"`, `"z"` or `"j"`.
    pub length: String,
    /// The conversion character.
    pub kind: ConversionKind,
}

impl Conversion {
    /// Whether `flag` (one of `-0+ #`) was given.
    pub fn has_flag(&self, flag: char) -> bool {
        self.flags.contains(flag)
    }
}

impl fmt::Display for Conversion {
    /// Writes the conversion back in printf syntax, e.g. `%-10ld`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.flags)?;
        if let Some(w) = self.width {
            write!(f, "{w}")?;
        }
        if let Some(p) = self.precision {
            write!(f, ".{p}")?;
        }
        write!(f, "{}{}", self.length, self.kind.letter())
    }
}

/// The conversion characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConversionKind {
    /// `%d`, `%i`.
    SignedDecimal,
    /// `%u`.
    UnsignedDecimal,
    /// `%x` (`upper: false`), `%X` (`upper: true`).
    Hex {
        /// Upper-case digits.
        upper: bool,
    },
    /// `%o`.
    Octal,
    /// `%c`.
    Char,
    /// `%s`.
    Str,
    /// `%p`.
    Pointer,
    /// `%r`: a `buf()` value, printable bytes as-is and others as `\xNN`.
    Buffer,
}

impl ConversionKind {
    /// The canonical conversion character (`d` for both `%d` and `%i`).
    pub fn letter(self) -> char {
        match self {
            ConversionKind::SignedDecimal => 'd',
            ConversionKind::UnsignedDecimal => 'u',
            ConversionKind::Hex { upper: false } => 'x',
            ConversionKind::Hex { upper: true } => 'X',
            ConversionKind::Octal => 'o',
            ConversionKind::Char => 'c',
            ConversionKind::Str => 's',
            ConversionKind::Pointer => 'p',
            ConversionKind::Buffer => 'r',
        }
    }

    /// Whether the conversion takes an integer argument (everything but
    /// `%s` and `%r`).
    pub fn is_integer(self) -> bool {
        !matches!(self, ConversionKind::Str | ConversionKind::Buffer)
    }

    fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'd' | 'i' => ConversionKind::SignedDecimal,
            'u' => ConversionKind::UnsignedDecimal,
            'x' => ConversionKind::Hex { upper: false },
            'X' => ConversionKind::Hex { upper: true },
            'o' => ConversionKind::Octal,
            'c' => ConversionKind::Char,
            's' => ConversionKind::Str,
            'p' => ConversionKind::Pointer,
            'r' => ConversionKind::Buffer,
            _ => return None,
        })
    }
}

/// Why a format string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// An unknown conversion character (or length modifier).
    #[error("printf format: unknown conversion `{spec}` at byte {offset}")]
    UnknownConversion {
        /// The conversion as written, from `%` to the offending character.
        spec: String,
        /// Byte offset of its `%`.
        offset: usize,
    },
    /// The format ends with a lone `%`.
    #[error("printf format: `%` at end of format")]
    TrailingPercent {
        /// Byte offset of the `%`.
        offset: usize,
    },
    /// The format ends inside a conversion, e.g. `%-5`.
    #[error("printf format: unfinished conversion `{spec}` at end of format")]
    Unfinished {
        /// The conversion as written.
        spec: String,
        /// Byte offset of its `%`.
        offset: usize,
    },
    /// `%*d`.
    #[error("printf format: `*` width is not supported")]
    StarWidth {
        /// Byte offset of the `%`.
        offset: usize,
    },
    /// `%.*d`.
    #[error("printf format: `*` precision is not supported")]
    StarPrecision {
        /// Byte offset of the `%`.
        offset: usize,
    },
    /// A width or precision above [`MAX_WIDTH`].
    #[error("printf format: {what} in `{spec}` is too large (at most {max})", max = MAX_WIDTH)]
    TooLarge {
        /// `"width"` or `"precision"`.
        what: &'static str,
        /// The conversion as written so far.
        spec: String,
        /// Byte offset of its `%`.
        offset: usize,
    },
}

impl FormatError {
    /// Byte offset in the format of the `%` the error is about.
    pub fn offset(&self) -> usize {
        match self {
            FormatError::UnknownConversion { offset, .. }
            | FormatError::TrailingPercent { offset }
            | FormatError::Unfinished { offset, .. }
            | FormatError::StarWidth { offset }
            | FormatError::StarPrecision { offset }
            | FormatError::TooLarge { offset, .. } => *offset,
        }
    }
}

/// Parses a printf format string whose escapes the lexer has already decoded.
pub fn parse_format(text: &str) -> Result<FormatString, FormatError> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut pos = 0;
    while let Some(at) = rest.find('%') {
        literal.push_str(&rest[..at]);
        let start = pos + at;
        let after = &text[start + 1..];
        if after.starts_with('%') {
            literal.push('%');
            pos = start + 2;
            rest = &text[pos..];
            continue;
        }
        let (conv, used) = parse_conversion(text, start)?;
        if !literal.is_empty() {
            segments.push(Segment::Literal(std::mem::take(&mut literal)));
        }
        segments.push(Segment::Conversion(conv));
        pos = start + used;
        rest = &text[pos..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(FormatString { segments })
}

/// Parses the conversion whose `%` is at byte `start` of `text`; returns it
/// and how many bytes it spans.
fn parse_conversion(text: &str, start: usize) -> Result<(Conversion, usize), FormatError> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    let spec_so_far = |end: usize| text[start..end.min(text.len())].to_string();
    let at_end = |i: usize| -> FormatError {
        if i == start + 1 {
            FormatError::TrailingPercent { offset: start }
        } else {
            FormatError::Unfinished {
                spec: text[start..].to_string(),
                offset: start,
            }
        }
    };

    let flags_start = i;
    while i < bytes.len() && matches!(bytes[i], b'-' | b'0' | b'+' | b' ' | b'#') {
        i += 1;
    }
    let flags = text[flags_start..i].to_string();

    if bytes.get(i) == Some(&b'*') {
        return Err(FormatError::StarWidth { offset: start });
    }
    let (width, next) = digits(bytes, i);
    i = next;
    let width = match width {
        Some(Some(w)) if w <= MAX_WIDTH => Some(w),
        Some(_) => {
            return Err(FormatError::TooLarge {
                what: "width",
                spec: spec_so_far(i),
                offset: start,
            })
        }
        None => None,
    };

    let mut precision = None;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if bytes.get(i) == Some(&b'*') {
            return Err(FormatError::StarPrecision { offset: start });
        }
        let (p, next) = digits(bytes, i);
        i = next;
        precision = match p {
            None => Some(0),
            Some(Some(p)) if p <= MAX_WIDTH => Some(p),
            Some(_) => {
                return Err(FormatError::TooLarge {
                    what: "precision",
                    spec: spec_so_far(i),
                    offset: start,
                })
            }
        };
    }

    let length = match (bytes.get(i), bytes.get(i + 1)) {
        (Some(b'h'), Some(b'h')) => "hh",
        (Some(b'l'), Some(b'l')) => "ll",
        (Some(b'h'), _) => "h",
        (Some(b'l'), _) => "l",
        (Some(b'z'), _) => "z",
        (Some(b'j'), _) => "j",
        _ => "",
    };
    i += length.len();

    // Everything so far was ASCII, so `i` is a char boundary.
    let Some(c) = text[i..].chars().next() else {
        return Err(at_end(i));
    };
    let Some(kind) = ConversionKind::from_char(c) else {
        return Err(FormatError::UnknownConversion {
            spec: spec_so_far(i + c.len_utf8()),
            offset: start,
        });
    };
    i += c.len_utf8();
    let conv = Conversion {
        flags,
        width,
        precision,
        length: length.to_string(),
        kind,
    };
    Ok((conv, i - start))
}

/// Reads decimal digits at `i`: `None` when there are none, `Some(None)` when
/// the number overflows, else the number; and the index after the digits.
fn digits(bytes: &[u8], mut i: usize) -> (Option<Option<usize>>, usize) {
    let begin = i;
    let mut n: Option<usize> = Some(0);
    while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
        n = n
            .and_then(|n| n.checked_mul(10))
            .and_then(|n| n.checked_add(usize::from(d - b'0')));
        i += 1;
    }
    if i == begin {
        (None, i)
    } else {
        (Some(n), i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(
        flags: &str,
        width: Option<usize>,
        precision: Option<usize>,
        length: &str,
        kind: ConversionKind,
    ) -> Segment {
        Segment::Conversion(Conversion {
            flags: flags.into(),
            width,
            precision,
            length: length.into(),
            kind,
        })
    }

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.into())
    }

    fn segs(text: &str) -> Vec<Segment> {
        match parse_format(text) {
            Ok(f) => f.segments,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse_format(text) {
            Ok(f) => panic!("{text:?} parsed: {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    use ConversionKind::*;

    #[test]
    fn empty_and_plain() {
        assert_eq!(segs(""), vec![]);
        assert_eq!(segs("hello\n"), vec![lit("hello\n")]);
        assert_eq!(parse_format("hello").map(|f| f.arg_count()), Ok(0));
    }

    #[test]
    fn percent_percent_merges() {
        assert_eq!(segs("%%"), vec![lit("%")]);
        assert_eq!(segs("100%% done%%\n"), vec![lit("100% done%\n")]);
        assert_eq!(
            segs("%d%%%d"),
            vec![
                conv("", None, None, "", SignedDecimal),
                lit("%"),
                conv("", None, None, "", SignedDecimal)
            ]
        );
        assert_eq!(segs("%%%%d"), vec![lit("%%d")]);
    }

    #[test]
    fn every_kind() {
        let f = segs("%d%i%u%x%X%o%c%s%p");
        let kinds: Vec<_> = f
            .iter()
            .map(|s| match s {
                Segment::Conversion(c) => c.kind,
                Segment::Literal(l) => panic!("literal {l:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                SignedDecimal,
                SignedDecimal,
                UnsignedDecimal,
                Hex { upper: false },
                Hex { upper: true },
                Octal,
                Char,
                Str,
                Pointer
            ]
        );
    }

    #[test]
    fn flags_width_precision_length() {
        assert_eq!(segs("%-10s"), vec![conv("-", Some(10), None, "", Str)]);
        assert_eq!(
            segs("%05d"),
            vec![conv("0", Some(5), None, "", SignedDecimal)]
        );
        assert_eq!(
            segs("%+ #0-8.3llx"),
            vec![conv("+ #0-", Some(8), Some(3), "ll", Hex { upper: false })]
        );
        assert_eq!(segs("%.s"), vec![conv("", None, Some(0), "", Str)]);
        assert_eq!(
            segs("%.0d"),
            vec![conv("", None, Some(0), "", SignedDecimal)]
        );
        assert_eq!(
            segs("%lu"),
            vec![conv("", None, None, "l", UnsignedDecimal)]
        );
        assert_eq!(
            segs("%hhd%hd%zu%jd"),
            vec![
                conv("", None, None, "hh", SignedDecimal),
                conv("", None, None, "h", SignedDecimal),
                conv("", None, None, "z", UnsignedDecimal),
                conv("", None, None, "j", SignedDecimal),
            ]
        );
        assert_eq!(
            segs("%08lX"),
            vec![conv("0", Some(8), None, "l", Hex { upper: true })]
        );
    }

    #[test]
    fn mixed_text() {
        let f = parse_format("pid=%d comm=%s\n");
        assert_eq!(
            f.as_ref().map(|f| f.segments.clone()),
            Ok(vec![
                lit("pid="),
                conv("", None, None, "", SignedDecimal),
                lit(" comm="),
                conv("", None, None, "", Str),
                lit("\n"),
            ])
        );
        assert_eq!(f.map(|f| f.arg_count()), Ok(2));
    }

    #[test]
    fn unicode_text() {
        assert_eq!(
            segs("é%dü"),
            vec![lit("é"), conv("", None, None, "", SignedDecimal), lit("ü")]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("abcd %q"),
            "printf format: unknown conversion `%q` at byte 5"
        );
        assert_eq!(
            err("%-5lq"),
            "printf format: unknown conversion `%-5lq` at byte 0"
        );
        assert_eq!(
            err("%é"),
            "printf format: unknown conversion `%é` at byte 0"
        );
        assert_eq!(
            err("%lld%lh"),
            "printf format: unknown conversion `%lh` at byte 4"
        );
        assert_eq!(
            err("%Ld"),
            "printf format: unknown conversion `%L` at byte 0"
        );
        assert_eq!(err("abc%"), "printf format: `%` at end of format");
        assert_eq!(
            err("%-5"),
            "printf format: unfinished conversion `%-5` at end of format"
        );
        assert_eq!(
            err("%5.2l"),
            "printf format: unfinished conversion `%5.2l` at end of format"
        );
        assert_eq!(err("%*d"), "printf format: `*` width is not supported");
        assert_eq!(err("%.*d"), "printf format: `*` precision is not supported");
        assert_eq!(
            err("%65536d"),
            "printf format: width in `%65536` is too large (at most 65535)"
        );
        assert_eq!(
            err("%.99999999999999999999999d"),
            "printf format: precision in `%.99999999999999999999999` is too large (at most 65535)"
        );
        assert_eq!(parse_format("x %q").map_err(|e| e.offset()), Err(2));
    }

    #[test]
    fn display_round_trips() {
        for f in ["%d", "%-10s", "%05lu", "%+ #8.3llX", "%.0p", "%hhc", "%zo"] {
            let parsed = parse_format(f).map(|p| p.segments);
            let Ok([Segment::Conversion(c)]) = parsed.as_deref() else {
                panic!("{f}")
            };
            assert_eq!(c.to_string(), f);
        }
        assert_eq!(
            parse_format("%i").map(|p| p.segments),
            Ok(vec![conv("", None, None, "", SignedDecimal)])
        );
    }

    #[test]
    fn max_width_is_accepted() {
        assert_eq!(
            segs("%65535.65535d"),
            vec![conv("", Some(65535), Some(65535), "", SignedDecimal)]
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics(s in any::<String>()) {
                let _ = parse_format(&s);
            }

            #[test]
            fn never_panics_on_format_like_text(s in "([a-z%0-9.*#+ lhzjdiuxXocsp-]|é){0,40}") {
                if let Ok(f) = parse_format(&s) {
                    // No two literals are adjacent and none is empty.
                    for w in f.segments.windows(2) {
                        prop_assert!(!matches!(w, [Segment::Literal(_), Segment::Literal(_)]));
                    }
                    for seg in &f.segments {
                        if let Segment::Literal(l) = seg {
                            prop_assert!(!l.is_empty());
                        }
                    }
                }
            }

            #[test]
            fn plain_text_is_one_literal(s in "[^%]{1,40}") {
                prop_assert_eq!(parse_format(&s), Ok(FormatString { segments: vec![Segment::Literal(s.clone())] }));
            }
        }
    }
}
