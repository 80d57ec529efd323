//! The bpftrace language as ustrace reads it: lexer, parser, syntax tree with
//! spans, printf formats and diagnostics.
//!
//! # Flow
//!
//! ```text
//! source text ──lexer──▶ tokens ──parser──▶ ast::Script ──▶ (ustrace-codegen)
//!                  └──────────┴── Diagnostic (first error) ──▶ render()
//! ```
//!
//! * [`lexer`]: turns text into [`lexer::Token`]s with byte spans. Attach
//!   points (`usdt:/bin/x:prov:name`, `uprobe:"/lib/libstdc++.so":"ns::f"`)
//!   are lexed as single tokens at top level; bodies and predicates get C-like
//!   tokens. Skips `#!` shebang lines and `//`, `/* */` comments.
//! * [`parser`]: recursive descent with precedence climbing, producing an
//!   [`ast::Script`]. Attach points are decoded into [`ast::AttachKind`]s.
//!   Entry point: [`parse`].
//! * [`ast`]: the syntax tree; every node has an [`ast::Span`].
//! * [`diag`]: [`Diagnostic`], an error at a span, rendered rustc-style with
//!   [`Diagnostic::render`]: `file:line:col: error: message`, then the source
//!   line with carets. The code generator builds these too
//!   (`Diagnostic::error(span, msg)`).
//! * [`printf`]: printf format strings.
//!
//! # Example
//!
//! ```
//! let src = "usdt:/bin/srv:grp:idx /arg0 > 1/ { printf(\"%d\\n\", arg0); }";
//! let script = ustrace_lang::parse(src).unwrap();
//! assert_eq!(script.probes[0].attach_points[0].raw, "usdt:/bin/srv:grp:idx");
//!
//! let err = ustrace_lang::parse("usd:/bin/srv:grp:idx { }").unwrap_err();
//! assert_eq!(
//!     err.render("t.bt", "usd:/bin/srv:grp:idx { }"),
//!     "t.bt:1:1: error: unknown attach point type `usd`\n  |\n1 | usd:/bin/srv:grp:idx { }\n  | ^^^ did you mean `usdt`?\n"
//! );
//! ```

#![deny(missing_docs)]

pub mod ast;
pub mod diag;
pub mod lexer;
pub mod parser;
pub mod printf;

pub use diag::Diagnostic;
pub use parser::{parse, parse_expr, parse_labelled, parse_with, ParseOptions};
