//! Reading USDT probes out of an ELF file.
//!
//! # How USDT probes are recorded
//!
//! A USDT ("user statically defined tracing") probe is a place in a
//! program that a developer marked with `DTRACE_PROBEn(provider, name, ...)`
//! or `STAP_PROBEn(...)` from `<sys/sdt.h>`. The macro compiles to a single
//! `nop` instruction at the probe site, plus an ELF note that says where the
//! `nop` is and where each argument lives at that instant. The program never
//! calls anything: an untraced probe costs one `nop`.
//!
//! ## The note
//!
//! Each probe site has one note in the section `.note.stapsdt` (not
//! allocated: it is not loaded into memory). The note's owner is `"stapsdt"`
//! and its type is 3 (`NT_STAPSDT`). Its descriptor is, for a 64-bit file:
//!
//! ```text
//!   u64 pc          link-time address of the `nop`
//!   u64 base        link-time address of the `.stapsdt.base` section
//!   u64 semaphore   link-time address of the probe's semaphore, 0 if none
//!   char provider[] NUL-terminated, e.g. "python"
//!   char name[]     NUL-terminated, e.g. "function__entry"
//!   char args[]     NUL-terminated, e.g. "8@%rbx 8@%r15 -4@%eax"
//! ```
//!
//! The same provider and name can appear in many notes: a probe inside an
//! inlined function, or a macro used twice, gives one note per site, each
//! with its own argument string (registers differ from site to site). We
//! group notes by (provider, name) into one [`UsdtProbe`] with one
//! [`UsdtLocation`] per note, in note order.
//!
//! ## `.stapsdt.base` and prelink
//!
//! `.stapsdt.base` is a one-byte allocated section that every object with
//! probes defines. The note records its link-time address as `base`. If a
//! tool such as prelink later moves the file's sections, the note (not
//! allocated, so not relocated) still holds the old addresses, but the
//! section header shows the new address of `.stapsdt.base`. The difference
//! is how far everything moved, and we add it to `pc` and `semaphore`.
//! Without prelink the two are equal and nothing changes.
//!
//! ## File offsets
//!
//! The kernel attaches a uprobe to an (inode, file offset) pair, not to an
//! address: the same library is mapped at different addresses in different
//! processes. We translate each link-time address into a file offset through
//! the `PT_LOAD` program header that contains it:
//! `offset = addr - p_vaddr + p_offset`. The same holds for executables
//! (`ET_EXEC`) and position-independent code (`ET_DYN`).
//!
//! ## Semaphores
//!
//! A probe built with `_SDT_HAS_SEMAPHORES` has a `unsigned short` counter
//! in the `.probes` section; the program tests it (`if (PROV_NAME_ENABLED())`)
//! before computing expensive arguments. A tracer must make the counter
//! non-zero while it is attached. The kernel does this itself when the
//! uprobe is created with a `ref_ctr_offset`: the semaphore's *file offset*,
//! computed like the pc's. Some producers (the Rust `probe` crate) give every
//! site its own semaphore, so the semaphore belongs to the location, not to
//! the probe.
//!
//! ## The probe instruction
//!
//! A uprobe on a one-byte `nop` (0x90) is emulated cheaply by the kernel.
//! Newer USDT headers emit `nop` followed by a 10-byte `nop`
//! (`66 2e 0f 1f 84 00 00 00 00 00`), the note pointing at the one-byte
//! `nop`; future kernels can optimize a uprobe placed on the 10-byte `nop`
//! (location + 1). We record which shape we saw ([`NopKind`]), and
//! [`attach_offset`] decides where to attach (today: always at the note's
//! location).
//!
//! ## Arguments
//!
//! The argument string holds one `SIZE@LOCATION` spec per argument,
//! separated by spaces, written in AT&T assembler syntax by GCC from the
//! operands it chose (see [`crate::spec`]). A rip-relative operand such as
//! `-4@counter+8(%rip)` names a symbol: we resolve it through `.symtab`,
//! then `.dynsym`, into a static address. An argument we cannot read is an
//! error on that argument only; the probe stays usable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use object::Endianness;

use crate::error::ProbeError;
use crate::spec::{parse_raw_arg_spec, split_args, ArgSpec, ArgSpecError};

/// Owner name of USDT notes.
pub const STAPSDT_NOTE_OWNER: &[u8] = b"stapsdt";
/// Note type of USDT notes (`NT_STAPSDT`).
pub const STAPSDT_NOTE_TYPE: u32 = 3;
/// The 10-byte nop newer USDT headers place after the probe's 1-byte nop.
pub const NOP10: [u8; 10] = [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00];
/// Whether [`attach_offset`] attaches on the 10-byte nop (location + 1) when
/// the site has one. Off: only future kernels optimize uprobes there.
pub const ATTACH_ON_NOP10: bool = false;

