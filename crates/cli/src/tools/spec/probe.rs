//! The probe part of a BCC specifier, `TYPE:LIBRARY:FUNCTION`: which
//! ustrace attach point it is. Kernel probes (an empty library, `t:`
//! tracepoints) are refused with one line saying why.

use std::ops::Range;

use super::{library_file, split_top_level, SpecError};

/// What a specifier probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `p`: a function's entry.
    Entry,
    /// `r`: a function's return.
    Return,
    /// `u`: a USDT probe.
    Usdt,
}

impl Kind {
    /// BCC's 1-based `argN` (`name`) as ustrace's 0-based `argN`: `None`
    /// when `name` is no `argN` word; an error for a return probe (its
    /// arguments are gone) or past the last argument ustrace reads (6 of a
    /// function, in registers; 12 of a USDT probe).
    pub fn bcc_arg(self, name: &str) -> Option<Result<String, String>> {
        let k: u32 = name.strip_prefix("arg")?.parse().ok()?;
        let last = match self {
            Kind::Return => {
                return Some(Err(format!(
                    "`{name}`: a return probe has no arguments (use the return value)"
                )))
            }
            Kind::Entry => 6,
            Kind::Usdt => 12,
        };
        Some(if (1..=last).contains(&k) {
            Ok(format!("arg{}", k - 1))
        } else {
            Err(format!(
                "`{name}`: arguments are arg1 to arg{last} here (BCC counts from 1)"
            ))
        })
    }
}

/// A probe of a specifier as a ustrace attach point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// What it probes.
    pub kind: Kind,
    /// The attach point (`uprobe:libc:malloc`, `usdt:/bin/app::request`).
    pub attach: String,
    /// The file (path or library name).
    pub file: String,
    /// The function (with its `+offset`) or USDT probe as written.
    pub name: String,
}

impl Point {
    /// The function or probe without an offset: BCC's FUNC column.
    pub fn display(&self) -> &str {
        self.name.split('+').next().unwrap_or(&self.name)
    }

    /// The attach point of the entry of the same function (for
    /// `$entry()` and `$latency` of return probes).
    pub fn entry_attach(&self) -> String {
        format!("uprobe:{}:{}", self.file, self.name)
    }
}

/// The probe type letter `text` (at `span` of `spec`): `p` (or empty),
/// `r`, `u`; `t` and the rest are errors.
pub fn kind(spec: &str, text: &str, span: Range<usize>) -> Result<Kind, SpecError> {
    match text {
        "" | "p" => Ok(Kind::Entry),
        "r" => Ok(Kind::Return),
        "u" => Ok(Kind::Usdt),
        "t" => Err(SpecError::new(
            spec,
            span,
            "kernel tracepoints (t:) need kernel probes: ustrace traces user space only (p:, r:, u:)",
        )),
        other => Err(SpecError::new(
            spec,
            span,
            format!("probe type must be p, r or u (t: is a kernel tracepoint), not `{other}`"),
        )),
    }
}

/// The attach point of `kind` in library `lib` for function or USDT probe
/// `name` (each with its span in `spec`).
pub fn point(
    spec: &str,
    kind: Kind,
    lib: (&str, Range<usize>),
    name: (&str, Range<usize>),
) -> Result<Point, SpecError> {
    let (lib, lib_span) = lib;
    let (name, name_span) = name;
    if lib.is_empty() {
        return Err(SpecError::new(
            spec,
            lib_span.start.saturating_sub(1)..lib_span.end + 1,
            "an empty library means a kernel function, which needs kernel probes: ustrace traces user space only; name a library (c:malloc) or a file (/path/app:func)",
        ));
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || "_.$*?".contains(c);
    let (bare, offset) = match name.split_once('+') {
        Some((f, off)) => (f, Some(off)),
        None => (name, None),
    };
    let parts_ok = match kind {
        Kind::Usdt => {
            let pieces: Vec<&str> = name.split(':').collect();
            pieces.len() <= 2 && pieces.iter().all(|p| !p.is_empty() && p.chars().all(valid))
        }
        Kind::Entry | Kind::Return => !bare.is_empty() && bare.chars().all(valid),
    };
    if !parts_ok {
        let what = if kind == Kind::Usdt {
            "a USDT probe name ([PROVIDER:]NAME)"
        } else {
            "a function name"
        };
        return Err(SpecError::new(spec, name_span, format!("expected {what}")));
    }
    if let Some(off) = offset {
        let parsed = match off.strip_prefix("0x").or_else(|| off.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).is_ok(),
            None => off.parse::<u64>().is_ok(),
        };
        if !parsed || kind != Kind::Entry {
            let at = name_span.start + bare.len();
            let message = if parsed {
                "an offset (+N) is only for entry probes (p:)"
            } else {
                "an offset must be a decimal or 0x hexadecimal number"
            };
            return Err(SpecError::new(spec, at..name_span.end, message));
        }
    }
    let file = library_file(lib);
    let attach = match kind {
        Kind::Entry => format!("uprobe:{file}:{name}"),
        Kind::Return => format!("uretprobe:{file}:{name}"),
        Kind::Usdt => match name.split_once(':') {
            Some((provider, probe)) => format!("usdt:{file}:{provider}:{probe}"),
            None => format!("usdt:{file}::{name}"),
        },
    };
    Ok(Point {
        kind,
        attach,
        file,
        name: name.to_string(),
    })
}

