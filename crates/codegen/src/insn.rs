//! eBPF instructions: the 8-byte encoding the kernel loads, and a small
//! builder API to emit them.
//!
//! Each instruction is `{ opcode: u8, dst_reg:4, src_reg:4, off: i16, imm: i32 }`
//! (little-endian). A 64-bit immediate load (`ld_imm64`) takes two slots; with
//! `src_reg = BPF_PSEUDO_MAP_FD` its immediate is a map file descriptor that
//! the kernel turns into the map's address.

/// A register of the eBPF virtual machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reg(pub u8);

/// Return value of helpers and of the program.
pub const R0: Reg = Reg(0);
/// First helper argument; the context (`struct pt_regs *`) at program entry.
pub const R1: Reg = Reg(1);
/// Second helper argument.
pub const R2: Reg = Reg(2);
/// Third helper argument.
pub const R3: Reg = Reg(3);
/// Fourth helper argument.
pub const R4: Reg = Reg(4);
/// Fifth helper argument.
pub const R5: Reg = Reg(5);
/// Callee-saved register.
pub const R6: Reg = Reg(6);
/// Callee-saved register.
pub const R7: Reg = Reg(7);
/// Callee-saved register.
pub const R8: Reg = Reg(8);
/// Callee-saved register.
pub const R9: Reg = Reg(9);
/// Read-only frame pointer; the stack is the 512 bytes below it.
pub const R10: Reg = Reg(10);

/// One encoded instruction slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insn {
    /// Operation code (class | size/op | mode/source).
    pub code: u8,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Signed offset (memory offset or jump distance in instructions).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// The 8 bytes the kernel expects.
    pub fn to_bytes(self) -> [u8; 8] {
        let o = self.off.to_le_bytes();
        let i = self.imm.to_le_bytes();
        [
            self.code,
            (self.src << 4) | (self.dst & 0x0f),
            o[0],
            o[1],
            i[0],
            i[1],
            i[2],
            i[3],
        ]
    }

    /// The same instruction as a little-endian u64 (the layout of `struct bpf_insn`).
    pub fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }
}

// Instruction classes.
/// Instruction class: load (64-bit immediates).
pub const BPF_LD: u8 = 0x00;
/// Instruction class: load from memory into a register.
pub const BPF_LDX: u8 = 0x01;
/// Instruction class: store an immediate to memory.
pub const BPF_ST: u8 = 0x02;
/// Instruction class: store a register to memory (and atomics).
pub const BPF_STX: u8 = 0x03;
/// Instruction class: 32-bit arithmetic.
pub const BPF_ALU: u8 = 0x04;
/// Instruction class: 64-bit jumps, calls and exit.
pub const BPF_JMP: u8 = 0x05;
/// Instruction class: 32-bit compare-and-jump.
pub const BPF_JMP32: u8 = 0x06;
/// Instruction class: 64-bit arithmetic.
pub const BPF_ALU64: u8 = 0x07;
// Sizes.
/// Access size: 4 bytes.
pub const BPF_W: u8 = 0x00;
/// Access size: 2 bytes.
pub const BPF_H: u8 = 0x08;
/// Access size: 1 byte.
pub const BPF_B: u8 = 0x10;
/// Access size: 8 bytes.
pub const BPF_DW: u8 = 0x18;
// Modes.
/// Mode: immediate (`ld_imm64`).
pub const BPF_IMM: u8 = 0x00;
/// Mode: memory at register + offset.
pub const BPF_MEM: u8 = 0x60;
/// Mode: atomic read-modify-write.
pub const BPF_ATOMIC: u8 = 0xc0;
// Sources.
/// Operand source: the immediate.
pub const BPF_K: u8 = 0x00;
/// Operand source: the source register.
pub const BPF_X: u8 = 0x08;
/// `src_reg` of an `ld_imm64` whose immediate is a map fd.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `src_reg` of an `ld_imm64` whose immediate is a map file descriptor and
/// whose second slot is an offset into the map's (single) value: the
/// instruction loads that address directly, with no lookup.
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
/// `src_reg` of an `ld_imm64` whose immediate is the distance (in
/// instructions, from the next one) to a subprogram.
pub const BPF_PSEUDO_FUNC: u8 = 4;

/// ALU operations (the high nibble of the opcode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AluOp {
    /// dst += src
    Add = 0x00,
    /// dst -= src
    Sub = 0x10,
    /// dst *= src
    Mul = 0x20,
    /// dst /= src (unsigned; `off = 1` makes it signed on v4 ISA)
    Div = 0x30,
    /// dst |= src
    Or = 0x40,
    /// dst &= src
    And = 0x50,
    /// dst <<= src
    Lsh = 0x60,
    /// dst >>= src (logical)
    Rsh = 0x70,
    /// dst = -dst
    Neg = 0x80,
    /// dst %= src (unsigned; `off = 1` makes it signed on v4 ISA)
    Mod = 0x90,
    /// dst ^= src
    Xor = 0xa0,
    /// dst = src
    Mov = 0xb0,
    /// dst >>= src (arithmetic)
    Arsh = 0xc0,
}

