//! The files a program maps when it starts: itself, its dynamic linker
//! (`PT_INTERP`) and the libraries it names (`DT_NEEDED`), so their tables
//! can be built before it runs.

use std::path::{Path, PathBuf};

/// `program`, its `PT_INTERP` and its `DT_NEEDED` libraries (found as the
/// dynamic linker would, through `ld.so.cache`), without duplicates. A
/// file that cannot be read or parsed contributes only itself; a library
/// that cannot be found is left out (its table then loads once mapped).
pub fn startup_files(program: &Path) -> Vec<PathBuf> {
    let mut files = vec![program.to_path_buf()];
    let Ok(data) = std::fs::read(program) else {
        return files;
    };
    let (interp, needed) = interp_and_needed(&data);
    files.extend(interp);
    for name in needed {
        if let Ok(path) = ustrace_probes::resolve_library(&name) {
            files.push(path);
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    files
}

/// The `PT_INTERP` path and `DT_NEEDED` names of a 64-bit ELF file (none
/// when it is not one, or they are malformed).
pub fn interp_and_needed(data: &[u8]) -> (Option<PathBuf>, Vec<String>) {
    use object::read::elf::{Dyn, FileHeader, ProgramHeader};
    let Ok(header) = object::elf::FileHeader64::<object::Endianness>::parse(data) else {
        return (None, Vec::new());
    };
    let Ok(endian) = header.endian() else {
        return (None, Vec::new());
    };
    let interp = header.program_headers(endian, data).ok().and_then(|phdrs| {
        let p = phdrs
            .iter()
            .find(|p| p.p_type(endian) == object::elf::PT_INTERP)?;
        let bytes = p.data(endian, data).ok()?;
        let text = bytes.split(|&b| b == 0).next()?;
        (!text.is_empty()).then(|| PathBuf::from(String::from_utf8_lossy(text).into_owned()))
    });
    let mut needed = Vec::new();
    if let Ok(sections) = header.sections(endian, data) {
        if let Ok(Some((dynamic, link))) = sections.dynamic(endian, data) {
            if let Ok(strings) = sections.strings(endian, data, link) {
                for d in dynamic {
                    if d.tag32(endian) == Some(object::elf::DT_NEEDED) {
                        if let Ok(name) = d.string(endian, strings) {
                            needed.push(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
            }
        }
    }
    (interp, needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_needs_its_interpreter_and_libc() {
        let bin = Path::new("/usr/bin/python3.11");
        if !bin.exists() {
            // Debian 12 always has it (scripts/install-deps.sh installs
            // python3); fail rather than skip in CI.
            assert!(std::env::var_os("CI").is_none(), "no /usr/bin/python3.11");
            return;
        }
        let files = startup_files(bin);
        assert_eq!(files[0], bin);
        assert!(
            files.iter().any(|f| f.ends_with("ld-linux-x86-64.so.2")),
            "{files:?}"
        );
        assert!(files.iter().any(|f| f.ends_with("libc.so.6")), "{files:?}");
    }

    proptest::proptest! {
        #[test]
        fn mutated_elf_headers_never_panic(
            at in 0usize..4096,
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 1..64),
        ) {
            let mut data = std::fs::read("/usr/bin/true").unwrap_or_default();
            if !data.is_empty() {
                let at = at % data.len();
                let end = (at + bytes.len()).min(data.len());
                data[at..end].copy_from_slice(&bytes[..end - at]);
                let _ = interp_and_needed(&data);
                let _ = interp_and_needed(&data[..at]);
            }
        }
    }
}
