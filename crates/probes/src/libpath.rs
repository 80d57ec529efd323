//! Finding a shared library by name, as the dynamic linker would.
//!
//! A name without `/` (`libc`, `libstdc++`, `libc.so.6`, or `c`) is looked
//! up, in order:
//!
//! 1. with a pid, among the objects that process has mapped, then in the
//!    process's own `/etc/ld.so.cache` (through `/proc/PID/root`);
//! 2. in `/etc/ld.so.cache` (x86-64 entries);
//! 3. in the standard directories `/lib/x86_64-linux-gnu`,
//!    `/usr/lib/x86_64-linux-gnu`, `/lib64`, `/usr/lib64`, `/lib`, `/usr/lib`.
//!
//! Matching follows bpftrace: a file matches a name containing `.so` when
//! its file name equals the name or starts with it (`libc.so` matches
//! `libc.so.6`); otherwise when its file name starts with `NAME.so`
//! (`libc` matches `libc.so.6`), or `libNAME.so` for a name without the
//! `lib` prefix (`c` matches `libc.so.6`).

use std::path::{Path, PathBuf};

use crate::error::ProbeError;
use crate::process::{host_path, mapped_objects};

/// Where ld.so.cache lives.
pub const LD_SO_CACHE: &str = "/etc/ld.so.cache";

/// Directories searched when ld.so.cache does not know a library.
pub const LIBRARY_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// ld.so.cache entry flags: ELF libc6 library for x86-64.
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_X8664_LIB64: i32 = 0x0300;
const FLAG_TYPE_MASK: i32 = 0x00ff;
const FLAG_REQUIRED_MASK: i32 = 0xff00;

/// True when a library file name matches `name` (see the module docs).
pub fn library_name_matches(name: &str, file_name: &str) -> bool {
    if name.contains(".so") {
        return file_name.starts_with(name);
    }
    if file_name.starts_with(&format!("{name}.so")) {
        return true;
    }
    !name.starts_with("lib") && file_name.starts_with(&format!("lib{name}.so"))
}

/// Finds the library `name` (no `/`) on this system. See the module docs.
pub fn resolve_library(name: &str) -> Result<PathBuf, ProbeError> {
    resolve_library_in(name, None)
}

/// Like [`resolve_library`], looking first among the objects process `pid`
/// has mapped; a match there is returned as its host path
/// (`/proc/PID/root/...`).
pub fn resolve_library_in(name: &str, pid: Option<u32>) -> Result<PathBuf, ProbeError> {
    if let Some(pid) = pid {
        for obj in mapped_objects(pid)? {
            let file = obj
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned());
            if file.is_some_and(|f| library_name_matches(name, &f)) {
                return Ok(obj.host_path);
            }
        }
    }
    // The process's own cache: in a container, its libraries are not ours.
    if let Some(pid) = pid {
        let root = PathBuf::from(format!("/proc/{pid}/root"));
        if let Some(found) = lookup_cache(&host_path(&root, Path::new(LD_SO_CACHE)), name, |v| {
            host_path(&root, Path::new(v))
        }) {
            return Ok(found);
        }
    }
    if let Some(found) = lookup_cache(Path::new(LD_SO_CACHE), name, |v| PathBuf::from(v)) {
        return Ok(found);
    }
    for dir in LIBRARY_DIRS {
        let Ok(read) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = read
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| library_name_matches(name, f))
            .collect();
        names.sort();
        if let Some(f) = names.first() {
            return Ok(Path::new(dir).join(f));
        }
    }
    Err(ProbeError::LibraryNotFound {
        name: name.to_string(),
        pid,
    })
}

/// The first entry of the ld.so.cache at `cache` matching `name`, as the
/// path `locate` makes of the entry's path, if that file exists.
fn lookup_cache(cache: &Path, name: &str, locate: impl Fn(&str) -> PathBuf) -> Option<PathBuf> {
    let data = std::fs::read(cache).ok()?;
    parse_ld_so_cache(&data)?
        .into_iter()
        .filter(|(key, _)| library_name_matches(name, key))
        .map(|(_, value)| locate(&value))
        .find(|p| p.exists())
}

const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";