/// Jump conditions (the high nibble of the opcode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum JmpOp {
    /// always
    Ja = 0x00,
    /// ==
    Jeq = 0x10,
    /// > unsigned
    Jgt = 0x20,
    /// >= unsigned
    Jge = 0x30,
    /// & != 0
    Jset = 0x40,
    /// !=
    Jne = 0x50,
    /// > signed
    Jsgt = 0x60,
    /// >= signed
    Jsge = 0x70,
    /// < unsigned
    Jlt = 0xa0,
    /// <= unsigned
    Jle = 0xb0,
    /// < signed
    Jslt = 0xc0,
    /// <= signed
    Jsle = 0xd0,
}

/// Opcode of a helper call.
pub const BPF_CALL: u8 = 0x80;
/// Opcode of program exit.
pub const BPF_EXIT: u8 = 0x90;

/// Kernel helper function ids used by the code generator.
pub mod helper {
    /// `void *bpf_map_lookup_elem(map, key)`
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    /// `long bpf_map_update_elem(map, key, value, flags)`
    pub const MAP_UPDATE_ELEM: i32 = 2;
    /// `long bpf_map_delete_elem(map, key)`
    pub const MAP_DELETE_ELEM: i32 = 3;
    /// `long bpf_probe_read(dst, size, src)` (legacy)
    pub const PROBE_READ: i32 = 4;
    /// `u64 bpf_ktime_get_ns(void)`
    pub const KTIME_GET_NS: i32 = 5;
    /// `u32 bpf_get_prandom_u32(void)`
    pub const GET_PRANDOM_U32: i32 = 7;
    /// `u32 bpf_get_smp_processor_id(void)`
    pub const GET_SMP_PROCESSOR_ID: i32 = 8;
    /// `u64 bpf_get_current_pid_tgid(void)`
    pub const GET_CURRENT_PID_TGID: i32 = 14;
    /// `u64 bpf_get_current_uid_gid(void)`
    pub const GET_CURRENT_UID_GID: i32 = 15;
    /// `long bpf_get_current_comm(buf, size)`
    pub const GET_CURRENT_COMM: i32 = 16;
    /// `long bpf_get_stackid(ctx, map, flags)`
    pub const GET_STACKID: i32 = 27;
    /// `long bpf_get_stack(ctx, buf, size, flags)`
    pub const GET_STACK: i32 = 67;
    /// `void *bpf_ringbuf_reserve(ringbuf, size, flags)`
    pub const RINGBUF_RESERVE: i32 = 131;
    /// `void bpf_ringbuf_submit(data, flags)`
    pub const RINGBUF_SUBMIT: i32 = 132;
    /// `void bpf_ringbuf_discard(data, flags)`
    pub const RINGBUF_DISCARD: i32 = 133;
    /// `long bpf_ringbuf_output(ringbuf, data, size, flags)`
    pub const RINGBUF_OUTPUT: i32 = 130;
    /// `long bpf_probe_read_user(dst, size, unsafe_ptr)`
    pub const PROBE_READ_USER: i32 = 112;
    /// `long bpf_probe_read_user_str(dst, size, unsafe_ptr)`
    pub const PROBE_READ_USER_STR: i32 = 114;
    /// `long bpf_probe_read_kernel(dst, size, unsafe_ptr)`
    pub const PROBE_READ_KERNEL: i32 = 113;
    /// `bpf_probe_read_kernel_str(dst, size, unsafe_ptr)`
    pub const PROBE_READ_KERNEL_STR: i32 = 115;
    /// `u64 bpf_get_func_ip(ctx)`: the probed address for uprobes
    pub const GET_FUNC_IP: i32 = 173;
    /// `u64 bpf_get_attach_cookie(ctx)`
    pub const GET_ATTACH_COOKIE: i32 = 174;
    /// `u64 bpf_ktime_get_boot_ns(void)`
    pub const KTIME_GET_BOOT_NS: i32 = 125;
    /// `u64 bpf_ktime_get_tai_ns(void)`
    pub const KTIME_GET_TAI_NS: i32 = 208;
    /// `long bpf_get_ns_current_pid_tgid(dev, ino, nsdata, size)`
    pub const GET_NS_CURRENT_PID_TGID: i32 = 120;
    /// `long bpf_send_signal(sig)`
    pub const SEND_SIGNAL: i32 = 109;
    /// `long bpf_send_signal_thread(sig)`
    pub const SEND_SIGNAL_THREAD: i32 = 117;
    /// `u64 bpf_get_current_task(void)`
    pub const GET_CURRENT_TASK: i32 = 35;
    /// `u32 bpf_get_numa_node_id(void)`
    pub const GET_NUMA_NODE_ID: i32 = 42;
    /// bpf_loop(nr, callback, ctx, flags)
    pub const LOOP: i32 = 181;
    /// `bpf_for_each_map_elem(map, callback, ctx, flags)`: calls the
    /// callback for every element; returns how many it visited.
    pub const FOR_EACH_MAP_ELEM: i32 = 164;
    /// `bpf_find_vma(task, addr, callback, ctx, flags)`: calls `callback(task,
    /// vma, ctx)` with the mapping holding `addr`; -ENOENT when none does.
    pub const FIND_VMA: i32 = 180;
    /// `bpf_map_lookup_percpu_elem(map, key, cpu)`: one CPU's value of a
    /// per-CPU map.
    pub const MAP_LOOKUP_PERCPU_ELEM: i32 = 195;
    /// bpf_get_current_task_btf()
    pub const GET_CURRENT_TASK_BTF: i32 = 158;
    /// bpf_task_pt_regs(task)
    pub const TASK_PT_REGS: i32 = 175;
}