/// The parameter names of a signature (`char *path, int flags`).
pub fn signature(text: &str, span: Range<usize>) -> Result<Vec<String>, SpecError> {
    let inner = &text[span.clone()];
    if inner.trim().is_empty() || inner.trim() == "void" {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for (off, param) in split_top_level(inner, ',') {
        let p = param.trim();
        let cut = p.rfind(|c: char| c == '*' || c.is_whitespace());
        let name = cut.map_or("", |i| p[i + 1..].trim());
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            let at = span.start + off;
            return Err(SpecError::new(
                text,
                at..at + param.len(),
                "expected a parameter: TYPE NAME",
            ));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_arguments_count_from_one() {
        assert_eq!(Kind::Entry.bcc_arg("arg1"), Some(Ok("arg0".into())));
        assert_eq!(Kind::Entry.bcc_arg("arg6"), Some(Ok("arg5".into())));
        assert_eq!(Kind::Usdt.bcc_arg("arg12"), Some(Ok("arg11".into())));
        for (kind, name) in [
            (Kind::Entry, "arg0"),
            (Kind::Entry, "arg7"),
            (Kind::Usdt, "arg13"),
            (Kind::Return, "arg1"),
        ] {
            assert!(matches!(kind.bcc_arg(name), Some(Err(_))), "{name}");
        }
        assert_eq!(Kind::Entry.bcc_arg("argv"), None);
        assert_eq!(Kind::Entry.bcc_arg("size"), None);
    }

    #[test]
    fn attach_points() {
        let p = point("x", Kind::Entry, ("c", 0..1), ("malloc", 2..8)).unwrap();
        assert_eq!(p.attach, "uprobe:libc:malloc");
        let p = point("x", Kind::Return, ("/bin/app", 0..1), ("f", 2..3)).unwrap();
        assert_eq!(p.attach, "uretprobe:/bin/app:f");
        let p = point("x", Kind::Usdt, ("/a", 0..1), ("prov:req", 2..3)).unwrap();
        assert_eq!(p.attach, "usdt:/a:prov:req");
        assert_eq!(p.display(), "prov:req");
        let p = point("x", Kind::Usdt, ("pthread", 0..1), ("start", 2..3)).unwrap();
        assert_eq!(p.attach, "usdt:libpthread::start");
        let p = point("x", Kind::Entry, ("c", 0..1), ("open+0x4", 2..3)).unwrap();
        assert_eq!(
            (p.attach.as_str(), p.display()),
            ("uprobe:libc:open+0x4", "open")
        );
    }

    #[test]
    fn kernel_probes_are_refused() {
        let spec = "r::do_sys_open";
        let e = point(spec, Kind::Return, ("", 2..2), ("do_sys_open", 3..14)).unwrap_err();
        assert!(e.message.contains("kernel"), "{e}");
        assert_eq!(e.span, 1..3);
        assert!(kind("t:block:x", "t", 0..1)
            .unwrap_err()
            .message
            .contains("kernel"));
    }
}
