//! What `bpf_find_vma` finds: the callback that copies a mapping's range,
//! page offset, device and inode into the walker's state, the mapping log
//! and file names it leaves for user space (to name addresses of a process
//! that exited before it looked), and `usym`'s lookup.

use super::{ret, LogMaps};
use crate::builder::Builder;
use crate::insn::{self, helper, AluOp, JmpOp, Reg, R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9};
use crate::options::VmaOffsets;
use crate::program::{MapDef, MapKind, MapRole};

/// Bytes of a mapping-log key: pid (u32, then 4 zero bytes), mapping
/// start.
pub const LOG_KEY_SIZE: u32 = 16;
/// Bytes of a mapping-log value: kernel device (u32, then 4 zero bytes),
/// inode, page offset, mapping end.
pub const LOG_VALUE_SIZE: u32 = 32;
/// Entries of the mapping log (least recently used ones go first).
pub const MAX_LOGGED_MAPPINGS: u32 = 8192;

/// Name parts kept per file: the file's own name and its directories up
/// to its file system's root.
pub const NAME_PARTS: usize = 8;
/// Bytes of one name part (NUL-terminated; a longer name is cut, and then
/// does not resolve).
pub const NAME_PART_SIZE: usize = 32;
/// Bytes of a file-names value: the parts (innermost first), then the
/// number of parts (u64) up to and including the root's `/`.
pub const NAME_VALUE_SIZE: u32 = (NAME_PARTS * NAME_PART_SIZE + 8) as u32;
/// Files whose names are kept (least recently used ones go first).
pub const MAX_NAMED_FILES: u32 = 1024;

/// The mapping log (LRU hash: each file-backed code mapping
/// `bpf_find_vma` found, for a stack walk or `usym`, keyed by (pid,
/// start)), the file names (LRU hash keyed by the file's device and inode:
/// its name parts, read from its dentries) and their per-CPU scratch, in
/// [`LogMaps`] order: what user space needs to name addresses of a
/// process that exited before it looked.
pub fn mapping_log_defs() -> [MapDef; 3] {
    [
        MapDef {
            kind: MapKind::LruHash,
            key_size: LOG_KEY_SIZE,
            value_size: LOG_VALUE_SIZE,
            max_entries: MAX_LOGGED_MAPPINGS,
            role: MapRole::MappingLog,
        },
        MapDef {
            kind: MapKind::LruHash,
            key_size: 16,
            value_size: NAME_VALUE_SIZE,
            max_entries: MAX_NAMED_FILES,
            role: MapRole::FileNames,
        },
        MapDef {
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: NAME_VALUE_SIZE,
            max_entries: 1,
            role: MapRole::FileNameScratch,
        },
    ]
}

/// Bytes of the state the `bpf_find_vma` callback fills: the last mapping
/// found. Laid out so that the mapping-log key (pid, start), the files-map
/// key (device, inode, page offset) and the mapping-log value (device,
/// inode, page offset, end) are each contiguous.
pub const VMA_STATE_SIZE: usize = 64;
pub(super) const V_TMP: i16 = 0;
/// The process (u32, then 4 zero bytes), set by the caller.
pub(super) const V_PID: i16 = 8;
pub(super) const V_START: i16 = 16;
pub(super) const V_DEV: i16 = 24;
const V_INO: i16 = 32;
pub(super) const V_PGOFF: i16 = 40;
pub(super) const V_END: i16 = 48;
pub(super) const V_KIND: i16 = 56;
/// Not executable: a return address cannot point there.
pub(super) const VMA_NOT_CODE: i32 = 0;
/// Executable, no file (JIT code, the vdso).
const VMA_ANONYMOUS: i32 = 1;
/// Executable, from a file: the key fields are set.
pub(super) const VMA_FILE: i32 = 2;
/// `VM_EXEC` in `vm_flags`.
const VM_EXEC: i32 = 4;
/// `BPF_NOEXIST`: a map update that only adds.
const BPF_NOEXIST: i32 = 1;

