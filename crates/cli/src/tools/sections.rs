//! Optional sections of a tool script: the lines from `// @section NAME`
//! to `// @end` are kept only when NAME is asked for. ustat has one per
//! runtime (an attach point on a runtime that is not there would stop
//! ustrace); ucalls_ruby.bt attaches its return probes only for latencies
//! (Ruby's cmethod__return probe path crashes Ruby 3.1, docs/tools.md).
//! Dropped lines become empty lines, so error positions still match the
//! file.

/// `source` without the sections whose names are not in `present`.
pub fn keep(source: &str, present: &[&str]) -> String {
    let mut out = String::with_capacity(source.len());
    let mut dropping = false;
    for line in source.split_inclusive('\n') {
        let marker = line.trim();
        if let Some(name) = marker.strip_prefix("// @section ") {
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

    const SCRIPT: &str = "BEGIN { }\n// @section python\nusdt:$1:python:a { }\n// @end\n// @section ruby\nusdt:$3:ruby:b { }\n// @end\nEND { }\n";

    #[test]
    fn absent_runtimes_are_blanked() {
        let kept = keep(SCRIPT, &["ruby"]);
        assert_eq!(
            kept,
            "BEGIN { }\n// @section python\n\n// @end\n// @section ruby\nusdt:$3:ruby:b { }\n// @end\nEND { }\n"
        );
        assert_eq!(kept.lines().count(), SCRIPT.lines().count());
        assert_eq!(keep(SCRIPT, &["python", "ruby"]), SCRIPT);
    }

    proptest! {
        #[test]
        fn line_count_is_kept(lines in proptest::collection::vec("(// @section [a-z]{1,3}|// @end|[a-z {}]{0,8})", 0..12)) {
            let text = lines.join("\n");
            let kept = keep(&text, &["ab"]);
            prop_assert_eq!(kept.split('\n').count(), text.split('\n').count());
        }
    }
}
