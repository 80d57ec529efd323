//! What the code generator is given besides the script: settings and the
//! attach points as the resolve layer found them in files and processes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ustrace_dwarf::{Function, TypeId, TypeTable};
use ustrace_probes::ArgSpec;

/// Settings that change the generated code.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Only events of this process (`-p`, `-c`).
    pub pid: Option<u32>,
    /// Bytes read by `str()` by default (bpftrace's BPFTRACE_STRLEN, 64).
    pub str_len: usize,
    /// Positional parameters `$1`, `$2`, ...
    pub positional: Vec<String>,
    /// The child's pid for `cpid` (`-c`).
    pub child_pid: Option<u32>,
    /// Ring buffer size in bytes (a power of two, multiple of the page size).
    pub ringbuf_bytes: u32,
    /// Allow `system()` (`--unsafe`).
    pub allow_unsafe: bool,
    /// `uaddr("name")`: link-time addresses of the symbols the script asks
    /// for, found in its probed files by the resolve layer.
    pub uaddr: HashMap<String, u64>,
    /// Walk `ustack` by frame pointers (the kernel's `bpf_get_stackid`)
    /// instead of unwind tables.
    pub frame_pointer_stacks: bool,
    /// The debug information of each uprobe file (`args`, typed `retval`,
    /// casts to program types, `sizeof`/`offsetof` of them); an `Err` says
    /// why there is none (no DWARF). Filled by the resolve layer only when
    /// the script needs it.
    pub program_types: HashMap<PathBuf, Result<Arc<TracedTypes>, String>>,
    /// `-k`: report each failed read of user memory at once, with the
    /// script location (failures are counted either way).
    pub warn_failed_reads: bool,
    /// The number of online CPUs, for `ncpus` (filled by the caller; 1 by
    /// default).
    pub ncpus: u32,
    /// The number of possible CPUs (the kernel's `nr_cpu_ids`: per-CPU
    /// maps hold one value for each), read by the caller just before the
    /// program is loaded; `for ($kv : @m)` over a `count()`/`sum()` map adds
    /// up that many values. 1 by default.
    pub possible_cpus: u32,
    /// `ustack` without a mode prints as perf does (`config = {
    /// stack_mode = perf }`).
    pub stack_format: crate::program::StackFormat,
    /// Where the running kernel's `task_struct` keeps the fields `ppid`
    /// reads (from its BTF, filled by the library when a script uses
    /// `ppid`); the error says why they are unknown.
    pub task_parent: Result<TaskParentOffsets, String>,
    /// The device and inode of ustrace's pid namespace
    /// (`/proc/self/ns/pid`), for `pid(curr_ns)` and `tid(curr_ns)`; an
    /// `Err` says why they are unknown.
    pub pid_namespace: Result<(u64, u64), String>,
    /// Where the running kernel keeps a mapping's range, offset, flags
    /// and file identity (from its BTF, filled by the library when a
    /// script walks user stacks): the walker then finds the table of a
    /// code address's file with `bpf_find_vma` when its process has no
    /// entries of its own yet. The error says why they are unknown (the
    /// walker then takes frame-pointer steps there).
    pub vma_fields: Result<VmaOffsets, String>,
}

/// Byte offsets of the kernel structures behind a user mapping (from the
/// running kernel's BTF): `vm_area_struct`, `file`, `inode`,
/// `super_block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmaOffsets {
    /// `vm_area_struct.vm_start` (unsigned long).
    pub vm_start: u32,
    /// `vm_area_struct.vm_end` (unsigned long).
    pub vm_end: u32,
    /// `vm_area_struct.vm_pgoff` (file offset in pages).
    pub vm_pgoff: u32,
    /// `vm_area_struct.vm_flags` (`VM_EXEC` = 4).
    pub vm_flags: u32,
    /// `vm_area_struct.vm_file` (null for anonymous memory).
    pub vm_file: u32,
    /// `file.f_inode`.
    pub f_inode: u32,
    /// `inode.i_ino`.
    pub i_ino: u32,
    /// `inode.i_sb`.
    pub i_sb: u32,
    /// `super_block.s_dev` (the kernel's `dev_t`: major << 20 | minor).
    pub s_dev: u32,
    /// `file.f_path.dentry`.
    pub f_path_dentry: u32,
    /// `dentry.d_name.name` (the name's characters).
    pub d_name_name: u32,
    /// `dentry.d_parent`.
    pub d_parent: u32,
}

