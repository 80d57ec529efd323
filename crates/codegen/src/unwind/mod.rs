//! `ustack` by unwind tables: a user-stack walker in generated eBPF.
//!
//! User space (crates/runtime) loads, for each traced process, the unwind
//! tables of its executable mappings (built by crates/unwind from
//! `.eh_frame`) into two maps:
//!
//! - **rows** (array, [`ROW_SIZE`]-byte rows): every file's rows, sorted by
//!   link-time pc within each file's slice;
//! - **mappings** (LPM trie): key `{prefixlen, pid, big-endian address}`,
//!   value [`MappingValue`]. Each executable mapping is split into aligned
//!   address blocks, so one lookup finds the mapping of any address. A
//!   pid-only entry (prefix 32) marks "known process, address outside its
//!   code": the walk stops there instead of producing garbage frames.
//!
//! - **files** (hash): key `{device, inode, page offset}` of a file's
//!   `PT_LOAD` segment, value [`MappingValue`] whose first field is the
//!   file offset minus the link-time address: the same rows, found by file
//!   identity instead of by process.
//!
//! The walk is a `bpf_loop` (up to [`USTACK_MAX_DEPTH`] iterations) whose
//! callback handles frame number `index`: record the pc, find its mapping, binary
//! search the file's rows for the pc (for callers, pc-1: a return address
//! points after the call), then compute the CFA (`rsp+N`, `rbp+N` or the
//! PLT form), read the return address at CFA-8 and, when the row says so,
//! the saved `rbp`. A pc in a mapping without rows falls back to the frame
//! pointer for that one frame.
//!
//! A pc the trie does not place (a process whose entries are not written
//! yet: the first milliseconds after `exec`, a forked child, a process not
//! traced by pid; or a library `dlopen`ed since the last refresh) is
//! looked up with `bpf_find_vma`: the mapping's range, page offset and
//! file (device, inode, read at offsets from the kernel's BTF,
//! [`VmaOffsets`]) lead to the files map. No mapping at all ends the walk;
//! a mapping that is not executable ends it too; anonymous code, a file
//! without rows, or a busy `bpf_find_vma` (it can be called once per walk
//! with interrupts off, as in `profile`) take a frame-pointer step. The
//! last mapping found is kept in the walker's state, so consecutive frames
//! in one file need one call.
//!
//! The frames go to a per-CPU scratch buffer, then into a hash map keyed by
//! an FNV-1a hash of the frames; the `ustack` value is (id, pid) with id =
//! [`WALKED_ID_BIT`] | hash (62 bits), beside the (stack id, pid) of
//! `bpf_get_stackid`, so map keys, printing and `-f folded` work unchanged.
//! The walk starts from the task's user registers (`bpf_task_pt_regs`),
//! right for uprobes and for `profile` samples taken in kernel mode alike.

mod vma;

pub use vma::{
    emit_log_mapping, mapping_log_defs, LOG_KEY_SIZE, LOG_VALUE_SIZE, MAX_LOGGED_MAPPINGS,
    MAX_NAMED_FILES, NAME_PARTS, NAME_PART_SIZE, NAME_VALUE_SIZE, VMA_STATE_SIZE,
};
use vma::{
    vma_callback, VMA_FILE, VMA_NOT_CODE, V_DEV, V_END, V_KIND, V_PGOFF, V_PID, V_START, V_TMP,
};

use crate::builder::{Builder, MapId};
use crate::insn::{self, helper, AluOp, JmpOp, Reg, R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9};
use crate::options::VmaOffsets;
use crate::program::{MapDef, MapKind, MapRole, USTACK_MAX_DEPTH};

