//! Function symbols for uprobes: which functions of an ELF file match a
//! name or wildcard, and the file offset where each starts.
//!
//! A uprobe is placed at a *file offset*. Symbols give link-time virtual
//! addresses, so each address is translated through the `PT_LOAD` segment
//! that contains it: `offset = addr - p_vaddr + p_offset`. Both `.symtab`
//! (when the file is not stripped) and `.dynsym` are read; aliases at one
//! address are attached once.

use std::path::Path;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use object::Endianness;

use crate::error::ProbeError;
use crate::notes::{check_ident, read_file};
use crate::pattern::glob_match;

/// A function a uprobe can attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSymbol {
    /// The symbol's name: demangled for C++ (`ns::Class::method(int)`).
    pub name: String,
    /// The name in the file (`_ZN2ns5Class6methodEi` for C++).
    pub raw_name: String,
    /// Its link-time address.
    pub address: u64,
    /// The file offset of its first instruction.
    pub file_offset: u64,
}

/// Every defined function of `path` whose name matches `pattern` (shell
/// wildcards), sorted by name, one per address. C++ names match in their
/// demangled form, with or without the parameter list
/// (`ns::Class::method`, `ns::Class::method(int)`, `ns::*`), or mangled.
pub fn find_functions(path: &Path, pattern: &str) -> Result<Vec<FunctionSymbol>, ProbeError> {
    let data = read_file(path)?;
    functions_from_bytes(path, &data, pattern)
}

