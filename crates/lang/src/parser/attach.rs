//! Attach points: `usdt:PATH:PROVIDER:NAME`, `uprobe:PATH:FUNC`,
//! `interval:s:N`, `BEGIN`, ... from the lexer's fields to an
//! [`AttachKind`].

use super::{ATTACH_TYPES, UNSUPPORTED_TYPES};
use crate::ast::*;
use crate::diag::{suggest, Diagnostic};
use crate::lexer::{AttachField, Token, TokenKind};

/// An attach point token decoded, its `$N` replaced by the N-th of
/// `positional` first (bpftrace expands positional parameters in attach
/// points as text: `uprobe:$1:$2`).
pub(super) fn attach_point(tok: Token, positional: &[String]) -> Result<AttachPoint, Diagnostic> {
    let TokenKind::AttachPoint {
        mut raw,
        mut fields,
    } = tok.kind
    else {
        return Err(Diagnostic::error(tok.span, "expected an attach point"));
    };
    if raw.contains('$') {
        for f in &mut fields {
            f.text = substitute_positional(&f.text, positional)
                .map_err(|msg| Diagnostic::error(f.span, msg))?;
        }
        raw = substitute_positional(&raw, positional)
            .map_err(|msg| Diagnostic::error(tok.span, msg))?;
    }
    let kind = attach_kind(&raw, tok.span, &fields)?;
    Ok(AttachPoint {
        raw,
        kind,
        span: tok.span,
    })
}

