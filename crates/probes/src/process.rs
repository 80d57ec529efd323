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
///
/// The host path is `/proc/PID/root/PATH` (a process in another mount
/// namespace, as in a container, shows paths of its own namespace). For a
/// chrooted process in our namespace the kernel shows host paths instead;
/// the device and inode of the maps line tell which of the two is the
/// mapped file.
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
    // Where a chroot puts the process's `/` (`/` itself otherwise).
    let chroot = std::fs::read_link(&root).ok();
    let mut out: Vec<MappedObject> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for entry in parse_maps_entries(&text) {
        if seen.contains(&entry.path) {
            continue;
        }
        seen.push(entry.path.clone());
        let inside = host_path(&root, &entry.path);
        let (host_path, path) = if entry.is_file(&inside) || !entry.is_file(&entry.path) {
            (inside, entry.path)
        } else {
            // A chroot: the kernel showed our path; the process sees it
            // without the chroot's prefix.
            let seen_inside = chroot
                .as_ref()
                .and_then(|c| entry.path.strip_prefix(c).ok())
                .map(|rest| Path::new("/").join(rest))
                .unwrap_or_else(|| entry.path.clone());
            (entry.path, seen_inside)
        };
        if !is_elf(&host_path) {
            continue;
        }
        out.push(MappedObject { path, host_path });
    }
    Ok(out)
}

/// One file-backed line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsEntry {
    /// The path as the kernel shows it.
    pub path: PathBuf,
    /// The device's major number.
    pub major: u64,
    /// The device's minor number.
    pub minor: u64,
    /// The inode number.
    pub inode: u64,
}

impl MapsEntry {
    /// True when `candidate` is the mapped file (same device and inode).
    pub fn is_file(&self, candidate: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(candidate).is_ok_and(|m| {
            let dev = m.dev();
            let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
            let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
            m.ino() == self.inode && major == self.major && minor == self.minor
        })
    }
}

/// The file paths of a `/proc/PID/maps` text, one per file-backed line, in
/// order and with repeats. Lines for deleted files and `[special]` or
/// anonymous mappings are left out.
pub fn parse_maps(text: &str) -> Vec<PathBuf> {
    parse_maps_entries(text)
        .into_iter()
        .map(|e| e.path)
        .collect()
}

/// Like [`parse_maps`], with each line's device and inode.
pub fn parse_maps_entries(text: &str) -> Vec<MapsEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        // address perms offset dev inode path: the path starts after the
        // fifth field and may contain spaces.
        let mut rest = line;
        let mut fields = Vec::with_capacity(5);
        for _ in 0..5 {
            rest = rest.trim_start();
            match rest.find(' ') {
                Some(i) => {
                    fields.push(&rest[..i]);
                    rest = &rest[i..];
                }
                None => break,
            }
        }
        let [_, _, _, dev, inode] = fields.as_slice() else {
            continue;
        };
        let path = rest.trim_start();
        if !path.starts_with('/') || path.ends_with(" (deleted)") {
            continue;
        }
        let (major, minor) = dev.split_once(':').unwrap_or(("", ""));
        out.push(MapsEntry {
            path: PathBuf::from(path),
            major: u64::from_str_radix(major, 16).unwrap_or(0),
            minor: u64::from_str_radix(minor, 16).unwrap_or(0),
            inode: inode.parse().unwrap_or(0),
        });
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
    fn maps_entries_carry_device_and_inode() {
        let e = parse_maps_entries(
            "55d0c8a00000-55d0c8a02000 r--p 00000000 fd:01 1234   /usr/bin/cat\n",
        );
        assert_eq!(
            e,
            vec![MapsEntry {
                path: PathBuf::from("/usr/bin/cat"),
                major: 0xfd,
                minor: 1,
                inode: 1234
            }]
        );
        let me = std::fs::read_link("/proc/self/exe").unwrap();
        let text = std::fs::read_to_string("/proc/self/maps").unwrap();
        let own = parse_maps_entries(&text);
        let exe = own.iter().find(|e| e.path == me).unwrap();
        assert!(exe.is_file(&me));
        assert!(!exe.is_file(Path::new("/proc/self/maps")));
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