/// Bytes of one row in the rows map (crates/unwind's `Row::to_bytes`).
pub const ROW_SIZE: u32 = 16;
/// Rows the rows map holds (all files of all traced processes).
pub const MAX_ROWS: u32 = 1 << 20;
/// Binary-search steps: enough for one file of [`MAX_ROWS`] rows.
const SEARCH_STEPS: usize = 21;
/// Entries of the mappings LPM trie.
pub const MAX_MAPPING_PREFIXES: u32 = 1 << 17;
/// Bytes of an LPM key: prefix length (u32), pid (u32), address (u64 BE).
pub const MAPPING_KEY_SIZE: u32 = 16;
/// Bits of an LPM key's data (pid and address).
pub const MAPPING_KEY_BITS: u32 = 96;

/// Value of a mappings-map entry (24 bytes, native endian); a files-map
/// entry has the same layout, with the file offset minus the link-time
/// address in place of the bias:
///
/// ```text
/// 0..8   bias: file link-time address = pc - bias
/// 8..12  first row of the file in the rows map
/// 12..16 number of rows (0: no unwind information, use the frame pointer)
/// 16..20 flags: [`MAPPING_OUTSIDE`] = not code of this process, stop
/// 20..24 zero
/// ```
pub struct MappingValue;

impl MappingValue {
    /// Size in bytes.
    pub const SIZE: u32 = 24;
}

/// Flag of the pid-only mappings entry: the address is outside the
/// process's executable mappings.
pub const MAPPING_OUTSIDE: u32 = 1;

/// Bytes of a files-map key: kernel device (u32, then 4 zero bytes),
/// inode (u64), page offset of the segment in the file (u64).
pub const FILE_KEY_SIZE: u32 = 24;
/// Entries of the files map (executable segments of every file built).
pub const MAX_FILE_SEGMENTS: u32 = 8192;

/// Set in the id of a stack walked by tables (a key of the
/// [`MapRole::WalkedStacks`] map); ids without it come from
/// `bpf_get_stackid`.
pub const WALKED_ID_BIT: u64 = 1 << 62;

/// The maps the walker uses.
#[derive(Debug, Clone, Copy)]
pub struct UnwindMaps {
    /// Walked stacks, keyed by id.
    pub stacks: MapId,
    /// Table rows.
    pub rows: MapId,
    /// Executable mappings per process.
    pub mappings: MapId,
    /// Per-CPU frame buffer.
    pub scratch: MapId,
    /// Segments of files with tables, by file identity.
    pub files: MapId,
    /// Mappings `bpf_find_vma` found, for naming frames later.
    pub log: LogMaps,
}

/// The maps where `bpf_find_vma` lookups leave what user space needs to
/// name an address after its process exited.
#[derive(Debug, Clone, Copy)]
pub struct LogMaps {
    /// The mapping log ([`mapping_log_defs`]).
    pub mappings: MapId,
    /// Each file's name parts, by (device, inode).
    pub names: MapId,
    /// A per-CPU buffer the name parts are gathered in.
    pub scratch: MapId,
}

/// Definitions of the maps, by role, in [`UnwindMaps`] order.
pub fn map_defs() -> [MapDef; 5] {
    [
        MapDef {
            kind: MapKind::Hash,
            key_size: 8,
            value_size: 8 * USTACK_MAX_DEPTH as u32,
            max_entries: 4096,
            role: MapRole::WalkedStacks,
        },
        MapDef {
            kind: MapKind::Array,
            key_size: 4,
            value_size: ROW_SIZE,
            max_entries: MAX_ROWS,
            role: MapRole::UnwindRows,
        },
        MapDef {
            kind: MapKind::LpmTrie,
            key_size: MAPPING_KEY_SIZE,
            value_size: MappingValue::SIZE,
            max_entries: MAX_MAPPING_PREFIXES,
            role: MapRole::UnwindMappings,
        },
        MapDef {
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: SCRATCH_SIZE,
            max_entries: 1,
            role: MapRole::UnwindScratch,
        },
        MapDef {
            kind: MapKind::Hash,
            key_size: FILE_KEY_SIZE,
            value_size: MappingValue::SIZE,
            max_entries: MAX_FILE_SEGMENTS,
            role: MapRole::UnwindFiles,
        },
    ]
}