/// `text` with each `$N` (N digits) replaced by the N-th positional
/// parameter; a `$` not followed by digits stays. Err: the message for a
/// parameter that was not given.
fn substitute_positional(text: &str, positional: &[String]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        if digits == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        let number = &after[..digits];
        let value = number
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| positional.get(i));
        match value {
            Some(v) => out.push_str(v),
            None => {
                let given = match positional.len() {
                    1 => "1 positional parameter was".to_string(),
                    n => format!("{n} positional parameters were"),
                };
                return Err(format!("attach point uses `${number}`, but {given} given"));
            }
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The name of a block label: a lone identifier that is not `BEGIN`/`END`.
pub(super) fn block_label(tok: &Token) -> Option<String> {
    let TokenKind::AttachPoint { fields, .. } = &tok.kind else {
        return None;
    };
    let [only] = fields.as_slice() else {
        return None;
    };
    let name = only.text.as_str();
    let mut chars = name.chars();
    let starts_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ident = starts_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    (ident && name != "BEGIN" && name != "END").then(|| name.to_string())
}

fn field_err(f: &AttachField, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(f.span, msg)
}

fn attach_kind(raw: &str, span: Span, fields: &[AttachField]) -> Result<AttachKind, Diagnostic> {
    let Some(ty) = fields.first() else {
        return Err(Diagnostic::error(span, "empty attach point"));
    };
    let args = &fields[1..];
    let usage = |form: &str| {
        Diagnostic::error(span, format!("invalid attach point `{raw}`"))
            .with_note(format!("expected `{form}`"))
    };
    match ty.text.as_str() {
        // Today's bpftrace spells them lowercase; 0.17's uppercase.
        "BEGIN" | "END" | "begin" | "end" if args.is_empty() => {
            Ok(if ty.text.eq_ignore_ascii_case("begin") {
                AttachKind::Begin
            } else {
                AttachKind::End
            })
        }
        "BEGIN" | "END" | "begin" | "end" => Err(Diagnostic::error(
            span,
            format!("`{}` takes no arguments", ty.text),
        )),
        "usdt" | "U" => {
            let (path, provider, name) = match args {
                [path, name] => (path, None, name),
                [path, prov, name] => (path, Some(prov), name),
                _ => return Err(usage("usdt:PATH:[PROVIDER:]NAME")),
            };
            if name.text.is_empty() {
                return Err(field_err(name, "missing usdt probe name")
                    .with_note("expected `usdt:PATH:[PROVIDER:]NAME`"));
            }
            // `usdt:PATH::NAME` and `usdt:::NAME`: an empty provider means
            // any provider, as in bpftrace.
            let provider = provider.filter(|p| !p.text.is_empty());
            Ok(AttachKind::Usdt {
                path: path.text.clone(),
                provider: provider.map(|p| p.text.clone()),
                name: name.text.clone(),
            })
        }
        "uprobe" | "u" | "uretprobe" | "ur" => {
            let is_return = matches!(ty.text.as_str(), "uretprobe" | "ur");
            let form = if is_return {
                "uretprobe:PATH:FUNCTION"
            } else {
                "uprobe:PATH:FUNCTION[+OFFSET]"
            };
            let [path, func_fields @ ..] = args else {
                return Err(usage(form));
            };
            if func_fields.is_empty() {
                return Err(usage(form));
            }
            if path.text.is_empty() {
                return Err(field_err(path, "missing path in uprobe attach point")
                    .with_note(format!("expected `{form}`")));
            }
            // `uprobe:PATH:cpp:FUNC`: the manual's language prefix (names
            // are matched demangled anyway); `cpp::f` stays a namespace.
            let func_fields = match func_fields {
                [lang, rest @ ..]
                    if lang.text == "cpp" && rest.first().is_some_and(|f| !f.text.is_empty()) =>
                {
                    rest
                }
                _ => func_fields,
            };
            // `ns::f` unquoted: fields after the path are rejoined.
            let func = func_fields
                .iter()
                .map(|f| f.text.as_str())
                .collect::<Vec<_>>()
                .join(":");
            let func_span = func_fields
                .iter()
                .map(|f| f.span)
                .reduce(Span::to)
                .unwrap_or(span);
            if func.is_empty() {
                return Err(Diagnostic::error(
                    func_span,
                    "missing function name in uprobe attach point",
                )
                .with_note(format!("expected `{form}`")));
            }
            let target = if let Some(hex) = func.strip_prefix("0x") {
                let addr = u64::from_str_radix(hex, 16).map_err(|_| {
                    Diagnostic::error(func_span, format!("invalid address `{func}`"))
                        .with_label("expected a hexadecimal address")
                })?;
                UprobeTarget::Address(addr)
            } else if let Some((name, off)) = func.rsplit_once('+') {
                let offset = parse_u64(off).ok_or_else(|| {
                    Diagnostic::error(func_span, format!("invalid offset `{off}` in `{func}`"))
                        .with_label("expected a decimal or 0x hexadecimal offset")
                })?;
                if name.is_empty() {
                    return Err(Diagnostic::error(
                        func_span,
                        "missing function name before `+`",
                    ));
                }
                UprobeTarget::Symbol {
                    name: name.to_string(),
                    offset,
                }
            } else {
                UprobeTarget::Symbol {
                    name: func,
                    offset: 0,
                }
            };
            if is_return {
                if let UprobeTarget::Symbol { offset: 1.., .. } | UprobeTarget::Address(_) = target
                {
                    return Err(Diagnostic::error(
                        func_span,
                        "uretprobe cannot take an offset or address",
                    )
                    .with_label("a uretprobe fires when a whole function returns")
                    .with_note("offsets and addresses only work with `uprobe`"));
                }
            }
            Ok(AttachKind::Uprobe {
                path: path.text.clone(),
                target,
                is_return,
            })
        }
        "interval" | "i" | "profile" | "p" => {
            let is_profile = matches!(ty.text.as_str(), "profile" | "p");
            let form = if is_profile {
                "profile:hz:N` or `profile:s|ms|us:N"
            } else {
                "interval:s|ms|us|hz:N"
            };
            if let [period] = args {
                if !period.text.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(usage(form));
                }
                // `interval:1s`, `interval:1000000000`: one field, a number
                // with an optional duration suffix (nanoseconds without).
                let ns = parse_duration(&period.text).ok_or_else(|| {
                    field_err(period, format!("invalid period `{}`", period.text)).with_note(
                        "expected a positive number of nanoseconds, or one with a unit: `1s`, `100ms`, `10us`, `1m`",
                    )
                })?;
                return Ok(if is_profile {
                    AttachKind::Profile {
                        rate: ProfileRate::PeriodNs(ns),
                    }
                } else {
                    AttachKind::Interval { period_ns: ns }
                });
            }
            let [unit, count] = args else {
                return Err(usage(form));
            };
            let n = parse_u64(&count.text).ok_or_else(|| {
                field_err(count, format!("invalid count `{}`", count.text))
                    .with_label("expected a positive integer")
            })?;
            if n == 0 {
                return Err(field_err(count, "the count must be positive"));
            }
            let scale: u64 = match unit.text.as_str() {
                "s" => 1_000_000_000,
                "ms" => 1_000_000,
                "us" => 1_000,
                "hz" => 0,
                other => {
                    return Err(field_err(unit, format!("unknown time unit `{other}`"))
                        .with_note("expected one of `s`, `ms`, `us`, `hz`"));
                }
            };
            if scale == 0 {
                if is_profile {
                    return Ok(AttachKind::Profile {
                        rate: ProfileRate::Hz(n),
                    });
                }
                return Ok(AttachKind::Interval {
                    period_ns: (1_000_000_000 / n).max(1),
                });
            }
            let ns = n.checked_mul(scale).ok_or_else(|| {
                field_err(count, format!("period of {n}{} is too long", unit.text))
            })?;
            Ok(if is_profile {
                AttachKind::Profile {
                    rate: ProfileRate::PeriodNs(ns),
                }
            } else {
                AttachKind::Interval { period_ns: ns }
            })
        }
        other => {
            if UNSUPPORTED_TYPES.contains(&other) {
                return Err(field_err(ty, format!("attach point type `{other}` is not supported"))
                    .with_note("ustrace traces user space: usdt, uprobe, uretprobe, interval, profile, BEGIN, END"));
            }
            let what = if args.is_empty() {
                "attach point"
            } else {
                "attach point type"
            };
            let mut d = field_err(ty, format!("unknown {what} `{other}`"));
            if let Some(s) = suggest(other, ATTACH_TYPES) {
                d = d.with_label(format!("did you mean `{s}`?"));
            } else {
                d = d.with_note(
                    "known types: usdt, uprobe, uretprobe, interval, profile, BEGIN, END",
                );
            }
            Err(d)
        }
    }
}

/// A period written `N` (nanoseconds) or `N` with a duration suffix
/// (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`), as nanoseconds; `None` when
/// it is not one, is 0 or overflows.
fn parse_duration(text: &str) -> Option<u64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let scale: u64 = match unit {
        "" | "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&ns| ns > 0)
}

/// A decimal or `0x` hexadecimal number.
fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}
