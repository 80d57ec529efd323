//! A disassembler for the instructions ustrace emits, in the kernel
//! verifier's notation (`r1 = *(u64 *)(r6 +80)`), for `-d` and for tests.

use crate::insn::*;

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        BPF_B => "u8",
        BPF_H => "u16",
        BPF_W => "u32",
        _ => "u64",
    }
}

fn alu_symbol(op: u8) -> Option<&'static str> {
    Some(match op {
        0x00 => "+=",
        0x10 => "-=",
        0x20 => "*=",
        0x30 => "/=",
        0x40 => "|=",
        0x50 => "&=",
        0x60 => "<<=",
        0x70 => ">>=",
        0x90 => "%=",
        0xa0 => "^=",
        0xb0 => "=",
        0xc0 => "s>>=",
        _ => return None,
    })
}

fn jmp_symbol(op: u8) -> Option<&'static str> {
    Some(match op {
        0x10 => "==",
        0x20 => ">",
        0x30 => ">=",
        0x40 => "&",
        0x50 => "!=",
        0x60 => "s>",
        0x70 => "s>=",
        0xa0 => "<",
        0xb0 => "<=",
        0xc0 => "s<",
        0xd0 => "s<=",
        _ => return None,
    })
}

/// Renders every instruction, one per line, prefixed by its index.
pub fn disassemble(insns: &[Insn]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        let (text, width) = render(insns, i);
        out.push_str(&format!("{i:5}: {text}\n"));
        i += width;
    }
    out
}

/// One instruction (and its second slot for `ld_imm64`).
fn render(insns: &[Insn], i: usize) -> (String, usize) {
    let x = insns[i];
    let class = x.code & 0x07;
    let (d, s) = (x.dst, x.src);
    match class {
        BPF_ALU64 | BPF_ALU => {
            let wide = class == BPF_ALU64;
            let r = if wide { "r" } else { "w" };
            let op = x.code & 0xf0;
            if op == 0x80 {
                return (format!("{r}{d} = -{r}{d}"), 1);
            }
            let Some(sym) = alu_symbol(op) else {
                return (format!("unknown alu {:#04x}", x.code), 1);
            };
            let signed = if x.off == 1 && (op == 0x30 || op == 0x90) {
                "s"
            } else {
                ""
            };
            let sym = if signed.is_empty() {
                sym.to_string()
            } else {
                format!("s{sym}")
            };
            if x.code & BPF_X != 0 {
                (format!("{r}{d} {sym} {r}{s}"), 1)
            } else {
                (format!("{r}{d} {sym} {}", x.imm), 1)
            }
        }
        BPF_LDX => (
            format!("r{d} = *({} *)(r{s} {:+})", size_name(x.code), x.off),
            1,
        ),
        BPF_STX if x.code & 0xe0 == BPF_ATOMIC => (
            format!("lock *({} *)(r{d} {:+}) += r{s}", size_name(x.code), x.off),
            1,
        ),
        BPF_STX => (
            format!("*({} *)(r{d} {:+}) = r{s}", size_name(x.code), x.off),
            1,
        ),
        BPF_ST => (
            format!("*({} *)(r{d} {:+}) = {}", size_name(x.code), x.off, x.imm),
            1,
        ),
        BPF_LD if x.code == (BPF_LD | BPF_DW | BPF_IMM) => {
            let hi = insns.get(i + 1).map_or(0, |n| n.imm as u32 as u64);
            let v = (x.imm as u32 as u64) | (hi << 32);
            if s == BPF_PSEUDO_MAP_FD {
                (format!("r{d} = map[fd {}]", x.imm), 2)
            } else if s == BPF_PSEUDO_MAP_VALUE {
                (format!("r{d} = &map[fd {}][0] + {}", x.imm, hi), 2)
            } else {
                (format!("r{d} = {v:#x} ll"), 2)
            }
        }
        BPF_JMP | BPF_JMP32 => {
            let op = x.code & 0xf0;
            match op {
                0x00 => (format!("goto {:+}", x.off), 1),
                0x80 => (format!("call {}", helper_name(x.imm)), 1),
                0x90 => ("exit".to_string(), 1),
                _ => {
                    let Some(sym) = jmp_symbol(op) else {
                        return (format!("unknown jmp {:#04x}", x.code), 1);
                    };
                    let rhs = if x.code & BPF_X != 0 {
                        format!("r{s}")
                    } else {
                        x.imm.to_string()
                    };
                    (format!("if r{d} {sym} {rhs} goto {:+}", x.off), 1)
                }
            }
        }
        _ => (format!("unknown {:#04x}", x.code), 1),
    }
}

