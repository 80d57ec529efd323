//! Thin, safe wrappers over the BPF system calls ustrace needs, through
//! libbpf's low-level API (`bpf_map_create`, `bpf_prog_load`,
//! `bpf_link_create`) and the uprobe perf PMU for the fallback attach path.
//!
//! Everything here returns owned file descriptors: dropping them unloads the
//! program, destroys the map or detaches the link.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use libbpf_sys as sys;
use ustrace_codegen::insn::Insn;
use ustrace_codegen::program::{MapKind, UprobeSite};

use crate::RuntimeError;

/// The kernel's number for a map kind of the code generator.
fn raw_map_type(kind: MapKind) -> sys::bpf_map_type {
    match kind {
        MapKind::Hash => sys::BPF_MAP_TYPE_HASH,
        MapKind::PerCpuHash => sys::BPF_MAP_TYPE_PERCPU_HASH,
        MapKind::LruHash => sys::BPF_MAP_TYPE_LRU_HASH,
        MapKind::LruPerCpuHash => sys::BPF_MAP_TYPE_LRU_PERCPU_HASH,
        MapKind::Array => sys::BPF_MAP_TYPE_ARRAY,
        MapKind::PerCpuArray => sys::BPF_MAP_TYPE_PERCPU_ARRAY,
        MapKind::RingBuf => sys::BPF_MAP_TYPE_RINGBUF,
        MapKind::StackTrace => sys::BPF_MAP_TYPE_STACK_TRACE,
        MapKind::LpmTrie => sys::BPF_MAP_TYPE_LPM_TRIE,
    }
}

fn last_os_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// libbpf returns `-errno`; turn that into an io::Error.
fn libbpf_error(ret: i32) -> std::io::Error {
    if ret < 0 {
        std::io::Error::from_raw_os_error(-ret)
    } else {
        last_os_error()
    }
}

/// Creates a map. `name` is truncated to the kernel's 15 characters.
/// `mmapable` asks for an array user space can map
/// ([`MappedArray`]).
pub fn create_map(
    kind: MapKind,
    name: &str,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    mmapable: bool,
) -> Result<OwnedFd, RuntimeError> {
    let short: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .take(15)
        .collect();
    let cname = CString::new(short).unwrap_or_default();
    // An LPM trie must be created without preallocation.
    let opts = sys::bpf_map_create_opts {
        sz: std::mem::size_of::<sys::bpf_map_create_opts>() as _,
        map_flags: match kind {
            MapKind::LpmTrie => sys::BPF_F_NO_PREALLOC,
            MapKind::Array if mmapable => sys::BPF_F_MMAPABLE,
            _ => 0,
        },
        ..Default::default()
    };
    // SAFETY: the name is a valid C string; opts is initialized with its size.
    let fd = unsafe {
        sys::bpf_map_create(
            raw_map_type(kind),
            cname.as_ptr(),
            key_size,
            value_size,
            max_entries,
            &opts,
        )
    };
    if fd < 0 {
        return Err(RuntimeError::MapCreate {
            name: name.to_string(),
            source: libbpf_error(fd),
        });
    }
    // SAFETY: the kernel just gave us this descriptor and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// How a program will be attached, which the kernel must know at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramAttach {
    /// Through one `BPF_TRACE_UPROBE_MULTI` link.
    UprobeMulti,
    /// Through perf events (uprobe PMU fallback, or a perf event for profile).
    PerfEvent,
    /// A `BPF_PROG_TYPE_PERF_EVENT` program (profile sampling).
    Sampling,
    /// Never attached: a raw-tracepoint program run with `BPF_PROG_TEST_RUN`
    /// (BEGIN, END, interval).
    TestRun,
}

/// A program that the kernel accepted, with its verifier log when asked.
pub struct LoadedProgram {
    /// The program's file descriptor.
    pub fd: OwnedFd,
    /// The verifier log (empty unless requested).
    pub log: String,
}

