//! Rendering `printf()` calls.
//!
//! bpftrace hands every conversion to the C library's `snprintf` with the
//! argument widened to 64 bits, so each conversion behaves like glibc's,
//! reading the argument as the length modifier says:
//!
//! | length            | `%d`                  | `%u %x %X %o`          |
//! |-------------------|-----------------------|------------------------|
//! | none              | low 32 bits, signed   | low 32 bits, unsigned  |
//! | `h`               | low 16 bits, signed   | low 16 bits, unsigned  |
//! | `hh`              | low 8 bits, signed    | low 8 bits, unsigned   |
//! | `l` `ll` `z` `j`  | all 64 bits, signed   | all 64 bits, unsigned  |
//!
//! So `printf("%d", 3000000000)` prints `-1294967296` and `%x` of `-1`
//! prints `ffffffff`, exactly as bpftrace 0.17 does; use `%ld`/`%lx` for
//! 64-bit values. `%c` prints the low byte, `%p` prints `0x` and lower-case
//! hex (`(nil)` for 0), `%s` prints a string up to its first NUL.
//!
//! Flags `-`, `0`, `+`, space and `#`, width and precision work as in C.
//! Like bpftrace, the output of each conversion stops at a NUL byte, so
//! `%c` of 0 prints nothing.
//!
//! Mismatched arguments (which bpftrace rejects before running): a string
//! given to an integer conversion, or an integer given to `%s`, is printed
//! in its natural text form ([`Value::to_text`]), padded to the width
//! (left-justified with `-`); the precision is ignored. A conversion with
//! no argument left prints nothing; extra arguments are ignored.

use ustrace_lang::printf::{Conversion, ConversionKind, FormatString, Segment, MAX_WIDTH};

use crate::{until_nul, Value};

/// Renders one `printf()` call. Bytes that are not UTF-8 (from `%c` or `%s`)
/// are replaced by U+FFFD; [`render_printf_bytes`] keeps them.
pub fn render_printf(format: &FormatString, args: &[Value]) -> String {
    match String::from_utf8(render_printf_bytes(format, args)) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Renders one `printf()` call as raw bytes, exactly what bpftrace writes.
pub fn render_printf_bytes(format: &FormatString, args: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut args = args.iter();
    for seg in &format.segments {
        match seg {
            Segment::Literal(text) => out.extend_from_slice(text.as_bytes()),
            Segment::Conversion(conv) => {
                if let Some(arg) = args.next() {
                    let piece = render_conversion(conv, arg);
                    out.extend_from_slice(until_nul(&piece));
                }
            }
        }
    }
    out
}

/// Renders `print(expr)` of a non-map value: its text form and a newline,
/// e.g. `5\n`, `-3\n`, `abc\n`.
pub fn render_value(value: &Value) -> String {
    let mut s = value.to_text();
    s.push('\n');
    s
}

/// Renders one conversion of one argument.
fn render_conversion(conv: &Conversion, arg: &Value) -> Vec<u8> {
    let width = conv.width.unwrap_or(0).min(MAX_WIDTH);
    let left = conv.has_flag('-');
    let bits = match (conv.kind, arg) {
        (ConversionKind::Str | ConversionKind::Buffer, Value::Str(bytes)) => {
            let s = until_nul(bytes);
            let s = match conv.precision {
                Some(p) if p < s.len() => &s[..p],
                _ => s,
            };
            return pad(s, width, left);
        }
        (ConversionKind::Str | ConversionKind::Buffer, _)
        | (_, Value::Str(_))
        | (_, Value::Tuple(_)) => return pad(arg.to_text().as_bytes(), width, left),
        (_, Value::Int(v)) => *v as u64,
        (_, Value::UInt(v)) => *v,
        (_, Value::Bool(b)) => u64::from(*b),
    };
    match conv.kind {
        // `%c` reads an int and prints it as an unsigned char.
        ConversionKind::Char => pad(&[bits as u8], width, left),
        ConversionKind::Pointer if bits == 0 => pad(b"(nil)", width, left),
        ConversionKind::Pointer => number(conv, Sign::NonNegative, bits, 16, false, true),
        ConversionKind::SignedDecimal => {
            let v = signed_by_length(bits, &conv.length);
            let sign = if v < 0 {
                Sign::Negative
            } else {
                Sign::NonNegative
            };
            number(conv, sign, v.unsigned_abs(), 10, false, false)
        }
        ConversionKind::UnsignedDecimal => number(
            conv,
            Sign::Unsigned,
            unsigned_by_length(bits, &conv.length),
            10,
            false,
            false,
        ),
        ConversionKind::Octal => number(
            conv,
            Sign::Unsigned,
            unsigned_by_length(bits, &conv.length),
            8,
            false,
            false,
        ),
        ConversionKind::Hex { upper } => number(
            conv,
            Sign::Unsigned,
            unsigned_by_length(bits, &conv.length),
            16,
            upper,
            false,
        ),
        // Handled above; kept for exhaustiveness.
        ConversionKind::Str | ConversionKind::Buffer => pad(arg.to_text().as_bytes(), width, left),
    }
}

/// The argument as the C library reads it for a signed conversion.
fn signed_by_length(bits: u64, length: &str) -> i64 {
    match length {
        "" => i64::from(bits as u32 as i32),
        "h" => i64::from(bits as u16 as i16),
        "hh" => i64::from(bits as u8 as i8),
        _ => bits as i64,
    }
}

/// The argument as the C library reads it for an unsigned conversion.
fn unsigned_by_length(bits: u64, length: &str) -> u64 {
    match length {
        "" => u64::from(bits as u32),
        "h" => u64::from(bits as u16),
        "hh" => u64::from(bits as u8),
        _ => bits,
    }
}

/// What may precede the digits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sign {
    /// An unsigned conversion: `+` and space flags are ignored.
    Unsigned,
    /// A signed (or pointer) conversion of a value >= 0.
    NonNegative,
    /// A signed conversion of a value < 0.
    Negative,
}

