//! `usdt:` probe patterns and the search that turns them into probes.
//!
//! The text after `usdt:` is, as in bpftrace, `PATH:PROVIDER:NAME` or
//! `PATH:NAME` (any provider; so is an empty PROVIDER, `PATH::NAME`). PATH
//! is a path, a glob over paths, a library name or `*` (every object of
//! the process), as [`crate::objects`] describes; with a pid it is looked
//! up in the process's objects and mount namespace first.
//! PROVIDER and NAME may contain the wildcards `*` and `?`.

use std::path::{Path, PathBuf};

use crate::error::ProbeError;
use crate::notes::{read_usdt_probes, UsdtProbe};
use crate::objects::find_objects;

/// A parsed `usdt:` attach point.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsdtPattern {
    /// The file part: a path, a glob, a library name, `*` or empty.
    pub path: String,
    /// The provider glob; `None` means any provider.
    pub provider: Option<String>,
    /// The probe name glob.
    pub name: String,
}

/// One probe found by [`find_usdt_probes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundProbe {
    /// The file to attach to, as reachable from here (maybe `/proc/PID/root/...`).
    pub host_path: PathBuf,
    /// The file as the user should see it (the process's view for a pid).
    pub display_path: String,
    /// The probe with all its locations.
    pub probe: UsdtProbe,
}

impl UsdtPattern {
    /// Parses the text after `usdt:`: `PATH:PROVIDER:NAME` or `PATH:NAME`.
    /// An empty or `*` provider means any provider.
    pub fn parse(text: &str) -> Result<UsdtPattern, ProbeError> {
        let bad = |reason: &str| ProbeError::BadPattern {
            pattern: text.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = text.split(':').collect();
        let (path, provider, name) = match parts.as_slice() {
            [path, name] => (*path, None, *name),
            [path, provider, name] => (
                *path,
                if provider.is_empty() || *provider == "*" {
                    None
                } else {
                    Some(provider.to_string())
                },
                *name,
            ),
            _ => return Err(bad("expected usdt:PATH:PROVIDER:NAME or usdt:PATH:NAME")),
        };
        if name.is_empty() {
            return Err(bad("missing probe name"));
        }
        Ok(UsdtPattern {
            path: path.to_string(),
            provider,
            name: name.to_string(),
        })
    }

    /// True when `probe` has a matching provider and name.
    pub fn matches_probe(&self, probe: &UsdtProbe) -> bool {
        self.provider
            .as_deref()
            .is_none_or(|p| glob_match(p, &probe.provider))
            && glob_match(&self.name, &probe.name)
    }
}

impl std::fmt::Display for UsdtPattern {
    /// The text after `usdt:`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{}:{}:{}", self.path, p, self.name),
            None => write!(f, "{}:{}", self.path, self.name),
        }
    }
}

/// Shell-style matching of the whole `text`: `*` matches any run of
/// characters (also empty), `?` any one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// True when `s` contains a wildcard.
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Expands a path glob (wildcards in any component) into the existing
/// regular files it matches, sorted. Hidden names match only a component
/// that starts with `.`.
pub fn expand_path_glob(pattern: &str) -> Vec<PathBuf> {
    let absolute = pattern.starts_with('/');
    let mut current: Vec<PathBuf> = vec![if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for dir in &current {
            if !has_wildcard(comp) {
                next.push(dir.join(comp));
                continue;
            }
            let read_from = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            let Ok(entries) = std::fs::read_dir(read_from) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| (!n.starts_with('.') || comp.starts_with('.')) && glob_match(comp, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        current = next;
    }
    current.retain(|p| p.is_file());
    current.sort();
    current.dedup();
    current
}

/// Finds every probe matching `pattern`, searching process `pid`'s objects
/// when given. A pattern that matches nothing is [`ProbeError::NoMatch`].
/// When the pattern names one file, that file's read errors are returned;
/// when it expands to many (a glob, `*`), unreadable or non-ELF files are
/// skipped.
pub fn find_usdt_probes(
    pattern: &UsdtPattern,
    pid: Option<u32>,
) -> Result<Vec<FoundProbe>, ProbeError> {
    let text = pattern.to_string();
    let objects = find_objects(&pattern.path, pid).map_err(|e| match e {
        ProbeError::AnyObjectNeedsPid { .. } => ProbeError::PidRequired {
            pattern: text.clone(),
        },
        other => other,
    })?;
    let (candidates, single) = (objects.files, objects.exact);
    let mut found = Vec::new();
    for c in &candidates {
        let file = match read_usdt_probes(&c.host_path) {
            Ok(f) => f,
            Err(e) if single => return Err(e),
            Err(_) => continue,
        };
        for probe in file.probes {
            if pattern.matches_probe(&probe) {
                found.push(FoundProbe {
                    host_path: c.host_path.clone(),
                    display_path: c.display_path.clone(),
                    probe,
                });
            }
        }
    }
    if found.is_empty() {
        let searched = match candidates.as_slice() {
            [] => "no files matched the path".to_string(),
            [one] => one.display_path.clone(),
            many => format!("{} files", many.len()),
        };
        return Err(ProbeError::NoMatch {
            pattern: text,
            searched,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "abc"));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("function__*", "function__entry"));
        assert!(!glob_match("function__*", "line"));
        assert!(glob_match("*__*", "gc__done"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(!glob_match("*a*b", "xxaxxbxx"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("/usr/bin/python3*", "/usr/bin/python3.11"));
    }

    #[test]
    fn parsing_patterns() {
        let p = UsdtPattern::parse("/usr/bin/python3.11:python:function__entry").unwrap();
        assert_eq!(p.path, "/usr/bin/python3.11");
        assert_eq!(p.provider.as_deref(), Some("python"));
        assert_eq!(p.name, "function__entry");
        assert_eq!(p.to_string(), "/usr/bin/python3.11:python:function__entry");
        let p = UsdtPattern::parse("./a.out:probe").unwrap();
        assert_eq!(
            (p.path.as_str(), p.provider, p.name.as_str()),
            ("./a.out", None, "probe")
        );
        let p = UsdtPattern::parse(":prov:*").unwrap();
        assert_eq!(p.path, "");
        assert_eq!(p.provider.as_deref(), Some("prov"));
        let p = UsdtPattern::parse("libc::*").unwrap();
        assert_eq!(p.provider, None);
        for bad in ["", "x", "a:b:c:d", "path:", "path:prov:"] {
            let e = UsdtPattern::parse(bad).unwrap_err();
            assert!(matches!(e, ProbeError::BadPattern { .. }), "{bad}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn star_without_pid_needs_pid() {
        let p = UsdtPattern::parse("*:*:*").unwrap();
        let e = find_usdt_probes(&p, None).unwrap_err();
        assert!(matches!(e, ProbeError::PidRequired { .. }));
        assert!(e.to_string().contains("-p PID"), "{e}");
    }

    #[test]
    fn path_glob_expansion() {
        let got = expand_path_glob("/usr/bin/pytho?3*");
        if Path::new("/usr/bin/python3").exists() {
            assert!(got.iter().any(|p| p.starts_with("/usr/bin")));
        }
        assert!(got
            .iter()
            .all(|p| glob_match("/usr/bin/pytho?3*", &p.to_string_lossy())));
        assert!(expand_path_glob("/nonexistent_dir_ustrace/*").is_empty());
    }
}