/// `dst op= src` on 64 bits.
pub fn alu64_reg(op: AluOp, dst: Reg, src: Reg) -> Insn {
    Insn {
        code: BPF_ALU64 | op as u8 | BPF_X,
        dst: dst.0,
        src: src.0,
        off: 0,
        imm: 0,
    }
}

/// `dst op= imm` on 64 bits (imm sign-extended).
pub fn alu64_imm(op: AluOp, dst: Reg, imm: i32) -> Insn {
    Insn {
        code: BPF_ALU64 | op as u8 | BPF_K,
        dst: dst.0,
        src: 0,
        off: 0,
        imm,
    }
}

/// Signed `dst /= src` or `dst %= src` (ISA v4, `off = 1`).
pub fn alu64_reg_signed(op: AluOp, dst: Reg, src: Reg) -> Insn {
    Insn {
        off: 1,
        ..alu64_reg(op, dst, src)
    }
}

/// `dst = src` on 32 bits (zero-extends into the upper half).
pub fn mov32_reg(dst: Reg, src: Reg) -> Insn {
    Insn {
        code: BPF_ALU | AluOp::Mov as u8 | BPF_X,
        dst: dst.0,
        src: src.0,
        off: 0,
        imm: 0,
    }
}

/// `dst = src` on 64 bits.
pub fn mov64_reg(dst: Reg, src: Reg) -> Insn {
    alu64_reg(AluOp::Mov, dst, src)
}

/// `dst = imm` (sign-extended to 64 bits).
pub fn mov64_imm(dst: Reg, imm: i32) -> Insn {
    alu64_imm(AluOp::Mov, dst, imm)
}

/// `dst = -dst`.
pub fn neg64(dst: Reg) -> Insn {
    Insn {
        code: BPF_ALU64 | AluOp::Neg as u8,
        dst: dst.0,
        src: 0,
        off: 0,
        imm: 0,
    }
}

/// `dst = htobe64(dst)` (a byte swap on x86-64).
pub fn to_be64(dst: Reg) -> Insn {
    Insn {
        code: BPF_ALU | 0xd0 | 0x08,
        dst: dst.0,
        src: 0,
        off: 0,
        imm: 64,
    }
}

/// The two slots of `dst = imm64`.
pub fn ld_imm64(dst: Reg, imm: u64) -> [Insn; 2] {
    [
        Insn {
            code: BPF_LD | BPF_DW | BPF_IMM,
            dst: dst.0,
            src: 0,
            off: 0,
            imm: imm as u32 as i32,
        },
        Insn {
            code: 0,
            dst: 0,
            src: 0,
            off: 0,
            imm: (imm >> 32) as u32 as i32,
        },
    ]
}

/// The two slots of `dst = &map` for the map with file descriptor `fd`.
pub fn ld_map_fd(dst: Reg, fd: i32) -> [Insn; 2] {
    [
        Insn {
            code: BPF_LD | BPF_DW | BPF_IMM,
            dst: dst.0,
            src: BPF_PSEUDO_MAP_FD,
            off: 0,
            imm: fd,
        },
        Insn::default(),
    ]
}

/// The two slots of `dst = &map_value[offset]` for the one-entry array map
/// with file descriptor `fd`.
pub fn ld_map_value(dst: Reg, fd: i32, offset: i32) -> [Insn; 2] {
    let [first, _] = ld_map_fd(dst, fd);
    [
        Insn {
            src: BPF_PSEUDO_MAP_VALUE,
            ..first
        },
        Insn {
            imm: offset,
            ..Insn::default()
        },
    ]
}

