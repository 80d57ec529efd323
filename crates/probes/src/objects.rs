//! The file part of an attach point (`usdt:FILE:...`, `uprobe:FILE:...`)
//! turned into the ELF files it designates. USDT probes and uprobes share
//! these rules.
//!
//! FILE may be
//!
//! - a path, absolute or relative (`/usr/bin/python3.11`, `./a.out`);
//! - a glob over paths, wildcards in any component (`./bin/app*`,
//!   `/usr/lib/x86_64-linux-gnu/libssl*.so*`);
//! - a library or program name without `/` (`libc`, `libstdc++.so.6`),
//!   found as the dynamic linker would (see [`crate::libpath`]), or in
//!   `PATH`; with wildcards, a glob over the names of the process's objects
//!   or of the files in the current directory;
//! - `*` or empty: every object the process maps (needs a pid).
//!
//! With a pid, the file is looked for, in order: among the objects the
//! process maps (by path as the process sees it, or by being the same file
//! as the host path given); inside the process's mount namespace, through
//! `/proc/PID/root` (a program in a container or a chroot that has not
//! mapped the file yet); then on the host. Files are always opened and
//! attached through the host-visible path (`/proc/PID/root/...` for the
//! first two), while the path the process sees is what the user is shown.
//!
//! A glob can name one file twice (a library and its `.so` symlink); each
//! file appears once.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::error::ProbeError;
use crate::libpath::{library_name_matches, resolve_library_in};
use crate::pattern::{expand_path_glob, glob_match, has_wildcard};
use crate::process::{host_path, mapped_objects, MappedObject};

/// One ELF file an attach point's file part designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFile {
    /// The file as reachable from here (maybe `/proc/PID/root/...`): what
    /// is read and attached to.
    pub host_path: PathBuf,
    /// The file as the user should see it (the process's view with a pid).
    pub display_path: String,
}

/// The files a file part designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFiles {
    /// The files, in a stable order (mapping order or sorted by path).
    pub files: Vec<ObjectFile>,
    /// True when the user named exactly one file (no wildcard, not `*`):
    /// its read errors are worth reporting. With wildcards, unreadable or
    /// non-ELF files are better skipped.
    pub exact: bool,
}

/// Finds the files `file` designates (see the module docs), searching
/// process `pid`'s objects and mount namespace when given. A glob may
/// match nothing (an empty list); `*` without a pid is
/// [`ProbeError::AnyObjectNeedsPid`]; a library name nobody knows is
/// [`ProbeError::LibraryNotFound`].
pub fn find_objects(file: &str, pid: Option<u32>) -> Result<ObjectFiles, ProbeError> {
    let mapped = match pid {
        Some(pid) => Some(mapped_objects(pid)?),
        None => None,
    };
    if file.is_empty() || file == "*" {
        return match mapped {
            Some(objs) => Ok(many(objs.into_iter().map(from_mapped).collect())),
            None => Err(ProbeError::AnyObjectNeedsPid {
                file: file.to_string(),
            }),
        };
    }
    let wild = has_wildcard(file);
    if file.contains('/') {
        return Ok(by_path(file, wild, pid, mapped.as_deref()));
    }
    by_name(file, wild, pid, mapped.as_deref())
}

/// A file part holding `/`: a path or a glob over paths.
fn by_path(
    file: &str,
    wild: bool,
    pid: Option<u32>,
    mapped: Option<&[MappedObject]>,
) -> ObjectFiles {
    let absolute = absolute_pattern(file);
    if let (Some(pid), Some(objs)) = (pid, mapped) {
        let host_file = (!wild).then(|| std::fs::metadata(file).ok()).flatten();
        let matching: Vec<ObjectFile> = objs
            .iter()
            .filter(|o| {
                let seen = o.path.to_string_lossy();
                glob_match(file, &seen)
                    || glob_match(&absolute, &seen)
                    || host_file
                        .as_ref()
                        .is_some_and(|m| same_file(m, &o.host_path))
            })
            .cloned()
            .map(from_mapped)
            .collect();
        if !matching.is_empty() {
            return ObjectFiles {
                exact: !wild && matching.len() == 1,
                files: as_written(matching, file, wild),
            };
        }
        // Not mapped (yet): the file as the process would open it.
        let root = PathBuf::from(format!("/proc/{pid}/root"));
        let inside = as_written(in_root(&root, &absolute, wild), file, wild);
        if !inside.is_empty() {
            return ObjectFiles {
                exact: !wild,
                files: dedup(inside),
            };
        }
    }
    if wild {
        return many(expand_path_glob(file).into_iter().map(from_path).collect());
    }
    ObjectFiles {
        files: vec![from_path(PathBuf::from(file))],
        exact: true,
    }
}