/// [`find_functions`] on bytes already read. When the file has no
/// `.symtab` (it was stripped), the separate debug file that its build id
/// or `.gnu_debuglink` names is read too, if installed (Debian's `-dbgsym`
/// packages put them under `/usr/lib/debug`).
pub fn functions_from_bytes(
    path: &Path,
    data: &[u8],
    pattern: &str,
) -> Result<Vec<FunctionSymbol>, ProbeError> {
    let elf = ElfView::parse(path, data)?;
    let mut found: Vec<FunctionSymbol> = Vec::new();
    collect_functions(path, &elf, data, pattern, &mut found)?;
    if !has_section_type(&elf, data, elf::SHT_SYMTAB) {
        if let Some(debug) = debug_file(path, &elf, data) {
            if let Ok(bytes) = read_file(&debug) {
                // A broken debug file only loses its extra names.
                let _ = collect_functions(&debug, &elf, &bytes, pattern, &mut found);
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name).then(a.address.cmp(&b.address)));
    Ok(found)
}

/// Adds the functions of `sym_data`'s symbol tables matching `pattern`;
/// file offsets come from `code`, the file that will be probed.
fn collect_functions(
    sym_path: &Path,
    code: &ElfView<'_>,
    sym_data: &[u8],
    pattern: &str,
    found: &mut Vec<FunctionSymbol>,
) -> Result<(), ProbeError> {
    let sym_elf = ElfView::parse(sym_path, sym_data)?;
    for table in [elf::SHT_SYMTAB, elf::SHT_DYNSYM] {
        let symbols = sym_elf
            .header
            .sections(sym_elf.endian, sym_data)
            .and_then(|s| s.symbols(sym_elf.endian, sym_data, table))
            .map_err(|e| corrupt(sym_path, format!("bad symbol table ({e})")))?;
        for sym in symbols.iter() {
            let kind = sym.st_type();
            if kind != elf::STT_FUNC && kind != elf::STT_GNU_IFUNC {
                continue;
            }
            if sym.st_shndx(sym_elf.endian) == elf::SHN_UNDEF || sym.st_value(sym_elf.endian) == 0 {
                continue;
            }
            let Ok(raw) = symbols.symbol_name(sym_elf.endian, sym) else {
                continue;
            };
            let name = String::from_utf8_lossy(raw);
            // Versioned dynamic names (`memcpy@@GLIBC_2.14`) match by base name.
            let base = name.split('@').next().unwrap_or(&name);
            let demangled = demangle(base);
            let matches = glob_match(pattern, base)
                || demangled.as_deref().is_some_and(|d| {
                    glob_match(pattern, d) || glob_match(pattern, without_parameters(d))
                });
            if !matches {
                continue;
            }
            let address = sym.st_value(sym_elf.endian);
            if found.iter().any(|f| f.address == address) {
                continue;
            }
            let Some(file_offset) = code.file_offset(address) else {
                continue;
            };
            found.push(FunctionSymbol {
                name: demangled.unwrap_or_else(|| base.to_string()),
                raw_name: base.to_string(),
                address,
                file_offset,
            });
        }
    }
    Ok(())
}

fn has_section_type(elf: &ElfView<'_>, data: &[u8], kind: u32) -> bool {
    elf.header
        .sections(elf.endian, data)
        .is_ok_and(|s| s.iter().any(|sec| sec.sh_type(elf.endian) == kind))
}

/// The separate debug file of `path`: by build id
/// (`/usr/lib/debug/.build-id/ab/cdef....debug`), then by `.gnu_debuglink`
/// name next to the file, in its `.debug/` directory, or under
/// `/usr/lib/debug/` + its directory. The first that exists.
pub fn debug_file(path: &Path, elf: &ElfView<'_>, data: &[u8]) -> Option<std::path::PathBuf> {
    let sections = elf.header.sections(elf.endian, data).ok()?;
    let mut candidates = Vec::new();
    for sec in sections.iter() {
        if sec.sh_type(elf.endian) != elf::SHT_NOTE {
            continue;
        }
        let Ok(Some(mut notes)) = sec.notes(elf.endian, data) else {
            continue;
        };
        while let Ok(Some(note)) = notes.next() {
            if note.name() == b"GNU" && note.n_type(elf.endian) == elf::NT_GNU_BUILD_ID {
                let id: String = note.desc().iter().map(|b| format!("{b:02x}")).collect();
                if id.len() > 2 {
                    candidates.push(std::path::PathBuf::from(format!(
                        "/usr/lib/debug/.build-id/{}/{}.debug",
                        &id[..2],
                        &id[2..]
                    )));
                }
            }
        }
    }
    if let Some((_, sec)) = sections.section_by_name(elf.endian, b".gnu_debuglink") {
        if let Ok(bytes) = sec.data(elf.endian, data) {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            let name = String::from_utf8_lossy(&bytes[..end]).into_owned();
            if !name.is_empty() && !name.contains('/') {
                let dir = path.parent().unwrap_or(Path::new("/"));
                candidates.push(dir.join(&name));
                candidates.push(dir.join(".debug").join(&name));
                let rel = dir.strip_prefix("/").unwrap_or(dir);
                candidates.push(Path::new("/usr/lib/debug").join(rel).join(&name));
            }
        }
    }
    candidates.into_iter().find(|c| c.is_file() && c != path)
}

/// [`debug_file`] for the file `path` whose contents are `data`; `None`
/// when it is not an x86-64 ELF file or has no separate debug file.
pub fn separate_debug_file(path: &Path, data: &[u8]) -> Option<std::path::PathBuf> {
    let elf = ElfView::parse(path, data).ok()?;
    debug_file(path, &elf, data)
}

/// The demangled form of a C++ (Itanium ABI) symbol, `None` for others.
/// Template instances lose the return type the mangling carries
/// (`shop::largest<int>(int, int)`, not `int shop::largest<int>(int, int)`),
/// so they match by name like any other function.
pub fn demangle(name: &str) -> Option<String> {
    if !name.starts_with("_Z") {
        return None;
    }
    let options = cpp_demangle::DemangleOptions::new().no_return_type();
    cpp_demangle::Symbol::new(name)
        .ok()?
        .demangle_with_options(&options)
        .ok()
}

/// `ns::f(int) const` -> `ns::f` (the name before the parameter list).
fn without_parameters(name: &str) -> &str {
    // The parameter list starts at the first `(` outside template brackets.
    let mut depth = 0i32;
    for (i, c) in name.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            '(' if depth <= 0 && i > 0 => return &name[..i],
            _ => {}
        }
    }
    name
}

/// The link-time address of the defined symbol `name` (a function or a
/// data object) in `path`, from `.symtab` or `.dynsym`.
pub fn symbol_address(path: &Path, name: &str) -> Result<Option<u64>, ProbeError> {
    let owned = read_file(path)?;
    let data: &[u8] = &owned;
    let elf = ElfView::parse(path, data)?;
    for table in [elf::SHT_SYMTAB, elf::SHT_DYNSYM] {
        let symbols = elf
            .header
            .sections(elf.endian, data)
            .and_then(|s| s.symbols(elf.endian, data, table))
            .map_err(|e| corrupt(path, format!("bad symbol table ({e})")))?;
        for sym in symbols.iter() {
            if sym.st_shndx(elf.endian) == elf::SHN_UNDEF || sym.st_value(elf.endian) == 0 {
                continue;
            }
            let Ok(raw) = symbols.symbol_name(elf.endian, sym) else {
                continue;
            };
            let raw = String::from_utf8_lossy(raw);
            let base = raw.split('@').next().unwrap_or(&raw);
            if base == name
                || demangle(base).is_some_and(|d| d == name || without_parameters(&d) == name)
            {
                return Ok(Some(sym.st_value(elf.endian)));
            }
        }
    }
    Ok(None)
}

