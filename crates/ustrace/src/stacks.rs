//! Turning `ustack` values into text: the frames are read from the
//! kernel's stack map and symbolized in user space with blazesym against
//! the process they came from, then laid out as bpftrace prints them.
//!
//! ```text
//! printf("%s", ustack)        @[ustack] = count()        ustack(perf)
//!
//!         inner+4             @[                         \t401136 inner+4 (/srv/app)
//!         outer+20                inner+4
//!         main+30                 outer+20
//!                             ]: 17
//! ```
//!
//! A frame is named from the live process first; when that fails (the
//! process has exited), from the file and file offset of the executable
//! mapping it was in: as recorded when the process's unwind tables were
//! loaded, or else as the BPF side logged it when it met the address
//! (`bpf_find_vma` in a stack walk or `usym`; the log names the file by
//! device, inode and name parts, resolved through the mount table, or by
//! the files the tracer knows: those of recorded mappings and the start-up
//! files of a `-c` program).
//! JIT code outside any file is named from the process's perf map, read
//! live or, once the file or the process is gone, from its last snapshot
//! ([`crate::perf_map`]).
//! A frame that cannot be symbolized either way prints as its address,
//! `0x401136`.

use std::cell::RefCell;
use std::collections::HashMap;

use blazesym::normalize::{Normalizer, UserMeta};
use blazesym::symbolize::source::{Elf, Process, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};
use blazesym::Pid;
use ustrace_codegen::program::{StackFormat, StackMode};
use ustrace_runtime::{Mapping, MappingLog};

use crate::perf_map::PerfMaps;

/// One frame after symbolization.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    addr: u64,
    /// `symbol+offset`, or `0xADDR` when unknown.
    text: String,
    /// The function's name alone, when known.
    function: Option<String>,
    /// The file the symbolizer named (shown by `ustack(perf)`).
    module: Option<String>,
    /// The file the address is in per /proc/PID/maps, when known.
    file: Option<String>,
    /// The address's offset in that file, when known.
    file_offset: Option<u64>,
    /// The file's GNU build id, when it has one.
    build_id: Option<Vec<u8>>,
}

impl Frame {
    /// The frame as the output layer's profile frame.
    fn to_profile(&self) -> ustrace_output::profile::Frame {
        ustrace_output::profile::Frame {
            address: self.addr,
            function: self.function.clone(),
            file: self.file.clone().or_else(|| self.module.clone()),
            file_offset: self.file_offset,
            build_id: self.build_id.clone(),
        }
    }
}

/// Where a stack is printed, which decides its indentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StackPlace {
    /// As a printf/print argument: frames indented by 8 spaces.
    Printf,
    /// As a map key: frames indented by 4 spaces.
    MapKey,
}

/// Symbolizes stacks; keeps blazesym's per-file caches between calls, and
/// the frames of every (pid, stack id) it has named, so that stacks of a
/// process that has since exited still print with names.
pub(crate) struct StackFormatter {
    symbolizer: Symbolizer,
    /// The symbolizer without C++ demangling (`cpp_demangle = false`),
    /// made on first use.
    mangled: std::cell::OnceCell<Symbolizer>,
    /// Names are demangled (the default).
    demangle: std::cell::Cell<bool>,
    normalizer: Normalizer,
    named: RefCell<HashMap<(u32, i64), Vec<Frame>>>,
    symbols: RefCell<HashMap<(u32, u64), String>>,
    /// Executable mappings of traced processes, for naming frames from
    /// their files once the processes are gone.
    mappings: RefCell<HashMap<u32, Vec<Mapping>>>,
    /// GNU build ids of files read for frames named from recorded
    /// mappings (`None`: the file has none or cannot be read).
    build_ids: RefCell<HashMap<std::path::PathBuf, Option<Vec<u8>>>>,
    /// The mappings the BPF side logged, read when a frame's process is
    /// gone and no recorded mapping holds it.
    log: RefCell<Option<MappingLog>>,
    /// Paths of the files the tracer knows, by (device as
    /// `/proc/PID/maps` shows it, inode): logged mappings have no path.
    known_files: RefCell<HashMap<(u64, u64), std::path::PathBuf>>,
    /// Snapshots of the traced processes' JIT perf maps.
    perf_maps: RefCell<PerfMaps>,
}

