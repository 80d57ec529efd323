//! BCC's probe specifiers, as argdist (`-C 'p:c:malloc(size_t size):size_t:size'`)
//! and trace (`'r:c:malloc (retval) "ret=%d", retval'`) take them, turned
//! into ustrace scripts. The script is compiled and run as every other
//! tool's: the specifiers only decide its text. A bad specifier is an error
//! that shows it with a caret under the bad part.

pub mod argdist;
mod cexpr;
mod probe;
pub mod trace;

use std::fmt;
use std::ops::Range;

/// A specifier that cannot be translated: what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// What is wrong.
    pub message: String,
    /// The whole specifier.
    pub spec: String,
    /// The bad part (byte offsets into `spec`).
    pub span: Range<usize>,
}

impl SpecError {
    /// An error about `span` of `spec` (kept inside `spec` and on its
    /// character boundaries, so that showing it never panics).
    pub fn new(spec: &str, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let mut end = span.end.min(spec.len());
        while !spec.is_char_boundary(end) {
            end += 1;
        }
        let mut start = span.start.min(end);
        while !spec.is_char_boundary(start) {
            start -= 1;
        }
        SpecError {
            message: message.into(),
            spec: spec.to_string(),
            span: start..end,
        }
    }
}

impl fmt::Display for SpecError {
    /// The message, then the specifier and a caret line under the bad part.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let before = self.spec[..self.span.start].chars().count();
        let width = self.spec[self.span.clone()].chars().count().max(1);
        write!(
            f,
            "{}\n  {}\n  {}{}",
            self.message,
            self.spec,
            " ".repeat(before),
            "^".repeat(width)
        )
    }
}

impl std::error::Error for SpecError {}

/// The first line of a script written from specifiers: maps are printed
/// by the tool's own layout, strings are cut at `string_size`, and a probe
/// that cannot be attached is an error (as in BCC's tools), never skipped.
pub fn config_line(string_size: u64) -> String {
    format!(
        "config = {{ print_maps_on_exit = false; max_strlen = {string_size}; missing_probes = error }}\n"
    )
}

/// The pieces of `text` between top-level `sep` characters (outside
/// parentheses, brackets and string literals), each with its byte offset
/// in `text`.
pub fn split_top_level(text: &str, sep: char) -> Vec<(usize, &str)> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            c if c == sep && depth == 0 => {
                parts.push((start, &text[start..i]));
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push((start, &text[start..]));
    parts
}

/// The file BCC's library part names: a path as it is, `c` as `libc`,
/// `pthread` as `libpthread` (a name ustrace finds among the libraries);
/// a name with no such library but a program of that name in PATH
/// (`bash`) is that program, as BCC's `find_exe`.
pub fn library_file(lib: &str) -> String {
    if lib.contains('/') || lib.starts_with("lib") {
        return lib.to_string();
    }
    let library = format!("lib{lib}");
    if library_installed(&library) {
        return library;
    }
    super::options::in_path(lib).unwrap_or(library)
}

/// True when a `NAME.so*` file is in one of the usual library directories.
fn library_installed(name: &str) -> bool {
    const DIRS: [&str; 6] = [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ];
    let prefix = format!("{name}.so");
    DIRS.iter().any(|dir| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        })
    })
}

/// `text` as the inside of a ustrace string literal.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_put_a_caret_under_the_bad_part() {
        let e = SpecError::new("p:c:open (foo > 1)", 10..13, "unknown name `foo`");
        assert_eq!(
            e.to_string(),
            "unknown name `foo`\n  p:c:open (foo > 1)\n            ^^^"
        );
    }

    #[test]
    fn libraries_and_programs() {
        assert_eq!(library_file("c"), "libc");
        assert_eq!(library_file("/bin/app"), "/bin/app");
        assert_eq!(library_file("libfoo"), "libfoo");
        // No libsh: the shell in PATH, resolved.
        let sh = library_file("sh");
        assert!(sh.starts_with('/') && !sh.contains("libsh"), "{sh}");
        assert_eq!(library_file("no_such_thing_x"), "libno_such_thing_x");
    }

    #[test]
    fn splits_outside_parentheses_and_strings() {
        let parts = split_top_level(r#"p:c:f(a, b):x:"a:b",(c:d)"#, ':');
        let texts: Vec<&str> = parts.iter().map(|p| p.1).collect();
        assert_eq!(texts, ["p", "c", "f(a, b)", "x", r#""a:b",(c:d)"#]);
        assert_eq!(parts[2].0, 4);
    }
}
