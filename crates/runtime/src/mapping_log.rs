//! Reading the mapping log (crates/codegen/src/unwind/vma.rs,
//! `mapping_log_def`): the file-backed code mappings `bpf_find_vma` found
//! while walking a stack or for `usym`, keyed by (pid, start). They name
//! the addresses of a process that exited before user space read its
//! `/proc/PID/maps`. A logged file's path comes from its name parts (the
//! BPF side reads them from its dentries, up to its file system's root)
//! and the mount table, and is only taken when the file found there has
//! the logged device and inode.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use ustrace_codegen::unwind::{
    LOG_KEY_SIZE, LOG_VALUE_SIZE, NAME_PARTS, NAME_PART_SIZE, NAME_VALUE_SIZE,
};

use crate::{sys, Mapping};

/// A handle on a session's mapping log (its own descriptor: it can
/// outlive the borrow of the session).
#[derive(Debug)]
pub struct MappingLog {
    fd: OwnedFd,
    names: OwnedFd,
}

impl MappingLog {
    pub(crate) fn new(fd: OwnedFd, names: OwnedFd) -> MappingLog {
        MappingLog { fd, names }
    }

    /// The mappings logged for `pid`, by start address, with their `dev`
    /// as major << 32 | minor, as in [`crate::parse_exec_mappings`]. The
    /// `path` is the file's, when its name parts lead to it through the
    /// mount table; else empty.
    pub fn mappings_of(&self, pid: u32) -> Vec<Mapping> {
        let fd = self.fd.as_raw_fd();
        let mut out: Vec<Mapping> = sys::map_keys(fd, LOG_KEY_SIZE as usize)
            .into_iter()
            .filter_map(|key| {
                let mut value = [0u8; LOG_VALUE_SIZE as usize];
                if !sys::map_lookup(fd, &key, &mut value) {
                    return None;
                }
                logged_mapping(&key, &value).filter(|(p, _)| *p == pid)
            })
            .map(|(_, m)| m)
            .collect();
        out.sort_by_key(|m| m.start);
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for m in &mut out {
            m.path = self.path_of(m.dev, m.inode, &mounts).unwrap_or_default();
        }
        out
    }

    /// The path of the file with device `dev` (major << 32 | minor) and
    /// inode `inode`, from its logged name parts and `mountinfo`.
    fn path_of(&self, dev: u64, inode: u64, mountinfo: &str) -> Option<PathBuf> {
        let kernel_dev = (dev >> 32) << 20 | (dev & 0xf_ffff);
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&kernel_dev.to_ne_bytes());
        key[8..].copy_from_slice(&inode.to_ne_bytes());
        let mut value = [0u8; NAME_VALUE_SIZE as usize];
        if !sys::map_lookup(self.names.as_raw_fd(), &key, &mut value) {
            return None;
        }
        let within = path_in_file_system(&value)?;
        candidates(&within, dev, mountinfo)
            .into_iter()
            .find(|c| is_file(c, dev, inode))
    }
}

/// The path of a file below its file system's root ("/usr/bin/x"), from
/// a file-names value: NUL-terminated parts, innermost first, then their
/// count (u64) with the root's "/" last. None when cut or malformed.
fn path_in_file_system(value: &[u8]) -> Option<String> {
    let count_at = NAME_PARTS * NAME_PART_SIZE;
    let count = u64::from_ne_bytes(value.get(count_at..count_at + 8)?.try_into().ok()?);
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| (2..=NAME_PARTS).contains(&c))?;
    let mut parts = Vec::with_capacity(count - 1);
    for i in 0..count {
        let raw = value.get(i * NAME_PART_SIZE..(i + 1) * NAME_PART_SIZE)?;
        // A name that fills its part was cut (no NUL).
        let len = raw.iter().position(|&b| b == 0)?;
        let name = std::str::from_utf8(&raw[..len]).ok()?;
        if i + 1 == count {
            if name != "/" {
                return None;
            }
        } else if name.is_empty() || name.contains('/') {
            return None;
        } else {
            parts.push(name);
        }
    }
    parts.reverse();
    Some(format!("/{}", parts.join("/")))
}

/// Where a file at `within` (below its file system's root) on device
/// `dev` (major << 32 | minor) can be seen: under each mount point of that
/// device whose mounted root contains it (`/proc/self/mountinfo` fields:
/// id, parent, major:minor, root, mount point, ...).
fn candidates(within: &str, dev: u64, mountinfo: &str) -> Vec<PathBuf> {
    let wanted = format!("{}:{}", dev >> 32, dev & 0xffff_ffff);
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (Some(&device), Some(&root), Some(&mount_point)) = (f.get(2), f.get(3), f.get(4))
        else {
            continue;
        };
        if device != wanted {
            continue;
        }
        let rest = if root == "/" {
            Some(within)
        } else {
            within.strip_prefix(root).filter(|r| r.starts_with('/'))
        };
        if let Some(rest) = rest {
            let mount_point = unescape_octal(mount_point);
            out.push(PathBuf::from(format!(
                "{}{rest}",
                mount_point.trim_end_matches('/')
            )));
        }
    }
    out
}

/// A mountinfo field with its `\040`-style escapes (space, tab, newline,
/// backslash) undone.
fn unescape_octal(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest
            .get(at + 1..at + 4)
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// True when `path` is the file with this device (major << 32 | minor)
/// and inode.
fn is_file(path: &std::path::Path, dev: u64, inode: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| {
        m.ino() == inode
            && u64::from(libc::major(m.dev())) << 32 | u64::from(libc::minor(m.dev())) == dev
    })
}

