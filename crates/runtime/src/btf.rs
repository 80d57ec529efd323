//! The minimal BTF a program with subprograms needs: the kernel refuses a
//! `bpf_loop` callback (a `BPF_PSEUDO_FUNC` reference) without `func_info`,
//! which names each function's first instruction and its BTF `FUNC` type.
//! Every function here is `static void f(void)`: the verifier checks
//! argument types only for global functions.

use std::os::fd::{FromRawFd, OwnedFd};

use libbpf_sys as sys;
use ustrace_codegen::insn::{Insn, BPF_PSEUDO_FUNC};

const BTF_MAGIC: u16 = 0xeb9f;
const BTF_KIND_FUNC: u32 = 12;
const BTF_KIND_FUNC_PROTO: u32 = 13;
/// `struct bpf_func_info` is two u32s.
pub(crate) const FUNC_INFO_SIZE: u32 = 8;

/// BTF and func_info records for a program with subprograms.
pub(crate) struct FuncInfo {
    /// The loaded BTF object.
    pub(crate) btf: OwnedFd,
    /// `(insn_off, type_id)` records, in instruction order.
    pub(crate) records: Vec<[u32; 2]>,
}

/// First instructions of the subprograms `insns` references (besides the
/// main program at 0), sorted.
fn subprogram_starts(insns: &[Insn]) -> Vec<usize> {
    let mut starts: Vec<usize> = insns
        .iter()
        .enumerate()
        .filter(|(_, i)| i.code == 0x18 && i.src == BPF_PSEUDO_FUNC)
        .filter_map(|(at, i)| usize::try_from(at as i64 + i64::from(i.imm) + 1).ok())
        .filter(|&s| s > 0 && s < insns.len())
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// The func_info of `insns`, or `None` when it has no subprograms (or the
/// kernel refuses the BTF, in which case loading reports the real error).
pub(crate) fn func_info(insns: &[Insn]) -> Option<FuncInfo> {
    let starts = subprogram_starts(insns);
    if starts.is_empty() {
        return None;
    }
    // Strings: "\0f\0"; types: 1 = FUNC_PROTO void(void), 2.. = FUNC "f".
    let strings = b"\0f\0";
    let mut types: Vec<u8> = Vec::new();
    let mut push = |words: [u32; 3]| {
        for w in words {
            types.extend_from_slice(&w.to_ne_bytes());
        }
    };
    push([0, BTF_KIND_FUNC_PROTO << 24, 0]);
    let count = starts.len() + 1;
    for _ in 0..count {
        push([1, BTF_KIND_FUNC << 24, 1]);
    }
    let mut blob = Vec::new();
    blob.extend_from_slice(&BTF_MAGIC.to_ne_bytes());
    blob.push(1); // version
    blob.push(0); // flags
    let header_len = 24u32;
    for w in [
        header_len,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        blob.extend_from_slice(&w.to_ne_bytes());
    }
    blob.extend_from_slice(&types);
    blob.extend_from_slice(strings);
    // SAFETY: blob is a complete BTF image of blob.len() bytes; opts may be null.
    let fd = unsafe {
        sys::bpf_btf_load(
            blob.as_ptr() as *const _,
            blob.len() as _,
            std::ptr::null_mut(),
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor; nobody else owns it.
    let btf = unsafe { OwnedFd::from_raw_fd(fd) };
    let records = std::iter::once(0)
        .chain(starts)
        .enumerate()
        .map(|(n, at)| [at as u32, n as u32 + 2])
        .collect();
    Some(FuncInfo { btf, records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ustrace_codegen::insn;

    #[test]
    fn finds_callback_starts() {
        let mut ld = insn::ld_imm64(insn::R2, 0);
        ld[0].src = BPF_PSEUDO_FUNC;
        ld[0].imm = 2; // 0 + 2 + 1 = 3
        let prog = [ld[0], ld[1], insn::exit(), insn::exit()];
        assert_eq!(subprogram_starts(&prog), vec![3]);
        assert!(subprogram_starts(&[insn::exit()]).is_empty());
    }
}