/// Emits `bpf_find_vma(current, addr, ...)` for `usym`: the mapping
/// holding the address stored at stack slot `addr` goes to the mapping
/// log (when it is file-backed code). `vma_state` is [`VMA_STATE_SIZE`]
/// bytes of stack. Uses r0-r5.
pub fn emit_log_mapping(
    b: &mut Builder,
    log: LogMaps,
    offsets: &VmaOffsets,
    addr: i16,
    vma_state: i16,
) {
    let func = match b.func("log_mapping") {
        Some(f) => f,
        None => b.add_func("log_mapping", vma_callback(offsets, log)),
    };
    b.zero_stack(vma_state, VMA_STATE_SIZE);
    b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
    b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
    b.emit(insn::stx(8, R10, vma_state + V_PID, R0));
    b.emit(insn::call(helper::GET_CURRENT_TASK_BTF));
    b.emit(insn::mov64_reg(R1, R0));
    b.emit(insn::ldx(8, R2, R10, addr));
    b.load_func(R3, func);
    b.emit(insn::mov64_reg(R4, R10));
    b.emit(insn::alu64_imm(AluOp::Add, R4, i32::from(vma_state)));
    b.emit(insn::mov64_imm(R5, 0));
    b.emit(insn::call(helper::FIND_VMA));
}

/// The `bpf_find_vma` callback (r1 = task, r2 = vma, r3 = the
/// [`VMA_STATE_SIZE`] state): copies the mapping's range, page offset and
/// kind, and for a file its device and inode, into the state, and logs a
/// file's mapping under (pid, start). Returns 0 (the only value allowed).
pub(super) fn vma_callback(o: &VmaOffsets, log: LogMaps) -> crate::builder::Finished {
    let mut b = Builder::new();
    let st = R9;
    let out = b.label();
    b.emit(insn::mov64_reg(st, R3));
    b.emit(insn::mov64_reg(R6, R2));
    // kernel read of `size` bytes at `base + off` into state[dst].
    let read = |b: &mut Builder, size: i32, dst: i16, base: Reg, off: u32| {
        b.emit(insn::mov64_reg(R1, st));
        b.emit(insn::alu64_imm(AluOp::Add, R1, i32::from(dst)));
        b.emit(insn::mov64_imm(R2, size));
        b.emit(insn::mov64_reg(R3, base));
        b.emit(insn::alu64_imm(AluOp::Add, R3, off as i32));
        b.emit(insn::call(helper::PROBE_READ_KERNEL));
    };
    for field in [V_DEV, V_INO, V_KIND] {
        b.emit(insn::st_imm(8, st, field, 0));
    }
    read(&mut b, 8, V_START, R6, o.vm_start);
    read(&mut b, 8, V_END, R6, o.vm_end);
    read(&mut b, 8, V_PGOFF, R6, o.vm_pgoff);
    read(&mut b, 8, V_TMP, R6, o.vm_flags);
    b.emit(insn::ldx(8, R1, st, V_TMP));
    b.emit(insn::alu64_imm(AluOp::And, R1, VM_EXEC));
    b.jmp_imm(JmpOp::Jeq, R1, 0, out);
    b.emit(insn::st_imm(8, st, V_KIND, VMA_ANONYMOUS));
    // vma->vm_file->f_inode (a failed read leaves zero: no file).
    read(&mut b, 8, V_TMP, R6, o.vm_file);
    b.emit(insn::ldx(8, R7, st, V_TMP));
    b.jmp_imm(JmpOp::Jeq, R7, 0, out);
    // r6 = the file (the vma is not needed any more).
    b.emit(insn::mov64_reg(R6, R7));
    read(&mut b, 8, V_TMP, R7, o.f_inode);
    b.emit(insn::ldx(8, R7, st, V_TMP));
    b.jmp_imm(JmpOp::Jeq, R7, 0, out);
    read(&mut b, 8, V_INO, R7, o.i_ino);
    read(&mut b, 8, V_TMP, R7, o.i_sb);
    b.emit(insn::ldx(8, R7, st, V_TMP));
    b.jmp_imm(JmpOp::Jeq, R7, 0, out);
    read(&mut b, 4, V_DEV, R7, o.s_dev);
    b.emit(insn::st_imm(8, st, V_KIND, VMA_FILE));
    // log[(pid, start)] = (dev, ino, pgoff, end)
    b.load_map(R1, log.mappings);
    b.emit(insn::mov64_reg(R2, st));
    b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(V_PID)));
    b.emit(insn::mov64_reg(R3, st));
    b.emit(insn::alu64_imm(AluOp::Add, R3, i32::from(V_DEV)));
    b.emit(insn::mov64_imm(R4, 0));
    b.emit(insn::call(helper::MAP_UPDATE_ELEM));
    emit_file_name(&mut b, o, log, st, out);
    b.bind(out);
    ret(&mut b, 0);
    // Every label above is bound: finish cannot fail.
    b.finish(ustrace_lang::ast::Span::default())
        .unwrap_or_default()
}