/// One log entry: key (pid u32, 4 zero bytes, start u64), value (kernel
/// device u32, 4 zero bytes, inode, page offset, end), as (pid, mapping).
fn logged_mapping(key: &[u8], value: &[u8]) -> Option<(u32, Mapping)> {
    let word = |b: &[u8], at: usize| -> Option<u64> {
        Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
    };
    let pid = u32::try_from(word(key, 0)?).ok()?;
    let start = word(key, 8)?;
    let kernel_dev = word(value, 0)?;
    let (inode, pgoff, end) = (word(value, 8)?, word(value, 16)?, word(value, 24)?);
    Some((
        pid,
        Mapping {
            start,
            end,
            offset: pgoff.checked_mul(4096)?,
            dev: (kernel_dev >> 20) << 32 | (kernel_dev & 0xf_ffff),
            inode,
            path: PathBuf::new(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_read_back_with_the_maps_device_numbering() {
        let mut key = Vec::new();
        key.extend_from_slice(&4242u64.to_ne_bytes());
        key.extend_from_slice(&0x7f00_0000_1000u64.to_ne_bytes());
        let mut value = Vec::new();
        value.extend_from_slice(&((0xfeu64 << 20) | 1).to_ne_bytes());
        value.extend_from_slice(&1234u64.to_ne_bytes());
        value.extend_from_slice(&1u64.to_ne_bytes());
        value.extend_from_slice(&0x7f00_0000_5000u64.to_ne_bytes());
        let (pid, m) = logged_mapping(&key, &value).expect("an entry");
        assert_eq!(pid, 4242);
        assert_eq!(
            m,
            Mapping {
                start: 0x7f00_0000_1000,
                end: 0x7f00_0000_5000,
                offset: 0x1000,
                dev: 0xfe << 32 | 1,
                inode: 1234,
                path: PathBuf::new(),
            }
        );
        assert!(logged_mapping(&key[..8], &value).is_none(), "short key");
    }

    fn names_value(parts: &[&str]) -> Vec<u8> {
        let mut v = vec![0u8; NAME_VALUE_SIZE as usize];
        for (i, p) in parts.iter().enumerate() {
            let b = p.as_bytes();
            let n = b.len().min(NAME_PART_SIZE);
            v[i * NAME_PART_SIZE..i * NAME_PART_SIZE + n].copy_from_slice(&b[..n]);
        }
        let at = NAME_PARTS * NAME_PART_SIZE;
        v[at..at + 8].copy_from_slice(&(parts.len() as u64).to_ne_bytes());
        v
    }

    #[test]
    fn name_parts_make_a_path_below_the_root() {
        let v = names_value(&["true", "bin", "usr", "/"]);
        assert_eq!(path_in_file_system(&v).as_deref(), Some("/usr/bin/true"));
        // Not up to the root, cut names, a lone root: no path.
        assert_eq!(path_in_file_system(&names_value(&["true", "bin"])), None);
        let long = "x".repeat(NAME_PART_SIZE);
        assert_eq!(path_in_file_system(&names_value(&[&long, "/"])), None);
        assert_eq!(path_in_file_system(&names_value(&["/"])), None);
        assert_eq!(path_in_file_system(&[0u8; 3]), None);
    }

    #[test]
    fn candidates_follow_the_mounts_of_the_device() {
        let mountinfo = "\
22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw
30 22 0:25 / /tmp rw - tmpfs tmpfs rw
31 22 254:1 /srv/data /mnt/my\\040data rw - ext4 /dev/vda1 rw
";
        let dev = 254 << 32 | 1;
        assert_eq!(
            candidates("/srv/data/app/x", dev, mountinfo),
            [
                PathBuf::from("/srv/data/app/x"),
                PathBuf::from("/mnt/my data/app/x")
            ]
        );
        assert_eq!(
            candidates("/srv/database", dev, mountinfo),
            [PathBuf::from("/srv/database")]
        );
        assert_eq!(candidates("/x", 25, mountinfo), [PathBuf::from("/tmp/x")]);
    }

    #[test]
    fn a_candidate_is_taken_only_with_the_logged_identity() {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata("/proc/self/exe").expect("own executable");
        let me = std::fs::read_link("/proc/self/exe").expect("own path");
        let dev = u64::from(libc::major(meta.dev())) << 32 | u64::from(libc::minor(meta.dev()));
        assert!(is_file(&me, dev, meta.ino()));
        assert!(!is_file(&me, dev, meta.ino() + 1));
        assert!(!is_file(
            std::path::Path::new("/nonexistent/x"),
            dev,
            meta.ino()
        ));
    }

    proptest::proptest! {
        /// Log values and mountinfo text from the kernel are read without
        /// panics, whatever their bytes.
        #[test]
        fn readers_never_panic(
            value in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
            mountinfo in "[ -~\\n\\\\]{0,300}",
            within in "/[a-z/]{0,20}",
        ) {
            let _ = path_in_file_system(&value);
            let _ = candidates(&within, 254 << 32 | 1, &mountinfo);
            let _ = unescape_octal(&mountinfo);
            let _ = logged_mapping(&value, &value);
        }
    }
}