/// Formats an integer like glibc: precision is the minimum digit count (and
/// `%.0d` of 0 prints no digits), `#` adds `0x`/`0X` to non-zero hex and a
/// leading `0` to octal, `0` pads with zeros after the sign/prefix unless a
/// precision or `-` is given. `pointer` forces the `0x` prefix.
fn number(
    conv: &Conversion,
    sign: Sign,
    magnitude: u64,
    base: u32,
    upper: bool,
    pointer: bool,
) -> Vec<u8> {
    let precision = conv.precision.map(|p| p.min(MAX_WIDTH));
    let width = conv.width.unwrap_or(0).min(MAX_WIDTH);
    let alt = conv.has_flag('#');
    let left = conv.has_flag('-');

    let mut digits = Vec::new();
    if !(precision == Some(0) && magnitude == 0) {
        digits = to_base(magnitude, base, upper);
    }
    if let Some(p) = precision {
        if digits.len() < p {
            let mut padded = vec![b'0'; p - digits.len()];
            padded.extend_from_slice(&digits);
            digits = padded;
        }
    }
    if base == 8 && alt && digits.first() != Some(&b'0') {
        digits.insert(0, b'0');
    }

    let mut prefix: Vec<u8> = Vec::new();
    match sign {
        Sign::Negative => prefix.push(b'-'),
        Sign::NonNegative if conv.has_flag('+') => prefix.push(b'+'),
        Sign::NonNegative if conv.has_flag(' ') => prefix.push(b' '),
        _ => {}
    }
    if pointer || (base == 16 && alt && magnitude != 0) {
        prefix.extend_from_slice(if upper { b"0X" } else { b"0x" });
    }

    let len = prefix.len() + digits.len();
    let mut out = Vec::with_capacity(len.max(width));
    if width > len && !left && conv.has_flag('0') && precision.is_none() {
        out.extend_from_slice(&prefix);
        out.resize(out.len() + (width - len), b'0');
        out.extend_from_slice(&digits);
        return out;
    }
    out.extend_from_slice(&prefix);
    out.extend_from_slice(&digits);
    pad(&out, width, left)
}