/// Parses an ld.so.cache file (glibc's `glibc-ld.so.cache1.1` format, alone
/// or after the old `ld.so-1.7.0` table) into `(soname, path)` pairs of
/// x86-64 libraries, in cache order. `None` when the data is not a cache
/// this parser understands.
pub fn parse_ld_so_cache(data: &[u8]) -> Option<Vec<(String, String)>> {
    let start = if data.starts_with(NEW_MAGIC) {
        0
    } else if data.starts_with(OLD_MAGIC) {
        // Old header: magic (12 bytes with padding), nlibs u32, then
        // nlibs entries of 3 u32; the new table follows, 8-byte aligned.
        let nlibs = u32_at(data, 12)? as usize;
        let end = 16usize.checked_add(nlibs.checked_mul(12)?)?;
        let aligned = end.checked_add(7)? & !7;
        if data.get(aligned..)?.starts_with(NEW_MAGIC) {
            aligned
        } else {
            return None;
        }
    } else {
        return None;
    };
    let new = data.get(start..)?;
    // Header: magic+version (20), nlibs u32, len_strings u32, flags u8,
    // padding [u8; 3], extension_offset u32, unused [u32; 3] = 48 bytes.
    let nlibs = u32_at(new, 20)? as usize;
    const HEADER: usize = 48;
    const ENTRY: usize = 24;
    let mut out = Vec::new();
    for i in 0..nlibs {
        let e = HEADER.checked_add(i.checked_mul(ENTRY)?)?;
        let flags = u32_at(new, e)? as i32;
        let key = u32_at(new, e + 4)? as usize;
        let value = u32_at(new, e + 8)? as usize;
        if flags & FLAG_TYPE_MASK != FLAG_ELF_LIBC6
            || flags & FLAG_REQUIRED_MASK != FLAG_X8664_LIB64
        {
            continue;
        }
        // String offsets are relative to the start of the new-format header.
        if let (Some(k), Some(v)) = (c_str_at(new, key), c_str_at(new, value)) {
            out.push((k, v));
        }
    }
    Some(out)
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn c_str_at(data: &[u8], at: usize) -> Option<String> {
    let rest = data.get(at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    String::from_utf8(rest[..end].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_matching() {
        assert!(library_name_matches("libc", "libc.so.6"));
        assert!(library_name_matches("c", "libc.so.6"));
        assert!(library_name_matches("libc.so.6", "libc.so.6"));
        assert!(library_name_matches("libc.so", "libc.so.6"));
        assert!(!library_name_matches("libc", "libcap.so.2"));
        assert!(!library_name_matches("libc", "libc-2.36.so"));
        assert!(library_name_matches("libstdc++", "libstdc++.so.6"));
        assert!(!library_name_matches("libstdc", "libstdc++.so.6"));
    }

    #[test]
    fn reads_this_systems_cache() {
        let Ok(data) = std::fs::read(LD_SO_CACHE) else {
            eprintln!("skipped: no {LD_SO_CACHE}");
            return;
        };
        let entries = parse_ld_so_cache(&data).expect("cache format understood");
        assert!(entries
            .iter()
            .any(|(k, v)| k == "libc.so.6" && v.ends_with("/libc.so.6")));
    }

    #[test]
    fn crafted_cache() {
        let mut d = Vec::new();
        d.extend_from_slice(NEW_MAGIC);
        d.extend_from_slice(&2u32.to_le_bytes()); // nlibs
        d.extend_from_slice(&0u32.to_le_bytes()); // len_strings
        d.extend_from_slice(&[0u8; 4 + 4 + 12]);
        assert_eq!(d.len(), 48);
        let strings = 48 + 2 * 24;
        let entries = [
            (0x0303, "libfoo.so.1", "/x/libfoo.so.1"),
            (0x0003, "libbar.so", "/y/libbar.so"),
        ];
        let mut strtab = Vec::new();
        for (flags, k, v) in entries {
            let ko = strings + strtab.len();
            strtab.extend_from_slice(k.as_bytes());
            strtab.push(0);
            let vo = strings + strtab.len();
            strtab.extend_from_slice(v.as_bytes());
            strtab.push(0);
            d.extend_from_slice(&i32::to_le_bytes(flags));
            d.extend_from_slice(&(ko as u32).to_le_bytes());
            d.extend_from_slice(&(vo as u32).to_le_bytes());
            d.extend_from_slice(&0u32.to_le_bytes());
            d.extend_from_slice(&0u64.to_le_bytes());
        }
        d.extend_from_slice(&strtab);
        let got = parse_ld_so_cache(&d).unwrap();
        assert_eq!(
            got,
            vec![("libfoo.so.1".to_string(), "/x/libfoo.so.1".to_string())]
        );
        // Truncated and foreign data never panic.
        for n in 0..d.len() {
            let _ = parse_ld_so_cache(&d[..n]);
        }
        assert!(parse_ld_so_cache(b"not a cache").is_none());
    }

    #[test]
    fn resolves_system_libraries() {
        let libc = resolve_library("libc").unwrap();
        assert!(
            libc.to_string_lossy().ends_with("libc.so.6"),
            "{}",
            libc.display()
        );
        assert_eq!(resolve_library("libc.so.6").unwrap(), libc);
        assert_eq!(resolve_library("c").unwrap(), libc);
        let e = resolve_library("libdoesnotexist_ustrace").unwrap_err();
        assert!(e.to_string().contains("libdoesnotexist_ustrace"));
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn resolves_in_own_process() {
        let p = resolve_library_in("libc", Some(std::process::id())).unwrap();
        assert!(p.starts_with(format!("/proc/{}/root", std::process::id())));
    }
}