/// Loads `insns` as a GPL program. With `want_log`, the verifier log is
/// captured even on success. On failure the log is always returned.
pub fn load_program(
    name: &str,
    insns: &[Insn],
    attach: ProgramAttach,
    want_log: bool,
) -> Result<LoadedProgram, RuntimeError> {
    let raw: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let short: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(15)
        .collect();
    let cname = CString::new(short).unwrap_or_default();
    let license = c"GPL";
    let (prog_type, expected) = match attach {
        ProgramAttach::UprobeMulti => (sys::BPF_PROG_TYPE_KPROBE, sys::BPF_TRACE_UPROBE_MULTI),
        ProgramAttach::PerfEvent => (sys::BPF_PROG_TYPE_KPROBE, 0),
        ProgramAttach::Sampling => (sys::BPF_PROG_TYPE_PERF_EVENT, 0),
        ProgramAttach::TestRun => (sys::BPF_PROG_TYPE_RAW_TRACEPOINT, 0),
    };
    let funcs = crate::btf::func_info(insns);
    let attempt = |log: Option<&mut Vec<u8>>| -> (i32, String) {
        let mut opts = sys::bpf_prog_load_opts {
            sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
            expected_attach_type: expected,
            ..Default::default()
        };
        if let Some(f) = &funcs {
            opts.prog_btf_fd = f.btf.as_raw_fd() as _;
            opts.func_info = f.records.as_ptr() as *const _;
            opts.func_info_cnt = f.records.len() as _;
            opts.func_info_rec_size = crate::btf::FUNC_INFO_SIZE;
        }
        let has_log = log.is_some();
        let mut buf_ptr = std::ptr::null_mut();
        let mut buf_len = 0usize;
        if let Some(buf) = log {
            buf_ptr = buf.as_mut_ptr();
            buf_len = buf.len();
            opts.log_level = 1;
            opts.log_size = buf_len as u32;
            opts.log_buf = buf_ptr as *mut _;
        }
        // SAFETY: insns points at raw.len() valid 8-byte instructions laid out as
        // struct bpf_insn; name/license are C strings; the log buffer outlives the call.
        let fd = unsafe {
            sys::bpf_prog_load(
                prog_type,
                cname.as_ptr(),
                license.as_ptr(),
                raw.as_ptr() as *const sys::bpf_insn,
                raw.len() as _,
                &mut opts,
            )
        };
        let text = if has_log && !buf_ptr.is_null() {
            // SAFETY: buf_ptr/buf_len describe the caller's live buffer.
            let bytes = unsafe { std::slice::from_raw_parts(buf_ptr, buf_len) };
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            String::from_utf8_lossy(&bytes[..end]).into_owned()
        } else {
            String::new()
        };
        (fd, text)
    };
    let (fd, log) = if want_log {
        let mut buf = vec![0u8; 16 << 20];
        attempt(Some(&mut buf))
    } else {
        attempt(None)
    };
    if fd >= 0 {
        // SAFETY: a fresh descriptor from the kernel.
        return Ok(LoadedProgram {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            log,
        });
    }
    let err = libbpf_error(fd);
    // Retry with a log to explain the refusal.
    let log = if want_log {
        log
    } else {
        let mut buf = vec![0u8; 16 << 20];
        attempt(Some(&mut buf)).1
    };
    Err(RuntimeError::ProgramLoad {
        name: name.to_string(),
        source: err,
        log,
    })
}