/// All USDT probes of one ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtFile {
    /// The file that was read.
    pub path: PathBuf,
    /// Probes grouped by (provider, name), in order of first note.
    pub probes: Vec<UsdtProbe>,
}

/// One probe (provider and name) with every site it occurs at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtProbe {
    /// Provider, e.g. `python`.
    pub provider: String,
    /// Probe name, e.g. `function__entry`.
    pub name: String,
    /// Every site, in note order (never empty).
    pub locations: Vec<UsdtLocation>,
}

/// One probe site (one note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtLocation {
    /// Link-time address of the probe instruction, after the `.stapsdt.base` adjustment.
    pub pc: u64,
    /// `.stapsdt.base` address as recorded in the note.
    pub base: u64,
    /// File offset of the probe instruction.
    pub file_offset: u64,
    /// Link-time address of the semaphore after adjustment, 0 when there is none.
    pub semaphore: u64,
    /// File offset of the semaphore (the kernel's `ref_ctr_offset`), `None` when there is none.
    pub semaphore_offset: Option<u64>,
    /// The note's argument string, e.g. `-4@%eax 8@-16(%rbp)`.
    pub args_text: String,
    /// Each argument, parsed and resolved, or why it cannot be read.
    pub args: Vec<Result<ArgSpec, ArgSpecError>>,
    /// The instruction found at the site.
    pub nop: NopKind,
}

/// The instruction bytes found at a probe site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NopKind {
    /// A one-byte `nop` (0x90): the classic `<sys/sdt.h>` probe.
    Nop1,
    /// A one-byte `nop` followed by a 10-byte `nop` ([`NOP10`]), from newer USDT headers.
    Nop1Nop10,
    /// Anything else (or bytes outside the file).
    Other,
}

impl NopKind {
    /// Classifies the bytes starting at a probe site.
    pub fn from_bytes(bytes: &[u8]) -> NopKind {
        match bytes {
            [0x90, rest @ ..] if rest.starts_with(&NOP10) => NopKind::Nop1Nop10,
            [0x90, ..] => NopKind::Nop1,
            _ => NopKind::Other,
        }
    }

    /// A short name for listings: `nop`, `nop+nop10`, `other`.
    pub fn describe(self) -> &'static str {
        match self {
            NopKind::Nop1 => "nop",
            NopKind::Nop1Nop10 => "nop+nop10",
            NopKind::Other => "other",
        }
    }
}

/// The file offset to attach the uprobe for `loc` to. Today this is always
/// the one-byte `nop` the note points at; with [`ATTACH_ON_NOP10`] it would
/// be the 10-byte `nop` after it when the site has one.
pub fn attach_offset(loc: &UsdtLocation) -> u64 {
    attach_offset_with(loc, ATTACH_ON_NOP10)
}

/// [`attach_offset`] with the choice made by the caller (for tests and for
/// kernels known to optimize uprobes on the 10-byte nop).
pub fn attach_offset_with(loc: &UsdtLocation, on_nop10: bool) -> u64 {
    if on_nop10 && loc.nop == NopKind::Nop1Nop10 {
        loc.file_offset + 1
    } else {
        loc.file_offset
    }
}

impl UsdtFile {
    /// The probe with this provider and name, if any.
    pub fn probe(&self, provider: &str, name: &str) -> Option<&UsdtProbe> {
        self.probes
            .iter()
            .find(|p| p.provider == provider && p.name == name)
    }
}

/// Reads every USDT probe of the ELF file at `path`. A file without probes
/// gives an empty list, not an error.
pub fn read_usdt_probes(path: &Path) -> Result<UsdtFile, ProbeError> {
    let data = read_file(path)?;
    from_bytes(path, &data)
}

/// Reads a whole file, turning I/O errors into one-line [`ProbeError`]s.
/// Only regular files: the file is opened without blocking (a FIFO would
/// block `open` forever) and read no further than its size (a device like
/// `/dev/zero` never ends).
pub fn read_file(path: &Path) -> Result<Vec<u8>, ProbeError> {
    use std::io::Read;
    let (file, len) = open_regular(path)?;
    let mut data = Vec::with_capacity(len as usize);
    file.take(len)
        .read_to_end(&mut data)
        .map_err(|e| ProbeError::from_io(path, &e))?;
    Ok(data)
}

/// Opens `path` for reading if it is a regular file; returns it and its size.
pub(crate) fn open_regular(path: &Path) -> Result<(std::fs::File, u64), ProbeError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| ProbeError::from_io(path, &e))?;
    let meta = file.metadata().map_err(|e| ProbeError::from_io(path, &e))?;
    if meta.is_dir() {
        return Err(ProbeError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        return Err(ProbeError::NotRegular {
            path: path.to_path_buf(),
            kind: file_kind(&meta),
        });
    }
    Ok((file, meta.len()))
}