/// Frame buffer: 127 frames and a terminator.
const SCRATCH_SIZE: u32 = 8 * (USTACK_MAX_DEPTH as u32 + 1);

/// Bytes of walker state the caller reserves on its stack.
pub const STATE_SIZE: usize = 72 + VMA_STATE_SIZE;

// Offsets in the state (shared by the caller and the callback).
const S_PC: i16 = 0;
const S_SP: i16 = 8;
const S_BP: i16 = 16;
/// The number of frames walked, in the walker's state.
pub(crate) const S_DEPTH: i16 = 24;
const S_HASH: i16 = 32;
const S_KEY_LEN: i16 = 40;
const S_KEY_PID: i16 = 44;
const S_KEY_ADDR: i16 = 48;
const S_ZERO: i16 = 56;
const S_ROW_KEY: i16 = 60;
const S_REL: i16 = 64;
/// The `bpf_find_vma` state (below), inside the walker's.
const S_VMA: i16 = 72;
const S_TMP: i16 = S_VMA + V_TMP;

/// The lowest address a user code page can have (the null page below).
const USER_SPACE_START: i32 = 0x10000;
const ENOENT: i32 = 2;
/// One past the highest x86-64 user address.
const USER_SPACE_END: u64 = 0x0000_8000_0000_0000;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const EFAULT: i32 = 14;

// pt_regs offsets (x86-64).
const PT_RBP: i32 = 32;
const PT_RIP: i32 = 128;
const PT_RSP: i32 = 152;

/// Emits the walk of the current task's user stack into `b`: the 16-byte
/// `ustack` value (stack id, pid) lands at `slot`. `state` is
/// [`STATE_SIZE`] bytes of stack the caller reserved; at most `depth`
/// frames are walked (`ustack(n)`), so stacks that differ only deeper
/// share an id. `vma` says where the kernel keeps a mapping's fields
/// (`None`: no `bpf_find_vma` lookups). Uses r0-r5 only.
pub fn emit_ustack(
    b: &mut Builder,
    maps: &UnwindMaps,
    vma: Option<&VmaOffsets>,
    depth: u8,
    state: i16,
    slot: i16,
) {
    let func = match b.func("ustack_walk_frame") {
        Some(f) => f,
        None => {
            let body = frame_callback(maps, vma);
            b.add_func("ustack_walk_frame", body)
        }
    };
    b.zero_stack(state, STATE_SIZE);
    // User registers of the current task.
    b.emit(insn::call(helper::GET_CURRENT_TASK_BTF));
    b.emit(insn::mov64_reg(R1, R0));
    b.emit(insn::call(helper::TASK_PT_REGS));
    b.emit(insn::stx(8, R10, state + S_TMP, R0));
    for (field, off) in [(S_PC, PT_RIP), (S_SP, PT_RSP), (S_BP, PT_RBP)] {
        b.emit(insn::mov64_reg(R1, R10));
        b.emit(insn::alu64_imm(AluOp::Add, R1, (state + field) as i32));
        b.emit(insn::mov64_imm(R2, 8));
        b.emit(insn::ldx(8, R3, R10, state + S_TMP));
        b.emit(insn::alu64_imm(AluOp::Add, R3, off));
        b.emit(insn::call(helper::PROBE_READ_KERNEL));
    }
    b.emit(insn::call(helper::GET_CURRENT_PID_TGID));
    b.emit(insn::alu64_imm(AluOp::Rsh, R0, 32));
    b.emit(insn::stx(4, R10, state + S_KEY_PID, R0));
    b.emit(insn::stx(8, R10, state + S_VMA + V_PID, R0));
    b.emit(insn::stx(8, R10, slot + 8, R0));
    b.mov_imm(R1, FNV_OFFSET as i64);
    b.emit(insn::stx(8, R10, state + S_HASH, R1));

    let fail = b.label();
    let done = b.label();
    let limit = i32::from(depth.clamp(1, USTACK_MAX_DEPTH));
    // bpf_loop(depth, callback, &state, 0)
    b.emit(insn::mov64_imm(R1, limit));
    b.load_func(R2, func);
    b.emit(insn::mov64_reg(R3, R10));
    b.emit(insn::alu64_imm(AluOp::Add, R3, state as i32));
    b.emit(insn::mov64_imm(R4, 0));
    b.emit(insn::call(helper::LOOP));

    // Store the frames under their id; an empty walk is -EFAULT, as
    // bpf_get_stackid reports a stack it cannot read.
    b.load_map(R1, maps.scratch);
    b.emit(insn::mov64_reg(R2, R10));
    b.emit(insn::alu64_imm(AluOp::Add, R2, (state + S_ZERO) as i32));
    b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    b.jmp_imm(JmpOp::Jeq, R0, 0, fail);
    b.emit(insn::ldx(8, R1, R10, state + S_DEPTH));
    b.jmp_imm(JmpOp::Jeq, R1, 0, fail);
    b.jmp_imm(JmpOp::Jgt, R1, i32::from(USTACK_MAX_DEPTH), fail);
    b.emit(insn::alu64_imm(AluOp::Lsh, R1, 3));
    b.emit(insn::alu64_reg(AluOp::Add, R1, R0));
    b.emit(insn::st_imm(8, R1, 0, 0));
    b.emit(insn::mov64_reg(R3, R0));
    b.emit(insn::ldx(8, R1, R10, state + S_HASH));
    b.emit(insn::alu64_imm(AluOp::Rsh, R1, 2));
    b.mov_imm(R2, WALKED_ID_BIT as i64);
    b.emit(insn::alu64_reg(AluOp::Or, R1, R2));
    b.emit(insn::stx(8, R10, slot, R1));
    b.load_map(R1, maps.stacks);
    b.emit(insn::mov64_reg(R2, R10));
    b.emit(insn::alu64_imm(AluOp::Add, R2, slot as i32));
    b.emit(insn::mov64_imm(R4, 0));
    b.emit(insn::call(helper::MAP_UPDATE_ELEM));
    b.goto(done);
    b.bind(fail);
    b.emit(insn::mov64_imm(R1, -EFAULT));
    b.emit(insn::stx(8, R10, slot, R1));
    b.bind(done);
}