/// The file offset of link-time address `address` in `path` (for
/// `uprobe:PATH:0xADDR`).
pub fn address_to_offset(path: &Path, address: u64) -> Result<u64, ProbeError> {
    let data = read_file(path)?;
    let elf = ElfView::parse(path, &data)?;
    match elf.segment(address) {
        Some((vaddr, _, offset, true)) => Ok(address - vaddr + offset),
        Some(_) => Err(ProbeError::AddressNotExecutable {
            path: path.to_path_buf(),
            addr: address,
        }),
        None => Err(ProbeError::AddressNotMapped {
            path: path.to_path_buf(),
            what: "uprobe address".to_string(),
            addr: address,
        }),
    }
}

fn corrupt(path: &Path, what: String) -> ProbeError {
    ProbeError::CorruptElf {
        path: path.to_path_buf(),
        what,
    }
}

/// The parts of an x86-64 ELF file symbol lookup needs.
pub struct ElfView<'d> {
    header: &'d elf::FileHeader64<Endianness>,
    endian: Endianness,
    /// `(vaddr, filesz, offset, executable)` of each `PT_LOAD`.
    segments: Vec<(u64, u64, u64, bool)>,
}

impl<'d> ElfView<'d> {
    fn parse(path: &Path, data: &'d [u8]) -> Result<ElfView<'d>, ProbeError> {
        check_ident(path, data)?;
        let header = elf::FileHeader64::<Endianness>::parse(data)
            .map_err(|e| corrupt(path, format!("bad ELF header ({e})")))?;
        let endian = header
            .endian()
            .map_err(|e| corrupt(path, format!("bad ELF header ({e})")))?;
        let machine = header.e_machine(endian);
        if machine != elf::EM_X86_64 {
            return Err(ProbeError::UnsupportedMachine {
                path: path.to_path_buf(),
                machine,
            });
        }
        let segments = header
            .program_headers(endian, data)
            .map_err(|e| corrupt(path, format!("bad program headers ({e})")))?
            .iter()
            .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
            .map(|ph| {
                (
                    ph.p_vaddr(endian),
                    ph.p_filesz(endian),
                    ph.p_offset(endian),
                    ph.p_flags(endian) & elf::PF_X != 0,
                )
            })
            .collect();
        Ok(ElfView {
            header,
            endian,
            segments,
        })
    }

    fn segment(&self, address: u64) -> Option<&(u64, u64, u64, bool)> {
        self.segments
            .iter()
            .find(|(vaddr, filesz, _, _)| address >= *vaddr && address - vaddr < *filesz)
    }

    fn file_offset(&self, address: u64) -> Option<u64> {
        self.segment(address)
            .map(|(vaddr, _, offset, _)| address - vaddr + offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_libc_functions_with_wildcards() {
        let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
        if !libc.exists() {
            eprintln!("skipping: {} missing", libc.display());
            return;
        }
        let exact = find_functions(libc, "getpid").expect("reading libc");
        assert_eq!(exact.len(), 1);
        assert!(exact[0].file_offset > 0);
        let many = find_functions(libc, "str*cmp").expect("reading libc");
        assert!(many.iter().any(|f| f.name == "strcmp"), "{many:?}");
        assert!(many.iter().all(|f| glob_match("str*cmp", &f.name)));
    }

    #[test]
    fn demangles_and_strips_parameters() {
        assert_eq!(
            demangle("_ZN2ns5Class6methodEi").as_deref(),
            Some("ns::Class::method(int)")
        );
        assert_eq!(demangle("main"), None);
        assert_eq!(
            demangle("_ZN4shop7largestIiEET_S1_S1_").as_deref(),
            Some("shop::largest<int>(int, int)")
        );
        assert_eq!(
            without_parameters("ns::Class::method(int)"),
            "ns::Class::method"
        );
        assert_eq!(without_parameters("f<int(char)>(long)"), "f<int(char)>");
        assert_eq!(without_parameters("(anonymous)"), "(anonymous)");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let p = Path::new("garbage");
        assert!(functions_from_bytes(p, b"\x7fELF\x02\x01\x01garbage", "*").is_err());
        assert!(functions_from_bytes(p, b"", "*").is_err());
        let mut truncated = std::fs::read("/proc/self/exe").unwrap_or_default();
        truncated.truncate(200);
        if !truncated.is_empty() {
            assert!(functions_from_bytes(p, &truncated, "*").is_err());
        }
    }
}
