//! Positional parameters in attach points (`uprobe:$1:$2`), replaced by
//! their text before the script is compiled, as bpftrace does. The
//! language reads `$N` only in expressions; attach points are plain text,
//! so this is done on the source, outside blocks, strings and comments.

use anyhow::{bail, Result};

/// `source` with every `$N` inside an attach point replaced by the N-th
/// positional parameter. An attach point is a whitespace-separated word
/// outside `{ }` that contains a `:` and does not start with `/` (a
/// predicate). Fails when an attach point names a parameter that was not
/// given.
pub fn attach_positionals(source: &str, positional: &[String]) -> Result<String> {
    let mut out = String::with_capacity(source.len());
    let mut depth = 0usize;
    let mut rest = source;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else if rest.starts_with("/*") {
            let end = rest[2..].find("*/").map_or(rest.len(), |i| i + 4);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else if c == '"' {
            let end = string_end(rest);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else if c == '{' || c == '}' {
            depth = if c == '{' {
                depth + 1
            } else {
                depth.saturating_sub(1)
            };
            out.push(c);
            rest = &rest[1..];
        } else if depth == 0 && !c.is_whitespace() {
            let end = rest
                .find(|ch: char| ch.is_whitespace() || ch == '{' || ch == '}')
                .unwrap_or(rest.len());
            let word = &rest[..end];
            if word.contains(':') && !word.starts_with('/') && word.contains('$') {
                out.push_str(&substitute(word, positional)?);
            } else {
                out.push_str(word);
            }
            rest = &rest[end..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(out)
}

/// The byte length of the string literal at the start of `s` (with its
/// quotes; the rest of `s` when it is not closed).
fn string_end(s: &str) -> usize {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return i + 1,
            _ => {}
        }
    }
    s.len()
}

/// One attach point with its `$N` replaced.
fn substitute(word: &str, positional: &[String]) -> Result<String> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len() - at - 1, |i| i);
        if digits == 0 {
            out.push('$');
            rest = &rest[at + 1..];
            continue;
        }
        let number = &rest[at + 1..at + 1 + digits];
        let index: usize = number.parse().unwrap_or(usize::MAX);
        match index.checked_sub(1).and_then(|i| positional.get(i)) {
            Some(value) => out.push_str(value),
            None => bail!(
                "attach point `{word}` uses ${number}, but {} positional parameter(s) were given",
                positional.len()
            ),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn replaces_in_attach_points_only() {
        let src =
            "uprobe:$1:$2, uretprobe:$1:$2 /$3 > 0/ { @x[\"$1:$2\"] = $1; }\ninterval:s:$3 { }";
        let out = attach_positionals(src, &params(&["/bin/ls", "main", "5"])).unwrap();
        assert_eq!(
            out,
            "uprobe:/bin/ls:main, uretprobe:/bin/ls:main /$3 > 0/ { @x[\"$1:$2\"] = $1; }\ninterval:s:5 { }"
        );
    }

    #[test]
    fn leaves_comments_and_nested_blocks() {
        let src = "// uprobe:$1:x\nBEGIN { if (1) { $a = 1; } }\nuprobe:$1:f {}";
        let out = attach_positionals(src, &params(&["libc"])).unwrap();
        assert_eq!(
            out,
            "// uprobe:$1:x\nBEGIN { if (1) { $a = 1; } }\nuprobe:libc:f {}"
        );
    }

    #[test]
    fn missing_parameter_is_an_error() {
        let err = attach_positionals("uprobe:$1:$2 {}", &params(&["libc"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "attach point `uprobe:$1:$2` uses $2, but 1 positional parameter(s) were given"
        );
    }

    proptest! {
        #[test]
        fn never_panics(src in "\\PC{0,200}", p in proptest::collection::vec("[a-z$:]{0,5}", 0..3)) {
            let _ = attach_positionals(&src, &p);
        }

        #[test]
        fn scripts_without_dollar_are_unchanged(src in "[^$]{0,200}") {
            prop_assert_eq!(attach_positionals(&src, &[]).unwrap(), src);
        }
    }
}