/// Attaches `prog` to every site of `path` through one uprobe_multi link.
/// `pid` restricts it to one process (0 = all).
pub fn attach_uprobe_multi(
    prog: &OwnedFd,
    path: &Path,
    sites: &[UprobeSite],
    pid: u32,
    is_return: bool,
) -> Result<OwnedFd, RuntimeError> {
    use std::os::unix::ffi::OsStrExt;
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| RuntimeError::Attach {
        target: path.display().to_string(),
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    })?;
    let offsets: Vec<std::os::raw::c_ulong> = sites.iter().map(|s| s.offset as _).collect();
    let ref_ctrs: Vec<std::os::raw::c_ulong> =
        sites.iter().map(|s| s.ref_ctr_offset as _).collect();
    let cookies: Vec<u64> = sites.iter().map(|s| s.cookie).collect();
    let any_ref = ref_ctrs.iter().any(|&r| r != 0);
    let mut opts = sys::bpf_link_create_opts {
        sz: std::mem::size_of::<sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    opts.__bindgen_anon_1.uprobe_multi = sys::bpf_link_create_opts__bindgen_ty_1__bindgen_ty_3 {
        flags: if is_return {
            sys::BPF_F_UPROBE_MULTI_RETURN
        } else {
            0
        },
        cnt: sites.len() as u32,
        path: cpath.as_ptr(),
        offsets: offsets.as_ptr(),
        ref_ctr_offsets: if any_ref {
            ref_ctrs.as_ptr()
        } else {
            std::ptr::null()
        },
        cookies: cookies.as_ptr(),
        pid,
        ..Default::default()
    };
    // SAFETY: every pointer in opts refers to a live vector or C string above.
    let fd =
        unsafe { sys::bpf_link_create(prog.as_raw_fd(), 0, sys::BPF_TRACE_UPROBE_MULTI, &opts) };
    if fd < 0 {
        return Err(RuntimeError::Attach {
            target: path.display().to_string(),
            source: libbpf_error(fd),
        });
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads the PMU type number of the kernel's `uprobe` perf event source.
fn uprobe_pmu_type() -> Result<u32, std::io::Error> {
    let text = std::fs::read_to_string("/sys/bus/event_source/devices/uprobe/type")?;
    text.trim()
        .parse()
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

/// The fallback attach path: one perf-event uprobe per site, each linked to
/// `prog` (which must have been loaded with [`ProgramAttach::PerfEvent`]).
/// Returns the perf event fd and the link fd; dropping them detaches.
pub fn attach_uprobe_perf(
    prog: &OwnedFd,
    path: &Path,
    site: UprobeSite,
    pid: i32,
    is_return: bool,
) -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    use std::os::unix::ffi::OsStrExt;
    let target = || path.display().to_string();
    let pmu = uprobe_pmu_type().map_err(|e| RuntimeError::Attach {
        target: target(),
        source: e,
    })?;
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| RuntimeError::Attach {
        target: target(),
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    })?;
    let mut attr = sys::perf_event_attr {
        size: std::mem::size_of::<sys::perf_event_attr>() as u32,
        type_: pmu,
        ..Default::default()
    };
    // config bit 0: retprobe; bits 32..63: the semaphore's file offset.
    attr.config = (if is_return { 1 } else { 0 }) | (site.ref_ctr_offset << 32);
    attr.__bindgen_anon_3.config1 = cpath.as_ptr() as u64;
    attr.__bindgen_anon_4.config2 = site.offset;
    // As libbpf does: a process (pid, any cpu) or every process (pid -1,
    // cpu 0). A BPF program on a trace event runs on every CPU either way.
    let (pid_arg, cpu_arg) = if pid > 0 { (pid, -1) } else { (-1, 0) };
    let pfd = open_perf_event(&attr, pid_arg, cpu_arg, &target)?;
    let link = link_perf_event(prog, &pfd, site.cookie, &target)?;
    Ok((pfd, link))
}

/// `perf_event_open(attr, pid, cpu)`, close-on-exec.
fn open_perf_event(
    attr: &sys::perf_event_attr,
    pid: i32,
    cpu: i32,
    target: &dyn Fn() -> String,
) -> Result<OwnedFd, RuntimeError> {
    // SAFETY: attr is a valid perf_event_attr (strings it points at are
    // owned by the caller and outlive the call).
    let pfd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const sys::perf_event_attr,
            pid,
            cpu,
            -1,
            8u64, // PERF_FLAG_FD_CLOEXEC
        )
    } as i32;
    if pfd < 0 {
        return Err(RuntimeError::Attach {
            target: target(),
            source: last_os_error(),
        });
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(pfd) })
}