fn helper_name(id: i32) -> String {
    let name = match id {
        helper::MAP_LOOKUP_ELEM => "bpf_map_lookup_elem",
        helper::MAP_UPDATE_ELEM => "bpf_map_update_elem",
        helper::MAP_DELETE_ELEM => "bpf_map_delete_elem",
        helper::KTIME_GET_NS => "bpf_ktime_get_ns",
        helper::GET_PRANDOM_U32 => "bpf_get_prandom_u32",
        helper::GET_SMP_PROCESSOR_ID => "bpf_get_smp_processor_id",
        helper::GET_CURRENT_PID_TGID => "bpf_get_current_pid_tgid",
        helper::GET_CURRENT_UID_GID => "bpf_get_current_uid_gid",
        helper::GET_CURRENT_COMM => "bpf_get_current_comm",
        helper::GET_STACKID => "bpf_get_stackid",
        helper::GET_STACK => "bpf_get_stack",
        helper::RINGBUF_OUTPUT => "bpf_ringbuf_output",
        helper::RINGBUF_RESERVE => "bpf_ringbuf_reserve",
        helper::RINGBUF_SUBMIT => "bpf_ringbuf_submit",
        helper::RINGBUF_DISCARD => "bpf_ringbuf_discard",
        helper::PROBE_READ_USER => "bpf_probe_read_user",
        helper::PROBE_READ_USER_STR => "bpf_probe_read_user_str",
        helper::PROBE_READ_KERNEL => "bpf_probe_read_kernel",
        helper::GET_FUNC_IP => "bpf_get_func_ip",
        helper::GET_ATTACH_COOKIE => "bpf_get_attach_cookie",
        helper::SEND_SIGNAL => "bpf_send_signal",
        helper::LOOP => "bpf_loop",
        helper::FIND_VMA => "bpf_find_vma",
        helper::GET_CURRENT_TASK_BTF => "bpf_get_current_task_btf",
        helper::TASK_PT_REGS => "bpf_task_pt_regs",
        _ => return format!("helper#{id}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_common_forms() {
        let mut v = vec![
            mov64_reg(R6, R1),
            ldx(8, R1, R6, 80),
            stx(4, R10, -8, R1),
            st_imm(8, R10, -16, 0),
            alu64_imm(AluOp::Add, R1, -4),
            jmp_imm(JmpOp::Jne, R0, 0, 2),
            call(helper::PROBE_READ_USER),
            atomic_add64(R0, 0, R1),
        ];
        v.extend(ld_map_fd(R1, 5));
        v.extend(ld_imm64(R2, 0x1_0000_0000));
        v.push(exit());
        let text = disassemble(&v);
        let expected = "    0: r6 = r1
    1: r1 = *(u64 *)(r6 +80)
    2: *(u32 *)(r10 -8) = r1
    3: *(u64 *)(r10 -16) = 0
    4: r1 += -4
    5: if r0 != 0 goto +2
    6: call bpf_probe_read_user
    7: lock *(u64 *)(r0 +0) += r1
    8: r1 = map[fd 5]
   10: r2 = 0x100000000 ll
   12: exit
";
        assert_eq!(text, expected);
    }
}