impl StackFormatter {
    pub(crate) fn new() -> StackFormatter {
        StackFormatter {
            // Names only: file and line (DWARF line tables) are never
            // printed, and parsing them made a first symbolization in
            // libc (with libc6-dbg) ~40% slower.
            symbolizer: Symbolizer::builder().enable_code_info(false).build(),
            mangled: std::cell::OnceCell::new(),
            demangle: std::cell::Cell::new(true),
            normalizer: Normalizer::builder().enable_build_ids(true).build(),
            named: RefCell::new(HashMap::new()),
            symbols: RefCell::new(HashMap::new()),
            mappings: RefCell::new(HashMap::new()),
            build_ids: RefCell::new(HashMap::new()),
            log: RefCell::new(None),
            known_files: RefCell::new(HashMap::new()),
            perf_maps: RefCell::new(PerfMaps::default()),
        }
    }

    /// Reads `log` for frames of processes that exited unrecorded.
    pub(crate) fn set_mapping_log(&self, log: MappingLog) {
        *self.log.borrow_mut() = Some(log);
    }

    /// Makes `paths` known by device and inode (files a process is about
    /// to map: a `-c` program and its libraries).
    pub(crate) fn add_known_files(&self, paths: &[std::path::PathBuf]) {
        use std::os::unix::fs::MetadataExt;
        let mut known = self.known_files.borrow_mut();
        for path in paths {
            if let Ok(meta) = std::fs::metadata(path) {
                let dev =
                    u64::from(libc::major(meta.dev())) << 32 | u64::from(libc::minor(meta.dev()));
                known.insert((dev, meta.ino()), path.clone());
            }
        }
    }

    /// Names C++ symbols demangled (`true`, the default) or as the
    /// object file has them (`cpp_demangle = false`).
    pub(crate) fn set_demangling(&self, on: bool) {
        self.demangle.set(on);
    }

    /// The symbolizer for the current demangling setting.
    fn symbolizer(&self) -> &Symbolizer {
        if self.demangle.get() {
            &self.symbolizer
        } else {
            self.mangled.get_or_init(|| {
                Symbolizer::builder()
                    .enable_code_info(false)
                    .enable_demangling(false)
                    .build()
            })
        }
    }

    /// Records `pid`'s executable mappings (from its unwind-table load,
    /// or its maps read at start), and snapshots its perf map (a JIT
    /// names code in it before it runs the code).
    pub(crate) fn set_mappings(&self, pid: u32, mappings: &[Mapping]) {
        self.perf_maps.borrow_mut().refresh(pid);
        let mut known = self.known_files.borrow_mut();
        for m in mappings.iter().filter(|m| !m.path.as_os_str().is_empty()) {
            known.insert((m.dev, m.inode), m.path.clone());
        }
        let mut all = self.mappings.borrow_mut();
        if all.get(&pid).is_none_or(|m| m.as_slice() != mappings) {
            all.insert(pid, mappings.to_vec());
        }
    }

    /// The recorded file mapping of `pid` holding `addr`; when there is
    /// none, the logged mappings of `pid` whose files are known are
    /// recorded first.
    fn file_mapping(&self, pid: u32, addr: u64) -> Option<Mapping> {
        let holding = |all: &HashMap<u32, Vec<Mapping>>| {
            all.get(&pid)?
                .iter()
                .find(|m| addr >= m.start && addr < m.end && !m.path.as_os_str().is_empty())
                .cloned()
        };
        if let Some(m) = holding(&self.mappings.borrow()) {
            return Some(m);
        }
        let logged = self.log.borrow().as_ref()?.mappings_of(pid);
        let mut known = self.known_files.borrow_mut();
        let mut all = self.mappings.borrow_mut();
        let recorded = all.entry(pid).or_default();
        for mut m in logged {
            if m.path.as_os_str().is_empty() {
                match known.get(&(m.dev, m.inode)) {
                    Some(path) => m.path = path.clone(),
                    None => continue,
                }
            } else {
                known.insert((m.dev, m.inode), m.path.clone());
            }
            if !recorded.contains(&m) {
                recorded.push(m);
            }
        }
        holding(&all)
    }

    /// One line per perf map snapshot taken since the last call (`-d`).
    pub(crate) fn take_perf_map_reports(&self) -> Vec<String> {
        self.perf_maps.borrow_mut().take_reports()
    }

