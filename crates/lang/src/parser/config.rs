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
            let bad =
                |what: &str| Diagnostic::error(value_tok.span, format!("`{key}` takes {what}"));
            match (key.as_str(), value) {
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
                        "warn" | "ignore" => {
                            return Err(Diagnostic::error(
                                value_tok.span,
                                format!("`missing_probes = {w}` is not supported yet: an attach point that matches nothing stops ustrace"),
                            ))
                        }
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
                    if key == "cpp_demangle" && !on {
                        return Err(Diagnostic::error(
                            value_tok.span,
                            "`cpp_demangle = false` is not supported yet: C++ names are always demangled",
                        ));
                    }
                    if key == "print_maps_on_exit" {
                        config.print_maps_on_exit = Some(on);
                    } else {
                        config.cpp_demangle = Some(on);
                    }
                }
                ("max_strlen" | "max_map_keys", _) => return Err(bad("an integer")),
                _ => return Err(bad("a word")),
            }
            if !self.eat(&TokenKind::Semi)? && !self.at(&TokenKind::RBrace) {
                return Err(self.unexpected("`;` or `}` after a config value"));
            }
        }
        self.bump()?;
        Ok(config)
    }
}