/// `r0 = value; exit` for a callback return.
fn ret(b: &mut Builder, value: i32) {
    b.emit(insn::mov64_imm(R0, value));
    b.emit(insn::exit());
}

/// `bpf_probe_read_user(&state[dst], 8, addr)`; on failure, stop the walk.
fn read_user(b: &mut Builder, st: Reg, dst: i16, addr: Reg, stop: crate::builder::Label) {
    if addr != R3 {
        b.emit(insn::mov64_reg(R3, addr));
    }
    b.emit(insn::mov64_reg(R1, st));
    b.emit(insn::alu64_imm(AluOp::Add, R1, i32::from(dst)));
    b.emit(insn::mov64_imm(R2, 8));
    b.emit(insn::call(helper::PROBE_READ_USER));
    b.jmp_imm(JmpOp::Jne, R0, 0, stop);
}

/// The `bpf_loop` callback: one frame per call. r1 = index, r2 = state.
/// Returns 0 to go on, 1 to stop. Registers: r9 = state, r6/r7/r8 scratch
/// that survives helper calls. With `vma`, a pc the trie does not place is
/// looked up with `bpf_find_vma` (its callback is appended to this one).
fn frame_callback(maps: &UnwindMaps, vma: Option<&VmaOffsets>) -> crate::builder::Finished {
    let mut b = Builder::new();
    let st = R9;
    let stop = b.label();
    let frame_pointer = b.label();
    let advance = b.label();
    b.emit(insn::mov64_reg(st, R2));
    // The frame number is the loop index (not a counter kept in the state:
    // the verifier would follow every count as a separate state).
    b.emit(insn::mov64_reg(R6, R1));

    // Record the pc in the frame buffer. A frame-pointer step through code
    // without frame pointers reads garbage: end the stack at the first
    // value that cannot be a user code address (the null page, or above
    // the user address space).
    b.load_map(R1, maps.scratch);
    b.emit(insn::mov64_reg(R2, st));
    b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(S_ZERO)));
    b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    b.jmp_imm(JmpOp::Jeq, R0, 0, stop);
    b.jmp_imm(JmpOp::Jge, R6, i32::from(USTACK_MAX_DEPTH), stop);
    b.emit(insn::ldx(8, R7, st, S_PC));
    b.jmp_imm(JmpOp::Jlt, R7, USER_SPACE_START, stop);
    b.mov_imm(R1, USER_SPACE_END as i64);
    b.jmp_reg(JmpOp::Jge, R7, R1, stop);
    b.emit(insn::mov64_reg(R1, R6));
    b.emit(insn::alu64_imm(AluOp::Lsh, R1, 3));
    b.emit(insn::alu64_reg(AluOp::Add, R1, R0));
    b.emit(insn::stx(8, R1, 0, R7));
    b.emit(insn::mov64_reg(R1, R6));
    b.emit(insn::alu64_imm(AluOp::Add, R1, 1));
    b.emit(insn::stx(8, st, S_DEPTH, R1));
    b.emit(insn::ldx(8, R1, st, S_HASH));
    b.emit(insn::alu64_reg(AluOp::Xor, R1, R7));
    b.mov_imm(R2, FNV_PRIME as i64);
    b.emit(insn::alu64_reg(AluOp::Mul, R1, R2));
    b.emit(insn::stx(8, st, S_HASH, R1));

    // The address to look up: a caller's pc is a return address, one past
    // its call instruction.
    let first = b.label();
    b.jmp_imm(JmpOp::Jeq, R6, 0, first);
    b.emit(insn::alu64_imm(AluOp::Sub, R7, 1));
    b.bind(first);
    b.emit(insn::st_imm(4, st, S_KEY_LEN, MAPPING_KEY_BITS as i32));
    b.emit(insn::mov64_reg(R1, R7));
    b.emit(insn::to_be64(R1));
    b.emit(insn::stx(8, st, S_KEY_ADDR, R1));
    b.load_map(R1, maps.mappings);
    b.emit(insn::mov64_reg(R2, st));
    b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(S_KEY_LEN)));
    b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    // No entry of this process for the pc: its file's mapping.
    let by_file = b.label();
    let have_bias = b.label();
    b.jmp_imm(JmpOp::Jeq, R0, 0, by_file);
    b.emit(insn::ldx(4, R1, R0, 16));
    b.jmp_imm(JmpOp::Jne, R1, 0, by_file);
    b.emit(insn::ldx(8, R1, R0, 0));
    b.goto(have_bias);

    b.bind(by_file);
    match vma {
        None => b.goto(frame_pointer),
        Some(offsets) => {
            let find = b.add_func("ustack_vma", vma_callback(offsets, maps.log));
            let known = b.label();
            let lookup = b.label();
            // The mapping found last, if it holds the pc.
            b.emit(insn::ldx(8, R1, st, S_VMA + V_START));
            b.jmp_reg(JmpOp::Jlt, R7, R1, lookup);
            b.emit(insn::ldx(8, R1, st, S_VMA + V_END));
            b.jmp_reg(JmpOp::Jlt, R7, R1, known);
            b.bind(lookup);
            b.emit(insn::call(helper::GET_CURRENT_TASK_BTF));
            b.emit(insn::mov64_reg(R1, R0));
            b.emit(insn::mov64_reg(R2, R7));
            b.load_func(R3, find);
            b.emit(insn::mov64_reg(R4, st));
            b.emit(insn::alu64_imm(AluOp::Add, R4, i32::from(S_VMA)));
            b.emit(insn::mov64_imm(R5, 0));
            b.emit(insn::call(helper::FIND_VMA));
            b.jmp_imm(JmpOp::Jeq, R0, -ENOENT, stop);
            b.jmp_imm(JmpOp::Jne, R0, 0, frame_pointer);
            b.bind(known);
            b.emit(insn::ldx(8, R1, st, S_VMA + V_KIND));
            b.jmp_imm(JmpOp::Jeq, R1, VMA_NOT_CODE, stop);
            b.jmp_imm(JmpOp::Jne, R1, VMA_FILE, frame_pointer);
            b.load_map(R1, maps.files);
            b.emit(insn::mov64_reg(R2, st));
            b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(S_VMA + V_DEV)));
            b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
            b.jmp_imm(JmpOp::Jeq, R0, 0, frame_pointer);
            // bias = start - page offset * 4096 + (file offset - address)
            b.emit(insn::ldx(8, R2, st, S_VMA + V_PGOFF));
            b.emit(insn::alu64_imm(AluOp::Lsh, R2, 12));
            b.emit(insn::ldx(8, R1, st, S_VMA + V_START));
            b.emit(insn::alu64_reg(AluOp::Sub, R1, R2));
            b.emit(insn::ldx(8, R2, R0, 0));
            b.emit(insn::alu64_reg(AluOp::Add, R1, R2));
        }
    }

    // r0 = the entry (rows of the file), r1 = its bias.
    b.bind(have_bias);
    b.emit(insn::alu64_reg(AluOp::Sub, R7, R1));
    b.emit(insn::stx(8, st, S_REL, R7));
    b.emit(insn::ldx(4, R6, R0, 8)); // lo
    b.emit(insn::ldx(4, R7, R0, 12)); // n
    b.jmp_imm(JmpOp::Jeq, R7, 0, frame_pointer);

    // Binary search: the last row of [lo, lo+n) whose pc <= rel.
    let searched = b.label();
    for _ in 0..SEARCH_STEPS {
        let upper = b.label();
        let next = b.label();
        b.jmp_imm(JmpOp::Jle, R7, 1, searched);
        b.emit(insn::mov64_reg(R8, R7));
        b.emit(insn::alu64_imm(AluOp::Rsh, R8, 1));
        b.emit(insn::mov64_reg(R1, R6));
        b.emit(insn::alu64_reg(AluOp::Add, R1, R8));
        b.emit(insn::stx(4, st, S_ROW_KEY, R1));
        b.load_map(R1, maps.rows);
        b.emit(insn::mov64_reg(R2, st));
        b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(S_ROW_KEY)));
        b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
        b.jmp_imm(JmpOp::Jeq, R0, 0, stop);
        b.emit(insn::ldx(8, R1, R0, 0));
        b.emit(insn::ldx(8, R2, st, S_REL));
        b.jmp_reg(JmpOp::Jgt, R1, R2, upper);
        b.emit(insn::alu64_reg(AluOp::Add, R6, R8));
        b.emit(insn::alu64_reg(AluOp::Sub, R7, R8));
        b.goto(next);
        b.bind(upper);
        b.emit(insn::mov64_reg(R7, R8));
        b.bind(next);
    }
    b.bind(searched);
    b.emit(insn::stx(4, st, S_ROW_KEY, R6));
    b.load_map(R1, maps.rows);
    b.emit(insn::mov64_reg(R2, st));
    b.emit(insn::alu64_imm(AluOp::Add, R2, i32::from(S_ROW_KEY)));
    b.emit(insn::call(helper::MAP_LOOKUP_ELEM));
    b.jmp_imm(JmpOp::Jeq, R0, 0, stop);
    b.emit(insn::ldx(8, R1, R0, 0));
    b.emit(insn::ldx(8, R2, st, S_REL));
    // Before the file's first row: no information.
    b.jmp_reg(JmpOp::Jgt, R1, R2, frame_pointer);

    // The row at r0: compute the CFA into r7.
    b.emit(insn::ldx(1, R1, R0, 12));
    b.jmp_imm(JmpOp::Jeq, R1, i32::from(KIND_STOP), stop);
    b.jmp_imm(JmpOp::Jeq, R1, i32::from(KIND_UNKNOWN), frame_pointer);
    b.emit(insn::ldx(2, R7, R0, 8));
    b.emit(insn::alu64_imm(AluOp::Lsh, R7, 48));
    b.emit(insn::alu64_imm(AluOp::Arsh, R7, 48));
    let from_rsp = b.label();
    let cfa_done = b.label();
    b.jmp_imm(JmpOp::Jne, R1, i32::from(KIND_RBP), from_rsp);
    b.emit(insn::ldx(8, R2, st, S_BP));
    b.emit(insn::alu64_reg(AluOp::Add, R7, R2));
    b.goto(cfa_done);
    b.bind(from_rsp);
    b.emit(insn::ldx(8, R2, st, S_SP));
    b.emit(insn::alu64_reg(AluOp::Add, R7, R2));
    b.jmp_imm(JmpOp::Jne, R1, i32::from(KIND_PLT), cfa_done);
    // PLT: one more push once the stub is past its threshold byte.
    b.emit(insn::ldx(8, R2, st, S_PC));
    b.emit(insn::alu64_imm(AluOp::And, R2, 15));
    b.emit(insn::ldx(1, R3, R0, 14));
    b.jmp_reg(JmpOp::Jlt, R2, R3, cfa_done);
    b.emit(insn::alu64_imm(AluOp::Add, R7, 8));
    b.bind(cfa_done);
    // A CFA that does not move up the stack is garbage.
    b.emit(insn::ldx(8, R2, st, S_SP));
    b.jmp_reg(JmpOp::Jle, R7, R2, stop);
    // The caller's rbp, when this frame saved it (r6 = rule, r8 = offset).
    b.emit(insn::ldx(1, R6, R0, 13));
    b.emit(insn::ldx(2, R8, R0, 10));
    b.emit(insn::alu64_imm(AluOp::Lsh, R8, 48));
    b.emit(insn::alu64_imm(AluOp::Arsh, R8, 48));
    b.emit(insn::mov64_reg(R3, R7));
    b.emit(insn::alu64_imm(AluOp::Sub, R3, 8));
    read_user(&mut b, st, S_PC, R3, stop);
    b.emit(insn::stx(8, st, S_SP, R7));
    b.jmp_imm(JmpOp::Jne, R6, i32::from(RBP_AT_CFA), advance);
    b.emit(insn::mov64_reg(R3, R7));
    b.emit(insn::alu64_reg(AluOp::Add, R3, R8));
    read_user(&mut b, st, S_BP, R3, stop);
    b.goto(advance);

    // Frame-pointer step: [rbp] = caller's rbp, [rbp+8] = return address.
    b.bind(frame_pointer);
    b.emit(insn::ldx(8, R7, st, S_BP));
    b.emit(insn::ldx(8, R2, st, S_SP));
    b.jmp_reg(JmpOp::Jlt, R7, R2, stop);
    b.emit(insn::mov64_reg(R3, R7));
    b.emit(insn::alu64_imm(AluOp::Add, R3, 8));
    read_user(&mut b, st, S_PC, R3, stop);
    read_user(&mut b, st, S_BP, R7, stop);
    b.emit(insn::alu64_imm(AluOp::Add, R7, 16));
    b.emit(insn::stx(8, st, S_SP, R7));

    b.bind(advance);
    b.emit(insn::ldx(8, R1, st, S_PC));
    b.jmp_imm(JmpOp::Jeq, R1, 0, stop);
    ret(&mut b, 0);
    b.bind(stop);
    ret(&mut b, 1);
    // Every label above is bound: finish cannot fail.
    b.finish(ustrace_lang::ast::Span::default())
        .unwrap_or_default()
}

const KIND_UNKNOWN: u8 = 0;
const KIND_RBP: u8 = 2;
const KIND_PLT: u8 = 3;
const KIND_STOP: u8 = 4;
const RBP_AT_CFA: u8 = 1;

#[cfg(test)]
mod tests;