    /// Names `addr` from the snapshot of `pid`'s perf map (JIT code).
    fn frame_from_perf_map(&self, pid: u32, addr: u64) -> Option<Frame> {
        let maps = self.perf_maps.borrow();
        let (name, offset) = maps.lookup(pid, addr)?;
        Some(Frame {
            addr,
            text: format!("{name}+{offset}"),
            function: Some(name.to_string()),
            module: Some(PerfMaps::path(pid).to_string_lossy().into_owned()),
            file: None,
            file_offset: None,
            build_id: None,
        })
    }

    /// Names `addr` from the file of its recorded (or logged) mapping in
    /// `pid`.
    fn frame_from_file(&self, pid: u32, addr: u64) -> Option<Frame> {
        let m = self.file_mapping(pid, addr)?;
        let offset = addr - m.start + m.offset;
        let src = Source::Elf(Elf::new(&m.path));
        match self
            .symbolizer()
            .symbolize_single(&src, Input::FileOffset(offset))
        {
            Ok(Symbolized::Sym(sym)) => Some(Frame {
                addr,
                text: format!("{}+{}", sym.name, sym.offset),
                function: Some(sym.name.to_string()),
                module: Some(m.path.to_string_lossy().into_owned()),
                file: Some(m.path.to_string_lossy().into_owned()),
                file_offset: Some(offset),
                build_id: self.build_id_of(&m.path),
            }),
            _ => None,
        }
    }

    /// The GNU build id of the file at `path`, read once per file.
    fn build_id_of(&self, path: &std::path::Path) -> Option<Vec<u8>> {
        if let Some(id) = self.build_ids.borrow().get(path) {
            return id.clone();
        }
        let id = blazesym::helper::read_elf_build_id(&path)
            .ok()
            .flatten()
            .map(|b| b.to_vec());
        self.build_ids
            .borrow_mut()
            .insert(path.to_path_buf(), id.clone());
        id
    }

    /// Symbolizes stack `id` of `pid` now (while the process lives) unless
    /// already done; `addrs` reads its frames.
    pub(crate) fn remember(&self, pid: u32, id: i64, addrs: impl FnOnce() -> Vec<u64>) {
        if id >= 0 && !self.named.borrow().contains_key(&(pid, id)) {
            self.name_frames(pid, id, &addrs());
        }
    }

    /// Symbolizes `addrs` and keeps the result when it named something.
    fn name_frames(&self, pid: u32, id: i64, addrs: &[u64]) -> Vec<Frame> {
        let frames = self.frames(pid, addrs);
        if id >= 0
            && frames
                .iter()
                .any(|f| f.module.is_some() || !f.text.starts_with("0x"))
        {
            self.named.borrow_mut().insert((pid, id), frames.clone());
        }
        frames
    }

    /// [`StackFormatter::render`] for stack `id`, from the remembered names
    /// when there are some.
    pub(crate) fn render_id(
        &self,
        pid: u32,
        id: i64,
        addrs: impl FnOnce() -> Vec<u64>,
        mode: StackMode,
        place: StackPlace,
    ) -> String {
        if let Some(frames) = self.named.borrow().get(&(pid, id)) {
            return layout(frames, mode, place);
        }
        let frames = self.name_frames(pid, id, &addrs());
        layout(&frames, mode, place)
    }

    /// The frames of stack `id` (innermost first) with their files, file
    /// offsets and build ids, from the remembered names when there are
    /// some.
    pub(crate) fn profile_frames(
        &self,
        pid: u32,
        id: i64,
        addrs: impl FnOnce() -> Vec<u64>,
        depth: usize,
    ) -> Vec<ustrace_output::profile::Frame> {
        let remembered = self.named.borrow().get(&(pid, id)).cloned();
        let frames = remembered.unwrap_or_else(|| self.name_frames(pid, id, &addrs()));
        frames.iter().take(depth).map(Frame::to_profile).collect()
    }

    /// `usym(addr)`: the name of the function holding `addr` in process
    /// `pid` (no offset, as bpftrace prints it), or the address in hex.
    /// Names found are remembered, for when the process is gone.
    pub(crate) fn symbol(&self, pid: u32, addr: u64) -> String {
        if let Some(name) = self.symbols.borrow().get(&(pid, addr)) {
            return name.clone();
        }
        match self.frames(pid, &[addr]).pop() {
            Some(f) if !f.text.starts_with("0x") => {
                let name = f
                    .text
                    .rsplit_once('+')
                    .map_or(f.text.clone(), |(name, _)| name.to_string());
                self.symbols.borrow_mut().insert((pid, addr), name.clone());
                name
            }
            _ => format!("0x{addr:x}"),
        }
    }