/// What kind of file `meta` describes ("a directory", "a FIFO", ...), for
/// messages that refuse anything but a regular file.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_file() {
        "a regular file"
    } else {
        "special file"
    }
}

/// Like [`read_usdt_probes`], on the bytes of a file; `path` is only used in
/// error messages and copied into [`UsdtFile::path`].
pub fn from_bytes(path: &Path, data: &[u8]) -> Result<UsdtFile, ProbeError> {
    check_ident(path, data)?;
    let corrupt = |what: String| ProbeError::CorruptElf {
        path: path.to_path_buf(),
        what,
    };
    let header = elf::FileHeader64::<Endianness>::parse(data)
        .map_err(|e| corrupt(format!("bad ELF header ({e})")))?;
    let endian = header
        .endian()
        .map_err(|e| corrupt(format!("bad ELF header ({e})")))?;
    let machine = header.e_machine(endian);
    if machine != elf::EM_X86_64 {
        return Err(ProbeError::UnsupportedMachine {
            path: path.to_path_buf(),
            machine,
        });
    }
    let sections = header
        .sections(endian, data)
        .map_err(|e| corrupt(format!("bad section headers ({e})")))?;

    // Collect raw notes first; most files have none, and then nothing else is read.
    let mut raw_notes = Vec::new();
    for section in sections.iter() {
        if section.sh_type(endian) != elf::SHT_NOTE {
            continue;
        }
        let name = sections.section_name(endian, section).unwrap_or(b"");
        let mut notes = match section.notes(endian, data) {
            Ok(Some(n)) => n,
            Ok(None) => continue,
            Err(e) => {
                return Err(ProbeError::CorruptNotes {
                    path: path.to_path_buf(),
                    what: format!(
                        "note section {} extends past the end of the file ({e})",
                        String::from_utf8_lossy(name)
                    ),
                })
            }
        };
        loop {
            let note = match notes.next() {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    return Err(ProbeError::CorruptNotes {
                        path: path.to_path_buf(),
                        what: format!("in section {}: {e}", String::from_utf8_lossy(name)),
                    })
                }
            };
            if note.name() != STAPSDT_NOTE_OWNER || note.n_type(endian) != STAPSDT_NOTE_TYPE {
                continue;
            }
            raw_notes.push(parse_note_desc(path, note.desc(), endian)?);
        }
    }
    if raw_notes.is_empty() {
        return Ok(UsdtFile {
            path: path.to_path_buf(),
            probes: Vec::new(),
        });
    }

    let base_addr = sections
        .section_by_name(endian, b".stapsdt.base")
        .map(|(_, s)| s.sh_addr(endian));
    let segments: Vec<Segment> = header
        .program_headers(endian, data)
        .map_err(|e| corrupt(format!("bad program headers ({e})")))?
        .iter()
        .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
        .map(|ph| Segment {
            vaddr: ph.p_vaddr(endian),
            memsz: ph.p_memsz(endian),
            offset: ph.p_offset(endian),
        })
        .collect();

    let mut symbols: Option<HashMap<&[u8], u64>> = None;
    let mut probes: Vec<UsdtProbe> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for note in raw_notes {
        let (pc, semaphore) = match base_addr {
            Some(b) if b != note.base => {
                let delta = b.wrapping_sub(note.base);
                let sem = if note.semaphore != 0 {
                    note.semaphore.wrapping_add(delta)
                } else {
                    0
                };
                (note.pc.wrapping_add(delta), sem)
            }
            _ => (note.pc, note.semaphore),
        };
        let what = |kind: &str| format!("{kind} of probe {}:{}", note.provider, note.name);
        let file_offset =
            to_file_offset(&segments, pc).ok_or_else(|| ProbeError::AddressNotMapped {
                path: path.to_path_buf(),
                what: what("address"),
                addr: pc,
            })?;
        let semaphore_offset = if semaphore != 0 {
            Some(to_file_offset(&segments, semaphore).ok_or_else(|| {
                ProbeError::AddressNotMapped {
                    path: path.to_path_buf(),
                    what: what("semaphore"),
                    addr: semaphore,
                }
            })?)
        } else {
            None
        };
        let nop = usize::try_from(file_offset)
            .ok()
            .and_then(|o| data.get(o..))
            .map(NopKind::from_bytes)
            .unwrap_or(NopKind::Other);
        let mut args = Vec::new();
        for text in split_args(&note.args) {
            let arg = parse_raw_arg_spec(text).and_then(|raw| {
                if raw.needs_symbols() && symbols.is_none() {
                    symbols = Some(symbol_map(&sections, endian, data));
                }
                raw.resolve(pc, |name| {
                    symbols
                        .as_ref()
                        .and_then(|m| m.get(name.as_bytes()).copied())
                })
            });
            args.push(arg);
        }
        let loc = UsdtLocation {
            pc,
            base: note.base,
            file_offset,
            semaphore,
            semaphore_offset,
            args_text: note.args,
            args,
            nop,
        };
        let key = (note.provider, note.name);
        match index.get(&key) {
            Some(&i) => probes[i].locations.push(loc),
            None => {
                index.insert(key.clone(), probes.len());
                probes.push(UsdtProbe {
                    provider: key.0,
                    name: key.1,
                    locations: vec![loc],
                });
            }
        }
    }
    Ok(UsdtFile {
        path: path.to_path_buf(),
        probes,
    })
}

