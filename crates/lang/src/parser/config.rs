//! The `config = { key = value; ... }` block at the top of a script.
//!
//! Its tokens come from the lexer's top-level mode: `config` and `=` as
//! attach-point words, then a body (`{ ... }`) of identifiers, integers
//! and strings. Keys and values are checked here, so a typo is an error
//! with a caret at parse time.

use super::Parser;
use crate::ast::{Config, MissingProbes, StackModeSetting};
use crate::diag::{suggest, Diagnostic};
use crate::lexer::TokenKind;

/// The keys `config` accepts (bpftrace's names).
pub const CONFIG_KEYS: &[&str] = &[
    "max_strlen",
    "max_map_keys",
    "missing_probes",
    "stack_mode",
    "print_maps_on_exit",
    "cpp_demangle",
    "unstable_map_decl",
    "unstable_tseries",
    "unstable_addr",
];

/// The most bytes `max_strlen` may ask `str()` to read.
pub const MAX_STRLEN: usize = 200;

/// A value as written.
enum Value {
    Int(u64),
    Word(String),
}

impl<'a> Parser<'a> {
    /// True at `config =` (or `config=`) opening a script.
    pub(super) fn at_config(&self) -> bool {
        matches!(&self.tok.kind, TokenKind::AttachPoint { raw, .. } if raw == "config" || raw == "config=")
    }

    /// `config = { key = value; ... }`.
    pub(super) fn config(&mut self) -> Result<Config, Diagnostic> {
        let head = self.bump()?;
        if matches!(&head.kind, TokenKind::AttachPoint { raw, .. } if raw == "config") {
            match &self.tok.kind {
                TokenKind::AttachPoint { raw, .. } if raw == "=" => {
                    self.bump()?;
                }
                _ => return Err(self.unexpected("`=` after `config`")),
            }
        }
        self.expect(&TokenKind::LBrace, "the config block")?;
        let mut config = Config::default();
        while !self.at(&TokenKind::RBrace) {
            let key_tok = self.bump()?;
            let TokenKind::Ident(key) = key_tok.kind else {
                return Err(Diagnostic::error(key_tok.span, "expected a config key")
                    .with_note(format!("known keys: {}", CONFIG_KEYS.join(", "))));
            };
            // `BPFTRACE_STACK_MODE`, `STACK_MODE` and `stack_mode` are one key.
            let key = key_name(&key);
            if !CONFIG_KEYS.contains(&key.as_str()) {
                let mut d = Diagnostic::error(key_tok.span, format!("unknown config key `{key}`"))
                    .with_note(format!("known keys: {}", CONFIG_KEYS.join(", ")));
                if let Some(s) = suggest(&key, CONFIG_KEYS) {
                    d = d.with_label(format!("did you mean `{s}`?"));
                }
                return Err(d);
            }
            self.expect(&TokenKind::Assign, "config key")?;
            let value_tok = self.bump()?;
            let value = match value_tok.kind {
                TokenKind::Int(n) => Value::Int(n),
                TokenKind::Ident(w) | TokenKind::Str(w) => Value::Word(w),
                _ => {
                    return Err(Diagnostic::error(
                        value_tok.span,
                        format!("expected a value for `{key}`"),
                    ))
                }
            };
            set(&mut config, &key, value).map_err(|msg| Diagnostic::error(value_tok.span, msg))?;
            if !self.eat(&TokenKind::Semi)? && !self.at(&TokenKind::RBrace) {
                return Err(self.unexpected("`;` or `}` after a config value"));
            }
        }
        self.bump()?;
        Ok(config)
    }
}