    fn frames(&self, pid: u32, addrs: &[u64]) -> Vec<Frame> {
        // What only the live process can tell is read first: its maps,
        // then the frames outside its files (JIT code, named from its perf
        // map, which a JIT usually deletes at exit). Symbolizing a file
        // can take a few hundred ms the first time (a large debug file),
        // long enough for a short-lived process to be gone.
        let files = self.files(pid, addrs);
        let outside_files = |i: usize| files.get(i).is_some_and(|f| f.0.is_none());
        if (0..addrs.len()).any(|i| files.get(i).is_none_or(|f| f.0.is_none())) {
            self.perf_maps.borrow_mut().refresh(pid);
        }
        let (first, rest): (Vec<usize>, Vec<usize>) =
            (0..addrs.len()).partition(|&i| outside_files(i));
        let mut symbolized: Vec<Option<Symbolized<'_>>> = addrs.iter().map(|_| None).collect();
        for batch in [first, rest] {
            let batch_addrs: Vec<u64> = batch.iter().map(|&i| addrs[i]).collect();
            for (i, s) in batch
                .into_iter()
                .zip(self.symbolize_process(pid, &batch_addrs))
            {
                symbolized[i] = Some(s);
            }
        }
        addrs
            .iter()
            .enumerate()
            .map(|(i, &addr)| {
                let (path, file_offset, build_id) = files.get(i).cloned().unwrap_or_default();
                match symbolized.get(i) {
                    Some(Some(Symbolized::Sym(sym))) => Frame {
                        addr,
                        text: format!("{}+{}", sym.name, sym.offset),
                        function: Some(sym.name.to_string()),
                        module: sym
                            .module
                            .as_ref()
                            .map(|m| m.to_string_lossy().into_owned()),
                        file: path,
                        file_offset,
                        build_id,
                    },
                    _ => self
                        .frame_from_file(pid, addr)
                        .or_else(|| self.frame_from_perf_map(pid, addr))
                        .unwrap_or(Frame {
                            addr,
                            text: format!("0x{addr:x}"),
                            function: None,
                            module: None,
                            file: path,
                            file_offset,
                            build_id,
                        }),
                }
            })
            .collect()
    }

    /// Symbolizes `addrs` in the live process `pid`. One unreadable file
    /// must not cost the other frames their names: on a batch failure,
    /// each address is tried alone.
    fn symbolize_process(&self, pid: u32, addrs: &[u64]) -> Vec<Symbolized<'_>> {
        if addrs.is_empty() {
            return Vec::new();
        }
        let src = Source::Process(Process::new(Pid::from(pid)));
        match self.symbolizer().symbolize(&src, Input::AbsAddr(addrs)) {
            Ok(s) => s,
            Err(_) => addrs
                .iter()
                .map(|a| {
                    self.symbolizer()
                        .symbolize_single(&src, Input::AbsAddr(*a))
                        .unwrap_or(Symbolized::Unknown(
                            blazesym::symbolize::Reason::Unsupported,
                        ))
                })
                .collect(),
        }
    }

    /// For each address: its file, file offset and build id, as far as
    /// `/proc/PID/maps` and the file tell (nothing when the process is
    /// gone).
    #[allow(clippy::type_complexity)]
    fn files(
        &self,
        pid: u32,
        addrs: &[u64],
    ) -> Vec<(Option<String>, Option<u64>, Option<Vec<u8>>)> {
        let Ok(out) = self.normalizer.normalize_user_addrs(Pid::from(pid), addrs) else {
            return Vec::new();
        };
        out.outputs
            .iter()
            .map(|&(offset, meta)| match out.meta.get(meta) {
                Some(UserMeta::Elf(elf)) => (
                    Some(elf.path.to_string_lossy().into_owned()),
                    Some(offset),
                    elf.build_id.as_ref().map(|b| b.to_vec()),
                ),
                _ => (None, None, None),
            })
            .collect()
    }

    /// The text of the stack whose frames are `addrs` (innermost first) in
    /// process `pid`.
    #[cfg(test)]
    pub(crate) fn render(
        &self,
        pid: u32,
        addrs: &[u64],
        mode: StackMode,
        place: StackPlace,
    ) -> String {
        layout(&self.frames(pid, addrs), mode, place)
    }
}

