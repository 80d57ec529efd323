//! The ELF objects a process has mapped, from `/proc/PID/maps`.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::ProbeError;

/// One file-backed ELF object mapped by a process (its executable or a
/// shared library).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedObject {
    /// The path as the process sees it (`/usr/lib/x86_64-linux-gnu/libc.so.6`).
    pub path: PathBuf,
    /// The same file as seen from here, through `/proc/PID/root`, so that
    /// objects inside containers are found.
    pub host_path: PathBuf,
}

/// The unique file-backed ELF objects mapped by process `pid`, in order of
/// first mapping (the executable first). Skips anonymous and special
/// mappings (`[vdso]`, `[heap]`), deleted files and non-ELF files (locale
/// archives, fonts).
pub fn mapped_objects(pid: u32) -> Result<Vec<MappedObject>, ProbeError> {
    let maps_path = format!("/proc/{pid}/maps");
    let text = std::fs::read_to_string(&maps_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProbeError::NoSuchProcess { pid },
        _ => ProbeError::ProcessAccess {
            pid,
            message: e.to_string(),
        },
    })?;
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    let mut out: Vec<MappedObject> = Vec::new();
    for path in parse_maps(&text) {
        if out.iter().any(|o| o.path == path) {
            continue;
        }
        let host_path = host_path(&root, &path);
        if !is_elf(&host_path) {
            continue;
        }
        out.push(MappedObject { path, host_path });
    }
    Ok(out)
}

/// The file paths of a `/proc/PID/maps` text, one per file-backed line, in
/// order and with repeats. Lines for deleted files and `[special]` or
/// anonymous mappings are left out.
pub fn parse_maps(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in text.lines() {
        // address perms offset dev inode path: the path starts after the
        // fifth field and may contain spaces.
        let mut rest = line;
        let mut ok = true;
        for _ in 0..5 {
            rest = rest.trim_start();
            match rest.find(' ') {
                Some(i) => rest = &rest[i..],
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        let path = rest.trim_start();
        if !path.starts_with('/') || path.ends_with(" (deleted)") {
            continue;
        }
        out.push(PathBuf::from(path));
    }
    out
}

/// `root` joined with an absolute `path` (`/proc/42/root` + `/usr/lib/x` =
/// `/proc/42/root/usr/lib/x`).
pub fn host_path(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// True when the file starts with the ELF magic.
fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    crate::notes::open_regular(path)
        .ok()
        .and_then(|(mut f, _)| f.read_exact(&mut magic).ok())
        .is_some()
        && &magic == b"\x7fELF"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_lines() {
        let text = "\
55d0c8a00000-55d0c8a02000 r--p 00000000 08:01 1234   /usr/bin/cat
55d0c8a02000-55d0c8a06000 r-xp 00002000 08:01 1234   /usr/bin/cat
55d0c9f1a000-55d0c9f3b000 rw-p 00000000 00:00 0      [heap]
7f1e2c000000-7f1e2c021000 rw-p 00000000 00:00 0
7f1e2c600000-7f1e2c628000 r--p 00000000 08:01 99     /usr/lib/x86_64-linux-gnu/libc.so.6
7f1e2c700000-7f1e2c701000 r--p 00000000 08:01 98     /tmp/my lib.so
7f1e2c800000-7f1e2c801000 r--p 00000000 08:01 97     /tmp/gone.so (deleted)
7ffd6b3f1000-7ffd6b3f3000 r-xp 00000000 00:00 0      [vdso]
";
        let paths = parse_maps(text);
        assert_eq!(
            paths,
            vec![
                PathBuf::from("/usr/bin/cat"),
                PathBuf::from("/usr/bin/cat"),
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/tmp/my lib.so"),
            ]
        );
    }

    #[test]
    fn host_path_goes_through_proc_root() {
        assert_eq!(
            host_path(Path::new("/proc/7/root"), Path::new("/usr/lib/libc.so.6")),
            PathBuf::from("/proc/7/root/usr/lib/libc.so.6")
        );
    }

    #[test]
    fn own_process_maps_include_self_and_libc() {
        let objs = mapped_objects(std::process::id()).expect("own maps");
        assert!(!objs.is_empty());
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(objs[0].path, exe);
        assert!(objs
            .iter()
            .any(|o| o.path.to_string_lossy().contains("libc.so")));
        assert!(objs.iter().all(|o| o.host_path.starts_with("/proc/")));
    }

    #[test]
    fn missing_pid_is_named() {
        let e = mapped_objects(999_999_999).unwrap_err();
        assert_eq!(e, ProbeError::NoSuchProcess { pid: 999_999_999 });
        assert_eq!(e.to_string(), "process 999999999 does not exist");
    }
}