/// Attaches `prog` to perf event `pfd` through a BPF link with `cookie`.
fn link_perf_event(
    prog: &OwnedFd,
    pfd: &OwnedFd,
    cookie: u64,
    target: &dyn Fn() -> String,
) -> Result<OwnedFd, RuntimeError> {
    let mut opts = sys::bpf_link_create_opts {
        sz: std::mem::size_of::<sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    opts.__bindgen_anon_1.perf_event =
        sys::bpf_link_create_opts__bindgen_ty_1__bindgen_ty_1 { bpf_cookie: cookie };
    // SAFETY: both fds are live.
    let lfd = unsafe {
        sys::bpf_link_create(
            prog.as_raw_fd(),
            pfd.as_raw_fd(),
            sys::BPF_PERF_EVENT,
            &opts,
        )
    };
    if lfd < 0 {
        return Err(RuntimeError::Attach {
            target: target(),
            source: libbpf_error(lfd),
        });
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(lfd) })
}

/// Opens a CPU-clock sampling perf event on `cpu` (every task) firing `hz`
/// times a second (or every `period_ns`) and attaches `prog` to it.
pub fn attach_profile(
    prog: &OwnedFd,
    cpu: i32,
    hz: Option<u64>,
    period_ns: u64,
) -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    let target = || format!("profile sampling on CPU {cpu}");
    let mut attr = sys::perf_event_attr {
        size: std::mem::size_of::<sys::perf_event_attr>() as u32,
        type_: sys::PERF_TYPE_SOFTWARE,
        config: sys::PERF_COUNT_SW_CPU_CLOCK as u64,
        ..Default::default()
    };
    match hz {
        Some(hz) => {
            attr.set_freq(1);
            attr.__bindgen_anon_1.sample_freq = hz;
        }
        None => attr.__bindgen_anon_1.sample_period = period_ns,
    }
    let pfd = open_perf_event(&attr, -1, cpu, &target)?;
    let link = link_perf_event(prog, &pfd, 0, &target)?;
    Ok((pfd, link))
}

/// The online CPU numbers, from /sys/devices/system/cpu/online ("0-3,5").
pub fn online_cpus() -> Vec<i32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut cpus = Vec::new();
    for part in text.trim().split(',') {
        let mut ends = part.splitn(2, '-');
        let a = ends.next().and_then(|s| s.trim().parse::<i32>().ok());
        let b = ends.next().and_then(|s| s.trim().parse::<i32>().ok());
        match (a, b) {
            (Some(a), Some(b)) => cpus.extend(a..=b),
            (Some(a), None) => cpus.push(a),
            _ => {}
        }
    }
    if cpus.is_empty() {
        cpus.push(0);
    }
    cpus
}

/// Number of possible CPUs (the size of per-CPU map values), from
/// /sys/devices/system/cpu/possible.
pub fn possible_cpus() -> usize {
    // SAFETY: plain libbpf query without pointers.
    let n = unsafe { sys::libbpf_num_possible_cpus() };
    if n > 0 {
        n as usize
    } else {
        1
    }
}

/// Reads one element. Returns `Ok(false)` when the key is absent.
pub fn map_lookup(fd: RawFd, key: &[u8], value: &mut [u8]) -> bool {
    // SAFETY: key/value buffers have the map's sizes (caller's contract).
    let r = unsafe {
        sys::bpf_map_lookup_elem(fd, key.as_ptr() as *const _, value.as_mut_ptr() as *mut _)
    };
    r == 0
}