/// Byte offsets in the kernel's `struct task_struct` (from its BTF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskParentOffsets {
    /// `struct task_struct *real_parent`.
    pub real_parent: u32,
    /// `pid_t tgid` (the process id).
    pub tgid: u32,
}

/// What one file's debug information says about the functions a script
/// probes and the types it names, in one type table.
#[derive(Debug, Default)]
pub struct TracedTypes {
    /// The types of the file, as far as the questions below reached.
    pub types: TypeTable,
    /// Each probed function by file offset, or why it has no entry.
    pub functions: HashMap<u64, Result<Function, String>>,
    /// `args` as a whole, by function file offset: a struct whose
    /// members are the parameters, each at an 8-byte-aligned offset (the
    /// layout `print(args)` fills), or why there is none.
    pub args_records: HashMap<u64, Result<TypeId, String>>,
    /// The type names the script writes, as [`ustrace_lang::ast::TypeName::display`]
    /// spells them (`struct req*`, `struct req`), or why the file has none
    /// by that name (with suggestions).
    pub named: HashMap<String, Result<TypeId, String>>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            pid: None,
            str_len: 64,
            positional: Vec::new(),
            child_pid: None,
            ringbuf_bytes: 8 << 20,
            allow_unsafe: false,
            uaddr: HashMap::new(),
            frame_pointer_stacks: false,
            program_types: HashMap::new(),
            warn_failed_reads: false,
            ncpus: 1,
            possible_cpus: 1,
            stack_format: crate::program::StackFormat::Bpftrace,
            task_parent: Err("the kernel's type information was not read".to_string()),
            pid_namespace: Err("the pid namespace was not read".to_string()),
            vma_fields: Err("the kernel's type information was not read".to_string()),
        }
    }
}

/// An attach point after resolution against files and processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedAttach {
    /// `BEGIN`.
    Begin,
    /// `END`.
    End,
    /// `interval:...`.
    Interval {
        /// Period in nanoseconds.
        period_ns: u64,
    },
    /// The USDT probes an attach point matched.
    Usdt(Vec<UsdtTarget>),
    /// The functions a `uprobe`/`uretprobe` attach point matched.
    Uprobe(Vec<UprobeFunction>),
    /// `profile:hz:N` (Some(N)) or `profile:us:N` etc. (period in ns).
    Profile {
        /// Samples per second per CPU.
        hz: Option<u64>,
        /// Sampling period in nanoseconds, when `hz` is `None`.
        period_ns: u64,
    },
    /// A `uprobe`/`usdt` attach point that matched nothing and is skipped
    /// (`missing_probes`): nothing attaches there. A block whose attach
    /// points are all skipped is still checked, so the maps it writes
    /// exist (and print) as if its probes never fired.
    Skipped,
}

/// One function (or address) to place a uprobe on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeFunction {
    /// The file to attach to (host path).
    pub path: PathBuf,
    /// The path as the user should see it (in `probe`).
    pub display_path: String,
    /// The function's name (or the address as written).
    pub function: String,
    /// File offset of the instruction to probe.
    pub file_offset: u64,
    /// True for `uretprobe` (fires on return).
    pub is_return: bool,
}

/// One USDT probe in one file, with all of its locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtTarget {
    /// The file to attach to (host path).
    pub path: PathBuf,
    /// The path as the user should see it (in `probe`).
    pub display_path: String,
    /// Provider name.
    pub provider: String,
    /// Probe name.
    pub name: String,
    /// Each location.
    pub sites: Vec<UsdtSite>,
}

/// One location of a USDT probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtSite {
    /// File offset to attach the uprobe at.
    pub file_offset: u64,
    /// File offset of the semaphore, 0 if none.
    pub semaphore_offset: u64,
    /// Link-time address of the site (for static operands).
    pub pc: u64,
    /// Parsed argument specs; an `Err` holds why the argument is unreadable.
    pub args: Vec<Result<ArgSpec, String>>,
}
