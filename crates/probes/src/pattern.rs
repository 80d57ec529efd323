//! `usdt:` probe patterns and the search that turns them into probes.
//!
//! The text after `usdt:` is, as in bpftrace, `PATH:PROVIDER:NAME` or
//! `PATH:NAME` (any provider). PATH may be
//!
//! - a file path, absolute or relative (`/usr/bin/python3.11`, `./a.out`);
//! - a glob over paths (`./bin*`, `/usr/bin/python3*`);
//! - a library or program name without `/` (`libc`, `libstdc++.so.6`),
//!   found as the dynamic linker would (see [`crate::libpath`]), or in `PATH`;
//! - `*` or empty: with a pid, every object the process has mapped.
//!
//! With a pid, paths are first matched against the objects the process has
//! mapped, and those are read through `/proc/PID/root` (so containers work).
//! PROVIDER and NAME may contain the wildcards `*` and `?`.

use std::path::{Path, PathBuf};

use crate::error::ProbeError;
use crate::libpath::{library_name_matches, resolve_library_in};
use crate::notes::{read_usdt_probes, UsdtProbe};
use crate::process::{mapped_objects, MappedObject};

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

/// Where to look: files and whether a file's read error should be reported.
struct Candidate {
    host: PathBuf,
    display: String,
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
    let (candidates, single) = candidates(pattern, pid, &text)?;
    let mut found = Vec::new();
    for c in &candidates {
        let file = match read_usdt_probes(&c.host) {
            Ok(f) => f,
            Err(e) if single => return Err(e),
            Err(_) => continue,
        };
        for probe in file.probes {
            if pattern.matches_probe(&probe) {
                found.push(FoundProbe {
                    host_path: c.host.clone(),
                    display_path: c.display.clone(),
                    probe,
                });
            }
        }
    }
    if found.is_empty() {
        let searched = match candidates.as_slice() {
            [] => "no files matched the path".to_string(),
            [one] => one.display.clone(),
            many => format!("{} files", many.len()),
        };
        return Err(ProbeError::NoMatch {
            pattern: text,
            searched,
        });
    }
    Ok(found)
}

fn from_mapped(o: MappedObject) -> Candidate {
    Candidate {
        display: o.path.to_string_lossy().into_owned(),
        host: o.host_path,
    }
}

fn from_path(p: PathBuf) -> Candidate {
    Candidate {
        display: p.to_string_lossy().into_owned(),
        host: p,
    }
}

/// The files a pattern's path designates, and whether it is exactly one
/// file named by the user (whose errors are reported).
fn candidates(
    pattern: &UsdtPattern,
    pid: Option<u32>,
    text: &str,
) -> Result<(Vec<Candidate>, bool), ProbeError> {
    let path = pattern.path.as_str();
    let mapped = match pid {
        Some(pid) => Some(mapped_objects(pid)?),
        None => None,
    };
    if path.is_empty() || path == "*" {
        return match mapped {
            Some(objs) => Ok((objs.into_iter().map(from_mapped).collect(), false)),
            None => Err(ProbeError::PidRequired {
                pattern: text.to_string(),
            }),
        };
    }
    let wild = has_wildcard(path);
    if path.contains('/') {
        if let Some(objs) = &mapped {
            let matching: Vec<Candidate> = objs
                .iter()
                .filter(|o| glob_match(path, &o.path.to_string_lossy()))
                .cloned()
                .map(from_mapped)
                .collect();
            if !matching.is_empty() {
                let single = !wild && matching.len() == 1;
                return Ok((matching, single));
            }
        }
        if wild {
            return Ok((
                expand_path_glob(path).into_iter().map(from_path).collect(),
                false,
            ));
        }
        return Ok((vec![from_path(PathBuf::from(path))], true));
    }
    // A bare name: a library, a program, or a glob over names.
    if let Some(objs) = &mapped {
        let matching: Vec<Candidate> = objs
            .iter()
            .filter(|o| {
                let f = o
                    .path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if wild {
                    glob_match(path, &f)
                } else {
                    f == path || library_name_matches(path, &f)
                }
            })
            .cloned()
            .map(from_mapped)
            .collect();
        if !matching.is_empty() {
            return Ok((matching, false));
        }
    }
    if wild {
        return Ok((
            expand_path_glob(path).into_iter().map(from_path).collect(),
            false,
        ));
    }
    match resolve_library_in(path, None) {
        Ok(p) => Ok((vec![from_path(p)], true)),
        Err(e) => match find_in_path(path) {
            Some(p) => Ok((vec![from_path(p)], true)),
            None => Err(match pid {
                Some(pid) => ProbeError::LibraryNotFound {
                    name: path.to_string(),
                    pid: Some(pid),
                },
                None => e,
            }),
        },
    }
}

/// Looks a program name up in `$PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
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