/// Reads and deletes one element in one step, so that no update lands
/// between the two. False when the key is absent or the map cannot do it
/// (arrays).
pub fn map_lookup_and_delete(fd: RawFd, key: &[u8], value: &mut [u8]) -> bool {
    // SAFETY: key/value buffers have the map's sizes (caller's contract).
    let r = unsafe {
        sys::bpf_map_lookup_and_delete_elem(
            fd,
            key.as_ptr() as *const _,
            value.as_mut_ptr() as *mut _,
        )
    };
    r == 0
}

/// Writes one element.
pub fn map_update(fd: RawFd, key: &[u8], value: &[u8]) -> Result<(), std::io::Error> {
    // SAFETY: buffers have the map's sizes (caller's contract).
    let r = unsafe {
        sys::bpf_map_update_elem(fd, key.as_ptr() as *const _, value.as_ptr() as *const _, 0)
    };
    if r < 0 {
        Err(libbpf_error(r))
    } else {
        Ok(())
    }
}

/// Deletes one element (absent keys are not an error).
pub fn map_delete(fd: RawFd, key: &[u8]) {
    // SAFETY: key has the map's key size.
    unsafe {
        sys::bpf_map_delete_elem(fd, key.as_ptr() as *const _);
    }
}

/// All keys of a hash map (`key_size` bytes each).
pub fn map_keys(fd: RawFd, key_size: usize) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut prev: Option<Vec<u8>> = None;
    loop {
        let mut next = vec![0u8; key_size.max(1)];
        let prev_ptr = prev
            .as_ref()
            .map_or(std::ptr::null(), |p| p.as_ptr() as *const _);
        // SAFETY: buffers have key_size bytes.
        let r = unsafe { sys::bpf_map_get_next_key(fd, prev_ptr, next.as_mut_ptr() as *mut _) };
        if r < 0 || keys.len() > 10_000_000 {
            break;
        }
        keys.push(next.clone());
        prev = Some(next);
    }
    keys
}

/// Runs a [`ProgramAttach::TestRun`] program once, synchronously, on the
/// calling CPU, with a zeroed one-argument context.
pub fn run_program(prog: &OwnedFd) -> std::io::Result<()> {
    let ctx = [0u64; 1];
    let mut opts = sys::bpf_test_run_opts {
        sz: std::mem::size_of::<sys::bpf_test_run_opts>() as _,
        ctx_in: ctx.as_ptr() as *const _,
        ctx_size_in: std::mem::size_of_val(&ctx) as u32,
        ..Default::default()
    };
    // SAFETY: opts is a valid, fully initialised struct whose ctx_in points at
    // `ctx`, alive for the call.
    let r = unsafe { sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    if r < 0 {
        return Err(std::io::Error::from_raw_os_error(-r));
    }
    Ok(())
}

/// An array map created mmapable, mapped into this process: its values are
/// written in place, without a system call per element.
pub struct MappedArray {
    ptr: *mut u8,
    len: usize,
}

impl MappedArray {
    /// Maps `value_size * max_entries` bytes of array map `fd` (created
    /// with `mmapable`) for reading and writing.
    pub fn new(fd: RawFd, value_size: usize, max_entries: usize) -> std::io::Result<MappedArray> {
        let len = value_size
            .checked_mul(max_entries)
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a shared mapping of a map fd; the kernel checks len.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(last_os_error());
        }
        Ok(MappedArray {
            ptr: ptr as *mut u8,
            len,
        })
    }

    /// Copies `bytes` to byte offset `at`; false when it does not fit.
    pub fn write(&mut self, at: usize, bytes: &[u8]) -> bool {
        match at.checked_add(bytes.len()) {
            Some(end) if end <= self.len => {
                // SAFETY: [at, end) lies inside the mapping, which we own.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(at), bytes.len())
                };
                true
            }
            _ => false,
        }
    }
}

impl Drop for MappedArray {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what new() mapped.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}