/// A file part without `/`: a library or program name, or a glob over the
/// names of the process's objects.
fn by_name(
    file: &str,
    wild: bool,
    pid: Option<u32>,
    mapped: Option<&[MappedObject]>,
) -> Result<ObjectFiles, ProbeError> {
    if let Some(objs) = mapped {
        let matching: Vec<ObjectFile> = objs
            .iter()
            .filter(|o| {
                let name = o
                    .path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if wild {
                    glob_match(file, &name)
                } else {
                    name == file || library_name_matches(file, &name)
                }
            })
            .cloned()
            .map(from_mapped)
            .collect();
        if !matching.is_empty() {
            return Ok(many(matching));
        }
    }
    if wild {
        return Ok(many(
            expand_path_glob(file).into_iter().map(from_path).collect(),
        ));
    }
    match resolve_library_in(file, pid) {
        Ok(p) => Ok(ObjectFiles {
            files: vec![shown_from_root(p, pid)],
            exact: true,
        }),
        Err(e) => match find_in_path(file) {
            Some(p) => Ok(ObjectFiles {
                files: vec![from_path(p)],
                exact: true,
            }),
            None => Err(e),
        },
    }
}

/// A path without wildcards is shown as the user wrote it (as bpftrace
/// names probes: `usdt:./app:prov:name`), wherever it was found.
fn as_written(mut files: Vec<ObjectFile>, file: &str, wild: bool) -> Vec<ObjectFile> {
    if !wild {
        for f in &mut files {
            f.display_path = file.to_string();
        }
    }
    files
}

/// Several files found by a pattern, each once.
fn many(files: Vec<ObjectFile>) -> ObjectFiles {
    ObjectFiles {
        files: dedup(files),
        exact: false,
    }
}

/// Keeps one entry per file (device and inode), in order; of a symlink
/// and its target (`libssl.so` and `libssl.so.3`), the target's name.
fn dedup(files: Vec<ObjectFile>) -> Vec<ObjectFile> {
    // `seen[i]` is the identity of `out[i]`, when it could be read.
    let mut seen: Vec<Option<(u64, u64)>> = Vec::new();
    let mut out: Vec<ObjectFile> = Vec::new();
    let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_symlink());
    for f in files {
        let id = std::fs::metadata(&f.host_path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        match id.and_then(|id| seen.iter().position(|s| *s == Some(id))) {
            Some(i) => {
                if is_link(&out[i].host_path) && !is_link(&f.host_path) {
                    out[i] = f;
                }
            }
            None => {
                seen.push(id);
                out.push(f);
            }
        }
    }
    out
}

/// True when `path` is the file `meta` describes.
fn same_file(meta: &std::fs::Metadata, path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
}

/// The files `pattern` (absolute, maybe a glob) names inside `root`, shown
/// as the process sees them.
fn in_root(root: &Path, pattern: &str, wild: bool) -> Vec<ObjectFile> {
    let inside = host_path(root, Path::new(pattern));
    let found = if wild {
        expand_path_glob(&inside.to_string_lossy())
    } else if inside.is_file() {
        vec![inside]
    } else {
        Vec::new()
    };
    found
        .into_iter()
        .map(|host| ObjectFile {
            display_path: shown_path(root, &host),
            host_path: host,
        })
        .collect()
}

/// A path found under `/proc/PID/root`, shown without that prefix.
fn shown_from_root(path: PathBuf, pid: Option<u32>) -> ObjectFile {
    match pid {
        Some(pid) => {
            let root = PathBuf::from(format!("/proc/{pid}/root"));
            ObjectFile {
                display_path: shown_path(&root, &path),
                host_path: path,
            }
        }
        None => from_path(path),
    }
}

