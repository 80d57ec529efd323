//! Per-runtime sections of a tool script (ustat): the lines from
//! `// @runtime NAME` to `// @end` belong to runtime NAME and are kept only
//! when that runtime is traced, since an attach point on a runtime that is
//! not there would stop ustrace. Dropped lines become empty lines, so
//! error positions still match the file.

/// `source` without the sections of runtimes not in `present`.
pub fn keep(source: &str, present: &[&str]) -> String {
    let mut out = String::with_capacity(source.len());
    let mut dropping = false;
    for line in source.split_inclusive('\n') {
        let marker = line.trim();
        if let Some(name) = marker.strip_prefix("// @runtime ") {
            dropping = !present.contains(&name.trim());
        } else if marker == "// @end" {
            dropping = false;
        } else if dropping {
            if line.ends_with('\n') {
                out.push('\n');
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SCRIPT: &str = "BEGIN { }\n// @runtime python\nusdt:$1:python:a { }\n// @end\n// @runtime ruby\nusdt:$3:ruby:b { }\n// @end\nEND { }\n";

    #[test]
    fn absent_runtimes_are_blanked() {
        let kept = keep(SCRIPT, &["ruby"]);
        assert_eq!(
            kept,
            "BEGIN { }\n// @runtime python\n\n// @end\n// @runtime ruby\nusdt:$3:ruby:b { }\n// @end\nEND { }\n"
        );
        assert_eq!(kept.lines().count(), SCRIPT.lines().count());
        assert_eq!(keep(SCRIPT, &["python", "ruby"]), SCRIPT);
    }

    proptest! {
        #[test]
        fn line_count_is_kept(lines in proptest::collection::vec("(// @runtime [a-z]{1,3}|// @end|[a-z {}]{0,8})", 0..12)) {
            let text = lines.join("\n");
            let kept = keep(&text, &["ab"]);
            prop_assert_eq!(kept.split('\n').count(), text.split('\n').count());
        }
    }
}