/// The opcode size bits for a width in bytes (1, 2, 4, 8).
pub fn size_bits(bytes: u8) -> u8 {
    match bytes {
        1 => BPF_B,
        2 => BPF_H,
        4 => BPF_W,
        _ => BPF_DW,
    }
}

/// `dst = *(size *)(src + off)`.
pub fn ldx(bytes: u8, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn {
        code: BPF_LDX | size_bits(bytes) | BPF_MEM,
        dst: dst.0,
        src: src.0,
        off,
        imm: 0,
    }
}

/// `*(size *)(dst + off) = src`.
pub fn stx(bytes: u8, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn {
        code: BPF_STX | size_bits(bytes) | BPF_MEM,
        dst: dst.0,
        src: src.0,
        off,
        imm: 0,
    }
}

/// `*(size *)(dst + off) = imm`.
pub fn st_imm(bytes: u8, dst: Reg, off: i16, imm: i32) -> Insn {
    Insn {
        code: BPF_ST | size_bits(bytes) | BPF_MEM,
        dst: dst.0,
        src: 0,
        off,
        imm,
    }
}

/// `lock *(u64 *)(dst + off) += src` (atomic add).
pub fn atomic_add64(dst: Reg, off: i16, src: Reg) -> Insn {
    Insn {
        code: BPF_STX | BPF_DW | BPF_ATOMIC,
        dst: dst.0,
        src: src.0,
        off,
        imm: AluOp::Add as i32,
    }
}

/// Conditional jump `if dst op src goto +off`.
pub fn jmp_reg(op: JmpOp, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn {
        code: BPF_JMP | op as u8 | BPF_X,
        dst: dst.0,
        src: src.0,
        off,
        imm: 0,
    }
}

/// Conditional jump `if dst op imm goto +off`.
pub fn jmp_imm(op: JmpOp, dst: Reg, imm: i32, off: i16) -> Insn {
    Insn {
        code: BPF_JMP | op as u8 | BPF_K,
        dst: dst.0,
        src: 0,
        off,
        imm,
    }
}

/// Unconditional jump `goto +off`.
pub fn ja(off: i16) -> Insn {
    Insn {
        code: BPF_JMP | JmpOp::Ja as u8,
        dst: 0,
        src: 0,
        off,
        imm: 0,
    }
}

/// Call kernel helper number `id`.
pub fn call(id: i32) -> Insn {
    Insn {
        code: BPF_JMP | BPF_CALL,
        dst: 0,
        src: 0,
        off: 0,
        imm: id,
    }
}

/// Return from the program with `r0`.
pub fn exit() -> Insn {
    Insn {
        code: BPF_JMP | BPF_EXIT,
        dst: 0,
        src: 0,
        off: 0,
        imm: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_kernel_macros() {
        // BPF_MOV64_IMM(BPF_REG_0, 0) = b7 00 00 00 00 00 00 00
        assert_eq!(mov64_imm(R0, 0).to_bytes(), [0xb7, 0, 0, 0, 0, 0, 0, 0]);
        // BPF_EXIT_INSN() = 95 00 ...
        assert_eq!(exit().to_bytes(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        // BPF_LDX_MEM(BPF_DW, R1, R6, 80) = 79 61 50 00 00 00 00 00
        assert_eq!(
            ldx(8, R1, R6, 80).to_bytes(),
            [0x79, 0x61, 0x50, 0, 0, 0, 0, 0]
        );
        // BPF_STX_MEM(BPF_W, R10, R1, -4) = 63 1a fc ff 00 00 00 00
        assert_eq!(
            stx(4, R10, -4, R1).to_bytes(),
            [0x63, 0x1a, 0xfc, 0xff, 0, 0, 0, 0]
        );
        // BPF_LD_MAP_FD(R1, 7) = 18 11 00 00 07 00 00 00 / 00 ...
        let [a, b] = ld_map_fd(R1, 7);
        assert_eq!(a.to_bytes(), [0x18, 0x11, 0, 0, 7, 0, 0, 0]);
        assert_eq!(b.to_bytes(), [0; 8]);
        // BPF_CALL helper 14 = 85 00 00 00 0e 00 00 00
        assert_eq!(call(14).to_bytes(), [0x85, 0, 0, 0, 14, 0, 0, 0]);
        // BPF_JMP_IMM(BPF_JNE, R0, 0, 2) = 55 00 02 00 00 00 00 00
        assert_eq!(
            jmp_imm(JmpOp::Jne, R0, 0, 2).to_bytes(),
            [0x55, 0, 2, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn ld_imm64_splits_the_immediate() {
        let [a, b] = ld_imm64(R2, 0x1122_3344_5566_7788);
        assert_eq!(a.imm as u32, 0x5566_7788);
        assert_eq!(b.imm as u32, 0x1122_3344);
    }
}