/// `host` without the `root` prefix (`/proc/7/root/usr/x` -> `/usr/x`).
fn shown_path(root: &Path, host: &Path) -> String {
    match host.strip_prefix(root) {
        Ok(rest) => Path::new("/").join(rest).to_string_lossy().into_owned(),
        Err(_) => host.to_string_lossy().into_owned(),
    }
}

/// `pattern` made absolute against the current directory, with `.` and
/// `..` components folded (lexically: the file need not exist here).
pub fn absolute_pattern(pattern: &str) -> String {
    let path = Path::new(pattern);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(path),
            Err(_) => return pattern.to_string(),
        }
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out.to_string_lossy().into_owned()
}

fn from_mapped(o: MappedObject) -> ObjectFile {
    ObjectFile {
        display_path: o.path.to_string_lossy().into_owned(),
        host_path: o.host_path,
    }
}

fn from_path(p: PathBuf) -> ObjectFile {
    ObjectFile {
        display_path: p.to_string_lossy().into_owned(),
        host_path: p,
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
    fn absolute_patterns_fold_dots() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute_pattern("/a/./b/../c*"), "/a/c*");
        assert_eq!(
            absolute_pattern("./x/y*"),
            cwd.join("x/y*").to_string_lossy()
        );
        assert_eq!(absolute_pattern("/.."), "/");
    }

    #[test]
    fn star_needs_a_pid() {
        for f in ["*", ""] {
            let e = find_objects(f, None).unwrap_err();
            assert!(matches!(e, ProbeError::AnyObjectNeedsPid { .. }));
            assert!(e.to_string().contains("-p PID"), "{e}");
        }
    }

    #[test]
    fn star_with_own_pid_lists_own_objects_once() {
        let got = find_objects("*", Some(std::process::id())).unwrap();
        assert!(!got.exact);
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(got.files[0].display_path, exe.to_string_lossy());
        assert!(got.files.iter().any(|f| f.display_path.contains("libc.so")));
        let mut shown: Vec<&str> = got.files.iter().map(|f| f.display_path.as_str()).collect();
        shown.sort();
        shown.dedup();
        assert_eq!(shown.len(), got.files.len());
    }

    #[test]
    fn glob_over_libraries_names_each_file_once() {
        // libc.so.6 is a file; a `libc.so*` glob may also meet the libc.so
        // linker script (not the same file) but never the same inode twice.
        let got = find_objects("/usr/lib/x86_64-linux-gnu/libc.so*", None).unwrap();
        assert!(got
            .files
            .iter()
            .any(|f| f.display_path.ends_with("libc.so.6")));
        let mut ids: Vec<(u64, u64)> = got
            .files
            .iter()
            .map(|f| {
                let m = std::fs::metadata(&f.host_path).unwrap();
                (m.dev(), m.ino())
            })
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn host_path_of_a_mapped_file_is_shown_as_the_process_sees_it() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let got = find_objects(&exe.to_string_lossy(), Some(std::process::id())).unwrap();
        assert!(got.exact);
        assert_eq!(got.files.len(), 1);
        assert_eq!(got.files[0].display_path, exe.to_string_lossy());
        assert!(got.files[0].host_path.starts_with("/proc/"));
    }

    #[test]
    fn unmapped_file_is_found_in_the_process_root() {
        // /usr/bin/env is not mapped by this test, but exists in our root.
        let pid = std::process::id();
        let got = find_objects("/usr/bin/env", Some(pid)).unwrap();
        assert_eq!(got.files.len(), 1);
        assert_eq!(got.files[0].display_path, "/usr/bin/env");
        assert_eq!(
            got.files[0].host_path,
            PathBuf::from(format!("/proc/{pid}/root/usr/bin/env"))
        );
    }

    #[test]
    fn library_names_resolve_with_and_without_pid() {
        let got = find_objects("libc", None).unwrap();
        assert!(got.exact);
        assert!(got.files[0].display_path.ends_with("libc.so.6"));
        let got = find_objects("libc", Some(std::process::id())).unwrap();
        assert!(got.files[0].display_path.ends_with("libc.so.6"));
        assert!(!got.files[0].display_path.starts_with("/proc/"));
        let e = find_objects("libnothing_ustrace_xyz", None).unwrap_err();
        assert!(matches!(e, ProbeError::LibraryNotFound { .. }));
    }
}