/// In the `bpf_find_vma` callback (r9 = its state, r6 = the file): the
/// first time a file is met, its name parts (its dentry's name, then each
/// parent's, up to its file system's root) go to `log.names` under
/// (device, inode): user space finds the path from them and the mount
/// table. Jumps to `out` when done.
fn emit_file_name(
    b: &mut Builder,
    o: &VmaOffsets,
    log: LogMaps,
    st: Reg,
    out: crate::builder::Label,
) {
    b.load_map(R1, log.names);
    b.emit(insn::mov64_reg(R2, st));
    b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(V_DEV)));
    b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    b.jmp_imm(JmpOp::Jne, R0, 0, out);
    b.emit(insn::st_imm(4, st, V_TMP, 0));
    b.load_map(R1, log.scratch);
    b.emit(insn::mov64_reg(R2, st));
    b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(V_TMP)));
    b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    b.jmp_imm(JmpOp::Jeq, R0, 0, out);
    b.emit(insn::mov64_reg(R8, R0));
    let count_at = (NAME_PARTS * NAME_PART_SIZE) as i16;
    b.emit(insn::st_imm(8, R8, count_at, 0));
    // kernel read of a pointer at `base + off` into r7 (0 on failure).
    let read_ptr = |b: &mut Builder, base: Reg, off: u32| {
        b.emit(insn::mov64_reg(R1, st));
        b.emit(insn::alu64_imm(AluOp::Add, R1, i32::from(V_TMP)));
        b.emit(insn::mov64_imm(R2, 8));
        b.emit(insn::mov64_reg(R3, base));
        b.emit(insn::alu64_imm(AluOp::Add, R3, off as i32));
        b.emit(insn::call(helper::PROBE_READ_KERNEL));
        b.emit(insn::ldx(8, R7, st, V_TMP));
    };
    // r6 = file->f_path.dentry
    read_ptr(b, R6, o.f_path_dentry);
    b.emit(insn::mov64_reg(R6, R7));
    let reached_root = b.label();
    for part in 0..NAME_PARTS {
        b.jmp_imm(JmpOp::Jeq, R6, 0, out);
        // The part: dentry->d_name.name.
        read_ptr(b, R6, o.d_name_name);
        b.emit(insn::mov64_reg(R1, R8));
        b.emit(insn::alu64_imm(
            AluOp::Add,
            R1,
            (part * NAME_PART_SIZE) as i32,
        ));
        b.emit(insn::mov64_imm(R2, NAME_PART_SIZE as i32));
        b.emit(insn::mov64_reg(R3, R7));
        b.emit(insn::call(helper::PROBE_READ_KERNEL_STR));
        b.emit(insn::st_imm(8, R8, count_at, part as i32 + 1));
        // The root of its file system is its own parent.
        read_ptr(b, R6, o.d_parent);
        b.jmp_reg(JmpOp::Jeq, R7, R6, reached_root);
        b.emit(insn::mov64_reg(R6, R7));
    }
    // Deeper than NAME_PARTS: no name.
    b.goto(out);
    b.bind(reached_root);
    b.load_map(R1, log.names);
    b.emit(insn::mov64_reg(R2, st));
    b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(V_DEV)));
    b.emit(insn::mov64_reg(R3, R8));
    b.emit(insn::mov64_imm(R4, BPF_NOEXIST));
    b.emit(insn::call(helper::MAP_UPDATE_ELEM));
}