/// A config key as bpftrace accepts it in any of its spellings
/// (`BPFTRACE_STACK_MODE`, `STACK_MODE`, `stack_mode`): lowercase, without
/// the `bpftrace_` prefix.
fn key_name(written: &str) -> String {
    let lower = written.to_ascii_lowercase();
    match lower.strip_prefix("bpftrace_") {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

/// Sets `key` (a known key, lowercase) to `value` in `config`; Err: why
/// the value is refused, one line.
fn set(config: &mut Config, key: &str, value: Value) -> Result<(), String> {
    let bad = |what: &str| format!("`{key}` takes {what}");
    match (key, value) {
        ("max_strlen", Value::Int(n)) => {
            if !(1..=MAX_STRLEN as u64).contains(&n) {
                return Err(bad(&format!("an integer from 1 to {MAX_STRLEN}")));
            }
            config.max_strlen = Some(n as usize)
        }
        ("max_map_keys", Value::Int(n)) => {
            config.max_map_keys = Some(
                u32::try_from(n)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("an integer from 1 to 4294967295"))?,
            )
        }
        ("missing_probes", Value::Word(w)) => {
            config.missing_probes = Some(match w.as_str() {
                "error" => MissingProbes::Error,
                "warn" => MissingProbes::Warn,
                "ignore" => MissingProbes::Ignore,
                _ => return Err(bad("error, warn or ignore")),
            })
        }
        ("stack_mode", Value::Word(w)) => {
            config.stack_mode = Some(match w.as_str() {
                "bpftrace" => StackModeSetting::Bpftrace,
                "perf" => StackModeSetting::Perf,
                "raw" => StackModeSetting::Raw,
                "build_id" => StackModeSetting::BuildId,
                _ => return Err(bad("bpftrace, perf, raw or build_id")),
            })
        }
        ("print_maps_on_exit" | "cpp_demangle", v) => {
            let on = match v {
                Value::Int(0) => false,
                Value::Int(1) => true,
                Value::Word(w) if w == "true" => true,
                Value::Word(w) if w == "false" => false,
                _ => return Err(bad("true or false (or 1 or 0)")),
            };
            if key == "print_maps_on_exit" {
                config.print_maps_on_exit = Some(on);
            } else {
                config.cpp_demangle = Some(on);
            }
        }
        // bpftrace's feature gates: ustrace has no experimental features
        // to warn about, so `enable` and `warn` change nothing; it has no
        // switch to forbid one either.
        ("unstable_map_decl" | "unstable_tseries" | "unstable_addr", Value::Word(w)) => {
            match w.as_str() {
                "enable" | "warn" => {}
                "error" => {
                    return Err(format!(
                        "`{key} = error` is not supported: ustrace cannot forbid the feature (use `enable` or `warn`, which change nothing here)"
                    ))
                }
                _ => return Err(bad("enable, warn or error")),
            }
        }
        ("max_strlen" | "max_map_keys", _) => return Err(bad("an integer")),
        _ => return Err(bad("a word")),
    }
    Ok(())
}

/// The settings bpftrace's environment variables give (`BPFTRACE_MAX_STRLEN`,
/// `BPFTRACE_MISSING_PROBES`, ... one per config key; `BPFTRACE_STRLEN` is
/// the older name of `BPFTRACE_MAX_STRLEN`), from `vars` (name, value)
/// pairs such as `std::env::vars()`. Other variables are ignored. Err: the
/// variable and why its value is refused, one line.
///
/// ```
/// use ustrace_lang::parser::config_from_env;
/// let c = config_from_env([("BPFTRACE_MISSING_PROBES".to_string(), "warn".to_string())]).unwrap();
/// assert_eq!(c.missing_probes, Some(ustrace_lang::ast::MissingProbes::Warn));
/// ```
pub fn config_from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<Config, String> {
    let mut config = Config::default();
    for (name, text) in vars {
        let Some(rest) = name.strip_prefix("BPFTRACE_") else {
            continue;
        };
        let key = match key_name(rest).as_str() {
            "strlen" => "max_strlen".to_string(),
            k => k.to_string(),
        };
        if !CONFIG_KEYS.contains(&key.as_str()) {
            continue;
        }
        let trimmed = text.trim();
        let value = match trimmed.parse::<u64>() {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Word(trimmed.to_string()),
        };
        set(&mut config, &key, value).map_err(|why| format!("{name}={text:?}: {why}"))?;
    }
    Ok(config)
}
