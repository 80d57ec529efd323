//! The error type of probe discovery.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why probes could not be found. Every message is one line and names the
/// file, process, library or pattern concerned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProbeError {
    /// The file does not exist.
    #[error("{}: no such file", .path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The path is a directory.
    #[error("{}: is a directory, not an ELF file", .path.display())]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The path is a device, FIFO or socket, not a file.
    #[error("{}: not a regular file ({kind}), not an ELF file", .path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead ("a FIFO", ...).
        kind: &'static str,
    },
    /// The file exists but cannot be read.
    #[error("{}: permission denied", .path.display())]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },
    /// Any other I/O error.
    #[error("{}: {message}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
    /// The file does not start with the ELF magic.
    #[error("{}: not an ELF file", .path.display())]
    NotElf {
        /// The file.
        path: PathBuf,
    },
    /// A 32-bit ELF file.
    #[error("{}: 32-bit ELF files are not supported (only x86-64)", .path.display())]
    Elf32Unsupported {
        /// The file.
        path: PathBuf,
    },
    /// A big-endian ELF file.
    #[error("{}: big-endian ELF files are not supported (only x86-64)", .path.display())]
    BigEndianUnsupported {
        /// The file.
        path: PathBuf,
    },
    /// A 64-bit little-endian ELF file for another machine.
    #[error("{}: ELF machine {machine} is not supported (only x86-64)", .path.display())]
    UnsupportedMachine {
        /// The file.
        path: PathBuf,
        /// `e_machine`.
        machine: u16,
    },
    /// The ELF headers cannot be read.
    #[error("{}: corrupt ELF file: {what}", .path.display())]
    CorruptElf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A note section or a stapsdt note is truncated or malformed.
    #[error("{}: corrupt USDT notes: {what}", .path.display())]
    CorruptNotes {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A probe or semaphore address lies in no `PT_LOAD` segment, so it has no file offset.
    #[error("{}: {what} at {addr:#x} is not in any PT_LOAD segment", .path.display())]
    AddressNotMapped {
        /// The file.
        path: PathBuf,
        /// Which address, e.g. `address of probe python:audit`.
        what: String,
        /// The link-time address.
        addr: u64,
    },
    /// A uprobe address lies in a segment that holds no code.
    #[error("{}: address {addr:#x} is not in an executable segment (a uprobe needs code)", .path.display())]
    AddressNotExecutable {
        /// The file.
        path: PathBuf,
        /// The link-time address.
        addr: u64,
    },
    /// No process has this pid.
    #[error("process {pid} does not exist")]
    NoSuchProcess {
        /// The pid.
        pid: u32,
    },
    /// The process exists but its maps cannot be read.
    #[error("process {pid}: cannot read its memory maps: {message}")]
    ProcessAccess {
        /// The pid.
        pid: u32,
        /// The system's message.
        message: String,
    },
    /// A library name that neither the process, ld.so.cache nor the library directories know.
    #[error("library `{name}` not found (searched {}/etc/ld.so.cache and the system library directories)", .pid.map(|p| format!("the objects mapped by process {p}, ")).unwrap_or_default())]
    LibraryNotFound {
        /// The name as given.
        name: String,
        /// The process searched first, if any.
        pid: Option<u32>,
    },
    /// A probe pattern that cannot be parsed.
    #[error("invalid USDT probe `usdt:{pattern}`: {reason}")]
    BadPattern {
        /// The text after `usdt:`.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
    /// The pattern needs a process (`*` or an empty path) but none was given.
    #[error("USDT probe `usdt:{pattern}` needs a process to search (use -p PID)")]
    PidRequired {
        /// The text after `usdt:`.
        pattern: String,
    },
    /// The file part `*` (or empty) means every object of a process, and no
    /// process was given.
    #[error(
        "`{file}` as the file means every object a process maps: give the process with -p PID"
    )]
    AnyObjectNeedsPid {
        /// The file part as given.
        file: String,
    },
    /// The pattern is fine but matches no probe.
    #[error("no USDT probe matches `usdt:{pattern}`{}", if .searched.is_empty() { String::new() } else { format!(" (searched {})", .searched) })]
    NoMatch {
        /// The text after `usdt:`.
        pattern: String,
        /// What was searched, e.g. `3 files` or a path.
        searched: String,
    },
}

impl ProbeError {
    /// Maps an I/O error on `path` to the matching variant.
    pub fn from_io(path: &Path, e: &std::io::Error) -> ProbeError {
        let path = path.to_path_buf();
        match e.kind() {
            std::io::ErrorKind::NotFound => ProbeError::NotFound { path },
            std::io::ErrorKind::PermissionDenied => ProbeError::PermissionDenied { path },
            std::io::ErrorKind::IsADirectory => ProbeError::IsDirectory { path },
            _ => ProbeError::Io {
                path,
                message: e.to_string(),
            },
        }
    }
}
