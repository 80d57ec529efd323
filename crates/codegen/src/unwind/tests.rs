//! The walker's generated code: its callbacks and their references.

use super::*;

fn maps() -> UnwindMaps {
    UnwindMaps {
        stacks: MapId(0),
        rows: MapId(2),
        mappings: MapId(3),
        scratch: MapId(4),
        files: MapId(5),
        log: LogMaps {
            mappings: MapId(6),
            names: MapId(7),
            scratch: MapId(8),
        },
    }
}

const OFFSETS: VmaOffsets = VmaOffsets {
    vm_start: 0,
    vm_end: 8,
    vm_pgoff: 120,
    vm_flags: 32,
    vm_file: 160,
    f_inode: 32,
    i_ino: 64,
    i_sb: 40,
    s_dev: 16,
    f_path_dentry: 72,
    d_name_name: 40,
    d_parent: 24,
};

/// The first instruction of each subprogram a `BPF_PSEUDO_FUNC`
/// reference points at, with repeats.
fn func_refs(insns: &[insn::Insn]) -> Vec<usize> {
    insns
        .iter()
        .enumerate()
        .filter(|(_, i)| i.src == insn::BPF_PSEUDO_FUNC)
        .map(|(at, i)| (at as i64 + i64::from(i.imm) + 1) as usize)
        .collect()
}

#[test]
fn walker_is_one_callback_referenced_from_the_main_code() {
    let mut b = Builder::new();
    let state = b
        .alloc(STATE_SIZE, ustrace_lang::ast::Span::default())
        .unwrap_or(-128);
    let slot = b
        .alloc(16, ustrace_lang::ast::Span::default())
        .unwrap_or(-144);
    // Two `ustack` uses share one callback.
    emit_ustack(&mut b, &maps(), Some(&OFFSETS), 127, state, slot);
    emit_ustack(&mut b, &maps(), Some(&OFFSETS), 3, state, slot);
    b.emit(insn::mov64_imm(R0, 0));
    b.emit(insn::exit());
    let (insns, relocs, _) = b
        .finish(ustrace_lang::ast::Span::default())
        .unwrap_or_default();
    let refs = func_refs(&insns);
    // Each use references the walk callback; the walk callback
    // references the bpf_find_vma callback appended after it.
    assert_eq!(refs.len(), 3);
    assert_eq!(refs[0], refs[1]);
    let (walk, find) = (refs[0], refs[2]);
    let main_exit = insns
        .iter()
        .position(|i| *i == insn::exit())
        .unwrap_or(usize::MAX);
    assert!(main_exit < walk && walk < find && find < insns.len());
    assert_eq!(
        insns[find - 1],
        insn::exit(),
        "the walk callback ends first"
    );
    assert_eq!(insns.last(), Some(&insn::exit()));
    // The find_vma call passes the callback in r3.
    let call_at = (walk..find)
        .find(|&at| insns[at] == insn::call(helper::FIND_VMA))
        .expect("a bpf_find_vma call");
    assert!(insns[walk..call_at]
        .iter()
        .any(|i| i.src == insn::BPF_PSEUDO_FUNC && i.dst == 3));
    // Map references inside the callback are relocated too, the files
    // map among them.
    assert!(relocs.iter().any(|&(at, m)| at > walk && m == maps().rows));
    assert!(relocs.iter().any(|&(at, m)| at > walk && m == maps().files));
    assert!(relocs
        .iter()
        .any(|&(at, m)| at > find && m == maps().log.names));
    assert!(relocs.iter().all(|&(at, _)| at < insns.len()));
    // The callback reads the fields at the offsets it was given.
    let reads_at = |off: i32| {
        insns[find..]
            .iter()
            .any(|i| *i == insn::alu64_imm(AluOp::Add, R3, off))
    };
    assert!(reads_at(120) && reads_at(160) && reads_at(64));
}

#[test]
fn without_kernel_offsets_the_walker_has_no_find_vma() {
    let mut b = Builder::new();
    emit_ustack(&mut b, &maps(), None, 127, -128, -144);
    b.emit(insn::mov64_imm(R0, 0));
    b.emit(insn::exit());
    let (insns, _, _) = b
        .finish(ustrace_lang::ast::Span::default())
        .unwrap_or_default();
    assert_eq!(func_refs(&insns).len(), 1);
    assert!(!insns.contains(&insn::call(helper::FIND_VMA)));
}