/// Lays frames out as bpftrace does (see the module docs).
fn layout(frames: &[Frame], mode: StackMode, place: StackPlace) -> String {
    {
        let frames = &frames[..frames.len().min(usize::from(mode.depth))];
        let mut out = String::from("\n");
        for f in frames {
            match mode.format {
                StackFormat::Perf => {
                    let module = f.module.as_deref().unwrap_or("[unknown]");
                    out.push_str(&format!("\t{:x} {} ({module})\n", f.addr, f.text));
                }
                StackFormat::Bpftrace => {
                    let indent = match place {
                        StackPlace::Printf => "        ",
                        StackPlace::MapKey => "    ",
                    };
                    out.push_str(indent);
                    out.push_str(&f.text);
                    out.push('\n');
                }
                StackFormat::Raw => out.push_str(&format!("{:x}\n", f.addr)),
                StackFormat::BuildId => match (&f.build_id, f.file_offset) {
                    (Some(id), Some(offset)) => {
                        out.push_str(&build_id_hex(id));
                        out.push_str(&format!(" 0x{offset:02x}\n"));
                    }
                    _ => out.push_str(&format!("{:x}\n", f.addr)),
                },
            }
        }
        out
    }
}

/// A build id as the kernel's `bpf_stack_build_id` holds it: 20 bytes
/// (shorter ids zero-padded), in hex.
fn build_id_hex(id: &[u8]) -> String {
    const BPF_BUILD_ID_SIZE: usize = 20;
    let mut bytes = id[..id.len().min(BPF_BUILD_ID_SIZE)].to_vec();
    bytes.resize(BPF_BUILD_ID_SIZE, 0);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn marker_function() -> u64 {
        marker_function as *const () as u64
    }

    #[test]
    fn names_frames_from_recorded_mappings_when_the_process_is_gone() {
        let f = StackFormatter::new();
        let addr = marker_function() + 1;
        let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let maps = ustrace_runtime::parse_exec_mappings(&text);
        assert!(maps.iter().any(|m| addr >= m.start && addr < m.end));
        // A pid that cannot exist: only the recorded mappings can name it.
        let gone = u32::MAX - 1;
        f.set_mappings(gone, &maps);
        let mode = StackMode {
            format: StackFormat::Bpftrace,
            depth: 127,
        };
        let text = f.render(gone, &[addr], mode, StackPlace::Printf);
        assert!(text.contains("marker_function+1"), "{text}");
        // A profile of the gone process still carries the file's build id
        // (go tool pprof names the main mapping by it).
        let own = maps
            .iter()
            .find(|m| addr >= m.start && addr < m.end)
            .map(|m| m.path.clone())
            .unwrap_or_default();
        let expected = blazesym::helper::read_elf_build_id(&own)
            .ok()
            .flatten()
            .map(|b| b.to_vec());
        assert!(expected.is_some(), "the test binary has a build id");
        let frames = f.profile_frames(gone, 1, || vec![addr], 1);
        assert_eq!(frames[0].build_id, expected);
    }

    #[test]
    fn symbolizes_this_process_and_lays_out_frames() {
        let f = StackFormatter::new();
        let addr = marker_function() + 1;
        let me = std::process::id();
        let mode = StackMode {
            format: StackFormat::Bpftrace,
            depth: 127,
        };
        let text = f.render(me, &[addr, 0x10], mode, StackPlace::MapKey);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "");
        assert!(
            lines[1].starts_with("    ") && lines[1].contains("marker_function+1"),
            "{text}"
        );
        assert_eq!(lines[2], "    0x10");
        let printf = f.render(me, &[0x10], mode, StackPlace::Printf);
        assert_eq!(printf, "\n        0x10\n");
        let perf = f.render(
            me,
            &[0x10],
            StackMode {
                format: StackFormat::Perf,
                depth: 1,
            },
            StackPlace::MapKey,
        );
        assert_eq!(perf, "\n\t10 0x10 ([unknown])\n");
        let cut = f.render(
            me,
            &[0x10, 0x20, 0x30],
            StackMode {
                format: StackFormat::Bpftrace,
                depth: 2,
            },
            StackPlace::Printf,
        );
        assert_eq!(cut.lines().count(), 3, "{cut}");
    }
}