/// Checks the ELF identification bytes, so that the common wrong files get a
/// precise message before any parsing.
pub(crate) fn check_ident(path: &Path, data: &[u8]) -> Result<(), ProbeError> {
    if data.len() < 16 || &data[..4] != b"\x7fELF" {
        return Err(ProbeError::NotElf {
            path: path.to_path_buf(),
        });
    }
    match data[4] {
        elf::ELFCLASS64 => {}
        elf::ELFCLASS32 => {
            return Err(ProbeError::Elf32Unsupported {
                path: path.to_path_buf(),
            })
        }
        c => {
            return Err(ProbeError::CorruptElf {
                path: path.to_path_buf(),
                what: format!("unknown ELF class {c}"),
            })
        }
    }
    match data[5] {
        elf::ELFDATA2LSB => Ok(()),
        elf::ELFDATA2MSB => Err(ProbeError::BigEndianUnsupported {
            path: path.to_path_buf(),
        }),
        d => Err(ProbeError::CorruptElf {
            path: path.to_path_buf(),
            what: format!("unknown ELF data encoding {d}"),
        }),
    }
}

struct RawNote {
    pc: u64,
    base: u64,
    semaphore: u64,
    provider: String,
    name: String,
    args: String,
}

fn parse_note_desc(path: &Path, desc: &[u8], endian: Endianness) -> Result<RawNote, ProbeError> {
    let corrupt = |what: &str| ProbeError::CorruptNotes {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    if desc.len() < 24 {
        return Err(corrupt("stapsdt note shorter than its three addresses"));
    }
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&desc[i * 8..i * 8 + 8]);
        match endian {
            Endianness::Little => u64::from_le_bytes(b),
            Endianness::Big => u64::from_be_bytes(b),
        }
    };
    let (pc, base, semaphore) = (word(0), word(1), word(2));
    let mut strings = desc[24..].split(|&b| b == 0);
    let mut next = |what: &str, required: bool| -> Result<String, ProbeError> {
        match strings.next() {
            Some(s) => String::from_utf8(s.to_vec())
                .map_err(|_| corrupt(&format!("stapsdt note {what} is not UTF-8"))),
            None if required => Err(corrupt(&format!("stapsdt note without a {what}"))),
            None => Ok(String::new()),
        }
    };
    let provider = next("provider", true)?;
    let name = next("name", true)?;
    let args = next("argument string", false)?;
    if provider.is_empty() || name.is_empty() {
        return Err(corrupt("stapsdt note with an empty provider or name"));
    }
    Ok(RawNote {
        pc,
        base,
        semaphore,
        provider,
        name,
        args,
    })
}

struct Segment {
    vaddr: u64,
    memsz: u64,
    offset: u64,
}

fn to_file_offset(segments: &[Segment], addr: u64) -> Option<u64> {
    segments
        .iter()
        .find(|s| addr >= s.vaddr && addr - s.vaddr < s.memsz)
        .map(|s| (addr - s.vaddr).wrapping_add(s.offset))
}

/// Defined symbols of `.symtab`, then `.dynsym` (the first definition of a
/// name wins). Unreadable tables are skipped.
fn symbol_map<'data>(
    sections: &object::read::elf::SectionTable<'data, elf::FileHeader64<Endianness>>,
    endian: Endianness,
    data: &'data [u8],
) -> HashMap<&'data [u8], u64> {
    let mut map = HashMap::new();
    for kind in [elf::SHT_SYMTAB, elf::SHT_DYNSYM] {
        let Ok(table) = sections.symbols(endian, data, kind) else {
            continue;
        };
        let strings = table.strings();
        for sym in table.symbols() {
            if sym.is_undefined(endian) || matches!(sym.st_type(), elf::STT_SECTION | elf::STT_FILE)
            {
                continue;
            }
            if let Ok(name) = sym.name(endian, strings) {
                if !name.is_empty() {
                    map.entry(name).or_insert(sym.st_value(endian));
                }
            }
        }
    }
    map
}
