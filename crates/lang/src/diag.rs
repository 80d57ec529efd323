//! Diagnostics: an error message tied to a [`Span`] of the script, rendered
//! rustc-style.
//!
//! ```text
//! script.bt:1:1: error: unknown attach point type `usd`
//!   |
//! 1 | usd:/bin/x:p:n { }
//!   | ^^^ did you mean `usdt`?
//! ```
//!
//! The first rendered line is always the one-line summary
//! `SOURCE:LINE:COL: error: MESSAGE` (1-based, the column counted in
//! characters), so callers can print it alone.

use std::fmt;

use crate::ast::Span;

/// An error at a place in a script.
///
/// Build one with [`Diagnostic::error`] and refine it with
/// [`Diagnostic::with_label`] and [`Diagnostic::with_note`]:
///
/// ```
/// use ustrace_lang::{ast::Span, Diagnostic};
/// let d = Diagnostic::error(Span::new(0, 3), "unknown attach point type `usd`")
///     .with_label("did you mean `usdt`?");
/// assert!(d.render("a.bt", "usd:x:y { }").starts_with("a.bt:1:1: error: unknown"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The one-line message (no trailing period, lowercase start).
    pub message: String,
    /// The source text at fault (byte offsets). An empty span points between
    /// two characters (e.g. "end of input").
    pub span: Span,
    /// A short text printed after the carets.
    pub label: Option<String>,
    /// Extra `= note:` lines printed after the snippet.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with a message at a span.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            label: None,
            notes: Vec::new(),
        }
    }

    /// The same, with a label after the carets.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// The same, with one more note.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The 1-based line and character column of the span's start in `source`.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span.start)
    }

    /// The one-line summary `SOURCE:LINE:COL: error: MESSAGE` (no newline),
    /// i.e. the first line of [`Diagnostic::render`].
    pub fn summary(&self, source_name: &str, source: &str) -> String {
        let (line, col) = line_col(source, self.span.start);
        format!("{source_name}:{line}:{col}: error: {}", self.message)
    }

    /// The full rustc-like text: the summary line, then the source line
    /// with carets under the span (clamped to its first line), then notes.
    /// Ends with a newline.
    pub fn render(&self, source_name: &str, source: &str) -> String {
        let start = floor_char_boundary(source, self.span.start);
        let end = floor_char_boundary(source, self.span.end.max(start));
        let (line_no, _) = line_col(source, start);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_text = source[line_start..line_end].trim_end_matches('\r');
        let text_end = line_start + line_text.len();

        let mut out = self.summary(source_name, source);
        out.push('\n');
        let num = line_no.to_string();
        let pad = " ".repeat(num.len());
        out.push_str(&format!("{pad} |\n"));
        out.push_str(&format!("{num} | {line_text}\n"));

        // Keep tabs in the caret prefix so the carets line up with the text.
        let prefix: String = source[line_start..start.min(text_end)]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let caret_end = end.min(text_end).max(start);
        let width = source[start.min(caret_end)..caret_end]
            .chars()
            .count()
            .max(1);
        out.push_str(&format!("{pad} | {prefix}{}", "^".repeat(width)));
        if let Some(label) = &self.label {
            out.push(' ');
            out.push_str(label);
        }
        out.push('\n');
        for note in &self.notes {
            out.push_str(&format!("{pad} = note: {note}\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// The 1-based line and character column of byte `offset` in `source`
/// (clamped to the source, rounded down to a character boundary).
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset);
    let before = &source[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The largest character boundary `<= offset` (clamped to `s.len()`).
fn floor_char_boundary(s: &str, offset: usize) -> usize {
    let mut i = offset.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The Levenshtein distance between two short strings (in chars).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate closest to `word`, if close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = match word.chars().count() {
        0 => return None,
        1..=3 => 1,
        4..=6 => 2,
        _ => 3,
    };
    candidates
        .iter()
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_summary_snippet_and_notes() {
        let src = "BEGIN { x }\nusd:/bin/x:p:n { }\n";
        let d = Diagnostic::error(Span::new(12, 15), "unknown attach point type `usd`")
            .with_label("did you mean `usdt`?")
            .with_note("known types: usdt, uprobe");
        assert_eq!(
            d.render("t.bt", src),
            "t.bt:2:1: error: unknown attach point type `usd`\n  |\n2 | usd:/bin/x:p:n { }\n  | ^^^ did you mean `usdt`?\n  = note: known types: usdt, uprobe\n"
        );
    }

    #[test]
    fn clamps_multiline_spans_and_counts_chars() {
        let src = "é = { a\nb }";
        let d = Diagnostic::error(Span::new(5, src.len()), "m");
        assert_eq!(
            d.render("s", src),
            "s:1:5: error: m\n  |\n1 | é = { a\n  |     ^^^\n"
        );
    }

    #[test]
    fn empty_and_out_of_range_spans() {
        let d = Diagnostic::error(Span::new(99, 120), "m");
        assert_eq!(
            d.render("s", "ab"),
            "s:1:3: error: m\n  |\n1 | ab\n  |   ^\n"
        );
        let d = Diagnostic::error(Span::new(0, 0), "m");
        assert_eq!(d.render("s", ""), "s:1:1: error: m\n  |\n1 | \n  | ^\n");
        // Inside a multi-byte char: rounded down.
        let d = Diagnostic::error(Span::new(1, 2), "m");
        assert!(d.render("s", "é").starts_with("s:1:1: error"));
    }

    #[test]
    fn tabs_keep_alignment() {
        let d = Diagnostic::error(Span::new(2, 3), "m");
        assert_eq!(
            d.render("s", "\t\tx"),
            "s:1:3: error: m\n  |\n1 | \t\tx\n  | \t\t^\n"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("usd", &["usdt", "uprobe"]), Some("usdt"));
        assert_eq!(suggest("uprob", &["usdt", "uprobe"]), Some("uprobe"));
        assert_eq!(suggest("kprobe", &["usdt", "profile"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