/// The digits of `v` in `base` (2..=16).
fn to_base(mut v: u64, base: u32, upper: bool) -> Vec<u8> {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let base = u64::from(base.clamp(2, 16));
    let mut out = Vec::new();
    loop {
        out.push(table[(v % base) as usize]);
        v /= base;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    out
}

/// Pads `text` with spaces to `width` bytes, on the left or (with `left`) on
/// the right.
fn pad(text: &[u8], width: usize, left: bool) -> Vec<u8> {
    let fill = width.saturating_sub(text.len());
    let mut out = Vec::with_capacity(text.len() + fill);
    if left {
        out.extend_from_slice(text);
        out.resize(out.len() + fill, b' ');
    } else {
        out.resize(fill, b' ');
        out.extend_from_slice(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ustrace_lang::printf::parse_format;

    fn r(fmt: &str, args: &[Value]) -> String {
        match parse_format(fmt) {
            Ok(f) => render_printf(&f, args),
            Err(e) => panic!("{fmt:?}: {e}"),
        }
    }

    fn s(text: &str) -> Value {
        Value::Str(text.as_bytes().to_vec())
    }

    #[test]
    fn basics() {
        assert_eq!(r("%d\n", &[Value::Int(-5)]), "-5\n");
        assert_eq!(
            r("%u %x", &[Value::Int(-1), Value::Int(-1)]),
            "4294967295 ffffffff"
        );
        assert_eq!(
            r("%lu %lx", &[Value::Int(-1), Value::Int(-1)]),
            "18446744073709551615 ffffffffffffffff"
        );
        assert_eq!(
            r("%s|%-6s|%6s|%.2s", &[s("ab"), s("ab"), s("ab"), s("abc")]),
            "ab|ab    |    ab|ab"
        );
        assert_eq!(
            r(
                "%05d|%-5d|%+d|% d",
                &[
                    Value::Int(42),
                    Value::Int(42),
                    Value::Int(42),
                    Value::Int(42)
                ]
            ),
            "00042|42   |+42| 42"
        );
        assert_eq!(r("%c%c", &[Value::UInt(65), Value::UInt(256 + 66)]), "AB");
        assert_eq!(
            r("%p %p", &[Value::UInt(0), Value::UInt(4096)]),
            "(nil) 0x1000"
        );
        assert_eq!(r("100%%", &[]), "100%");
    }

    #[test]
    fn strings_stop_at_nul() {
        assert_eq!(r("[%s]", &[Value::Str(b"ab\0cd".to_vec())]), "[ab]");
        assert_eq!(r("[%5s]", &[Value::Str(b"ab\0cd".to_vec())]), "[   ab]");
    }

    #[test]
    fn nul_char_prints_nothing() {
        assert_eq!(r("a%cb", &[Value::Int(0)]), "ab");
        assert_eq!(r("a%3cb", &[Value::Int(0)]), "a  b");
        assert_eq!(r("a%-3cb", &[Value::Int(0)]), "ab");
    }

    #[test]
    fn missing_and_extra_args() {
        assert_eq!(r("a%db%sc\n", &[Value::Int(1)]), "a1bc\n");
        assert_eq!(r("a%db", &[]), "ab");
        assert_eq!(r("%d", &[Value::Int(1), Value::Int(2)]), "1");
    }

    #[test]
    fn mismatched_args_use_their_text() {
        assert_eq!(r("[%5d]", &[s("ab")]), "[   ab]");
        assert_eq!(r("[%-5x]", &[s("ab")]), "[ab   ]");
        assert_eq!(r("[%s]", &[Value::Int(-3)]), "[-3]");
        assert_eq!(
            r("[%4s]", &[Value::UInt(u64::MAX)]),
            "[18446744073709551615]"
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_or_kept() {
        let f = parse_format("%c%s").unwrap_or_else(|e| panic!("{e}"));
        let args = [Value::Int(0xff), Value::Str(vec![0xc3])];
        assert_eq!(render_printf(&f, &args), "\u{fffd}\u{fffd}");
        assert_eq!(render_printf_bytes(&f, &args), vec![0xff, 0xc3]);
        assert_eq!(r("%s", &[s("été")]), "été");
    }

    #[test]
    fn huge_width_is_clamped() {
        let f = FormatString {
            segments: vec![Segment::Conversion(Conversion {
                flags: "0".into(),
                width: Some(usize::MAX),
                precision: Some(usize::MAX),
                length: String::new(),
                kind: ConversionKind::SignedDecimal,
            })],
        };
        assert_eq!(render_printf(&f, &[Value::Int(1)]).len(), MAX_WIDTH);
    }

    #[test]
    fn values() {
        assert_eq!(render_value(&Value::Int(-3)), "-3\n");
        assert_eq!(
            render_value(&Value::UInt(u64::MAX)),
            "18446744073709551615\n"
        );
        assert_eq!(render_value(&s("abc")), "abc\n");
    }
}
